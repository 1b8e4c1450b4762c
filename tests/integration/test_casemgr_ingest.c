/*
 * casemgrd ingest, end to end: generated records in an inbox spool, the real daemon, a real
 * PostgreSQL. Every field arrives; each quarantine reason is caught, counted and passed; a replay is
 * a no-op; PostgreSQL restarted in the middle of ingest loses nothing and doubles nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "daemon.h"
#include "pg.h"
#include "testutil.h"

#include "common/err.h"
#include "proto/report.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct tcm f;
static struct tdaemon d;
static PGconn *owner;

static int setup(void **state)
{
	(void)state;
	tcm_setup(&f, 1);
	owner = tpg_connect(&f.pg, "tip_owner");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tdaemon_stop(&d, SIGKILL); /* left running only by a test that failed half-way */
	PQfinish(owner);
	tcm_teardown(&f);
	return 0;
}

static void start_daemon(void)
{
	char log[300];

	tdaemon_stop(&d, SIGKILL); /* left running only by a test that failed half-way */
	snprintf(log, sizeof(log), "%s/casemgrd.log", f.dir);
	assert_int_equal(tdaemon_start(&d, "casemgrd", f.conf, log), 0);
}

/* Waits (up to 30 s) until the cursor has passed n records. */
static void wait_cursor(long long n)
{
	for (int i = 0; i < 3000; i++) {
		if (tpg_value(owner, "SELECT coalesce(max(next_seq), 0) FROM ingest_cursors") >= n)
			return;
		usleep(10000);
	}
	char *log = tu_read_file(d.log, NULL);
	fail_msg("ingest did not reach %lld records; casemgrd's log:\n%s", n, log ? log : "");
}

static void test_end_to_end(void **state)
{
	(void)state;
	tcm_add_reports(&f, 200);
	start_daemon();
	wait_cursor(200);
	tcm_add_reports(&f, 50); /* while it runs */
	wait_cursor(250);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM reports"), 250);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM cases WHERE province = '110000' AND stage = "
	                                  "'received'"),
	                 250);
	/* Every block arrived as submitted (the test report of testutil.c). */
	assert_int_equal(
	        tpg_value(owner,
	                  "SELECT count(*) FROM reports WHERE origin = 'intake-a' AND reporter_name = '张三' "
	                  "AND reporter_id_number = '11010519491231002X' AND reporter_phone = '+86 "
	                  "138-0000-0000' AND reporter_address = '北京市东城区' AND reporter_contact_allowed "
	                  "AND NOT reporter_anonymous AND reporter_channel = 'phone' AND categories = "
	                  "'{illegal_mining_sand_dredging,protective_umbrella}' AND sector = "
	                  "'natural_resources' AND region = '110101' AND place = '河边采砂场' AND narrative "
	                  "LIKE '夜间非法采砂%' AND locale = 'zh-CN' AND taxonomy_version = '2026.1' AND "
	                  "signed_at = "
	                  "to_timestamp((1700000000000 + seq) / 1000.0)"),
	        250);
	assert_int_equal(tpg_value(owner,
	                           "SELECT count(*) FROM report_persons WHERE name = '李四' AND aliases = "
	                           "'{四哥}' AND phones = '{13900000000}' AND region = '110101'"),
	                 250);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM report_officials"), 250);
	assert_int_equal(tpg_value(owner,
	                           "SELECT count(*) FROM report_attachments WHERE sha256 = sha256(data) "
	                           "AND content_type = 'image/jpeg'"),
	                 250);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM quarantine"), 0);
	assert_int_equal(tdaemon_stop(&d, SIGTERM), 0);

	/* A replay: the cursor set back to the start (as after a lost commit answer) re-reads every record.
	 */
	assert_int_equal(tpg_exec(owner, "UPDATE ingest_cursors SET next_seq = 0, prev_hash = '\\x"
	                                 "0000000000000000000000000000000000000000000000000000000000000000'"),
	                 0);
	start_daemon();
	wait_cursor(250);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM reports"), 250);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM cases"), 250);
	assert_int_equal(tdaemon_stop(&d, SIGTERM), 0);
}

/* Each reason once, each followed by a good record that must still arrive. */
static void test_quarantine(void **state)
{
	(void)state;
	long long base = tpg_value(owner, "SELECT count(*) FROM reports");
	uint8_t *recs[12];
	size_t lens[12], n = 0;
	struct key other;
	struct tu_report bad;

	/* decode: not a record at all. */
	recs[n] = (uint8_t *)strdup("not a record");
	lens[n] = strlen("not a record");
	f.chain.next_seq++;
	n++;
	tcm_record(&f, NULL, 0, &recs[n], &lens[n]), n++;
	/* signature: one bit of the signature flipped. */
	tcm_record(&f, NULL, 0, &recs[n], &lens[n]);
	recs[n][lens[n] - 1] ^= 1;
	n++;
	tcm_record(&f, NULL, 0, &recs[n], &lens[n]), n++;
	/* chain: a record that names the wrong record before it. */
	f.chain.prev_hash[0] ^= 1;
	tcm_record(&f, NULL, 0, &recs[n], &lens[n]), n++;
	tcm_record(&f, NULL, 0, &recs[n], &lens[n]), n++;
	/* open: sealed to another key. */
	assert_int_equal(key_generate(KEY_X25519, "other-seal", &other), TIP_OK);
	tu_report_init(&bad);
	tcm_seal(&f, &bad.r, &other, &recs[n], &lens[n]), n++;
	tcm_record(&f, NULL, 0, &recs[n], &lens[n]), n++;
	/* invalid: a category the taxonomy does not have. */
	bad.categories[1] = "no_such_category";
	tcm_seal(&f, &bad.r, NULL, &recs[n], &lens[n]), n++;
	tcm_record(&f, NULL, 0, &recs[n], &lens[n]), n++;
	/* origin: signed by the origin's key but for another origin, in this origin's inbox. */
	struct rec_chain saved = f.chain;
	assert_int_equal(rec_chain_init(&f.chain, "intake-b"), TIP_OK);
	f.chain.next_seq = saved.next_seq;
	tcm_record(&f, (const uint8_t *)"x", 1, &recs[n], &lens[n]);
	f.chain = saved;
	f.chain.next_seq++;
	n++;
	tcm_record(&f, NULL, 0, &recs[n], &lens[n]), n++;
	tcm_append(&f, recs, lens, n);

	start_daemon();
	wait_cursor(250 + (long long)n);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM reports"), base + 6);
	static const char *const reasons[] = {"decode", "signature", "chain", "open", "invalid", "origin"};
	for (size_t i = 0; i < 6; i++) {
		const char *params[] = {reasons[i]};
		PGresult *r = PQexecParams(
		        owner, "SELECT seq, octet_length(record) > 0 FROM quarantine WHERE reason = $1", 1,
		        NULL, params, NULL, NULL, 0);
		if (PQntuples(r) != 1 || strtoll(PQgetvalue(r, 0, 0), NULL, 10) != 250 + 2 * (long long)i ||
		    strcmp(PQgetvalue(r, 0, 1), "t") != 0)
			fail_msg("quarantine for %s: %d rows", reasons[i], PQntuples(r));
		PQclear(r);
	}
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM quarantine"), 6);
	/* The alert: one count per reason, once the batch is known to be committed. */
	for (size_t i = 0; i < 6; i++) {
		char series[96];
		snprintf(series, sizeof(series), "casemgr_quarantined_total{reason=\"%s\"}", reasons[i]);
		for (int t = 0; t < 500 && tcm_metric(&f, series) != 1; t++)
			usleep(10000);
		if (tcm_metric(&f, series) != 1)
			fail_msg("%s is %lld, not 1", series, tcm_metric(&f, series));
	}
	/* And one warning per quarantined record. */
	assert_int_equal(tdaemon_stop(&d, SIGTERM), 0);
	char *log = tu_read_file(d.log, NULL);
	for (size_t i = 0; i < 6; i++) {
		char needle[64];
		snprintf(needle, sizeof(needle), "seq %d: %s", 250 + 2 * (int)i, reasons[i]);
		if (!strstr(log, needle))
			fail_msg("no log line \"%s\"", needle);
	}
	free(log);
	for (size_t i = 0; i < n; i++)
		free(recs[i]);
}

/* PostgreSQL stops in the middle of ingest and comes back: ingest waits, reconnects and resumes. */
static void test_postgres_restart(void **state)
{
	(void)state;
	long long start = tpg_value(owner, "SELECT max(next_seq) FROM ingest_cursors"), total = start + 4000;
	long long reports = tpg_value(owner, "SELECT count(*) FROM reports");

	tcm_add_reports(&f, 4000);
	/* Small transactions, so that the restart falls in the middle. */
	FILE *conf = fopen(f.conf, "a");
	assert_non_null(conf);
	fputs("ingest_batch 10\n", conf);
	fclose(conf);
	start_daemon();
	wait_cursor(start + 200);
	assert_true(tpg_value(owner, "SELECT max(next_seq) FROM ingest_cursors") < total);
	PQfinish(owner);
	owner = NULL;
	assert_int_equal(tpg_stop(&f.pg), 0);
	sleep(1);
	assert_int_equal(kill(d.pid, 0), 0); /* waiting, not gone */
	assert_int_equal(tpg_restart(&f.pg), 0);
	owner = tpg_connect(&f.pg, "tip_owner");
	wait_cursor(total);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM reports"), reports + 4000);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM cases"), reports + 4000);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM reports WHERE seq >= 262"), 4000);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM quarantine"), 6);
	assert_int_equal(tdaemon_stop(&d, SIGTERM), 0);
	char *log = tu_read_file(d.log, NULL);
	assert_non_null(strstr(log, "connected again"));
	free(log);
}

/* Writes k's verifier to f.dir/origins/<file>. */
static void write_origin_pub(const char *file, const struct key *k)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/origins/%s", f.dir, file);
	assert_int_equal(key_write_public(path, k), TIP_OK);
}

/*
 * Rotation (docs/key-ceremony.md): the origin's signing key and the sealing key replaced while records
 * under the old keys still wait in the inbox; with the old verifier beside the new one and the old
 * sealing key in retired_seal_keys, both generations are ingested. Then the old verifier is removed
 * (revoked): a record it signed is quarantined with a reason naming the key id, and ingest goes on.
 */
static void test_key_rotation(void **state)
{
	(void)state;
	long long start = tpg_value(owner, "SELECT max(next_seq) FROM ingest_cursors");
	long long reports = tpg_value(owner, "SELECT count(*) FROM reports");
	struct key old_sign = f.origin_key, old_seal = f.seal_key;
	char path[512], retired[512];
	uint8_t *recs[2];
	size_t lens[2];

	tcm_add_reports(&f, 5); /* under the old keys, not yet ingested */
	assert_int_equal(key_generate(KEY_ED25519, TCM_ORIGIN, &f.origin_key), TIP_OK);
	assert_int_equal(key_generate(KEY_X25519, "internal-seal", &f.seal_key), TIP_OK);
	write_origin_pub(TCM_ORIGIN "-2.pub", &f.origin_key);
	snprintf(path, sizeof(path), "%s/keys/seal.key", f.dir);
	snprintf(retired, sizeof(retired), "%s/keys/seal-1.key", f.dir);
	assert_int_equal(rename(path, retired), 0);
	assert_int_equal(key_write_private(path, &f.seal_key), TIP_OK);
	FILE *conf = fopen(f.conf, "a");
	assert_non_null(conf);
	fprintf(conf, "retired_seal_keys %s\n", retired);
	fclose(conf);
	tcm_add_reports(&f, 5); /* under the new keys */
	start_daemon();
	wait_cursor(start + 10);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM reports"), reports + 10);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM quarantine"), 6);
	assert_int_equal(tdaemon_stop(&d, SIGTERM), 0);

	/* Revoked: the old verifier removed; a record it signs is refused, the next one arrives. */
	snprintf(path, sizeof(path), "%s/origins/%s.pub", f.dir, TCM_ORIGIN);
	assert_int_equal(unlink(path), 0);
	struct key new_sign = f.origin_key;
	f.origin_key = old_sign;
	tcm_record(&f, NULL, 0, &recs[0], &lens[0]);
	f.origin_key = new_sign;
	tcm_record(&f, NULL, 0, &recs[1], &lens[1]);
	tcm_append(&f, recs, lens, 2);
	start_daemon();
	wait_cursor(start + 12);
	assert_int_equal(tpg_value(owner, "SELECT count(*) FROM reports"), reports + 11);
	char sql[256], id[9];
	snprintf(id, sizeof(id), "%02x%02x%02x%02x", old_sign.id[0], old_sign.id[1], old_sign.id[2],
	         old_sign.id[3]);
	snprintf(
	        sql, sizeof(sql),
	        "SELECT count(*) FROM quarantine WHERE reason = 'signature' AND seq = %lld AND detail = 'key "
	        "id %s is none of the origin''s keys (unknown or revoked)'",
	        start + 10, id);
	assert_int_equal(tpg_value(owner, sql), 1);
	assert_int_equal(tdaemon_stop(&d, SIGTERM), 0);
	key_wipe(&old_sign);
	key_wipe(&old_seal);
	free(recs[0]);
	free(recs[1]);
}

/* The settings table in docs/operations.md is the one `casemgrd -s` prints. */
static void test_settings_documented(void **state)
{
	(void)state;
	char cmd[700], table[16384], *docs;

	snprintf(cmd, sizeof(cmd), "%s/docs/operations.md", getenv("TIP_SOURCE_DIR"));
	assert_non_null(docs = tu_read_file(cmd, NULL));
	snprintf(cmd, sizeof(cmd), "%s/casemgrd -s", getenv("TIP_BINARY_DIR"));
	FILE *p = popen(cmd, "r");
	size_t n = fread(table, 1, sizeof(table) - 1, p);

	table[n] = 0;
	assert_int_equal(pclose(p), 0);
	if (n < 500 || !strstr(docs, table))
		fail_msg("docs/operations.md does not hold the table `casemgrd -s` prints");
	free(docs);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_end_to_end),          cmocka_unit_test(test_quarantine),
	        cmocka_unit_test(test_postgres_restart),    cmocka_unit_test(test_key_rotation),
	        cmocka_unit_test(test_settings_documented),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
