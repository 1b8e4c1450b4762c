#include "testutil.h"

#include "common/encoding.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *tu_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
		goto out;
	buf = malloc((size_t)n + 1);
	if (!buf)
		goto out;
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
		goto out;
	}
	buf[n] = '\0';
	if (len)
		*len = (size_t)n;
out:
	fclose(f);
	return buf;
}

char *tu_vector_path(const char *relative)
{
	const char *dir = getenv("TIP_VECTORS_DIR");
	size_t n;
	char *p;

	if (!dir)
		dir = "../shared/vectors";
	n = strlen(dir) + strlen(relative) + 2;
	p = malloc(n);
	if (!p)
		abort();
	snprintf(p, n, "%s/%s", dir, relative);
	return p;
}

uint8_t *tu_hex(const char *hex, size_t *len)
{
	size_t n = strlen(hex);
	uint8_t *out = malloc(n / 2 + 1);

	if (!out || hex_decode(hex, n, out, n / 2 + 1, len) != 0) {
		fprintf(stderr, "bad hex in test data: %s\n", hex);
		abort();
	}
	return out;
}

char *tu_mkdtemp(void)
{
	const char *tmp = getenv("TMPDIR");
	size_t n;
	char *p;

	if (!tmp)
		tmp = "/tmp";
	n = strlen(tmp) + 32;
	p = malloc(n);
	if (!p)
		abort();
	snprintf(p, n, "%s/tip-test-XXXXXX", tmp);
	if (!mkdtemp(p))
		abort();
	return p;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void tu_rmtree(const char *path)
{
	nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
