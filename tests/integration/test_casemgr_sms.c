/*
 * SMS and the monthly callback sampling, against a real PostgreSQL and a real gammu-smsd: a draw is a
 * function of its seed and the eligible set (`casemgrd sample` gives the stored draw again, another
 * seed another draw), only cases closed in the month, real-name and with a mobile number are drawn,
 * replies are read strictly and an unsatisfied one marks the case for re-examination, the roles reach
 * only what they should, and a round trip through gammu-smsd, whose dummy phone (a directory of
 * message files) stands in for the GSM modem.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "daemon.h"
#include "pg.h"
#include "staffc.h"
#include "testutil.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static struct tcm f;
static PGconn *owner;

#define SEED1 "00112233445566778899aabbccddeeff"
#define SEED2 "ffeeddccbbaa99887766554433221100"
#define TEXT  "您好，您反映的事项已办结。请回复1满意，2基本满意，3不满意。"

/* A statement that must succeed; the result for the caller to clear. */
static PGresult *query(PGconn *c, const char *sql, int n, const char *const *params)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQresultErrorMessage(r));
	return r;
}

static void exec_params(PGconn *c, const char *sql, int n, const char *const *params)
{
	PQclear(query(c, sql, n, params));
}

/* Waits up to 20 s for a query's value to become want. */
static void wait_value(const char *sql, long long want)
{
	long long v = -1;

	for (int i = 0; i < 400 && (v = tpg_value(owner, sql)) != want; i++)
		usleep(50000);
	if (v != want)
		fail_msg("%s: %lld, expected %lld", sql, v, want);
}

/* Waits up to 5 s for a series of casemgrd's metrics: the counters follow the commit they count. */
static void wait_metric(const char *series, long long want)
{
	long long v = -1;

	for (int i = 0; i < 100 && (v = tcm_metric(&f, series)) != want; i++)
		usleep(50000);
	if (v != want)
		fail_msg("%s: %lld, expected %lld", series, v, want);
}

/*
 * n reports of origin through ingest_batch (seq 0 .. n-1, regions in turn), reporters' phones
 * prefix followed by the seq in 4 digits. mixed: every fifth anonymous, every seventh a landline.
 */
static void add_reports(const char *origin, int n, const char *regions, const char *prefix, int mixed)
{
	char count[16];
	const char *params[] = {origin, count, prefix, mixed ? "true" : "false", regions};

	snprintf(count, sizeof(count), "%d", n);
	exec_params(
	        owner,
	        "SELECT ingest_batch(jsonb_build_object('origin', $1::text, 'next_seq', $2::int, "
	        "'prev_hash', repeat('00', 32), 'prev_trusted', true, 'quarantine', '[]'::jsonb, "
	        "'reports', (SELECT jsonb_agg(jsonb_build_object('seq', i, 'hash', repeat('ab', 32), "
	        "'signed_ms', 1700000000000, 'version', 1, 'taxonomy_version', '2026.1', 'query_hash', "
	        "repeat('cd', 32), 'locale', 'zh-CN', 'anonymous', $4::boolean AND i % 5 = 4, 'name', 'n', "
	        "'id_number', '', 'phone', CASE WHEN $4::boolean AND i % 7 = 6 THEN '010-1234567' "
	        "ELSE $3::text || lpad(i::text, 4, '0') END, 'address', '', 'contact_allowed', true, "
	        "'channel', '', 'categories', '[\"protective_umbrella\"]'::jsonb, 'sector', '', 'region', r, "
	        "'province', left(r, 2) || '0000', 'place', '', 'time', '', 'narrative', 'x', 'persons', "
	        "'[]'::jsonb, 'officials', '[]'::jsonb, 'attachments', '[]'::jsonb)) "
	        "FROM generate_series(0, $2::int - 1) AS i, "
	        "LATERAL (SELECT ($5::text[])[i % cardinality($5::text[]) + 1] AS r) AS x)))",
	        5, params);
}

static int setup(void **state)
{
	(void)state;
	static const char *const users[][4] = {{"nat", "national", "1", NULL},
	                                       {"bj", "provincial", "2", NULL},
	                                       {"aud", "auditor", "1", NULL}};

	tcm_setup(&f, 1);
	owner = tpg_connect(&f.pg, "tip_owner");
	assert_int_equal(tpg_exec(owner,
	                          "INSERT INTO org_units (kind, name) VALUES ('national', 'national office');"
	                          "INSERT INTO org_units (parent_id, kind, region, province, name) VALUES "
	                          "(1, 'provincial', '110000', '110000', 'Beijing office'), "
	                          "(1, 'provincial', '310000', '310000', 'Shanghai office')"),
	                 0);
	tstaff_users(owner, users, 3);
	assert_int_equal(tpg_exec(owner, "INSERT INTO pledges (user_id, version) SELECT id, '1' FROM users"),
	                 0);
	/*
	 * 60 reports in Beijing and Shanghai: seq % 3 == 0 stay open, 1 close mid-March 2025, 2 in
	 * February, but for the edges of the month in China time: seq 2 on 1 March 00:30 (in), seq 5 on 1
	 * April 00:30 (out), seq 8 on 31 March 23:30 (in); seq 11 is concluded, not closed, in March.
	 */
	add_reports("sample", 60, "{110101,310101}", "+86 139 1234 ", 1);
	assert_int_equal(tpg_exec(owner,
	                          "UPDATE cases c SET stage = CASE WHEN r.seq % 3 = 0 THEN 'assigned' "
	                          "WHEN r.seq = 11 THEN 'concluded' ELSE 'closed' END, closed_at = CASE "
	                          "WHEN r.seq % 3 = 0 THEN NULL WHEN r.seq = 2 THEN '2025-02-28 16:30+00' "
	                          "WHEN r.seq = 5 THEN '2025-03-31 16:30+00' WHEN r.seq = 8 THEN "
	                          "'2025-03-31 15:30+00' WHEN r.seq % 3 = 1 OR r.seq = 11 THEN "
	                          "'2025-03-15 12:00+08' ELSE '2025-02-15 12:00+08' END::timestamptz "
	                          "FROM reports r WHERE r.id = c.report_id AND r.origin = 'sample'"),
	                 0);
	return 0;
}

static void gammu_stop_running(void);

static int teardown(void **state)
{
	(void)state;
	gammu_stop_running();
	PQfinish(owner);
	tcm_teardown(&f);
	return 0;
}

/* casemgrd sample with extra arguments (NULL-terminated); its output in *out. */
static int sample(char **out, const char *month, const char *seed, ...)
{
	const char *args[16] = {"sample", "-c", f.conf, "--month", month, "--seed", seed};
	size_t n = 7;
	va_list ap;

	va_start(ap, seed);
	for (const char *a; n < 15 && (a = va_arg(ap, const char *));)
		args[n++] = a;
	va_end(ap);
	args[n] = NULL;
	return trun_output("casemgrd", args, out);
}

/* The "case ..." lines of a sample's output, in order (heap). */
static char *case_lines(const char *out)
{
	char *lines = calloc(1, strlen(out) + 1);

	assert_non_null(lines);
	for (const char *p = out; *p;) {
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p + 1) : strlen(p);

		if (strncmp(p, "case ", 5) == 0)
			strncat(lines, p, len);
		p += len;
	}
	return lines;
}

/* The case ids of a sample's output, ascending, comma-separated (heap). */
static char *case_ids(const char *out)
{
	long long ids[256];
	size_t n = 0;
	char *text = calloc(1, 256 * 21);

	assert_non_null(text);
	for (const char *p = strstr(out, "case "); p; p = strstr(p + 1, "\ncase "))
		if (n < 256) {
			const char *last = strchr(p + (*p == '\n'), '\n');

			while (last[-1] != ' ')
				last--;
			ids[n++] = strtoll(last, NULL, 10);
		}
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && ids[j - 1] > ids[j]; j--) {
			long long t = ids[j];

			ids[j] = ids[j - 1];
			ids[j - 1] = t;
		}
	for (size_t i = 0; i < n; i++)
		snprintf(text + strlen(text), 21, "%s%lld", i ? "," : "", ids[i]);
	return text;
}

/* Each "province P eligible N drawn K" line of out passes want(N, K). */
static void check_provinces(const char *out, int (*want)(long long n, long long k), int provinces)
{
	int seen = 0;

	for (const char *p = strstr(out, "\nprovince "); p; p = strstr(p + 1, "\nprovince ")) {
		long long n, k;

		assert_int_equal(sscanf(p, "\nprovince %*s eligible %lld drawn %lld", &n, &k), 2);
		if (!want(n, k))
			fail_msg("province line with %lld eligible and %lld drawn", n, k);
		seen++;
	}
	assert_int_equal(seen, provinces);
}

static int all_drawn(long long n, long long k)
{
	return n > 0 && k == n;
}

static int two_drawn(long long n, long long k)
{
	return n > 2 && k == 2;
}

static int share_drawn(long long n, long long k)
{
	return k == (3 * n + 9) / 10; /* ceil(0.3 n) */
}

static void test_sampling(void **state)
{
	(void)state;
	char *out, *again, *other, *ids, *want;

	/* Everything eligible, by a definition written independently of callback_eligible. */
	want = tpg_text(owner, "SELECT string_agg(c.id::text, ',' ORDER BY c.id) FROM cases c JOIN reports r "
	                       "ON r.id = c.report_id WHERE r.origin = 'sample' AND c.stage = 'closed' AND "
	                       "c.closed_at >= '2025-03-01 00:00+08' AND c.closed_at < '2025-04-01 00:00+08' "
	                       "AND NOT r.reporter_anonymous AND r.reporter_phone LIKE '+86%'");
	/* The fixture does hold what must never be drawn: anonymous, landline, open, other months. */
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM cases c JOIN reports r ON r.id = c.report_id "
	                                  "WHERE c.stage = 'closed' AND c.closed_at >= '2025-03-01 00:00+08' "
	                                  "AND c.closed_at < '2025-04-01 00:00+08' AND (r.reporter_anonymous "
	                                  "OR r.reporter_phone NOT LIKE '+86%')"),
	                 6);
	assert_int_equal(sample(&out, "2025-03", SEED1, "--share", "1", NULL), 0);
	ids = case_ids(out);
	assert_string_equal(ids, want);
	check_provinces(out, all_drawn, 2);
	assert_non_null(strstr(out, "\nstored none\n"));
	/* The edges of the month are China's: 1 March 00:30 and 31 March 23:30 in, 1 April 00:30 out. */
	assert_int_equal(tpg_value(owner,
	                           "SELECT count(*) FROM callback_eligible('2025-03-01') e JOIN cases c "
	                           "ON c.id = e.case_id JOIN reports r ON r.id = c.report_id "
	                           "WHERE r.seq IN (2, 8)"),
	                 2);
	assert_int_equal(tpg_value(owner,
	                           "SELECT count(*) FROM callback_eligible('2025-03-01') e JOIN cases c "
	                           "ON c.id = e.case_id JOIN reports r ON r.id = c.report_id "
	                           "WHERE r.seq IN (5, 11)"),
	                 0);
	free(ids);
	free(want);
	free(out);

	/* A count takes that many per province, never more than there are; a share takes ceil(share n). */
	assert_int_equal(sample(&out, "2025-03", SEED1, "--count", "2", NULL), 0);
	check_provinces(out, two_drawn, 2);
	free(out);
	assert_int_equal(sample(&out, "2025-03", SEED1, "--count", "1000", NULL), 0);
	check_provinces(out, all_drawn, 2);
	free(out);
	assert_int_equal(sample(&out, "2025-03", SEED1, "--share", "0.3", NULL), 0);
	check_provinces(out, share_drawn, 2);

	/* The same seed gives the same draw; another seed another. */
	assert_int_equal(sample(&again, "2025-03", SEED1, "--share", "0.3", NULL), 0);
	assert_string_equal(again, out);
	free(again);
	assert_int_equal(sample(&other, "2025-03", SEED2, "--share", "0.3", NULL), 0);
	char *lines = case_lines(out), *other_lines = case_lines(other);
	assert_string_not_equal(lines, other_lines);
	free(other_lines);
	free(other);

	/* The daemon's draw, stored: sample re-runs it from the seed alone, line for line. */
	char *stored = tpg_text(owner, "SELECT callback_draw('2025-03-01', decode('" SEED1
	                               "', 'hex'), 0.3, NULL, '" TEXT "', '00:00', '24:00') ->> 'new'");
	assert_string_equal(stored, "true");
	free(stored);
	assert_int_equal(sample(&again, "2025-03", SEED1, NULL), 0);
	assert_non_null(strstr(again, "\nshare 0.3\n"));
	assert_non_null(strstr(again, "\nstored identical\n"));
	other_lines = case_lines(again);
	assert_string_equal(other_lines, lines);
	free(other_lines);
	stored = tpg_text(owner, "SELECT string_agg('case ' || province || ' ' || rank || ' ' || case_id || "
	                         "E'\\n', '' ORDER BY province, rank) FROM callbacks");
	assert_string_equal(stored, lines);
	free(stored);
	stored = tpg_text(owner, "SELECT 'digest ' || encode(digest, 'hex') || E'\\n' FROM callback_draws "
	                         "WHERE month = '2025-03-01'");
	assert_non_null(strstr(again, stored));
	free(stored);
	/* The audit trail names month and seed, with the digest of what was drawn. */
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM audit_events a JOIN callback_draws d ON "
	                                  "a.after_hash = d.digest WHERE a.action = 'callback.draw' AND "
	                                  "a.object = 'draw:2025-03/seed:" SEED1 "' AND a.actor IS NULL"),
	                 1);
	/* One neutral SMS queued per drawn case, to its normalised mobile number. */
	long long drawn = tpg_value(owner, "SELECT count(*) FROM callbacks");
	assert_true(drawn >= 4);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM callbacks c JOIN sms.outbox o ON o.\"ID\" = "
	                                  "c.sms_id WHERE o.\"DestinationNumber\" = c.phone AND "
	                                  "c.phone ~ '^13912340[0-9]{3}$' AND o.\"TextDecoded\" = '" TEXT "' "
	                                  "AND o.\"Coding\" = 'Unicode_No_Compression' AND "
	                                  "o.\"CreatorID\" = 'casemgrd:callback'"),
	                 drawn);
	free(again);
	free(lines);

	/* A month is drawn once: another seed later changes nothing. */
	stored = tpg_text(owner,
	                  "SELECT callback_draw('2025-03-01', decode('" SEED2 "', 'hex'), NULL, 5, 'x', "
	                  "'00:00', '24:00') ->> 'new'");
	assert_string_equal(stored, "false");
	free(stored);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM callbacks"), drawn);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM audit_events WHERE action = 'callback.draw'"),
	                 1);
	assert_int_equal(sample(&again, "2025-03", SEED2, NULL), 0);
	assert_non_null(strstr(again, "\nstored other " SEED1 " share 0.3\n"));
	free(again);
	/* The current month and later cannot be drawn: their closures are not final. */
	assert_int_equal(tpg_exec(owner, "SELECT callback_draw(date_trunc('month', now() AT TIME ZONE "
	                                 "'Asia/Shanghai')::date, decode('" SEED1 "', 'hex'), 1, NULL, 'x', "
	                                 "'00:00', '24:00')"),
	                 -1);

	/* A drawn case reopened since: the stored draw no longer follows from its seed, and sample says so.
	 */
	assert_int_equal(tpg_exec(owner, "UPDATE cases SET stage = 'assigned' WHERE id = "
	                                 "(SELECT case_id FROM callbacks ORDER BY id LIMIT 1)"),
	                 0);
	assert_int_equal(sample(&again, "2025-03", SEED1, NULL), 65);
	assert_non_null(strstr(again, "\nstored differs (eligible changed)\n"));
	free(again);
	assert_int_equal(tpg_exec(owner, "UPDATE cases SET stage = 'closed' WHERE id = "
	                                 "(SELECT case_id FROM callbacks ORDER BY id LIMIT 1)"),
	                 0);

	/* Bad arguments are usage errors. */
	static const char *const bad[][4] = {
	        {"2025-13", SEED1, "--share", "1"},
	        {"2025-3", SEED1, "--share", "1"},
	        {"2025-03", "abc", "--share", "1"},
	        {"2025-03", "0011", "--share", "1"},
	        {"2025-03", SEED1, "--share", "0"},
	        {"2025-03", SEED1, "--share", "1.5"},
	        {"2025-03", SEED1, "--share", "0.1234567"},
	        {"2025-03", SEED1, "--count", "0"},
	        {"2024-01", SEED1, NULL, NULL},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(sample(&again, bad[i][0], bad[i][1], bad[i][2], bad[i][3], NULL), 64);
		free(again);
	}
	assert_int_equal(sample(&again, "2025-03", SEED1, "--share", "0.3", "--count", "2", NULL), 64);
	free(again);
	free(out);
}

/* Replies as gammu-smsd stores them, handled by the daemon's function as its role calls it. */
static void test_replies(void **state)
{
	(void)state;
	PGconn *sms = tpg_connect(&f.pg, "tip_sms"), *ingest = tpg_connect(&f.pg, "tip_ingest");
	char *a = tpg_text(owner, "SELECT phone FROM callbacks WHERE province = '110000' AND rank = 1");
	char *b = tpg_text(owner, "SELECT phone FROM callbacks WHERE province = '110000' AND rank = 2");
	char *c = tpg_text(owner, "SELECT phone FROM callbacks WHERE province = '310000' AND rank = 1");
	char *d = tpg_text(owner, "SELECT phone FROM callbacks WHERE province = '310000' AND rank = 2");
	char plus_a[32], spaced_b[40], plus_b[32], plus_d[32];
	/* In arrival order: A satisfied (full-width 1); B not understood, then basically satisfied; C
	 * unsatisfied; A again (already answered); a number no callback went to; an operator's name. */
	const char *const replies[][2] = {
	        {plus_a, "１"}, {spaced_b, "ok thanks"}, {plus_b, " 基本满意 "}, {c, "3"},
	        {plus_a, "2"},  {"13800000000", "1"},    {"CMCC", "promo"},
	};

	snprintf(plus_a, sizeof(plus_a), "+86%s", a);
	snprintf(spaced_b, sizeof(spaced_b), "0086 %.3s %.4s %s", b, b + 3, b + 7);
	snprintf(plus_b, sizeof(plus_b), "+86%s", b);
	snprintf(plus_d, sizeof(plus_d), "+86%s", d);
	for (size_t i = 0; i < sizeof(replies) / sizeof(replies[0]); i++) {
		const char *params[] = {replies[i][0], replies[i][1]};

		exec_params(
		        sms,
		        "INSERT INTO inbox (\"ReceivingDateTime\", \"Text\", \"SenderNumber\", \"Coding\", "
		        "\"SMSCNumber\", \"UDH\", \"Class\", \"TextDecoded\", \"RecipientID\") VALUES "
		        "(localtimestamp(0), '', $1, 'Unicode_No_Compression', '+8613800100500', '', -1, $2, "
		        "'test')",
		        2, params);
	}
	/* No rule given: no draw, however due last month's is. */
	const char *tick =
	        "SELECT answers, unparsed, late, strangers, draw IS NULL FROM sms_tick(decode('" SEED2
	        "', 'hex'), NULL, NULL, 'x', '00:00', '24:00', interval '30 days', 100)";
	PGresult *r = query(ingest, tick, 0, NULL);
	assert_string_equal(PQgetvalue(r, 0, 0), "3");
	assert_string_equal(PQgetvalue(r, 0, 1), "1");
	assert_string_equal(PQgetvalue(r, 0, 2), "1");
	assert_string_equal(PQgetvalue(r, 0, 3), "2");
	assert_string_equal(PQgetvalue(r, 0, 4), "t");
	PQclear(r);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM sms.inbox WHERE NOT \"Processed\""), 0);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM sms_received"), 7);

	const char *phone[] = {a};
	r = query(owner, "SELECT satisfaction, answer FROM callbacks WHERE phone = $1", 1, phone);
	assert_string_equal(PQgetvalue(r, 0, 0), "satisfied");
	assert_string_equal(PQgetvalue(r, 0, 1), "１");
	PQclear(r);
	phone[0] = b;
	r = query(owner, "SELECT satisfaction, answer FROM callbacks WHERE phone = $1", 1, phone);
	assert_string_equal(PQgetvalue(r, 0, 0), "basically_satisfied");
	assert_string_equal(PQgetvalue(r, 0, 1), " 基本满意 ");
	PQclear(r);
	/* Only the unsatisfied answer's case is marked, with a case event by nobody and its audit event. */
	phone[0] = c;
	r = query(
	        owner,
	        "SELECT cb.satisfaction, (SELECT count(*) FROM cases WHERE reexamine), ca.reexamine, "
	        "(SELECT count(*) FROM case_events e WHERE e.case_id = ca.id AND e.action = "
	        "'callback_unsatisfied' AND e.actor IS NULL AND (e.detail ->> 'callback')::bigint = cb.id), "
	        "(SELECT count(*) FROM audit_events WHERE action = 'case.callback_unsatisfied' AND "
	        "object = 'case:' || ca.id) FROM callbacks cb JOIN cases ca ON ca.id = cb.case_id WHERE "
	        "cb.phone = $1",
	        1, phone);
	assert_string_equal(PQgetvalue(r, 0, 0), "unsatisfied");
	assert_string_equal(PQgetvalue(r, 0, 1), "1");
	assert_string_equal(PQgetvalue(r, 0, 2), "t");
	assert_string_equal(PQgetvalue(r, 0, 3), "1");
	assert_string_equal(PQgetvalue(r, 0, 4), "1");
	PQclear(r);
	/* What did not count is kept raw, never guessed. */
	assert_int_equal(tpg_value(owner,
	                           "SELECT count(*) FROM sms_received WHERE (outcome, body) IN "
	                           "(('unparsed', 'ok thanks'), ('late', '2'), ('unknown', '1'), "
	                           "('unknown', 'promo')) AND (outcome = 'unknown') = (callback_id IS NULL)"),
	                 4);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM sms_received WHERE phone IS NULL"), 1);

	/* Nothing new: nothing done. */
	r = query(ingest, tick, 0, NULL);
	assert_string_equal(PQgetvalue(r, 0, 0), "0");
	assert_string_equal(PQgetvalue(r, 0, 3), "0");
	PQclear(r);
	/* A callback past its time takes no answer. */
	assert_int_equal(tpg_exec(owner, "UPDATE callback_draws SET drawn_at = now() - interval '31 days'"),
	                 0);
	const char *late[] = {plus_d, "1"};
	exec_params(
	        sms,
	        "INSERT INTO inbox (\"Text\", \"SenderNumber\", \"UDH\", \"TextDecoded\", \"RecipientID\") "
	        "VALUES ('', $1, '', $2, 'test')",
	        2, late);
	r = query(ingest, tick, 0, NULL);
	assert_string_equal(PQgetvalue(r, 0, 2), "1");
	PQclear(r);
	phone[0] = d;
	r = query(owner, "SELECT satisfaction IS NULL FROM callbacks WHERE phone = $1", 1, phone);
	assert_string_equal(PQgetvalue(r, 0, 0), "t");
	PQclear(r);
	assert_int_equal(tpg_exec(owner, "UPDATE callback_draws SET drawn_at = now()"), 0);

	/* Answers are read strictly; numbers in every form the reporter or the network writes. */
	assert_int_equal(
	        tpg_value(owner,
	                  "SELECT count(*) FROM (VALUES ('1', 'satisfied'), ('１', 'satisfied'), "
	                  "(' 满意', 'satisfied'), ('2', 'basically_satisfied'), "
	                  "('　２　', 'basically_satisfied'), ('基本满意', 'basically_satisfied'), "
	                  "('3', 'unsatisfied'), ('３', 'unsatisfied'), (E'不满意\\n', 'unsatisfied'), "
	                  "('3。', NULL), ('13', NULL), ('', NULL), ('很满意', NULL), ('不 满意', NULL), "
	                  "('one', NULL), ('4', NULL)) AS t(a, want) "
	                  "WHERE callback_parse(a) IS NOT DISTINCT FROM want"),
	        16);
	assert_int_equal(tpg_value(owner,
	                           "SELECT count(*) FROM (VALUES ('+8613912345678', '13912345678'), "
	                           "('0086 139-1234-5678', '13912345678'), ('8613912345678', '13912345678'), "
	                           "('＋８６１３９１２３４５６７８', '13912345678'), ('(010) 1234 5678', "
	                           "'01012345678'), "
	                           "('+44 20 7946 0000', NULL), ('CMCC', NULL), ('12', NULL)) AS t(n, want) "
	                           "WHERE sms_number(n) IS NOT DISTINCT FROM want"),
	                 8);
	free(a);
	free(b);
	free(c);
	free(d);
	PQfinish(sms);
	PQfinish(ingest);
}

/* The error a statement raised: SQLSTATE and column, "ok" when it did not fail. */
static void expect_error(PGconn *c, const char *sql, int n, const char *const *params, const char *state,
                         const char *column)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	const char *got = PQresultErrorField(r, PG_DIAG_SQLSTATE),
	           *col = PQresultErrorField(r, PG_DIAG_COLUMN_NAME);

	if (!got || strcmp(got, state) != 0 || (column && (!col || strcmp(col, column) != 0)))
		fail_msg("%s: %s (column %s), expected %s (column %s)", sql, got ? got : "ok",
		         col ? col : "-", state, column ? column : "-");
	PQclear(r);
}

/* sms_queue for the request path; gammu-smsd's role reaches its schema and nothing else. */
static void test_queue_and_roles(void **state)
{
	(void)state;
	PGconn *app = tpg_connect(&f.pg, "tip_app"), *sms = tpg_connect(&f.pg, "tip_sms");
	const char *ok[] = {"+86 139 0000 1111", "测试"};
	char *id = NULL;

	PGresult *r = query(app, "SELECT sms_queue($1, $2, 'test')", 2, ok);
	assert_non_null(id = strdup(PQgetvalue(r, 0, 0)));
	PQclear(r);
	const char *idp[] = {id};
	r = query(
	        owner,
	        "SELECT \"DestinationNumber\", \"TextDecoded\", \"Coding\", \"CreatorID\", "
	        "(SELECT count(*) FROM audit_events WHERE action = 'sms.queue' AND object = 'sms:' || $1 || "
	        "'/test') FROM sms.outbox WHERE \"ID\" = $1::integer",
	        1, idp);
	assert_string_equal(PQgetvalue(r, 0, 0), "13900001111");
	assert_string_equal(PQgetvalue(r, 0, 1), "测试");
	assert_string_equal(PQgetvalue(r, 0, 2), "Unicode_No_Compression");
	assert_string_equal(PQgetvalue(r, 0, 3), "casemgrd:test");
	assert_string_equal(PQgetvalue(r, 0, 4), "1");
	PQclear(r);
	free(id);

	char long_text[80 * 3 + 1] = "";
	for (int i = 0; i < 71; i++)
		strcat(long_text, "字");
	const char *bad[][5] = {
	        {"CMCC", "x", "test", "number", NULL},
	        {"13900001111", long_text, "test", "body", NULL},
	        {"13900001111", "😀", "test", "body", NULL},
	        {"13900001111", "", "test", "body", NULL},
	        {"13900001111", "x", "Test", "purpose", NULL},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_error(app, "SELECT sms_queue($1, $2, $3)", 3, bad[i], "TW400", bad[i][3]);
	expect_error(app, "SELECT sms_queue('13900001111', 'x', 'test', '20:00', '09:00')", 0, NULL, "TW400",
	             "send_after");
	/* The request path has no way into gammu-smsd's tables but this function. */
	expect_error(app,
	             "INSERT INTO sms.outbox (\"DestinationNumber\", \"TextDecoded\", \"CreatorID\") "
	             "VALUES ('1', 'x', 'x')",
	             0, NULL, "42501", NULL);

	/* gammu-smsd's session: its schema first, China time. */
	char *v = tpg_text(sms, "SHOW search_path");
	assert_string_equal(v, "sms");
	free(v);
	v = tpg_text(sms, "SHOW timezone");
	assert_string_equal(v, "Asia/Shanghai");
	free(v);
	assert_int_equal(tpg_value(sms, "SELECT \"Version\" FROM gammu"), 17);
	assert_int_equal(tpg_exec(sms, "SELECT count(*) FROM public.cases"), -1);
	assert_int_equal(tpg_exec(sms, "SELECT count(*) FROM public.callbacks"), -1);
	assert_int_equal(tpg_exec(sms, "SELECT sms_queue('13900001111', 'x', 'test')"), -1);
	assert_int_equal(tpg_exec(sms, "UPDATE gammu SET \"Version\" = 18"), -1);
	assert_int_equal(tpg_exec(sms, "UPDATE inbox SET \"Processed\" = true"), -1);
	assert_int_equal(tpg_exec(sms, "CREATE TABLE sms.extra (a integer)"), -1);
	PQfinish(app);
	PQfinish(sms);
}

/* Acts as user on the request path's connection (the id looked up by the owner). */
static void act_as(PGconn *app, const char *user)
{
	const char *name[] = {user};
	PGresult *id = query(owner, "SELECT id::text FROM users WHERE username = $1", 1, name);
	const char *actor[] = {PQgetvalue(id, 0, 0)};

	PQclear(query(app, "SELECT set_config('tip.actor', $1, false)", 1, actor));
	PQclear(id);
}

/* The callbacks operation, in each role's scope. */
static void test_callbacks_operation(void **state)
{
	(void)state;
	PGconn *app = tpg_connect(&f.pg, "tip_app");
	const char *view =
	        "SELECT v -> 'draw' ->> 'month', jsonb_array_length(v -> 'provinces'), "
	        "jsonb_array_length(v -> 'callbacks'), (SELECT string_agg(DISTINCT x ->> 'province', ',' "
	        "ORDER BY x ->> 'province') "
	        "FROM jsonb_array_elements(v -> 'callbacks') AS x), "
	        "(SELECT sum((p ->> 'unsatisfied')::int) FROM jsonb_array_elements(v -> 'provinces') AS p) "
	        "FROM callbacks_view($1::jsonb) AS v";
	const char *latest[] = {"{}"}, *march[] = {"{\"month\": \"2025-03\"}"},
	           *none[] = {"{\"month\": \"2024-01\"}"};
	long long drawn = tpg_value(owner, "SELECT count(*) FROM callbacks");
	char want[16];

	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM api_operations WHERE name = 'callbacks' AND "
	                                  "target = 'global' AND method = 'GET' AND "
	                                  "roles = '{national,provincial}' AND fn = 'callbacks_view'"),
	                 1);
	act_as(app, "nat");
	for (int i = 0; i < 2; i++) {
		PGresult *r = query(app, view, 1, i ? march : latest);

		snprintf(want, sizeof(want), "%lld", drawn);
		assert_string_equal(PQgetvalue(r, 0, 0), "2025-03");
		assert_string_equal(PQgetvalue(r, 0, 1), "2");
		assert_string_equal(PQgetvalue(r, 0, 2), want);
		assert_string_equal(PQgetvalue(r, 0, 3), "110000,310000");
		assert_string_equal(PQgetvalue(r, 0, 4), "1");
		PQclear(r);
	}
	PGresult *r = query(app, view, 1, none);
	assert_true(PQgetisnull(r, 0, 0));
	assert_string_equal(PQgetvalue(r, 0, 2), "0");
	PQclear(r);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM audit_events WHERE action = 'callback.view'"),
	                 2);
	const char *bad_month[] = {"{\"month\": \"2025-3\"}"}, *bad_type[] = {"{\"month\": 202503}"},
	           *bad_key[] = {"{\"province\": \"110000\"}"};
	expect_error(app, "SELECT callbacks_view($1::jsonb)", 1, bad_month, "TW400", "month");
	expect_error(app, "SELECT callbacks_view($1::jsonb)", 1, bad_type, "TW400", "month");
	expect_error(app, "SELECT callbacks_view($1::jsonb)", 1, bad_key, "TW400", "province");

	/* A provincial office sees its province only; an auditor no draw at all. */
	act_as(app, "bj");
	r = query(app, view, 1, latest);
	assert_string_equal(PQgetvalue(r, 0, 1), "1");
	assert_string_equal(PQgetvalue(r, 0, 3), "110000");
	PQclear(r);
	act_as(app, "aud");
	r = query(app, view, 1, latest);
	assert_true(PQgetisnull(r, 0, 0));
	PQclear(r);
	PQfinish(app);
}

/* Settings the daemon refuses: a rule given twice or out of range, send hours backwards, a long text. */
static void test_settings(void **state)
{
	(void)state;
	static const char *const bad[] = {
	        "callback_share 0.3\ncallback_count 2\n",
	        "callback_share 1.5\n",
	        "callback_share .5\n",
	        "sms_hours 20:00-09:00\n",
	        "sms_hours 9:00-20:00\n",
	        "callback_text "
	        "您好您好您好您好您好您好您好您好您好您好您好您好您好您好您好您好您好您好您好您好您好"
	        "您好您好您好您好您好您好您好您好您好您好您好您好您好您好您好\n",
	};
	char path[300], *base = tu_read_file(f.conf, NULL);
	const char *args[] = {"-c", path, "-n", NULL};

	snprintf(path, sizeof(path), "%s.settings", f.conf);
	tu_write_text(path, "%ssms yes\ncallback_share 0.05\nsms_hours 00:00-24:00\n", base);
	assert_int_equal(trun("casemgrd", args), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tu_write_text(path, "%s%s", base, bad[i]);
		if (trun("casemgrd", args) != 78)
			fail_msg("accepted: %s", bad[i]);
	}
	free(base);
}

struct gammu {
	pid_t pid;
	char dir[300], phone[320], conf[320], log[320];
};

/*
 * gammu-smsd on its PostgreSQL backend as tip_sms, with the dummy phone in g->phone (it keeps
 * messages as files there), polling every second. Returns once it has registered its phone.
 */
static void gammu_start(struct gammu *g)
{
	snprintf(g->dir, sizeof(g->dir), "%s/gammu", f.dir);
	snprintf(g->phone, sizeof(g->phone), "%s/phone", g->dir);
	snprintf(g->conf, sizeof(g->conf), "%s/smsdrc", g->dir);
	snprintf(g->log, sizeof(g->log), "%s/smsd.log", g->dir);
	assert_int_equal(mkdir(g->dir, 0700), 0);
	assert_int_equal(mkdir(g->phone, 0700), 0);
	tu_write_text(g->conf,
	              "[gammu]\nmodel = dummy\nconnection = none\ndevice = %s\n\n"
	              "[smsd]\nservice = sql\ndriver = native_pgsql\nhost = 127.0.0.1:%d\nuser = tip_sms\n"
	              "password =\ndatabase = tip\nphoneid = test\nlogfile = %s\ndebuglevel = 1\n"
	              "loopsleep = 1\ncommtimeout = 1\nreceivefrequency = 1\nstatusfrequency = 0\n"
	              "checksecurity = 0\ncheckbattery = 0\nchecksignal = 0\nchecknetwork = 0\n",
	              g->phone, f.pg.port, g->log);
	if ((g->pid = fork()) == 0) {
		int fd = open("/dev/null", O_WRONLY);

		/* It goes with the test, however the test ends. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(fd, 1);
		dup2(fd, 2);
		execlp("gammu-smsd", "gammu-smsd", "-c", g->conf, (char *)NULL);
		_exit(127);
	}
	assert_true(g->pid > 0);
	for (int i = 0; i < 400; i++) {
		int status;

		if (tpg_value(owner, "SELECT count(*) FROM sms.phones") == 1)
			return;
		if (waitpid(g->pid, &status, WNOHANG) == g->pid) {
			char *log = tu_read_file(g->log, NULL);

			g->pid = 0;
			fail_msg("gammu-smsd exited with %d (installed? deploy/install-deps has it):\n%s",
			         WIFEXITED(status) ? WEXITSTATUS(status) : -1, log ? log : "(no log)");
		}
		usleep(50000);
	}
	fail_msg("gammu-smsd did not register its phone");
}

/* The round trip's gammu-smsd, stopped by the group's teardown when the test ends early. */
static struct gammu gammu;

static void gammu_stop(struct gammu *g)
{
	int status;

	if (g->pid > 0) {
		kill(g->pid, SIGTERM);
		waitpid(g->pid, &status, 0);
		g->pid = 0;
	}
}

/*
 * A received message on the dummy phone: an SMS backup file (gammu's text format: sender, Unicode
 * text as UTF-16BE hex) in folder 1, the SIM inbox. Written aside and renamed in, so gammu-smsd never
 * reads half a file.
 */
static void phone_receive(const struct gammu *g, const char *from, const char *utf16_hex, int location)
{
	char tmp[400], path[400];

	snprintf(tmp, sizeof(tmp), "%s/sms/1/.incoming", g->phone);
	snprintf(path, sizeof(path), "%s/sms/1/%d", g->phone, location);
	tu_write_text(tmp,
	              "[SMSBackup000]\nSMSC = \"+8613800100500\"\nSent = 20261201T090000\nState = UnRead\n"
	              "PDU = Deliver\nNumber = \"%s\"\nCoding = Unicode\nText00 = %s\nLength = %zu\n"
	              "Class = -1\n",
	              from, utf16_hex, strlen(utf16_hex) / 4);
	assert_int_equal(rename(tmp, path), 0);
}

/*
 * The whole way: casemgrd draws last month by itself, queues the SMS, gammu-smsd sends them through
 * the dummy phone; a reply dropped on the phone reaches casemgrd through gammu-smsd's inbox.
 */
static void test_gammu_round_trip(void **state)
{
	(void)state;
	struct tdaemon d;
	char log[300], reply_from[32], incoming[400], *month, *seed, *phone, *out;
	FILE *conf;

	/* Three Guangdong reporters whose cases closed last month (China time). */
	add_reports("round-trip", 3, "{440103}", "+86 137 0000 ", 0);
	assert_int_equal(tpg_exec(owner,
	                          "UPDATE cases c SET stage = 'closed', closed_at = (date_trunc('month', "
	                          "now() AT TIME ZONE 'Asia/Shanghai') - interval '10 days') AT TIME ZONE "
	                          "'Asia/Shanghai' FROM reports r WHERE r.id = c.report_id AND "
	                          "r.origin = 'round-trip'"),
	                 0);
	/* What earlier tests queued is not this test's to wait for. */
	assert_int_equal(tpg_exec(owner, "DELETE FROM sms.outbox"), 0);
	gammu_start(&gammu);
	assert_non_null(conf = fopen(f.conf, "a"));
	fputs("sms yes\nsms_poll 100ms\nsms_hours 00:00-24:00\ncallback_count 2\n", conf);
	fclose(conf);
	snprintf(log, sizeof(log), "%s/casemgrd.log", f.dir);
	assert_int_equal(tdaemon_start(&d, "casemgrd", f.conf, log), 0);

	/* The draw, its two SMS sent through the dummy phone (its SMSC and message reference in sentitems).
	 */
	wait_value("SELECT count(*) FROM callbacks c JOIN callback_draws d ON d.id = c.draw_id WHERE "
	           "d.month = date_trunc('month', now() AT TIME ZONE 'Asia/Shanghai') - interval '1 month'",
	           2);
	wait_value("SELECT count(*) FROM callbacks WHERE province = '440000' AND sent_at IS NOT NULL AND "
	           "send_status = 'SendingOKNoReport'",
	           2);
	assert_int_equal(
	        tpg_value(owner,
	                  "SELECT count(*) FROM sms.sentitems s JOIN callbacks c ON c.sms_id = s.\"ID\" "
	                  "WHERE c.province = '440000' AND s.\"DestinationNumber\" = c.phone AND "
	                  "s.\"SMSCNumber\" = '123456' AND s.\"TPMR\" = 255 AND s.\"SenderID\" = 'test' AND "
	                  "s.\"Coding\" = 'Unicode_No_Compression' AND s.\"TextDecoded\" LIKE "
	                  "'%1满意，2基本满意，3不满意%'"),
	        2);
	assert_int_equal(tpg_value(owner, "SELECT \"Sent\" FROM sms.phones"), 2);
	assert_int_equal(
	        tpg_value(owner, "SELECT count(*) FROM sms.outbox o JOIN callbacks c ON c.sms_id = o.\"ID\" "
	                         "WHERE c.province = '440000'"),
	        0);

	/* The draw's seed is in the daemon's log, and sample gives the same draw from it. */
	month = tpg_text(owner,
	                 "SELECT to_char(month, 'YYYY-MM') FROM callback_draws ORDER BY month DESC LIMIT 1");
	seed = tpg_text(owner, "SELECT encode(seed, 'hex') FROM callback_draws ORDER BY month DESC LIMIT 1");
	assert_int_equal(strlen(seed), 64);
	char *text = tu_read_file(log, NULL), line[200];
	snprintf(line, sizeof(line), "callback draw %s: seed %s, 2 cases from 1 provinces", month, seed);
	if (!strstr(text, line))
		fail_msg("no log line \"%s\" in:\n%s", line, text);
	free(text);
	assert_int_equal(sample(&out, month, seed, NULL), 0);
	assert_non_null(strstr(out, "\ncount 2\nprovince 440000 eligible 3 drawn 2\n"));
	assert_non_null(strstr(out, "\nstored identical\n"));
	free(out);

	/* "不满意" from the first drawn reporter, as the network writes the number. */
	phone = tpg_text(owner, "SELECT phone FROM callbacks WHERE province = '440000' AND rank = 1");
	snprintf(reply_from, sizeof(reply_from), "+86%s", phone);
	phone_receive(&gammu, reply_from, "4E0D6EE1610F", 1);
	const char *p[] = {phone};
	for (int i = 0; i < 400; i++) {
		PGresult *r = query(owner, "SELECT satisfaction FROM callbacks WHERE phone = $1", 1, p);
		int done = strcmp(PQgetvalue(r, 0, 0), "unsatisfied") == 0;

		PQclear(r);
		if (done)
			break;
		usleep(50000);
	}
	PGresult *r = query(
	        owner,
	        "SELECT cb.satisfaction, cb.answer, ca.reexamine, (SELECT count(*) FROM sms.inbox WHERE "
	        "\"Processed\" AND \"SenderNumber\" = '+86' || $1 AND \"TextDecoded\" = '不满意') "
	        "FROM callbacks cb JOIN cases ca ON ca.id = cb.case_id WHERE cb.phone = $1",
	        1, p);
	assert_string_equal(PQgetvalue(r, 0, 0), "unsatisfied");
	assert_string_equal(PQgetvalue(r, 0, 1), "不满意");
	assert_string_equal(PQgetvalue(r, 0, 2), "t");
	assert_string_equal(PQgetvalue(r, 0, 3), "1");
	PQclear(r);
	/* gammu-smsd took the message off the phone. */
	snprintf(incoming, sizeof(incoming), "%s/sms/1/1", gammu.phone);
	assert_int_equal(access(incoming, F_OK), -1);
	wait_metric("casemgr_sms_received_total{outcome=\"answer\"}", 1);
	wait_metric("casemgr_sms_sent_total", 2);
	wait_metric("casemgr_callback_draws_total", 1);
	wait_metric("casemgr_callbacks_queued_total", 2);

	/* The draw and its answer through the staff API's operation, in each role's scope. */
	struct tsession nat = tstaff_session(d.port, "nat", 1), bj = tstaff_session(d.port, "bj", 1),
	                aud = tstaff_session(d.port, "aud", 1);
	struct httpc_response h;
	char path[64], needle[64];
	assert_int_equal(tstaff_call(d.port, "GET", "/api/v1/ops/callbacks", &nat, 0, NULL, &h), 200);
	snprintf(needle, sizeof(needle), "\"month\": \"%s\"", month);
	assert_non_null(strstr(h.body, needle));
	assert_non_null(strstr(h.body, "\"province\": \"440000\""));
	assert_non_null(strstr(h.body, "\"satisfaction\": \"unsatisfied\""));
	assert_null(strstr(h.body, phone)); /* no phone number */
	httpc_free(&h);
	snprintf(path, sizeof(path), "/api/v1/ops/callbacks?month=%s", month);
	assert_int_equal(tstaff_call(d.port, "GET", path, &bj, 0, NULL, &h), 200);
	assert_non_null(strstr(h.body, "\"provinces\": []"));
	httpc_free(&h);
	assert_int_equal(tstaff_call(d.port, "GET", "/api/v1/ops/callbacks?month=2025-13", &nat, 0, NULL, &h),
	                 400);
	assert_non_null(strstr(h.body, "\"field\":\"month\""));
	httpc_free(&h);
	assert_int_equal(tstaff_call(d.port, "GET", "/api/v1/ops/callbacks?seed=1", &nat, 0, NULL, &h), 400);
	assert_non_null(strstr(h.body, "\"field\":\"seed\""));
	httpc_free(&h);
	assert_int_equal(tstaff_call(d.port, "GET", "/api/v1/ops/callbacks", &aud, 0, NULL, &h), 403);
	httpc_free(&h);
	assert_int_equal(tstaff_call(d.port, "POST", "/api/v1/ops/callbacks", &nat, 1, "{}", &h), 405);
	httpc_free(&h);

	assert_int_equal(tdaemon_stop(&d, SIGTERM), 0);
	gammu_stop(&gammu);
	free(phone);
	free(month);
	free(seed);
	tu_rmtree(gammu.dir);
}

static void gammu_stop_running(void)
{
	gammu_stop(&gammu);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_sampling),        cmocka_unit_test(test_replies),
	        cmocka_unit_test(test_queue_and_roles), cmocka_unit_test(test_callbacks_operation),
	        cmocka_unit_test(test_settings),        cmocka_unit_test(test_gammu_round_trip),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
