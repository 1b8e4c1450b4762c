/*
 * What the staff pages read beyond the case routes (migration 0010), against a real PostgreSQL and
 * casemgrd: the dashboard's summaries kept by triggers equal a rebuild from the base tables after a
 * case's whole workflow; small counts and the rates that would reveal them are withheld; each user sees
 * the dashboard of their scope only; case_list built per filter and scope answers exactly what the
 * plain statement of 0004 answers, page by page; the units and people operations.
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

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct tstaff t;

/* Units: 1 national, 2 Beijing office, 3 Shanghai office, 4 Chaoyang unit, 5 Beijing review. */
static const char *const users[][4] = {
        {"nat", "national", "1", NULL},    {"bj", "provincial", "2", NULL}, {"sh", "provincial", "3", NULL},
        {"cy", "unit_officer", "4", NULL}, {"rev", "reviewer", "5", NULL},  {"aud", "auditor", "1", NULL},
};
#define N_USERS (sizeof(users) / sizeof(users[0]))
static int setup(void **state)
{
	(void)state;
	/* Cases 1-7 in Beijing (110101), 8-10 in Shanghai (310101). */
	static const struct tstaff_reports reports[] = {{"110101", 7}, {"310101", 3}};

	tstaff_setup(&t,
	             TSTAFF_OFFICES "(2, 'verification', '110105', '110000', 'Chaoyang unit'), "
	                            "(2, 'review', '110000', '110000', 'Beijing review')",
	             users, N_USERS, reports, 2);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tstaff_teardown(&t);
	return 0;
}

/* A call that must answer want; the JSON answer (caller decrefs), or NULL for a non-JSON one. */
static json_t *call(const char *user, const char *method, const char *path, const char *body, int want)
{
	struct httpc_response r;
	json_error_t e;
	json_t *doc;
	int st = tstaff_call(t.d.port, method, path, tstaff_as(&t, user), !strcmp(method, "POST"), body, &r);

	if (st != want)
		fail_msg("%s %s %s: %d, not %d: %s", user, method, path, st, want, r.body ? r.body : "");
	doc = json_loadb(r.body ? r.body : "", r.body_len, 0, &e);
	httpc_free(&r);
	return doc;
}

static void act(const char *user, int id, const char *action, const char *body)
{
	char path[96];

	snprintf(path, sizeof(path), "/api/v1/cases/%d/actions/%s", id, action);
	json_decref(call(user, "POST", path, body, 200));
}

/* The summaries kept by the triggers (rows of n = 0 left out) equal a rebuild from the base tables. */
static void expect_summaries_rebuilt(void)
{
	assert_int_equal(tpg_exec(t.owner,
	                          "CREATE TEMP TABLE kept_counts AS SELECT * FROM dash_counts WHERE n <> 0;"
	                          "CREATE TEMP TABLE kept_dims AS SELECT * FROM dash_dims WHERE n <> 0;"
	                          "SELECT dash_rebuild()"),
	                 0);
	assert_int_equal(tpg_value(t.owner,
	                           "SELECT count(*) FROM ((SELECT * FROM kept_counts EXCEPT SELECT * FROM "
	                           "dash_counts) UNION ALL (SELECT * FROM dash_counts EXCEPT SELECT * FROM "
	                           "kept_counts)) x"),
	                 0);
	assert_int_equal(tpg_value(t.owner,
	                           "SELECT count(*) FROM ((SELECT * FROM kept_dims EXCEPT SELECT * FROM "
	                           "dash_dims) UNION ALL (SELECT * FROM dash_dims EXCEPT SELECT * FROM "
	                           "kept_dims)) x"),
	                 0);
	assert_int_equal(tpg_exec(t.owner, "DROP TABLE kept_counts, kept_dims"), 0);
}

static void test_summaries_follow_the_workflow(void **state)
{
	(void)state;
	expect_summaries_rebuilt();
	assert_int_equal(tpg_value(t.owner, "SELECT sum(n) FROM dash_counts WHERE measure = 'received'"), 10);
	assert_int_equal(tpg_value(t.owner, "SELECT sum(n) FROM dash_dims WHERE dim = 'sector'"), 10);
	/* Case 1 through the whole loop, case 2 declined, case 3 handed up to the national office. */
	act("bj", 1, "accept", "{}");
	act("bj", 1, "distribute", "{}");
	act("bj", 1, "assign", "{\"unit\": 4, \"review_unit\": 5}");
	act("cy", 1, "record_contact",
	    "{\"channel\": \"phone\", \"outcome\": \"reached\", \"contacted_at\": "
	    "\"2023-11-20T10:00:00+08:00\"}");
	act("cy", 1, "start", "{}");
	act("cy", 1, "submit_result", "{\"result\": \"substantiated\", \"findings\": \"found\"}");
	act("rev", 1, "review", "{\"decision\": \"approve\"}");
	act("bj", 1, "review", "{\"decision\": \"approve\"}");
	expect_summaries_rebuilt();
	act("bj", 1, "record_contact",
	    "{\"channel\": \"sms\", \"outcome\": \"reached\", \"closing\": true, "
	    "\"contacted_at\": \"2024-01-05T10:00:00+08:00\"}");
	act("bj", 1, "close", "{}");
	act("bj", 2, "decline", "{\"result\": \"referred\", \"reason\": \"elsewhere\"}");
	act("bj", 3, "redistribute", "{\"unit\": 1, \"reason\": \"conflict of interest\"}");
	expect_summaries_rebuilt();
	assert_int_equal(tpg_value(t.owner, "SELECT sum(n) FROM dash_counts WHERE measure = 'contacted_30'"),
	                 1);
	assert_int_equal(tpg_value(t.owner, "SELECT sum(n) FROM dash_counts WHERE measure = 'feedback'"), 1);
	assert_int_equal(tpg_value(t.owner, "SELECT sum(n) FROM dash_counts WHERE measure = 'on_time'"), 1);
	assert_int_equal(tpg_value(t.owner, "SELECT sum(n) FROM dash_counts WHERE measure = 'closed'"), 2);
	assert_int_equal(
	        tpg_value(t.owner, "SELECT sum(n) FROM dash_counts WHERE conflict AND measure = 'received'"),
	        1);
	/* Re-opening takes the conclusion and the close back out. */
	act("bj", 1, "reopen", "{\"reason\": \"callback unsatisfied\", \"working_days\": 10}");
	expect_summaries_rebuilt();
	assert_int_equal(
	        tpg_value(t.owner, "SELECT coalesce(sum(n), 0) FROM dash_counts WHERE measure = 'concluded'"),
	        0);
}

static void test_small_counts_withheld(void **state)
{
	(void)state;
	static const struct {
		int num, den;
		const char *want;
	} rates[] = {{5, 10, "0.5000"}, {4, 10, ""}, {6, 10, ""}, {0, 5, "0.0000"},
	             {5, 5, "1.0000"},  {3, 3, ""},  {0, 4, ""},  {50, 100, "0.5000"}};
	char sql[96];

	for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		snprintf(sql, sizeof(sql), "SELECT coalesce(dash_rate(%d, %d)::text, '')", rates[i].num,
		         rates[i].den);
		PGresult *r = PQexec(t.owner, sql);
		assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
		if (strcmp(PQgetvalue(r, 0, 0), rates[i].want) != 0)
			fail_msg("dash_rate(%d, %d) = %s, not %s", rates[i].num, rates[i].den,
			         PQgetvalue(r, 0, 0), rates[i].want);
		PQclear(r);
	}
	assert_int_equal(
	        tpg_value(t.owner, "SELECT count(*) FROM (VALUES (0), (5), (6)) v(n) WHERE dash_n(n) = n"),
	        3);
	assert_int_equal(
	        tpg_value(t.owner, "SELECT count(*) FROM generate_series(1, 4) n WHERE dash_n(n) IS NULL"),
	        4);
}

static json_t *dashboard(const char *user, int want)
{
	return call(user, "GET", "/api/v1/ops/dashboard?from=2023-01-01", NULL, want);
}

static const json_t *row_of(const json_t *list, const char *province)
{
	size_t i;
	const json_t *v;

	json_array_foreach(list, i, v) if (!strcmp(json_string_value(json_object_get(v, "province")),
	                                           province)) return v;
	return NULL;
}

static void test_dashboard_by_scope(void **state)
{
	(void)state;
	/* Two months of callbacks in Beijing: five satisfied, then the same cases unsatisfied. */
	assert_int_equal(
	        tpg_exec(t.owner,
	                 "INSERT INTO callback_draws (month, seed, count, digest) VALUES "
	                 "('2024-01-01', '\\x00112233445566778899aabbccddeeff', 5, sha256('a')), "
	                 "('2024-02-01', '\\x00112233445566778899aabbccddeeff', 5, sha256('b'));"
	                 "INSERT INTO callbacks (draw_id, province, rank, case_id, phone, satisfaction) "
	                 "SELECT d, '110000', r, c, '13800000000', CASE d WHEN 1 THEN 'satisfied' ELSE "
	                 "'unsatisfied' END FROM generate_series(1, 2) d, unnest(ARRAY[1, 2, 4, 5, 6]) WITH "
	                 "ORDINALITY AS x(c, r)"),
	        0);
	json_t *nat = dashboard("nat", 200), *bj = dashboard("bj", 200), *sh = dashboard("sh", 200);

	/* The national office: both provinces; Beijing's six cases still its own (7 received, one handed up
	 * for a conflict of interest still counted under Beijing nationally), Shanghai's three withheld. */
	assert_true(json_is_null(json_object_get(nat, "scope")));
	const json_t *b = row_of(json_object_get(nat, "provinces"), "110000");
	const json_t *s = row_of(json_object_get(nat, "provinces"), "310000");
	assert_non_null(b);
	assert_non_null(s);
	assert_int_equal(json_integer_value(json_object_get(b, "reports")), 7);
	assert_true(json_is_null(json_object_get(s, "reports")));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(nat, "totals"), "reports")), 10);
	/* Beijing's office: its province only, without the case handed up (six reports). */
	assert_string_equal(json_string_value(json_object_get(bj, "scope")), "110000");
	assert_int_equal(json_array_size(json_object_get(bj, "provinces")), 1);
	assert_int_equal(json_integer_value(json_object_get(
	                         row_of(json_object_get(bj, "provinces"), "110000"), "reports")),
	                 6);
	assert_null(row_of(json_object_get(bj, "evaluation"), "310000"));
	assert_null(row_of(json_object_get(sh, "provinces"), "110000"));
	/* Callback satisfaction: five satisfied of ten answered in Beijing, none in Shanghai. */
	const json_t *ev = row_of(json_object_get(nat, "evaluation"), "110000");
	assert_true(json_is_number(json_object_get(ev, "callback_satisfaction")));
	assert_true(json_number_value(json_object_get(ev, "callback_satisfaction")) == 0.5);
	assert_true(json_is_null(json_object_get(row_of(json_object_get(nat, "evaluation"), "310000"),
	                                         "callback_satisfaction")));
	/* Categories withheld below 5; the months run over the window. */
	assert_true(json_array_size(json_object_get(nat, "months")) >= 12);
	json_decref(nat);
	json_decref(bj);
	json_decref(sh);
	/* Units, reviewers and auditors have no dashboard; bad arguments are named. */
	json_decref(dashboard("cy", 403));
	json_decref(dashboard("rev", 403));
	json_decref(dashboard("aud", 403));
	json_t *e = call("nat", "GET", "/api/v1/ops/dashboard?from=2024-02-01&to=2024-01-01", NULL, 400);
	assert_string_equal(json_string_value(json_object_get(e, "field")), "from");
	json_decref(e);
	e = call("nat", "GET", "/api/v1/ops/dashboard?since=2024", NULL, 400);
	assert_string_equal(json_string_value(json_object_get(e, "field")), "since");
	json_decref(e);
}

/* case_list as the request path runs it, and the plain statement of 0004, for one user and filters. */
static void compare_lists(long long uid, const char *const filters[5])
{
	char actor[24], before[24] = "";
	const char *set[] = {actor};
	PGconn *app = tpg_connect(&t.f.pg, "tip_app");

	snprintf(actor, sizeof(actor), "%lld", uid);
	for (int page = 0; page < 20; page++) {
		const char *p[] = {filters[0], filters[1], filters[2], filters[3], before[0] ? before : NULL,
		                   "2"};
		PGresult *r;
		assert_int_equal(tpg_exec(app, "BEGIN"), 0);
		PQclear(PQexecParams(app, "SELECT set_config('tip.actor', $1, true)", 1, NULL, set, NULL,
		                     NULL, 0));
		r = PQexecParams(
		        app,
		        "SELECT a::text, b::text, a ->> 'next' FROM case_list($1, $2, $3, $4, $5::bigint, "
		        "$6::integer) a, test_case_list_plain($1, $2, $3, $4, $5::bigint, $6::integer) b",
		        6, NULL, p, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			fail_msg("case_list: %s", PQresultErrorMessage(r));
		if (strcmp(PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1)) != 0)
			fail_msg("user %lld: %s\nplain: %s", uid, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
		snprintf(before, sizeof(before), "%s", PQgetvalue(r, 0, 2));
		PQclear(r);
		assert_int_equal(tpg_exec(app, "COMMIT"), 0);
		if (!before[0])
			break;
	}
	PQfinish(app);
}

static void test_case_list_as_before(void **state)
{
	(void)state;
	/* The statement of 0004, kept here as the reference. */
	assert_int_equal(
	        tpg_exec(
	                t.owner,
	                "CREATE FUNCTION test_case_list_plain(stage_is text, province_is text, region_is "
	                "text, "
	                "category_is text, before bigint, page integer) RETURNS jsonb LANGUAGE sql STABLE AS "
	                "$$ "
	                "SELECT jsonb_build_object('cases', coalesce(jsonb_agg(x ORDER BY (x ->> "
	                "'id')::bigint "
	                "DESC), '[]'), 'next', CASE WHEN count(*) = page THEN min((x ->> 'id')::bigint) END) "
	                "FROM (SELECT jsonb_build_object('id', c.id, 'stage', c.stage, 'result', c.result, "
	                "'province', c.province, 'region', c.region, 'categories', r.categories, 'sector', "
	                "r.sector, 'received_at', c.received_at, 'deadline', c.deadline) AS x "
	                "FROM cases c JOIN reports r ON r.id = c.report_id "
	                "WHERE (stage_is IS NULL OR c.stage = stage_is) AND (province_is IS NULL OR "
	                "c.province = "
	                "province_is) AND (region_is IS NULL OR c.region = region_is) "
	                "AND (category_is IS NULL OR r.categories @> ARRAY[category_is]) "
	                "AND (before IS NULL OR c.id < before) ORDER BY c.id DESC LIMIT page) AS l $$"),
	        0);
	static const char *const filters[][5] = {
	        {NULL, NULL, NULL, NULL},          {"received", NULL, NULL, NULL},
	        {NULL, "110000", NULL, NULL},      {NULL, "310000", NULL, NULL},
	        {NULL, NULL, "110101", NULL},      {NULL, NULL, NULL, "protective_umbrella"},
	        {NULL, NULL, NULL, "online_gang"}, {"verifying", "110000", "110101", "protective_umbrella"},
	};
	for (long long uid = 1; uid <= (long long)N_USERS; uid++)
		for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++)
			compare_lists(uid, filters[i]);
}

static void test_units_and_people(void **state)
{
	(void)state;
	json_t *u = call("aud", "GET", "/api/v1/ops/units", NULL, 200);
	assert_int_equal(json_array_size(json_object_get(u, "units")), 5);
	json_decref(u);
	json_t *p = call("bj", "GET", "/api/v1/cases/1/actions/people", NULL, 200);
	/* Case 1's record names bj, cy and rev. */
	assert_int_equal(json_object_size(json_object_get(p, "people")), 3);
	assert_string_equal(json_string_value(json_object_get(
	                            json_object_get(json_object_get(p, "people"), "4"), "name")),
	                    "cy");
	json_decref(p);
	json_decref(call("sh", "GET", "/api/v1/cases/1/actions/people", NULL, 404));
	json_decref(call("aud", "GET", "/api/v1/cases/1/actions/people", NULL, 403));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_summaries_follow_the_workflow),
	        cmocka_unit_test(test_small_counts_withheld),
	        cmocka_unit_test(test_dashboard_by_scope),
	        cmocka_unit_test(test_case_list_as_before),
	        cmocka_unit_test(test_units_and_people),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
