/*
 * A client of casemgrd's staff API for tests: sessions (cookie and CSRF token), calls, and the
 * accounts a test needs, created as the database owner with a cheap Argon2 cost.
 */
#ifndef TIP_TESTS_STAFFC_H
#define TIP_TESTS_STAFFC_H

#include <libpq-fe.h>
#include <stddef.h>

#include "httpc.h"
#include "internal/auth.h"

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
/* The HTTP status of a login; on 200 the session is in *s. */
int tstaff_login(int port, const char *user, const char *password, const char *totp, struct tsession *s);
/* A login with TSTAFF_PASSWORD that must succeed, and (pledge) the confidentiality pledge accepted. */
struct tsession tstaff_session(int port, const char *user, int pledge);
/*
 * Accounts: users[i] = {username, role, unit id, TOTP secret as a bytea literal or NULL}, each with
 * TSTAFF_PASSWORD. Aborts on failure.
 */
void tstaff_users(PGconn *owner, const char *const (*users)[4], size_t n);

#endif
