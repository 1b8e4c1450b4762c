#include "internal/staff.h"

#include "common/encoding.h"
#include "common/err.h"
#include "common/log.h"
#include "common/web.h"
#include "internal/staff_input.h"

#include "common/qr.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define COOKIE       STAFF_COOKIE
#define CSRF_COOKIE  "tip_csrf" /* readable by the pages: they send it back as X-CSRF-Token */
#define BYTEA_PARAM  (2 + 2 * AUTH_DIGEST_LEN + 1) /* "\x" and hex */
#define PAGE_DEFAULT 50
#define SECRET_HEX   (2 + 2 * 64 + 1) /* a TOTP secret as a text bytea, "\x" and hex */
#define TOTP_LEN     20               /* bytes of a new TOTP secret (RFC 4226: 160 bits) */
#define TEMP_LEN     16               /* characters of a temporary password */
#define NEW_MIN      12               /* characters of a password a user sets, at least */
#define TOTP_ISSUER  "tipline"

const char *staff_login_name(enum staff_login l)
{
	static const char *const names[STAFF_LOGIN_COUNT] = {"ok", "failed", "locked", "rate_limited"};

	return (unsigned)l < STAFF_LOGIN_COUNT ? names[l] : "unknown";
}

enum route_id {
	R_LOGIN,
	R_LOGOUT,
	R_ME,
	R_PASSWORD,
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
        [R_PASSWORD] = {HTTP_POST, ROLES_ANY, 1, 0},
        [R_PLEDGE] = {HTTP_POST, ROLES_ANY, 1, 0},
        [R_CASES] = {HTTP_GET, ROLES_CASES, 0, 1},
        [R_CASE] = {HTTP_GET, ROLES_CASES, 0, 1},
        [R_ATTACHMENT] = {HTTP_GET, ROLES_CASES, 0, 1},
        [R_RESULT_FILE] = {HTTP_GET, ROLES_CASES, 0, 1},
        [R_CASE_OP] = {HTTP_OTHER, ROLES_CASES, 1, 1},
        [R_OP] = {HTTP_OTHER, ROLES_ANY, 1, 1},
};

/* Credentials an operation hands out, made here (see staff.h). */
enum { CRED_PASSWORD = 1, CRED_TOTP = 2 };

static const struct {
	const char *op;
	int creds;
} cred_ops[] = {{"user_create", CRED_PASSWORD | CRED_TOTP},
                {"user_password_reset", CRED_PASSWORD},
                {"user_totp_enrol", CRED_TOTP}};

/* One request on its way through the database. */
struct call {
	struct staff *s;
	struct http_req *req;
	enum route_id route;
	int csrf;                                    /* the route changes state: the CSRF token must match */
	char token[BYTEA_PARAM];                     /* the session token's digest as a bytea parameter */
	char params[STAFF_FILTERS][STAFF_PARAM_MAX]; /* route parameters as text ("" for NULL) */
	json_t *body;             /* login, password: the parsed body; operations: the arguments */
	char *args;               /* operations: the arguments as JSON text */
	struct pgq_tx *tx;        /* the transaction waiting for a hash */
	long long uid;            /* login: the user found */
	int found, must_change;   /* login: whether the user exists, and must change the password */
	long long last_step;      /* login: the step of the account's last TOTP code, or -1 */
	char totp[2][SECRET_HEX]; /* login: the account's TOTP secret and pending secret ("" for none) */
	int creds;                /* operations: CRED_* to make */
	char temp[TEMP_LEN + 1];  /* a temporary password made */
	uint8_t secret[TOTP_LEN]; /* a TOTP secret made */
	char hash[AUTH_HASH_MAX]; /* a password hash made */
	char csrf_hex[2 * AUTH_DIGEST_LEN + 1];
	char new_token[AUTH_TOKEN_TEXT], new_csrf[AUTH_TOKEN_TEXT];
	int status; /* the answer kept until the commit: 200 with answer, or 404 */
	const char *type;
	char *answer;
	size_t answer_len;
	char extra[2][96];
	int replica; /* running on the replica */
};

static void call_free(struct call *c)
{
	json_decref(c->body);
	free(c->args);
	if (c->answer)
		OPENSSL_cleanse(c->answer, c->answer_len);
	free(c->answer);
	OPENSSL_cleanse(c->new_token, sizeof(c->new_token));
	OPENSSL_cleanse(c->totp, sizeof(c->totp));
	OPENSSL_cleanse(c->temp, sizeof(c->temp));
	OPENSSL_cleanse(c->secret, sizeof(c->secret));
	free(c);
}

static void start_failed(struct call *c);

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

static uint64_t mono_ms(void);
static void start_failed(struct call *c);
static void on_begin_session(struct pgq_tx *tx, const PGresult *res, void *arg);

/*
 * A request the replica could not answer runs again on the primary: 1, or 0 when it was not on the
 * replica. rest: the replica failed (rather than lagged), so the primary serves alone for a while.
 */
static int fall_back(struct call *c, int rest)
{
	if (!c->replica)
		return 0;
	c->replica = 0;
	if (rest)
		c->s->replica_rest_until = mono_ms() + (uint64_t)c->s->conf.replica_rest_ms;
	metric_inc(c->s->replica_fallbacks);
	free(c->answer);
	c->answer = NULL;
	if (pgq_begin(c->s->db, on_begin_session, c) != 0)
		start_failed(c);
	return 1;
}

/*
 * The database failed or refused: the transaction is rolled back (or already gone) and 503 sent, or
 * the request goes to the primary when it was on the replica.
 */
static void fail(struct call *c, struct pgq_tx *tx, const PGresult *res)
{
	if (res) {
		log_err("%s: %s", c->replica ? "replica" : "database", PQresultErrorMessage(res));
		pgq_end(tx, 0, NULL, NULL);
	}
	if (fall_back(c, 1))
		return;
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
		return fail(c, NULL, NULL);
	if (c->replica)
		metric_inc(c->s->replica_answers);
	if (c->status == 404)
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
 * A credential operation's answer with what was made added, shown this once: "password" (the temporary
 * one) and "totp": {"secret": base32, "uri": the otpauth URI, "qr_svg": its QR code as an SVG document}.
 */
static void on_credentials(struct pgq_tx *tx, const PGresult *res, void *arg)
{
	struct call *c = arg;
	json_t *doc;
	const char *user;
	char b32[2 * TOTP_LEN], uri[320], *svg = NULL, *text = NULL;
	size_t svg_len = 0;
	int rc = -1;

	if (!ok(res) || PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
		return on_document(tx, res, arg);
	doc = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	user = json_string_value(json_object_get(json_object_get(doc, "user"), "username"));
	if (!user ||
	    ((c->creds & CRED_PASSWORD) && json_object_set_new(doc, "password", json_string(c->temp))))
		goto out;
	if (c->creds & CRED_TOTP) {
		if (b32_encode(c->secret, sizeof(c->secret), b32, sizeof(b32)) != TIP_OK)
			goto out;
		snprintf(uri, sizeof(uri),
		         "otpauth://totp/" TOTP_ISSUER ":%s?secret=%s&issuer=" TOTP_ISSUER
		         "&algorithm=SHA1&digits=6&period=30",
		         user, b32);
		if (qr_svg_titled(uri, "TOTP", &svg, &svg_len) != TIP_OK ||
		    json_object_set_new(doc, "totp",
		                        json_pack("{s:s,s:s,s:s%}", "secret", b32, "uri", uri, "qr_svg", svg,
		                                  svg_len)) != 0)
			goto out;
	}
	if ((text = json_dumps(doc, JSON_COMPACT))) {
		commit_then_reply(c, tx, "application/json", text, strlen(text));
		rc = 0;
	}
out:
	json_decref(doc);
	free(svg);
	if (text)
		OPENSSL_cleanse(text, strlen(text));
	free(text);
	OPENSSL_cleanse(b32, sizeof(b32));
	OPENSSL_cleanse(uri, sizeof(uri));
	if (rc) {
		pgq_end(tx, 0, NULL, NULL);
		fail(c, NULL, NULL);
	}
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
		return c->creds ? on_credentials(tx, res, arg) : on_document(tx, res, arg);
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

/* An operation's statement: api_call with the arguments and the credentials made for it. */
static void op_send(struct call *c, struct pgq_tx *tx)
{
	char hex[2 * TOTP_LEN + 1];
	int bad = 0;

	if (c->creds & CRED_TOTP) {
		hex_encode(c->secret, sizeof(c->secret), hex, sizeof(hex));
		bad |= json_object_set_new(c->body, "totp_secret", json_string(hex));
		OPENSSL_cleanse(hex, sizeof(hex));
	}
	if (c->creds & CRED_PASSWORD)
		bad |= json_object_set_new(c->body, "password_hash", json_string(c->hash));
	if (bad || !(c->args = json_dumps(c->body, JSON_COMPACT))) {
		pgq_end(tx, 0, NULL, NULL);
		return fail(c, NULL, NULL);
	}
	const char *op[] = {c->params[1], http_req_head(c->req)->method == HTTP_GET ? "GET" : "POST",
	                    c->route == R_CASE_OP ? c->params[0] : NULL, c->args};
	pgq_send(tx, "SELECT api_call($1, $2, $3::bigint, $4::jsonb)", 4, op, 0, on_operation, c);
}

static void on_op_hashed(int rc, void *arg)
{
	struct call *c = arg;

	if (rc != TIP_OK) {
		pgq_end(c->tx, 0, NULL, NULL);
		return fail(c, NULL, NULL);
	}
	op_send(c, c->tx);
}

/* A temporary password: TEMP_LEN characters of an alphabet without look-alikes (about 79 bits). */
static int make_temp(char out[TEMP_LEN + 1])
{
	static const char alphabet[] = "abcdefghjkmnpqrstuvwxyz23456789";
	const unsigned n = sizeof(alphabet) - 1, limit = 256 / n * n;
	uint8_t r[64];
	size_t k = 0;

	while (k < TEMP_LEN) {
		if (RAND_bytes(r, sizeof(r)) != 1)
			return -1;
		for (size_t i = 0; i < sizeof(r) && k < TEMP_LEN; i++)
			if (r[i] < limit) /* no bias: only bytes below a multiple of n */
				out[k++] = alphabet[r[i] % n];
	}
	out[k] = 0;
	OPENSSL_cleanse(r, sizeof(r));
	return 0;
}

/* An operation's credentials made (the password hashed off the loop), then its statement. */
static void op_run(struct call *c, struct pgq_tx *tx)
{
	if ((c->creds & CRED_TOTP) && RAND_bytes(c->secret, sizeof(c->secret)) != 1) {
		pgq_end(tx, 0, NULL, NULL);
		return fail(c, NULL, NULL);
	}
	if (!(c->creds & CRED_PASSWORD))
		return op_send(c, tx);
	c->tx = tx;
	if (make_temp(c->temp) != 0 || hasher_hash(c->s->hasher, c->temp, TEMP_LEN, &c->s->conf.cost, c->hash,
	                                           on_op_hashed, c) != TIP_OK) {
		pgq_end(tx, 0, NULL, NULL);
		start_failed(c);
	}
}

/* A failed login of c->uid counted (the account locks after login_failures in a row), then recorded(). */
static void count_failure(struct call *c, struct pgq_tx *tx, pgq_cb recorded)
{
	char uid[24], failures[24], lock[32];
	const char *p[] = {uid, failures, lock};

	snprintf(uid, sizeof(uid), "%lld", c->uid);
	snprintf(failures, sizeof(failures), "%lld", c->s->conf.login_failures);
	snprintf(lock, sizeof(lock), "%lld seconds", c->s->conf.lockout_s);
	pgq_send(tx, "SELECT login_failed($1::bigint, $2::integer, $3::interval)", 3, p, 0, recorded, c);
}

/* ---- a user's own password ---- */

static void on_password_refused(struct pgq_tx *tx, const PGresult *res, void *arg)
{
	struct call *c = arg;
	(void)tx;

	if (!ok(res))
		return fail(c, NULL, NULL);
	http_reply_error(c->req, 400, "invalid", "current", "not the current password", NULL);
	call_free(c);
}

static void on_password_failure_counted(struct pgq_tx *tx, const PGresult *res, void *arg)
{
	struct call *c = arg;

	if (!ok(res))
		return fail(c, tx, res);
	pgq_end(tx, 1, on_password_refused, c);
}

static void on_password_hashed(int rc, void *arg)
{
	struct call *c = arg;
	const char *p[] = {c->hash};

	if (rc != TIP_OK) {
		pgq_end(c->tx, 0, NULL, NULL);
		return fail(c, NULL, NULL);
	}
	pgq_send(c->tx, "SELECT password_change($1)", 1, p, 0, on_done, c);
}

static void on_password_checked(int rc, void *arg)
{
	struct call *c = arg;
	const char *new_password = json_string_value(json_object_get(c->body, "new"));

	/* A wrong current password counts as a failed login: a stolen session cannot guess at it freely. */
	if (rc != TIP_OK)
		return count_failure(c, c->tx, on_password_failure_counted);
	if (hasher_hash(c->s->hasher, new_password, strlen(new_password), &c->s->conf.cost, c->hash,
	                on_password_hashed, c) != TIP_OK) {
		pgq_end(c->tx, 0, NULL, NULL);
		start_failed(c);
	}
}

/* The new password: at least NEW_MIN characters, neither the login name nor the current password; then the
 * current one checked against the account's hash. Columns: username, password_hash. */
static void on_password_own(struct pgq_tx *tx, const PGresult *res, void *arg)
{
	struct call *c = arg;
	const char *current = json_string_value(json_object_get(c->body, "current"));
	const char *new_password = json_string_value(json_object_get(c->body, "new"));
	size_t chars = 0;
	char message[80];

	if (!ok(res) || PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
		return fail(c, tx, res);
	for (const char *p = new_password; *p; p++)
		chars += ((unsigned char)*p & 0xc0) != 0x80; /* UTF-8: not a continuation byte */
	if (chars < NEW_MIN || !strcasecmp(new_password, PQgetvalue(res, 0, 0)) ||
	    !strcmp(new_password, current)) {
		if (chars < NEW_MIN)
			snprintf(message, sizeof(message), "at least %d characters", NEW_MIN);
		else
			snprintf(message, sizeof(message), "neither the login name nor the current password");
		pgq_end(tx, 0, NULL, NULL);
		http_reply_error(c->req, 400, "invalid", "new", message, NULL);
		return call_free(c);
	}
	c->tx = tx;
	if (hasher_verify(c->s->hasher, PQgetvalue(res, 0, 1), current, strlen(current), on_password_checked,
	                  c) != TIP_OK) {
		pgq_end(tx, 0, NULL, NULL);
		start_failed(c);
	}
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
	case R_PASSWORD:
		pgq_send(tx, "SELECT username, password_hash FROM password_own()", 0, NULL, 0,
		         on_password_own, c);
		break;
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
	case R_OP: op_run(c, tx); break;
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

/*
 * The session's checks refused the request. On the replica that may be its lag (a login, a pledge or a
 * role it has not replayed yet), so the primary decides.
 */
static void refuse(struct call *c, struct pgq_tx *tx, int status, const char *error, const char *field,
                   const char *message)
{
	pgq_end(tx, 0, NULL, NULL);
	if (fall_back(c, 0))
		return;
	http_reply_error(c->req, status, error, field, message, NULL);
	call_free(c);
}

static void on_session(struct pgq_tx *tx, const PGresult *res, void *arg)
{
	struct call *c = arg;
	const struct route *r = &routes[c->route];
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (state && strcmp(state, "28000") == 0)
		return refuse(c, tx, 401, "unauthenticated", COOKIE, "log in first");
	if (!ok(res) || PQntuples(res) != 1)
		return fail(c, tx, res);
	/* Columns: user_id, role, csrf_hash (hex bytea), pledged, must_change. */
	c->uid = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	if (c->csrf && (PQgetlength(res, 0, 2) != 2 + 2 * AUTH_DIGEST_LEN ||
	                CRYPTO_memcmp(PQgetvalue(res, 0, 2) + 2, c->csrf_hex, 2 * AUTH_DIGEST_LEN) != 0))
		return refuse(c, tx, 403, "csrf", "X-CSRF-Token", "missing or wrong CSRF token");
	if (!(role_bit(PQgetvalue(res, 0, 1)) & r->roles) ||
	    (c->creds && role_bit(PQgetvalue(res, 0, 1)) != ROLE_ADMIN))
		return refuse(c, tx, 403, "forbidden", NULL, "not for your role");
	if (strcmp(PQgetvalue(res, 0, 4), "t") == 0 && c->route != R_ME && c->route != R_LOGOUT &&
	    c->route != R_PASSWORD)
		return refuse(c, tx, 403, "password_change_required", NULL,
		              "set a new password before anything else");
	if (r->pledge && strcmp(PQgetvalue(res, 0, 3), "t") != 0)
		return refuse(c, tx, 403, "pledge_required", NULL,
		              "accept the confidentiality pledge before any case is shown");
	run_route(c, tx);
}

static void on_begin_session(struct pgq_tx *tx, const PGresult *res, void *arg)
{
	struct call *c = arg;
	const char *token[] = {c->token};

	if (!ok(res))
		return fail(c, tx, res);
	pgq_send(tx, "SELECT user_id, role, csrf_hash, pledged, must_change FROM session_begin($1::bytea)", 1,
	         token, 0, on_session, c);
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
	http_reply_json(
	        c->req, 200,
	        json_pack("{s:s,s:b}", "csrf_token", c->new_csrf, "must_change_password", c->must_change),
	        extra);
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
	count_failure(c, tx, on_login_recorded);
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

/* The password checked (off the loop): then the TOTP code, of the pending secret while there is one. */
static void on_login_checked(int rc, void *arg)
{
	struct call *c = arg;
	struct pgq_tx *tx = c->tx;
	const char *code = json_string_value(json_object_get(c->body, "totp"));
	int pending = c->totp[1][0] != 0, good = rc == TIP_OK;
	const char *secret = c->totp[pending];
	int64_t step = -1;

	if (!c->found) {
		pgq_end(tx, 0, NULL, NULL);
		metric_inc(c->s->logins[STAFF_LOGIN_FAILED]);
		http_reply_error(c->req, 401, "invalid_credentials", NULL,
		                 "wrong user name, password or code", NULL);
		return call_free(c);
	}
	if (good && secret[0]) {
		/* The secret arrives as a text bytea ("\x..."). */
		uint8_t raw[64];
		size_t len;
		good = code && hex_decode(secret + 2, strlen(secret + 2), raw, sizeof(raw), &len) == TIP_OK &&
		       auth_totp_check(raw, len, (int64_t)time(NULL), code, pending ? -1 : c->last_step,
		                       &step) == TIP_OK;
		OPENSSL_cleanse(raw, sizeof(raw));
	}
	if (!good)
		return login_refused(c, tx);
	if (step < 0)
		return login_accepted(c, tx);
	char uid[24], at[24];
	const char *p[] = {uid, at, c->totp[1]};
	snprintf(uid, sizeof(uid), "%lld", c->uid);
	snprintf(at, sizeof(at), "%lld", (long long)step);
	if (pending)
		pgq_send(tx, "SELECT login_totp_activate($1::bigint, $2::bigint, $3::bytea)", 3, p, 0,
		         on_totp_step, c);
	else
		pgq_send(tx, "SELECT login_totp_step($1::bigint, $2::bigint)", 2, p, 0, on_totp_step, c);
}

static void on_login_user(struct pgq_tx *tx, const PGresult *res, void *arg)
{
	struct call *c = arg;
	const char *password = json_string_value(json_object_get(c->body, "password"));

	if (!ok(res))
		return fail(c, tx, res);
	/* A function returning one row gives a row of NULLs for an unknown user. Columns: user_id,
	 * password_hash, totp_secret, locked, totp_last_step, totp_pending, must_change. */
	c->found = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0);
	if (c->found && strcmp(PQgetvalue(res, 0, 3), "t") == 0) {
		pgq_end(tx, 0, NULL, NULL);
		metric_inc(c->s->logins[STAFF_LOGIN_LOCKED]);
		http_reply_error(c->req, 403, "locked", "username", "too many failed logins; try again later",
		                 NULL);
		return call_free(c);
	}
	if (c->found) {
		c->uid = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		c->last_step = PQgetisnull(res, 0, 4) ? -1 : strtoll(PQgetvalue(res, 0, 4), NULL, 10);
		c->must_change = strcmp(PQgetvalue(res, 0, 6), "t") == 0;
		for (int i = 0; i < 2; i++) {
			int col = i ? 5 : 2;
			if (!PQgetisnull(res, 0, col) && (size_t)PQgetlength(res, 0, col) < SECRET_HEX)
				memcpy(c->totp[i], PQgetvalue(res, 0, col),
				       (size_t)PQgetlength(res, 0, col) + 1);
		}
	}
	c->tx = tx;
	if (hasher_verify(c->s->hasher, c->found ? PQgetvalue(res, 0, 1) : NULL, password, strlen(password),
	                  on_login_checked, c) != TIP_OK) {
		pgq_end(tx, 0, NULL, NULL);
		start_failed(c);
	}
}

static void on_begin_login(struct pgq_tx *tx, const PGresult *res, void *arg)
{
	struct call *c = arg;
	const char *name[] = {json_string_value(json_object_get(c->body, "username"))};

	if (!ok(res))
		return fail(c, tx, res);
	pgq_send(tx,
	         "SELECT user_id, password_hash, totp_secret, locked, totp_last_step, totp_pending, "
	         "must_change "
	         "FROM login_lookup($1)",
	         1, name, 0, on_login_user, c);
}

/* A body of strings under keys (staff_strings_body) into c->body; 0, or -1 with a reply sent. */
static int strings_body(struct call *c, const char *const *keys, size_t n_keys, size_t n_required)
{
	size_t len;
	const uint8_t *body = http_req_body(c->req, &len);
	struct staff_input_error e;

	if (!(c->body = staff_strings_body(body, len, keys, n_keys, n_required, &e))) {
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

/*
 * What the daemon adds to an operation's arguments: which credentials to make (never taken from the client),
 * and a new unit's region checked against the taxonomy. 0, or -1 with a reply sent.
 */
static int op_prepare(struct call *c)
{
	const char *region = json_string_value(json_object_get(c->body, "region"));
	int is_op = c->route == R_OP && http_req_head(c->req)->method == HTTP_POST;

	for (size_t i = 0; i < sizeof(cred_ops) / sizeof(cred_ops[0]); i++)
		if (is_op && !strcmp(c->params[1], cred_ops[i].op))
			c->creds = cred_ops[i].creds;
	if (c->creds &&
	    (json_object_get(c->body, "password_hash") || json_object_get(c->body, "totp_secret"))) {
		http_reply_error(c->req, 400, "invalid",
		                 json_object_get(c->body, "password_hash") ? "password_hash" : "totp_secret",
		                 "unknown argument", NULL);
		return -1;
	}
	if (is_op && !strcmp(c->params[1], "unit_create") && region && c->s->tax &&
	    !tax_region(c->s->tax, region)) {
		http_reply_error(c->req, 400, "invalid", "region", "not a region code of the taxonomy", NULL);
		return -1;
	}
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

/* An operation's arguments into c->body (staff_op_args), then op_prepare; 0, or -1 with a reply sent. */
static int op_args(struct call *c)
{
	const struct http_head *h = http_req_head(c->req);
	struct staff_input_error e;
	size_t len;
	const uint8_t *body = http_req_body(c->req, &len);
	int rc = staff_op_args(h->method == HTTP_POST, body, len, h->query, &c->body, &e);

	if (rc == TIP_EINVAL)
		http_reply_error(c->req, 400, "invalid", e.field[0] ? e.field : NULL, e.message, NULL);
	else if (rc != TIP_OK)
		http_reply_error(c->req, 503, "unavailable", NULL, "out of memory", NULL);
	return rc == TIP_OK ? op_prepare(c) : -1;
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
	else if (!strcmp(path, "/api/v1/password"))
		c->route = R_PASSWORD;
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

/*
 * Operations for the replica: they only read (STABLE functions: a write would fail on the standby) and
 * record no view, so a replay lag of a moment shows slightly older figures and nothing else. Audit
 * views, case views and work lists stay on the primary (docs/operations.md, "Read replica").
 */
static int for_replica(const struct call *c)
{
	static const char *const ops[] = {"dashboard"};

	if (c->route != R_OP || http_req_head(c->req)->method != HTTP_GET)
		return 0;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strcmp(c->params[1], ops[i]))
			return 1;
	return 0;
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
		static const char *const keys[] = {"username", "password", "totp"};
		if (strings_body(c, keys, 3, 2) != 0)
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
	static const char *const password_keys[] = {"current", "new"};
	if (c->route == R_PASSWORD && strings_body(c, password_keys, 2, 2) != 0)
		return call_free(c);
	if (c->route == R_PLEDGE)
		snprintf(c->params[0], sizeof(c->params[0]), "%s", s->conf.pledge_version);
	if (c->route == R_CASES && list_filters(c) != 0)
		return call_free(c);
	if ((c->route == R_CASE_OP || c->route == R_OP) && op_args(c) != 0)
		return call_free(c);
	if (for_replica(c) && s->replica) {
		if (mono_ms() >= s->replica_rest_until) {
			c->replica = 1;
			if (pgq_begin(s->replica, on_begin_session, c) != 0)
				fall_back(c, 0);
			return;
		}
		metric_inc(s->replica_fallbacks);
	}
	if (pgq_begin(s->db, on_begin_session, c) != 0)
		start_failed(c);
}
