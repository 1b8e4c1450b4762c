/*
 * A client of casemgrd's staff API for tests: sessions (cookie and CSRF token), calls, and the
 * accounts a test needs, created as the database owner with a cheap Argon2 cost.
 */
#ifndef TIP_TESTS_STAFFC_H
#define TIP_TESTS_STAFFC_H

#include <libpq-fe.h>
#include <stddef.h>

#include "daemon.h"
#include "httpc.h"
#include "internal/auth.h"
#include "pg.h"

#define TSTAFF_PASSWORD "correct horse battery"

struct tsession {
	char cookie[128]; /* "Cookie: tip_session=...\r\n" */
	char csrf[AUTH_TOKEN_TEXT];
};

/* One request to 127.0.0.1:port; with csrf, the session's token goes along. The HTTP status. */
int tstaff_call(int port, const char *method, const char *path, const struct tsession *s, int csrf,
                const char *body, struct httpc_response *r);
/*
 * A case operation: GET /api/v1/cases/{id}/actions/{op}[?query] (query: "a=1&b=2" or NULL) or POST
 * with body as JSON (the CSRF token along). Fails the test unless the status is want and, for an
 * error, the answer names field ("field":null when field is NULL). The answer's body (heap, free it)
 * when body_out is not NULL.
 */
void tstaff_op(int port, const struct tsession *s, const char *method, long long id, const char *op,
               const char *query_or_body, int want, const char *field, char **body_out);
/* GET /api/v1/ops/name[?query] (query NULL: none): the HTTP status, and the answer (heap) in *body. */
int tstaff_get_op(int port, const struct tsession *s, const char *name, const char *query, char **body);
/* The HTTP status of a login; on 200 the session is in *s. */
int tstaff_login(int port, const char *user, const char *password, const char *totp, struct tsession *s);
/* A login with TSTAFF_PASSWORD that must succeed, and (pledge) the confidentiality pledge accepted. */
struct tsession tstaff_session(int port, const char *user, int pledge);
/*
 * Accounts: users[i] = {username, role, unit id, TOTP secret as a bytea literal or NULL}, each with
 * TSTAFF_PASSWORD. Aborts on failure.
 */
void tstaff_users(PGconn *owner, const char *const (*users)[4], size_t n);

/*
 * The start of the units every staff test has: 1 the national office, 2 the Beijing office, 3 the
 * Shanghai office; a test appends its own units, "(parent, kind, region, province, name), ...".
 */
#define TSTAFF_OFFICES                                                                                       \
	"INSERT INTO org_units (parent_id, kind, region, province, name) VALUES "                            \
	"(NULL, 'national', NULL, NULL, 'national office');"                                                 \
	"INSERT INTO org_units (parent_id, kind, region, province, name) VALUES "                            \
	"(1, 'provincial', '110000', '110000', 'Beijing office'), "                                          \
	"(1, 'provincial', '310000', '310000', 'Shanghai office'), "

/* Reports of one region, for tstaff_setup. */
struct tstaff_reports {
	const char *region;
	size_t n;
};

#define TSTAFF_USERS_MAX 16

/* A casemgrd with its database, units, accounts and ingested cases, every account logged in. */
struct tstaff {
	struct tcm f;
	struct tdaemon d;
	PGconn *owner;
	const char *const (*users)[4];
	size_t n_users;
	struct tsession sess[TSTAFF_USERS_MAX];
};

/*
 * tcm_setup with the schema, units_sql run as the owner, the accounts; the reports (in order, each group
 * in its region) ingested by a started casemgrd and waited for; every account logged in with the pledge
 * accepted. Aborts on failure.
 */
void tstaff_setup(struct tstaff *s, const char *units_sql, const char *const (*users)[4], size_t n_users,
                  const struct tstaff_reports *reports, size_t n_reports);
/* The session of a user of the fixture. */
const struct tsession *tstaff_as(const struct tstaff *s, const char *user);
/* Stops casemgrd and removes everything. */
void tstaff_teardown(struct tstaff *s);

#endif
