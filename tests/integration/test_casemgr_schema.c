/*
 * casemgrd's schema against a real PostgreSQL: migrations (idempotent, upgrade from the previous
 * version, a changed or missing migration refused), the application role's limits, row-level
 * security for every role, and the append-only audit table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "daemon.h"
#include "pg.h"
#include "testutil.h"

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static struct tcm f;

/* The files in internal/sql. */
static long long migrations_count(void)
{
	char pattern[600];
	glob_t g;
	long long n;

	snprintf(pattern, sizeof(pattern), "%s/[0-9][0-9][0-9][0-9]_*.sql", f.migrations);
	assert_int_equal(glob(pattern, 0, NULL, &g), 0);
	n = (long long)g.gl_pathc;
	globfree(&g);
	return n;
}
#define MIGRATIONS migrations_count()

static int setup(void **state)
{
	(void)state;
	tcm_setup(&f, 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tcm_teardown(&f);
	return 0;
}

static int migrate(const char *to)
{
	const char *args[] = {"migrate", "-c", f.conf, to ? "--to" : NULL, to, NULL};

	return trun("casemgrd", args);
}

/* A settings file like f.conf but reading migrations from dir. */
static void conf_with_migrations(const char *dir, char *out, size_t cap)
{
	char *text = tu_read_file(f.conf, NULL), *line = strstr(text, "migrations ");
	size_t keep = (size_t)(line - text);

	snprintf(out, cap, "%s.alt", f.conf);
	tu_write_text(out, "%.*smigrations %s%s", (int)keep, text, dir, strchr(line, '\n'));
	free(text);
}

static void copy_file(const char *from_dir, const char *to_dir, const char *name, const char *append)
{
	char from[700], to[700];
	size_t len;
	char *text;

	snprintf(from, sizeof(from), "%s/%s", from_dir, name);
	snprintf(to, sizeof(to), "%s/%s", to_dir, name);
	assert_non_null(text = tu_read_file(from, &len));
	tu_write_text(to, "%s%s", text, append);
	free(text);
}

static void test_migrations(void **state)
{
	(void)state;
	PGconn *owner;

	/* The previous version first, with data in it; then the upgrade keeps the data. */
	assert_int_equal(migrate("2"), 0);
	owner = tpg_connect(&f.pg, "tip_owner");
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM schema_migrations"), 2);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM pg_tables WHERE tablename = 'audit_events'"),
	                 0);
	assert_int_equal(
	        tpg_exec(owner, "INSERT INTO org_units (kind, name) VALUES ('national', 'national office')"),
	        0);
	assert_int_equal(migrate(NULL), 0);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM schema_migrations"), MIGRATIONS);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM org_units WHERE kind = 'national'"), 1);
	long long applied = tpg_value(owner, "SELECT extract(epoch FROM max(applied_at)) * 1000000 "
	                                     "FROM schema_migrations");

	/* Again: nothing to do, nothing re-run. */
	assert_int_equal(migrate(NULL), 0);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM schema_migrations"), MIGRATIONS);
	assert_int_equal(tpg_value(owner, "SELECT extract(epoch FROM max(applied_at)) * 1000000 "
	                                  "FROM schema_migrations"),
	                 applied);
	assert_int_equal(migrate("99"), 65);

	/* A migration changed after it was applied, and a gap in the versions, are refused. */
	char alt_dir[300], alt_conf[300];
	snprintf(alt_dir, sizeof(alt_dir), "%s/sql", f.dir);
	assert_int_equal(mkdir(alt_dir, 0700), 0);
	copy_file(f.migrations, alt_dir, "0001_core.sql", "-- edited\n");
	conf_with_migrations(alt_dir, alt_conf, sizeof(alt_conf));
	const char *changed[] = {"migrate", "-c", alt_conf, NULL};
	assert_int_equal(trun("casemgrd", changed), 65);
	copy_file(f.migrations, alt_dir, "0001_core.sql", "");
	copy_file(f.migrations, alt_dir, "0003_audit.sql", "");
	assert_int_equal(trun("casemgrd", changed), 65);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM schema_migrations"), MIGRATIONS);
	PQfinish(owner);
}

/* The application role is neither owner nor superuser and cannot bypass row-level security. */
static void test_app_role(void **state)
{
	(void)state;
	PGconn *owner = tpg_connect(&f.pg, "tip_owner");

	assert_int_equal(tpg_value(owner,
	                           "SELECT count(*) FROM pg_roles WHERE rolname IN ('tip_app', 'tip_ingest') "
	                           "AND NOT rolsuper AND NOT rolbypassrls"),
	                 2);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
	                                  "AND tableowner <> 'tip_owner'"),
	                 0);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
	                                  "AND tablename IN ('reports', 'cases', 'report_persons', 'users', "
	                                  "'audit_events') AND NOT rowsecurity"),
	                 0);
	PQfinish(owner);
}

/* Names the acting user for the app connection's next statements (id looked up by the owner). */
static void act_as(PGconn *app, PGconn *owner, const char *user)
{
	const char *name[] = {user};
	PGresult *id =
	        PQexecParams(owner, "SELECT coalesce((SELECT id::text FROM users WHERE username = $1), '')",
	                     1, NULL, name, NULL, NULL, 0);
	const char *actor[] = {PQgetvalue(id, 0, 0)};
	PGresult *r =
	        PQexecParams(app, "SELECT set_config('tip.actor', $1, false)", 1, NULL, actor, NULL, NULL, 0);

	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	PQclear(r);
	PQclear(id);
}

/*
 * Two provinces, a unit in each, one user per role; three cases. Each role sees exactly its scope,
 * nobody sees anything before accepting the pledge, and without an acting user nothing at all.
 */
static void test_row_level_security(void **state)
{
	(void)state;
	PGconn *owner = tpg_connect(&f.pg, "tip_owner"), *app = tpg_connect(&f.pg, "tip_app");
	static const char *const setup_sql =
	        "INSERT INTO org_units (parent_id, kind, region, province, name) VALUES "
	        "(1, 'provincial', '110000', '110000', 'Beijing office'), "
	        "(1, 'provincial', '310000', '310000', 'Shanghai office');"
	        "INSERT INTO org_units (parent_id, kind, region, province, name) VALUES "
	        "(2, 'verification', '110101', '110000', 'Dongcheng unit'), "
	        "(3, 'verification', '310101', '310000', 'Huangpu unit'), "
	        "(2, 'review', '110000', '110000', 'Beijing review');"
	        "INSERT INTO users (username, role, unit_id, password_hash) VALUES "
	        "('nat', 'national', 1, 'x'), ('bj', 'provincial', 2, 'x'), ('sh', 'provincial', 3, 'x'), "
	        "('dc', 'unit_officer', 4, 'x'), ('rev', 'reviewer', 6, 'x'), ('aud', 'auditor', 1, 'x'), "
	        "('adm', 'administrator', 1, 'x');"
	        "INSERT INTO pledges (user_id, version) SELECT id, '1' FROM users WHERE username <> 'sh';";
	assert_int_equal(tpg_exec(owner, setup_sql), 0);
	/* Three reports through the ingest role, as ingest writes them. */
	PGconn *ingest = tpg_connect(&f.pg, "tip_ingest");
	for (int i = 0; i < 3; i++) {
		char seq[4], region[8];
		const char *params[] = {seq, region};

		snprintf(seq, sizeof(seq), "%d", i);
		snprintf(region, sizeof(region), "%s", i < 2 ? "110101" : "310101");
		PGresult *r = PQexecParams(
		        ingest,
		        "SELECT ingest_batch(jsonb_build_object('origin', 'o', 'next_seq', $1::int + 1, "
		        "'prev_hash', "
		        "repeat('00', 32), 'prev_trusted', true, 'quarantine', '[]'::jsonb, 'reports', "
		        "jsonb_build_array(jsonb_build_object("
		        "'seq', $1::int, 'hash', repeat('ab', 32), 'signed_ms', 1700000000000, 'version', 1, "
		        "'taxonomy_version', '2026.1', 'query_hash', repeat('cd', 32), 'locale', 'en', "
		        "'anonymous', "
		        "false, 'name', 'n', 'id_number', '', 'phone', '123456', 'address', '', "
		        "'contact_allowed', true, "
		        "'channel', '', 'categories', '[\"protective_umbrella\"]'::jsonb, 'sector', '', "
		        "'region', $2::text, "
		        "'province', left($2::text, 2) || '0000', 'place', '', 'time', '', 'narrative', 'x', "
		        "'persons', "
		        "'[]'::jsonb, 'officials', '[]'::jsonb, 'attachments', '[]'::jsonb))))",
		        2, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			fail_msg("ingest_batch: %s", PQresultErrorMessage(r));
		PQclear(r);
	}
	PQfinish(ingest);
	assert_int_equal(tpg_exec(owner, "UPDATE cases SET assigned_unit = 4 WHERE id = 1;"
	                                 "UPDATE cases SET review_unit = 6 WHERE id IN (1, 2)"),
	                 0);

	static const struct {
		const char *user;
		long long cases, reports, users;
	} expect[] = {
	        {"nat", 3, 3, 1}, {"bj", 2, 2, 1},  {"sh", 0, 0, 1},  {"dc", 1, 1, 1},
	        {"rev", 2, 2, 1}, {"aud", 0, 0, 1}, {"adm", 0, 0, 7}, {"nobody", 0, 0, 0},
	};
	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		act_as(app, owner, expect[i].user);
		if (tpg_value(app, "SELECT count(*) FROM cases") != expect[i].cases ||
		    tpg_value(app, "SELECT count(*) FROM reports") != expect[i].reports ||
		    tpg_value(app, "SELECT count(*) FROM report_attachments") != 0 ||
		    tpg_value(app, "SELECT count(*) FROM users") != expect[i].users)
			fail_msg("%s sees outside its scope", expect[i].user);
	}
	/* Writes reach only the scope: Beijing's provincial office changes its two cases, not Shanghai's. */
	act_as(app, owner, "bj");
	PGresult *r = PQexec(app, "UPDATE cases SET stage = 'accepted'");
	assert_string_equal(PQcmdTuples(r), "2");
	PQclear(r);
	assert_int_equal(tpg_exec(app, "UPDATE cases SET province = '310000'"), -1);
	PQfinish(app);
	PQfinish(owner);
}

/* Audit events: the application appends; nobody changes or deletes one, not even the owner. */
static void test_audit_append_only(void **state)
{
	(void)state;
	PGconn *owner = tpg_connect(&f.pg, "tip_owner"), *app = tpg_connect(&f.pg, "tip_app");

	assert_int_equal(tpg_exec(app,
	                          "INSERT INTO audit_events (actor, action, object) VALUES (1, 'case.view', "
	                          "'case:1'), (1, 'case.view', 'case:2')"),
	                 0);
	assert_int_equal(tpg_exec(app, "UPDATE audit_events SET object = 'case:3'"), -1);
	assert_int_equal(tpg_exec(app, "DELETE FROM audit_events"), -1);
	assert_int_equal(tpg_exec(app,
	                          "INSERT INTO audit_events (seq, action, object, prev_hash, hash) VALUES "
	                          "(7, 'x', 'y', '\\x00', '\\x00')"),
	                 -1);
	assert_int_equal(tpg_exec(owner, "UPDATE audit_events SET object = 'case:3'"), -1);
	assert_int_equal(tpg_exec(owner, "DELETE FROM audit_events"), -1);
	assert_int_equal(tpg_exec(owner, "TRUNCATE audit_events"), -1);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM audit_events WHERE action = 'case.view'"), 2);
	/* Each ingest batch of the test before is an event too, with the chain hashes before and after it. */
	assert_int_equal(tpg_value(owner,
	                           "SELECT count(*) FROM audit_events WHERE action = 'ingest.batch' AND "
	                           "object LIKE 'inbox:o/%' AND after_hash IS NOT NULL"),
	                 3);
	/* Chained: each event names the hash before it, and the hash is the documented function of the row.
	 */
	assert_int_equal(
	        tpg_value(owner,
	                  "SELECT count(*) FROM audit_events a JOIN audit_events b ON b.seq = a.seq + 1 "
	                  "WHERE b.prev_hash = a.hash AND b.hash = audit_event_hash(b.prev_hash, b.seq, "
	                  "b.at, b.actor, b.action, b.object, b.before_hash, b.after_hash)"),
	        tpg_value(owner, "SELECT count(*) - 1 FROM audit_events"));
	PQfinish(app);
	PQfinish(owner);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_migrations),
	        cmocka_unit_test(test_app_role),
	        cmocka_unit_test(test_row_level_security),
	        cmocka_unit_test(test_audit_append_only),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
