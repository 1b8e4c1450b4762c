#include "common/web.h"

#include "common/err.h"
#include "common/http_parse.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

const struct web_asset *web_find(const struct web_table *t, const char *path)
{
	if (strcmp(path, "/") == 0)
		path = "/index.html";
	for (size_t i = 0; i < t->count; i++)
		if (strcmp(t->assets[i].path, path) == 0)
			return &t->assets[i];
	return NULL;
}

int web_gzip(const void *data, size_t len, struct web_gzipped *out)
{
	z_stream zs;
	unsigned char *buf = NULL;
	uLong cap;
	int rc = TIP_ENOMEM;

	out->data = NULL;
	out->len = 0;
	if (len > UINT_MAX / 2)
		return TIP_OK; /* fixed answers are far smaller; sent as they are */
	memset(&zs, 0, sizeof(zs));
	/* windowBits 15 + 16: a gzip header and trailer instead of zlib's. */
	if (deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
		return TIP_ENOMEM;
	cap = deflateBound(&zs, (uLong)len);
	if (!(buf = malloc(cap)))
		goto out;
	zs.next_in = (Bytef *)(uintptr_t)data; /* zlib's input is not const, but is only read */
	zs.avail_in = (uInt)len;
	zs.next_out = buf;
	zs.avail_out = (uInt)cap;
	if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
		goto out;
	rc = TIP_OK;
	if (zs.total_out < len) {
		out->data = buf;
		out->len = zs.total_out;
		buf = NULL;
	}
out:
	deflateEnd(&zs);
	free(buf);
	return rc;
}

struct web_gzipped *web_gzip_table(const struct web_table *t)
{
	struct web_gzipped *gz = calloc(t->count ? t->count : 1, sizeof(*gz));

	for (size_t i = 0; gz && i < t->count; i++)
		if (web_gzip(t->assets[i].data, t->assets[i].len, &gz[i]) != TIP_OK) {
			web_gzip_free(gz, t->count);
			return NULL;
		}
	return gz;
}

void web_gzip_free(struct web_gzipped *gz, size_t n)
{
	for (size_t i = 0; gz && i < n; i++)
		free(gz[i].data);
	free(gz);
}

void web_reply(struct http_req *req, const char *type, const void *data, size_t len,
               const struct web_gzipped *gz)
{
	static const char *const identity[] = {"Vary: Accept-Encoding", NULL};
	static const char *const gzip[] = {"Content-Encoding: gzip", "Vary: Accept-Encoding", NULL};

	if (gz && gz->data && http_accepts_encoding(http_req_head(req), "gzip"))
		http_reply(req, 200, type, gz->data, gz->len, gzip);
	else
		http_reply(req, 200, type, data, len, identity);
}
