/*
 * The whole chain under load and chaos: intaked → diode-send → lossy-relay (5% loss) → diode-recv →
 * casemgrd → PostgreSQL. A client submits reports without pause while a seeded chaos loop kills intaked,
 * diode-send, diode-recv or casemgrd with SIGKILL, or restarts PostgreSQL, at random moments, and restarts
 * what it stopped. Then the load stops, everything drains, and: every report answered 201 is exactly one
 * case; every record of the outbox is exactly one report, and every report has its case; diode-audit
 * verifies both sides' transfer logs. A request that failed or got no answer is not counted as accepted.
 *
 * TIP_CHAOS_SECONDS (default 45) sets how long the chaos runs, TIP_CHAOS_SEED its seed (default: drawn
 * from the clock; printed either way, so a failing run can be repeated).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "daemon.h"
#include "httpc.h"
#include "pg.h"
#include "testutil.h"

#include "common/encoding.h"
#include "common/err.h"
#include "diode/spool.h"
#include "intake/querycode.h"
#include "proto/keyfile.h"

#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_ACK 200000

enum { V_INTAKED, V_SEND, V_RECV, V_CASEMGRD, V_POSTGRES, VICTIMS };
static const char *const victim_names[VICTIMS] = {"intaked", "diode-send", "diode-recv", "casemgrd",
                                                  "postgresql"};

static struct tcm f;
static char link_dir[300], conf_intake[600], conf_send[600], conf_recv[600];
static struct tdaemon daemons[V_POSTGRES];
static const char *const programs[V_POSTGRES] = {"intaked", "diode-send", "diode-recv", "casemgrd"};
static int intake_port;
static pid_t relay_pid;

static atomic_int load_over;
static pthread_mutex_t ack_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t (*acked)[QC_HASH_LEN];
static size_t n_acked, n_failed, n_refused;

static void start(int v)
{
	char log[400];

	snprintf(log, sizeof(log), "%s/%s.log", link_dir, programs[v]);
	if (tdaemon_start(&daemons[v], programs[v],
	                  v == V_CASEMGRD  ? f.conf
	                  : v == V_INTAKED ? conf_intake
	                  : v == V_SEND    ? conf_send
	                                   : conf_recv,
	                  log) != 0)
		fail_msg("%s did not start", programs[v]);
}

/* Submits reports until the load is over; keeps the query code of every 201. */
static void *client(void *arg)
{
	(void)arg;
	for (unsigned n = 0; !atomic_load(&load_over); n++) {
		struct httpc_response r;
		char body[512];

		snprintf(body, sizeof(body),
		         "{\"taxonomy_version\":\"2026.1\",\"reporter\":{\"anonymous\":true},\"activity\":{"
		         "\"categories\":[\"other\"],\"region\":\"110101\",\"narrative\":\"chaos report "
		         "%u\"}}",
		         n);
		if (httpc_intake_post("127.0.0.1", intake_port, 0, "/api/v1/reports", "application/json",
		                      body, strlen(body), &r) != 0) {
			/* intaked was killed under the request: not accepted; wait for it to be back. */
			pthread_mutex_lock(&ack_lock);
			n_failed++;
			pthread_mutex_unlock(&ack_lock);
			usleep(20000);
			continue;
		}
		uint8_t hash[QC_HASH_LEN];
		int ok = httpc_accepted_hash(&r, hash) == 0;

		pthread_mutex_lock(&ack_lock);
		if (ok && n_acked < MAX_ACK)
			memcpy(acked[n_acked++], hash, QC_HASH_LEN);
		else
			n_refused++;
		pthread_mutex_unlock(&ack_lock);
		httpc_free(&r);
	}
	return NULL;
}

static void start_relay(int listen_port, int forward_port, unsigned seed)
{
	char cmd[1200], bin[512];

	snprintf(bin, sizeof(bin), "%s/tests/lossy-relay", getenv("TIP_BINARY_DIR"));
	snprintf(cmd, sizeof(cmd),
	         "exec %s -l 127.0.0.1:%d -f 127.0.0.1:%d -p 0.05 -s %u > %s/relay.log 2>&1", bin,
	         listen_port, forward_port, seed, link_dir);
	relay_pid = fork();
	assert_true(relay_pid >= 0);
	if (relay_pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
}

/* Runs a shell command built from fmt; its exit status. */
__attribute__((format(printf, 1, 2))) static int sh(const char *fmt, ...)
{
	char cmd[3000];
	va_list ap;
	int status;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	status = system(cmd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The records of a spool (opened as its writer would: a torn tail is cut back first). */
static uint64_t spool_records(const char *path)
{
	struct spool_fault fault;
	struct spool *sp;
	uint64_t n;
	int err;

	assert_non_null(sp = spool_open(path, NULL, NULL, &fault, &err));
	n = spool_count(sp);
	assert_int_equal(spool_close(sp), TIP_OK);
	return n;
}

/* The verifier keys of the audit, one per line, into dir/audit.keys. */
static void write_audit_keys(const char *dir)
{
	static const char *const files[] = {"keys/" TCM_ORIGIN ".pub", "keys/diode-log.pub", "cosign.key",
	                                    "event.key"};
	char path[600], line[KEY_LINE_MAX + 2];
	FILE *out;

	snprintf(path, sizeof(path), "%s/audit.keys", dir);
	assert_non_null(out = fopen(path, "w"));
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct key k;

		snprintf(path, sizeof(path), "%s/%s", link_dir, files[i]);
		assert_int_equal(i < 2 ? key_read_public(path, &k) : key_read_private(path, &k), TIP_OK);
		assert_int_equal(key_format_public(&k, line, sizeof(line)), TIP_OK);
		fprintf(out, "%s\n", line);
		key_wipe(&k);
	}
	assert_int_equal(fclose(out), 0);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_chaos(void **state)
{
	(void)state;
	const char *env = getenv("TIP_CHAOS_SECONDS");
	double seconds = env ? atof(env) : 45, t0;
	unsigned seed = getenv("TIP_CHAOS_SEED") ? (unsigned)strtoul(getenv("TIP_CHAOS_SEED"), NULL, 10)
	                                         : (unsigned)time(NULL) ^ (unsigned)getpid();
	int recv_port = tfree_port(), relay_port = tfree_port(), kills[VICTIMS] = {0};
	char spools[400], path[600];
	struct key origin_key;
	pthread_t t;

	printf("chaos: seed %u (TIP_CHAOS_SEED=%u repeats this run), %.0f s\n", seed, seed, seconds);
	srand(seed);
	tcm_setup(&f, 1);
	assert_non_null(acked = calloc(MAX_ACK, QC_HASH_LEN));
	/* The link's keys; the intake signs as the case manager's origin, with the key made here. */
	snprintf(link_dir, sizeof(link_dir), "%s/link", f.dir);
	assert_int_equal(mkdir(link_dir, 0700), 0);
	tu_diode_keys(link_dir, TCM_ORIGIN, &origin_key);
	snprintf(path, sizeof(path), "%s/origins/%s.pub", f.dir, TCM_ORIGIN);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(key_write_public(path, &origin_key), TIP_OK);
	key_wipe(&origin_key);
	snprintf(path, sizeof(path), "%s/seal.pub", link_dir);
	assert_int_equal(key_write_public(path, &f.seal_key), TIP_OK);
	intake_port = tfree_port();
	snprintf(conf_intake, sizeof(conf_intake), "%s/intaked.conf", link_dir);
	/* status_key: any verifier key will do, no bulletins come back in this test. */
	tu_write_text(
	        conf_intake,
	        "origin %s\nsigning_key %s/origin.key\nseal_key %s/seal.pub\nstatus_key "
	        "%s/keys/diode-log.pub\nstatus_spool %s/status\noutbox %s/outbox\ntaxonomy "
	        "%s/proto/taxonomy\nlisten 127.0.0.1\nport %d\nplain_http yes\nmetrics_port 0\npow_bits 1\n"
	        "rate_reports 1000000000\nburst_reports 1000000\nrate_challenge 1000000000\n"
	        "burst_challenge 1000000\n",
	        TCM_ORIGIN, link_dir, link_dir, link_dir, link_dir, link_dir, getenv("TIP_SOURCE_DIR"),
	        intake_port);
	tu_diode_recv_conf(conf_recv, link_dir, "127.0.0.1", recv_port, "block_age 200ms\n");
	snprintf(spools, sizeof(spools), "%s=%s/outbox", TCM_ORIGIN, link_dir);
	/* Replays often enough that what a kill loses is sent again well within the drain. */
	tu_diode_send_conf(conf_send, link_dir, relay_port, spools,
	                   "replay 1s 3s 8s 20s\nheartbeat 200ms\ncheckpoint_interval 500ms\n");
	/* casemgrd reads the receiver's inbox. */
	char *base = tu_read_file(f.conf, NULL);
	assert_non_null(base);
	*strstr(base, "\ninbox ") = 0;
	char *rest = strchr(base + strlen(base) + 1, '\n');
	tu_write_text(f.conf, "%s\ninbox %s/inbox%s", base, link_dir, rest);
	free(base);

	start_relay(relay_port, recv_port, seed);
	for (int v = 0; v < V_POSTGRES; v++)
		start(v);
	assert_int_equal(pthread_create(&t, NULL, client, NULL), 0);

	t0 = now_s();
	while (now_s() - t0 < seconds) {
		int v = rand() % VICTIMS;

		usleep((useconds_t)(300000 + rand() % 1700000));
		kills[v]++;
		if (v == V_POSTGRES) {
			assert_int_equal(tpg_stop(&f.pg), 0);
			assert_int_equal(tpg_restart(&f.pg), 0);
		} else {
			assert_int_equal(tdaemon_stop(&daemons[v], SIGKILL), 128 + SIGKILL);
			start(v);
		}
	}
	atomic_store(&load_over, 1);
	assert_int_equal(pthread_join(t, NULL), 0);
	double load_s = now_s() - t0;

	/* The outbox is complete once intaked has stopped; then every record of it must become a case. */
	assert_int_equal(tdaemon_stop(&daemons[V_INTAKED], SIGTERM), 0);
	snprintf(path, sizeof(path), "%s/outbox", link_dir);
	uint64_t outbox = spool_records(path);
	PGconn *owner = tpg_connect(&f.pg, "tip_owner");
	long long reports = 0;
	for (int i = 0;
	     i < 1500 && (reports = tpg_value(owner, "SELECT count(*) FROM reports")) < (long long)outbox;
	     i++)
		usleep(100000);
	printf("chaos: %.1f s of load, %zu reports accepted (201), %zu requests failed or unanswered, %zu "
	       "refused; outbox %llu records, %lld reports stored; %.1f s to drain\n",
	       load_s, n_acked, n_failed, n_refused, (unsigned long long)outbox, reports,
	       now_s() - t0 - load_s);
	printf("chaos: killed");
	for (int v = 0; v < VICTIMS; v++)
		printf(" %s %d%s", victim_names[v], kills[v], v + 1 < VICTIMS ? "," : "\n");
	if (reports != (long long)outbox)
		fail_msg("%lld reports stored of the outbox's %llu records", reports,
		         (unsigned long long)outbox);
	assert_true(n_acked > 0);

	/* Every record of the outbox is one report (origin, seq 0 .. n-1), with its case; nothing set aside.
	 */
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM quarantine"), 0);
	assert_int_equal(tpg_value(owner,
	                           "SELECT count(DISTINCT seq) FROM reports WHERE origin = '" TCM_ORIGIN
	                           "' AND seq < (SELECT count(*) FROM reports)"),
	                 (long long)outbox);
	assert_int_equal(tpg_value(owner,
	                           "SELECT count(*) FROM reports r WHERE (SELECT count(*) FROM cases c "
	                           "WHERE c.report_id = r.id) <> 1"),
	                 0);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM cases"), (long long)outbox);
	/* Every 201 is exactly one case. */
	for (size_t i = 0; i < n_acked; i++) {
		char hex[2 + 2 * QC_HASH_LEN + 1] = "\\x";
		const char *params[] = {hex};

		hex_encode(acked[i], QC_HASH_LEN, hex + 2, sizeof(hex) - 2);
		PGresult *r =
		        PQexecParams(owner,
		                     "SELECT count(*) FROM cases c JOIN reports r ON r.id = c.report_id "
		                     "WHERE r.query_hash = $1",
		                     1, NULL, params, NULL, NULL, 0);
		assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
		if (strcmp(PQgetvalue(r, 0, 0), "1") != 0)
			fail_msg("report %zu of %zu answered 201 has %s cases", i, n_acked,
			         PQgetvalue(r, 0, 0));
		PQclear(r);
	}
	PQfinish(owner);

	/* The transfer logs: both daemons stopped cleanly, the audit reads copies. */
	assert_int_equal(tdaemon_stop(&daemons[V_SEND], SIGTERM), 0);
	assert_int_equal(tdaemon_stop(&daemons[V_RECV], SIGTERM), 0);
	assert_int_equal(tdaemon_stop(&daemons[V_CASEMGRD], SIGTERM), 0);
	kill(relay_pid, SIGTERM);
	waitpid(relay_pid, NULL, 0);
	write_audit_keys(link_dir);
	assert_int_equal(sh("cd %s && mkdir audit && cp -a send-log recv-log inbox audit/", link_dir), 0);
	int audit =
	        sh("%s/diode-audit verify --sender %s/audit/send-log --receiver %s/audit/recv-log --inbox "
	           "%s/audit/inbox --keys %s/audit.keys > %s/audit.out 2>&1",
	           getenv("TIP_BINARY_DIR"), link_dir, link_dir, link_dir, link_dir, link_dir);
	if (audit != 0) {
		sh("cat %s/audit.out | head -50", link_dir);
		fail_msg("diode-audit verify exits %d", audit);
	}
	sh("cat %s/relay.log", link_dir);
	free(acked);
	tcm_teardown(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_chaos),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
