/*
 * deploy/up --netns with this build tree: the low zone and the high zone in two network namespaces joined by
 * one veth pair per link, nftables letting each link carry its own direction only. From this host a report
 * is submitted on the public page's address and a staff page is fetched on the management address; the
 * case appears in the high zone's database, its acceptance queues a status bulletin, and the bulletin
 * reaches the intake's status API back across the status link. Then each zone's counters: nothing went
 * against either link, or along it other than its datagrams, and the datagrams were counted on both ends
 * of both links. deploy/down removes the namespaces. Needs root and network namespaces: skipped
 * (exit 77) otherwise.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "httpc.h"
#include "pg.h"
#include "testutil.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SKIP         77
#define INTAKE_PORT  8443
#define STAFF_PORT   8444
#define PG_PORT      5433
#define MAX_COUNTERS 16

static char *dir;
static char prefix[32], net[32], env[1024];

__attribute__((format(printf, 1, 2))) static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Names unlike plain deploy/up's (and each run's own), a run directory of its own, this build tree. */
static int setup(void **state)
{
	(void)state;
	int id = (int)(getpid() % 100000);

	dir = tu_mkdtemp();
	/* The daemons' account and postgres must reach their folders inside. */
	if (chmod(dir, 0755) != 0)
		return -1;
	snprintf(prefix, sizeof(prefix), "tipt%d", id);
	snprintf(net, sizeof(net), "10.199.%d", id % 250);
	snprintf(env, sizeof(env), "TIP_BUILD_DIR=%s TIP_RUN_DIR=%s/run TIP_NETNS_PREFIX=%s TIP_NETNS_NET=%s",
	         getenv("TIP_BINARY_DIR"), dir, prefix, net);
	return 0;
}

/* deploy/down, even after a failure half-way. */
static int teardown(void **state)
{
	(void)state;
	int rc = sh("%s %s/deploy/down >/dev/null", env, getenv("TIP_SOURCE_DIR"));

	tu_rmtree(dir);
	free(dir);
	return rc == 0 ? 0 : -1;
}

struct counter {
	char name[32];
	long long packets;
};

/* The named counters of a zone's table (nft -j list counters); returns how many. */
static size_t read_counters(const char *zone, struct counter *c)
{
	char cmd[256], *text = NULL;
	size_t n = 0, len = 0;
	json_error_t e;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ip netns exec %s-%s nft -j list counters table inet tipline", prefix,
	         zone);
	assert_non_null(f = popen(cmd, "r"));
	assert_int_not_equal(getdelim(&text, &len, 0, f), -1);
	assert_int_equal(pclose(f), 0);
	json_t *j = json_loads(text, 0, &e), *item;
	size_t i;

	if (!j)
		fail_msg("nft -j in %s: %s", zone, text);
	json_array_foreach(json_object_get(j, "nftables"), i, item)
	{
		json_t *counter = json_object_get(item, "counter");

		if (!counter)
			continue;
		assert_true(n < MAX_COUNTERS);
		snprintf(c[n].name, sizeof(c[n].name), "%s",
		         json_string_value(json_object_get(counter, "name")));
		c[n].packets = json_integer_value(json_object_get(counter, "packets"));
		printf("  %s %s: %lld packets\n", zone, c[n].name, c[n].packets);
		n++;
	}
	json_decref(j);
	free(text);
	return n;
}

static long long packets(const struct counter *c, size_t n, const char *zone, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(c[i].name, name) == 0)
			return c[i].packets;
	fail_msg("no counter %s in %s", name, zone);
	return -1;
}

static void expect_counters(const char *zone, const char *host_side)
{
	static const char *const forbidden[] = {"report_reverse", "report_other", "status_reverse",
	                                        "status_other"};
	static const char *const counted[] = {"report_allowed", "status_allowed"};
	struct counter c[MAX_COUNTERS];
	size_t n = read_counters(zone, c);
	char name[32];

	for (size_t i = 0; i < sizeof(forbidden) / sizeof(forbidden[0]); i++)
		if (packets(c, n, zone, forbidden[i]) != 0)
			fail_msg("%s: %s counted packets", zone, forbidden[i]);
	for (size_t i = 0; i < sizeof(counted) / sizeof(counted[0]); i++)
		if (packets(c, n, zone, counted[i]) == 0)
			fail_msg("%s: %s counted nothing", zone, counted[i]);
	snprintf(name, sizeof(name), "%s_allowed", host_side);
	if (packets(c, n, zone, name) == 0)
		fail_msg("%s: %s counted nothing", zone, name);
}

static void test_netns_round_trip(void **state)
{
	(void)state;
	char intake[40], staff[40], conninfo[600], log[600];
	struct httpc_response r;
	json_error_t e;
	double t0 = now(), t_up, t_report;

	snprintf(intake, sizeof(intake), "%s.10", net);
	snprintf(staff, sizeof(staff), "%s.14", net);
	snprintf(log, sizeof(log), "%s/up.log", dir);
	if (sh("%s %s/deploy/up --netns >%s 2>&1", env, getenv("TIP_SOURCE_DIR"), log) != 0) {
		sh("cat %s; tail -n 20 %s/run/log/*.log", log, dir);
		fail_msg("deploy/up --netns failed");
	}
	t_up = now();
	/* It prints where each zone is reached from this host. */
	char *up = tu_read_file(log, NULL), url[80];
	assert_non_null(up);
	snprintf(url, sizeof(url), "https://%s:%d/", intake, INTAKE_PORT);
	assert_non_null(strstr(up, url));
	snprintf(url, sizeof(url), "https://%s:%d/", staff, STAFF_PORT);
	assert_non_null(strstr(up, url));
	free(up);

	/* The staff pages answer on the management address. */
	assert_int_equal(httpc_request(staff, STAFF_PORT, 1, "GET", "/", NULL, NULL, 0, &r), 0);
	if (r.status != 200)
		fail_msg("staff page: %d %s", r.status, r.body);
	httpc_free(&r);

	/* A report on the public address. */
	static const char report[] = "{\"taxonomy_version\":\"2026.1\",\"reporter\":{\"anonymous\":true},"
	                             "\"activity\":{\"categories\":[\"illegal_mining_sand_dredging\"],"
	                             "\"region\":\"110101\",\"narrative\":\"夜里有人在河道非法采砂\"}}";
	assert_int_equal(httpc_intake_post(intake, INTAKE_PORT, 1, "/api/v1/reports", "application/json",
	                                   report, strlen(report), &r),
	                 0);
	if (r.status != 201)
		fail_msg("report: %d %s", r.status, r.body);
	json_t *j = json_loadb(r.body, r.body_len, 0, &e);
	char code[64], query[128];
	assert_non_null(json_string_value(json_object_get(j, "query_code")));
	snprintf(code, sizeof(code), "%s", json_string_value(json_object_get(j, "query_code")));
	json_decref(j);
	httpc_free(&r);
	t_report = now();

	/* The case in the high zone's database (its socket directory is reachable from here), accepted. */
	snprintf(conninfo, sizeof(conninfo), "host=%s/run/pg port=%d dbname=tip user=tip_owner", dir,
	         PG_PORT);
	PGconn *owner = PQconnectdb(conninfo);
	if (PQstatus(owner) != CONNECTION_OK)
		fail_msg("%s: %s", conninfo, PQerrorMessage(owner));
	for (int i = 0; i < 600 && tpg_value(owner, "SELECT count(*) FROM cases") == 0; i++)
		usleep(100000);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM cases"), 1);
	double t_case = now();
	assert_int_equal(tpg_exec(owner, "SELECT wf_move(id, 'accepted', NULL, 'accept', '{}') FROM cases"),
	                 0);
	/* Status queries are rate-limited (a burst of 10, then one per 30 s): first the bulletin's departure.
	 */
	for (int i = 0; i < 600 && tpg_value(owner, "SELECT count(*) FROM status_outbox WHERE stage = "
	                                            "'accepted' AND sent_seq IS NOT NULL") == 0;
	     i++)
		usleep(100000);
	PQfinish(owner);

	const char *stage = NULL;
	snprintf(query, sizeof(query), "{\"query_code\":\"%s\"}", code);
	j = NULL;
	for (int i = 0; i < 30 && !(stage && strcmp(stage, "accepted") == 0); i++) {
		if (i)
			sleep(2);
		json_decref(j);
		j = NULL;
		stage = NULL;
		assert_int_equal(httpc_intake_post(intake, INTAKE_PORT, 1, "/api/v1/status",
		                                   "application/json", query, strlen(query), &r),
		                 0);
		if (r.status == 200 && (j = json_loadb(r.body, r.body_len, 0, &e)))
			stage = json_string_value(json_object_get(j, "stage"));
		httpc_free(&r);
	}
	if (!stage || strcmp(stage, "accepted") != 0)
		fail_msg("the intake never showed the case accepted (last stage %s)", stage ? stage : "none");
	json_t *first = json_array_get(json_object_get(j, "history"), 0);
	assert_string_equal(json_string_value(json_object_get(first, "stage")), "received");
	json_decref(j);
	double t_status = now();
	print_message(
	        "deploy/up --netns %.1f s; report to case %.1f s; acceptance to the intake's status %.1f s\n",
	        t_up - t0, t_case - t_report, t_status - t_case);

	expect_counters("low", "public");
	expect_counters("high", "mgmt");

	/* deploy/down takes the zones away. */
	assert_int_equal(sh("%s %s/deploy/down >/dev/null", env, getenv("TIP_SOURCE_DIR")), 0);
	assert_int_not_equal(sh("ip netns list | grep -q '^%s-'", prefix), 0);
	assert_int_not_equal(sh("ip link show %s-pub >/dev/null 2>&1", prefix), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_netns_round_trip, setup, teardown),
	};
	char probe[64];

	snprintf(probe, sizeof(probe), "tipprobe%d", (int)getpid());
	if (geteuid() != 0 || sh("command -v nft >/dev/null && ip netns add %s 2>/dev/null", probe) != 0) {
		printf("skipped: needs root, nft and network namespaces\n");
		return SKIP;
	}
	sh("ip netns del %s", probe);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
