/*
 * The case clocks against a real PostgreSQL, with the clock injected (clocks_run takes the time): the
 * vendored calendar equals its data file; working days across weekends, holidays and swapped working
 * days (Spring Festival and National Day 2026); the handling deadline's reminder, supervision notice
 * and escalation, each fired once however often the clocks run; the 30-day contact clock; extensions
 * and who may decide them; the calendar's administration; the overdue, notices and clocks views in
 * each role's scope; and the daemon's timer, which fires a due notice and, restarted, does not fire it
 * again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "daemon.h"
#include "pg.h"
#include "staffc.h"
#include "testutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct tcm f;
static PGconn *owner, *app, *ingest;
static int next_seq;

/* Units: 1 national, 2 Beijing office, 3 Shanghai office, 4 Dongcheng unit, 5 Huangpu unit, 6 Beijing review,
 * 7 Xicheng unit. */
static const char fixture[] = "INSERT INTO org_units (parent_id, kind, region, province, name) VALUES "
                              "(NULL, 'national', NULL, NULL, 'national office');"
                              "INSERT INTO org_units (parent_id, kind, region, province, name) VALUES "
                              "(1, 'provincial', '110000', '110000', 'Beijing office'), "
                              "(1, 'provincial', '310000', '310000', 'Shanghai office');"
                              "INSERT INTO org_units (parent_id, kind, region, province, name) VALUES "
                              "(2, 'verification', '110101', '110000', 'Dongcheng unit'), "
                              "(3, 'verification', '310101', '310000', 'Huangpu unit'), "
                              "(2, 'review', '110000', '110000', 'Beijing review'), "
                              "(2, 'verification', '110102', '110000', 'Xicheng unit');";
static const char *const users[][4] = {
        {"nat", "national", "1", NULL},    {"bj", "provincial", "2", NULL},
        {"sh", "provincial", "3", NULL},   {"dc", "unit_officer", "4", NULL},
        {"xc", "unit_officer", "7", NULL}, {"rev", "reviewer", "6", NULL},
        {"aud", "auditor", "1", NULL},     {"adm", "administrator", "1", NULL},
};

static int setup(void **state)
{
	(void)state;
	tcm_setup(&f, 1);
	owner = tpg_connect(&f.pg, "tip_owner");
	app = tpg_connect(&f.pg, "tip_app");
	ingest = tpg_connect(&f.pg, "tip_ingest");
	assert_int_equal(tpg_exec(owner, fixture), 0);
	tstaff_users(owner, users, sizeof(users) / sizeof(users[0]));
	assert_int_equal(tpg_exec(owner, "INSERT INTO pledges (user_id, version) SELECT id, '1' FROM users"),
	                 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	PQfinish(ingest);
	PQfinish(app);
	PQfinish(owner);
	tcm_teardown(&f);
	return 0;
}

/* The first value of a parameterized query as text (static buffer), or NULL for SQL NULL. Fails the test on
 * an error. */
static const char *text_value(PGconn *c, const char *sql, int n, const char *const *params)
{
	static char out[4096];
	PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
		fail_msg("%s: %s", sql, PQresultErrorMessage(r));
	if (PQgetisnull(r, 0, 0)) {
		PQclear(r);
		return NULL;
	}
	snprintf(out, sizeof(out), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return out;
}

/*
 * A case as ingest stores it: a report from Dongcheng received at `received` (a time with its offset),
 * real-name or anonymous (contactable follows from the routing at ingest). Returns its id.
 */
static long long add_case(const char *received, int real_name)
{
	char seq[16];
	const char *p[] = {seq, received, real_name ? "false" : "true"};

	snprintf(seq, sizeof(seq), "%d", next_seq++);
	PGresult *r = PQexecParams(
	        ingest,
	        "SELECT ingest_batch(jsonb_build_object('origin', 'o', 'next_seq', $1::int + 1, 'prev_hash', "
	        "repeat('00', 32), 'prev_trusted', true, 'quarantine', '[]'::jsonb, 'reports', "
	        "jsonb_build_array(jsonb_build_object('seq', $1::int, 'hash', repeat('ab', 32), 'signed_ms', "
	        "floor(extract(epoch FROM $2::timestamptz) * 1000)::bigint, 'version', 1, "
	        "'taxonomy_version', '2026.1', "
	        "'query_hash', repeat('cd', 32), 'locale', 'zh-CN', 'anonymous', $3::boolean, 'name', 'n', "
	        "'id_number', '', 'phone', '', 'address', '', 'contact_allowed', false, 'channel', '', "
	        "'categories', '[\"protective_umbrella\"]'::jsonb, 'sector', '', 'region', '110101', "
	        "'province', '110000', 'place', '', 'time', '', 'narrative', 'x', 'persons', '[]'::jsonb, "
	        "'officials', '[]'::jsonb, 'attachments', '[]'::jsonb))))",
	        3, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("ingest_batch: %s", PQresultErrorMessage(r));
	PQclear(r);
	return tpg_value(owner, "SELECT max(id) FROM cases");
}

/* The case assigned to the Dongcheng unit (review: Beijing review) with this deadline, as assignment leaves
 * it.
 */
static void assign(long long id, const char *deadline)
{
	char idt[24];
	const char *p[] = {idt, deadline};

	snprintf(idt, sizeof(idt), "%lld", id);
	PGresult *r = PQexecParams(owner,
	                           "UPDATE cases SET stage = 'assigned', assigned_unit = 4, review_unit = 6, "
	                           "deadline = $2::date WHERE id = $1::bigint",
	                           2, NULL, p, NULL, NULL, 0);
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
}

/* Stops every clock so far: later tests see only their own cases. */
static void close_all(void)
{
	assert_int_equal(tpg_exec(owner, "UPDATE cases SET stage = 'closed'"), 0);
}

struct run {
	char next[32]; /* the next instant in China Standard Time, "YYYY-MM-DD HH24:MI", or "" */
	long long reminders, supervisions, escalations, overdue;
};

/* clocks_run at a time, firing at most batch notices, as the daemon's role. */
static struct run run_batch(const char *at, int batch)
{
	char b[16];
	const char *p[] = {at, b};
	struct run out;

	snprintf(b, sizeof(b), "%d", batch);
	PGresult *r =
	        PQexecParams(ingest,
	                     "SELECT coalesce(to_char(next_at AT TIME ZONE 'Asia/Shanghai', "
	                     "'YYYY-MM-DD HH24:MI'), ''), reminders, supervisions, escalations, overdue "
	                     "FROM clocks_run($1::timestamptz, $2::integer)",
	                     2, NULL, p, NULL, NULL, 0);

	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("clocks_run: %s", PQresultErrorMessage(r));
	snprintf(out.next, sizeof(out.next), "%s", PQgetvalue(r, 0, 0));
	out.reminders = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
	out.supervisions = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
	out.escalations = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
	out.overdue = strtoll(PQgetvalue(r, 0, 4), NULL, 10);
	PQclear(r);
	return out;
}

/* The same with the daemon's batch. */
static struct run run_at(const char *at)
{
	return run_batch(at, 1000);
}

/* Notices of one case (of a kind, or all when kind is NULL). */
static long long notices(long long id, const char *kind)
{
	char idt[24];
	const char *p[] = {idt, kind};

	snprintf(idt, sizeof(idt), "%lld", id);
	return strtoll(text_value(owner,
	                          "SELECT count(*) FROM case_notices WHERE case_id = $1::bigint "
	                          "AND ($2::text IS NULL OR kind = $2)",
	                          2, p),
	               NULL, 10);
}

static long long case_value(long long id, const char *column)
{
	char sql[200];

	snprintf(sql, sizeof(sql), "SELECT %s FROM cases WHERE id = %lld", column, id);
	return tpg_value(owner, sql);
}

/*
 * An operation through the API's dispatcher, as user: the SQLSTATE it raised ("" when it answered) and the
 * field it named; its answer in *answer (static) when it answered.
 */
struct op_result {
	char state[8], field[64];
	const char *answer;
};

/* Names the acting user for the app connection's next statements. */
static void act(const char *user)
{
	const char *who[] = {user};
	const char *uid = text_value(
	        owner, "SELECT coalesce((SELECT id::text FROM users WHERE username = $1), '')", 1, who);
	const char *actor[] = {uid};
	PGresult *r =
	        PQexecParams(app, "SELECT set_config('tip.actor', $1, false)", 1, NULL, actor, NULL, NULL, 0);

	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	PQclear(r);
}

static struct op_result op(const char *user, const char *method, const char *name, long long case_id,
                           const char *args)
{
	static char answer[16384];
	char idt[24];
	const char *p[] = {name, method, case_id ? idt : NULL, args};
	struct op_result out = {"", "", NULL};
	PGresult *r;

	snprintf(idt, sizeof(idt), "%lld", case_id);
	act(user);
	r = PQexecParams(app, "SELECT api_call($1, $2, $3::bigint, $4::jsonb)", 4, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK) {
		snprintf(answer, sizeof(answer), "%s", PQgetvalue(r, 0, 0));
		out.answer = answer;
	} else {
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE),
		           *field = PQresultErrorField(r, PG_DIAG_COLUMN_NAME);
		snprintf(out.state, sizeof(out.state), "%s", state ? state : "?");
		snprintf(out.field, sizeof(out.field), "%s", field ? field : "");
		if (!state || state[0] != 'T')
			fail_msg("%s %s as %s: %s", method, name, user, PQresultErrorMessage(r));
	}
	PQclear(r);
	return out;
}

/* The operation succeeded. */
static const char *op_ok(const char *user, const char *method, const char *name, long long case_id,
                         const char *args)
{
	struct op_result r = op(user, method, name, case_id, args);

	if (r.state[0])
		fail_msg("%s %s as %s: %s (%s)", method, name, user, r.state, r.field);
	return r.answer;
}

/* The operation was refused with this SQLSTATE (and named this field, when field is not NULL). */
static void op_refused(const char *user, const char *method, const char *name, long long case_id,
                       const char *args, const char *state, const char *field)
{
	struct op_result r = op(user, method, name, case_id, args);

	if (strcmp(r.state, state) != 0 || (field && strcmp(r.field, field) != 0))
		fail_msg("%s %s %s as %s: got %s (%s), expected %s (%s)", method, name, args, user,
		         r.state[0] ? r.state : "success", r.field, state, field ? field : "any");
}

static void test_calendar_seed(void **state)
{
	(void)state;
	char path[600];
	const char *src = getenv("TIP_SOURCE_DIR");

	/* The migration's rows are exactly the data file's days, and the file names its source. */
	snprintf(path, sizeof(path), "%s/internal/calendar/holidays.json", src ? src : TIP_DATA_DIR);
	char *json = tu_read_file(path, NULL);
	assert_non_null(json);
	const char *p[] = {json};
	const char *diff =
	        text_value(owner,
	                   "WITH file AS (SELECT (d ->> 'day')::date AS day, d ->> 'kind' AS kind, "
	                   "d ->> 'zh' AS name FROM jsonb_array_elements($1::jsonb -> 'days') d) "
	                   "SELECT (SELECT count(*) FROM (SELECT * FROM file EXCEPT SELECT * FROM "
	                   "holidays) a) + (SELECT count(*) FROM (SELECT * FROM holidays EXCEPT "
	                   "SELECT * FROM file) b) || '/' || (SELECT count(*) FROM file)",
	                   1, p);
	assert_string_equal(diff, "0/39");
	assert_string_equal(
	        text_value(owner,
	                   "SELECT ($1::jsonb -> 'source' ->> 'package') || '@' || ($1::jsonb -> "
	                   "'source' ->> 'version') || ' ' || ($1::jsonb -> 'source' ->> 'license')",
	                   1, p),
	        "chinese-days@1.5.7 MIT");
	/* The release vendored has no 2027 yet; the file says so rather than leaving it to be noticed. */
	assert_string_equal(text_value(owner, "SELECT ($1::jsonb -> 'missing_years')::text", 1, p), "[2027]");
	free(json);
	snprintf(path, sizeof(path), "%s/internal/calendar/holidays.LICENSE", src ? src : TIP_DATA_DIR);
	char *licence = tu_read_file(path, NULL);
	assert_non_null(licence);
	assert_non_null(strstr(licence, "MIT License"));
	free(licence);
}

static void test_working_days(void **state)
{
	(void)state;
	static const struct {
		const char *sql, *want;
	} cases[] = {
	        /* A weekend: Friday + 1 is Monday. */
	        {"add_working_days('2026-12-04', 1)", "2026-12-07"},
	        {"add_working_days('2026-12-04', 0)", "2026-12-04"},
	        /* Spring Festival: 15-23 February off, Saturday 14 and Saturday 28 worked. */
	        {"add_working_days('2026-02-12', 1)", "2026-02-13"},
	        {"add_working_days('2026-02-12', 2)", "2026-02-14"},
	        {"add_working_days('2026-02-12', 3)", "2026-02-24"},
	        {"add_working_days('2026-02-26', 2)", "2026-02-28"},
	        {"add_working_days('2026-02-26', 3)", "2026-03-02"},
	        /* National Day: 1-7 October off, Sunday 20 September and Saturday 10 October worked. */
	        {"add_working_days('2026-09-18', 1)", "2026-09-20"},
	        {"add_working_days('2026-09-18', 2)", "2026-09-21"},
	        {"add_working_days('2026-09-30', 1)", "2026-10-08"},
	        {"add_working_days('2026-09-30', 3)", "2026-10-10"},
	        {"add_working_days('2026-09-30', 4)", "2026-10-12"},
	        /* New Year: 1-3 January off, Sunday 4 worked. */
	        {"add_working_days('2025-12-31', 1)", "2026-01-04"},
	        /* Backwards, for reminders. */
	        {"working_days_before('2026-02-24', 1)", "2026-02-14"},
	        {"working_days_before('2026-02-24', 2)", "2026-02-13"},
	        {"working_days_before('2026-10-12', 1)", "2026-10-10"},
	        {"working_days_before('2026-10-12', 2)", "2026-10-09"},
	        {"working_days_before('2026-10-08', 1)", "2026-09-30"},
	        {"working_days_before('2026-12-07', 0)", "2026-12-07"},
	        /* A deadline day begins at midnight in China, 16:00 UTC the day before. */
	        {"to_char(wf_day_start('2026-10-08') AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')",
	         "2026-10-07 16:00"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char sql[200];

		snprintf(sql, sizeof(sql), "SELECT (%s)::text", cases[i].sql);
		const char *got = text_value(owner, sql, 0, NULL);
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("%s = %s, expected %s", cases[i].sql, got, cases[i].want);
	}
	/* One walk both ways: back from Monday 5 January 2026, Sunday the 4th is worked, 1-3 January are off.
	 */
	assert_string_equal(text_value(owner, "SELECT add_working_days('2026-01-05', -2)::text", 0, NULL),
	                    "2025-12-31");
	assert_int_equal(tpg_exec(owner, "SELECT add_working_days('2026-01-01', 3651)"), -1);
	assert_int_equal(tpg_exec(owner, "SELECT add_working_days('2026-01-01', -3651)"), -1);
}

/*
 * A deadline on Friday 27 February 2026 (after Spring Festival; Saturday 28 is worked): the reminder
 * three working days before (Tuesday 24, skipping the holiday), the supervision notice when the 27th
 * has passed, the escalation five working days later (28 Feb, 2-5 March: from 6 March). Each once.
 */
static void test_handling_clock(void **state)
{
	(void)state;
	long long id = add_case("2026-02-10T09:00:00+08:00", 0);
	struct run r;

	assign(id, "2026-02-27");
	r = run_at("2026-02-20T12:00:00+08:00");
	assert_string_equal(r.next, "2026-02-24 00:00");
	assert_int_equal(notices(id, NULL), 0);

	r = run_at("2026-02-24T00:00:00+08:00");
	assert_int_equal(r.reminders, 1);
	assert_string_equal(r.next, "2026-02-28 00:00");
	/* Run again at the same time, and a little later: nothing more. */
	r = run_at("2026-02-24T00:00:00+08:00");
	assert_int_equal(r.reminders + r.supervisions + r.escalations, 0);
	r = run_at("2026-02-27T23:59:59+08:00");
	assert_int_equal(r.reminders + r.supervisions + r.escalations, 0);
	assert_int_equal(notices(id, "reminder"), 1);
	assert_int_equal(case_value(id, "escalation_level"), 0);

	r = run_at("2026-02-28T00:00:00+08:00");
	assert_int_equal(r.supervisions, 1);
	assert_int_equal(r.overdue, 1);
	assert_string_equal(r.next, "2026-03-06 00:00");
	assert_int_equal(case_value(id, "escalation_level"), 1);
	r = run_at("2026-03-05T23:00:00+08:00");
	assert_int_equal(r.supervisions + r.escalations, 0);

	r = run_at("2026-03-06T00:00:00+08:00");
	assert_int_equal(r.escalations, 1);
	assert_int_equal(case_value(id, "escalation_level"), 2);
	r = run_at("2026-03-20T00:00:00+08:00");
	assert_int_equal(r.reminders + r.supervisions + r.escalations, 0);
	assert_int_equal(notices(id, NULL), 3);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM case_notices n JOIN case_events e ON "
	                                  "e.case_id = n.case_id AND e.action = 'notice' AND e.actor IS NULL "
	                                  "AND (e.detail ->> 'notice')::bigint = n.id"),
	                 3);
	assert_int_equal(tpg_value(owner,
	                           "SELECT count(*) FROM audit_events WHERE action = 'case.notice' AND "
	                           "actor IS NULL"),
	                 3);

	/* The case goes to review: the clock stops; a case never assigned has none. */
	char sql[120];
	snprintf(sql, sizeof(sql), "UPDATE cases SET stage = 'under_review' WHERE id = %lld", id);
	assert_int_equal(tpg_exec(owner, sql), 0);
	r = run_at("2026-04-01T00:00:00+08:00");
	assert_int_equal(r.overdue, 0);
	assert_string_equal(r.next, "");

	/* A reminder whose day has passed together with the deadline is not sent late; the rest are. */
	long long late = add_case("2026-02-10T09:00:00+08:00", 0);
	assign(late, "2026-03-02");
	r = run_at("2026-03-20T00:00:00+08:00");
	assert_int_equal(r.reminders, 0);
	assert_int_equal(r.supervisions, 1);
	assert_int_equal(r.escalations, 1);
	assert_int_equal(notices(late, "reminder"), 0);
	close_all();
}

/* A backlog (the clocks stopped for weeks) is fired oldest first, a batch per run, until none is left. */
static void test_backlog(void **state)
{
	(void)state;
	long long a = add_case("2026-02-10T09:00:00+08:00", 0), b = add_case("2026-02-10T09:00:00+08:00", 0),
	          c = add_case("2026-02-10T09:00:00+08:00", 0);
	struct run r;

	assign(a, "2026-03-02");
	assign(b, "2026-03-02");
	assign(c, "2026-03-02");
	r = run_batch("2026-03-20T00:00:00+08:00", 2);
	assert_int_equal(r.supervisions, 2);
	assert_int_equal(r.escalations, 0);
	assert_string_equal(r.next, "2026-03-20 00:00");
	r = run_batch("2026-03-20T00:00:00+08:00", 2);
	assert_int_equal(r.supervisions, 1);
	assert_int_equal(r.escalations, 1);
	assert_int_equal(notices(c, "supervision"), 1);
	assert_int_equal(notices(a, "escalation"), 1);
	r = run_batch("2026-03-20T00:00:00+08:00", 2);
	assert_int_equal(r.escalations, 2);
	assert_string_equal(r.next, "");
	r = run_batch("2026-03-20T00:00:00+08:00", 2);
	assert_int_equal(r.supervisions + r.escalations, 0);
	assert_int_equal(notices(a, NULL) + notices(b, NULL) + notices(c, NULL), 6);
	assert_int_equal(tpg_exec(ingest, "SELECT clocks_run(now(), 0)"), -1);
	close_all();
}

/*
 * Real-name reports must be reached within 30 calendar days of receipt, counted in China's dates: a report
 * received at 20:00 UTC on 31 August is received on 1 September there and due on 1 October.
 */
static void test_contact_clock(void **state)
{
	(void)state;
	long long id = add_case("2026-08-31T20:00:00Z", 1), anonymous = add_case("2026-08-31T20:00:00Z", 0),
	          reached = add_case("2026-09-01T10:00:00+08:00", 1);
	struct run r;
	char sql[300];

	assert_int_equal(case_value(id, "contactable::int"), 1);
	assert_int_equal(case_value(anonymous, "contactable::int"), 0);
	/* Three working days before 1 October: 28 September. */
	r = run_at("2026-09-27T12:00:00+08:00");
	assert_string_equal(r.next, "2026-09-28 00:00");
	/* A contact that did not reach the reporter does not stop the clock; one that did, does. */
	snprintf(sql, sizeof(sql),
	         "INSERT INTO case_contacts (case_id, contacted_at, actor, channel, outcome) VALUES "
	         "(%lld, '2026-09-10T10:00:00+08:00', 4, 'phone', 'not_reached'), "
	         "(%lld, '2026-09-10T10:00:00+08:00', 4, 'phone', 'reached')",
	         id, reached);
	assert_int_equal(tpg_exec(owner, sql), 0);
	r = run_at("2026-09-28T00:00:00+08:00");
	assert_int_equal(r.reminders, 1);
	assert_int_equal(notices(id, "reminder"), 1);
	r = run_at("2026-10-01T23:59:00+08:00");
	assert_int_equal(r.supervisions, 0);
	/* Due on 1 October; from the 2nd it is overdue; the escalation waits for five working days of the
	 * holiday-shortened weeks: 8, 9, 10 (a Saturday worked), 12 and 13 October. */
	r = run_at("2026-10-02T00:00:00+08:00");
	assert_int_equal(r.supervisions, 1);
	assert_string_equal(r.next, "2026-10-14 00:00");
	r = run_at("2026-10-14T00:00:00+08:00");
	assert_int_equal(r.escalations, 1);
	assert_int_equal(notices(id, NULL), 3);
	assert_int_equal(notices(anonymous, NULL), 0);
	assert_int_equal(notices(reached, NULL), 0);
	assert_string_equal(
	        text_value(owner, "SELECT string_agg(DISTINCT clock, ',') FROM case_notices", 0, NULL),
	        "contact,handling");
	/* Reached late: the clock stops, what was fired stays. */
	snprintf(sql, sizeof(sql),
	         "INSERT INTO case_contacts (case_id, contacted_at, actor, channel, outcome) VALUES "
	         "(%lld, '2026-10-15T10:00:00+08:00', 4, 'sms', 'reached')",
	         id);
	assert_int_equal(tpg_exec(owner, sql), 0);
	r = run_at("2026-10-20T00:00:00+08:00");
	assert_int_equal(r.overdue, 0);
	assert_int_equal(notices(id, NULL), 3);
	close_all();
}

static void test_extensions(void **state)
{
	(void)state;
	long long id = add_case("2026-02-02T09:00:00+08:00", 0);
	char args[200];
	const char *a;

	assign(id, "2026-02-27");
	/* Requests: the assigned unit's officers only, with working days and a reason. */
	op_refused("bj", "POST", "extension_request", id, "{\"working_days\": 5, \"reason\": \"r\"}", "TW403",
	           NULL);
	op_refused("xc", "POST", "extension_request", id, "{\"working_days\": 5, \"reason\": \"r\"}", "TW404",
	           NULL);
	op_refused("dc", "POST", "extension_request", id, "{\"working_days\": 0, \"reason\": \"r\"}", "TW400",
	           "working_days");
	op_refused("dc", "POST", "extension_request", id, "{\"working_days\": 61, \"reason\": \"r\"}",
	           "TW400", "working_days");
	op_refused("dc", "POST", "extension_request", id, "{\"working_days\": 5}", "TW400", "reason");
	op_refused("dc", "POST", "extension_request", id,
	           "{\"working_days\": 5, \"reason\": \"r\", \"x\": 1}", "TW400", "x");
	a = op_ok("dc", "POST", "extension_request", id,
	          "{\"working_days\": 5, \"reason\": \"witnesses abroad\"}");
	long long ext = strtoll(strstr(a, "\"extension_id\": ") + 16, NULL, 10);
	assert_true(ext > 0);
	op_refused("dc", "POST", "extension_request", id, "{\"working_days\": 2, \"reason\": \"r\"}", "TW409",
	           NULL);

	/* Decisions: one level up, the Beijing office that handles the case; not the unit, not another
	 * province, not the national office over the province's head. */
	snprintf(args, sizeof(args), "{\"extension\": %lld, \"decision\": \"approve\"}", ext);
	op_refused("dc", "POST", "extension_decide", id, args, "TW403", NULL);
	op_refused("sh", "POST", "extension_decide", id, args, "TW404", NULL);
	op_refused("nat", "POST", "extension_decide", id, args, "TW403", NULL);
	op_refused("bj", "POST", "extension_decide", id, "{\"extension\": 999, \"decision\": \"approve\"}",
	           "TW400", "extension");
	snprintf(args, sizeof(args), "{\"extension\": %lld, \"decision\": \"refuse\"}", ext);
	op_refused("bj", "POST", "extension_decide", id, args, "TW400", "reason");
	snprintf(args, sizeof(args), "{\"extension\": %lld, \"decision\": \"maybe\"}", ext);
	op_refused("bj", "POST", "extension_decide", id, args, "TW400", "decision");

	/* The reminder of the old deadline fires; after approval the new one has its own. Five working days
	 * from Friday 27 February: Saturday 28 (worked), 2, 3, 4 and 5 March; its reminder on 2 March. */
	assert_int_equal(run_at("2026-02-24T00:00:00+08:00").reminders, 1);
	snprintf(args, sizeof(args), "{\"extension\": %lld, \"decision\": \"approve\", \"reason\": \"ok\"}",
	         ext);
	a = op_ok("bj", "POST", "extension_decide", id, args);
	assert_non_null(strstr(a, "\"2026-03-05\""));
	assert_string_equal(
	        text_value(owner, "SELECT deadline::text FROM cases ORDER BY id DESC LIMIT 1", 0, NULL),
	        "2026-03-05");
	op_refused("bj", "POST", "extension_decide", id, args, "TW409", NULL);
	struct run r = run_at("2026-02-28T00:00:00+08:00");
	assert_int_equal(r.supervisions + r.reminders, 0);
	assert_string_equal(r.next, "2026-03-02 00:00");
	r = run_at("2026-03-02T00:00:00+08:00");
	assert_int_equal(r.reminders, 1);
	assert_int_equal(notices(id, "reminder"), 2);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM case_events WHERE action IN "
	                                  "('extension_request', 'extension_decide')"),
	                 2);

	/* Refused with a reason; the deadline stays. */
	a = op_ok("dc", "POST", "extension_request", id, "{\"working_days\": \"3\", \"reason\": \"again\"}");
	ext = strtoll(strstr(a, "\"extension_id\": ") + 16, NULL, 10);
	snprintf(args, sizeof(args), "{\"extension\": %lld, \"decision\": \"refuse\", \"reason\": \"no\"}",
	         ext);
	op_ok("bj", "POST", "extension_decide", id, args);
	assert_string_equal(
	        text_value(owner, "SELECT deadline::text FROM cases ORDER BY id DESC LIMIT 1", 0, NULL),
	        "2026-03-05");

	/* Reassigned after the request: it cannot be approved any more, only refused. */
	op_ok("dc", "POST", "extension_request", id, "{\"working_days\": 3, \"reason\": \"third\"}");
	ext = tpg_value(owner, "SELECT max(id) FROM case_extensions");
	char sql[200];
	snprintf(sql, sizeof(sql), "UPDATE cases SET assigned_unit = 7 WHERE id = %lld", id);
	assert_int_equal(tpg_exec(owner, sql), 0);
	snprintf(args, sizeof(args), "{\"extension\": %lld, \"decision\": \"approve\"}", ext);
	op_refused("bj", "POST", "extension_decide", id, args, "TW409", NULL);
	snprintf(args, sizeof(args), "{\"extension\": %lld, \"decision\": \"refuse\", \"reason\": \"moved\"}",
	         ext);
	op_ok("bj", "POST", "extension_decide", id, args);

	/* Nobody decides their own request, whatever their role became since. */
	snprintf(sql, sizeof(sql), "UPDATE cases SET assigned_unit = 4 WHERE id = %lld", id);
	assert_int_equal(tpg_exec(owner, sql), 0);
	op_ok("dc", "POST", "extension_request", id, "{\"working_days\": 1, \"reason\": \"fourth\"}");
	ext = tpg_value(owner, "SELECT max(id) FROM case_extensions");
	assert_int_equal(
	        tpg_exec(owner, "UPDATE users SET role = 'provincial', unit_id = 2 WHERE username = 'dc'"),
	        0);
	snprintf(args, sizeof(args), "{\"extension\": %lld, \"decision\": \"approve\"}", ext);
	op_refused("dc", "POST", "extension_decide", id, args, "TW403", NULL);
	assert_int_equal(
	        tpg_exec(owner, "UPDATE users SET role = 'unit_officer', unit_id = 4 WHERE username = 'dc'"),
	        0);

	/* The national office handles a case routed past the province: it decides, the province cannot. */
	snprintf(sql, sizeof(sql), "UPDATE cases SET handling_unit = 1, conflict = true WHERE id = %lld", id);
	assert_int_equal(tpg_exec(owner, sql), 0);
	op_refused("bj", "POST", "extension_decide", id, args, "TW404", NULL);
	snprintf(sql, sizeof(sql), "UPDATE cases SET conflict = false WHERE id = %lld", id);
	assert_int_equal(tpg_exec(owner, sql), 0);
	op_refused("bj", "POST", "extension_decide", id, args, "TW403", NULL);
	a = op_ok("nat", "POST", "extension_decide", id, args);
	assert_non_null(strstr(a, "\"2026-03-06\""));

	/* Once the result is submitted there is no deadline to extend, and nothing to ask. */
	snprintf(sql, sizeof(sql), "UPDATE cases SET stage = 'under_review' WHERE id = %lld", id);
	assert_int_equal(tpg_exec(owner, sql), 0);
	op_refused("dc", "POST", "extension_request", id, "{\"working_days\": 1, \"reason\": \"r\"}", "TW409",
	           NULL);
	/* The history: four requests, three decided by the office, one by the national office. */
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM case_extensions WHERE state = 'approved'"),
	                 2);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM case_extensions WHERE state = 'refused'"), 2);
	close_all();
}

static void test_holiday_admin(void **state)
{
	(void)state;
	const char *a;

	/* Everyone may read a year; the list is the official one. */
	a = op_ok("rev", "GET", "holidays", 0, "{\"year\": \"2026\"}");
	assert_non_null(strstr(a, "\"2026-02-14\", \"kind\": \"workday\""));
	assert_int_equal(
	        tpg_value(owner, "SELECT jsonb_array_length((op_holidays('{\"year\": 2026}')) -> 'days')"),
	        39);
	op_ok("aud", "GET", "holidays", 0, "{}");
	op_refused("aud", "GET", "holidays", 0, "{\"year\": \"26\"}", "TW400", "year");

	/* Only administrators change it; bad input names the field. */
	const char *set = "{\"day\": \"2027-02-08\", \"kind\": \"holiday\", \"name\": \"春节\"}";
	op_refused("nat", "POST", "holiday_set", 0, set, "TW403", NULL);
	op_refused("adm", "POST", "holiday_set", 0,
	           "{\"day\": \"2027-02-30\", \"kind\": \"holiday\", \"name\": \"x\"}", "TW400", "day");
	op_refused("adm", "POST", "holiday_set", 0,
	           "{\"day\": \"20270208\", \"kind\": \"holiday\", \"name\": \"x\"}", "TW400", "day");
	op_refused("adm", "POST", "holiday_set", 0,
	           "{\"day\": \"1999-12-31\", \"kind\": \"holiday\", \"name\": \"x\"}", "TW400", "day");
	op_refused("adm", "POST", "holiday_set", 0,
	           "{\"day\": \"2027-02-08\", \"kind\": \"off\", \"name\": \"x\"}", "TW400", "kind");
	op_refused("adm", "POST", "holiday_set", 0,
	           "{\"day\": \"2027-02-08\", \"kind\": \"workday\", \"name\": \"x\"}", "TW400", "kind");
	op_refused("adm", "POST", "holiday_set", 0,
	           "{\"day\": \"2027-02-08\", \"kind\": \"holiday\", \"name\": \"\"}", "TW400", "name");
	op_refused("adm", "POST", "holiday_set", 0,
	           "{\"day\": \"2027-02-08\", \"kind\": \"holiday\", \"name\": \" x\"}", "TW400", "name");
	op_refused("adm", "POST", "holiday_set", 0, "{\"day\": \"2027-02-08\", \"kind\": \"holiday\"}",
	           "TW400", "name");
	op_refused("adm", "POST", "holiday_set", 0,
	           "{\"day\": \"2027-02-08\", \"kind\": \"holiday\", \"name\": 1}", "TW400", "name");
	op_refused("adm", "POST", "holiday_delete", 0, "{\"day\": \"2027-02-09\"}", "TW404", "day");
	/* The database refuses the same write outside the operation. */
	act("nat");
	assert_int_equal(tpg_exec(app, "INSERT INTO holidays VALUES ('2027-02-08', 'holiday', 'x')"), -1);

	/* A deadline already set stays; a new one follows the new calendar. */
	long long id = add_case("2027-01-20T09:00:00+08:00", 0);
	assign(id, "2027-02-08");
	assert_string_equal(text_value(owner, "SELECT add_working_days('2027-02-05', 1)::text", 0, NULL),
	                    "2027-02-08");
	a = op_ok("adm", "POST", "holiday_set", 0, set);
	assert_non_null(strstr(a, "\"kind\": \"holiday\""));
	op_ok("adm", "POST", "holiday_set", 0,
	      "{\"day\": \"2027-02-20\", \"kind\": \"workday\", \"name\": \"春节\"}");
	assert_string_equal(text_value(owner, "SELECT add_working_days('2027-02-05', 1)::text", 0, NULL),
	                    "2027-02-09");
	assert_string_equal(text_value(owner, "SELECT add_working_days('2027-02-19', 1)::text", 0, NULL),
	                    "2027-02-20");
	assert_int_equal(case_value(id, "deadline - '2027-02-08'"), 0);
	/* Renamed, then removed: each change recorded with what it was before and after, and audited. */
	op_ok("adm", "POST", "holiday_set", 0,
	      "{\"day\": \"2027-02-08\", \"kind\": \"holiday\", \"name\": \"春节假期\"}");
	op_ok("adm", "POST", "holiday_delete", 0, "{\"day\": \"2027-02-08\"}");
	op_refused("adm", "POST", "holiday_delete", 0, "{\"day\": \"2027-02-08\"}", "TW404", "day");
	assert_string_equal(text_value(owner, "SELECT add_working_days('2027-02-05', 1)::text", 0, NULL),
	                    "2027-02-08");
	assert_string_equal(
	        text_value(owner,
	                   "SELECT string_agg(coalesce(before ->> 'name', '-') || '>' || "
	                   "coalesce(after ->> 'name', '-'), ' ' ORDER BY id) FROM holiday_changes "
	                   "WHERE day = '2027-02-08'",
	                   0, NULL),
	        "->春节 春节>春节假期 春节假期>-");
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM audit_events WHERE action IN ('holiday.set', "
	                                  "'holiday.delete') AND object LIKE 'holiday:2027-02-%' AND actor = "
	                                  "(SELECT id FROM users WHERE username = 'adm')"),
	                 4);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM audit_events WHERE action = 'holiday.delete' "
	                                  "AND before_hash IS NOT NULL AND after_hash IS NULL"),
	                 1);
	close_all();
}

/* A value out of a JSON document (path: a text array literal such as '{overdue,0,level}'), or NULL. */
static const char *json_at(const char *doc, const char *path)
{
	const char *p[] = {doc, path};

	return text_value(owner, "SELECT $1::jsonb #>> $2::text[]", 2, p);
}

/* A date relative to today in China, as text (static buffer of text_value). */
static const char *today_plus(int days)
{
	char sql[100];

	snprintf(sql, sizeof(sql), "SELECT (wf_today() + %d)::text", days);
	return text_value(owner, sql, 0, NULL);
}

static const char *days_ago(int days)
{
	char sql[100];

	snprintf(sql, sizeof(sql), "SELECT (now() - interval '%d days')::text", days);
	return text_value(owner, sql, 0, NULL);
}

/* A case received days ago (anonymous: no contact clock), assigned to Dongcheng with a deadline relative to
 * today. */
static long long overdue_case(int received_days_ago, int deadline_from_today)
{
	char received[64], deadline[16];

	snprintf(received, sizeof(received), "%s", days_ago(received_days_ago));
	long long id = add_case(received, 0);
	snprintf(deadline, sizeof(deadline), "%s", today_plus(deadline_from_today));
	assign(id, deadline);
	return id;
}

/*
 * The views, at the real time: a deadline 30 days ago (escalated: any 30 days hold five working days), one
 * yesterday (supervision only), one in ten days (not overdue).
 */
static void test_views(void **state)
{
	(void)state;
	long long old = overdue_case(60, -30), recent = overdue_case(20, -1), later = overdue_case(5, 10);
	const char *a;
	char id[24], path[64];

	assert_int_equal(tpg_exec(ingest, "SELECT clocks_run(now())"), 0);
	a = op_ok("dc", "GET", "overdue", 0, "{}");
	snprintf(id, sizeof(id), "%lld", old);
	assert_string_equal(json_at(a, "{overdue,0,case}"), id);
	assert_string_equal(json_at(a, "{overdue,0,level}"), "2");
	assert_string_equal(json_at(a, "{overdue,0,days_overdue}"), "30");
	assert_string_equal(json_at(a, "{overdue,0,clock}"), "handling");
	snprintf(id, sizeof(id), "%lld", recent);
	assert_string_equal(json_at(a, "{overdue,1,case}"), id);
	assert_string_equal(json_at(a, "{overdue,1,level}"), "1");
	assert_string_equal(json_at(a, "{overdue,1,days_overdue}"), "1");
	assert_null(json_at(a, "{overdue,2}"));
	assert_string_equal(json_at(a, "{truncated}"), "false");
	a = op_ok("bj", "GET", "overdue", 0, "{\"limit\": \"1\", \"clock\": \"handling\"}");
	assert_non_null(json_at(a, "{overdue,0}"));
	assert_null(json_at(a, "{overdue,1}"));
	assert_string_equal(json_at(a, "{truncated}"), "true");
	assert_string_equal(
	        json_at(op_ok("bj", "GET", "overdue", 0, "{\"clock\": \"contact\"}"), "{overdue}"), "[]");
	assert_string_equal(json_at(op_ok("xc", "GET", "overdue", 0, "{}"), "{overdue}"), "[]");
	assert_string_equal(json_at(op_ok("sh", "GET", "overdue", 0, "{}"), "{overdue}"), "[]");
	op_refused("rev", "GET", "overdue", 0, "{}", "TW403", NULL);
	op_refused("adm", "GET", "overdue", 0, "{}", "TW403", NULL);
	op_refused("bj", "GET", "overdue", 0, "{\"limit\": \"0\"}", "TW400", "limit");
	op_refused("bj", "GET", "overdue", 0, "{\"clock\": \"x\"}", "TW400", "clock");

	/* Notices, newest first: the escalation and supervision of the old case, the supervision of the
	 * other. */
	a = op_ok("dc", "GET", "notices", 0, "{}");
	snprintf(path, sizeof(path), "%lld", old);
	assert_string_equal(
	        text_value(owner,
	                   "SELECT string_agg((n ->> 'kind') || ':' || (n ->> 'level'), ',' ORDER BY "
	                   "(n ->> 'id')::bigint) FROM jsonb_array_elements($1::jsonb -> 'notices') n "
	                   "WHERE (n ->> 'case')::bigint >= $2::bigint",
	                   2, (const char *[]){a, path}),
	        "supervision:1,escalation:2,supervision:1");
	a = op_ok("bj", "GET", "notices", 0, "{\"kind\": \"escalation\"}");
	snprintf(id, sizeof(id), "%lld", old);
	assert_string_equal(json_at(a, "{notices,0,case}"), id);
	assert_string_equal(json_at(a, "{notices,0,kind}"), "escalation");
	a = op_ok("bj", "GET", "notices", 0, "{\"limit\": \"2\"}");
	assert_non_null(json_at(a, "{next}"));
	snprintf(path, sizeof(path), "{\"before\": \"%s\"}", json_at(a, "{next}"));
	assert_non_null(json_at(op_ok("bj", "GET", "notices", 0, path), "{notices,0}"));
	assert_string_equal(json_at(op_ok("sh", "GET", "notices", 0, "{}"), "{notices}"), "[]");
	op_refused("bj", "GET", "notices", 0, "{\"kind\": \"late\"}", "TW400", "kind");

	/* One case's clocks. */
	a = op_ok("dc", "GET", "clocks", old, "{}");
	assert_string_equal(json_at(a, "{clocks,0,clock}"), "contact");
	assert_string_equal(json_at(a, "{clocks,0,state}"), "none");
	assert_string_equal(json_at(a, "{clocks,1,state}"), "running");
	assert_string_equal(json_at(a, "{clocks,1,overdue}"), "true");
	assert_string_equal(json_at(a, "{clocks,1,level}"), "2");
	assert_string_equal(json_at(a, "{escalation_level}"), "2");
	assert_string_equal(json_at(a, "{may_decide_extensions}"), "false");
	assert_string_equal(json_at(a, "{settings,reminder_days}"), "3");
	assert_string_equal(json_at(a, "{notices,1,kind}"), "escalation");
	a = op_ok("bj", "GET", "clocks", later, "{}");
	assert_string_equal(json_at(a, "{clocks,1,overdue}"), "false");
	assert_string_equal(json_at(a, "{clocks,1,level}"), "0");
	assert_string_equal(json_at(a, "{may_decide_extensions}"), "true");
	op_ok("rev", "GET", "clocks", later, "{}");
	op_refused("sh", "GET", "clocks", later, "{}", "TW404", NULL);
	op_refused("dc", "GET", "clocks", later, "{\"x\": \"1\"}", "TW400", "x");
	close_all();
}

/*
 * The daemon's timer: a notice due when it starts is fired; a deadline set while it runs is seen within
 * clock_max_wait; restarted, it fires nothing again.
 */
static void test_daemon_timer(void **state)
{
	(void)state;
	struct tdaemon d;
	char log[300], log2[300];
	char *conf = tu_read_file(f.conf, NULL), *off = conf ? strstr(conf, "clocks no\n") : NULL;

	assert_non_null(off);
	tu_write_text(f.conf, "%.*sclocks yes\nclock_max_wait 200ms\n%s", (int)(off - conf), conf,
	              off + strlen("clocks no\n"));
	free(conf);
	snprintf(log, sizeof(log), "%s/casemgrd.log", f.dir);
	snprintf(log2, sizeof(log2), "%s/casemgrd-restarted.log", f.dir);
	long long first = overdue_case(10, -1);
	assert_int_equal(tdaemon_start(&d, "casemgrd", f.conf, log), 0);
	for (int i = 0; i < 500 && notices(first, "supervision") == 0; i++)
		usleep(20000);
	assert_int_equal(notices(first, "supervision"), 1);
	for (int i = 0; i < 500 && tcm_metric(&f, "casemgr_notices_total{kind=\"supervision\"}") != 1; i++)
		usleep(20000);
	assert_int_equal(tcm_metric(&f, "casemgr_notices_total{kind=\"supervision\"}"), 1);
	assert_int_equal(tcm_metric(&f, "casemgr_overdue_cases"), 1);

	long long second = overdue_case(10, -1);
	for (int i = 0; i < 250 && notices(second, "supervision") == 0; i++)
		usleep(20000);
	assert_int_equal(notices(second, "supervision"), 1);
	assert_int_equal(tdaemon_stop(&d, SIGTERM), 0);

	assert_int_equal(tdaemon_start(&d, "casemgrd", f.conf, log2), 0);
	for (int i = 0; i < 500 && tcm_metric(&f, "casemgr_clock_runs_total") < 2; i++)
		usleep(20000);
	assert_true(tcm_metric(&f, "casemgr_clock_runs_total") >= 2);
	assert_int_equal(tcm_metric(&f, "casemgr_notices_total{kind=\"supervision\"}"), 0);
	assert_int_equal(tcm_metric(&f, "casemgr_overdue_cases"), 2);
	assert_int_equal(notices(first, NULL), 1);
	assert_int_equal(notices(second, NULL), 1);
	assert_int_equal(tdaemon_stop(&d, SIGTERM), 0);
	char *text = tu_read_file(log, NULL);
	if (!strstr(text, "clocks: fired 0 reminders, 1 supervision notices"))
		fail_msg("no notice logged:\n%s", text);
	free(text);
}

/* The same operations through the staff API of a running daemon: routes, CSRF, status codes and fields. */
static void test_api(void **state)
{
	(void)state;
	struct tdaemon d;
	struct httpc_response r;
	char log[300], path[120];
	long long id = overdue_case(5, 10);

	snprintf(log, sizeof(log), "%s/casemgrd-api.log", f.dir);
	assert_int_equal(tdaemon_start(&d, "casemgrd", f.conf, log), 0);
	struct tsession adm = tstaff_session(d.port, "adm", 1), nat = tstaff_session(d.port, "nat", 1),
	                aud = tstaff_session(d.port, "aud", 1), dc = tstaff_session(d.port, "dc", 1),
	                bj = tstaff_session(d.port, "bj", 1), rev = tstaff_session(d.port, "rev", 1);

	assert_int_equal(tstaff_call(d.port, "POST", "/api/v1/ops/holiday_set", &adm, 1,
	                             "{\"day\": \"2027-10-01\", \"kind\": \"holiday\", \"name\": \"国庆节\"}",
	                             &r),
	                 200);
	httpc_free(&r);
	assert_int_equal(tstaff_call(d.port, "POST", "/api/v1/ops/holiday_set", &adm, 0,
	                             "{\"day\": \"2027-10-02\", \"kind\": \"holiday\", \"name\": \"x\"}", &r),
	                 403);
	httpc_free(&r);
	assert_int_equal(tstaff_call(d.port, "POST", "/api/v1/ops/holiday_set", &adm, 1,
	                             "{\"day\": \"2027-13-01\", \"kind\": \"holiday\", \"name\": \"x\"}", &r),
	                 400);
	assert_non_null(strstr(r.body, "\"field\":\"day\""));
	httpc_free(&r);
	assert_int_equal(tstaff_call(d.port, "POST", "/api/v1/ops/holiday_set", &nat, 1,
	                             "{\"day\": \"2027-10-02\", \"kind\": \"holiday\", \"name\": \"x\"}", &r),
	                 403);
	httpc_free(&r);
	assert_int_equal(tstaff_call(d.port, "GET", "/api/v1/ops/holidays?year=2027", &aud, 0, NULL, &r),
	                 200);
	assert_non_null(strstr(r.body, "\"2027-10-01\""));
	httpc_free(&r);
	assert_int_equal(tstaff_call(d.port, "GET", "/api/v1/ops/holidays?year=27", &aud, 0, NULL, &r), 400);
	assert_non_null(strstr(r.body, "\"field\":\"year\""));
	httpc_free(&r);
	assert_int_equal(tstaff_call(d.port, "POST", "/api/v1/ops/holidays", &aud, 1, "{}", &r), 405);
	httpc_free(&r);

	snprintf(path, sizeof(path), "/api/v1/cases/%lld/actions/extension_request", id);
	assert_int_equal(tstaff_call(d.port, "POST", path, &dc, 1,
	                             "{\"working_days\": 2, \"reason\": \"证人在外地\"}", &r),
	                 200);
	httpc_free(&r);
	assert_int_equal(
	        tstaff_call(d.port, "POST", path, &dc, 1, "{\"working_days\": 2, \"reason\": \"again\"}", &r),
	        409);
	assert_non_null(strstr(r.body, "\"error\":\"refused\""));
	httpc_free(&r);
	snprintf(path, sizeof(path), "/api/v1/cases/%lld/actions/extension_decide", id);
	assert_int_equal(tstaff_call(d.port, "POST", path, &bj, 1,
	                             "{\"extension\": \"1\", \"decision\": \"approve\"}", &r),
	                 400);
	assert_non_null(strstr(r.body, "\"field\":\"extension\""));
	httpc_free(&r);
	snprintf(log, sizeof(log), "{\"extension\": %lld, \"decision\": \"approve\"}",
	         tpg_value(owner, "SELECT max(id) FROM case_extensions"));
	assert_int_equal(tstaff_call(d.port, "POST", path, &dc, 1, log, &r), 403);
	httpc_free(&r);
	assert_int_equal(tstaff_call(d.port, "POST", path, &bj, 1, log, &r), 200);
	assert_non_null(strstr(r.body, "\"deadline\""));
	httpc_free(&r);
	snprintf(path, sizeof(path), "/api/v1/cases/%lld/actions/clocks", id);
	assert_int_equal(tstaff_call(d.port, "GET", path, &rev, 0, NULL, &r), 200);
	assert_non_null(strstr(r.body, "\"state\": \"approved\""));
	httpc_free(&r);
	assert_int_equal(tstaff_call(d.port, "GET", "/api/v1/ops/overdue", &rev, 0, NULL, &r), 403);
	httpc_free(&r);
	assert_int_equal(tstaff_call(d.port, "GET", "/api/v1/ops/overdue?clock=handling", &bj, 0, NULL, &r),
	                 200);
	assert_non_null(strstr(r.body, "\"overdue\""));
	httpc_free(&r);
	assert_int_equal(tstaff_call(d.port, "GET", "/api/v1/ops/notices?limit=5", &dc, 0, NULL, &r), 200);
	assert_non_null(strstr(r.body, "\"notices\""));
	httpc_free(&r);
	assert_int_equal(tdaemon_stop(&d, SIGTERM), 0);
	close_all();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_calendar_seed),  cmocka_unit_test(test_working_days),
	        cmocka_unit_test(test_handling_clock), cmocka_unit_test(test_backlog),
	        cmocka_unit_test(test_contact_clock),  cmocka_unit_test(test_extensions),
	        cmocka_unit_test(test_holiday_admin),  cmocka_unit_test(test_views),
	        cmocka_unit_test(test_daemon_timer),   cmocka_unit_test(test_api),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
