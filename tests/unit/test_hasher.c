/*
 * The hasher: hashes and checks run on its threads and their callbacks on the loop's thread, in order of
 * completion, with the hash written before its callback; a full queue refuses at once; freeing with jobs due
 * calls nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "common/err.h"
#include "internal/hasher.h"

#include <event2/thread.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

static const struct auth_cost cheap = {1, 1024, 1};

struct done {
	struct event_base *base;
	pthread_t loop;
	int calls, rc[4];
	int on_loop;
};

static void on_result(int rc, void *arg)
{
	struct done *d = arg;

	d->on_loop += pthread_equal(pthread_self(), d->loop) != 0;
	d->rc[d->calls++] = rc;
}

/* Runs the loop until n callbacks came (the hasher's event is active only when a job is done: nothing else
 * keeps this loop waiting). */
static void run_until(struct done *d, int n)
{
	for (int i = 0; i < 60000 && d->calls < n; i++) {
		event_base_loop(d->base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
}

static void test_hash_then_check(void **state)
{
	(void)state;
	struct done d = {0};
	char hash[AUTH_HASH_MAX] = "";

	assert_int_equal(evthread_use_pthreads(), 0);
	d.base = event_base_new();
	d.loop = pthread_self();
	struct hasher *h = hasher_new(d.base, 2, 3);
	assert_non_null(h);
	assert_int_equal(hasher_hash(h, "secret words", 12, &cheap, hash, on_result, &d), TIP_OK);
	assert_int_equal(hasher_verify(h, NULL, "x", 1, on_result, &d), TIP_OK);
	assert_int_equal(hasher_verify(h, "$argon2id$not-a-hash", "x", 1, on_result, &d), TIP_OK);
	assert_int_equal(hasher_busy(h), 3);
	assert_int_equal(hasher_verify(h, NULL, "x", 1, on_result, &d), TIP_EFULL);
	run_until(&d, 3);
	assert_int_equal(d.calls, 3);
	assert_int_equal(d.on_loop, 3);
	assert_int_equal(hasher_busy(h), 0);
	assert_true(strncmp(hash, "$argon2id$", 10) == 0);
	assert_int_equal(auth_verify_password(hash, "secret words", 12), TIP_OK);
	for (int i = 0; i < 3; i++)
		assert_true(d.rc[i] == TIP_OK || d.rc[i] == TIP_EVERIFY);

	/* The hash just made, checked on a thread; then one left due when the hasher is freed. */
	d.calls = 0;
	assert_int_equal(hasher_verify(h, hash, "secret words", 12, on_result, &d), TIP_OK);
	assert_int_equal(hasher_verify(h, hash, "wrong words", 11, on_result, &d), TIP_OK);
	assert_int_equal(hasher_verify(h, hash, "secret words", 12, on_result, &d), TIP_OK);
	run_until(&d, 3);
	assert_int_equal(d.calls, 3);
	assert_int_equal(d.rc[0] + d.rc[1] + d.rc[2], TIP_EVERIFY); /* two TIP_OK (0) and one TIP_EVERIFY */
	assert_int_equal(hasher_hash(h, "x", 1, &cheap, hash, on_result, &d), TIP_OK);
	hasher_free(h);
	assert_int_equal(d.calls, 3);
	event_base_free(d.base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_hash_then_check),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
