/*
 * The transfer logs end to end: diode-send and diode-recv write them while moving
 * records; diode-audit finds them clean; then copies are tampered with, one way at a
 * time (a flipped byte in a record, a record dropped, injected or swapped, a
 * truncated inbox, a fork, a checkpoint signed by another key, an older checkpoint
 * replayed, a damaged tile, an altered event log), and each is found, with its
 * message and exit code 1. inclusion and consistency proofs are checked both ways.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/file.h"
#include "daemon.h"
#include "diode/spool.h"
#include "proto/checkpoint.h"
#include "proto/keyfile.h"
#include "proto/record.h"
#include "testutil.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define RECORDS 600

static char *dir;
static struct key origin, log_key, stranger, rotated;

/* Runs diode-audit with args (a shell-quoted string); its output in out. Returns the exit status. */
static int audit(char *out, size_t cap, const char *fmt, ...)
{
	char args[2048], cmd[2600];
	va_list ap;
	size_t n = 0;
	FILE *p;
	int status;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "%s/diode-audit %s 2>&1", getenv("TIP_BINARY_DIR"), args);
	if (!(p = popen(cmd, "r")))
		return -1;
	n = fread(out, 1, cap - 1, p);
	out[n] = 0;
	status = pclose(p);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* verify on the copy of the logs in <dir>/<copy>. */
static int verify(const char *copy, char *out, size_t cap)
{
	return audit(out, cap,
	             "verify --sender %s/%s/send-log --receiver %s/%s/recv-log --inbox %s/%s/inbox --keys "
	             "%s/audit.keys",
	             dir, copy, dir, copy, dir, copy, dir);
}

/* The audit's keys file; from the first file on (1: without intake-a's first key), rotated's key last when
 * it has one. */
static void write_keys_file(size_t from)
{
	static const char *const files[] = {"keys/intake-a.pub", "keys/diode-log.pub", "cosign.key",
	                                    "event.key", "keys/intake-a-2.pub"};
	char path[600], line[KEY_LINE_MAX + 2];
	FILE *f;

	snprintf(path, sizeof(path), "%s/audit.keys", dir);
	assert_non_null(f = fopen(path, "w"));
	fprintf(f, "# verifier keys for the audit\n");
	for (size_t i = from; i < sizeof(files) / sizeof(files[0]) - !rotated.name[0]; i++) {
		struct key k;

		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		assert_int_equal(i < 2 || i == 4 ? key_read_public(path, &k) : key_read_private(path, &k),
		                 TIP_OK);
		assert_int_equal(key_format_public(&k, line, sizeof(line)), TIP_OK);
		fprintf(f, "%s\n", line);
	}
	fclose(f);
}

/* All records of a spool, in order. */
struct recs {
	uint8_t *buf[RECORDS + 8];
	size_t len[RECORDS + 8], n;
};

static void read_spool(const char *path, struct recs *r)
{
	struct spool_fault f;
	const uint8_t *buf;
	size_t len;
	int err;
	struct spool_reader *rd = spool_reader_open(path, "test", NULL, &f, &err);

	assert_non_null(rd);
	r->n = 0;
	while (r->n < RECORDS + 8 && spool_reader_next(rd, &buf, &len, NULL, &f) == 1) {
		r->buf[r->n] = malloc(len);
		memcpy(r->buf[r->n], buf, len);
		r->len[r->n++] = len;
	}
	spool_reader_close(rd);
}

static void write_spool(const char *path, const struct recs *r)
{
	char cmd[700];
	struct spool *s;
	int err;

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	assert_int_equal(system(cmd), 0);
	assert_non_null(s = spool_open(path, NULL, NULL, NULL, &err));
	for (size_t i = 0; i < r->n; i++)
		assert_int_equal(spool_append(s, r->buf[i], r->len[i], NULL), TIP_OK);
	assert_int_equal(spool_close(s), TIP_OK);
}

static void free_recs(struct recs *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->buf[i]);
	r->n = 0;
}

/* A fresh copy of the three directories the audit reads; 0, or not 0 if a file vanished while copied. */
static int try_copy_logs(const char *copy)
{
	char cmd[2000];

	snprintf(cmd, sizeof(cmd),
	         "rm -rf %s/%s && mkdir %s/%s && cp -a %s/send-log %s/recv-log %s/inbox %s/%s/ 2>/dev/null",
	         dir, copy, dir, copy, dir, dir, dir, dir, copy);
	return system(cmd);
}

static void copy_logs(const char *copy)
{
	assert_int_equal(try_copy_logs(copy), 0);
}

static void path_in(char *out, size_t cap, const char *copy, const char *rest)
{
	snprintf(out, cap, "%s/%s/%s", dir, copy, rest);
}

/* Appends to the copy's sender checkpoint chain a CHECKPOINT record, signed by the log key, carrying note. */
static void append_checkpoint(const char *copy, const char *note, size_t note_len)
{
	char path[700];
	struct recs r;
	struct rec last;
	struct rec_chain chain;
	struct ed25519_key *k = ed25519_key_new(log_key.secret);
	uint8_t *rec, hash[REC_HASH_LEN];
	size_t len;

	path_in(path, sizeof(path), copy, "send-log/checkpoints");
	read_spool(path, &r);
	assert_true(r.n > 0);
	assert_int_equal(rec_decode(r.buf[r.n - 1], r.len[r.n - 1], 1 << 20, &last), TIP_OK);
	rec_chain_init(&chain, "diode-log");
	chain.next_seq = last.seq;
	rec_chain_advance(&chain, last.hash);
	rec_release(&last);
	assert_int_equal(rec_sign(&chain, k, log_key.id, REC_CHECKPOINT, 1, (const uint8_t *)note, note_len,
	                          1 << 20, &rec, &len, hash),
	                 TIP_OK);
	r.buf[r.n] = rec;
	r.len[r.n++] = len;
	write_spool(path, &r);
	free_recs(&r);
	ed25519_key_free(k);
}

/* The checkpoint carried by record i of the sender's checkpoint chain. */
static void nth_checkpoint(size_t i, struct ckpt *c, char *note, size_t cap)
{
	char path[700];
	struct recs r;
	struct rec rec;

	snprintf(path, sizeof(path), "%s/send-log/checkpoints", dir);
	read_spool(path, &r);
	assert_true(i < r.n);
	assert_int_equal(rec_decode(r.buf[i], r.len[i], 1 << 20, &rec), TIP_OK);
	assert_true(rec.payload_len < cap);
	memcpy(note, rec.payload, rec.payload_len);
	note[rec.payload_len] = 0;
	assert_int_equal(ckpt_open(note, rec.payload_len, CKPT_NOTE_MAX, &log_key, 1, c, NULL), TIP_OK);
	rec_release(&rec);
	free_recs(&r);
}

static void expect(const char *copy, const char *want)
{
	char out[65536];
	int rc = verify(copy, out, sizeof(out));

	if (rc != 1 || !strstr(out, want)) {
		fprintf(stderr, "%s: exit %d, expected 1 and \"%s\" in:\n%s\n", copy, rc, want, out);
		fail();
	}
}

/* Rewrites the copy's inbox of intake-a through f. */
static void tamper_inbox(const char *copy, void (*f)(struct recs *r))
{
	char path[700];
	struct recs r;

	path_in(path, sizeof(path), copy, "inbox/intake-a");
	read_spool(path, &r);
	f(&r);
	write_spool(path, &r);
	free_recs(&r);
}

static void flip(struct recs *r)
{
	r->buf[5][r->len[5] / 2] ^= 0x20;
}

static void drop(struct recs *r)
{
	free(r->buf[5]);
	memmove(&r->buf[5], &r->buf[6], (r->n - 6) * sizeof(r->buf[0]));
	memmove(&r->len[5], &r->len[6], (r->n - 6) * sizeof(r->len[0]));
	r->n--;
}

static void swap(struct recs *r)
{
	uint8_t *b = r->buf[5];
	size_t l = r->len[5];

	r->buf[5] = r->buf[6];
	r->len[5] = r->len[6];
	r->buf[6] = b;
	r->len[6] = l;
}

/* A record in the place of record 5, continuing the chain, but signed by a key that is not the origin's. */
static void inject(struct recs *r)
{
	struct rec prev;
	struct rec_chain chain;
	struct ed25519_key *k = ed25519_key_new(stranger.secret);
	uint8_t *rec, hash[REC_HASH_LEN], payload[64] = {1};
	size_t len;

	assert_int_equal(rec_decode(r->buf[4], r->len[4], 1 << 20, &prev), TIP_OK);
	rec_chain_init(&chain, "intake-a");
	chain.next_seq = prev.seq;
	rec_chain_advance(&chain, prev.hash);
	rec_release(&prev);
	assert_int_equal(rec_sign(&chain, k, stranger.id, REC_REPORT, 1, payload, sizeof(payload), 1 << 20,
	                          &rec, &len, hash),
	                 TIP_OK);
	memmove(&r->buf[6], &r->buf[5], (r->n - 5) * sizeof(r->buf[0]));
	memmove(&r->len[6], &r->len[5], (r->n - 5) * sizeof(r->len[0]));
	r->buf[5] = rec;
	r->len[5] = len;
	r->n++;
	ed25519_key_free(k);
}

static void truncate_tail(struct recs *r)
{
	while (r->n > RECORDS - 50)
		free(r->buf[--r->n]);
}

/*
 * A fresh world: keys, RECORDS records in the outbox (record bad_seq, if not negative, signed by a
 * key that is not the origin's), both daemons running until the audit of a live copy exits want
 * with until in its report; then both are stopped.
 */
/* bad_seq: a record signed by another key there; rotate_at: intake-a's key rotated there (the new
 * verifier beside the old in the receiver's origin keys). -1: neither. */
static void run_pair(int bad_seq, int rotate_at, int want, const char *until)
{
	char path[700], conf_send[600], conf_recv[600], log[600], out[65536];
	struct tdaemon recv_d, send_d;
	struct rec_chain chain;
	int port = tfree_port(), rc = -1;

	dir = tu_mkdtemp();
	tu_diode_keys(dir, "intake-a", &origin);
	assert_int_equal(key_generate(KEY_ED25519, "diode-log", &stranger),
	                 TIP_OK); /* the log's name, not its key */
	snprintf(path, sizeof(path), "%s/log.key", dir);
	assert_int_equal(key_read_private(path, &log_key), TIP_OK);
	memset(&rotated, 0, sizeof(rotated));
	rec_chain_init(&chain, "intake-a");
	snprintf(path, sizeof(path), "%s/outbox", dir);
	if (bad_seq >= 0) {
		tu_fill_spool(path, &origin, &chain, bad_seq, 3000);
		tu_fill_spool(path, &stranger, &chain, 1, 3000);
	}
	if (rotate_at >= 0) {
		tu_fill_spool(path, &origin, &chain, rotate_at, 3000);
		assert_int_equal(key_generate(KEY_ED25519, "intake-a", &rotated), TIP_OK);
		snprintf(log, sizeof(log), "%s/keys/intake-a-2.pub", dir);
		assert_int_equal(key_write_public(log, &rotated), TIP_OK);
		tu_fill_spool(path, &rotated, &chain, RECORDS - (int)chain.next_seq, 3000);
	}
	tu_fill_spool(path, &origin, &chain, RECORDS - (int)chain.next_seq, 3000);
	write_keys_file(0);

	tu_diode_recv_conf(conf_recv, dir, "127.0.0.1", port,
	                   "checkpoint_records 10\ncheckpoint_interval 200ms\ngap_timeout 500ms\n");
	snprintf(path, sizeof(path), "intake-a=%s/outbox", dir);
	tu_diode_send_conf(conf_send, dir, port, path,
	                   "replay 1s\nrate_mbit 100\ncheckpoint_records 100\ncheckpoint_interval "
	                   "300ms\nheartbeat 200ms\n");
	snprintf(log, sizeof(log), "%s/recv.log", dir);
	assert_int_equal(tdaemon_start(&recv_d, "diode-recv", conf_recv, log), 0);
	snprintf(log, sizeof(log), "%s/send.log", dir);
	assert_int_equal(tdaemon_start(&send_d, "diode-send", conf_send, log), 0);
	for (int t = 0; t < 200 && rc != want; t++) {
		usleep(100000);
		if (try_copy_logs("live") != 0)
			continue; /* a partial tile was replaced under the copy: copy again */
		rc = verify("live", out, sizeof(out));
		if (rc == want && !strstr(out, until))
			rc = -1;
	}
	assert_int_equal(tdaemon_stop(&send_d, SIGTERM), 0);
	assert_int_equal(tdaemon_stop(&recv_d, SIGTERM), 0);
	if (rc != want)
		fprintf(stderr, "%s\n", out);
	assert_int_equal(rc, want);
}

/* A record the receiver refuses: it and the records held behind it are undelivered, each explained. */
static void test_undelivered_explained(void **state)
{
	char out[65536];
	(void)state;

	run_pair(300, -1, 0, "in a gap the receiver alerted");
	copy_logs("stopped");
	assert_int_equal(verify("stopped", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "undelivered 300..300: rejected by the receiver: key"));
	assert_non_null(strstr(out, "undelivered 301..599: in a gap the receiver alerted"));
	tu_rmtree(dir);
	free(dir);
}

/*
 * The sender's signer after a restart. Its tree deleted: it is rebuilt from the spool, and agrees
 * with what was signed. Its tree deleted and the spool replaced by other records: the rebuilt tree
 * disagrees with the checkpoint signed before, which the signer refuses (the sender stops, exit 74).
 * Its state deleted beside a tree that has leaves: the sender does not start.
 */
static void test_signer_refuses_after_restart(void **state)
{
	char cmd[800], log[700], conf[700], *text;
	struct tdaemon send_d;
	struct rec_chain chain;
	size_t len;
	int status = -1;
	(void)state;

	run_pair(-1, -1, 0, "cosigned size 600");
	snprintf(conf, sizeof(conf), "%s/send.conf", dir);
	snprintf(log, sizeof(log), "%s/send-again.log", dir);
	snprintf(cmd, sizeof(cmd), "rm -rf %s/send-log/trees/intake-a", dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(tdaemon_start(&send_d, "diode-send", conf, log), 0);
	usleep(1500000);
	assert_int_equal(tdaemon_stop(&send_d, SIGTERM), 0);

	snprintf(cmd, sizeof(cmd), "rm -rf %s/send-log/trees/intake-a %s/outbox", dir, dir);
	assert_int_equal(system(cmd), 0);
	rec_chain_init(&chain, "intake-a");
	snprintf(cmd, sizeof(cmd), "%s/outbox", dir);
	tu_fill_spool(cmd, &origin, &chain, RECORDS, 2000);
	assert_int_equal(tdaemon_start(&send_d, "diode-send", conf, log), 0);
	for (int t = 0; t < 100 && waitpid(send_d.pid, &status, WNOHANG) == 0; t++)
		usleep(100000);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 74);
	assert_int_equal(file_read(log, 1 << 20, &text, &len), TIP_OK);
	assert_non_null(strstr(text, "transfer log intake-a: checkpoint:"));
	free(text);

	snprintf(cmd, sizeof(cmd), "rm -f %s/send-log/signers/intake-a", dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(tdaemon_start(&send_d, "diode-send", conf, log), -1);
	tu_rmtree(dir);
	free(dir);
}

static void test_transfer_log(void **state)
{
	char path[700], out[65536];
	(void)state;

	run_pair(-1, -1, 0, "cosigned size 600");

	/* Stopped logs are clean too, in text and JSON. */
	copy_logs("intact");
	assert_int_equal(verify("intact", out, sizeof(out)), 0);
	assert_non_null(strstr(out, "result: clean"));
	assert_int_equal(
	        audit(out, sizeof(out),
	              "verify --json --sender %s/intact/send-log --receiver %s/intact/recv-log --inbox "
	              "%s/intact/inbox --keys %s/audit.keys",
	              dir, dir, dir, dir),
	        0);
	json_t *j = json_loads(out, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "result")), "clean");
	json_decref(j);

	/* Records altered in the inbox. */
	copy_logs("flipped");
	tamper_inbox("flipped", flip);
	expect("flipped", "inbox record 5");
	copy_logs("dropped");
	tamper_inbox("dropped", drop);
	expect("dropped", "inbox record 5 has the wrong sequence number");
	copy_logs("injected");
	tamper_inbox("injected", inject);
	expect("injected", "inbox record 5 carries another key id");
	copy_logs("swapped");
	tamper_inbox("swapped", swap);
	expect("swapped", "inbox record 5 has the wrong sequence number");
	copy_logs("truncated");
	tamper_inbox("truncated", truncate_tail);
	expect("truncated", "cosigned size 600 but its inbox");

	/* The sender's checkpoint chain: a fork, a note by another key, an older checkpoint replayed. */
	struct ckpt last, first;
	char note[CKPT_NOTE_MAX], old_note[CKPT_NOTE_MAX];
	size_t len;
	nth_checkpoint(1, &first, old_note, sizeof(old_note));
	snprintf(path, sizeof(path), "%s/send-log/signers/intake-a", dir);
	char *text;
	assert_int_equal(file_read(path, CKPT_NOTE_MAX, &text, &len), TIP_OK);
	assert_int_equal(ckpt_open(text, len, CKPT_NOTE_MAX, &log_key, 1, &last, NULL), TIP_OK);
	free(text);
	assert_int_equal(last.size, RECORDS);
	struct ckpt forked = last;
	forked.root[0] ^= 1;
	assert_int_equal(ckpt_sign(&forked, &log_key, note, sizeof(note), &len), TIP_OK);
	copy_logs("fork");
	append_checkpoint("fork", note, len);
	expect("fork", "fork: checkpoint records");
	assert_int_equal(ckpt_sign(&last, &stranger, note, sizeof(note), &len), TIP_OK);
	copy_logs("otherkey");
	append_checkpoint("otherkey", note, len);
	expect("otherkey", "its note does not verify with diode-log");
	copy_logs("older");
	append_checkpoint("older", old_note, strlen(old_note));
	expect("older", "an older checkpoint replayed");

	/* A byte of the sender's first tile; a line of the receiver's event log. */
	copy_logs("tile");
	path_in(path, sizeof(path), "tile", "send-log/trees/intake-a/tile/0/000");
	FILE *f = fopen(path, "r+b");
	assert_non_null(f);
	fseek(f, 100, SEEK_SET);
	fputc(0x55, f);
	fclose(f);
	expect("tile", "the sender's tree cannot be read");
	copy_logs("events");
	{
		struct recs r;

		path_in(path, sizeof(path), "events", "recv-log/events");
		read_spool(path, &r);
		assert_true(r.n > 2);
		free(r.buf[0]);
		memmove(&r.buf[0], &r.buf[1], (r.n - 1) * sizeof(r.buf[0]));
		memmove(&r.len[0], &r.len[1], (r.n - 1) * sizeof(r.len[0]));
		r.n--;
		write_spool(path, &r);
		free_recs(&r);
	}
	expect("events", "event log does not match its signed checkpoint");

	/* Inclusion of record 7, and consistency from the second checkpoint to the last. */
	struct recs r;
	snprintf(path, sizeof(path), "%s/inbox/intake-a", dir);
	read_spool(path, &r);
	char rec7[700], older[700];
	snprintf(rec7, sizeof(rec7), "%s/record7", dir);
	assert_int_equal(file_write_atomic(rec7, r.buf[7], r.len[7], 0600), TIP_OK);
	free_recs(&r);
	snprintf(older, sizeof(older), "%s/older.note", dir);
	assert_int_equal(file_write_atomic(older, old_note, strlen(old_note), 0600), TIP_OK);
	const char *fmt_incl =
	        "inclusion --keys %s/audit.keys --checkpoint %s/send-log/signers/intake-a --record %s "
	        "--index %d --tree %s/send-log/trees/intake-a";
	assert_int_equal(audit(out, sizeof(out), fmt_incl, dir, dir, rec7, 7, dir), 0);
	assert_non_null(strstr(out, "is leaf 7"));
	assert_int_equal(audit(out, sizeof(out), fmt_incl, dir, dir, rec7, 8, dir), 1);
	const char *fmt_cons =
	        "consistency --keys %s/audit.keys --old %s --new %s/send-log/signers/intake-a --tree "
	        "%s/send-log/trees/intake-a";
	assert_int_equal(audit(out, sizeof(out), fmt_cons, dir, older, dir, dir), 0);
	assert_non_null(strstr(out, "is a prefix"));
	/* The proof printed can be checked without the tree; a wrong one fails. */
	char *proof = strstr(out, "proof: "), hexproof[4200];
	assert_non_null(proof);
	sscanf(proof + 7, "%4199s", hexproof);
	const char *fmt_off =
	        "consistency --keys %s/audit.keys --old %s --new %s/send-log/signers/intake-a --proof %s";
	assert_int_equal(audit(out, sizeof(out), fmt_off, dir, older, dir, hexproof), 0);
	hexproof[0] = hexproof[0] == '0' ? '1' : '0';
	assert_int_equal(audit(out, sizeof(out), fmt_off, dir, older, dir, hexproof), 1);
	assert_int_equal(audit(out, sizeof(out), "verify --keys %s/audit.keys", dir), 2);
	assert_int_equal(audit(out, sizeof(out),
	                       "verify --sender %s/nowhere --receiver %s/nowhere --inbox %s/nowhere --keys "
	                       "%s/audit.keys",
	                       dir, dir, dir, dir),
	                 2);
	/* A keys file with a line that is no verifier key: usage error, the line named. */
	snprintf(path, sizeof(path), "%s/bad.keys", dir);
	tu_write_text(path, "# keys\nintake-a+0000+not-base64\n");
	assert_int_equal(audit(out, sizeof(out),
	                       "verify --sender %s/intact/send-log --receiver %s/intact/recv-log --inbox "
	                       "%s/intact/inbox --keys %s",
	                       dir, dir, dir, path),
	                 2);
	assert_non_null(strstr(out, "not a verifier key: intake-a+0000+not-base64"));

	tu_rmtree(dir);
	free(dir);
}

/*
 * An intake's key rotated half-way: the receiver holds both verifiers and delivers every record; the
 * audit verifies the old records with the retired key and the new ones with the new key, and without
 * the retired key it names every old record.
 */
static void test_rotated_key(void **state)
{
	char out[65536];
	(void)state;

	run_pair(-1, 250, 0, "cosigned size 600");
	copy_logs("rotated");
	assert_int_equal(verify("rotated", out, sizeof(out)), 0);
	write_keys_file(1);
	assert_int_equal(verify("rotated", out, sizeof(out)), 1);
	assert_non_null(strstr(out, "carries another key id"));
	key_wipe(&rotated);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_transfer_log), cmocka_unit_test(test_undelivered_explained),
	        cmocka_unit_test(test_signer_refuses_after_restart), cmocka_unit_test(test_rotated_key)};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
