/*
 * What privilege separation costs the intake's signing, which is serial (each record's prev_hash is the
 * hash of the one before, signature included): records signed per second in the process (Ed25519 with
 * the key at hand, as before the split) and through intaked's signer process over its socket, one
 * round trip per record. Rounds alternate so that a busy machine slows both alike.
 * Prints: bench signer: records=N payload_bytes=N in_process_per_s=N via_signer_per_s=N ratio=X
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/err.h"
#include "intake/signer.h"
#include "proto/keyfile.h"
#include "proto/record.h"
#include "proto/report.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RECORDS 20000
#define ROUNDS  5

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Signs the next RECORDS records of chain c with sign(arg); records per second. */
static double chain_rate(struct rec_chain *c, rec_signer sign, void *arg, const struct key *k,
                         const uint8_t *payload, size_t len)
{
	double t0 = now();

	for (int i = 0; i < RECORDS; i++) {
		uint8_t *out, hash[REC_HASH_LEN];
		size_t out_len;

		assert_int_equal(rec_sign_by(c, sign, arg, k->id, REC_REPORT, (int64_t)time(NULL) * 1000,
		                             payload, len, 1 << 20, &out, &out_len, hash),
		                 TIP_OK);
		rec_chain_advance(c, hash);
		free(out);
	}
	return RECORDS / (now() - t0);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void bench_signer(void **state)
{
	(void)state;
	struct key sign, seal;
	struct tu_report r;
	uint8_t *sealed;
	size_t sealed_len;
	struct signer_policy p = {.origin = "bench", .max_body = 1 << 20, .max_skew_ms = 600000};
	double local[ROUNDS], remote[ROUNDS];
	int ctl[2], sv[2];
	pid_t child;

	assert_int_equal(key_generate(KEY_ED25519, "bench", &sign), TIP_OK);
	assert_int_equal(key_generate(KEY_X25519, "seal", &seal), TIP_OK);
	memcpy(p.seal_key_id, seal.id, REC_KEY_ID_LEN);
	tu_report_init(&r);
	assert_int_equal(report_seal(&r.r, HPKE_AEAD_AES_128_GCM, seal.pub, seal.id, "bench", 0, 1 << 20,
	                             &sealed, &sealed_len),
	                 TIP_OK);
	struct ed25519_key *k = ed25519_key_new(sign.secret);
	struct signer *s = signer_new(ed25519_key_new(sign.secret), &p);
	assert_non_null(k);
	assert_non_null(s);
	/* The signer in its own process, as in intaked. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, ctl), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	if ((child = fork()) == 0) {
		close(ctl[0]);
		close(sv[1]);
		signer_run(s, ctl[1]);
		_exit(0);
	}
	close(ctl[1]);
	assert_int_equal(signer_pass(ctl[0], sv[0]), TIP_OK);
	close(sv[0]);
	struct rec_chain c_local, c_remote;
	assert_int_equal(rec_chain_init(&c_local, "bench"), TIP_OK);
	assert_int_equal(rec_chain_init(&c_remote, "bench"), TIP_OK);
	for (int i = 0; i < ROUNDS; i++) {
		local[i] = chain_rate(&c_local, rec_ed25519_signer, k, &sign, sealed, sealed_len);
		remote[i] = chain_rate(&c_remote, signer_request, &sv[1], &sign, sealed, sealed_len);
	}
	close(sv[1]);
	close(ctl[0]);
	waitpid(child, NULL, 0);
	qsort(local, ROUNDS, sizeof(double), cmp_double);
	qsort(remote, ROUNDS, sizeof(double), cmp_double);
	printf("bench signer: records=%d payload_bytes=%zu in_process_per_s=%.0f via_signer_per_s=%.0f "
	       "ratio=%.2f\n",
	       RECORDS, sealed_len, local[ROUNDS / 2], remote[ROUNDS / 2],
	       remote[ROUNDS / 2] / local[ROUNDS / 2]);
	signer_free(s);
	ed25519_key_free(k);
	free(sealed);
	key_wipe(&sign);
	key_wipe(&seal);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(bench_signer)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
