#include "internal/staff.h"

#include "common/encoding.h"
#include "common/err.h"
#include "common/log.h"
#include "common/web.h"
#include "internal/staff_input.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define COOKIE       STAFF_COOKIE
#define CSRF_COOKIE  "tip_csrf" /* readable by the pages: they send it back as X-CSRF-Token */
#define BYTEA_PARAM  (2 + 2 * AUTH_DIGEST_LEN + 1) /* "\x" and hex */
#define PAGE_DEFAULT 50

const char *staff_login_name(enum staff_login l)
{
	static const char *const names[STAFF_LOGIN_COUNT] = {"ok", "failed", "locked", "rate_limited"};

	return (unsigned)l < STAFF_LOGIN_COUNT ? names[l] : "unknown";
}

enum route_id {
	R_LOGIN,
	R_LOGOUT,
	R_ME,
	R_PLEDGE,
	R_CASES,
	R_CASE,
	R_ATTACHMENT,
	R_RESULT_FILE,
	R_CASE_OP,
	R_OP
};

/* Who may use a route, checked in code before the database is asked (which checks again). */
enum role_bit {
	ROLE_NATIONAL = 1,
	ROLE_PROVINCIAL = 2,
	ROLE_UNIT = 4,
	ROLE_REVIEWER = 8,
	ROLE_AUDITOR = 16,
	ROLE_ADMIN = 32,
};
#define ROLES_ANY   63
#define ROLES_CASES (ROLE_NATIONAL | ROLE_PROVINCIAL | ROLE_UNIT | ROLE_REVIEWER)

static const struct {
	const char *name;
	int bit;
} role_names[] = {{"national", ROLE_NATIONAL}, {"provincial", ROLE_PROVINCIAL},
                  {"unit_officer", ROLE_UNIT}, {"reviewer", ROLE_REVIEWER},
                  {"auditor", ROLE_AUDITOR},   {"administrator", ROLE_ADMIN}};

struct route {
	enum http_method method; /* HTTP_OTHER: GET or POST, the operation's own (checked by api_call) */
	int roles;
	int csrf;   /* state-changing: the X-CSRF-Token header must match the session's */
	int pledge; /* shows case data: the confidentiality pledge must have been accepted */
};

static const struct route routes[] = {
        [R_LOGIN] = {HTTP_POST, 0, 0, 0},
        [R_LOGOUT] = {HTTP_POST, ROLES_ANY, 1, 0},
        [R_ME] = {HTTP_GET, ROLES_ANY, 0, 0},
        [R_PLEDGE] = {HTTP_POST, ROLES_ANY, 1, 0},
        [R_CASES] = {HTTP_GET, ROLES_CASES, 0, 1},
        [R_CASE] = {HTTP_GET, ROLES_CASES, 0, 1},
        [R_ATTACHMENT] = {HTTP_GET, ROLES_CASES, 0, 1},
        [R_RESULT_FILE] = {HTTP_GET, ROLES_CASES, 0, 1},
        [R_CASE_OP] = {HTTP_OTHER, ROLES_CASES, 1, 1},
        [R_OP] = {HTTP_OTHER, ROLES_ANY, 1, 1},
};

/* One request on its way through the database. */
struct call {
	struct staff *s;
	struct http_req *req;
	enum route_id route;
	int csrf;                                    /* the route changes state: the CSRF token must match */
	char token[BYTEA_PARAM];                     /* the session token's digest as a bytea parameter */
	char params[STAFF_FILTERS][STAFF_PARAM_MAX]; /* route parameters as text ("" for NULL) */
	json_t *body;                                /* login: the parsed body */
	char *args;                                  /* operations: the arguments as a JSON object */
	long long uid;                               /* login: the user found */
	char csrf_hex[2 * AUTH_DIGEST_LEN + 1];
	char new_token[AUTH_TOKEN_TEXT], new_csrf[AUTH_TOKEN_TEXT];
	int status; /* the answer kept until the commit: 200 with answer, or 404 */
	const char *type;
	char *answer;
	size_t answer_len;
	char extra[2][96];
};

static void call_free(struct call *c)
{
	json_decref(c->body);
	free(c->args);
	free(c->answer);
	OPENSSL_cleanse(c->new_token, sizeof(c->new_token));
	free(c);
}

static void bytea_param(const uint8_t digest[AUTH_DIGEST_LEN], char out[BYTEA_PARAM])
{
	out[0] = '\\';
	out[1] = 'x';
	hex_encode(digest, AUTH_DIGEST_LEN, out + 2, BYTEA_PARAM - 2);
}

static const char *param_or_null(const struct call *c, int i)
{
	return c->params[i][0] ? c->params[i] : NULL;
}

/* The database failed or refused: the transaction is rolled back (or already gone) and 503 sent. */
static void fail(struct call *c, struct pgq_tx *tx, const PGresult *res)
{
	if (res) {
		log_err("database: %s", PQresultErrorMessage(res));
		pgq_end(tx, 0, NULL, NULL);
	}
	http_reply_error(c->req, 503, "unavailable", NULL, "the database is unavailable; try again", NULL);
	call_free(c);
}

static int ok(const PGresult *res)
{
	return res && (PQresultStatus(res) == PGRES_TUPLES_OK || PQresultStatus(res) == PGRES_COMMAND_OK);
}

/* The answer, sent once the transaction has committed (a view is answered only once it is logged). */
static void on_committed(struct pgq_tx *tx, const PGresult *res, void *arg)
{
	struct call *c = arg;
	const char *extra[] = {c->extra[0][0] ? c->extra[0] : NULL, c->extra[1][0] ? c->extra[1] : NULL,
	                       NULL};
	(void)tx;

	if (!ok(res))
		http_reply_error(c->req, 503, "unavailable", NULL, "the database is unavailable; try again",
		                 NULL);
	else if (c->status == 404)
		http_reply_error(c->req, 404, "not_found", NULL, "no such case or attachment", NULL);
	else
		http_reply(c->req, c->status, c->type, c->answer, c->answer_len, extra[0] ? extra : NULL);
	call_free(c);
}

/* Keeps the answer (a copy of len bytes, or a 404 when data is NULL) and commits. */
static void commit_then_reply(struct call *c, struct pgq_tx *tx, const char *type, const char *data,
                              size_t len)
{
	c->status = data ? 200 : 404;
	c->type = type;
	if (data && !(c->answer = malloc(len ? len : 1))) {
		pgq_end(tx, 0, NULL, NULL);
		return fail(c, NULL, NULL);
	}
	if (data)
		memcpy(c->answer, data, len);
	c->answer_len = len;
	pgq_end(tx, 1, on_committed, c);
}

/* The final statement of a route: a JSON document (200) or SQL NULL (404). */
static void on_document(struct pgq_tx *tx, const PGresult *res, void *arg)
{
	struct call *c = arg;

	if (!ok(res) || PQntuples(res) != 1)
		return fail(c, tx, res);
	commit_then_reply(c, tx, "application/json", PQgetisnull(res, 0, 0) ? NULL : PQgetvalue(res, 0, 0),
	                  (size_t)PQgetlength(res, 0, 0));
}

static void on_attachment(struct pgq_tx *tx, const PGresult *res, void *arg)
{
	struct call *c = arg;

	if (!ok(res) || PQntuples(res) != 1)
		return fail(c, tx, res);
	/* The type was sniffed by the intake from a fixed list; the file is never rendered inline. */
	if (!PQgetisnull(res, 0, 0)) {
		snprintf(c->extra[0], sizeof(c->extra[0]), "X-Attachment-Type: %.64s", PQgetvalue(res, 0, 1));
		snprintf(c->extra[1], sizeof(c->extra[1]), "Content-Disposition: attachment");
	}
	commit_then_reply(c, tx, "application/octet-stream",
	                  PQgetisnull(res, 0, 0) ? NULL : PQgetvalue(res, 0, 2),
	                  (size_t)PQgetlength(res, 0, 2));
}

static void on_done(struct pgq_tx *tx, const PGresult *res, void *arg)
{
	struct call *c = arg;
	static const char done[] = "{\"status\":\"ok\"}";

	if (!ok(res))
		return fail(c, tx, res);
	commit_then_reply(c, tx, "application/json", done, sizeof(done) - 1);
}

/*
 * An operation's answer: its document, or the refusal its function raised (SQLSTATE TWnnn: HTTP status
 * nnn, COLUMN naming the field), or 400 for input the database itself refused as malformed.
 */
static void on_operation(struct pgq_tx *tx, const PGresult *res, void *arg)
{
	static const struct {
		const char *state, *error;
		int status;
	} refusals[] = {{"TW400", "invalid", 400},
	                {"TW403", "forbidden", 403},
	                {"TW404", "not_found", 404},
	                {"TW405", "method_not_allowed", 405},
	                {"TW409", "refused", 409}};
	struct call *c = arg;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (!state || ok(res))
		return on_document(tx, res, arg);
	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++)
		if (!strcmp(state, refusals[i].state)) {
			const char *field = PQresultErrorField(res, PG_DIAG_COLUMN_NAME);
			http_reply_error(c->req, refusals[i].status, refusals[i].error,
			                 field && *field ? field : NULL,
			                 PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY), NULL);
			pgq_end(tx, 0, NULL, NULL);
			return call_free(c);
		}
	/* Class 22 (data exception): a value PostgreSQL could not take, e.g. text it cannot store. */
	if (!strncmp(state, "22", 2)) {
		log_info("operation refused by the database: %s", PQresultErrorMessage(res));
		http_reply_error(c->req, 400, "invalid", NULL, "a value the database cannot store", NULL);
		pgq_end(tx, 0, NULL, NULL);
		return call_free(c);
	}
	fail(c, tx, res);
}

/* The session is valid and the route allowed: its statement. */
static void run_route(struct call *c, struct pgq_tx *tx)
{
	const char *p[6];

	for (int i = 0; i < 6; i++)
		p[i] = param_or_null(c, i);
	switch (c->route) {
	case R_LOGOUT: {
		const char *token[] = {c->token};
		snprintf(c->extra[0], sizeof(c->extra[0]),
		         "Set-Cookie: " COOKIE "=; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=0");
		snprintf(c->extra[1], sizeof(c->extra[1]),
		         "Set-Cookie: " CSRF_COOKIE "=; Secure; SameSite=Strict; Path=/; Max-Age=0");
		pgq_send(tx, "SELECT session_end($1::bytea)", 1, token, 0, on_done, c);
		break;
	}
	case R_ME: pgq_send(tx, "SELECT me()", 0, NULL, 0, on_document, c); break;
	case R_PLEDGE: pgq_send(tx, "SELECT pledge_accept($1)", 1, p, 0, on_done, c); break;
	case R_CASES:
		pgq_send(tx, "SELECT case_list($1, $2, $3, $4, $5::bigint, $6::integer)", 6, p, 0,
		         on_document, c);
		break;
	case R_CASE: pgq_send(tx, "SELECT case_detail($1::bigint)", 1, p, 0, on_document, c); break;
	case R_ATTACHMENT:
		pgq_send(tx, "SELECT * FROM attachment_get($1::bigint, $2::integer)", 2, p, 1, on_attachment,
		         c);
		break;
	case R_RESULT_FILE:
		pgq_send(tx, "SELECT * FROM result_file_get($1::bigint, $2::bigint, $3::integer)", 3, p, 1,
		         on_attachment, c);
		break;
	case R_CASE_OP:
	case R_OP: {
		const char *op[] = {p[1], http_req_head(c->req)->method == HTTP_GET ? "GET" : "POST",
		                    c->route == R_CASE_OP ? p[0] : NULL, c->args};
		pgq_send(tx, "SELECT api_call($1, $2, $3::bigint, $4::jsonb)", 4, op, 0, on_operation, c);
		break;
	}
	case R_LOGIN: break;
	}
}

static int role_bit(const char *name)
{
	for (size_t i = 0; i < sizeof(role_names) / sizeof(role_names[0]); i++)
		if (strcmp(name, role_names[i].name) == 0)
			return role_names[i].bit;
	return 0;
}

static void on_session(struct pgq_tx *tx, const PGresult *res, void *arg)
{
	struct call *c = arg;
	const struct route *r = &routes[c->route];
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (state && strcmp(state, "28000") == 0) {
		pgq_end(tx, 0, NULL, NULL);
		http_reply_error(c->req, 401, "unauthenticated", COOKIE, "log in first", NULL);
		return call_free(c);
	}
	if (!ok(res) || PQntuples(res) != 1)
		return fail(c, tx, res);
	/* Columns: user_id, role, csrf_hash (hex bytea), pledged. */
	if (c->csrf && (PQgetlength(res, 0, 2) != 2 + 2 * AUTH_DIGEST_LEN ||
	                CRYPTO_memcmp(PQgetvalue(res, 0, 2) + 2, c->csrf_hex, 2 * AUTH_DIGEST_LEN) != 0)) {
		pgq_end(tx, 0, NULL, NULL);
		http_reply_error(c->req, 403, "csrf", "X-CSRF-Token", "missing or wrong CSRF token", NULL);
		return call_free(c);
	}
	if (!(role_bit(PQgetvalue(res, 0, 1)) & r->roles)) {
		pgq_end(tx, 0, NULL, NULL);
		http_reply_error(c->req, 403, "forbidden", NULL, "not for your role", NULL);
		return call_free(c);
	}
	if (r->pledge && strcmp(PQgetvalue(res, 0, 3), "t") != 0) {
		pgq_end(tx, 0, NULL, NULL);
		http_reply_error(c->req, 403, "pledge_required", NULL,
		                 "accept the confidentiality pledge before any case is shown", NULL);
		return call_free(c);
	}
	run_route(c, tx);
}

static void on_begin_session(struct pgq_tx *tx, const PGresult *res, void *arg)
{
	struct call *c = arg;
	const char *token[] = {c->token};

	if (!ok(res))
		return fail(c, tx, res);
	pgq_send(tx, "SELECT user_id, role, csrf_hash, pledged FROM session_begin($1::bytea)", 1, token, 0,
	         on_session, c);
}

/* ---- login ---- */

/* After the COMMIT of a login's outcome: a failure counts (and may lock) before it is answered. */
static void on_login_committed(struct pgq_tx *tx, const PGresult *res, void *arg)
{
	struct call *c = arg;
	char cookie[160], csrf_cookie[160];
	const char *extra[] = {cookie, csrf_cookie, NULL};
	(void)tx;

	if (!ok(res))
		return fail(c, NULL, NULL);
	metric_inc(c->s->logins[c->new_token[0] ? STAFF_LOGIN_OK : STAFF_LOGIN_FAILED]);
	if (!c->new_token[0]) {
		http_reply_error(c->req, 401, "invalid_credentials", NULL,
		                 "wrong user name, password or code", NULL);
		return call_free(c);
	}
	/* Secure even on plain HTTP behind a proxy: browsers keep such cookies for localhost too. */
	snprintf(cookie, sizeof(cookie),
	         "Set-Cookie: " COOKIE "=%s; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=%lld",
	         c->new_token, c->s->conf.session_ttl_s);
	/* The CSRF token also as a cookie the pages can read, so it outlives a page: another site can neither
	 * read it nor, under SameSite=Strict, have it sent. */
	snprintf(csrf_cookie, sizeof(csrf_cookie),
	         "Set-Cookie: " CSRF_COOKIE "=%s; Secure; SameSite=Strict; Path=/; Max-Age=%lld", c->new_csrf,
	         c->s->conf.session_ttl_s);
	http_reply_json(c->req, 200, json_pack("{s:s}", "csrf_token", c->new_csrf), extra);
	call_free(c);
}

static void on_login_recorded(struct pgq_tx *tx, const PGresult *res, void *arg)
{
	struct call *c = arg;

	if (!ok(res))
		return fail(c, tx, res);
	pgq_end(tx, 1, on_login_committed, c);
}

/* The login failed: counted (and the account locked after too many), answered once committed. */
static void login_refused(struct call *c, struct pgq_tx *tx)
{
	char uid[24], failures[24], lock[32];
	const char *p[] = {uid, failures, lock};

	snprintf(uid, sizeof(uid), "%lld", c->uid);
	snprintf(failures, sizeof(failures), "%lld", c->s->conf.login_failures);
	snprintf(lock, sizeof(lock), "%lld seconds", c->s->conf.lockout_s);
	pgq_send(tx, "SELECT login_failed($1::bigint, $2::integer, $3::interval)", 3, p, 0, on_login_recorded,
	         c);
}

/* The login succeeded: a new session, answered once committed. */
static void login_accepted(struct call *c, struct pgq_tx *tx)
{
	char uid[24], token_hash[BYTEA_PARAM], csrf_hash[BYTEA_PARAM], ttl[32];
	uint8_t digest[AUTH_DIGEST_LEN];
	const char *p[] = {uid, token_hash, csrf_hash, ttl};

	snprintf(uid, sizeof(uid), "%lld", c->uid);
	if (auth_new_token(c->new_token, digest) != TIP_OK) {
		pgq_end(tx, 0, NULL, NULL);
		return fail(c, NULL, NULL);
	}
	bytea_param(digest, token_hash);
	if (auth_new_token(c->new_csrf, digest) != TIP_OK) {
		pgq_end(tx, 0, NULL, NULL);
		return fail(c, NULL, NULL);
	}
	bytea_param(digest, csrf_hash);
	snprintf(ttl, sizeof(ttl), "%lld seconds", c->s->conf.session_ttl_s);
	pgq_send(tx, "SELECT login_succeeded($1::bigint, $2::bytea, $3::bytea, $4::interval)", 4, p, 0,
	         on_login_recorded, c);
}

/* The TOTP code's step stored as the account's last: false when a concurrent login used it first. */
static void on_totp_step(struct pgq_tx *tx, const PGresult *res, void *arg)
{
	struct call *c = arg;

	if (!ok(res) || PQntuples(res) != 1)
		return fail(c, tx, res);
	if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
		login_accepted(c, tx);
	else
		login_refused(c, tx);
}

static void on_login_user(struct pgq_tx *tx, const PGresult *res, void *arg)
{
	struct call *c = arg;
	const char *password = json_string_value(json_object_get(c->body, "password"));
	const char *code = json_string_value(json_object_get(c->body, "totp"));
	int found, good;
	int64_t step = -1;

	if (!ok(res))
		return fail(c, tx, res);
	/* A function returning one row gives a row of NULLs for an unknown user. Columns: user_id,
	 * password_hash, totp_secret, locked, totp_last_step. */
	found = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0);
	if (found && strcmp(PQgetvalue(res, 0, 3), "t") == 0) {
		pgq_end(tx, 0, NULL, NULL);
		metric_inc(c->s->logins[STAFF_LOGIN_LOCKED]);
		http_reply_error(c->req, 403, "locked", "username", "too many failed logins; try again later",
		                 NULL);
		return call_free(c);
	}
	good = auth_verify_password(found ? PQgetvalue(res, 0, 1) : NULL, password, strlen(password)) ==
	       TIP_OK;
	if (good && !PQgetisnull(res, 0, 2)) {
		/* The secret arrives as a text bytea ("\x..."). */
		uint8_t secret[64];
		size_t len;
		const char *hex = PQgetvalue(res, 0, 2);
		int64_t last = PQgetisnull(res, 0, 4) ? -1 : strtoll(PQgetvalue(res, 0, 4), NULL, 10);
		good = code && hex_decode(hex + 2, strlen(hex + 2), secret, sizeof(secret), &len) == TIP_OK &&
		       auth_totp_check(secret, len, (int64_t)time(NULL), code, last, &step) == TIP_OK;
		OPENSSL_cleanse(secret, sizeof(secret));
	}
	if (!found) {
		pgq_end(tx, 0, NULL, NULL);
		metric_inc(c->s->logins[STAFF_LOGIN_FAILED]);
		http_reply_error(c->req, 401, "invalid_credentials", NULL,
		                 "wrong user name, password or code", NULL);
		return call_free(c);
	}
	c->uid = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	if (!good)
		return login_refused(c, tx);
	if (step < 0)
		return login_accepted(c, tx);
	char uid[24], at[24];
	const char *p[] = {uid, at};
	snprintf(uid, sizeof(uid), "%lld", c->uid);
	snprintf(at, sizeof(at), "%lld", (long long)step);
	pgq_send(tx, "SELECT login_totp_step($1::bigint, $2::bigint)", 2, p, 0, on_totp_step, c);
}

static void on_begin_login(struct pgq_tx *tx, const PGresult *res, void *arg)
{
	struct call *c = arg;
	const char *name[] = {json_string_value(json_object_get(c->body, "username"))};

	if (!ok(res))
		return fail(c, tx, res);
	pgq_send(tx,
	         "SELECT user_id, password_hash, totp_secret, locked, totp_last_step FROM login_lookup($1)",
	         1, name, 0, on_login_user, c);
}

/* The login body into c->body (staff_login_parse); 0, or -1 with a reply sent. */
static int login_body(struct call *c)
{
	size_t len;
	const uint8_t *body = http_req_body(c->req, &len);
	struct staff_input_error e;

	if (!(c->body = staff_login_parse(body, len, &e))) {
		http_reply_error(c->req, 400, "invalid", e.field[0] ? e.field : NULL, e.message, NULL);
		return -1;
	}
	return 0;
}

/* ---- routing ---- */

/* The session cookie's digest into c->token; 0, or -1 when there is none or it is malformed. */
static int session_token(struct call *c)
{
	uint8_t digest[AUTH_DIGEST_LEN];

	if (staff_cookie_token(http_head_header(http_req_head(c->req), "Cookie"), digest) != 0)
		return -1;
	bytea_param(digest, c->token);
	return 0;
}

/* The case list's filters into c->params; 0, or -1 with a reply sent. */
static int list_filters(struct call *c)
{
	struct staff_input_error e;

	if (staff_list_filters(http_req_head(c->req)->query, PAGE_DEFAULT, c->params, &e) != TIP_OK) {
		http_reply_error(c->req, 400, "invalid", e.field, e.message, NULL);
		return -1;
	}
	return 0;
}

/* An operation's arguments into c->args; 0, or -1 with a reply sent. */
static int op_args(struct call *c)
{
	const struct http_head *h = http_req_head(c->req);
	struct staff_input_error e;
	size_t len;
	const uint8_t *body = http_req_body(c->req, &len);
	int rc = staff_op_args(h->method == HTTP_POST, body, len, h->query, &c->args, &e);

	if (rc == TIP_EINVAL)
		http_reply_error(c->req, 400, "invalid", e.field[0] ? e.field : NULL, e.message, NULL);
	else if (rc != TIP_OK)
		http_reply_error(c->req, 503, "unavailable", NULL, "out of memory", NULL);
	return rc == TIP_OK ? 0 : -1;
}

/* Which route, with its path parameters; -1 with a reply sent. */
static int route(struct call *c)
{
	const struct http_head *h = http_req_head(c->req);
	const char *path = h->path, *rest;
	size_t n;

	if (!strcmp(path, "/api/v1/login"))
		c->route = R_LOGIN;
	else if (!strcmp(path, "/api/v1/logout"))
		c->route = R_LOGOUT;
	else if (!strcmp(path, "/api/v1/me"))
		c->route = R_ME;
	else if (!strcmp(path, "/api/v1/pledge"))
		c->route = R_PLEDGE;
	else if (!strcmp(path, "/api/v1/cases"))
		c->route = R_CASES;
	else if (!strncmp(path, "/api/v1/ops/", 12) && staff_op_name_ok(path + 12)) {
		c->route = R_OP;
		snprintf(c->params[1], sizeof(c->params[1]), "%s", path + 12);
	} else if (!strncmp(path, "/api/v1/cases/", 14) &&
	           staff_id_ok(path + 14, n = strcspn(path + 14, "/"))) {
		memcpy(c->params[0], path + 14, n);
		rest = path + 14 + n;
		if (!*rest)
			c->route = R_CASE;
		else if (!strncmp(rest, "/attachments/", 13) && strlen(rest + 13) <= 2 &&
		         strspn(rest + 13, "0123456789") == strlen(rest + 13) && rest[13]) {
			c->route = R_ATTACHMENT;
			memcpy(c->params[1], rest + 13, strlen(rest + 13));
		} else if (!strncmp(rest, "/results/", 9) &&
		           staff_id_ok(rest + 9, n = strcspn(rest + 9, "/")) &&
		           !strncmp(rest + 9 + n, "/files/", 7) && strlen(rest + 16 + n) <= 2 &&
		           rest[16 + n] && strspn(rest + 16 + n, "0123456789") == strlen(rest + 16 + n)) {
			c->route = R_RESULT_FILE;
			memcpy(c->params[1], rest + 9, n);
			memcpy(c->params[2], rest + 16 + n, strlen(rest + 16 + n));
		} else if (!strncmp(rest, "/actions/", 9) && staff_op_name_ok(rest + 9)) {
			c->route = R_CASE_OP;
			snprintf(c->params[1], sizeof(c->params[1]), "%s", rest + 9);
		} else
			goto not_found;
	} else
		goto not_found;
	if (routes[c->route].method == HTTP_OTHER ? h->method != HTTP_GET && h->method != HTTP_POST
	                                          : h->method != routes[c->route].method) {
		http_reply_error(c->req, 405, "method_not_allowed", NULL,
		                 routes[c->route].method == HTTP_GET    ? "use GET"
		                 : routes[c->route].method == HTTP_POST ? "use POST"
		                                                        : "use GET or POST",
		                 NULL);
		return -1;
	}
	c->csrf = routes[c->route].csrf && h->method == HTTP_POST;
	return 0;
not_found:
	http_reply_error(c->req, 404, "not_found", NULL, "no such resource", NULL);
	return -1;
}

static void start_failed(struct call *c)
{
	http_reply_error(c->req, 503, "unavailable", NULL, "too busy; try again", NULL);
	call_free(c);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void staff_handle(struct http_req *req, void *arg)
{
	struct staff *s = arg;
	const struct http_head *head = http_req_head(req);
	int get = head->method == HTTP_GET || head->method == HTTP_HEAD;
	const struct web_asset *asset;
	struct call *c;

	if (!strcmp(head->path, "/healthz")) {
		http_reply_json(req, 200, json_pack("{s:s}", "status", "ok"), NULL);
		return;
	}
	/* The pages are the same for everyone and hold no data; each asks the API, which checks. */
	if (get && strncmp(head->path, "/api/", 5) != 0 && (asset = web_find(&web_staff, head->path))) {
		web_reply(req, asset->type, asset->data, asset->len,
		          s->web_gz ? &s->web_gz[asset - web_staff.assets] : NULL);
		return;
	}
	if (get && !strcmp(head->path, "/api/v1/taxonomy") && s->taxonomy_json) {
		http_reply(req, 200, "application/json", s->taxonomy_json, s->taxonomy_len, NULL);
		return;
	}
	if (!(c = calloc(1, sizeof(*c)))) {
		http_reply_error(req, 503, "unavailable", NULL, "out of memory", NULL);
		return;
	}
	c->s = s;
	c->req = req;
	if (route(c) != 0)
		return call_free(c);
	if (c->route == R_LOGIN) {
		unsigned wait = rl_check(s->rl_login, http_req_peer(req), mono_ms());
		if (wait) {
			char header[48];
			const char *extra[] = {header, NULL};
			snprintf(header, sizeof(header), "Retry-After: %u", wait);
			metric_inc(s->logins[STAFF_LOGIN_RATE_LIMITED]);
			http_reply_error(req, 429, "rate_limited", NULL, "too many logins; try again later",
			                 extra);
			return call_free(c);
		}
		if (login_body(c) != 0)
			return call_free(c);
		if (pgq_begin(s->db, on_begin_login, c) != 0)
			start_failed(c);
		return;
	}
	if (session_token(c) != 0) {
		http_reply_error(req, 401, "unauthenticated", COOKIE, "log in first", NULL);
		return call_free(c);
	}
	if (c->csrf) {
		const char *h = http_head_header(http_req_head(req), "X-CSRF-Token");
		uint8_t digest[AUTH_DIGEST_LEN];
		if (!h || auth_token_digest(h, digest) != TIP_OK) {
			http_reply_error(req, 403, "csrf", "X-CSRF-Token", "missing or wrong CSRF token",
			                 NULL);
			return call_free(c);
		}
		hex_encode(digest, sizeof(digest), c->csrf_hex, sizeof(c->csrf_hex));
	}
	if (c->route == R_PLEDGE)
		snprintf(c->params[0], sizeof(c->params[0]), "%s", s->conf.pledge_version);
	if (c->route == R_CASES && list_filters(c) != 0)
		return call_free(c);
	if ((c->route == R_CASE_OP || c->route == R_OP) && op_args(c) != 0)
		return call_free(c);
	if (pgq_begin(s->db, on_begin_session, c) != 0)
		start_failed(c);
}
