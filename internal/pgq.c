#include "internal/pgq.h"

#include "common/log.h"

#include <stdlib.h>
#include <string.h>

struct pgq_tx {
	struct pgq *q;
	PGconn *conn;
	struct event *ev;
	pgq_cb cb;
	void *arg;
	int busy;   /* a statement is out */
	int ending; /* the statement out is COMMIT or ROLLBACK */
	int in_use; /* held by a request */
};

struct waiter {
	pgq_cb ready;
	void *arg;
};

struct pgq {
	struct event_base *base;
	char *conninfo;
	struct pgq_tx *slots;
	size_t size;
	struct waiter *queue;
	size_t queue_max, queue_head, queue_len;
};

static void on_socket(evutil_socket_t fd, short what, void *arg);

/* Watches the socket for what (EV_READ, plus EV_WRITE while parameters wait to go out). */
static void watch(struct pgq_tx *t, short what)
{
	event_del(t->ev);
	event_assign(t->ev, t->q->base, PQsocket(t->conn), what | EV_PERSIST, on_socket, t);
	event_add(t->ev, NULL);
}

static void slot_close(struct pgq_tx *t)
{
	if (t->ev)
		event_free(t->ev);
	PQfinish(t->conn);
	t->ev = NULL;
	t->conn = NULL;
}

/* A connected, non-blocking slot with its socket event, or -1. Connecting blocks the loop briefly. */
static int slot_open(struct pgq_tx *t)
{
	if (t->conn && PQstatus(t->conn) == CONNECTION_OK)
		return 0;
	slot_close(t);
	t->conn = PQconnectdb(t->q->conninfo);
	if (PQstatus(t->conn) != CONNECTION_OK || PQsetnonblocking(t->conn, 1) != 0 ||
	    !(t->ev = event_new(t->q->base, PQsocket(t->conn), EV_READ | EV_PERSIST, on_socket, t))) {
		log_err("database: %s", PQerrorMessage(t->conn));
		slot_close(t);
		return -1;
	}
	return 0;
}

static void slot_release(struct pgq_tx *t);

/* The statement out has a result (or the connection broke: res NULL). */
static void finish(struct pgq_tx *t, PGresult *res)
{
	pgq_cb cb = t->cb;
	void *arg = t->arg;

	int ended = t->ending || !res; /* the callback may start the COMMIT: that is not this one */

	t->busy = 0;
	if (!res)
		slot_close(t);
	if (cb)
		cb(t, res, arg);
	PQclear(res);
	if (ended)
		slot_release(t);
}

static void on_socket(evutil_socket_t fd, short what, void *arg)
{
	struct pgq_tx *t = arg;
	PGresult *res = NULL, *r;
	(void)fd;

	if ((what & EV_WRITE) && PQflush(t->conn) == 0)
		watch(t, EV_READ);
	if (!(what & EV_READ))
		return;
	if (!PQconsumeInput(t->conn)) {
		log_err("database: %s", PQerrorMessage(t->conn));
		if (t->busy)
			finish(t, NULL);
		else
			slot_close(t);
		return;
	}
	if (!t->busy || PQisBusy(t->conn))
		return;
	/* One statement, one result; what follows up to NULL is drained. */
	while ((r = PQgetResult(t->conn))) {
		if (!res)
			res = r;
		else
			PQclear(r);
	}
	if (!res)
		log_err("database: no result");
	finish(t, res);
}

static void send_statement(struct pgq_tx *t, const char *sql, int n, const char *const *params, int binary,
                           pgq_cb cb, void *arg)
{
	t->cb = cb;
	t->arg = arg;
	t->busy = 1;
	if (!t->conn || PQsendQueryParams(t->conn, sql, n, NULL, params, NULL, NULL, binary) != 1) {
		log_err("database: %s", t->conn ? PQerrorMessage(t->conn) : "not connected");
		finish(t, NULL);
		return;
	}
	/* Parameters that did not fit the socket buffer go out when it drains. */
	watch(t, PQflush(t->conn) == 1 ? EV_READ | EV_WRITE : EV_READ);
}

static void start(struct pgq_tx *t, pgq_cb ready, void *arg)
{
	t->in_use = 1;
	t->ending = 0;
	if (slot_open(t) != 0) {
		t->in_use = 0;
		ready(NULL, NULL, arg);
		return;
	}
	send_statement(t, "BEGIN", 0, NULL, 0, ready, arg);
}

static void slot_release(struct pgq_tx *t)
{
	struct pgq *q = t->q;

	t->in_use = 0;
	t->ending = 0;
	if (q->queue_len) {
		struct waiter w = q->queue[q->queue_head];

		q->queue_head = (q->queue_head + 1) % q->queue_max;
		q->queue_len--;
		start(t, w.ready, w.arg);
	}
}

struct pgq *pgq_new(struct event_base *base, const char *conninfo, size_t size, size_t queue_max)
{
	struct pgq *q = calloc(1, sizeof(*q));

	if (!q || !(q->conninfo = strdup(conninfo)) || !(q->slots = calloc(size, sizeof(*q->slots))) ||
	    !(q->queue = calloc(queue_max ? queue_max : 1, sizeof(*q->queue)))) {
		pgq_free(q);
		return NULL;
	}
	q->base = base;
	q->size = size;
	q->queue_max = queue_max ? queue_max : 1;
	for (size_t i = 0; i < size; i++)
		q->slots[i].q = q;
	return q;
}

void pgq_free(struct pgq *q)
{
	if (!q)
		return;
	for (size_t i = 0; q->slots && i < q->size; i++)
		slot_close(&q->slots[i]);
	free(q->slots);
	free(q->queue);
	free(q->conninfo);
	free(q);
}

int pgq_begin(struct pgq *q, pgq_cb ready, void *arg)
{
	for (size_t i = 0; i < q->size; i++)
		if (!q->slots[i].in_use) {
			start(&q->slots[i], ready, arg);
			return 0;
		}
	if (q->queue_len == q->queue_max)
		return -1;
	q->queue[(q->queue_head + q->queue_len) % q->queue_max] = (struct waiter){ready, arg};
	q->queue_len++;
	return 0;
}

void pgq_send(struct pgq_tx *tx, const char *sql, int n, const char *const *params, int binary_result,
              pgq_cb cb, void *arg)
{
	send_statement(tx, sql, n, params, binary_result, cb, arg);
}

void pgq_end(struct pgq_tx *tx, int commit, pgq_cb done, void *arg)
{
	tx->ending = 1;
	send_statement(tx, commit ? "COMMIT" : "ROLLBACK", 0, NULL, 0, done, arg);
}

size_t pgq_open(const struct pgq *q)
{
	size_t n = 0;

	for (size_t i = 0; i < q->size; i++)
		n += q->slots[i].conn != NULL;
	return n;
}

size_t pgq_waiting(const struct pgq *q)
{
	return q->queue_len;
}
