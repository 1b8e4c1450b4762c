#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "intake/ratelimit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

/* An address from text ("192.0.2.1" or "2001:db8::1") into storage the caller owns. */
static const struct sockaddr *addr(struct sockaddr_storage *ss, const char *text)
{
	memset(ss, 0, sizeof(*ss));
	if (strchr(text, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(443);
		assert_int_equal(inet_pton(AF_INET6, text, &s6->sin6_addr), 1);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(443);
		assert_int_equal(inet_pton(AF_INET, text, &s4->sin_addr), 1);
	}
	return (const struct sockaddr *)ss;
}

static unsigned check(struct rl *r, const char *text, uint64_t now_ms)
{
	struct sockaddr_storage ss;

	return rl_check(r, addr(&ss, text), now_ms);
}

/* Spends the whole burst of one client; returns how many requests were allowed before the first refusal. */
static unsigned drain(struct rl *r, const char *text, uint64_t now_ms)
{
	unsigned n = 0;

	while (check(r, text, now_ms) == 0)
		assert_true(++n < 1000);
	return n;
}

static void test_burst_then_refusal(void **state)
{
	(void)state;
	struct rl *r;

	assert_non_null(r = rl_new(0.5, 3, 16, 24, 48));
	for (int i = 0; i < 3; i++)
		assert_int_equal(check(r, "192.0.2.10", 1000), 0);
	/* Empty bucket, one token per two seconds. */
	assert_int_equal(check(r, "192.0.2.10", 1000), 2);
	/* Refusals take nothing: asking again changes nothing. */
	assert_int_equal(check(r, "192.0.2.10", 1000), 2);
	/* 1.999 s later 0.9995 tokens are there: one more second, not zero. */
	assert_int_equal(check(r, "192.0.2.10", 2999), 1);
	/* Waiting exactly the Retry-After suffices. */
	assert_int_equal(check(r, "192.0.2.10", 3000), 0);
	assert_int_equal(check(r, "192.0.2.10", 3000), 2);
	rl_free(r);

	/* A fast rate still says at least one second. */
	assert_non_null(r = rl_new(5, 2, 16, 24, 48));
	assert_int_equal(drain(r, "192.0.2.10", 0), 2);
	assert_int_equal(check(r, "192.0.2.10", 0), 1);
	rl_free(r);

	/* A slow rate: one token per 90 s; after 30 s, 60 s to go. */
	assert_non_null(r = rl_new(1.0 / 90, 1, 16, 24, 48));
	assert_int_equal(check(r, "198.51.100.1", 0), 0);
	assert_int_equal(check(r, "198.51.100.1", 0), 90);
	assert_int_equal(check(r, "198.51.100.1", 30000), 60);
	assert_int_equal(check(r, "198.51.100.1", 89999), 1);
	assert_int_equal(check(r, "198.51.100.1", 90000), 0);
	rl_free(r);
}

static void test_retry_after_always_suffices(void **state)
{
	(void)state;
	static const double rates[] = {0.3, 0.7, 1.0 / 3, 1.7, 2.5, 9.99, 1.0 / 7};
	struct rl *r;

	/* Whatever the rate and the moment of refusal, coming back after Retry-After seconds is allowed. */
	size_t longer = 0;
	for (size_t k = 0; k < sizeof(rates) / sizeof(rates[0]); k++) {
		uint64_t now = 12345;

		assert_non_null(r = rl_new(rates[k], 2, 16, 24, 48));
		for (int i = 0; i < 200; i++) {
			/* Empty the bucket, at an odd offset each round so refusals land off the grid. */
			drain(r, "203.0.113.5", now);
			unsigned wait = check(r, "203.0.113.5", now);

			assert_true(wait >= 1);
			/* And it is the shortest whole wait: a second less is still refused. */
			if (wait > 1)
				assert_int_not_equal(
				        check(r, "203.0.113.5", now + (uint64_t)(wait - 1) * 1000), 0);
			now += (uint64_t)wait * 1000;
			assert_int_equal(check(r, "203.0.113.5", now), 0);
			now += 1 + (uint64_t)(i * 37 % 700);
			longer += wait > 1;
		}
		rl_free(r);
	}
	/* The slow rates made the minimality check above run. */
	assert_true(longer > 500);
}

static void test_refill(void **state)
{
	(void)state;
	struct rl *r;

	assert_non_null(r = rl_new(0.5, 3, 16, 24, 48));
	assert_int_equal(drain(r, "192.0.2.10", 0), 3);
	/* 4 s give two tokens. */
	assert_int_equal(drain(r, "192.0.2.10", 4000), 2);
	/* An hour gives no more than the burst. */
	assert_int_equal(drain(r, "192.0.2.10", 3604000), 3);
	/* Half-tokens accumulate across requests. */
	assert_int_equal(check(r, "192.0.2.10", 3605000), 1);
	assert_int_equal(check(r, "192.0.2.10", 3606000), 0);
	/* A clock that steps back adds nothing and breaks nothing. */
	assert_int_equal(check(r, "192.0.2.10", 1000), 2);
	assert_int_equal(check(r, "192.0.2.10", 3608000), 0);
	rl_free(r);
}

static void test_ipv4_prefix(void **state)
{
	(void)state;
	struct rl *r;

	assert_non_null(r = rl_new(0.001, 2, 64, 24, 48));
	assert_int_equal(drain(r, "192.0.2.10", 0), 2);
	/* Same /24: shares the empty bucket. */
	assert_int_not_equal(check(r, "192.0.2.200", 0), 0);
	assert_int_not_equal(check(r, "192.0.2.0", 0), 0);
	assert_int_not_equal(check(r, "192.0.2.255", 0), 0);
	/* Neighbouring /24s do not. */
	assert_int_equal(drain(r, "192.0.3.10", 0), 2);
	assert_int_equal(drain(r, "192.0.1.10", 0), 2);
	assert_int_equal(drain(r, "10.0.2.10", 0), 2);
	rl_free(r);

	/* /32: every address alone. */
	assert_non_null(r = rl_new(0.001, 1, 64, 32, 48));
	assert_int_equal(drain(r, "192.0.2.10", 0), 1);
	assert_int_equal(drain(r, "192.0.2.11", 0), 1);
	rl_free(r);

	/* /20, not on a byte boundary: 10.0.16.0 - 10.0.31.255 together. */
	assert_non_null(r = rl_new(0.001, 1, 64, 20, 48));
	assert_int_equal(drain(r, "10.0.16.1", 0), 1);
	assert_int_not_equal(check(r, "10.0.31.254", 0), 0);
	assert_int_equal(drain(r, "10.0.32.1", 0), 1);
	assert_int_equal(drain(r, "10.0.15.255", 0), 1);
	rl_free(r);

	/* /0: the whole IPv4 internet is one client (but IPv6 is still split). */
	assert_non_null(r = rl_new(0.001, 1, 64, 0, 48));
	assert_int_equal(drain(r, "10.0.16.1", 0), 1);
	assert_int_not_equal(check(r, "203.0.113.9", 0), 0);
	assert_int_equal(drain(r, "2001:db8::1", 0), 1);
	rl_free(r);
}

static void test_ipv6_prefix(void **state)
{
	(void)state;
	struct rl *r;

	assert_non_null(r = rl_new(0.001, 2, 64, 24, 48));
	assert_int_equal(drain(r, "2001:db8:1::1", 0), 2);
	assert_int_not_equal(check(r, "2001:db8:1:ffff:ffff:ffff:ffff:ffff", 0), 0);
	assert_int_not_equal(check(r, "2001:db8:1:42::7", 0), 0);
	assert_int_equal(drain(r, "2001:db8:2::1", 0), 2);
	assert_int_equal(drain(r, "2001:db8:0:ffff::1", 0), 2);
	assert_int_equal(drain(r, "2001:db9:1::1", 0), 2);
	rl_free(r);

	/* /64 configured: two /64s of one /48 are separate; one /64 is shared. */
	assert_non_null(r = rl_new(0.001, 1, 64, 24, 64));
	assert_int_equal(drain(r, "2001:db8:1:1::1", 0), 1);
	assert_int_not_equal(check(r, "2001:db8:1:1:abcd::9", 0), 0);
	assert_int_equal(drain(r, "2001:db8:1:2::1", 0), 1);
	rl_free(r);

	/* A family is part of the key: 192.0.2.0/24 and the IPv6 prefix with the same bytes differ. */
	assert_non_null(r = rl_new(0.001, 1, 64, 24, 24));
	assert_int_equal(drain(r, "192.0.2.1", 0), 1);
	assert_int_equal(drain(r, "c000:200::1", 0), 1);
	rl_free(r);
}

static void test_ipv4_mapped(void **state)
{
	(void)state;
	struct rl *r;

	assert_non_null(r = rl_new(0.001, 2, 64, 24, 48));
	assert_int_equal(drain(r, "::ffff:192.0.2.77", 0), 2);
	assert_int_not_equal(check(r, "192.0.2.10", 0), 0);
	assert_int_not_equal(check(r, "::ffff:192.0.2.1", 0), 0);
	assert_int_equal(drain(r, "::ffff:192.0.3.1", 0), 2);
	/* Only ::ffff:0:0/96 is mapped: the deprecated compatible form ::a.b.c.d is just IPv6. */
	assert_int_equal(drain(r, "::192.0.4.1", 0), 2);
	assert_int_equal(drain(r, "192.0.4.1", 0), 2);
	rl_free(r);
}

static void test_other_families(void **state)
{
	(void)state;
	struct sockaddr_un un;
	struct rl *r;

	assert_non_null(r = rl_new(0.001, 2, 64, 24, 48));
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	assert_int_equal(rl_check(r, (const struct sockaddr *)&un, 0), 0);
	assert_int_equal(rl_check(r, NULL, 0), 0);
	assert_int_not_equal(rl_check(r, (const struct sockaddr *)&un, 0), 0);
	assert_int_equal(drain(r, "192.0.2.1", 0), 2);
	rl_free(r);
}

static void test_eviction_lru(void **state)
{
	(void)state;
	struct rl *r;

	/* Room for two clients, one token each, practically no refill. */
	assert_non_null(r = rl_new(RL_RATE_MIN, 1, 2, 24, 48));
	assert_int_equal(check(r, "192.0.2.1", 0), 0);    /* A */
	assert_int_equal(check(r, "198.51.100.1", 1), 0); /* B */
	/* A again: refused, and seen more recently than B although it came first. */
	assert_int_not_equal(check(r, "192.0.2.1", 2), 0);
	assert_int_equal(rl_count(r), 2);
	/* C: the table is full and B, seen least recently, goes. */
	assert_int_equal(check(r, "203.0.113.1", 3), 0);
	assert_int_equal(rl_count(r), 2);
	/* A and C are still held (refused); touched in that order, A is now the oldest. */
	assert_int_not_equal(check(r, "192.0.2.1", 4), 0);
	assert_int_not_equal(check(r, "203.0.113.1", 5), 0);
	/* B returns with a fresh bucket, evicting A. */
	assert_int_equal(check(r, "198.51.100.1", 6), 0);
	assert_int_not_equal(check(r, "203.0.113.1", 7), 0);
	assert_int_equal(check(r, "192.0.2.1", 8), 0);
	rl_free(r);
}

/*
 * Thousands of prefixes through a small table: after every insertion the
 * `capacity` most recently seen prefixes must all still be held (refused with
 * an empty bucket), however the evictions rearranged the index.
 */
static void test_eviction_churn(void **state)
{
	(void)state;
	enum { CAP = 50, N = 3000 };
	char text[32];
	struct rl *r;

	assert_non_null(r = rl_new(RL_RATE_MIN, 1, CAP, 24, 48));
	for (int k = 0; k < N; k++) {
		snprintf(text, sizeof(text), "10.%d.%d.1", k / 256, k % 256);
		assert_int_equal(check(r, text, (uint64_t)k), 0);
		for (int j = k - CAP + 1; j <= k; j++) {
			if (j < 0)
				continue;
			snprintf(text, sizeof(text), "10.%d.%d.99", j / 256, j % 256);
			assert_int_not_equal(check(r, text, (uint64_t)k), 0);
		}
		assert_true(rl_count(r) <= CAP);
	}
	assert_int_equal(rl_count(r), CAP);
	rl_free(r);
}

static void test_bad_arguments(void **state)
{
	(void)state;
	assert_null(rl_new(0, 1, 16, 24, 48));
	assert_null(rl_new(-1, 1, 16, 24, 48));
	assert_null(rl_new(RL_RATE_MIN / 2, 1, 16, 24, 48));
	assert_null(rl_new(RL_RATE_MAX * 2, 1, 16, 24, 48));
	assert_null(rl_new(1.0 / 0.0, 1, 16, 24, 48));
	assert_null(rl_new(0.0 / 0.0, 1, 16, 24, 48));
	assert_null(rl_new(1, 0.5, 16, 24, 48));
	assert_null(rl_new(1, RL_BURST_MAX * 2, 16, 24, 48));
	assert_null(rl_new(1, 1, 0, 24, 48));
	assert_null(rl_new(1, 1, RL_CAPACITY_MAX + 1, 24, 48));
	assert_null(rl_new(1, 1, 16, 33, 48));
	assert_null(rl_new(1, 1, 16, 24, 129));
	rl_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_burst_then_refusal),
	        cmocka_unit_test(test_retry_after_always_suffices),
	        cmocka_unit_test(test_refill),
	        cmocka_unit_test(test_ipv4_prefix),
	        cmocka_unit_test(test_ipv6_prefix),
	        cmocka_unit_test(test_ipv4_mapped),
	        cmocka_unit_test(test_other_families),
	        cmocka_unit_test(test_eviction_lru),
	        cmocka_unit_test(test_eviction_churn),
	        cmocka_unit_test(test_bad_arguments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
