/*
 * Comparison inside a province, end to end: reports through the real casemgrd into a real
 * PostgreSQL. Ingest stores the keyed digests of each case; the comparison proposes links with a
 * score and the matching fields for the same ID number in another report, the same phone written
 * differently, a similar place, and never across provinces; a case is compared once, also across a
 * restart; a failed comparison leaves ingest going and the cases queued. Through the staff API:
 * similar, link (confirm, reject) and merge per role, allowed and refused, and the bulletins of a
 * merged case.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "daemon.h"
#include "pg.h"
#include "staffc.h"
#include "testutil.h"

#include "common/encoding.h"
#include "common/err.h"
#include "internal/match.h"

#include <jansson.h>
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
	                           "SELECT state || ' ' || coalesce(score::text, '') || ' ' || "
	                           "array_to_string(fields, ',') FROM "
	                           "case_links WHERE case_a = $1 AND case_b = $2",
	                           2, NULL, p, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	snprintf(out, sizeof(out), "%s", PQntuples(r) ? PQgetvalue(r, 0, 0) : "");
	PQclear(r);
	return out;
}

/* Units: 1 national, 2 Beijing office, 3 Shanghai office, 4 Dongcheng unit, 5 Beijing review. */
static const char *const users[][4] = {
        {"nat", "national", "1", NULL},    {"bj", "provincial", "2", NULL}, {"sh", "provincial", "3", NULL},
        {"dc", "unit_officer", "4", NULL}, {"rev", "reviewer", "5", NULL},  {"aud", "auditor", "1", NULL},
};
#define N_USERS (sizeof(users) / sizeof(users[0]))

static int setup(void **state)
{
	(void)state;
	tcm_setup(&f, 1);
	owner = tpg_connect(&f.pg, "tip_owner");
	/* Before any case arrives, so that distribution gives each its province's office. */
	assert_int_equal(tpg_exec(owner,
	                          TSTAFF_OFFICES "(2, 'verification', '110101', '110000', 'Dongcheng unit'), "
	                                         "(2, 'review', '110000', '110000', 'Beijing review')"),
	                 0);
	tstaff_users(owner, users, N_USERS);
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

static struct tsession sess[N_USERS];

static const struct tsession *as(const char *user)
{
	for (size_t i = 0; i < N_USERS; i++)
		if (!strcmp(users[i][0], user))
			return &sess[i];
	fail_msg("no user %s", user);
	return NULL;
}

/* A case operation as user, expecting want (and field, for an error); the answer's body, freed next call. */
static const char *op(const char *user, const char *method, long long id, const char *name, const char *args,
                      int want, const char *field)
{
	static char *body;

	free(body);
	body = NULL;
	tstaff_op(d.port, as(user), method, id, name, args, want, field, &body);
	return body;
}

__attribute__((format(printf, 1, 2))) static long long q(const char *fmt, ...)
{
	char sql[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	return tpg_value(owner, sql);
}

/* Bulletins queued for the reporter of case id at stage/result. */
static long long bulletins(long long id, const char *stage, const char *result)
{
	return q(
	        "SELECT count(*) FROM status_outbox s JOIN reports r ON r.query_hash = s.query_hash "
	        "JOIN cases c ON c.report_id = r.id WHERE c.id = %lld AND s.stage = '%s' AND s.result = '%s'",
	        id, stage, result);
}

/*
 * The link to case other in a similar answer, as "state score fields stage result merged_into" (the
 * merged_into empty when null), or NULL when it is not listed; *rank is its place in the list.
 */
static const char *listed(const char *body, long long other, int *rank)
{
	static char out[256];
	json_error_t err;
	json_t *doc = json_loads(body, 0, &err), *links = json_object_get(doc, "links"), *l;
	const char *found = NULL;
	size_t i;

	assert_non_null(links);
	json_array_foreach(links, i, l)
	{
		json_t *fields = json_object_get(l, "fields"), *x;
		char list[128] = "";
		size_t k;

		if (json_integer_value(json_object_get(l, "case")) != other)
			continue;
		json_array_foreach(fields, k, x)
		{
			strncat(list, k ? "," : "", sizeof(list) - strlen(list) - 1);
			strncat(list, json_string_value(x), sizeof(list) - strlen(list) - 1);
		}
		char merged[24] = "";
		if (!json_is_null(json_object_get(l, "merged_into")))
			snprintf(merged, sizeof(merged), "%lld",
			         (long long)json_integer_value(json_object_get(l, "merged_into")));
		snprintf(out, sizeof(out), "%s %g %s %s %s %s",
		         json_string_value(json_object_get(l, "state")),
		         json_number_value(json_object_get(l, "score")), list,
		         json_string_value(json_object_get(l, "stage")),
		         json_string_value(json_object_get(l, "result")), merged);
		if (rank)
			*rank = (int)i;
		found = out;
	}
	json_decref(doc);
	return found;
}

/* Cases of the tests before: 9 (Beijing) has the ID number and phone of 1; 10 (Beijing) shares nothing. */
enum { C_FAILED = C_N, C_LATER };

static void test_similar(void **state)
{
	(void)state;
	const char *b;

	start_daemon();
	for (size_t i = 0; i < N_USERS; i++)
		sess[i] = tstaff_session(d.port, users[i][0], 1);
	/* The office sees its case's proposals, best first, with the other case's stage. */
	int r_copy, r_same_id;
	b = op("bj", "GET", C_FIRST, "similar", NULL, 200, NULL);
	assert_string_equal(listed(b, C_COPY, &r_copy),
	                    "proposed 0.994 id_number,phone,official,name,place received pending ");
	assert_string_equal(listed(b, C_SAME_ID, &r_same_id), "proposed 0.9 id_number received pending ");
	assert_true(r_copy < r_same_id);
	assert_string_equal(listed(b, C_SAME_PHONE, NULL), "proposed 0.7 phone received pending ");
	assert_string_equal(listed(b, C_SIMILAR_PLACE, NULL), "proposed 0.2 place_similar received pending ");
	assert_null(listed(b, C_SH_SAME, NULL)); /* Shanghai: never */
	assert_null(listed(b, C_UNRELATED, NULL));
	/* Shanghai's office sees Shanghai's, and not Beijing's case at all. */
	b = op("sh", "GET", C_SH_SAME, "similar", NULL, 200, NULL);
	assert_non_null(listed(b, C_SH_SAME_ID, NULL));
	op("sh", "GET", C_FIRST, "similar", NULL, 404, NULL);
	/* A unit officer sees the links between the cases assigned to its unit only. */
	assert_int_equal(tpg_exec(owner, "UPDATE cases SET assigned_unit = 4 WHERE id IN (1, 3)"), 0);
	b = op("dc", "GET", C_FIRST, "similar", NULL, 200, NULL);
	assert_non_null(listed(b, C_SAME_PHONE, NULL));
	assert_null(listed(b, C_SAME_ID, NULL));
	op("dc", "GET", C_SAME_ID, "similar", NULL, 404, NULL);
	op("aud", "GET", C_FIRST, "similar", NULL, 403, NULL);
	op("bj", "GET", C_FIRST, "similar", "x=1", 400, "x");
	op("bj", "POST", C_FIRST, "similar", "{}", 405, NULL);
}

static void test_link(void **state)
{
	(void)state;
	const char *b;
	int r_first;

	b = op("bj", "POST", C_FIRST, "link", "{\"other\": 2, \"decision\": \"confirm\"}", 200, NULL);
	assert_non_null(strstr(b, "\"state\": \"confirmed\""));
	assert_string_equal(link_of(C_FIRST, C_SAME_ID), "confirmed 0.9 id_number");
	assert_int_equal(
	        q("SELECT count(*) FROM case_links l JOIN users u ON u.id = l.decided_by "
	          "WHERE case_a = 1 AND case_b = 2 AND u.username = 'bj' AND decided_at IS NOT NULL"),
	        1);
	/* One event on each case's timeline, each in the audit trail. */
	assert_int_equal(q("SELECT count(*) FROM case_events WHERE action = 'link' AND case_id IN (1, 2) AND "
	                   "detail ->> 'state' = 'confirmed'"),
	                 2);
	assert_int_equal(q("SELECT count(*) FROM audit_events WHERE action = 'case.link'"), 2);
	/* Rejected: no longer listed, and never proposed again. */
	op("bj", "POST", C_SAME_PHONE, "link", "{\"other\": 1, \"decision\": \"reject\"}", 200, NULL);
	assert_string_equal(link_of(C_FIRST, C_SAME_PHONE), "rejected 0.7 phone");
	b = op("bj", "GET", C_FIRST, "similar", NULL, 200, NULL);
	assert_null(listed(b, C_SAME_PHONE, NULL));
	assert_string_equal(listed(b, C_SAME_ID, &r_first), "confirmed 0.9 id_number received pending ");
	assert_int_equal(r_first, 0); /* confirmed links first */
	/* The national office decides too; a pair never proposed can be linked by hand. */
	op("nat", "POST", C_LATER, "link", "{\"other\": 7, \"decision\": \"confirm\"}", 200, NULL);
	assert_string_equal(link_of(7, C_LATER), "confirmed  ");
	/* Refused: other roles, other provinces, bad arguments. */
	op("dc", "POST", C_FIRST, "link", "{\"other\": 3, \"decision\": \"confirm\"}", 403, NULL);
	op("rev", "POST", C_FIRST, "link", "{\"other\": 3, \"decision\": \"confirm\"}", 403, NULL);
	op("aud", "POST", C_FIRST, "link", "{\"other\": 3, \"decision\": \"confirm\"}", 403, NULL);
	op("sh", "POST", C_FIRST, "link", "{\"other\": 2, \"decision\": \"confirm\"}", 404, NULL);
	op("sh", "POST", C_SH_SAME, "link", "{\"other\": 1, \"decision\": \"confirm\"}", 404, NULL);
	b = op("nat", "POST", C_FIRST, "link", "{\"other\": 5, \"decision\": \"confirm\"}", 409, NULL);
	assert_non_null(strstr(b, "different provinces"));
	op("bj", "POST", C_FIRST, "link", "{\"other\": 1, \"decision\": \"confirm\"}", 400, "other");
	op("bj", "POST", C_FIRST, "link", "{\"other\": \"x\", \"decision\": \"confirm\"}", 400, "other");
	op("bj", "POST", C_FIRST, "link", "{\"other\": 2}", 400, "decision");
	op("bj", "POST", C_FIRST, "link", "{\"other\": 2, \"decision\": \"maybe\"}", 400, "decision");
	op("bj", "POST", C_FIRST, "link", "{\"other\": 2, \"decision\": \"confirm\", \"x\": 1}", 400, "x");
	op("bj", "POST", C_FIRST, "link", "{\"other\": 99, \"decision\": \"confirm\"}", 404, NULL);
	/* Nothing changed by the refusals. */
	assert_int_equal(q("SELECT count(*) FROM case_events WHERE action = 'link'"), 6);
	assert_string_equal(link_of(C_FIRST, C_SH_SAME), "");
}

static void test_merge(void **state)
{
	(void)state;
	const char *b;

	/* The copy joins the first case: merged, at the first one's stage, its reporter told. */
	b = op("bj", "POST", C_COPY, "merge", "{\"into\": 1}", 200, NULL);
	assert_non_null(strstr(b, "\"merged_into\": 1"));
	assert_int_equal(
	        q("SELECT count(*) FROM cases WHERE id = 8 AND merged_into = 1 AND stage = 'received' AND "
	          "result = 'merged'"),
	        1);
	assert_int_equal(bulletins(C_COPY, "received", "merged"), 1);
	assert_string_equal(link_of(C_FIRST, C_COPY), "confirmed 0.994 id_number,phone,official,name,place");
	assert_int_equal(q("SELECT count(*) FROM case_events WHERE case_id = 8 AND action = 'merge' AND "
	                   "detail ->> 'into' = '1'"),
	                 1);
	b = op("bj", "GET", C_FIRST, "similar", NULL, 200, NULL);
	assert_string_equal(listed(b, C_COPY, NULL),
	                    "confirmed 0.994 id_number,phone,official,name,place received merged 1");

	/* Refused, each with its reason, changing nothing. */
	b = op("bj", "POST", C_COPY, "merge", "{\"into\": 1}", 409, NULL);
	assert_non_null(strstr(b, "already merged into case 1"));
	b = op("bj", "POST", C_FIRST, "merge", "{\"into\": 8}", 409, NULL);
	assert_non_null(strstr(b, "cycle"));
	b = op("bj", "POST", C_SAME_ID, "merge", "{\"into\": 8}", 409, NULL);
	assert_non_null(strstr(b, "merge into that one"));
	op("bj", "POST", C_FIRST, "merge", "{\"into\": 1}", 400, "into");
	op("bj", "POST", C_FIRST, "merge", "{\"into\": \"abc\"}", 400, "into");
	op("bj", "POST", C_FIRST, "merge", "{}", 400, "into");
	op("bj", "POST", C_FIRST, "merge", "{\"into\": 2, \"why\": 1}", 400, "why");
	b = op("nat", "POST", C_SH_SAME, "merge", "{\"into\": 1}", 409, NULL);
	assert_non_null(strstr(b, "different provinces"));
	op("sh", "POST", C_SH_SAME, "merge", "{\"into\": 1}", 404, NULL);
	op("dc", "POST", C_FIRST, "merge", "{\"into\": 3}", 403, NULL);
	op("rev", "POST", C_FIRST, "merge", "{\"into\": 3}", 403, NULL);
	b = op("bj", "POST", C_COPY, "link", "{\"other\": 1, \"decision\": \"reject\"}", 409, NULL);
	assert_non_null(strstr(b, "stays linked"));
	assert_int_equal(tpg_exec(owner, "UPDATE cases SET stage = 'closed' WHERE id = 7"), 0);
	b = op("bj", "POST", 7, "merge", "{\"into\": 1}", 409, NULL);
	assert_non_null(strstr(b, "final answer"));
	assert_int_equal(tpg_exec(owner, "UPDATE cases SET stage = 'received' WHERE id = 7"), 0);
	/* A merged case takes no transition of its own. */
	b = op("bj", "POST", C_COPY, "accept", "{}", 409, NULL);
	assert_non_null(strstr(b, "merged into case 1"));
	assert_int_equal(q("SELECT count(*) FROM cases WHERE merged_into IS NOT NULL"), 1);

	/* The first case moves: the merged case's reporter is told too. */
	op("bj", "POST", C_FIRST, "accept", "{}", 200, NULL);
	assert_int_equal(bulletins(C_FIRST, "accepted", "pending"), 1);
	assert_int_equal(bulletins(C_COPY, "accepted", "pending"), 1);
	assert_int_equal(bulletins(C_SAME_ID, "accepted", "pending"), 0);

	/* A case with a case merged into it merges on: both follow the surviving case. */
	op("bj", "POST", C_FAILED, "merge", "{\"into\": 2}", 200, NULL);
	op("nat", "POST", C_SAME_ID, "merge", "{\"into\": 1}", 200, NULL);
	assert_int_equal(q("SELECT count(*) FROM cases WHERE id IN (2, 9) AND merged_into = 1"), 2);
	assert_int_equal(q("SELECT count(*) FROM case_events WHERE case_id = 9 AND action = 'merge' AND "
	                   "detail ->> 'via' = '2'"),
	                 1);
	assert_int_equal(bulletins(C_SAME_ID, "accepted", "merged"), 1);
	assert_int_equal(bulletins(C_FAILED, "accepted", "merged"), 1);
	op("bj", "POST", C_FIRST, "distribute", "{}", 200, NULL);
	for (long long id = 1; id <= C_FAILED; id++)
		assert_int_equal(bulletins(id, "distributed", "pending"),
		                 id == 1 || id == 2 || id == 8 || id == 9);
	assert_int_equal(q("SELECT count(*) FROM audit_events WHERE action = 'case.merge'"), 4);
	assert_int_equal(tdaemon_stop(&d, SIGTERM), 0);
}

/* A backlog (full batches) is stored first and compared once the inbox is drained: every case, once. */
static void test_backlog(void **state)
{
	(void)state;
	struct report r;
	long long cases = tpg_value(owner, "SELECT count(*) FROM cases");
	FILE *conf = fopen(f.conf, "a");

	assert_non_null(conf);
	fputs("ingest_batch 2\n", conf);
	fclose(conf);
	for (int i = 0; i < 7; i++) {
		report_init(&r, 40 + i, "110101");
		real_name(&r, "11010519491231002X", "13800000000");
		add(&r);
	}
	long long runs = tpg_value(owner, "SELECT count(*) FROM audit_events WHERE action = 'compare.run'");
	start_daemon();
	wait_value("SELECT count(*) FROM cases WHERE compared_at IS NOT NULL", cases + 7);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM cases WHERE compared_at IS NULL"), 0);
	/* Each of the seven has the first case's ID number and phone: proposed with it. */
	for (long long id = cases + 1; id <= cases + 7; id++)
		assert_string_equal(link_of(C_FIRST, id), "proposed 0.97 id_number,phone");
	/* Stored in full batches without comparing, then compared apart (a run per statement that compared).
	 */
	assert_true(tpg_value(owner, "SELECT count(*) FROM audit_events WHERE action = 'compare.run'") >
	            runs);
	assert_int_equal(tdaemon_stop(&d, SIGTERM), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_proposals), cmocka_unit_test(test_failure_keeps_ingest),
	        cmocka_unit_test(test_similar),   cmocka_unit_test(test_link),
	        cmocka_unit_test(test_merge),     cmocka_unit_test(test_backlog),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
