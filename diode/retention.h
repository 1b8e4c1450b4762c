/*
 * Retention: removing spool segments nobody needs any more (docs/operations.md, "Retention").
 *
 * A segment goes only when every record in it is done with: below the durable cursor of the spool's
 * consumer (the reader that moves records on: diode-send for an outbox, casemgrd for an inbox) and,
 * when the auditors' marker is required, below the marker `diode-audit mark` writes (the reader
 * cursor "audited"); and when its file was last written at least min_age ago. A consumer or marker
 * that has no cursor yet protects everything. diode-send and diode-recv run this every
 * prune_interval and on `prune`.
 */
#ifndef TIP_DIODE_RETENTION_H
#define TIP_DIODE_RETENTION_H

#include <stddef.h>
#include <stdint.h>

#include "diode/spool.h"

#define RETENTION_AUDITED "audited" /* the reader name of the auditors' marker */

struct retention_item {
	const char *what;     /* for the log, e.g. "outbox intake-a" */
	const char *dir;      /* the spool */
	const char *consumer; /* reader whose cursor says done; NULL: none (quarantine) */
	int64_t min_age_ms;
};

/*
 * Prunes each item (a missing spool is skipped) and logs what went. Totals over all items in *st.
 * 0, or -1 when an item could not be pruned (logged; the others still are).
 */
int retention_run(const struct retention_item *items, size_t n, int require_audited,
                  struct spool_prune_stats *st);

#endif
