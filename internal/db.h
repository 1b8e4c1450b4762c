/*
 * PostgreSQL through libpq, the same way everywhere: parameterized statements only (values travel as
 * parameters, never inside the SQL text), the server's message copied out on failure.
 */
#ifndef TIP_INTERNAL_DB_H
#define TIP_INTERNAL_DB_H

#include <libpq-fe.h>

#define DB_MSG_MAX 512

/* A connection, or NULL with the reason in msg. */
PGconn *db_connect(const char *conninfo, char msg[DB_MSG_MAX]);
/*
 * Runs sql with n text parameters (NULL elements are SQL NULL) and checks that it ended with status
 * want (PGRES_COMMAND_OK or PGRES_TUPLES_OK). TIP_OK with the result in *out (when out is not NULL;
 * PQclear it), or TIP_EIO with the server's message in msg.
 */
int db_exec(PGconn *c, const char *sql, int n, const char *const *params, ExecStatusType want, PGresult **out,
            char msg[DB_MSG_MAX]);
/*
 * The same in two halves, so the caller can work while the server does: db_send queues the statement
 * (TIP_OK or TIP_EIO), db_wait blocks for its result and checks it as db_exec does. One statement
 * at a time per connection.
 */
int db_send(PGconn *c, const char *sql, int n, const char *const *params, char msg[DB_MSG_MAX]);
int db_wait(PGconn *c, ExecStatusType want, PGresult **out, char msg[DB_MSG_MAX]);

#endif
