/*
 * A settings file through cfg_load() with each daemon's table: input byte 0 chooses the table
 * (modulo 4: intaked, diode-send, diode-recv, casemgrd), the rest is the file. A file that loads
 * holds only values inside each entry's bounds, NUL-terminated strings, and goes on to the daemon's
 * own check; every refusal carries a message.
 */
#include "fuzz.h"

#include "common/config.h"
#include "common/err.h"
#include "diode/conf.h"
#include "intake/conf.h"
#include "internal/conf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const struct {
	const struct cfg_entry *table;
	const size_t *n;
	size_t size;
	int (*check)(void *conf, const char *path, char err[CFG_ERR_MAX]);
} daemons[] = {
        {intake_conf_table, &intake_conf_entries, sizeof(struct intake_conf), intake_conf_check},
        {diode_send_table, &diode_send_entries, sizeof(struct diode_send_conf), NULL},
        {diode_recv_table, &diode_recv_entries, sizeof(struct diode_recv_conf), NULL},
        {casemgr_conf_table, &casemgr_conf_entries, sizeof(struct casemgr_conf), casemgr_conf_check},
};

static void check_values(const struct cfg_entry *table, size_t n, const char *obj)
{
	for (size_t i = 0; i < n; i++) {
		const struct cfg_entry *e = &table[i];
		const char *field = obj + e->offset;
		long long v;
		size_t z;

		switch (e->type) {
		case CFG_STRING:
			if (strnlen(field, (size_t)e->max) == (size_t)e->max || (e->min > 0 && !field[0]))
				abort();
			break;
		case CFG_INT:
		case CFG_DURATION:
			memcpy(&v, field, sizeof(v));
			if (v < e->min || v > e->max)
				abort();
			break;
		case CFG_SIZE:
			memcpy(&z, field, sizeof(z));
			if (z < (size_t)e->min || z > (size_t)e->max)
				abort();
			break;
		case CFG_BOOL: {
			int b;

			memcpy(&b, field, sizeof(b));
			if (b != 0 && b != 1)
				abort();
			break;
		}
		}
	}
}

/* The file lives in memory: cfg_load() opens it by name, as /proc/self/fd/<n>. */
static int fd = -1;
static char path[64];

static void close_file(void)
{
	close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[CFG_ERR_MAX];
	void *conf;
	int rc;

	if (size < 1)
		return 0;
	if (fd < 0) {
		if ((fd = memfd_create("fuzz.conf", 0)) < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		atexit(close_file);
	}
	if (ftruncate(fd, 0) != 0 || pwrite(fd, data + 1, size - 1, 0) != (ssize_t)(size - 1))
		abort();
	{
		size_t d = data[0] % (sizeof(daemons) / sizeof(daemons[0]));

		if (!(conf = calloc(1, daemons[d].size)))
			abort();
		err[0] = '\0';
		rc = cfg_load(daemons[d].table, *daemons[d].n, conf, path, err);
		if (rc == TIP_OK) {
			check_values(daemons[d].table, *daemons[d].n, conf);
			if (daemons[d].check && daemons[d].check(conf, path, err) != TIP_OK && !err[0])
				abort();
		} else if (rc != TIP_EINVAL || !err[0] || strnlen(err, sizeof(err)) == sizeof(err)) {
			abort();
		}
	}
	free(conf);
	return 0;
}
