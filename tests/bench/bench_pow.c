#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/err.h"
#include "intake/pow.h"
#include "intake/querycode.h"
#include "intake/ratelimit.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * What the intake's anti-abuse pieces cost: how long a client needs to solve a
 * challenge (the figure the default `bits` is chosen from), and what the server
 * pays per request to check a solution, rate-limit a client and make a code.
 */

#define T0 1700000000

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void bench_solve(void **state)
{
	(void)state;
	static const unsigned bits[] = {16, 18, 20};
	static const int runs[] = {101, 61, 41};
	struct pow *p;

	assert_non_null(p = pow_new(0, 600, 1024, NULL));
	for (size_t b = 0; b < sizeof(bits) / sizeof(bits[0]); b++) {
		double times[128], total = 0, hashes = 0;
		char c[POW_CHALLENGE_LEN + 1], nonce[POW_NONCE_MAX + 1];
		time_t expires;

		for (int r = 0; r < runs[b]; r++) {
			assert_int_equal(pow_issue(p, T0, c, sizeof(c), &expires), TIP_OK);
			double t0 = now();
			assert_int_equal(pow_solve(c, bits[b], nonce, sizeof(nonce)), TIP_OK);
			times[r] = now() - t0;
			total += times[r];
			/* The solver counts from 0, so the nonce found is the number of failed tries. */
			hashes += strtod(nonce, NULL) + 1;
		}
		qsort(times, (size_t)runs[b], sizeof(times[0]), cmp_double);
		double rate = hashes / total;
		print_message(
		        "pow_solve bits=%u: %d runs, median %.1f ms, mean %.1f ms, min %.1f ms, max %.1f ms; "
		        "%.2f M hashes/s; expected (2^%u / rate) %.1f ms\n",
		        bits[b], runs[b], times[runs[b] / 2] * 1e3, total / runs[b] * 1e3, times[0] * 1e3,
		        times[runs[b] - 1] * 1e3, rate / 1e6, bits[b], (double)(1u << bits[b]) / rate * 1e3);
	}
	pow_free(p);
}

static void bench_redeem(void **state)
{
	(void)state;
	enum { N = 200000 };
	static char headers[N][POW_CHALLENGE_LEN + 3];
	struct pow *p;
	time_t expires;

	assert_non_null(p = pow_new(0, 600, N, NULL));
	for (int i = 0; i < N; i++) {
		assert_int_equal(pow_issue(p, T0, headers[i], sizeof(headers[i]), &expires), TIP_OK);
		memcpy(headers[i] + POW_CHALLENGE_LEN, ":0", 3);
	}
	double t0 = now();
	for (int i = 0; i < N; i++)
		assert_int_equal(pow_redeem(p, headers[i], POW_CHALLENGE_LEN + 2, T0), TIP_OK);
	double t1 = now();
	print_message("pow_redeem (bits=0, valid, spent set growing to %d): %.2f us each\n", N,
	              (t1 - t0) / N * 1e6);
	t0 = now();
	for (int i = 0; i < N; i++)
		assert_int_equal(pow_redeem(p, headers[i], POW_CHALLENGE_LEN + 2, T0), TIP_EBUSY);
	t1 = now();
	print_message("pow_redeem (replays refused): %.2f us each\n", (t1 - t0) / N * 1e6);
	char c[POW_CHALLENGE_LEN + 1];
	t0 = now();
	for (int i = 0; i < N; i++)
		assert_int_equal(pow_issue(p, T0, c, sizeof(c), &expires), TIP_OK);
	t1 = now();
	print_message("pow_issue: %.2f us each\n", (t1 - t0) / N * 1e6);
	pow_free(p);
}

static void bench_ratelimit_and_codes(void **state)
{
	(void)state;
	enum { N = 1000000, CAP = 100000 };
	struct sockaddr_in sin;
	struct rl *r;
	unsigned refused = 0;

	assert_non_null(r = rl_new(1, 10, CAP, 24, 48));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	double t0 = now();
	for (uint32_t i = 0; i < N; i++) {
		/* 300,000 distinct /24s over a 100,000-bucket table: lookups, inserts and evictions. */
		sin.sin_addr.s_addr = htonl(((i * 2654435761u) % 300000) << 8);
		refused += rl_check(r, (const struct sockaddr *)&sin, i / 100) != 0;
	}
	double t1 = now();
	print_message("rl_check: %.2f us each (%u refused)\n", (t1 - t0) / N * 1e6, refused);
	rl_free(r);

	char code[QC_DIGITS + 1];
	uint8_t h[QC_HASH_LEN];
	t0 = now();
	for (int i = 0; i < N / 10; i++) {
		assert_int_equal(qc_generate(code), TIP_OK);
		assert_int_equal(qc_hash(code, h), TIP_OK);
	}
	t1 = now();
	print_message("qc_generate + qc_hash: %.2f us each\n", (t1 - t0) / (N / 10) * 1e6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(bench_solve),
	        cmocka_unit_test(bench_redeem),
	        cmocka_unit_test(bench_ratelimit_and_codes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
