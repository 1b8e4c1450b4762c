#include "internal/db.h"

#include "common/err.h"

#include <stdio.h>
#include <string.h>

/* The first line of a libpq message: enough to log, never a multi-line dump. */
static void copy_message(const char *from, char msg[DB_MSG_MAX])
{
	size_t n = strcspn(from, "\n");

	snprintf(msg, DB_MSG_MAX, "%.*s", (int)(n < DB_MSG_MAX ? n : DB_MSG_MAX - 1), from);
}

/* Server notices ("already exists, skipping") are not errors and not worth a log line. */
static void ignore_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

PGconn *db_connect(const char *conninfo, char msg[DB_MSG_MAX])
{
	PGconn *c = PQconnectdb(conninfo);

	if (c && PQstatus(c) == CONNECTION_OK) {
		PQsetNoticeProcessor(c, ignore_notice, NULL);
		return c;
	}
	copy_message(c ? PQerrorMessage(c) : "out of memory", msg);
	PQfinish(c);
	return NULL;
}

int db_send(PGconn *c, const char *sql, int n, const char *const *params, char msg[DB_MSG_MAX])
{
	if (PQsendQueryParams(c, sql, n, NULL, params, NULL, NULL, 0) == 1)
		return TIP_OK;
	copy_message(PQerrorMessage(c), msg);
	return TIP_EIO;
}

int db_wait(PGconn *c, ExecStatusType want, PGresult **out, char msg[DB_MSG_MAX])
{
	PGresult *res = PQgetResult(c), *more;
	int rc = TIP_OK;

	if (!res || PQresultStatus(res) != want) {
		copy_message(res ? PQresultErrorMessage(res) : PQerrorMessage(c), msg);
		rc = TIP_EIO;
	}
	/* A statement's results end with NULL; the connection is free again only then. */
	while ((more = PQgetResult(c)))
		PQclear(more);
	if (rc == TIP_OK && out)
		*out = res;
	else
		PQclear(res);
	return rc;
}

int db_exec(PGconn *c, const char *sql, int n, const char *const *params, ExecStatusType want, PGresult **out,
            char msg[DB_MSG_MAX])
{
	int rc = db_send(c, sql, n, params, msg);

	return rc == TIP_OK ? db_wait(c, want, out, msg) : rc;
}
