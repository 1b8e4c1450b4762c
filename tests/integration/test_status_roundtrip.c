/*
 * Status bulletins from the case manager to the public. casemgrd's publisher alone first: status_outbox
 * rows become signed, chained STATUS records in the status spool that decode to the same bulletins; rows
 * with codes the taxonomy does not know are refused and hold up nothing; a restart sends nothing twice;
 * a kill -9, and a PostgreSQL stop, between the spool's sync and the database's commit are reconciled
 * (nothing doubled, nothing lost); records in the spool whose rows committed out of id order, or match no
 * row, are matched by content; a spool that does not fit the database stops the daemon. Then the round
 * trip: a report ingested and its case accepted by the workflow, and both stages show in the intake's
 * status API, through diode-send and diode-recv.
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
#include "diode/status_out.h"
#include "intake/querycode.h"
#include "proto/bulletin.h"
#include "proto/record.h"
#include "proto/report.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_RECORDS 64

static struct tcm f;
static struct tdaemon d;
static PGconn *owner;
static struct key status_key; /* "internal", also the origin key of the reverse link's receiver */
static struct taxonomy *tax;
static char link_dir[300], spool_dir[300];

static int setup(void **state)
{
	(void)state;
	tcm_setup(&f, 1);
	owner = tpg_connect(&f.pg, "tip_owner");
	tax = tu_taxonomy();
	/* The reverse link's keys; its origin key, "internal", signs the bulletins. */
	snprintf(link_dir, sizeof(link_dir), "%s/link", f.dir);
	snprintf(spool_dir, sizeof(spool_dir), "%s/status-out", f.dir);
	if (mkdir(link_dir, 0700) != 0)
		return -1;
	tu_diode_keys(link_dir, "internal", &status_key);
	FILE *conf = fopen(f.conf, "a");
	if (!conf)
		return -1;
	fprintf(conf, "status_spool %s\nstatus_key %s/origin.key\nstatus_poll 20ms\nstatus_batch 4\n",
	        spool_dir, link_dir);
	return fclose(conf);
}

static int teardown(void **state)
{
	(void)state;
	tdaemon_stop(&d, SIGKILL); /* left running only by a test that failed half-way */
	PQfinish(owner);
	tax_free(tax);
	key_wipe(&status_key);
	tcm_teardown(&f);
	return 0;
}

/* A test that failed half-way leaves casemgrd running; the next one starts without it. */
static int stop_leftover(void **state)
{
	(void)state;
	tdaemon_stop(&d, SIGKILL);
	return 0;
}

static void start_daemon(void)
{
	char log[300];

	tdaemon_stop(&d, SIGKILL);
	snprintf(log, sizeof(log), "%s/casemgrd.log", f.dir);
	assert_int_equal(tdaemon_start(&d, "casemgrd", f.conf, log), 0);
}

static char *daemon_log(void)
{
	char *log = tu_read_file(d.log, NULL);

	assert_non_null(log);
	return log;
}

/* Queues a bulletin as the workflow would (as the owner); returns the row's id. */
static long long queue(const uint8_t hash[32], const char *stage, const char *result, const char *day)
{
	char hex[2 + 64 + 1] = "\\x";
	const char *params[] = {hex, stage, result, day};
	PGresult *r;
	long long id;

	hex_encode(hash, 32, hex + 2, sizeof(hex) - 2);
	r = PQexecParams(owner,
	                 "INSERT INTO status_outbox (query_hash, stage, result, day) VALUES ($1, $2, $3, $4) "
	                 "RETURNING id",
	                 4, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("queue: %s", PQresultErrorMessage(r));
	id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return id;
}

/* A query hash of its own for each n. */
static void test_hash(int n, uint8_t hash[32])
{
	for (int i = 0; i < 32; i++)
		hash[i] = (uint8_t)(n * 31 + i);
}

/* tpg_value of a formatted query. */
__attribute__((format(printf, 1, 2))) static long long row_value(const char *fmt, ...)
{
	char sql[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sql, sizeof(sql), fmt, ap);
	va_end(ap);
	return tpg_value(owner, sql);
}

/* Waits (up to 20 s) until the metric has the value. */
static void wait_metric(const char *series, long long want)
{
	long long v = -1;

	for (int i = 0; i < 2000 && (v = tcm_metric(&f, series)) != want; i++)
		usleep(10000);
	if (v != want) {
		char *log = daemon_log();
		fail_msg("%s is %lld, not %lld; casemgrd's log:\n%s", series, v, want, log);
	}
}

/*
 * Every record of the status spool, checked as the intake checks them: a STATUS record of "internal" at
 * seq == index, signed with the status key, naming the hash of the record before, carrying a bulletin of
 * known codes. The bulletins into b; returns how many.
 */
static size_t read_spool(struct bulletin *b)
{
	struct ed25519_pub *pub = ed25519_pub_new(status_key.pub);
	struct spool_opts o = status_out_opts();
	struct spool_fault fault;
	struct spool_reader *r;
	struct rec_chain chain;
	const uint8_t *buf;
	size_t len, n = 0;
	uint64_t index;
	int err;

	assert_non_null(pub);
	assert_non_null(r = spool_reader_open(spool_dir, "test", &o, &fault, &err));
	assert_int_equal(rec_chain_init(&chain, "internal"), TIP_OK);
	while (spool_reader_next(r, &buf, &len, &index, &fault) == 1) {
		struct rec rec;

		assert_true(n < MAX_RECORDS);
		assert_int_equal(rec_decode(buf, len, BULLETIN_RECORD_MAX, &rec), TIP_OK);
		assert_int_equal(rec.kind, REC_STATUS);
		assert_int_equal(rec.seq, index);
		assert_int_equal(rec_chain_check(&chain, &rec), REC_CHAIN_NEXT);
		assert_memory_equal(rec.key_id, status_key.id, REC_KEY_ID_LEN);
		assert_int_equal(rec_verify(&rec, pub), TIP_OK);
		assert_int_equal(bulletin_decode(rec.payload, rec.payload_len, tax, &b[n]), TIP_OK);
		rec_chain_advance(&chain, rec.hash);
		rec_release(&rec);
		n++;
	}
	spool_reader_close(r);
	ed25519_pub_free(pub);
	return n;
}

/* The bulletin of record seq is the row marked with seq. */
static void expect_row(const struct bulletin *b, long long seq)
{
	char sql[300], hex[65];
	PGresult *r;

	hex_encode(b->query_hash, 32, hex, sizeof(hex));
	snprintf(sql, sizeof(sql),
	         "SELECT count(*) FROM status_outbox WHERE sent_seq = %lld AND query_hash = '\\x%s' AND "
	         "stage = "
	         "'%s' AND result = '%s' AND day = '%s'",
	         seq, hex, b->stage, b->result, b->date);
	r = PQexec(owner, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || strcmp(PQgetvalue(r, 0, 0), "1") != 0)
		fail_msg("record %lld (%s %s %s) is not its row's bulletin", seq, b->stage, b->result,
		         b->date);
	PQclear(r);
}

/* Every record is the bulletin of the row marked with its seq, and rows marked number exactly n. */
static void expect_spool(size_t n)
{
	struct bulletin b[MAX_RECORDS];
	size_t got = read_spool(b);

	if (got != n)
		fail_msg("%zu records in the status spool, not %zu", got, n);
	for (size_t i = 0; i < n; i++)
		expect_row(&b[i], (long long)i);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM status_outbox WHERE sent_seq IS NOT NULL"),
	                 (long long)n);
	assert_int_equal(tpg_value(owner, "SELECT count(DISTINCT sent_seq) FROM status_outbox"),
	                 (long long)n);
	assert_int_equal(tpg_value(owner, "SELECT next_seq FROM status_cursor WHERE origin = 'internal'"),
	                 (long long)n);
}

static void test_publish(void **state)
{
	(void)state;
	static const char *const stages[] = {"received", "accepted", "distributed", "verifying", "concluded"};
	long long ids[12], refused[3];
	uint8_t hash[32];
	int n = 0;

	/* Nine good rows in three batches of four, three refused among them. */
	for (int i = 0; i < 9; i++) {
		char day[11];

		snprintf(day, sizeof(day), "2026-12-%02d", i + 1);
		test_hash(i, hash);
		ids[n++] = queue(hash, stages[i % 5], i % 2 ? "substantiated" : "pending", day);
		if (i == 2)
			ids[n++] = refused[0] = queue(hash, "no_such_stage", "pending", day);
		if (i == 5)
			ids[n++] = refused[1] = queue(hash, "verifying", "no_such_result", day);
		if (i == 7)
			ids[n++] = refused[2] = queue(hash, "verifying", "pending", "1999-12-31");
	}
	start_daemon();
	wait_metric("casemgr_bulletins_published_total", 9);
	wait_metric("casemgr_bulletins_refused_total", 3);
	wait_metric("casemgr_bulletins_pending", 0);
	expect_spool(9);
	/* In id order, numbered without a gap; the refused rows unsent and set aside with their reason. */
	for (int i = 0, seq = 0; i < n; i++) {
		int is_refused = ids[i] == refused[0] || ids[i] == refused[1] || ids[i] == refused[2];

		assert_int_equal(
		        row_value("SELECT coalesce(sent_seq, -1) FROM status_outbox WHERE id = %lld", ids[i]),
		        is_refused ? -1 : seq++);
	}
	assert_int_equal(
	        row_value("SELECT count(*) FROM status_refused WHERE outbox_id = %lld AND reason = 'code'",
	                  refused[0]),
	        1);
	assert_int_equal(
	        row_value("SELECT count(*) FROM status_refused WHERE outbox_id = %lld AND reason = 'code'",
	                  refused[1]),
	        1);
	assert_int_equal(
	        row_value("SELECT count(*) FROM status_refused WHERE outbox_id = %lld AND reason = 'date'",
	                  refused[2]),
	        1);
	/* Audited: each batch with the range it sent, each refusal. */
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM audit_events WHERE action = 'status.refuse'"),
	                 3);
	assert_int_equal(tpg_value(owner,
	                           "SELECT count(*) FROM audit_events WHERE action = 'status.publish' AND "
	                           "object IN ('status:internal/0-2', 'status:internal/3-5', "
	                           "'status:internal/6-8')"),
	                 3);
	char *log = daemon_log();
	for (int i = 0; i < 3; i++) {
		char needle[64];
		snprintf(needle, sizeof(needle), "status_outbox row %lld refused", refused[i]);
		if (!strstr(log, needle))
			fail_msg("no log line \"%s\"", needle);
	}
	free(log);
	assert_int_equal(tdaemon_stop(&d, SIGTERM), 0);

	/* A restart sends nothing again; new rows continue the chain (read_spool checks it). */
	start_daemon();
	test_hash(100, hash);
	long long a = queue(hash, "accepted", "pending", "2027-01-04");
	long long b = queue(hash, "assigned", "pending", "2027-01-05");
	wait_metric("casemgr_bulletins_published_total", 2);
	expect_spool(11);
	assert_int_equal(row_value("SELECT sent_seq FROM status_outbox WHERE id = %lld", a), 9);
	assert_int_equal(row_value("SELECT sent_seq FROM status_outbox WHERE id = %lld", b), 10);
	assert_int_equal(tcm_metric(&f, "casemgr_bulletins_refused_total"), 0);
	assert_int_equal(tcm_metric(&f, "casemgr_bulletins_reconciled_total"), 0);
	assert_int_equal(tdaemon_stop(&d, SIGTERM), 0);
}

/* Waits until the spool holds n records. */
static void wait_spool(size_t n)
{
	struct bulletin b[MAX_RECORDS];

	for (int i = 0; i < 2000 && read_spool(b) < n; i++)
		usleep(10000);
	assert_int_equal(read_spool(b), n);
}

/* Waits until the publisher's connection waits for a lock: it is inside status_sent. */
static void wait_publisher_blocked(PGconn *super)
{
	for (int i = 0; i < 2000; i++) {
		if (tpg_value(super, "SELECT count(*) FROM pg_stat_activity WHERE usename = 'tip_ingest' AND "
		                     "wait_event_type = 'Lock'") > 0)
			return;
		usleep(10000);
	}
	fail_msg("the publisher never waited for the cursor's lock");
}

/*
 * The window between the spool's sync and the database's commit, held open with a lock on the cursor:
 * casemgrd killed there, then PostgreSQL stopped there under a running casemgrd. Each time the records
 * are in the spool and their rows unmarked; each time they are matched afterwards, never sent again.
 */
static void test_crash_between_spool_and_database(void **state)
{
	(void)state;
	PGconn *super = tpg_connect(&f.pg, "postgres"), *locker = tpg_connect(&f.pg, "tip_owner");
	uint8_t hash[32];

	start_daemon();
	assert_int_equal(tpg_exec(locker, "BEGIN"), 0);
	assert_int_equal(tpg_exec(locker, "LOCK TABLE status_cursor IN EXCLUSIVE MODE"), 0);
	/* In one transaction, so that one batch takes them all before it blocks. */
	assert_int_equal(tpg_exec(owner, "BEGIN"), 0);
	for (int i = 0; i < 3; i++) {
		test_hash(200 + i, hash);
		queue(hash, "under_review", "pending", "2027-02-01");
	}
	assert_int_equal(tpg_exec(owner, "COMMIT"), 0);
	wait_spool(14);
	wait_publisher_blocked(super);
	assert_int_equal(tdaemon_stop(&d, SIGKILL), 128 + SIGKILL);
	/* The killed client's statement must not go on to commit once the lock is free. */
	assert_int_equal(tpg_exec(super,
	                          "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = "
	                          "'tip_ingest'"),
	                 0);
	assert_int_equal(tpg_exec(locker, "ROLLBACK"), 0);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM status_outbox WHERE sent_seq IS NOT NULL"),
	                 11);

	start_daemon();
	wait_metric("casemgr_bulletins_reconciled_total", 3);
	wait_metric("casemgr_bulletins_pending", 0);
	expect_spool(14);
	assert_int_equal(tcm_metric(&f, "casemgr_bulletins_published_total"), 0);
	char *log = daemon_log();
	assert_non_null(
	        strstr(log, "records 11-13 were not marked sent (a crash or a lost connection): 3 matched"));
	free(log);

	/* PostgreSQL goes away in the same window, under the running daemon, and comes back. */
	assert_int_equal(tpg_exec(locker, "BEGIN"), 0);
	assert_int_equal(tpg_exec(locker, "LOCK TABLE status_cursor IN EXCLUSIVE MODE"), 0);
	assert_int_equal(tpg_exec(owner, "BEGIN"), 0);
	for (int i = 0; i < 2; i++) {
		test_hash(210 + i, hash);
		queue(hash, "concluded", "referred", "2027-02-02");
	}
	assert_int_equal(tpg_exec(owner, "COMMIT"), 0);
	wait_spool(16);
	wait_publisher_blocked(super);
	/* The lock is held until the server stops (closing its connection would release it first). */
	assert_int_equal(tpg_stop(&f.pg), 0);
	PQfinish(super);
	PQfinish(locker);
	PQfinish(owner);
	owner = NULL;
	usleep(300000);
	assert_int_equal(kill(d.pid, 0), 0); /* waiting, not gone */
	assert_int_equal(tpg_restart(&f.pg), 0);
	owner = tpg_connect(&f.pg, "tip_owner");
	wait_metric("casemgr_bulletins_reconciled_total", 5);
	wait_metric("casemgr_bulletins_pending", 0);
	expect_spool(16);
	assert_int_equal(tcm_metric(&f, "casemgr_bulletins_published_total"), 0);
	assert_int_equal(tdaemon_stop(&d, SIGTERM), 0);
	log = daemon_log();
	assert_non_null(strstr(log, "status publisher: working again"));
	free(log);
}

/*
 * Records appended (by the publisher's own code) with the daemon down and never marked: one for a row
 * that committed with a larger id than an unsent row before it, one for a bulletin no row holds.
 * Matching is by content, not by position: the later row is the one marked, the earlier one is
 * published after them, and the stray record marks nothing.
 */
static void test_reconcile_by_content(void **state)
{
	(void)state;
	struct ed25519_key *k = ed25519_key_new(status_key.secret);
	struct status_out_signer signer = {k, {0}};
	struct spool_opts o = status_out_opts();
	struct bulletin b;
	struct rec_chain chain;
	uint8_t hash[32];
	struct spool *sp;
	int err;

	test_hash(300, hash);
	long long early = queue(hash, "accepted", "pending", "2027-03-01");
	test_hash(301, hash);
	long long late = queue(hash, "closed", "merged", "2027-03-02");

	memcpy(signer.key_id, status_key.id, REC_KEY_ID_LEN);
	assert_non_null(k);
	assert_non_null(sp = spool_open(spool_dir, &o, NULL, NULL, &err));
	struct ed25519_pub *pub = ed25519_pub_new(status_key.pub);
	assert_int_equal(status_out_resume(sp, spool_dir, "internal", pub, status_key.id, NULL, &chain),
	                 TIP_OK);
	ed25519_pub_free(pub);
	assert_int_equal(chain.next_seq, 16);
	memset(&b, 0, sizeof(b));
	memcpy(b.query_hash, hash, 32);
	memcpy(b.stage, "closed", 7);
	memcpy(b.result, "merged", 7);
	memcpy(b.date, "2027-03-02", 11);
	assert_int_equal(status_out_append(sp, &chain, &signer, tax, &b, 1800000000000, NULL), TIP_OK);
	test_hash(399, b.query_hash);
	assert_int_equal(status_out_append(sp, &chain, &signer, tax, &b, 1800000000000, NULL), TIP_OK);
	/* Unknown codes never reach the spool. */
	memcpy(b.stage, "no_such", 8);
	assert_int_equal(status_out_append(sp, &chain, &signer, tax, &b, 1800000000000, NULL), TIP_ERANGE);
	assert_int_equal(spool_close(sp), TIP_OK);
	ed25519_key_free(k);

	start_daemon();
	wait_metric("casemgr_bulletins_reconciled_total", 1);
	wait_metric("casemgr_bulletins_published_total", 1);
	assert_int_equal(row_value("SELECT sent_seq FROM status_outbox WHERE id = %lld", late), 16);
	assert_int_equal(row_value("SELECT sent_seq FROM status_outbox WHERE id = %lld", early), 18);
	assert_int_equal(tpg_value(owner, "SELECT next_seq FROM status_cursor"), 19);
	struct bulletin all[MAX_RECORDS];
	assert_int_equal(read_spool(all), 19);
	expect_row(&all[16], 16);
	expect_row(&all[18], 18);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM status_outbox WHERE sent_seq = 17"), 0);
	assert_int_equal(tdaemon_stop(&d, SIGTERM), 0);
	char *log = daemon_log();
	assert_non_null(strstr(log, "1 matched to their rows now, 1 to no unsent row"));
	free(log);
}

/* Runs casemgrd (with conf) until it exits; its status, its log in log. */
static int run_daemon(const char *conf, int check, const char *log)
{
	const char *args[] = {"-c", conf, check ? "-n" : NULL, NULL};

	return trun_log("casemgrd", args, log);
}

/* A spool that does not fit the database or the key stops the daemon; -n checks the key. */
static void test_spool_mismatch(void **state)
{
	(void)state;
	char cmd[1024], log[300], conf[300];
	struct key stranger;
	struct rec_chain chain;
	struct bulletin b;

	snprintf(log, sizeof(log), "%s/mismatch.log", f.dir);
	/* The spool replaced by an empty one: the database has sent records the spool does not hold. */
	snprintf(cmd, sizeof(cmd), "mv %s %s.saved", spool_dir, spool_dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(run_daemon(f.conf, 0, log), 70);
	char *text = tu_read_file(log, NULL);
	assert_non_null(
	        strstr(text, "status cursor of internal is 19, past the 0 records of the status spool"));
	free(text);

	/* The spool's last record signed by another key. */
	snprintf(cmd, sizeof(cmd), "rm -r %s && cp -a %s.saved %s", spool_dir, spool_dir, spool_dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(key_generate(KEY_ED25519, "internal", &stranger), TIP_OK);
	assert_int_equal(rec_chain_init(&chain, "internal"), TIP_OK);
	chain.next_seq = 19;
	memset(&b, 0, sizeof(b));
	memcpy(b.stage, "closed", 7);
	memcpy(b.result, "pending", 8);
	memcpy(b.date, "2027-03-03", 11);
	tu_publish_bulletins(spool_dir, &stranger, tax, &b, 1, &chain);
	assert_int_equal(run_daemon(f.conf, 0, log), 65);
	text = tu_read_file(log, NULL);
	assert_non_null(
	        strstr(text, "its last record is not a record 19 of internal signed with the status_key"));
	free(text);
	snprintf(cmd, sizeof(cmd), "rm -r %s && mv %s.saved %s", spool_dir, spool_dir, spool_dir);
	assert_int_equal(system(cmd), 0);

	/* -n: the key must be an Ed25519 private key; an origin must be an origin name. */
	assert_int_equal(run_daemon(f.conf, 1, log), 0);
	text = tu_read_file(log, NULL);
	assert_non_null(strstr(text, "status bulletins to "));
	free(text);
	/* Not a signing key (the sealing key), no key at all, a bad origin name. */
	for (int i = 0; i < 3; i++) {
		char *base = tu_read_file(f.conf, NULL), line[400];

		/* A setting may not be repeated: the original status_key line becomes a comment. */
		if (i < 2)
			strstr(base, "\nstatus_key ")[1] = '#';
		if (i == 0)
			snprintf(line, sizeof(line), "status_key %s/keys/seal.key\n", f.dir);
		else if (i == 1)
			snprintf(line, sizeof(line), "status_key %s/no-such.key\n", f.dir);
		else
			snprintf(line, sizeof(line), "status_origin -x\n");
		snprintf(conf, sizeof(conf), "%s/bad.conf", f.dir);
		tu_write_text(conf, "%s%s", base, line);
		free(base);
		assert_int_equal(run_daemon(conf, 1, log), 78);
	}
	key_wipe(&stranger);
}

/* POST /api/v1/status for code at the intake on port, with a solved challenge. */
static int status_query(int port, const char *code, struct httpc_response *r)
{
	char body[128];

	snprintf(body, sizeof(body), "{\"query_code\":\"%s\"}", code);
	return httpc_intake_post("127.0.0.1", port, 0, "/api/v1/status", "application/json", body,
	                         strlen(body), r);
}

/* casemgrd -> status spool -> diode-send -> UDP -> diode-recv -> status spool -> intaked's status API. */
static void test_round_trip(void **state)
{
	(void)state;
	char conf_send[600], conf_recv[600], conf_intake[600], spools[400], log[600], path[600],
	        code[QC_DIGITS + 1];
	struct tdaemon send_d, recv_d, intake_d;
	struct key intake_key;
	int port = tfree_port();
	uint8_t hash[32];

	/* The intake: its own signing key, the internal sealing key's public half, the link's inbox. */
	snprintf(path, sizeof(path), "%s/intake.key", link_dir);
	assert_int_equal(key_generate(KEY_ED25519, "intake-t", &intake_key), TIP_OK);
	assert_int_equal(key_write_private(path, &intake_key), TIP_OK);
	key_wipe(&intake_key);
	snprintf(path, sizeof(path), "%s/seal.key.pub", link_dir);
	assert_int_equal(key_write_public(path, &f.seal_key), TIP_OK);
	snprintf(conf_intake, sizeof(conf_intake), "%s/intaked.conf", link_dir);
	tu_write_text(
	        conf_intake,
	        "origin intake-t\nsigning_key %s/intake.key\nseal_key %s/seal.key.pub\nstatus_key "
	        "%s/keys/internal.pub\nstatus_origin internal\noutbox %s/outbox\nstatus_spool "
	        "%s/inbox/internal\ntaxonomy %s/proto/taxonomy\nlisten 127.0.0.1\nport 0\nplain_http yes\n"
	        "metrics_port 0\npow_bits 1\nstatus_min_latency 0ms\nstatus_poll 20ms\n",
	        link_dir, link_dir, link_dir, link_dir, link_dir, getenv("TIP_SOURCE_DIR"));
	tu_diode_recv_conf(conf_recv, link_dir, "127.0.0.1", port, "block_age 200ms\n");
	snprintf(spools, sizeof(spools), "internal=%s", spool_dir);
	tu_diode_send_conf(conf_send, link_dir, port, spools, "heartbeat 200ms\n");

	snprintf(log, sizeof(log), "%s/recv.log", link_dir);
	assert_int_equal(tdaemon_start(&recv_d, "diode-recv", conf_recv, log), 0);
	snprintf(log, sizeof(log), "%s/intaked.log", link_dir);
	assert_int_equal(tdaemon_start(&intake_d, "intaked", conf_intake, log), 0);
	snprintf(log, sizeof(log), "%s/send.log", link_dir);
	assert_int_equal(tdaemon_start(&send_d, "diode-send", conf_send, log), 0);
	start_daemon();

	/* A report whose query code we hold arrives in the inbox: distribution queues "received"; then the
	 * case is accepted (wf_move, as the staff API's operations call it), which queues "accepted". */
	struct tu_report report;
	uint8_t *sealed, *rec;
	size_t sealed_len, rec_len;
	struct timespec t0, t1;

	assert_int_equal(qc_generate(code), TIP_OK);
	assert_int_equal(qc_hash(code, hash), TIP_OK);
	tu_report_init(&report);
	memcpy(report.query_hash, hash, sizeof(hash));
	assert_int_equal(report_seal(&report.r, HPKE_AEAD_AES_128_GCM, f.seal_key.pub, f.seal_key.id,
	                             TCM_ORIGIN, f.chain.next_seq, 1 << 20, &sealed, &sealed_len),
	                 TIP_OK);
	tcm_record(&f, sealed, sealed_len, &rec, &rec_len);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	tcm_append(&f, &rec, &rec_len, 1);
	free(sealed);
	free(rec);
	for (int i = 0; i < 2000 && tpg_value(owner, "SELECT count(*) FROM cases") == 0; i++)
		usleep(10000);
	assert_int_equal(tpg_exec(owner, "SELECT wf_move(id, 'accepted', NULL, 'accept', '{}') FROM cases"),
	                 0);
	PGresult *days = PQexec(owner, "SELECT to_char(wf_date(received_at), 'YYYY-MM-DD'), "
	                               "to_char(wf_today(), 'YYYY-MM-DD') FROM cases");
	assert_int_equal(PQntuples(days), 1);

	struct httpc_response r = {0};
	json_t *j = NULL;
	for (int i = 0; i < 300; i++) {
		json_error_t e;

		json_decref(j);
		j = NULL;
		httpc_free(&r);
		assert_int_equal(status_query(intake_d.port, code, &r), 0);
		if (r.status == 200 && (j = json_loadb(r.body, r.body_len, 0, &e)) &&
		    json_array_size(json_object_get(j, "history")) == 2)
			break;
		usleep(50000);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (r.status != 200 || !j)
		fail_msg("the intake answers %d %s", r.status, r.body);
	print_message("bulletins at the intake %.2f s after the report reached the inbox\n",
	              (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	assert_string_equal(json_string_value(json_object_get(j, "stage")), "accepted");
	assert_string_equal(json_string_value(json_object_get(j, "result")), "pending");
	assert_string_equal(json_string_value(json_object_get(j, "updated_at")), PQgetvalue(days, 0, 1));
	json_t *first = json_array_get(json_object_get(j, "history"), 0);
	assert_string_equal(json_string_value(json_object_get(first, "stage")), "received");
	assert_string_equal(json_string_value(json_object_get(first, "result")), "pending");
	assert_string_equal(json_string_value(json_object_get(first, "date")), PQgetvalue(days, 0, 0));
	PQclear(days);
	json_decref(j);
	httpc_free(&r);

	assert_int_equal(tdaemon_stop(&d, SIGTERM), 0);
	assert_int_equal(tdaemon_stop(&send_d, SIGTERM), 0);
	assert_int_equal(tdaemon_stop(&recv_d, SIGTERM), 0);
	assert_int_equal(tdaemon_stop(&intake_d, SIGTERM), 0);
}

int main(void)
{
	/* In order: each test starts from the spool and database the one before left. */
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_teardown(test_publish, stop_leftover),
	        cmocka_unit_test_teardown(test_crash_between_spool_and_database, stop_leftover),
	        cmocka_unit_test_teardown(test_reconcile_by_content, stop_leftover),
	        cmocka_unit_test_teardown(test_spool_mismatch, stop_leftover),
	        cmocka_unit_test_teardown(test_round_trip, stop_leftover),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
