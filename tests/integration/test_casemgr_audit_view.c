/*
 * The auditors' view of the audit trail (migration 0011), against a real PostgreSQL and casemgrd: who may
 * call the audit operations, paging and filters of the events, each view an audit event itself, the
 * heads for export, and an event changed behind the triggers' back found by the status.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct tstaff t;

static const char *const users[][4] = {
        {"nat", "national", "1", NULL}, {"bj", "provincial", "2", NULL}, {"cy", "unit_officer", "4", NULL},
        {"rev", "reviewer", "5", NULL}, {"aud", "auditor", "1", NULL},   {"adm", "administrator", "1", NULL},
};
#define N_USERS (sizeof(users) / sizeof(users[0]))

static int setup(void **state)
{
	(void)state;
	static const struct tstaff_reports reports[] = {{"110101", 3}};

	tstaff_setup(&t,
	             TSTAFF_OFFICES "(2, 'verification', '110105', '110000', 'Chaoyang unit'), "
	                            "(2, 'review', '110000', '110000', 'Beijing review')",
	             users, N_USERS, reports, 1);
	/* 30 events of known shape, and a head over everything so far (its note as the signer writes it). */
	assert_int_equal(tpg_exec(t.owner, "INSERT INTO audit_events (actor, action, object) "
	                                   "SELECT 900 + i % 3, CASE WHEN i % 2 = 0 THEN 'test.even' ELSE "
	                                   "'test.odd' END, 'thing:' || i FROM generate_series(1, 30) i"),
	                 0);
	assert_int_equal(tpg_exec(t.owner,
	                          "INSERT INTO audit_heads (size, note) SELECT max(seq) + 1, "
	                          "E'tipline audit v1\\n' || (max(seq) + 1) || E'\\n' || "
	                          "(SELECT encode(hash, 'base64') FROM audit_events ORDER BY seq DESC "
	                          "LIMIT 1) || E'\\n\\n— test sig\\n' FROM audit_events"),
	                 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tstaff_teardown(&t);
	return 0;
}

/* GET /api/v1/ops/name[?query] as user, which must answer want (and, for an error, name field). */
static json_t *op(const char *user, const char *name, const char *query, int want, const char *field)
{
	char path[256], expect[96] = "\"field\":null";
	struct httpc_response r;
	json_error_t e;

	snprintf(path, sizeof(path), "/api/v1/ops/%s%s%s", name, query ? "?" : "", query ? query : "");
	int st = tstaff_call(t.d.port, "GET", path, tstaff_as(&t, user), 0, NULL, &r);
	if (st != want)
		fail_msg("%s GET %s: %d, not %d: %s", user, path, st, want, r.body ? r.body : "");
	if (want >= 400) {
		if (field)
			snprintf(expect, sizeof(expect), "\"field\":\"%s\"", field);
		if (!r.body || !strstr(r.body, expect))
			fail_msg("%s GET %s: want %s in %s", user, path, expect, r.body ? r.body : "");
	}
	json_t *doc = json_loadb(r.body ? r.body : "", r.body_len, 0, &e);
	httpc_free(&r);
	return doc;
}

static void test_roles(void **state)
{
	(void)state;
	static const char *const ops[] = {"audit_status", "audit_events", "audit_heads"};
	static const char *const denied[] = {"bj", "cy", "rev", "adm"};

	for (size_t i = 0; i < 3; i++) {
		json_decref(op("aud", ops[i], NULL, 200, NULL));
		json_decref(op("nat", ops[i], NULL, 200, NULL));
		for (size_t j = 0; j < 4; j++)
			json_decref(op(denied[j], ops[i], NULL, 403, NULL));
	}
	/* Each allowed view above is an event of its own, with the viewer as actor. */
	assert_int_equal(tpg_value(t.owner, "SELECT count(*) FROM audit_events WHERE action = 'audit.view'"),
	                 6);
	assert_int_equal(tpg_value(t.owner, "SELECT count(DISTINCT object) FROM audit_events "
	                                    "WHERE action = 'audit.view' AND actor IS NOT NULL"),
	                 3);
}

static void test_bad_arguments(void **state)
{
	(void)state;
	json_decref(op("aud", "audit_events", "limit=201", 400, "limit"));
	json_decref(op("aud", "audit_events", "limit=0", 400, "limit"));
	json_decref(op("aud", "audit_events", "before=x", 400, "before"));
	json_decref(op("aud", "audit_events", "actor=-1", 400, "actor"));
	json_decref(op("aud", "audit_events", "action=A-B", 400, "action"));
	json_decref(op("aud", "audit_events", "colour=red", 400, "colour"));
	json_decref(op("aud", "audit_status", "full=maybe", 400, "full"));
	json_decref(op("aud", "audit_heads", "x=1", 400, "x"));
}

static void test_paging_and_filters(void **state)
{
	(void)state;
	char q[96];
	long long before = -1, prev = -1;
	int seen = 0;

	/* The 15 odd events in pages of 4, newest first, seq strictly falling, the object prefix held. */
	for (int page = 0; page < 10; page++) {
		if (before < 0)
			snprintf(q, sizeof(q), "action=test.o&object=thing:&limit=4");
		else
			snprintf(q, sizeof(q), "action=test.o&object=thing:&limit=4&before=%lld", before);
		json_t *doc = op("aud", "audit_events", q, 200, NULL), *ev;
		size_t i;

		json_array_foreach(json_object_get(doc, "events"), i, ev)
		{
			long long seq = json_integer_value(json_object_get(ev, "seq"));

			assert_string_equal(json_string_value(json_object_get(ev, "action")), "test.odd");
			assert_true(prev < 0 || seq < prev);
			prev = seq;
			seen++;
		}
		json_t *next = json_object_get(doc, "next");
		before = json_is_integer(next) ? json_integer_value(next) : -1;
		json_decref(doc);
		if (before < 0)
			break;
	}
	assert_int_equal(seen, 15);

	/* An actor: 10 of the 30; an object prefix: thing:1 and thing:10..19. */
	json_t *doc = op("aud", "audit_events", "actor=901&limit=200", 200, NULL);
	assert_int_equal(json_array_size(json_object_get(doc, "events")), 10);
	assert_true(json_is_null(json_object_get(doc, "next")));
	json_decref(doc);
	doc = op("nat", "audit_events", "object=thing:1&limit=200", 200, NULL);
	assert_int_equal(json_array_size(json_object_get(doc, "events")), 11);
	json_decref(doc);
}

static void test_heads(void **state)
{
	(void)state;
	json_t *doc = op("aud", "audit_heads", NULL, 200, NULL);
	json_t *heads = json_object_get(doc, "heads"), *h;
	size_t i;

	/* Ours and whatever casemgrd has signed meanwhile, oldest first. */
	assert_true(json_array_size(heads) >= 1);
	json_array_foreach(heads, i, h)
	{
		assert_non_null(json_object_get(h, "size"));
		assert_non_null(json_object_get(h, "signed_at"));
		assert_memory_equal(json_string_value(json_object_get(h, "note")), "tipline audit v1\n", 17);
	}
	json_decref(doc);
}

static void expect_status(const char *query, int ok, const char *reason, long long bad_seq, int heads_ok)
{
	json_t *doc = op("aud", "audit_status", query, 200, NULL);
	json_t *chain = json_object_get(doc, "chain");

	assert_true(json_integer_value(json_object_get(doc, "events")) > 30);
	assert_non_null(json_object_get(json_object_get(doc, "head"), "note"));
	assert_int_equal(json_is_true(json_object_get(chain, "ok")), ok);
	if (reason) {
		assert_string_equal(json_string_value(json_object_get(chain, "reason")), reason);
		assert_int_equal(json_integer_value(json_object_get(chain, "bad_seq")), bad_seq);
	}
	assert_int_equal(json_is_true(json_object_get(doc, "heads_ok")), heads_ok);
	json_decref(doc);
}

/* Runs last: the chain is tampered with. */
static void test_tampered(void **state)
{
	(void)state;
	long long victim =
	        tpg_value(t.owner, "SELECT min(seq) + 5 FROM audit_events WHERE action = 'test.odd'");
	char sql[200];

	expect_status(NULL, 1, NULL, 0, 1);
	expect_status("full=true", 1, NULL, 0, 1);
	assert_int_equal(tpg_exec(t.owner, "ALTER TABLE audit_events DISABLE TRIGGER audit_append_only"), 0);
	snprintf(sql, sizeof(sql), "UPDATE audit_events SET object = 'thing:changed' WHERE seq = %lld",
	         victim);
	assert_int_equal(tpg_exec(t.owner, sql), 0);
	assert_int_equal(tpg_exec(t.owner, "ALTER TABLE audit_events ENABLE TRIGGER audit_append_only"), 0);
	/* Before the newest head: only the full check sees the event; the head still matches its hash. */
	expect_status(NULL, 1, NULL, 0, 1);
	expect_status("full=true", 0, "hash", victim, 1);

	/* Re-chained after the change (hash recomputed): the next event's prev_hash no longer matches. */
	assert_int_equal(tpg_exec(t.owner, "ALTER TABLE audit_events DISABLE TRIGGER audit_append_only"), 0);
	snprintf(sql, sizeof(sql),
	         "UPDATE audit_events SET hash = audit_event_hash(prev_hash, seq, at, actor, action, object, "
	         "before_hash, after_hash) WHERE seq = %lld",
	         victim);
	assert_int_equal(tpg_exec(t.owner, sql), 0);
	expect_status("full=true", 0, "prev_hash", victim + 1, 1);

	/* An event deleted after the head: a gap, found without full; the head's hash is still in place. */
	assert_int_equal(tpg_exec(t.owner, "DELETE FROM audit_events WHERE seq = (SELECT max(size) FROM "
	                                   "audit_heads) + 1"),
	                 0);
	assert_int_equal(tpg_exec(t.owner, "ALTER TABLE audit_events ENABLE TRIGGER audit_append_only"), 0);
	expect_status(NULL, 0, "gap", tpg_value(t.owner, "SELECT max(size) + 2 FROM audit_heads"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_roles),
	        cmocka_unit_test(test_bad_arguments),
	        cmocka_unit_test(test_paging_and_filters),
	        cmocka_unit_test(test_heads),
	        cmocka_unit_test(test_tampered),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
