/*
 * The administrator's operations (migration 0015) against a real PostgreSQL and casemgrd: who may call them,
 * field errors and a login name taken twice, an account created with a temporary password and a pending TOTP
 * secret that logs in with a code computed here and must then set its own password, disabling (login refused,
 * sessions ended), password reset, TOTP enrolment, the last administrator kept, units, each change an audit
 * event, the auditors' events with the actors' names, the chain check in chunks finding what one pass finds,
 * and the event loop answering while a slow password hash runs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "common/encoding.h"
#include "common/err.h"
#include "daemon.h"
#include "httpc.h"
#include "internal/auth.h"
#include "pg.h"
#include "staffc.h"
#include "testutil.h"

#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct tstaff t;

/* One administrator only, so that the last one can be protected. Units: 4 Chaoyang, 5 Beijing review. */
static const char *const users[][4] = {
        {"adm", "administrator", "1", NULL}, {"nat", "national", "1", NULL},
        {"aud", "auditor", "1", NULL},       {"cy", "unit_officer", "4", NULL},
        {"cy2", "unit_officer", "4", NULL},
};
#define N_USERS (sizeof(users) / sizeof(users[0]))

static int setup(void **state)
{
	(void)state;
	static const struct tstaff_reports reports[] = {{"110101", 2}};

	tstaff_setup(&t,
	             TSTAFF_OFFICES "(2, 'verification', '110105', '110000', 'Chaoyang unit'), "
	                            "(2, 'review', '110000', '110000', 'Beijing review')",
	             users, N_USERS, reports, 1);
	/* Many logins from one address here: casemgrd again with a larger login burst, everyone logged in
	 * anew. */
	char log[300];
	FILE *f = fopen(t.f.conf, "a");
	assert_non_null(f);
	fputs("burst_login 1000\n", f);
	fclose(f);
	assert_int_equal(tdaemon_stop(&t.d, SIGTERM), 0);
	snprintf(log, sizeof(log), "%s/casemgrd-2.log", t.f.dir);
	assert_int_equal(tdaemon_start(&t.d, "casemgrd", t.f.conf, log), 0);
	for (size_t i = 0; i < N_USERS; i++)
		t.sess[i] = tstaff_session(t.d.port, users[i][0], 1);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tstaff_teardown(&t);
	return 0;
}

/*
 * GET /api/v1/ops/name[?query] or POST with a JSON body, in session s, which must answer want (and, for an
 * error, name field: NULL for "field":null). The answer's document.
 */
static json_t *call(const struct tsession *s, const char *method, const char *name, const char *arg, int want,
                    const char *field)
{
	char path[256], expect[96] = "\"field\":null";
	struct httpc_response r;
	json_error_t e;
	int get = !strcmp(method, "GET");

	snprintf(path, sizeof(path), "/api/v1/ops/%s%s%s", name, get && arg ? "?" : "",
	         get && arg ? arg : "");
	int st = tstaff_call(t.d.port, method, path, s, !get, get ? NULL : (arg ? arg : "{}"), &r);
	if (st != want)
		fail_msg("%s %s %s: %d, not %d: %s", method, path, arg ? arg : "", st, want,
		         r.body ? r.body : "");
	if (want >= 400) {
		if (field)
			snprintf(expect, sizeof(expect), "\"field\":\"%s\"", field);
		if (!r.body || !strstr(r.body, expect))
			fail_msg("%s %s: want %s in %s", method, path, expect, r.body ? r.body : "");
	}
	json_t *doc = json_loadb(r.body ? r.body : "", r.body_len, 0, &e);
	httpc_free(&r);
	return doc;
}

static json_t *as(const char *user, const char *method, const char *name, const char *arg, int want,
                  const char *field)
{
	return call(tstaff_as(&t, user), method, name, arg, want, field);
}

/* The id of an account. */
static long long user_id(const char *name)
{
	char sql[160];

	snprintf(sql, sizeof(sql), "SELECT id FROM users WHERE username = '%s'", name);
	return tpg_value(t.owner, sql);
}

/* The current code of a base32 secret, at a step later than the account's last (waiting for one if need be).
 */
static void totp_now(const char *b32, char code[7])
{
	uint8_t secret[64];
	size_t len;

	assert_int_equal(b32_decode(b32, strlen(b32), secret, sizeof(secret), &len), TIP_OK);
	assert_int_equal(len, 20);
	snprintf(code, 7, "%06ld", auth_totp(secret, len, AUTH_TOTP_SHA1, (int64_t)time(NULL), 6));
}

static long long audit_count(const char *action, long long uid)
{
	char sql[200];

	snprintf(sql, sizeof(sql),
	         "SELECT count(*) FROM audit_events WHERE action = '%s' AND object = 'user:%lld'", action,
	         uid);
	return tpg_value(t.owner, sql);
}

static void test_roles(void **state)
{
	(void)state;
	static const char *const posts[] = {
	        "user_create",     "user_update", "user_disable", "user_enable",  "user_password_reset",
	        "user_totp_enrol", "unit_create", "unit_rename",  "unit_disable", "unit_enable"};
	static const char *const denied[] = {"nat", "aud", "cy"};

	json_t *doc = as("adm", "GET", "users", NULL, 200, NULL);
	assert_int_equal(json_array_size(json_object_get(doc, "users")), N_USERS);
	json_t *first = json_array_get(json_object_get(doc, "users"), 0);
	assert_string_equal(json_string_value(json_object_get(first, "username")), "adm");
	assert_string_equal(json_string_value(json_object_get(first, "totp")), "none");
	assert_non_null(json_object_get(first, "last_login_at"));
	assert_null(json_object_get(first, "password_hash"));
	json_decref(doc);
	for (size_t j = 0; j < 3; j++) {
		json_decref(as(denied[j], "GET", "users", NULL, 403, NULL));
		for (size_t i = 0; i < sizeof(posts) / sizeof(posts[0]); i++)
			json_decref(as(denied[j], "POST", posts[i], "{\"user\": 4}", 403, NULL));
	}
	json_decref(as("adm", "GET", "user_create", NULL, 405, NULL));
}

static void test_create_refusals(void **state)
{
	(void)state;
	static const struct {
		const char *body, *field;
		int want;
	} bad[] = {
	        {"{\"role\": \"national\", \"unit\": 1}", "username", 400},
	        {"{\"username\": \"Big Boss\", \"role\": \"national\", \"unit\": 1}", "username", 400},
	        {"{\"username\": \"x\", \"display_name\": 5, \"role\": \"national\", \"unit\": 1}",
	         "display_name", 400},
	        {"{\"username\": \"x\", \"role\": \"king\", \"unit\": 1}", "role", 400},
	        {"{\"username\": \"x\", \"role\": \"national\"}", "unit", 400},
	        {"{\"username\": \"x\", \"role\": \"national\", \"unit\": 99}", "unit", 400},
	        {"{\"username\": \"x\", \"role\": \"national\", \"unit\": 1, \"colour\": \"red\"}", "colour",
	         400},
	        {"{\"username\": \"x\", \"role\": \"national\", \"unit\": 1, \"password_hash\": \"h\"}",
	         "password_hash", 400},
	        {"{\"username\": \"x\", \"role\": \"national\", \"unit\": 1, \"totp_secret\": \"00\"}",
	         "totp_secret", 400},
	        {"{\"username\": \"cy\", \"role\": \"national\", \"unit\": 1}", "username", 409},
	        {"[1]", NULL, 400},
	};
	long long before = tpg_value(t.owner, "SELECT count(*) FROM users");

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		json_decref(as("adm", "POST", "user_create", bad[i].body, bad[i].want, bad[i].field));
	assert_int_equal(tpg_value(t.owner, "SELECT count(*) FROM users"), before);
	json_decref(
	        as("adm", "POST", "user_update", "{\"user\": 9999, \"role\": \"national\"}", 404, "user"));
	json_decref(as("adm", "POST", "user_update", "{\"user\": 4, \"role\": \"king\"}", 400, "role"));
	json_decref(as("adm", "POST", "user_disable", "{}", 400, "user"));
}

/* Created, then its first login with a code of its secret, the new password, the pledge, and work. */
static void test_create_and_first_login(void **state)
{
	(void)state;
	struct tsession s;
	struct httpc_response r;
	char code[7], body[200];

	json_t *doc = as(
	        "adm", "POST", "user_create",
	        "{\"username\": \"new.officer1\", \"display_name\": \"新 警员\", \"role\": \"unit_officer\", "
	        "\"unit\": 4}",
	        200, NULL);
	json_t *user = json_object_get(doc, "user"), *totp = json_object_get(doc, "totp");
	char temp[32];
	const char *secret = json_string_value(json_object_get(totp, "secret"));
	long long uid = json_integer_value(json_object_get(user, "id"));

	assert_non_null(json_string_value(json_object_get(doc, "password")));
	snprintf(temp, sizeof(temp), "%s", json_string_value(json_object_get(doc, "password")));
	assert_int_equal(strlen(temp), 16);
	assert_non_null(secret);
	assert_int_equal(strlen(secret), 32);
	assert_string_equal(json_string_value(json_object_get(user, "totp")), "pending");
	assert_true(json_is_true(json_object_get(user, "must_change_password")));
	assert_true(strncmp(json_string_value(json_object_get(totp, "uri")),
	                    "otpauth://totp/tipline:new.officer1?secret=", 43) == 0);
	assert_non_null(strstr(json_string_value(json_object_get(totp, "uri")), secret));
	assert_true(strncmp(json_string_value(json_object_get(totp, "qr_svg")), "<?xml", 5) == 0);
	assert_int_equal(audit_count("user.create", uid), 1);
	/* The secret is stored pending, the password only as its hash. */
	snprintf(body, sizeof(body),
	         "SELECT count(*) FROM users WHERE id = %lld AND totp_pending IS NOT NULL "
	         "AND totp_secret IS NULL AND password_hash LIKE '$argon2id$%%'",
	         uid);
	assert_int_equal(tpg_value(t.owner, body), 1);

	/* Without a code, or with a wrong one: refused. */
	assert_int_equal(tstaff_login(t.d.port, "new.officer1", temp, NULL, &s), 401);
	assert_int_equal(tstaff_login(t.d.port, "new.officer1", temp, "000000", &s) == 401 ||
	                         tstaff_login(t.d.port, "new.officer1", temp, "111111", &s) == 401,
	                 1);
	totp_now(secret, code);
	assert_int_equal(tstaff_login(t.d.port, "new.officer1", temp, code, &s), 200);
	assert_int_equal(audit_count("totp.activate", uid), 1);

	/* Nothing but "me", logout and the password change until a new password is set. */
	assert_int_equal(tstaff_call(t.d.port, "GET", "/api/v1/me", &s, 0, NULL, &r), 200);
	json_t *me = json_loads(r.body, 0, NULL);
	assert_true(json_is_true(json_object_get(me, "must_change_password")));
	json_decref(me);
	httpc_free(&r);
	assert_int_equal(tstaff_call(t.d.port, "POST", "/api/v1/pledge", &s, 1, "{}", &r), 403);
	assert_non_null(strstr(r.body, "password_change_required"));
	httpc_free(&r);
	static const struct {
		const char *body, *field;
	} bad[] = {
	        {"{\"new\": \"a long new password\"}", "current"},
	        {"{\"current\": \"wrong one\", \"new\": \"a long new password\"}", "current"},
	        {"{\"current\": \"x\", \"new\": \"short\"}", "new"},
	        {"{\"current\": \"x\", \"new\": \"NEW.OFFICER1\"}", "new"},
	        {"{\"current\": \"x\", \"new\": \"a long new password\", \"old\": \"y\"}", "old"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char want[64];
		assert_int_equal(tstaff_call(t.d.port, "POST", "/api/v1/password", &s, 1, bad[i].body, &r),
		                 400);
		snprintf(want, sizeof(want), "\"field\":\"%s\"", bad[i].field);
		if (!strstr(r.body, want))
			fail_msg("%s: %s", bad[i].body, r.body);
		httpc_free(&r);
	}
	/* The wrong current password counted as a failed login (the successful one before reset the count).
	 */
	snprintf(body, sizeof(body), "SELECT failed_logins FROM users WHERE id = %lld", uid);
	assert_int_equal(tpg_value(t.owner, body), 1);
	snprintf(body, sizeof(body), "{\"current\": \"%s\", \"new\": \"%s\"}", temp, temp);
	assert_int_equal(tstaff_call(t.d.port, "POST", "/api/v1/password", &s, 1, body, &r), 400);
	httpc_free(&r);
	snprintf(body, sizeof(body), "{\"current\": \"%s\", \"new\": \"三十年河东，三十年河西。\"}", temp);
	assert_int_equal(tstaff_call(t.d.port, "POST", "/api/v1/password", &s, 1, body, &r), 200);
	httpc_free(&r);
	assert_int_equal(tstaff_call(t.d.port, "POST", "/api/v1/pledge", &s, 1, "{}", &r), 200);
	httpc_free(&r);
	json_decref(call(&s, "GET", "units", NULL, 200, NULL));
	json_decref(doc);

	/* As the administrator sees it now; the temporary password is gone. */
	doc = as("adm", "GET", "users", NULL, 200, NULL);
	size_t i;
	json_t *u, *found = NULL;
	json_array_foreach(json_object_get(doc, "users"), i, u)
	{
		if (json_integer_value(json_object_get(u, "id")) == uid)
			found = u;
	}
	assert_non_null(found);
	assert_string_equal(json_string_value(json_object_get(found, "totp")), "active");
	assert_false(json_is_true(json_object_get(found, "must_change_password")));
	assert_true(json_is_string(json_object_get(found, "last_login_at")));
	json_decref(doc);
	assert_int_equal(tstaff_login(t.d.port, "new.officer1", temp, NULL, &s), 401);
}

static void test_disable_and_enable(void **state)
{
	(void)state;
	struct tsession s;
	struct httpc_response r;
	char body[200];
	long long uid = user_id("cy2");

	snprintf(body, sizeof(body), "{\"user\": %lld}", uid);
	json_t *doc = as("adm", "POST", "user_disable", body, 200, NULL);
	assert_true(json_is_true(json_object_get(json_object_get(doc, "user"), "disabled")));
	json_decref(doc);
	/* Its session ended, its login refused. */
	assert_int_equal(tstaff_call(t.d.port, "GET", "/api/v1/me", tstaff_as(&t, "cy2"), 0, NULL, &r), 401);
	httpc_free(&r);
	assert_int_equal(tstaff_login(t.d.port, "cy2", TSTAFF_PASSWORD, NULL, &s), 401);
	snprintf(body, sizeof(body),
	         "SELECT count(*) FROM sessions WHERE user_id = %lld AND ended_at IS NULL", uid);
	assert_int_equal(tpg_value(t.owner, body), 0);
	assert_int_equal(audit_count("user.disable", uid), 1);

	snprintf(body, sizeof(body), "{\"user\": %lld}", uid);
	json_decref(as("adm", "POST", "user_enable", body, 200, NULL));
	assert_int_equal(tstaff_login(t.d.port, "cy2", TSTAFF_PASSWORD, NULL, &s), 200);
	assert_int_equal(audit_count("user.enable", uid), 1);
	/* Display name, role and unit. */
	snprintf(body, sizeof(body),
	         "{\"user\": %lld, \"display_name\": \"王五\", \"unit\": 5, \"role\": \"reviewer\"}", uid);
	doc = as("adm", "POST", "user_update", body, 200, NULL);
	assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "user"), "role")),
	                    "reviewer");
	json_decref(doc);
	assert_int_equal(audit_count("user.update", uid), 1);
}

static void test_password_reset(void **state)
{
	(void)state;
	struct tsession s;
	struct httpc_response r;
	char body[200];
	long long uid = user_id("cy");

	snprintf(body, sizeof(body), "{\"user\": %lld}", uid);
	json_t *doc = as("adm", "POST", "user_password_reset", body, 200, NULL);
	const char *temp = json_string_value(json_object_get(doc, "password"));
	assert_non_null(temp);
	assert_null(json_object_get(doc, "totp"));
	assert_int_equal(tstaff_call(t.d.port, "GET", "/api/v1/me", tstaff_as(&t, "cy"), 0, NULL, &r), 401);
	httpc_free(&r);
	assert_int_equal(tstaff_login(t.d.port, "cy", TSTAFF_PASSWORD, NULL, &s), 401);
	assert_int_equal(tstaff_login(t.d.port, "cy", temp, NULL, &s), 200);
	assert_int_equal(tstaff_call(t.d.port, "GET", "/api/v1/cases", &s, 0, NULL, &r), 403);
	assert_non_null(strstr(r.body, "password_change_required"));
	httpc_free(&r);
	snprintf(body, sizeof(body), "{\"current\": \"%s\", \"new\": \"" TSTAFF_PASSWORD " again\"}", temp);
	assert_int_equal(tstaff_call(t.d.port, "POST", "/api/v1/password", &s, 1, body, &r), 200);
	httpc_free(&r);
	assert_int_equal(audit_count("user.password_reset", uid), 1);
	assert_int_equal(audit_count("user.password_change", uid), 1);
	json_decref(doc);
}

static void test_totp_enrol(void **state)
{
	(void)state;
	struct tsession s;
	char body[64], code[7];
	long long uid = user_id("nat");

	snprintf(body, sizeof(body), "{\"user\": %lld}", uid);
	json_t *doc = as("adm", "POST", "user_totp_enrol", body, 200, NULL);
	assert_null(json_object_get(doc, "password"));
	const char *secret = json_string_value(json_object_get(json_object_get(doc, "totp"), "secret"));
	assert_non_null(secret);
	assert_int_equal(tstaff_login(t.d.port, "nat", TSTAFF_PASSWORD, NULL, &s), 401);
	totp_now(secret, code);
	assert_int_equal(tstaff_login(t.d.port, "nat", TSTAFF_PASSWORD, code, &s), 200);
	/* The same code again: refused (good once). */
	assert_int_equal(tstaff_login(t.d.port, "nat", TSTAFF_PASSWORD, code, &s), 401);
	assert_int_equal(audit_count("user.totp_enrol", uid), 1);
	assert_int_equal(audit_count("totp.activate", uid), 1);
	json_decref(doc);
}

static void test_last_administrator(void **state)
{
	(void)state;
	static const char *const second[][4] = {{"adm2", "administrator", "1", NULL}};
	char body[96];
	long long me = user_id("adm");

	snprintf(body, sizeof(body), "{\"user\": %lld}", me);
	json_decref(as("adm", "POST", "user_disable", body, 409, "user"));
	snprintf(body, sizeof(body), "{\"user\": %lld, \"role\": \"national\"}", me);
	json_decref(as("adm", "POST", "user_update", body, 409, NULL));

	tstaff_users(t.owner, second, 1);
	long long other = user_id("adm2");
	snprintf(body, sizeof(body), "{\"user\": %lld}", other);
	json_decref(as("adm", "POST", "user_disable", body, 200, NULL));
	snprintf(body, sizeof(body), "{\"user\": %lld, \"role\": \"national\"}", me);
	json_decref(as("adm", "POST", "user_update", body, 409, NULL));
	snprintf(body, sizeof(body), "{\"user\": %lld}", other);
	json_decref(as("adm", "POST", "user_enable", body, 200, NULL));
	struct tsession adm2 = tstaff_session(t.d.port, "adm2", 1);
	/* Now adm may step down, and adm2 restores it. */
	snprintf(body, sizeof(body), "{\"user\": %lld, \"role\": \"national\"}", me);
	json_decref(as("adm", "POST", "user_update", body, 200, NULL));
	json_decref(as("adm", "GET", "users", NULL, 403, NULL));
	snprintf(body, sizeof(body), "{\"user\": %lld, \"role\": \"administrator\"}", me);
	json_decref(call(&adm2, "POST", "user_update", body, 200, NULL));
	json_decref(as("adm", "GET", "users", NULL, 200, NULL));
}

static void test_units(void **state)
{
	(void)state;
	static const struct {
		const char *body, *field;
		int want;
	} bad[] = {
	        {"{\"kind\": \"verification\", \"region\": \"110108\", \"name\": \"x\"}", "parent", 400},
	        {"{\"parent\": 99, \"kind\": \"verification\", \"region\": \"110108\", \"name\": \"x\"}",
	         "parent", 400},
	        {"{\"parent\": 2, \"kind\": \"planet\", \"region\": \"110108\", \"name\": \"x\"}", "kind",
	         400},
	        {"{\"parent\": 2, \"kind\": \"national\", \"region\": \"110108\", \"name\": \"x\"}", "kind",
	         400},
	        {"{\"parent\": 2, \"kind\": \"verification\", \"region\": \"999999\", \"name\": \"x\"}",
	         "region", 400},
	        {"{\"parent\": 2, \"kind\": \"verification\", \"region\": \"11010\", \"name\": \"x\"}",
	         "region", 400},
	        {"{\"parent\": 1, \"kind\": \"provincial\", \"region\": \"110108\", \"name\": \"x\"}",
	         "region", 400},
	        {"{\"parent\": 3, \"kind\": \"verification\", \"region\": \"110108\", \"name\": \"x\"}",
	         "parent", 400},
	        {"{\"parent\": 2, \"kind\": \"verification\", \"region\": \"110108\"}", "name", 400},
	        {"{\"parent\": 2, \"kind\": \"verification\", \"region\": \"110105\", \"name\": \"Chaoyang "
	         "unit\"}",
	         "name", 409},
	};
	char body[96];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		json_decref(as("adm", "POST", "unit_create", bad[i].body, bad[i].want, bad[i].field));
	json_t *doc = as("adm", "POST", "unit_create",
	                 "{\"parent\": 2, \"kind\": \"verification\", \"region\": \"110108\", \"name\": "
	                 "\"海淀核查组\"}",
	                 200, NULL);
	long long unit = json_integer_value(json_object_get(json_object_get(doc, "unit"), "id"));
	assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "unit"), "province")),
	                    "110000");
	json_decref(doc);
	snprintf(body, sizeof(body), "{\"unit\": %lld, \"name\": \"Chaoyang unit\"}", unit);
	json_decref(as("adm", "POST", "unit_rename", body, 409, "name"));
	snprintf(body, sizeof(body), "{\"unit\": %lld, \"name\": \"Haidian unit\"}", unit);
	json_decref(as("adm", "POST", "unit_rename", body, 200, NULL));
	json_decref(as("adm", "POST", "unit_rename", "{\"unit\": 999, \"name\": \"x\"}", 404, "unit"));

	/* The Beijing office holds the open cases; the national office is never disabled. */
	json_decref(as("adm", "POST", "unit_disable", "{\"unit\": 2}", 409, "unit"));
	json_decref(as("adm", "POST", "unit_disable", "{\"unit\": 1}", 409, "unit"));
	snprintf(body, sizeof(body), "{\"unit\": %lld}", unit);
	json_decref(as("adm", "POST", "unit_disable", body, 200, NULL));
	snprintf(body, sizeof(body), "{\"username\": \"late\", \"role\": \"unit_officer\", \"unit\": %lld}",
	         unit);
	json_decref(as("adm", "POST", "user_create", body, 400, "unit"));
	/* Nor does it take a case (migration 16). */
	tstaff_op(t.d.port, tstaff_as(&t, "nat"), "POST", 1, "accept", "{}", 200, NULL, NULL);
	tstaff_op(t.d.port, tstaff_as(&t, "nat"), "POST", 1, "distribute", "{}", 200, NULL, NULL);
	snprintf(body, sizeof(body), "{\"unit\": %lld, \"review_unit\": 5}", unit);
	tstaff_op(t.d.port, tstaff_as(&t, "nat"), "POST", 1, "assign", body, 409, "unit", NULL);
	doc = as("adm", "GET", "units", NULL, 200, NULL);
	assert_true(json_is_true(json_object_get(
	        json_array_get(json_object_get(doc, "units"), (size_t)unit - 1), "disabled")));
	json_decref(doc);
	snprintf(body, sizeof(body), "{\"unit\": %lld}", unit);
	json_decref(as("adm", "POST", "unit_enable", body, 200, NULL));
	snprintf(body, sizeof(body), "SELECT count(*) FROM audit_events WHERE object = 'unit:%lld'", unit);
	assert_int_equal(tpg_value(t.owner, body), 4); /* create, rename, disable, enable */
}

/* The auditors' page of events names the actors; the accounts stay unreadable to them otherwise. */
static void test_audit_actor_names(void **state)
{
	(void)state;
	char key[24];

	json_t *doc = as("aud", "GET", "audit_events", "action=user.", 200, NULL);
	assert_true(json_array_size(json_object_get(doc, "events")) > 0);
	snprintf(key, sizeof(key), "%lld", user_id("adm"));
	json_t *a = json_object_get(json_object_get(doc, "actors"), key);
	assert_string_equal(json_string_value(json_object_get(a, "username")), "adm");
	assert_string_equal(json_string_value(json_object_get(a, "role")), "administrator");
	json_decref(doc);
	json_decref(as("aud", "GET", "users", NULL, 403, NULL));
}

/* The whole chain in chunks of limit events: the first broken link and the events checked. */
static void chain_in_chunks(const char *limit, long long *bad_seq, const char **reason, long long *checked,
                            int *chunks)
{
	char query[96];
	long long from = 0;

	*checked = 0;
	*chunks = 0;
	*bad_seq = -1;
	*reason = NULL;
	for (;;) {
		snprintf(query, sizeof(query), "full=true&from=%lld&limit=%s", from, limit);
		json_t *doc = as("aud", "GET", "audit_status", query, 200, NULL);
		json_t *chain = json_object_get(doc, "chain");
		assert_int_equal(json_integer_value(json_object_get(chain, "from")), from);
		*checked += json_integer_value(json_object_get(chain, "checked"));
		(*chunks)++;
		if (!json_is_true(json_object_get(chain, "ok"))) {
			*bad_seq = json_integer_value(json_object_get(chain, "bad_seq"));
			*reason = json_string_value(
			        json_object_get(chain, "reason")); /* a static string below */
			*reason = !strcmp(*reason, "hash")  ? "hash"
			          : !strcmp(*reason, "gap") ? "gap"
			                                    : "prev_hash";
			assert_true(json_is_null(json_object_get(chain, "next")));
			json_decref(doc);
			return;
		}
		json_t *next = json_object_get(chain, "next");
		if (json_is_null(next)) {
			json_decref(doc);
			return;
		}
		from = json_integer_value(next);
		json_decref(doc);
	}
}

static void test_chain_chunks(void **state)
{
	(void)state;
	long long bad_all, bad_chunked, checked_all, checked_chunked;
	const char *why_all, *why_chunked;
	int chunks;
	char sql[160];

	chain_in_chunks("1000000", &bad_all, &why_all, &checked_all, &chunks);
	assert_int_equal(chunks, 1);
	assert_int_equal(bad_all, -1);
	chain_in_chunks("7", &bad_chunked, &why_chunked, &checked_chunked, &chunks);
	assert_int_equal(bad_chunked, -1);
	assert_true(chunks > 3);
	assert_true(checked_chunked >= checked_all); /* the chunked run's own views are checked too */
	json_decref(as("aud", "GET", "audit_status", "limit=0", 400, "limit"));
	json_decref(as("aud", "GET", "audit_status", "from=x", 400, "from"));

	long long victim = tpg_value(t.owner, "SELECT max(seq) / 2 FROM audit_events");
	assert_int_equal(tpg_exec(t.owner, "ALTER TABLE audit_events DISABLE TRIGGER audit_append_only"), 0);
	snprintf(sql, sizeof(sql), "UPDATE audit_events SET object = 'user:0' WHERE seq = %lld", victim);
	assert_int_equal(tpg_exec(t.owner, sql), 0);
	assert_int_equal(tpg_exec(t.owner, "ALTER TABLE audit_events ENABLE TRIGGER audit_append_only"), 0);
	chain_in_chunks("1000000", &bad_all, &why_all, &checked_all, &chunks);
	chain_in_chunks("7", &bad_chunked, &why_chunked, &checked_chunked, &chunks);
	assert_int_equal(bad_all, victim);
	assert_int_equal(bad_chunked, victim);
	assert_string_equal(why_all, "hash");
	assert_string_equal(why_chunked, "hash");
}

/* A login whose hash is slow, run from a thread: its HTTP status. */
static void *slow_login(void *arg)
{
	struct tsession s;

	*(int *)arg = tstaff_login(t.d.port, "slow", TSTAFF_PASSWORD, NULL, &s);
	return NULL;
}

/*
 * While a login's hash runs (seen on the metrics page, served by the same event loop), other requests are
 * answered. A hash that ran on the loop would hold every request until it was done: the gauge would never be
 * seen at 1.
 */
static void test_loop_answers_during_a_hash(void **state)
{
	(void)state;
	struct auth_cost slow = {24, 65536, 1}; /* about a second or more */
	char hash[AUTH_HASH_MAX];
	pthread_t th;
	int status = 0, seen = 0;
	struct httpc_response r;

	assert_int_equal(auth_hash_password(TSTAFF_PASSWORD, strlen(TSTAFF_PASSWORD), &slow, hash), TIP_OK);
	const char *p[] = {hash};
	PGresult *res = PQexecParams(t.owner,
	                             "INSERT INTO users (username, role, unit_id, password_hash) "
	                             "VALUES ('slow', 'national', 1, $1)",
	                             1, NULL, p, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	assert_int_equal(pthread_create(&th, NULL, slow_login, &status), 0);
	for (int i = 0; i < 6000 && !seen; i++) {
		seen = tcm_metric(&t.f, "casemgr_password_hashes") == 1;
		if (!seen)
			usleep(5000);
	}
	assert_true(seen);
	assert_int_equal(tstaff_call(t.d.port, "GET", "/healthz", NULL, 0, NULL, &r), 200);
	httpc_free(&r);
	assert_int_equal(tstaff_call(t.d.port, "GET", "/api/v1/me", tstaff_as(&t, "aud"), 0, NULL, &r), 200);
	httpc_free(&r);
	pthread_join(th, NULL);
	assert_int_equal(status, 200);
	assert_int_equal(tcm_metric(&t.f, "casemgr_password_hashes"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_roles),
	        cmocka_unit_test(test_create_refusals),
	        cmocka_unit_test(test_create_and_first_login),
	        cmocka_unit_test(test_disable_and_enable),
	        cmocka_unit_test(test_password_reset),
	        cmocka_unit_test(test_totp_enrol),
	        cmocka_unit_test(test_last_administrator),
	        cmocka_unit_test(test_units),
	        cmocka_unit_test(test_audit_actor_names),
	        cmocka_unit_test(test_loop_answers_during_a_hash),
	        cmocka_unit_test(test_chain_chunks),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
