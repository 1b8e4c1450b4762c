#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "diode/pacer.h"

static void test_rate_and_burst(void **state)
{
	(void)state;
	struct pacer p;
	uint64_t t = 1000000000, sent = 0;

	/* 1 MB/s, 10 datagrams of 1000 bytes of burst, starting empty. */
	pacer_init(&p, 1e6, 10000, t);
	assert_int_equal(pacer_take(&p, 1000, 64, t), 0);
	assert_int_equal(pacer_wait_ns(&p, 1000), 1000001);
	t += 1000000; /* 1 ms: one datagram's worth */
	assert_int_equal(pacer_take(&p, 1000, 64, t), 1);
	t += 1000000000; /* a second idle: capped at the burst */
	assert_int_equal(pacer_take(&p, 1000, 64, t), 10);
	assert_int_equal(pacer_take(&p, 1000, 64, t), 0);
	/* Over one simulated second in 100 µs steps, the rate holds. */
	for (int i = 0; i < 10000; i++) {
		t += 100000;
		sent += pacer_take(&p, 1000, 64, t);
	}
	assert_in_range(sent, 995, 1000);
	/* A refund makes the next datagram go at once; max caps a batch. */
	pacer_refund(&p, 1000);
	assert_int_equal(pacer_wait_ns(&p, 1000), 0);
	pacer_refund(&p, 5000);
	assert_int_equal(pacer_take(&p, 1000, 3, t), 3);
	/* Time going backwards adds nothing. */
	assert_int_equal(pacer_take(&p, 1000, 64, t - 500000000), 3);
	assert_int_equal(pacer_take(&p, 1000, 64, t - 500000000), 0);
}

static void test_credit_and_debt(void **state)
{
	(void)state;
	struct pacer p;
	uint64_t t = 1000000000;

	/* 1 MB/s with 1000 bytes of burst: an item far larger than the bucket still goes, once. */
	pacer_init(&p, 1e6, 1000, t);
	assert_false(pacer_has_credit(&p, t));
	t += 1000;
	assert_true(pacer_has_credit(&p, t));
	pacer_spend(&p, 50000);
	/* 50 ms of debt: none before it is paid back, credit after. */
	assert_false(pacer_has_credit(&p, t + 49000000));
	assert_true(pacer_has_credit(&p, t + 50001000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_rate_and_burst),
	        cmocka_unit_test(test_credit_and_debt),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
