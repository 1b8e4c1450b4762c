/*
 * intaked killed with SIGKILL under load, again and again: every query code it
 * answered with 201 has its record in the outbox, and the chain (seq, prev_hash)
 * runs through all restarts without a gap or a fork.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/err.h"
#include "daemon.h"
#include "diode/spool.h"
#include "httpc.h"
#include "intake/querycode.h"
#include "proto/codec.h"
#include "proto/keyfile.h"
#include "proto/record.h"
#include "proto/report.h"
#include "testutil.h"

#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ROUNDS  8
#define CLIENTS 4
#define MAX_ACK 100000

static char *dir;
static struct key intake_key, seal_key;
static int port;
static atomic_int round_over;
static pthread_mutex_t ack_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t (*acked)[QC_HASH_LEN];
static size_t n_acked;

static void *client(void *arg)
{
	int id = (int)(intptr_t)arg, n = 0;

	while (!atomic_load(&round_over)) {
		struct httpc_response r;
		char body[512];

		snprintf(body, sizeof(body),
		         "{\"taxonomy_version\":\"2026.1\",\"reporter\":{\"anonymous\":true},\"activity\":{"
		         "\"categories\":[\"other\"],\"region\":\"110101\",\"narrative\":\"client %d report "
		         "%d\"}}",
		         id, n++);
		if (httpc_intake_post("127.0.0.1", port, 0, "/api/v1/reports", "application/json", body,
		                      strlen(body), &r) != 0)
			continue;
		uint8_t hash[QC_HASH_LEN];
		if (httpc_accepted_hash(&r, hash) == 0) {
			pthread_mutex_lock(&ack_lock);
			if (n_acked < MAX_ACK)
				memcpy(acked[n_acked++], hash, QC_HASH_LEN);
			pthread_mutex_unlock(&ack_lock);
		}
		httpc_free(&r);
	}
	return NULL;
}

static int cmp_hash(const void *a, const void *b)
{
	return memcmp(a, b, QC_HASH_LEN);
}

static void test_sigkill_under_load(void **state)
{
	(void)state;
	char keys[512], path[600], conf[600], log[600], src[512];
	FILE *f;

	acked = calloc(MAX_ACK, QC_HASH_LEN);
	dir = tu_mkdtemp();
	snprintf(keys, sizeof(keys), "%s/keys", dir);
	mkdir(keys, 0700);
	assert_int_equal(key_generate(KEY_ED25519, "intake", &intake_key), TIP_OK);
	assert_int_equal(key_generate(KEY_X25519, "seal", &seal_key), TIP_OK);
	struct key status_key;
	assert_int_equal(key_generate(KEY_ED25519, "status", &status_key), TIP_OK);
	snprintf(path, sizeof(path), "%s/intake.key", keys);
	assert_int_equal(key_write_private(path, &intake_key), TIP_OK);
	snprintf(path, sizeof(path), "%s/seal.pub", keys);
	assert_int_equal(key_write_public(path, &seal_key), TIP_OK);
	snprintf(path, sizeof(path), "%s/status.pub", keys);
	assert_int_equal(key_write_public(path, &status_key), TIP_OK);
	snprintf(src, sizeof(src), "%s/proto/taxonomy", getenv("TIP_SOURCE_DIR"));
	port = tfree_port();
	snprintf(conf, sizeof(conf), "%s/intaked.conf", dir);
	f = fopen(conf, "w");
	fprintf(f,
	        "origin intake-k\nlisten 127.0.0.1\nport %d\nplain_http yes\nmetrics_port 0\npow_bits 0\n"
	        "signing_key %s/intake.key\nseal_key %s/seal.pub\nstatus_key %s/status.pub\n"
	        "outbox %s/outbox\nstatus_spool %s/status\ntaxonomy %s\nsegment_bytes 1M\n"
	        "rate_reports 1000000000\nburst_reports 1000000\nrate_challenge 1000000000\nburst_challenge "
	        "1000000\n",
	        port, keys, keys, keys, dir, dir, src);
	fclose(f);

	srand(42);
	for (int round = 0; round < ROUNDS; round++) {
		struct tdaemon d;
		pthread_t t[CLIENTS];

		snprintf(log, sizeof(log), "%s/intaked.log", dir);
		assert_int_equal(tdaemon_start(&d, "intaked", conf, log), 0);
		atomic_store(&round_over, 0);
		for (int i = 0; i < CLIENTS; i++)
			pthread_create(&t[i], NULL, client, (void *)(intptr_t)(round * CLIENTS + i));
		usleep((useconds_t)(150000 + rand() % 350000));
		assert_int_equal(tdaemon_stop(&d, SIGKILL), 128 + SIGKILL);
		atomic_store(&round_over, 1);
		for (int i = 0; i < CLIENTS; i++)
			pthread_join(t[i], NULL);
	}

	/* Recover the spool as the next start would, then read everything. */
	char outbox[600];
	int err;
	struct spool_fault fault;
	snprintf(outbox, sizeof(outbox), "%s/outbox", dir);
	struct spool *sp = spool_open(outbox, NULL, NULL, &fault, &err);
	assert_non_null(sp);
	uint64_t count = spool_count(sp);
	spool_close(sp);

	struct spool_reader *rd = spool_reader_open(outbox, "check", NULL, &fault, &err);
	struct ed25519_pub *pub = ed25519_pub_new(intake_key.pub);
	struct rec_chain chain;
	uint8_t(*stored)[QC_HASH_LEN] = calloc(count ? count : 1, QC_HASH_LEN);
	const uint8_t *buf;
	size_t len;
	uint64_t index;

	assert_non_null(rd);
	rec_chain_init(&chain, "intake-k");
	for (uint64_t i = 0; i < count; i++) {
		struct rec rec;
		Tip__Report *r;

		assert_int_equal(spool_reader_next(rd, &buf, &len, &index, &fault), 1);
		assert_int_equal(rec_decode(buf, len, 1 << 24, &rec), TIP_OK);
		assert_int_equal(rec.seq, index);
		assert_int_equal(rec_chain_check(&chain, &rec), REC_CHAIN_NEXT);
		assert_int_equal(rec_verify(&rec, pub), TIP_OK);
		rec_chain_advance(&chain, rec.hash);
		assert_int_equal(report_open(rec.payload, rec.payload_len, 1 << 24, seal_key.secret,
		                             seal_key.id, rec.origin, rec.seq, &r),
		                 TIP_OK);
		memcpy(stored[i], r->query_hash.data, QC_HASH_LEN);
		codec_free(&r->base);
		rec_release(&rec);
	}
	assert_int_equal(spool_reader_next(rd, &buf, &len, &index, &fault), 0);
	qsort(stored, count, QC_HASH_LEN, cmp_hash);
	for (size_t i = 0; i < n_acked; i++)
		if (!bsearch(acked[i], stored, count, QC_HASH_LEN, cmp_hash))
			fail_msg("acknowledged report %zu of %zu is not in the outbox", i, n_acked);
	printf("rounds %d, reports acknowledged %zu, records in the outbox %llu\n", ROUNDS, n_acked,
	       (unsigned long long)count);
	assert_true(n_acked > 50);
	assert_true(count >= n_acked);
	spool_reader_close(rd);
	ed25519_pub_free(pub);
	free(stored);
	free(acked);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_sigkill_under_load),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
