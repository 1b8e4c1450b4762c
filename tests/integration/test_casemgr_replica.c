/*
 * The read replica (deploy/pg-standby, casemgrd's db_replica): a streaming hot standby of the primary, the
 * dashboard answered from it once it has replayed the primary's WAL (its connection seen on the standby,
 * counted by casemgr_replica_answers_total), and answered by the primary instead when the standby has not
 * replayed the caller's session or pledge yet, or is down (casemgr_replica_fallbacks_total); back on the
 * standby once it is up again.
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
        {"nat", "national", "1", NULL},
        {"nat2", "national", "1", NULL},
};
#define N_USERS (sizeof(users) / sizeof(users[0]))

#define ANSWERS   "casemgr_replica_answers_total"
#define FALLBACKS "casemgr_replica_fallbacks_total"
#define APP       "casemgrd-replica"

static struct tstaff t;
static struct tpg standby;

/* The dashboard of 2023 (the test reports' month) as s: 200, with its total of reports. */
static long long dashboard(const struct tsession *s)
{
	char *body;
	json_error_t e;
	json_t *doc;
	long long n;

	if (tstaff_get_op(t.d.port, s, "dashboard", "from=2023-01-01&to=2023-12-31", &body) != 200)
		fail_msg("dashboard: %s", body);
	assert_non_null(doc = json_loads(body, 0, &e));
	n = json_integer_value(json_object_get(json_object_get(doc, "totals"), "reports"));
	json_decref(doc);
	free(body);
	return n;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Waits until the standby has replayed what the primary has written so far; the seconds it took. */
static double catch_up(PGconn *primary, PGconn *replica)
{
	char *lsn = tpg_text(primary, "SELECT pg_current_wal_lsn()"), sql[160];
	double t0 = now_s();

	snprintf(sql, sizeof(sql), "SELECT (pg_last_wal_replay_lsn() >= '%s')::int", lsn);
	free(lsn);
	for (int i = 0; i < 6000 && !tpg_value(replica, sql); i++)
		usleep(10000);
	assert_int_equal(tpg_value(replica, sql), 1);
	return now_s() - t0;
}

/* The session of a new national user, its pledge accepted while the standby's replay is paused. */
static struct tsession pledge_unreplayed(PGconn *primary, PGconn *replica)
{
	static const char *const newcomer[][4] = {{"nat3", "national", "1", NULL}};
	struct tsession s;
	struct httpc_response r;

	tstaff_users(t.owner, newcomer, 1);
	s = tstaff_session(t.d.port, newcomer[0][0], 0);

	catch_up(primary, replica);
	assert_int_equal(tpg_exec(replica, "SELECT pg_wal_replay_pause()"), 0);
	assert_int_equal(tstaff_call(t.d.port, "POST", "/api/v1/pledge", &s, 1, "{}", &r), 200);
	httpc_free(&r);
	return s;
}

static void test_dashboard_on_the_replica(void **state)
{
	char data[128], port[16], sport[16], log[512];
	(void)state;

	static const struct tstaff_reports reports[] = {{"110101", 6}};
	tstaff_setup(&t, TSTAFF_OFFICES "(1, 'verification', '110105', '110000', 'unused unit')", users,
	             N_USERS, reports, 1);
	assert_int_equal(tdaemon_stop(&t.d, SIGTERM), 0);

	/* The standby, and casemgrd with it as db_replica. */
	assert_int_equal(tpg_place(&standby), 0);
	snprintf(data, sizeof(data), "%s/data", standby.dir);
	snprintf(port, sizeof(port), "%d", t.f.pg.port);
	snprintf(sport, sizeof(sport), "%d", standby.port);
	const char *args[] = {port, data, sport, NULL};
	assert_int_equal(tpg_deploy("pg-standby", args), 0);
	FILE *f = fopen(t.f.conf, "a");
	assert_non_null(f);
	fprintf(f,
	        "db_replica host=127.0.0.1 port=%d dbname=tip user=tip_app application_name=" APP
	        " connect_timeout=5\n",
	        standby.port);
	fclose(f);
	snprintf(log, sizeof(log), "%s/casemgrd.log", t.f.dir);
	assert_int_equal(tdaemon_start(&t.d, "casemgrd", t.f.conf, log), 0);

	/* More reports on the primary; the standby replays them. */
	tcm_add_reports(&t.f, 2);
	for (int i = 0; i < 600 && tpg_value(t.owner, "SELECT count(*) FROM cases") < 8; i++)
		usleep(100000);
	assert_int_equal(tpg_value(t.owner, "SELECT count(*) FROM cases"), 8);
	PGconn *primary = tpg_connect(&t.f.pg, "postgres"), *replica = tpg_connect(&standby, "postgres");
	printf("replayed on the standby %.3f s after the primary's LSN was read\n",
	       catch_up(primary, replica));
	assert_int_equal(tpg_value(replica, "SELECT pg_is_in_recovery()::int"), 1);

	/* The dashboard from the standby: its connection is there, not on the primary. */
	assert_int_equal(dashboard(tstaff_as(&t, "nat")), 8);
	assert_int_equal(tcm_metric(&t.f, ANSWERS), 1);
	assert_int_equal(tcm_metric(&t.f, FALLBACKS), 0);
	assert_true(tpg_value(replica, "SELECT count(*) FROM pg_stat_activity WHERE application_name = '" APP
	                               "' AND datname = 'tip'") >= 1);
	assert_int_equal(tpg_value(primary,
	                           "SELECT count(*) FROM pg_stat_activity WHERE application_name = '" APP
	                           "'"),
	                 0);
	/* Other operations stay on the primary. */
	char *body;
	assert_int_equal(tstaff_get_op(t.d.port, tstaff_as(&t, "nat"), "units", NULL, &body), 200);
	free(body);
	assert_int_equal(tcm_metric(&t.f, ANSWERS), 1);

	/* A session, or its pledge, the standby has not replayed: the primary answers. */
	assert_int_equal(tpg_exec(replica, "SELECT pg_wal_replay_pause()"), 0);
	struct tsession late = tstaff_session(t.d.port, "nat2", 1);
	assert_int_equal(dashboard(&late), 8);
	assert_int_equal(tcm_metric(&t.f, FALLBACKS), 1);
	assert_int_equal(tpg_exec(replica, "SELECT pg_wal_replay_resume()"), 0);
	struct tsession pledged = pledge_unreplayed(primary, replica);
	assert_int_equal(dashboard(&pledged), 8);
	assert_int_equal(tcm_metric(&t.f, FALLBACKS), 2);
	assert_int_equal(tpg_exec(replica, "SELECT pg_wal_replay_resume()"), 0);
	assert_int_equal(tcm_metric(&t.f, ANSWERS), 1);
	catch_up(primary, replica);
	assert_int_equal(dashboard(&pledged), 8);
	assert_int_equal(tcm_metric(&t.f, ANSWERS), 2);
	PQfinish(replica);

	/* The standby down: the primary answers, every time. */
	assert_int_equal(tpg_stop(&standby), 0);
	assert_int_equal(dashboard(tstaff_as(&t, "nat")), 8);
	assert_int_equal(dashboard(&late), 8);
	assert_int_equal(tcm_metric(&t.f, FALLBACKS), 4);
	assert_int_equal(tcm_metric(&t.f, ANSWERS), 2);

	/* Up again: after db_retry the standby answers again. */
	assert_int_equal(tpg_restart(&standby), 0);
	for (int i = 0; i < 300 && tcm_metric(&t.f, ANSWERS) < 3; i++) {
		assert_int_equal(dashboard(tstaff_as(&t, "nat")), 8);
		usleep(100000);
	}
	assert_int_equal(tcm_metric(&t.f, ANSWERS), 3);

	PQfinish(primary);
	assert_int_equal(tdaemon_stop(&t.d, SIGTERM), 0);
	tpg_destroy(&standby);
	tstaff_teardown(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_dashboard_on_the_replica),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
