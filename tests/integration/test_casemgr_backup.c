/*
 * Backup and restore of the case manager's PostgreSQL (deploy/pg-backup, deploy/pg-restore): WAL
 * archiving turned on under a running casemgrd, a base backup, more cases and transitions after it, the
 * primary stopped, the backup restored into a new cluster with the archived WAL replayed, and casemgrd
 * started on the restored cluster: the changes made after the base backup are there, the sessions too,
 * and the audit chain verifies (the auditors' status with full=true, and `casemgrd audit verify` with the
 * heads' public key). Then a restore to a moment before those changes, which has none of them; and the
 * restores the script refuses.
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
#include <time.h>
#include <unistd.h>

static const char *const users[][4] = {
        {"bj", "provincial", "2", NULL},
        {"aud", "auditor", "1", NULL},
};
#define N_USERS (sizeof(users) / sizeof(users[0]))

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Waits (up to 60 s) until the query's value reaches want. */
static void wait_value(PGconn *c, const char *sql, long long want)
{
	for (int i = 0; i < 600 && tpg_value(c, sql) < want; i++)
		usleep(100000);
	assert_int_equal(tpg_value(c, sql), want);
}

/* The settings file for a casemgrd on the server at port `to` instead of `from` (heap path). */
static char *retarget(const struct tstaff *t, int from, int to)
{
	char *text = tu_read_file(t->f.conf, NULL), *path = malloc(512), *out, *p;
	char old[32], new[32];
	size_t n;

	assert_non_null(text);
	assert_non_null(path);
	snprintf(old, sizeof(old), "port=%d ", from);
	snprintf(new, sizeof(new), "port=%d ", to);
	assert_non_null(out = calloc(1, strlen(text) * 2 + 1));
	for (p = text, n = 0; *p;)
		if (!strncmp(p, old, strlen(old))) {
			memcpy(out + n, new, strlen(new));
			n += strlen(new);
			p += strlen(old);
		} else
			out[n++] = *p++;
	snprintf(path, 512, "%s/restored.conf", t->f.dir);
	tu_write_text(path, "%s", out);
	free(text);
	free(out);
	return path;
}

static void test_restore_replays_the_archive(void **state)
{
	struct tstaff t;
	struct tpg restored;
	char data[128], archive[128], base[128], port[16], rport[16], restored_data[128], log[512],
	        walfile[64];
	char *body, *conf, *out = NULL;
	long long cases, events, accepted;
	double t0;
	(void)state;

	static const struct tstaff_reports reports[] = {{"110101", 3}};
	tstaff_setup(&t, TSTAFF_OFFICES "(1, 'verification', '110105', '110000', 'unused unit')", users,
	             N_USERS, reports, 1);
	snprintf(data, sizeof(data), "%s/data", t.f.pg.dir);
	snprintf(archive, sizeof(archive), "%s/archive", t.f.pg.dir);
	snprintf(base, sizeof(base), "%s/base", t.f.pg.dir);
	snprintf(port, sizeof(port), "%d", t.f.pg.port);

	/* Archiving on: the server restarts, so casemgrd is stopped meanwhile (its sessions are rows). */
	assert_int_equal(tdaemon_stop(&t.d, SIGTERM), 0);
	const char *arch_args[] = {"archive", data, port, archive, NULL};
	assert_int_equal(tpg_deploy("pg-backup", arch_args), 0);
	PQreset(t.owner);
	snprintf(log, sizeof(log), "%s/casemgrd.log", t.f.dir);
	assert_int_equal(tdaemon_start(&t.d, "casemgrd", t.f.conf, log), 0);

	t0 = now_s();
	const char *base_args[] = {"base", port, base, NULL};
	assert_int_equal(tpg_deploy("pg-backup", base_args), 0);
	printf("base backup: %.1f s\n", now_s() - t0);
	char *before = tpg_text(t.owner, "SELECT now()::text");

	/* After the base backup: two more cases, a transition, an audit view (only the WAL has them). */
	tcm_add_reports(&t.f, 2);
	wait_value(t.owner, "SELECT count(*) FROM cases", 5);
	tstaff_op(t.d.port, tstaff_as(&t, "bj"), "POST", 4, "accept", "{}", 200, NULL, NULL);
	assert_int_equal(tstaff_get_op(t.d.port, tstaff_as(&t, "aud"), "audit_status", NULL, &body), 200);
	free(body);
	assert_int_equal(tdaemon_stop(&t.d, SIGTERM), 0);
	cases = tpg_value(t.owner, "SELECT count(*) FROM cases");
	events = tpg_value(t.owner, "SELECT count(*) FROM audit_events");
	accepted = tpg_value(t.owner, "SELECT count(*) FROM cases WHERE stage = 'accepted'");
	assert_int_equal(accepted, 1);

	/* The last segment switched out and archived, then the primary gone. */
	PGconn *su = tpg_connect(&t.f.pg, "postgres");
	char *name = tpg_text(su, "SELECT pg_walfile_name(pg_switch_wal())");
	snprintf(walfile, sizeof(walfile), "%s", name);
	free(name);
	for (int i = 0; i < 600; i++) {
		char *last = tpg_text(su, "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver");
		int done = strcmp(last, walfile) >= 0;

		free(last);
		if (done)
			break;
		usleep(100000);
	}
	assert_int_equal(tpg_value(su, "SELECT failed_count FROM pg_stat_archiver"), 0);
	PQfinish(su);
	assert_int_equal(tpg_stop(&t.f.pg), 0);

	/* Restored into a new cluster, casemgrd started on it. */
	assert_int_equal(tpg_place(&restored), 0);
	snprintf(restored_data, sizeof(restored_data), "%s/data", restored.dir);
	snprintf(rport, sizeof(rport), "%d", restored.port);
	t0 = now_s();
	const char *restore_args[] = {base, archive, restored_data, rport, NULL};
	assert_int_equal(tpg_deploy("pg-restore", restore_args), 0);
	printf("restore and replay: %.1f s\n", now_s() - t0);
	conf = retarget(&t, t.f.pg.port, restored.port);
	assert_int_equal(tdaemon_start(&t.d, "casemgrd", conf, log), 0);

	PGconn *owner = tpg_connect(&restored, "tip_owner");
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM cases"), cases);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM cases WHERE stage = 'accepted'"), accepted);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM audit_events"), events);
	assert_int_equal(tpg_value(owner, "SELECT pg_is_in_recovery()::int"), 0);
	/* The session from before the backup still works; the chain checks from event 0. */
	assert_int_equal(tstaff_get_op(t.d.port, tstaff_as(&t, "aud"), "audit_status", "full=true", &body),
	                 200);
	json_error_t e;
	json_t *doc = json_loads(body, 0, &e);
	assert_non_null(doc);
	assert_true(json_is_true(json_object_get(json_object_get(doc, "chain"), "ok")));
	assert_true(json_is_true(json_object_get(json_object_get(doc, "chain"), "full")));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(doc, "chain"), "checked")),
	                 events); /* the view's own event comes after the check */
	json_decref(doc);
	free(body);
	/* The restored cluster takes writes: a transition on a case that arrived after the base backup. */
	tstaff_op(t.d.port, tstaff_as(&t, "bj"), "POST", 5, "accept", "{}", 200, NULL, NULL);
	const char *verify[] = {"audit", "verify", "-c", conf, NULL};
	if (trun_output("casemgrd", verify, &out) != 0)
		fail_msg("casemgrd audit verify on the restored cluster: %s", out ? out : "");
	free(out);

	assert_int_equal(tdaemon_stop(&t.d, SIGTERM), 0);
	PQfinish(owner);
	tpg_destroy(&restored);

	/* To a moment between the base backup and the changes after it: none of them. */
	assert_int_equal(tpg_place(&restored), 0);
	snprintf(restored_data, sizeof(restored_data), "%s/data", restored.dir);
	snprintf(rport, sizeof(rport), "%d", restored.port);
	const char *pitr_args[] = {base, archive, restored_data, rport, before, NULL};
	assert_int_equal(tpg_deploy("pg-restore", pitr_args), 0);
	owner = tpg_connect(&restored, "tip_owner");
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM cases"), 3);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM cases WHERE stage = 'accepted'"), 0);
	PQfinish(owner);

	/* Refused: a restore into a directory in use, an archive path a setting cannot hold, a damaged backup
	 * (found by its manifest before anything is copied). */
	tpg_destroy(&restored);
	assert_int_equal(tpg_place(&restored), 0);
	snprintf(restored_data, sizeof(restored_data), "%s/data", restored.dir);
	const char *used_args[] = {base, archive, archive, rport, NULL};
	assert_int_equal(tpg_deploy("pg-restore", used_args), -1);
	const char *odd_args[] = {base, "/tmp/it's", restored_data, rport, NULL};
	assert_int_equal(tpg_deploy("pg-restore", odd_args), -1);
	char version[160];
	snprintf(version, sizeof(version), "%s/PG_VERSION", base);
	tu_write_text(version, "14\n");
	const char *verify_args[] = {"verify", base, NULL};
	assert_int_equal(tpg_deploy("pg-backup", verify_args), -1);
	const char *damaged_args[] = {base, archive, restored_data, rport, NULL};
	assert_int_equal(tpg_deploy("pg-restore", damaged_args), -1);
	assert_int_equal(access(restored_data, F_OK), -1);
	tpg_destroy(&restored);
	free(before);
	free(conf);
	tstaff_teardown(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_restore_replays_the_archive),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
