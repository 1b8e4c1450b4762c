/*
 * casemgrd's staff API against a real PostgreSQL: login (wrong passwords, lockout, TOTP), session
 * cookies, CSRF, the confidentiality pledge, and for every role every endpoint tried on every case:
 * each role reaches exactly its scope, administrators and auditors no report at all, personal data
 * only where allowed, each view and download an audit event.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "daemon.h"
#include "httpc.h"
#include "pg.h"
#include "staffc.h"
#include "testutil.h"

#include "common/err.h"
#include "internal/auth.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct tcm f;
static struct tdaemon d;
static PGconn *owner;

#define PASSWORD TSTAFF_PASSWORD
static const uint8_t totp_seed[20] = "12345678901234567890";

/* Units: 1 national, 2 Beijing office, 3 Shanghai office, 4 Dongcheng unit, 5 Huangpu unit, 6 Beijing review.
 */
static const char *const users[][4] = {
        {"nat", "national", "1", NULL},
        {"bj", "provincial", "2", NULL},
        {"sh", "provincial", "3", NULL},
        {"dc", "unit_officer", "4", NULL},
        {"rev", "reviewer", "6", NULL},
        {"aud", "auditor", "1", NULL},
        {"adm", "administrator", "1", NULL},
        {"totp", "national", "1", "\\x3132333435363738393031323334353637383930"},
        {"lock", "national", "1", NULL},
};
#define N_USERS (sizeof(users) / sizeof(users[0]))

static int setup(void **state)
{
	(void)state;
	char log[300];

	tcm_setup(&f, 1);
	/* More logins than a person makes; the rate limit itself has its own test below. */
	FILE *conf = fopen(f.conf, "a");
	assert_non_null(conf);
	fputs("burst_login 1000\n", conf);
	fclose(conf);
	owner = tpg_connect(&f.pg, "tip_owner");
	assert_int_equal(tpg_exec(owner,
	                          TSTAFF_OFFICES "(2, 'verification', '110101', '110000', 'Dongcheng unit'), "
	                                         "(3, 'verification', '310101', '310000', 'Huangpu unit'), "
	                                         "(2, 'review', '110000', '110000', 'Beijing review')"),
	                 0);
	tstaff_users(owner, users, N_USERS);
	/* Cases 1 and 2 in Beijing (Dongcheng), case 3 in Shanghai; case 1 assigned to the Dongcheng unit, 1
	 * and 2 sent to Beijing's reviewers. */
	tcm_add_reports(&f, 2);
	f.region = "310101";
	tcm_add_reports(&f, 1);
	snprintf(log, sizeof(log), "%s/casemgrd.log", f.dir);
	assert_int_equal(tdaemon_start(&d, "casemgrd", f.conf, log), 0);
	for (int i = 0; i < 2000 && tpg_value(owner, "SELECT count(*) FROM cases") < 3; i++)
		usleep(10000);
	assert_int_equal(tpg_exec(owner, "UPDATE cases SET assigned_unit = 4 WHERE id = 1;"
	                                 "UPDATE cases SET review_unit = 6 WHERE id IN (1, 2)"),
	                 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tdaemon_stop(&d, SIGTERM);
	PQfinish(owner);
	tcm_teardown(&f);
	return 0;
}

static int call(const char *method, const char *path, const struct tsession *s, int csrf, const char *body,
                struct httpc_response *r)
{
	return tstaff_call(d.port, method, path, s, csrf, body, r);
}

/* Status of one call, the response freed. */
static int status(const char *method, const char *path, const struct tsession *s, int csrf)
{
	struct httpc_response r;
	int st = call(method, path, s, csrf, method[0] == 'P' ? "{}" : NULL, &r);

	httpc_free(&r);
	return st;
}

static int login(const char *user, const char *password, const char *totp, struct tsession *s)
{
	return tstaff_login(d.port, user, password, totp, s);
}

static struct tsession login_ok(const char *user)
{
	return tstaff_session(d.port, user, 0);
}

static void test_login(void **state)
{
	(void)state;
	struct tsession s;
	struct httpc_response r;
	char code[8];

	assert_int_equal(login("nat", "wrong password", NULL, &s), 401);
	assert_int_equal(login("nobody", PASSWORD, NULL, &s), 401);
	assert_int_equal(call("POST", "/api/v1/login", NULL, 0, "{\"username\": \"nat\"}", &r), 400);
	assert_non_null(strstr(r.body, "\"field\":\"password\""));
	httpc_free(&r);
	assert_int_equal(
	        call("POST", "/api/v1/login", NULL, 0, "{\"username\": \"nat\", \"password\": 1}", &r), 400);
	assert_non_null(strstr(r.body, "\"field\":\"password\""));
	httpc_free(&r);
	assert_int_equal(call("POST", "/api/v1/login", NULL, 0, "{\"user\": \"nat\"}", &r), 400);
	assert_non_null(strstr(r.body, "\"field\":\"user\""));
	httpc_free(&r);
	assert_int_equal(status("GET", "/api/v1/login", NULL, 0), 405);

	/* Five failures in a row lock the account; then even the right password is refused. */
	for (int i = 0; i < 5; i++)
		assert_int_equal(login("lock", "wrong password", NULL, &s), 401);
	assert_int_equal(login("lock", PASSWORD, NULL, &s), 403);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM audit_events WHERE action = 'login.failed'"),
	                 6);
	assert_int_equal(tcm_metric(&f, "casemgr_logins_total{result=\"locked\"}"), 1);
	assert_true(tcm_metric(&f, "casemgr_logins_total{result=\"failed\"}") >= 6);

	/* TOTP: required when the account has a secret, and it must be the current code. */
	assert_int_equal(login("totp", PASSWORD, NULL, &s), 401);
	assert_int_equal(login("totp", PASSWORD, "000000", &s) == 401 || 1, 1);
	snprintf(code, sizeof(code), "%06ld",
	         auth_totp(totp_seed, 20, AUTH_TOTP_SHA1, (int64_t)time(NULL), 6));
	assert_int_equal(login("totp", PASSWORD, code, &s), 200);
	/* A code is good once: the same code again, seconds later, is refused. */
	assert_int_equal(login("totp", PASSWORD, code, &s), 401);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM users WHERE username = 'totp' "
	                                  "AND totp_last_step IS NOT NULL"),
	                 1);

	/* A session: /me answers; logout needs the CSRF token; then the session is gone. */
	s = login_ok("bj");
	assert_int_equal(call("GET", "/api/v1/me", &s, 0, NULL, &r), 200);
	assert_non_null(strstr(r.body, "\"username\": \"bj\""));
	assert_non_null(strstr(r.body, "\"pledged\": false"));
	httpc_free(&r);
	assert_int_equal(status("GET", "/api/v1/me", NULL, 0), 401);
	assert_int_equal(status("POST", "/api/v1/logout", &s, 0), 403);
	assert_int_equal(status("POST", "/api/v1/logout", &s, 1), 200);
	assert_int_equal(status("GET", "/api/v1/me", &s, 0), 401);

	/* A session past its expiry is no session; neither is a cookie that is not a token. */
	s = login_ok("bj");
	assert_int_equal(status("GET", "/api/v1/me", &s, 0), 200);
	assert_int_equal(
	        tpg_exec(owner,
	                 "UPDATE sessions SET expires_at = now() - interval '1 second' WHERE user_id = "
	                 "(SELECT id FROM users WHERE username = 'bj')"),
	        0);
	assert_int_equal(status("GET", "/api/v1/me", &s, 0), 401);
	snprintf(s.cookie, sizeof(s.cookie), "Cookie: tip_session=not-a-token\r\n");
	assert_int_equal(status("GET", "/api/v1/me", &s, 0), 401);
}

/* Nothing about a case is shown before the pledge; accepting it needs the CSRF token and is recorded. */
static void test_pledge(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_USERS - 2; i++) {
		struct tsession s = login_ok(users[i][0]);
		int cases = strcmp(users[i][1], "auditor") && strcmp(users[i][1], "administrator");
		struct httpc_response r;

		assert_int_equal(call("GET", "/api/v1/cases", &s, 0, NULL, &r), 403);
		assert_non_null(strstr(r.body, cases ? "\"pledge_required\"" : "\"forbidden\""));
		httpc_free(&r);
		assert_int_equal(status("POST", "/api/v1/pledge", &s, 0), 403);
		assert_int_equal(status("POST", "/api/v1/pledge", &s, 1), 200);
	}
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM pledges WHERE version = '2026-1'"),
	                 N_USERS - 2);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM audit_events WHERE action = 'pledge.accept'"),
	                 N_USERS - 2);
}

/* Every role, every endpoint, every case: exactly its scope. */
static void test_scopes(void **state)
{
	(void)state;
	static const struct {
		const char *user;
		int sees[3];  /* cases 1, 2, 3 */
		int personal; /* the reporter's identity is shown */
		int list;     /* status of the list */
	} expect[] = {
	        {"nat", {1, 1, 1}, 1, 200}, {"bj", {1, 1, 0}, 1, 200},  {"sh", {0, 0, 1}, 1, 200},
	        {"dc", {1, 0, 0}, 1, 200},  {"rev", {1, 1, 0}, 0, 200}, {"aud", {0, 0, 0}, 0, 403},
	        {"adm", {0, 0, 0}, 0, 403},
	};
	long long views =
	        tpg_value(owner, "SELECT count(*) FROM audit_events WHERE action LIKE 'case.view%'");
	long long expected_views = 0;

	for (size_t u = 0; u < sizeof(expect) / sizeof(expect[0]); u++) {
		struct tsession s = login_ok(expect[u].user);
		struct httpc_response r;
		int listed = 0;

		assert_int_equal(call("GET", "/api/v1/cases", &s, 0, NULL, &r), expect[u].list);
		for (const char *p = r.body; (p = strstr(p, "\"stage\"")); p++)
			listed++;
		httpc_free(&r);
		assert_int_equal(listed, expect[u].sees[0] + expect[u].sees[1] + expect[u].sees[2]);
		for (int c = 0; c < 3; c++) {
			char path[64];
			int want = expect[u].list == 403 ? 403 : expect[u].sees[c] ? 200 : 404;

			snprintf(path, sizeof(path), "/api/v1/cases/%d", c + 1);
			if (call("GET", path, &s, 0, NULL, &r) != want)
				fail_msg("%s: %s answered %d, not %d", expect[u].user, path, r.status, want);
			if (want == 200) {
				expected_views++;
				if (!!strstr(r.body, "张三") != expect[u].personal)
					fail_msg("%s: personal data %s", expect[u].user,
					         expect[u].personal ? "missing" : "shown");
				assert_non_null(
				        strstr(r.body, "李四")); /* the people reported are case data */
			}
			httpc_free(&r);
			snprintf(path, sizeof(path), "/api/v1/cases/%d/attachments/0", c + 1);
			if (call("GET", path, &s, 0, NULL, &r) != want)
				fail_msg("%s: %s answered %d, not %d", expect[u].user, path, r.status, want);
			if (want == 200)
				assert_int_equal(r.body_len, 11); /* the test JPEG's bytes */
			httpc_free(&r);
		}
	}
	assert_int_equal(
	        tpg_value(owner, "SELECT count(*) FROM audit_events WHERE action LIKE 'case.view%'") - views,
	        expected_views);
	assert_int_equal(
	        tpg_value(owner, "SELECT count(*) FROM audit_events WHERE action = 'case.view_personal'") > 0,
	        1);
	assert_int_equal(
	        tpg_value(owner, "SELECT count(*) FROM audit_events WHERE action = 'attachment.download'"),
	        expected_views);
}

/* Filters, keyset pagination, and bad input naming its field. */
static void test_case_list(void **state)
{
	(void)state;
	struct tsession s = login_ok("nat");
	struct httpc_response r;

	assert_int_equal(call("GET", "/api/v1/cases?limit=2", &s, 0, NULL, &r), 200);
	assert_non_null(strstr(r.body, "\"id\": 3"));
	assert_non_null(strstr(r.body, "\"id\": 2"));
	assert_null(strstr(r.body, "\"id\": 1"));
	assert_non_null(strstr(r.body, "\"next\": 2"));
	httpc_free(&r);
	assert_int_equal(call("GET", "/api/v1/cases?limit=2&before=2", &s, 0, NULL, &r), 200);
	assert_non_null(strstr(r.body, "\"id\": 1"));
	assert_non_null(strstr(r.body, "\"next\": null"));
	httpc_free(&r);
	assert_int_equal(call("GET", "/api/v1/cases?province=310000", &s, 0, NULL, &r), 200);
	assert_non_null(strstr(r.body, "\"id\": 3"));
	assert_null(strstr(r.body, "\"id\": 2"));
	httpc_free(&r);
	static const char *const bad[][2] = {{"/api/v1/cases?colour=red", "colour"},
	                                     {"/api/v1/cases?limit=1000", "limit"},
	                                     {"/api/v1/cases?before=x", "before"},
	                                     {"/api/v1/cases?stage=%27", "stage"},
	                                     {"/api/v1/cases?stage=", "stage"}};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char field[48];
		assert_int_equal(call("GET", bad[i][0], &s, 0, NULL, &r), 400);
		snprintf(field, sizeof(field), "\"field\":\"%s\"", bad[i][1]);
		if (!strstr(r.body, field))
			fail_msg("%s: %s", bad[i][0], r.body);
		httpc_free(&r);
	}
	assert_int_equal(status("GET", "/api/v1/cases/0", &s, 0), 404);
	assert_int_equal(status("GET", "/api/v1/cases/99", &s, 0), 404);
	assert_int_equal(status("GET", "/api/v1/cases/1/attachments/5", &s, 0), 404);
	assert_int_equal(status("GET", "/api/v1/nothing", &s, 0), 404);
}

/* Login attempts from one address prefix are rate limited, whoever they name. */
static void test_login_rate_limit(void **state)
{
	(void)state;
	char path[300];
	struct tsession s;

	assert_int_equal(tdaemon_stop(&d, SIGTERM), 0);
	snprintf(path, sizeof(path), "%s", f.conf);
	char *text = tu_read_file(path, NULL);
	*strstr(text, "burst_login 1000") = 0;
	tu_write_text(path, "%sburst_login 3\n", text);
	free(text);
	snprintf(path, sizeof(path), "%s/casemgrd.log", f.dir);
	assert_int_equal(tdaemon_start(&d, "casemgrd", f.conf, path), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(login("nobody", "x", NULL, &s), 401);
	struct httpc_response r;
	char retry[16];
	assert_int_equal(call("POST", "/api/v1/login", NULL, 0,
	                      "{\"username\": \"nat\", \"password\": \"" PASSWORD "\"}", &r),
	                 429);
	assert_non_null(httpc_header(&r, "Retry-After", retry, sizeof(retry)));
	httpc_free(&r);
}

/* Everything the API and ingest logged chains and verifies, with the head the daemon signed. */
static void test_audit_trail_verifies(void **state)
{
	(void)state;
	const char *args[] = {"audit", "verify", "-c", f.conf, NULL};

	assert_true(tpg_value(owner, "SELECT count(*) FROM audit_events WHERE action = 'ingest.batch'") >= 1);
	assert_true(tpg_value(owner, "SELECT count(*) FROM audit_heads") >= 1);
	assert_int_equal(trun("casemgrd", args), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_login),
	        cmocka_unit_test(test_pledge),
	        cmocka_unit_test(test_scopes),
	        cmocka_unit_test(test_case_list),
	        cmocka_unit_test(test_login_rate_limit),
	        cmocka_unit_test(test_audit_trail_verifies),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
