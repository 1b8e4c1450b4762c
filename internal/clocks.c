#include "internal/clocks.h"

#include "common/log.h"

#include <stdlib.h>
#include <string.h>

/* Deadlines are days: a shorter wait only guards against a run that keeps finding work at once. */
#define MIN_WAIT_MS 100

/*
 * The wait is computed by the server against its own clock (clock_timestamp(), not the transaction's
 * start), so a skew between this host and the database does not matter.
 */
static const char run_sql[] =
        "SELECT ceil(extract(epoch FROM next_at - clock_timestamp()) * 1000)::bigint, reminders, "
        "supervisions, escalations, overdue, calendar_next_year FROM clocks_run(now())";

struct clocks {
	struct clocks_conf conf;
	struct clocks_metrics m;
	struct pgq *db;
	struct event *timer;
	long long counts[CLOCKS_KIND_COUNT], overdue, wait_ms;
	int next_year, failing, warned_calendar;
};

const char *clocks_kind_name(enum clocks_kind k)
{
	static const char *const names[CLOCKS_KIND_COUNT] = {"reminder", "supervision", "escalation"};

	return (unsigned)k < CLOCKS_KIND_COUNT ? names[k] : "unknown";
}

static void arm(struct clocks *c, long long ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

	evtimer_add(c->timer, &tv);
}

/* One line when runs start failing and one when they work again, not one per retry. */
static void failed(struct clocks *c, const char *why)
{
	metric_inc(c->m.failures);
	if (!c->failing++)
		log_err("clocks: %.*s; retrying every %lld ms", (int)strcspn(why, "\n"), why,
		        c->conf.retry_ms);
	arm(c, c->conf.retry_ms);
}

static void on_commit(struct pgq_tx *tx, const PGresult *res, void *arg)
{
	struct clocks *c = arg;
	(void)tx;

	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
		return failed(c, res ? PQresultErrorMessage(res) : "the database connection failed");
	if (c->failing) {
		log_info("clocks: running again after %d failed attempts", c->failing);
		c->failing = 0;
	}
	for (int k = 0; k < CLOCKS_KIND_COUNT; k++)
		metric_add(c->m.fired[k], (uint64_t)c->counts[k]);
	if (c->counts[CLOCKS_REMINDER] || c->counts[CLOCKS_SUPERVISION] || c->counts[CLOCKS_ESCALATION])
		log_info("clocks: fired %lld reminders, %lld supervision notices, %lld escalations; %lld "
		         "cases "
		         "overdue",
		         c->counts[CLOCKS_REMINDER], c->counts[CLOCKS_SUPERVISION],
		         c->counts[CLOCKS_ESCALATION], c->overdue);
	metric_set(c->m.overdue, c->overdue);
	metric_set(c->m.calendar_next_year, c->next_year);
	metric_inc(c->m.runs);
	if (!c->next_year && !c->warned_calendar) {
		c->warned_calendar = 1;
		log_warn("clocks: the holiday calendar has no entries for next year: deadlines reaching into "
		         "it "
		         "count plain weeks until its official calendar is entered (operation holiday_set)");
	} else if (c->next_year) {
		c->warned_calendar = 0;
	}
	arm(c, c->wait_ms);
}

static long long column(const PGresult *res, int col)
{
	return strtoll(PQgetvalue(res, 0, col), NULL, 10);
}

static void on_run(struct pgq_tx *tx, const PGresult *res, void *arg)
{
	struct clocks *c = arg;

	if (!res)
		return failed(c, "the database connection failed");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) != 6) {
		failed(c, PQresultErrorMessage(res));
		pgq_end(tx, 0, NULL, NULL);
		return;
	}
	/* No next instant: nothing is running; look again after the longest wait. */
	c->wait_ms = PQgetisnull(res, 0, 0) ? c->conf.max_wait_ms : column(res, 0);
	if (c->wait_ms > c->conf.max_wait_ms)
		c->wait_ms = c->conf.max_wait_ms;
	if (c->wait_ms < MIN_WAIT_MS)
		c->wait_ms = MIN_WAIT_MS;
	for (int k = 0; k < CLOCKS_KIND_COUNT; k++)
		c->counts[k] = column(res, 1 + k);
	c->overdue = column(res, 4);
	c->next_year = PQgetvalue(res, 0, 5)[0] == 't';
	pgq_end(tx, 1, on_commit, c);
}

static void on_begin(struct pgq_tx *tx, const PGresult *res, void *arg)
{
	struct clocks *c = arg;

	if (!res)
		return failed(c, "cannot connect to the database");
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		failed(c, PQresultErrorMessage(res));
		pgq_end(tx, 0, NULL, NULL);
		return;
	}
	pgq_send(tx, run_sql, 0, NULL, 0, on_run, c);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct clocks *c = arg;
	(void)fd;
	(void)what;

	/* The pool is this timer's own and holds one run at a time: a full queue is a bug, retried. */
	if (pgq_begin(c->db, on_begin, c) != 0)
		failed(c, "no database connection free");
}

struct clocks *clocks_new(struct event_base *base, struct pgq *db, const struct clocks_conf *conf,
                          const struct clocks_metrics *m)
{
	struct clocks *c = calloc(1, sizeof(*c));

	if (!c || !(c->timer = evtimer_new(base, on_timer, c))) {
		free(c);
		return NULL;
	}
	c->conf = *conf;
	c->m = *m;
	c->db = db;
	arm(c, 0);
	return c;
}

void clocks_free(struct clocks *c)
{
	if (!c)
		return;
	event_free(c->timer);
	free(c);
}
