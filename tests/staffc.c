#include "staffc.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "common/err.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int tstaff_call(int port, const char *method, const char *path, const struct tsession *s, int csrf,
                const char *body, struct httpc_response *r)
{
	char headers[300] = "";

	if (s)
		snprintf(headers, sizeof(headers), "%s%s%s%s", s->cookie, csrf ? "X-CSRF-Token: " : "",
		         csrf ? s->csrf : "", csrf ? "\r\n" : "");
	if (body)
		strncat(headers, "Content-Type: application/json\r\n", sizeof(headers) - strlen(headers) - 1);
	assert_int_equal(
	        httpc_request("127.0.0.1", port, 0, method, path, headers, body, body ? strlen(body) : 0, r),
	        0);
	return r->status;
}

void tstaff_op(int port, const struct tsession *s, const char *method, long long id, const char *op,
               const char *query_or_body, int want, const char *field, char **body_out)
{
	int get = strcmp(method, "GET") == 0;
	char path[512];
	struct httpc_response r;
	int st;

	snprintf(path, sizeof(path), "/api/v1/cases/%lld/actions/%s%s%s", id, op,
	         get && query_or_body ? "?" : "", get && query_or_body ? query_or_body : "");
	st = tstaff_call(port, method, path, s, !get, get ? NULL : query_or_body, &r);
	if (st != want)
		fail_msg("%s %s: %d, not %d: %s", method, path, st, want, r.body ? r.body : "");
	if (want >= 400) {
		char expect[96] = "\"field\":null";

		if (field)
			snprintf(expect, sizeof(expect), "\"field\":\"%s\"", field);
		if (!r.body || !strstr(r.body, expect))
			fail_msg("%s %s: want %s in %s", method, path, expect, r.body ? r.body : "");
	}
	if (body_out)
		*body_out = strdup(r.body ? r.body : "");
	httpc_free(&r);
}

int tstaff_get_op(int port, const struct tsession *s, const char *name, const char *query, char **body)
{
	char path[256];
	struct httpc_response r;
	int st;

	snprintf(path, sizeof(path), "/api/v1/ops/%s%s%s", name, query ? "?" : "", query ? query : "");
	st = tstaff_call(port, "GET", path, s, 0, NULL, &r);
	assert_non_null(*body = strdup(r.body ? r.body : ""));
	httpc_free(&r);
	return st;
}

int tstaff_login(int port, const char *user, const char *password, const char *totp, struct tsession *s)
{
	char body[256], cookie[256];
	struct httpc_response r;
	int st;

	snprintf(body, sizeof(body), "{\"username\": \"%s\", \"password\": \"%s\"%s%s%s}", user, password,
	         totp ? ", \"totp\": \"" : "", totp ? totp : "", totp ? "\"" : "");
	if ((st = tstaff_call(port, "POST", "/api/v1/login", NULL, 0, body, &r)) == 200) {
		assert_non_null(httpc_header(&r, "Set-Cookie", cookie, sizeof(cookie)));
		assert_non_null(strstr(cookie, "; HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age="));
		snprintf(s->cookie, sizeof(s->cookie), "Cookie: %.*s\r\n", (int)strcspn(cookie, ";"), cookie);
		const char *t = strstr(r.body, "\"csrf_token\":\"");
		assert_non_null(t);
		snprintf(s->csrf, sizeof(s->csrf), "%.43s", t + 14);
	}
	httpc_free(&r);
	return st;
}

struct tsession tstaff_session(int port, const char *user, int pledge)
{
	struct tsession s;
	struct httpc_response r;

	assert_int_equal(tstaff_login(port, user, TSTAFF_PASSWORD, NULL, &s), 200);
	if (pledge) {
		assert_int_equal(tstaff_call(port, "POST", "/api/v1/pledge", &s, 1, "{}", &r), 200);
		httpc_free(&r);
	}
	return s;
}

void tstaff_users(PGconn *owner, const char *const (*users)[4], size_t n)
{
	struct auth_cost cheap = {1, 1024, 1};
	char hash[AUTH_HASH_MAX];

	assert_int_equal(auth_hash_password(TSTAFF_PASSWORD, strlen(TSTAFF_PASSWORD), &cheap, hash), TIP_OK);
	for (size_t i = 0; i < n; i++) {
		const char *p[] = {users[i][0], users[i][1], users[i][2], hash, users[i][3]};
		PGresult *r = PQexecParams(
		        owner,
		        "INSERT INTO users (username, role, unit_id, password_hash, totp_secret) "
		        "VALUES ($1, $2, $3::bigint, $4, $5::bytea)",
		        5, NULL, p, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			fail_msg("user %s: %s", users[i][0], PQresultErrorMessage(r));
		PQclear(r);
	}
}

void tstaff_setup(struct tstaff *s, const char *units_sql, const char *const (*users)[4], size_t n_users,
                  const struct tstaff_reports *reports, size_t n_reports)
{
	char log[300];
	long long cases = 0;

	assert_true(n_users <= TSTAFF_USERS_MAX);
	s->users = users;
	s->n_users = n_users;
	tcm_setup(&s->f, 1);
	s->owner = tpg_connect(&s->f.pg, "tip_owner");
	assert_int_equal(tpg_exec(s->owner, units_sql), 0);
	tstaff_users(s->owner, users, n_users);
	for (size_t i = 0; i < n_reports; i++) {
		s->f.region = reports[i].region;
		tcm_add_reports(&s->f, reports[i].n);
		cases += (long long)reports[i].n;
	}
	snprintf(log, sizeof(log), "%s/casemgrd.log", s->f.dir);
	assert_int_equal(tdaemon_start(&s->d, "casemgrd", s->f.conf, log), 0);
	for (int i = 0; i < 2000 && tpg_value(s->owner, "SELECT count(*) FROM cases") < cases; i++)
		usleep(10000);
	assert_int_equal(tpg_value(s->owner, "SELECT count(*) FROM cases"), cases);
	for (size_t i = 0; i < n_users; i++)
		s->sess[i] = tstaff_session(s->d.port, users[i][0], 1);
}

const struct tsession *tstaff_as(const struct tstaff *s, const char *user)
{
	for (size_t i = 0; i < s->n_users; i++)
		if (!strcmp(s->users[i][0], user))
			return &s->sess[i];
	fail_msg("no user %s", user);
	return NULL;
}

void tstaff_teardown(struct tstaff *s)
{
	tdaemon_stop(&s->d, SIGTERM);
	PQfinish(s->owner);
	tcm_teardown(&s->f);
}
