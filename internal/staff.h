/*
 * casemgrd's staff API (JSON over HTTP) for the internal web pages. Routes, answers and errors:
 * docs/formats/staff-api.md. Every answer to a bad request names the field; every error is
 * {"error": code, "field": name-or-null, "message": text}.
 *
 * Access is checked twice: here, by role per route (administrators and auditors reach no case), and
 * in PostgreSQL, where the session's user becomes the transaction's acting user and row-level
 * security shows only that user's scope. Statements run through pgq, asynchronously on the loop;
 * passwords are hashed and checked by the hasher's threads while the request waits.
 *
 * With a replica, the operations that only read and record no view (the dashboard: the figures, the
 * map and its CSV export) run on it, session check included; when it fails them (unreachable, broken,
 * cancelled, or it has not yet replayed the session) they run again on the primary, which is then used
 * alone for a while (docs/operations.md, "Read replica").
 *
 * Credentials the administrator hands out are made here, never taken from the client: a temporary
 * password (user_create, user_password_reset), hashed before the operation runs, and a TOTP secret
 * (user_create, user_totp_enrol), added to the operation's answer once as text, otpauth URI and QR code.
 * Design: docs/internals/accounts.md.
 */
#ifndef TIP_INTERNAL_STAFF_H
#define TIP_INTERNAL_STAFF_H

#include <stddef.h>
#include <stdint.h>

#include "common/http_server.h"
#include "common/metrics.h"
#include "common/web.h"
#include "intake/ratelimit.h"
#include "internal/auth.h"
#include "internal/hasher.h"
#include "internal/pgq.h"
#include "proto/taxonomy.h"

struct staff_conf {
	long long session_ttl_s;
	long long login_failures; /* in a row before the account locks */
	long long lockout_s;
	struct auth_cost cost;
	const char *pledge_version;
	long long replica_rest_ms; /* after the replica failed a request, the primary alone for this long */
};

enum staff_login {
	STAFF_LOGIN_OK,
	STAFF_LOGIN_FAILED,
	STAFF_LOGIN_LOCKED,
	STAFF_LOGIN_RATE_LIMITED,
	STAFF_LOGIN_COUNT
};

struct staff {
	struct staff_conf conf;
	struct pgq *db;
	struct pgq *replica;                      /* a hot standby for the read-only figures, or NULL */
	uint64_t replica_rest_until;              /* monotonic ms: the replica failed; not before this */
	struct metric *replica_answers;           /* requests answered from the replica */
	struct metric *replica_fallbacks;         /* requests for the replica answered by the primary */
	struct hasher *hasher;                    /* every Argon2id hash and check, off the loop */
	const struct taxonomy *tax;               /* the regions a new unit may be in */
	struct rl *rl_login;                      /* login attempts per client address prefix */
	struct metric *logins[STAFF_LOGIN_COUNT]; /* counters the daemon registered */
	const char *taxonomy_json;                /* GET /api/v1/taxonomy: the labels the pages show */
	size_t taxonomy_len;
	struct web_gzipped *web_gz; /* web_staff's assets compressed once (web_gzip_table), or NULL */
};

/* "ok", "failed", "locked", "rate_limited": the label of each login counter. */
const char *staff_login_name(enum staff_login l);

/* The listener's handler (arg: struct staff): the staff pages (common/web.h, table web_staff) and the API. */
void staff_handle(struct http_req *req, void *arg);

#endif
