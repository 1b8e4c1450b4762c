/*
 * diode-audit's verification rate on a log of 1,000,000 records, against the raw Ed25519 verify
 * rate `openssl speed -multi <CPUs> ed25519` reports on the same machine in the same run.
 *
 * The logs are made in-process by the same code the daemons run: a txlog over an outbox of
 * 1,000,000 signed records (a checkpoint every 100,000), the same records and the checkpoint chain
 * copied into inboxes as diode-recv would deliver them, and an rxlog that rebuilds the tree and
 * cosigns. Then tlog_audit_verify (every record decoded, its signature checked, chained, hashed and
 * compared with both trees) runs with one thread per CPU.
 * Prints: bench audit: records=N seconds=X verify_rate=N/s openssl_verify=N/s ratio=X
 */
#include "common/err.h"
#include "common/file.h"
#include "diode/tlog_audit.h"
#include "diode/rxlog.h"
#include "diode/spool.h"
#include "diode/txlog.h"
#include "proto/checkpoint.h"
#include "proto/keyfile.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RECORDS 1000000

static void check(const char *what, int rc)
{
	if (rc != TIP_OK) {
		fprintf(stderr, "bench_audit: %s: %s\n", what, tip_strerror(rc));
		exit(1);
	}
}

/* Copies every record of one spool into another (created). */
static void copy_spool(const char *from, const char *to)
{
	struct spool_fault f;
	struct spool_reader *r;
	struct spool *s;
	const uint8_t *buf;
	size_t len;
	int err;

	if (!(r = spool_reader_open(from, "copy", NULL, &f, &err)) ||
	    !(s = spool_open(to, NULL, NULL, &f, &err)))
		check("copy", err);
	while (spool_reader_next(r, &buf, &len, NULL, &f) == 1)
		check("append", spool_append(s, buf, len, NULL));
	check("close", spool_close(s));
	spool_reader_close(r);
}

/* The size the receiver has cosigned for intake-a, or 0. */
static uint64_t cosigned(const char *dir, const struct key *log_pub)
{
	char path[700], *text;
	size_t len;
	struct ckpt c;
	uint64_t size = 0;

	snprintf(path, sizeof(path), "%s/recv-log/cosigned/intake-a", dir);
	if (file_read(path, CKPT_NOTE_MAX, &text, &len) != TIP_OK)
		return 0;
	if (ckpt_open(text, len, CKPT_NOTE_MAX, log_pub, 1, &c, NULL) == TIP_OK)
		size = c.size;
	free(text);
	return size;
}

/* openssl speed's Ed25519 verifications per second with one process per CPU. */
static double openssl_verify_rate(long cpus)
{
	char cmd[128], line[512];
	double sign = 0, verify = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "openssl speed -seconds 3 -multi %ld ed25519 2>/dev/null", cpus);
	if (!(p = popen(cmd, "r")))
		return 0;
	while (fgets(line, sizeof(line), p)) {
		const char *at = strstr(line, "(Ed25519)");

		if (at)
			sscanf(at + 9, "%*s %*s %lf %lf", &sign, &verify);
	}
	pclose(p);
	return verify;
}

int main(void)
{
	char *dir = tu_mkdtemp(), path[700], inbox[700];
	struct key origin, keys[2], cosign, events, log_key;
	struct rec_chain chain;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int err;

	check("key", key_generate(KEY_ED25519, "intake-a", &origin));
	check("key", key_generate(KEY_ED25519, "diode-log", &log_key));
	check("key", key_generate(KEY_COSIGN, "diode-recv", &cosign));
	check("key", key_generate(KEY_ED25519, "diode-recv-events", &events));
	rec_chain_init(&chain, "intake-a");
	snprintf(path, sizeof(path), "%s/outbox", dir);
	double t0 = (double)time(NULL);
	tu_fill_spool(path, &origin, &chain, RECORDS, 400);
	fprintf(stderr, "bench_audit: %d records signed in %.0f s\n", RECORDS, (double)time(NULL) - t0);

	/* The sender's log. */
	snprintf(inbox, sizeof(inbox), "%s/send-log", dir);
	struct txlog_source src = {"intake-a", path};
	struct txlog_conf tc = {inbox, &log_key, 100000, 3600000, spool_opts_default()};
	struct txlog *tx = txlog_open(&tc, &src, 1, &err);
	uint64_t size = 0;
	uint8_t root[32];
	if (!tx)
		check("txlog", err);
	check("txlog start", txlog_start(tx));
	while (txlog_latest(tx, 0, &size, root) == TIP_OK && size < RECORDS)
		usleep(50000);
	txlog_free(tx);

	/* What diode-recv would have delivered: the records and the checkpoint chain. */
	snprintf(inbox, sizeof(inbox), "%s/inbox", dir);
	mkdir(inbox, 0700);
	snprintf(inbox, sizeof(inbox), "%s/inbox/intake-a", dir);
	copy_spool(path, inbox);
	snprintf(path, sizeof(path), "%s/send-log/checkpoints", dir);
	snprintf(inbox, sizeof(inbox), "%s/inbox/diode-log", dir);
	copy_spool(path, inbox);

	/* The receiver's log. */
	keys[0] = origin;
	keys[1] = log_key;
	for (int i = 0; i < 2; i++) {
		memset(keys[i].secret, 0, sizeof(keys[i].secret));
		keys[i].has_secret = 0;
	}
	snprintf(path, sizeof(path), "%s/recv-log", dir);
	snprintf(inbox, sizeof(inbox), "%s/inbox", dir);
	struct rxlog_conf rc = {path, inbox, &cosign, &events, keys, 2, 1000, 1000, spool_opts_default()};
	struct rxlog *rx = rxlog_open(&rc, &err);
	if (!rx)
		check("rxlog", err);
	check("rxlog start", rxlog_start(rx));
	while (cosigned(dir, &keys[1]) < RECORDS)
		usleep(50000);
	rxlog_free(rx);

	/* The audit. */
	struct key pubs[4] = {keys[0], keys[1], cosign, events};
	for (int i = 2; i < 4; i++) {
		memset(pubs[i].secret, 0, sizeof(pubs[i].secret));
		pubs[i].has_secret = 0;
	}
	char sender[700], receiver[700], msg[512];
	snprintf(sender, sizeof(sender), "%s/send-log", dir);
	snprintf(receiver, sizeof(receiver), "%s/recv-log", dir);
	struct tlog_audit_opts ao = {sender, receiver, inbox, pubs, 4, 0};
	struct tlog_audit_report r;
	check("audit", tlog_audit_verify(&ao, &r, msg, sizeof(msg)));
	if (r.n_problems) {
		tlog_audit_report_print(&r, stderr);
		return 1;
	}
	double rate = (double)r.records_checked / r.seconds, raw = openssl_verify_rate(cpus);
	printf("bench audit: records=%llu seconds=%.2f verify_rate=%.0f/s openssl_verify=%.0f/s ratio=%.2f\n",
	       (unsigned long long)r.records_checked, r.seconds, rate, raw, raw > 0 ? rate / raw : 0);
	tlog_audit_report_free(&r);
	tu_rmtree(dir);
	free(dir);
	return 0;
}
