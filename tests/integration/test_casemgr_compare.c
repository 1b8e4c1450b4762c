/*
 * Comparison inside a province, end to end: reports through the real casemgrd into a real
 * PostgreSQL. Ingest stores the keyed digests of each case; the comparison proposes links with a
 * score and the matching fields for the same ID number in another report, the same phone written
 * differently, a similar place, and never across provinces; a case is compared once, also across a
 * restart; a failed comparison leaves ingest going and the cases queued.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "daemon.h"
#include "pg.h"
#include "testutil.h"

#include "common/encoding.h"
#include "common/err.h"
#include "internal/match.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct tcm f;
static struct tdaemon d;
static PGconn *owner;

static void start_daemon(void)
{
	char log[300];

	tdaemon_stop(&d, SIGKILL); /* left running only by a test that failed half-way */
	snprintf(log, sizeof(log), "%s/casemgrd.log", f.dir);
	assert_int_equal(tdaemon_start(&d, "casemgrd", f.conf, log), 0);
}

/* Waits (up to 30 s) until the query's value is at least n. */
static void wait_value(const char *sql, long long n)
{
	for (int i = 0; i < 3000; i++) {
		if (tpg_value(owner, sql) >= n)
			return;
		usleep(10000);
	}
	char *log = tu_read_file(d.log, NULL);
	fail_msg("%s stayed below %lld; casemgrd's log:\n%s", sql, n, log ? log : "");
}

/*
 * A report that shares nothing with the others: an anonymous reporter, one person, one official,
 * a place, all drawn from i. The tests then give it what it should share.
 */
struct report {
	struct tu_report t;
	char person[32], phone[32], official[32], place[64];
};

static void report_init(struct report *r, int i, const char *region)
{
	static const char *const given[] = {"〇", "一", "二", "三", "四", "五", "六", "七", "八", "九"};

	tu_report_init(&r->t);
	r->t.reporter.anonymous = 1;
	r->t.reporter.name = r->t.reporter.id_number = r->t.reporter.phone = r->t.reporter.address = "";
	r->t.reporter.contact_allowed = 0;
	r->t.reporter.channel = "";
	snprintf(r->person, sizeof(r->person), "路人%s%s", given[i % 10], given[i / 10 % 10]);
	snprintf(r->phone, sizeof(r->phone), "1350000%04d", i);
	snprintf(r->official, sizeof(r->official), "官员%s%s", given[i % 10], given[i / 10 % 10]);
	snprintf(r->place, sizeof(r->place), "第%s%s号仓库", given[i % 10], given[i / 10 % 10]);
	r->t.person.name = r->person;
	r->t.person.n_aliases = 0;
	r->t.phones[0] = r->phone;
	r->t.person.region = "";
	r->t.official.name = r->official;
	r->t.activity.place = r->place;
	r->t.activity.region = (char *)region;
	r->t.query_hash[0] = (uint8_t)i; /* one query code each, to tell their bulletins apart */
}

static void real_name(struct report *r, const char *id_number, const char *phone)
{
	r->t.reporter.anonymous = 0;
	r->t.reporter.name = "张三";
	r->t.reporter.id_number = (char *)id_number;
	r->t.reporter.phone = (char *)phone;
	r->t.reporter.address = "北京市东城区";
	r->t.reporter.contact_allowed = 1;
	r->t.reporter.channel = "phone";
}

static void add(struct report *r)
{
	uint8_t *rec;
	size_t len;

	tcm_seal(&f, &r->t.r, NULL, &rec, &len);
	tcm_append(&f, &rec, &len, 1);
	free(rec);
}

/* The link between two cases as "state score fields", or "" when there is none. */
static char *link_of(long long a, long long b)
{
	static char out[256];
	char params[2][24];
	const char *p[] = {params[0], params[1]};

	snprintf(params[0], sizeof(params[0]), "%lld", a < b ? a : b);
	snprintf(params[1], sizeof(params[1]), "%lld", a < b ? b : a);
	PGresult *r = PQexecParams(owner,
	                           "SELECT state || ' ' || score || ' ' || array_to_string(fields, ',') FROM "
	                           "case_links WHERE case_a = $1 AND case_b = $2",
	                           2, NULL, p, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	snprintf(out, sizeof(out), "%s", PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
	PQclear(r);
	return out;
}

static int setup(void **state)
{
	(void)state;
	tcm_setup(&f, 1);
	owner = tpg_connect(&f.pg, "tip_owner");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tdaemon_stop(&d, SIGKILL);
	PQfinish(owner);
	tcm_teardown(&f);
	return 0;
}

/* Cases, in order: the ids the tests below refer to. */
enum {
	C_FIRST = 1,
	C_SAME_ID,
	C_SAME_PHONE,
	C_SIMILAR_PLACE,
	C_SH_SAME,
	C_SH_SAME_ID,
	C_UNRELATED,
	C_COPY,
	C_N
};

static void test_proposals(void **state)
{
	(void)state;
	struct report r;

	/* 1: a real-name report in Beijing. */
	report_init(&r, 1, "110101");
	real_name(&r, "11010519491231002X", "+86 138-0000-0000");
	r.t.phones[0] = "13711112222";
	r.t.activity.place = "东湖砂石码头";
	add(&r);
	/* 2: the same ID number, its check character in lower case; nothing else shared. */
	report_init(&r, 2, "110102");
	real_name(&r, "11010519491231002x", "13522223333");
	add(&r);
	/* 3: the first one's person's phone, written another way, for another person. */
	report_init(&r, 3, "110105");
	r.t.phones[0] = "+86 137 1111 2222";
	add(&r);
	/* 4: a place like the first one's. */
	report_init(&r, 4, "110101");
	r.t.activity.place = "东湖砂石码头旁";
	add(&r);
	/* 5: in Shanghai, everything of the first one. */
	report_init(&r, 5, "310101");
	real_name(&r, "11010519491231002X", "+86 138-0000-0000");
	r.t.phones[0] = "13711112222";
	r.t.activity.place = "东湖砂石码头";
	add(&r);
	/* 6: in Shanghai, the ID number of 5 (and of 1). */
	report_init(&r, 6, "310104");
	real_name(&r, "11010519491231002X", "13944445555");
	add(&r);
	/* 7: nothing in common with anything. */
	report_init(&r, 7, "110101");
	add(&r);
	/* 8: a copy of the first one (the person and the official too). */
	report_init(&r, 1, "110101");
	real_name(&r, "11010519491231002X", "+86 138-0000-0000");
	r.t.phones[0] = "13711112222";
	r.t.activity.place = "东湖砂石码头";
	r.t.query_hash[0] = 8;
	add(&r);

	start_daemon();
	wait_value("SELECT count(*) FROM cases WHERE compared_at IS NOT NULL", C_N - 1);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM cases"), C_N - 1);

	/* The digests at ingest: HMAC-SHA256 under the index key of the normalised values, by kind. */
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM case_keys WHERE case_id = 1"), 6);
	static const struct {
		enum match_kind kind;
		const char *value;
	} keys[] = {{MATCH_ID_NUMBER, "11010519491231002X"},
	            {MATCH_PHONE, "13800000000"},
	            {MATCH_PHONE, "13711112222"},
	            {MATCH_NAME, "路人一〇"},
	            {MATCH_OFFICIAL, "官员一〇"},
	            {MATCH_PLACE, "东湖砂石码头"}};
	struct match_key *mk = match_key_new(f.index_key.secret);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		uint8_t digest[MATCH_DIGEST_LEN];
		char hex[2 * MATCH_DIGEST_LEN + 1];
		const char *p[] = {match_kind_name(keys[i].kind), hex};

		assert_int_equal(match_key_of(mk, keys[i].kind, keys[i].value, digest), TIP_OK);
		hex_encode(digest, sizeof(digest), hex, sizeof(hex));
		PGresult *res =
		        PQexecParams(owner,
		                     "SELECT province FROM case_keys WHERE case_id = 1 AND kind = $1 AND "
		                     "digest = decode($2, 'hex')",
		                     2, NULL, p, NULL, NULL, 0);
		if (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 0), "110000") != 0)
			fail_msg("no %s digest of %s for case 1", p[0], keys[i].value);
		PQclear(res);
	}
	match_key_free(mk);
	/* The anonymous reports have no reporter keys; the copy has the same digests as the first. */
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM case_keys WHERE case_id = 7"), 4);
	assert_int_equal(tpg_value(owner,
	                           "SELECT count(*) FROM case_keys a JOIN case_keys b USING (kind, digest) "
	                           "WHERE a.case_id = 1 AND b.case_id = 8"),
	                 6);

	/* The proposals, their scores (documented weights) and fields. */
	assert_string_equal(link_of(C_FIRST, C_SAME_ID), "proposed 0.9 id_number");
	assert_string_equal(link_of(C_FIRST, C_SAME_PHONE), "proposed 0.7 phone");
	assert_string_equal(link_of(C_FIRST, C_SIMILAR_PLACE), "proposed 0.2 place_similar");
	assert_string_equal(link_of(C_FIRST, C_COPY), "proposed 0.994 id_number,phone,official,name,place");
	assert_string_equal(link_of(C_SAME_ID, C_COPY), "proposed 0.9 id_number");
	assert_string_equal(link_of(C_SH_SAME, C_SH_SAME_ID), "proposed 0.9 id_number");
	/* Never across provinces, whatever they share; nothing for the unrelated one. */
	assert_string_equal(link_of(C_FIRST, C_SH_SAME), "");
	assert_string_equal(link_of(C_SAME_ID, C_SH_SAME_ID), "");
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM case_links l JOIN cases a ON a.id = l.case_a "
	                                  "JOIN cases b ON b.id = l.case_b WHERE a.province <> b.province"),
	                 0);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM case_links WHERE 7 IN (case_a, case_b)"), 0);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM case_links"), 8);
	/* Counted, and one audit event per comparison run. */
	for (int i = 0; i < 300 && tcm_metric(&f, "casemgr_compared_total") < C_N - 1; i++)
		usleep(10000);
	assert_int_equal(tcm_metric(&f, "casemgr_compared_total"), C_N - 1);
	assert_int_equal(tcm_metric(&f, "casemgr_compare_errors_total"), 0);
	assert_true(tpg_value(owner, "SELECT count(*) FROM audit_events WHERE action = 'compare.run'") >= 1);

	/* Never compared twice, across a restart either. */
	long long runs = tpg_value(owner, "SELECT count(*) FROM audit_events WHERE action = 'compare.run'");
	long long at = tpg_value(owner, "SELECT extract(epoch FROM max(compared_at)) * 1000000 FROM cases");
	assert_int_equal(tdaemon_stop(&d, SIGTERM), 0);
	start_daemon();
	usleep(300000);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM audit_events WHERE action = 'compare.run'"),
	                 runs);
	assert_int_equal(tpg_value(owner, "SELECT extract(epoch FROM max(compared_at)) * 1000000 FROM cases"),
	                 at);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM case_links"), 8);
	assert_int_equal(tdaemon_stop(&d, SIGTERM), 0);
}

/* A comparison that fails leaves ingest going; the cases wait and are compared once it works again. */
static void test_failure_keeps_ingest(void **state)
{
	(void)state;
	struct report r;
	long long cases = tpg_value(owner, "SELECT count(*) FROM cases");

	assert_int_equal(tpg_exec(owner, "REVOKE UPDATE (compared_at) ON cases FROM tip_ingest"), 0);
	start_daemon();
	report_init(&r, 20, "110101");
	real_name(&r, "11010519491231002X", "13800000000");
	add(&r);
	wait_value("SELECT count(*) FROM cases", cases + 1);
	for (int i = 0; i < 500 && tcm_metric(&f, "casemgr_compare_errors_total") < 1; i++)
		usleep(10000);
	assert_true(tcm_metric(&f, "casemgr_compare_errors_total") >= 1);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM cases WHERE compared_at IS NULL"), 1);
	assert_int_equal(tpg_exec(owner, "GRANT UPDATE (compared_at) ON cases TO tip_ingest"), 0);
	/* The next batch compares the one that waited too. */
	report_init(&r, 21, "110101");
	add(&r);
	wait_value("SELECT count(*) FROM cases WHERE compared_at IS NOT NULL", cases + 2);
	assert_string_equal(link_of(C_FIRST, cases + 1), "proposed 0.97 id_number,phone");
	assert_int_equal(tdaemon_stop(&d, SIGTERM), 0);
	char *log = tu_read_file(d.log, NULL);
	assert_non_null(strstr(log, "comparison failed, cases stay queued"));
	free(log);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_proposals),
	        cmocka_unit_test(test_failure_keeps_ingest),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
