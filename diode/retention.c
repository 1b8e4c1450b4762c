#include "diode/retention.h"

#include "common/err.h"
#include "common/log.h"

#include <errno.h>
#include <string.h>
#include <time.h>

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Lowers *below to the cursor of reader in dir. */
static int limit_by(const struct retention_item *it, const char *reader, uint64_t *below)
{
	struct spool_fault fault;
	uint64_t at;
	int rc = spool_cursor(it->dir, reader, &at, &fault);

	if (rc == TIP_ECORRUPT)
		log_err("%s: %s/%s is damaged: nothing pruned", it->what, it->dir, fault.file);
	else if (rc != TIP_OK && rc != TIP_ENOTFOUND)
		log_err("%s: cursor.%s: %s", it->what, reader, tip_strerror(rc));
	if (at < *below)
		*below = at;
	return rc;
}

int retention_run(const struct retention_item *items, size_t n, int require_audited,
                  struct spool_prune_stats *st)
{
	int64_t now = wall_ms();
	int failed = 0;

	memset(st, 0, sizeof(*st));
	for (size_t i = 0; i < n; i++) {
		const struct retention_item *it = &items[i];
		struct spool_prune_stats one;
		uint64_t below = UINT64_MAX;
		int rc = TIP_OK;

		if (it->consumer)
			rc = limit_by(it, it->consumer, &below);
		if (rc == TIP_OK && require_audited)
			rc = limit_by(it, RETENTION_AUDITED, &below);
		if (rc == TIP_ENOTFOUND)
			continue; /* no spool yet */
		if (rc == TIP_OK &&
		    (rc = spool_prune(it->dir, below, it->min_age_ms, now, &one)) == TIP_ENOTFOUND)
			continue;
		if (rc != TIP_OK) {
			if (rc == TIP_EIO)
				log_err("%s: pruning %s: %s", it->what, it->dir, strerror(errno));
			failed = 1;
			continue;
		}
		if (one.removed_segments)
			log_info("%s: pruned %llu segments (%llu bytes) below record %llu; kept %llu (%llu "
			         "bytes)",
			         it->what, (unsigned long long)one.removed_segments,
			         (unsigned long long)one.removed_bytes, (unsigned long long)below,
			         (unsigned long long)one.kept_segments, (unsigned long long)one.kept_bytes);
		st->removed_bytes += one.removed_bytes;
		st->removed_segments += one.removed_segments;
		st->kept_bytes += one.kept_bytes;
		st->kept_segments += one.kept_segments;
	}
	return failed ? -1 : 0;
}
