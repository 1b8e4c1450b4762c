/*
 * The case clocks' timer, on the event loop. Each run is one transaction, `clocks_run(now())`, which
 * fires the notices that have fallen due (reminders, supervision notices, escalations) and answers
 * when the next one falls due; the timer then waits until that instant, but never longer than
 * max_wait, so that deadlines set by requests in the meantime are seen. Nothing is kept here between
 * runs: the database holds every deadline and every notice fired, so the first run after a restart
 * recomputes everything, and the notices' unique key keeps anything from firing twice.
 *
 * Single-threaded: everything runs on the loop's thread, through pgq.
 */
#ifndef TIP_INTERNAL_CLOCKS_H
#define TIP_INTERNAL_CLOCKS_H

#include "common/metrics.h"
#include "internal/pgq.h"

struct clocks_conf {
	long long max_wait_ms; /* longest wait between runs */
	long long retry_ms;    /* wait after a failed run */
};

enum clocks_kind { CLOCKS_REMINDER, CLOCKS_SUPERVISION, CLOCKS_ESCALATION, CLOCKS_KIND_COUNT };

/* Series the daemon registered; updated once a run has committed. */
struct clocks_metrics {
	struct metric *fired[CLOCKS_KIND_COUNT]; /* counters: notices fired by this process */
	struct metric *overdue;                  /* gauge: cases with an overdue clock at the last run */
	struct metric *runs, *failures;          /* counters: runs committed, runs failed */
	struct metric *calendar_next_year;       /* gauge: 1 when the calendar has entries for next year */
};

struct clocks;

/* "reminder", "supervision", "escalation": the label of each notice counter. */
const char *clocks_kind_name(enum clocks_kind k);

/*
 * A timer on base running clocks_run over db (a pool of its own: the statement needs the clock role),
 * the first run as soon as the loop runs. NULL: no memory.
 */
struct clocks *clocks_new(struct event_base *base, struct pgq *db, const struct clocks_conf *conf,
                          const struct clocks_metrics *m);
/* Stops the timer. A run in flight is abandoned with its pool (pgq_free), which must follow. */
void clocks_free(struct clocks *c);

#endif
