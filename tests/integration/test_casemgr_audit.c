/*
 * The audit trail: events appended by the application role are chained by the database, heads are
 * signed by the daemon, and `casemgrd audit verify` finds every altered, deleted or reordered event,
 * even when the tamperer is a superuser who switched the triggers off and re-chained the rest.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "daemon.h"
#include "pg.h"
#include "testutil.h"

#include "common/err.h"
#include "proto/note.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct tcm f;
static PGconn *su;

static int setup(void **state)
{
	(void)state;
	struct tdaemon d;
	char log[300];

	tcm_setup(&f, 1);
	FILE *conf = fopen(f.conf, "a");
	assert_non_null(conf);
	fputs("audit_head_events 5\naudit_head_interval 1s\n", conf);
	fclose(conf);
	PGconn *app = tpg_connect(&f.pg, "tip_app");
	for (int i = 0; i < 12; i++)
		assert_int_equal(
		        tpg_exec(app,
		                 "INSERT INTO audit_events (actor, action, object) VALUES (7, 'case.view', "
		                 "'case:1')"),
		        0);
	PQfinish(app);
	snprintf(log, sizeof(log), "%s/casemgrd.log", f.dir);
	assert_int_equal(tdaemon_start(&d, "casemgrd", f.conf, log), 0);
	su = tpg_connect(&f.pg, "postgres");
	/* 12 events: a head at 12 at once (5 or more new), none after (nothing new). */
	for (int i = 0; i < 500 && tpg_value(su, "SELECT coalesce(max(size), 0) FROM audit_heads") < 12; i++)
		usleep(10000);
	assert_int_equal(tdaemon_stop(&d, SIGTERM), 0);
	assert_int_equal(tpg_value(su, "SELECT max(size) FROM audit_heads"), 12);
	assert_int_equal(tpg_exec(su, "ALTER TABLE audit_events DISABLE TRIGGER USER"), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	PQfinish(su);
	tcm_teardown(&f);
	return 0;
}

static int verify(void)
{
	const char *args[] = {"audit", "verify", "-c", f.conf, NULL};

	return trun("casemgrd", args);
}

static void test_intact(void **state)
{
	(void)state;
	assert_int_equal(verify(), 0);
}

/* Heads leave the database as notes anyone holding the public key can check. */
static void test_export(void **state)
{
	(void)state;
	char dir[300], path[350], *note;
	size_t len, text_len;
	struct key pub = f.audit_key;

	snprintf(dir, sizeof(dir), "%s/heads", f.dir);
	assert_int_equal(mkdir(dir, 0700), 0);
	const char *args[] = {"audit", "export", "-c", f.conf, "--dir", dir, NULL};
	assert_int_equal(trun("casemgrd", args), 0);
	snprintf(path, sizeof(path), "%s/12.note", dir);
	assert_non_null(note = tu_read_file(path, &len));
	pub.has_secret = 0;
	memset(pub.secret, 0, sizeof(pub.secret));
	assert_int_equal(note_open(note, len, len, &pub, 1, &text_len, NULL), TIP_OK);
	assert_int_equal(strncmp(note, "tipline audit v1\n12\n", 20), 0);
	free(note);
	const char *usage[] = {"audit", "export", "-c", f.conf, NULL};
	assert_int_equal(trun("casemgrd", usage), 64);
}

/* A change verify must find, then its undoing, after which the trail verifies again. */
static void tamper(const char *change, const char *undo)
{
	assert_int_equal(tpg_exec(su, change), 0);
	if (verify() != 65)
		fail_msg("not detected: %s", change);
	assert_int_equal(tpg_exec(su, undo), 0);
	assert_int_equal(verify(), 0);
}

static void test_altered(void **state)
{
	(void)state;
	tamper("UPDATE audit_events SET object = 'case:2' WHERE seq = 3",
	       "UPDATE audit_events SET object = 'case:1' WHERE seq = 3");
	tamper("UPDATE audit_events SET actor = 8 WHERE seq = 0",
	       "UPDATE audit_events SET actor = 7 WHERE seq = 0");
}

static void test_deleted(void **state)
{
	(void)state;
	static const char *const restore = "INSERT INTO audit_events SELECT * FROM saved; DROP TABLE saved";

	tamper("CREATE TABLE saved AS SELECT * FROM audit_events WHERE seq = 4; DELETE FROM audit_events "
	       "WHERE seq = 4",
	       restore);
	/* The tail after the last head too: the head names 12 events. */
	tamper("CREATE TABLE saved AS SELECT * FROM audit_events WHERE seq = 11; DELETE FROM audit_events "
	       "WHERE seq = 11",
	       restore);
}

static void test_reordered(void **state)
{
	(void)state;
	static const char *const swap =
	        "UPDATE audit_events SET seq = seq + 1000 WHERE seq IN (5, 6);"
	        "UPDATE audit_events SET seq = CASE seq WHEN 1005 THEN 6 ELSE 5 END WHERE seq >= 1000";

	tamper(swap, swap);
}

/* Re-chaining everything after a change makes the chain consistent again; the signed head does not follow. */
static void test_rechained(void **state)
{
	(void)state;
	assert_int_equal(tpg_exec(su, "UPDATE audit_events SET object = 'case:9' WHERE seq = 2"), 0);
	for (int seq = 2; seq < 12; seq++) {
		char sql[400];
		snprintf(sql, sizeof(sql),
		         "UPDATE audit_events e SET prev_hash = p.hash FROM audit_events p WHERE e.seq = %d "
		         "AND p.seq = %d;"
		         "UPDATE audit_events SET hash = audit_event_hash(prev_hash, seq, at, actor, action, "
		         "object, "
		         "before_hash, after_hash) WHERE seq = %d",
		         seq, seq - 1, seq);
		assert_int_equal(tpg_exec(su, sql), 0);
	}
	assert_int_equal(verify(), 65);
	/* Without the head, the re-chained trail would pass: the head is what catches it. */
	assert_int_equal(
	        tpg_exec(su, "ALTER TABLE audit_heads DISABLE TRIGGER USER; DELETE FROM audit_heads"), 0);
	assert_int_equal(verify(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_intact),    cmocka_unit_test(test_export),
	        cmocka_unit_test(test_altered),   cmocka_unit_test(test_deleted),
	        cmocka_unit_test(test_reordered), cmocka_unit_test(test_rechained),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
