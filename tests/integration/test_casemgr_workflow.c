/*
 * The case workflow through the staff API against a real PostgreSQL and casemgrd: automatic
 * distribution (and conflict-of-interest routing), every transition allowed and refused per role, the
 * double review with its separation of duties, contact records before closing, re-opening, each
 * change on the timeline and in the audit trail, and a status bulletin queued for every stage the
 * public sees.
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

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct tstaff t;

/*
 * Units: 1 national, 2 Beijing office, 3 Shanghai office, 4 Chaoyang unit (110105), 5 Dongcheng unit
 * (110101: the test report names an official there), 6 Beijing review, 7 Huangpu unit (Shanghai).
 */
static const char *const users[][4] = {
        {"nat", "national", "1", NULL},    {"bj", "provincial", "2", NULL},
        {"sh", "provincial", "3", NULL},   {"cy", "unit_officer", "4", NULL},
        {"dc", "unit_officer", "5", NULL}, {"rev", "reviewer", "6", NULL},
        {"aud", "auditor", "1", NULL},     {"adm", "administrator", "1", NULL},
};
#define N_USERS (sizeof(users) / sizeof(users[0]))
static int setup(void **state)
{
	(void)state;
	/* Cases 1-3 in Beijing, case 4 in Shanghai. */
	static const struct tstaff_reports reports[] = {{"110101", 3}, {"310101", 1}};

	tstaff_setup(&t,
	             TSTAFF_OFFICES "(2, 'verification', '110105', '110000', 'Chaoyang unit'), "
	                            "(2, 'verification', '110101', '110000', 'Dongcheng unit'), "
	                            "(2, 'review', '110000', '110000', 'Beijing review'), "
	                            "(3, 'verification', '310101', '310000', 'Huangpu unit')",
	             users, N_USERS, reports, 2);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tstaff_teardown(&t);
	return 0;
}

/*
 * POST /api/v1/cases/{id}/actions/{action} as user with body; asserts the status and, for an error,
 * the field it names (NULL: no field). The response is freed.
 */
static void act(const char *user, int id, const char *action, const char *body, int want, const char *field)
{
	char path[128];
	struct httpc_response r;
	int st;

	snprintf(path, sizeof(path), "/api/v1/cases/%d/actions/%s", id, action);
	st = tstaff_call(t.d.port, "POST", path, tstaff_as(&t, user), 1, body, &r);
	if (st != want)
		fail_msg("%s %s on case %d: %d, not %d: %s", user, action, id, st, want,
		         r.body ? r.body : "");
	if (want >= 400) {
		char expect[80] = "\"field\":null";
		if (field)
			snprintf(expect, sizeof(expect), "\"field\":\"%s\"", field);
		if (!strstr(r.body, expect))
			fail_msg("%s %s on case %d: want %s in %s", user, action, id, expect, r.body);
	}
	httpc_free(&r);
}

__attribute__((format(printf, 1, 2))) static long long q(const char *fmt, ...)
{
	char sql[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	return tpg_value(t.owner, sql);
}

static const char *stage_of(int id)
{
	static char stage[32];
	char sql[80];
	PGresult *r;

	snprintf(sql, sizeof(sql), "SELECT stage FROM cases WHERE id = %d", id);
	r = PQexec(t.owner, sql);
	assert_int_equal(PQntuples(r), 1);
	snprintf(stage, sizeof(stage), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return stage;
}

/* Ingest routes each case to its province's office, records it, and queues the first bulletin. */
static void test_distribution(void **state)
{
	(void)state;
	assert_int_equal(
	        q("SELECT count(*) FROM cases WHERE handling_unit = 2 AND NOT conflict AND contactable "
	          "AND id <= 3 AND %d = 0",
	          0),
	        3);
	assert_int_equal(q("SELECT handling_unit FROM cases WHERE id = %d", 4), 3);
	assert_int_equal(
	        q("SELECT count(*) FROM case_events WHERE action = 'route' AND actor IS NULL AND %d = 0", 0),
	        4);
	assert_int_equal(
	        q("SELECT count(*) FROM status_outbox WHERE stage = 'received' AND result = 'pending' "
	          "AND %d = 0",
	          0),
	        4);

	/* A report naming an official of the province's own level goes to the national office, and the
	 * province no longer sees it. */
	assert_int_equal(
	        tpg_exec(t.owner,
	                 "INSERT INTO reports (origin, seq, record_hash, signed_at, version, "
	                 "taxonomy_version, query_hash, "
	                 " locale, reporter_anonymous, reporter_name, reporter_id_number, reporter_phone, "
	                 " reporter_address, reporter_contact_allowed, reporter_channel, categories, sector, "
	                 "region, "
	                 " province, place, time_text, narrative) "
	                 "SELECT 'elsewhere', 0, record_hash, signed_at, version, taxonomy_version, "
	                 " sha256(query_hash), locale, true, '', '', '', '', false, '', categories, sector, "
	                 "region, "
	                 " province, place, time_text, narrative FROM reports WHERE id = 1;"
	                 "INSERT INTO report_officials VALUES (5, 0, '赵六', '副局长', '市局', '110000', '');"
	                 "INSERT INTO cases (report_id, province, region, received_at) VALUES (5, '110000', "
	                 "'110101', "
	                 " now())"),
	        0);
	assert_int_equal(q("SELECT count(*) FROM cases WHERE id = %d AND handling_unit = 1 AND conflict "
	                   "AND NOT contactable",
	                   5),
	                 1);
	struct httpc_response r;
	assert_int_equal(tstaff_call(t.d.port, "GET", "/api/v1/cases/5", tstaff_as(&t, "bj"), 0, NULL, &r),
	                 404);
	httpc_free(&r);
	assert_int_equal(tstaff_call(t.d.port, "GET", "/api/v1/cases/5", tstaff_as(&t, "nat"), 0, NULL, &r),
	                 200);
	httpc_free(&r);
	act("bj", 5, "accept", "{}", 404, NULL);
	act("nat", 5, "accept", "{}", 200, NULL);
}

/* Who may take what, before anything moves: scope first (404), then role (403), then stage (409). */
static void test_refusals(void **state)
{
	(void)state;
	struct httpc_response r;

	act("sh", 1, "accept", "{}", 404, NULL);  /* another province */
	act("cy", 1, "accept", "{}", 404, NULL);  /* not assigned to the unit */
	act("rev", 1, "accept", "{}", 404, NULL); /* not sent for review */
	act("aud", 1, "accept", "{}", 403, NULL);
	act("adm", 1, "accept", "{}", 403, NULL);
	act("bj", 1, "start", "{}", 403, NULL);
	act("bj", 1, "assign", "{\"unit\": 4, \"review_unit\": 6}", 409, NULL);
	act("bj", 1, "close", "{}", 409, NULL);
	act("bj", 1, "no_such_action", "{}", 404, NULL);
	/* Bad arguments name their field; the case is untouched. */
	act("bj", 1, "accept", "{\"colour\": 1}", 400, "colour");
	act("bj", 1, "accept", "{\"note\": 5}", 400, "note");
	act("bj", 1, "accept", "[1]", 400, NULL);
	act("bj", 1, "accept", "{\"note\": \"a\", \"note\": \"b\"}", 400, NULL);
	act("bj", 1, "decline", "{\"reason\": \"no\"}", 400, "result");
	act("bj", 1, "decline", "{\"result\": \"substantiated\", \"reason\": \"no\"}", 400, "result");
	assert_string_equal(stage_of(1), "received");
	/* Method, CSRF and a GET operation's parameters. */
	assert_int_equal(tstaff_call(t.d.port, "POST", "/api/v1/cases/1/actions/accept", tstaff_as(&t, "bj"),
	                             0, "{}", &r),
	                 403);
	assert_non_null(strstr(r.body, "\"csrf\""));
	httpc_free(&r);
	assert_int_equal(tstaff_call(t.d.port, "GET", "/api/v1/cases/1/actions/accept", tstaff_as(&t, "bj"),
	                             0, NULL, &r),
	                 405);
	httpc_free(&r);
	assert_int_equal(tstaff_call(t.d.port, "GET", "/api/v1/cases/1/actions/timeline?x=%27",
	                             tstaff_as(&t, "bj"), 0, NULL, &r),
	                 400);
	httpc_free(&r);
	assert_int_equal(tstaff_call(t.d.port, "GET", "/api/v1/cases/1/actions/timeline?x=1",
	                             tstaff_as(&t, "bj"), 0, NULL, &r),
	                 400);
	assert_non_null(strstr(r.body, "\"field\":\"x\""));
	httpc_free(&r);
	assert_int_equal(tstaff_call(t.d.port, "GET", "/api/v1/cases/1/actions/Timeline", tstaff_as(&t, "bj"),
	                             0, NULL, &r),
	                 404);
	httpc_free(&r);
}

/* One case from received to closed and back, by the roles that must take each step. */
static void test_closed_loop(void **state)
{
	(void)state;
	struct httpc_response r;

	act("bj", 1, "accept", "{\"note\": \"受理\"}", 200, NULL);
	act("bj", 1, "accept", "{}", 409, NULL);
	act("bj", 1, "distribute", "{}", 200, NULL);
	/* The unit of the county an official of the report works in is refused (conflict of interest). */
	act("bj", 1, "assign", "{\"unit\": 5, \"review_unit\": 6}", 400, "unit");
	act("bj", 1, "assign", "{\"unit\": 7, \"review_unit\": 6}", 400, "unit"); /* another province */
	act("bj", 1, "assign", "{\"unit\": 6, \"review_unit\": 6}", 400,
	    "unit"); /* not a verification unit */
	act("bj", 1, "assign", "{\"unit\": 4, \"review_unit\": 4}", 400, "review_unit");
	act("bj", 1, "assign", "{\"unit\": 4, \"review_unit\": 6, \"working_days\": 0}", 400, "working_days");
	act("bj", 1, "assign", "{\"unit\": 4, \"review_unit\": 6, \"working_days\": 10}", 200, NULL);
	assert_int_equal(
	        q("SELECT (deadline = add_working_days(wf_today(), 10))::int FROM cases WHERE id = %d", 1),
	        1);
	/* The unit now sees it; it starts and submits a result. */
	act("cy", 1, "start", "{}", 200, NULL);
	act("cy", 1, "submit_result", "{\"result\": \"substantiated\"}", 400, "findings");
	act("cy", 1, "submit_result",
	    "{\"result\": \"substantiated\", \"findings\": \"查明属实\", \"actions\": \"已立案\", "
	    "\"attachments\": "
	    "[{\"filename\": \"report.txt\", \"content_type\": \"text/plain\", \"data\": \"aGVsbG8=\"}]}",
	    200, NULL);
	assert_string_equal(stage_of(1), "under_review");
	/* The result's file downloads for those who see the case, and each download is logged. */
	char path[96];
	snprintf(path, sizeof(path), "/api/v1/cases/1/results/%lld/files/0",
	         q("SELECT max(id) FROM case_results WHERE case_id = %d", 1));
	assert_int_equal(tstaff_call(t.d.port, "GET", path, tstaff_as(&t, "rev"), 0, NULL, &r), 200);
	assert_int_equal(r.body_len, 5);
	assert_memory_equal(r.body, "hello", 5);
	httpc_free(&r);
	assert_int_equal(tstaff_call(t.d.port, "GET", path, tstaff_as(&t, "sh"), 0, NULL, &r), 404);
	httpc_free(&r);
	path[strlen(path) - 1] = '1';
	assert_int_equal(tstaff_call(t.d.port, "GET", path, tstaff_as(&t, "rev"), 0, NULL, &r), 404);
	httpc_free(&r);
	assert_int_equal(
	        q("SELECT count(*) FROM audit_events WHERE action = 'result_file.download' AND %d = 1", 1),
	        1);
	/* Review: the unit may not review itself; each sign-off once; a rejection needs reasons. */
	act("cy", 1, "review", "{\"decision\": \"approve\"}", 403, NULL);
	act("rev", 1, "review", "{\"decision\": \"approve\"}", 200, NULL);
	act("rev", 1, "review", "{\"decision\": \"approve\"}", 409, NULL);
	assert_string_equal(stage_of(1), "under_review");
	act("bj", 1, "review", "{\"decision\": \"reject\"}", 400, "reasons");
	act("bj", 1, "review", "{\"decision\": \"reject\", \"reasons\": \"证据不足\"}", 200, NULL);
	assert_string_equal(stage_of(1), "verifying");
	act("cy", 1, "submit_result", "{\"result\": \"partially_substantiated\", \"findings\": \"补充核查\"}",
	    200, NULL);
	act("bj", 1, "review", "{\"decision\": \"approve\"}", 200, NULL);
	act("rev", 1, "review", "{\"decision\": \"approve\"}", 200, NULL);
	assert_string_equal(stage_of(1), "concluded");
	assert_int_equal(q("SELECT count(*) FROM cases WHERE id = %d AND result = 'partially_substantiated' "
	                   "AND concluded_at IS NOT NULL",
	                   1),
	                 1);
	/* A contactable reporter: no closing before the closing feedback is recorded. */
	assert_int_equal(tpg_exec(t.owner, "UPDATE cases SET received_at = '2026-12-01' WHERE id = 1"), 0);
	act("bj", 1, "close", "{}", 409, NULL);
	act("cy", 1, "record_contact",
	    "{\"channel\": \"phone\", \"outcome\": \"reached\", \"contacted_at\": "
	    "\"2099-01-01T00:00:00+08:00\"}",
	    400, "contacted_at");
	act("cy", 1, "record_contact",
	    "{\"channel\": \"phone\", \"outcome\": \"reached\", \"contacted_at\": "
	    "\"2026-02-30T09:00:00+08:00\"}",
	    400, "contacted_at");
	act("cy", 1, "record_contact",
	    "{\"channel\": \"phone\", \"outcome\": \"reached\", \"contacted_at\": \"2026-12-05 09:00\"}", 400,
	    "contacted_at");
	act("cy", 1, "record_contact",
	    "{\"channel\": \"fax\", \"outcome\": \"reached\", \"contacted_at\": "
	    "\"2026-12-05T09:00:00+08:00\"}",
	    400, "channel");
	act("cy", 1, "record_contact",
	    "{\"channel\": \"phone\", \"outcome\": \"not_reached\", \"contacted_at\": "
	    "\"2026-12-05T09:00:00+08:00\", "
	    "\"closing\": true}",
	    400, "closing");
	char body[200];
	snprintf(body, sizeof(body),
	         "{\"channel\": \"phone\", \"outcome\": \"reached\", \"contacted_at\": \"%s\", \"closing\": "
	         "true}",
	         "2026-12-05T09:00:00+08:00");
	act("cy", 1, "record_contact", body, 200, NULL);
	assert_string_equal(stage_of(1), "feedback_given");
	act("cy", 1, "close", "{}", 403, NULL);
	act("bj", 1, "close", "{}", 200, NULL);
	assert_string_equal(stage_of(1), "closed");
	/* Re-examination: back to the unit with a new deadline. */
	act("bj", 1, "reopen", "{\"reason\": \"回访不满意\"}", 400, "working_days");
	act("bj", 1, "reopen", "{\"reason\": \"回访不满意\", \"working_days\": 5}", 200, NULL);
	assert_string_equal(stage_of(1), "verifying");

	/* The public saw each stage, in order. */
	PGresult *res = PQexec(
	        t.owner,
	        "SELECT string_agg(o.stage || '/' || o.result, ' ' ORDER BY o.id) FROM status_outbox o "
	        "JOIN reports r ON r.query_hash = o.query_hash WHERE r.id = 1");
	assert_string_equal(
	        PQgetvalue(res, 0, 0),
	        "received/pending accepted/pending distributed/pending assigned/pending verifying/pending "
	        "under_review/pending verifying/pending under_review/pending "
	        "concluded/partially_substantiated feedback_given/partially_substantiated "
	        "closed/partially_substantiated verifying/pending");
	PQclear(res);
	/* Each change is on the timeline and an audit event with the row's hashes. */
	assert_int_equal(q("SELECT count(*) FROM case_events WHERE case_id = %d", 1), 14);
	assert_int_equal(
	        q("SELECT count(*) FROM audit_events WHERE object = 'case:%d' AND action LIKE 'case._%%' "
	          "AND action NOT LIKE 'case.view%%' AND before_hash IS NOT NULL AND after_hash IS NOT NULL",
	          1),
	        13);
	assert_int_equal(tstaff_call(t.d.port, "GET", "/api/v1/cases/1/actions/timeline", tstaff_as(&t, "cy"),
	                             0, NULL, &r),
	                 200);
	assert_non_null(strstr(r.body, "\"action\": \"reopen\""));
	httpc_free(&r);
	assert_int_equal(tstaff_call(t.d.port, "GET", "/api/v1/cases/1/actions/workflow", tstaff_as(&t, "cy"),
	                             0, NULL, &r),
	                 200);
	assert_non_null(strstr(
	        r.body, "\"actions\": [\"extension_request\", \"record_contact\", \"submit_result\"]"));
	assert_non_null(strstr(r.body, "\"filename\": \"report.txt\""));
	httpc_free(&r);
}

/* Declining, redistribution up to the national office, closing a report nobody can contact. */
static void test_other_paths(void **state)
{
	(void)state;
	struct httpc_response r;

	act("bj", 2, "redistribute", "{\"unit\": 3, \"reason\": \"错分\"}", 403, NULL);
	act("bj", 2, "redistribute", "{\"unit\": 2, \"reason\": \"x\"}", 409, NULL);
	act("bj", 2, "redistribute", "{\"unit\": 1}", 400, "reason");
	act("bj", 2, "redistribute", "{\"unit\": 1, \"reason\": \"涉及本级干部\"}", 200, NULL);
	assert_int_equal(tstaff_call(t.d.port, "GET", "/api/v1/cases/2", tstaff_as(&t, "bj"), 0, NULL, &r),
	                 404);
	httpc_free(&r);
	act("nat", 2, "redistribute", "{\"unit\": 2, \"reason\": \"不涉及\"}", 200, NULL);
	act("bj", 2, "accept", "{}", 200, NULL);

	act("sh", 4, "decline", "{\"result\": \"insufficient_information\", \"reason\": \"线索不足\"}", 200,
	    NULL);
	act("sh", 4, "accept", "{}", 409, NULL);
	assert_int_equal(q("SELECT count(*) FROM cases WHERE id = %d AND stage = 'not_accepted' "
	                   "AND result = 'insufficient_information' AND closed_at IS NOT NULL",
	                   4),
	                 1);

	/* Nobody can contact this reporter: no contact is recorded, and the case closes on its bulletin. */
	assert_int_equal(tpg_exec(t.owner, "UPDATE cases SET contactable = false WHERE id = 3"), 0);
	act("bj", 3, "accept", "{}", 200, NULL);
	act("bj", 3, "distribute", "{}", 200, NULL);
	act("bj", 3, "assign", "{\"unit\": 4, \"review_unit\": 6}", 200, NULL);
	act("cy", 3, "start", "{}", 200, NULL);
	act("cy", 3, "record_contact",
	    "{\"channel\": \"phone\", \"outcome\": \"reached\", \"contacted_at\": "
	    "\"2026-12-05T09:00:00+08:00\"}",
	    409, NULL);
	act("bj", 3, "reassign", "{\"unit\": 4, \"reason\": \"x\"}", 400, "unit");
	act("bj", 3, "reassign", "{\"unit\": 5, \"reason\": \"x\"}", 400, "unit"); /* conflict of interest */
	act("cy", 3, "submit_result", "{\"result\": \"not_substantiated\", \"findings\": \"不属实\"}", 200,
	    NULL);
	act("nat", 3, "review", "{\"decision\": \"approve\"}", 200, NULL);
	act("rev", 3, "review", "{\"decision\": \"approve\"}", 200, NULL);
	act("nat", 3, "supervise", "{\"instruction\": \"按期办结\"}", 200, NULL);
	act("bj", 3, "close", "{}", 200, NULL);
	assert_string_equal(stage_of(3), "closed");
}

/*
 * Every transition, every role, every stage: the one check all transitions pass first agrees with the
 * table in docs/workflow.md. Run as the request path's role with each user as the acting user, on a
 * case handled by the Beijing office, assigned to the Chaoyang unit, reviewed by Beijing review.
 */
static void test_transition_matrix(void **state)
{
	(void)state;
	static const char *const stages[] = {"received",  "accepted",     "distributed", "assigned",
	                                     "verifying", "under_review", "concluded",   "feedback_given",
	                                     "closed",    "not_accepted"};
	static const struct {
		const char *actor;
		const char *allowed; /* users who may, separated by spaces */
	} actors[] = {{"office", " nat bj "},
	              {"unit", " cy "},
	              {"worker", " nat bj cy "},
	              {"review", " nat bj rev "}};
	PGconn *app = tpg_connect(&t.f.pg, "tip_app");
	PGresult *tr = PQexec(
	        t.owner, "SELECT name, actor, array_to_string(from_stages, ' ') FROM workflow_transitions");
	int checked = 0;

	assert_int_equal(PQresultStatus(tr), PGRES_TUPLES_OK);
	assert_int_equal(PQntuples(tr), 14);
	assert_int_equal(tpg_exec(t.owner,
	                          "UPDATE cases SET handling_unit = 2, assigned_unit = 4, review_unit = 6, "
	                          "conflict = false, merged_into = NULL WHERE id = 2"),
	                 0);
	for (size_t st = 0; st < sizeof(stages) / sizeof(stages[0]); st++) {
		char sql[200];
		snprintf(sql, sizeof(sql), "UPDATE cases SET stage = '%s' WHERE id = 2", stages[st]);
		assert_int_equal(tpg_exec(t.owner, sql), 0);
		for (int i = 0; i < PQntuples(tr); i++) {
			const char *name = PQgetvalue(tr, i, 0), *actor = PQgetvalue(tr, i, 1);
			char from[200];
			snprintf(from, sizeof(from), " %s ", PQgetvalue(tr, i, 2));
			int stage_ok =
			        strstr(from, stages[st]) && from[strstr(from, stages[st]) - from - 1] == ' ';
			const char *allowed = NULL;
			for (size_t a = 0; a < sizeof(actors) / sizeof(actors[0]); a++)
				if (!strcmp(actors[a].actor, actor))
					allowed = actors[a].allowed;
			assert_non_null(allowed);
			for (size_t u = 0; u < N_USERS; u++) {
				char who[16], uid[24];
				const char *p[] = {uid, name};
				snprintf(who, sizeof(who), " %s ", users[u][0]);
				snprintf(uid, sizeof(uid), "%zu", u + 1);
				assert_int_equal(tpg_exec(app, "BEGIN"), 0);
				PGresult *r = PQexecParams(app, "SELECT set_config('tip.actor', $1, true)", 1,
				                           NULL, p, NULL, NULL, 0);
				PQclear(r);
				r = PQexecParams(app,
				                 "SELECT coalesce((wf_refusal(c, $1))[1], 'allowed') FROM "
				                 "cases c WHERE id = 2",
				                 1, NULL, p + 1, NULL, NULL, 0);
				assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
				const char *got = PQntuples(r) ? PQgetvalue(r, 0, 0) : "invisible";
				const char *want = !strstr(allowed, who) ? NULL
				                   : stage_ok            ? "allowed"
				                                         : "TW409";
				/* Those not allowed either do not see the case or are refused for their role.
				 */
				if (want ? strcmp(got, want) != 0
				         : strcmp(got, "invisible") && strcmp(got, "TW403"))
					fail_msg("%s on a %s case as %s: %s, not %s", name, stages[st],
					         users[u][0], got, want ? want : "invisible or TW403");
				PQclear(r);
				assert_int_equal(tpg_exec(app, "ROLLBACK"), 0);
				checked++;
			}
		}
	}
	assert_int_equal(checked, 10 * 14 * (int)N_USERS);
	PQclear(tr);
	PQfinish(app);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_distribution),      cmocka_unit_test(test_refusals),
	        cmocka_unit_test(test_closed_loop),       cmocka_unit_test(test_other_paths),
	        cmocka_unit_test(test_transition_matrix),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
