/*
 * PostgreSQL for the request path, driven by the event loop: libpq's asynchronous API
 * (PQsendQueryParams, PQconsumeInput, PQisBusy) on non-blocking connections whose sockets are
 * libevent events, so one thread serves every request while statements run.
 *
 * A request takes a connection for one transaction (pgq_begin), runs its statements one after the
 * other (pgq_send; each result comes to a callback), and gives the connection back with pgq_end,
 * which commits or rolls back. When every connection is taken, pgq_begin waits in a bounded queue.
 * A connection that fails is dropped (every callback then gets a NULL result) and opened again
 * when next needed.
 *
 * Single-threaded: everything runs on the loop's thread.
 */
#ifndef TIP_INTERNAL_PGQ_H
#define TIP_INTERNAL_PGQ_H

#include <event2/event.h>
#include <libpq-fe.h>
#include <stddef.h>

struct pgq;
struct pgq_tx;

/*
 * res is freed after the callback returns. NULL means the connection failed: the transaction is over
 * and tx must not be used again. Otherwise the callback continues with pgq_send or ends with pgq_end.
 */
typedef void (*pgq_cb)(struct pgq_tx *tx, const PGresult *res, void *arg);

/* A pool of up to size connections with conninfo; at most queue_max transactions wait. NULL: no memory. */
struct pgq *pgq_new(struct event_base *base, const char *conninfo, size_t size, size_t queue_max);
/* Closes every connection; transactions still open are abandoned (their callbacks are not called). */
void pgq_free(struct pgq *q);
/*
 * Starts a transaction; ready(tx, res, arg) runs once BEGIN is done (res NULL: no connection could
 * be had, and tx is already released). -1 when the queue is full (nothing will be called).
 */
int pgq_begin(struct pgq *q, pgq_cb ready, void *arg);
/* One statement with n text parameters; binary_result asks for binary columns. Then cb. */
void pgq_send(struct pgq_tx *tx, const char *sql, int n, const char *const *params, int binary_result,
              pgq_cb cb, void *arg);
/*
 * COMMIT (commit = 1) or ROLLBACK, then the connection goes back to the pool and tx is gone; done
 * (may be NULL) gets the COMMIT's result before that (its tx argument must not be used). Nothing is
 * known to be stored before done sees PGRES_COMMAND_OK.
 */
void pgq_end(struct pgq_tx *tx, int commit, pgq_cb done, void *arg);
/* Connections open, and transactions waiting for one (metrics). */
size_t pgq_open(const struct pgq *q);
size_t pgq_waiting(const struct pgq *q);

#endif
