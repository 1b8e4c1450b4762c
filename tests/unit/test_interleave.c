#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "diode/interleave.h"

#include <stdint.h>
#include <string.h>

#define N_MAX 255

/* Walks a group; checks every (block, symbol) comes exactly once and in symbol-major order. */
static size_t walk(unsigned blocks, const unsigned *n, unsigned *ob, unsigned *os, size_t cap)
{
	static uint8_t seen[IL_BLOCKS_MAX][N_MAX];
	struct il_iter it;
	unsigned b, s, last_s = 0;
	size_t count = 0, want = 0;

	memset(seen, 0, sizeof(seen));
	il_start(&it, blocks, n);
	while (il_next(&it, &b, &s)) {
		assert_true(b < blocks);
		assert_true(s < n[b]);
		assert_false(seen[b][s]);
		assert_true(s >= last_s);
		seen[b][s] = 1;
		last_s = s;
		assert_true(count < cap);
		ob[count] = b;
		os[count] = s;
		count++;
	}
	assert_int_equal(il_next(&it, &b, &s), 0);
	for (unsigned i = 0; i < blocks; i++)
		want += n[i];
	assert_int_equal(count, want);
	return count;
}

static void test_order(void **state)
{
	unsigned n[3] = {4, 4, 4}, b[64], s[64];
	static const unsigned want_b[] = {0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2};
	static const unsigned want_s[] = {0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3};

	(void)state;
	assert_int_equal(walk(3, n, b, s, 64), 12);
	assert_memory_equal(b, want_b, sizeof(want_b));
	assert_memory_equal(s, want_s, sizeof(want_s));
}

/* A burst of L consecutive datagrams costs each block at most ceil(L / blocks) symbols. */
static void test_burst_bound(void **state)
{
	static unsigned b[IL_BLOCKS_MAX * N_MAX], s[IL_BLOCKS_MAX * N_MAX];
	static const unsigned depths[] = {1, 2, 3, 8, 16, 64};

	(void)state;
	for (size_t d = 0; d < sizeof(depths) / sizeof(depths[0]); d++) {
		unsigned blocks = depths[d], n[IL_BLOCKS_MAX];
		size_t total;

		for (unsigned i = 0; i < blocks; i++)
			n[i] = 230;
		total = walk(blocks, n, b, s, sizeof(b) / sizeof(b[0]));
		for (size_t len = 1; len <= 200; len += 7) {
			unsigned bound = (unsigned)((len + blocks - 1) / blocks);

			for (size_t start = 0; start + len <= total; start += 13) {
				unsigned hit[IL_BLOCKS_MAX] = {0};

				for (size_t p = start; p < start + len; p++)
					hit[b[p]]++;
				for (unsigned i = 0; i < blocks; i++)
					assert_true(hit[i] <= bound);
			}
		}
	}
}

/* A short last block (closed by a flush) drops out once its symbols are sent. */
static void test_short_last_block(void **state)
{
	unsigned n[4] = {10, 10, 10, 3}, b[64], s[64];

	(void)state;
	assert_int_equal(walk(4, n, b, s, 64), 33);
	/* Symbols 0..2 of all four blocks, then 3..9 of the first three. */
	assert_int_equal(b[11], 3);
	assert_int_equal(s[11], 2);
	assert_int_equal(b[12], 0);
	assert_int_equal(s[12], 3);
	assert_int_equal(b[32], 2);
	assert_int_equal(s[32], 9);
}

static void test_edges(void **state)
{
	unsigned n[IL_BLOCKS_MAX + 1], b[N_MAX], s[N_MAX];
	struct il_iter it;
	unsigned x, y;

	(void)state;
	n[0] = 1;
	assert_int_equal(walk(1, n, b, s, N_MAX), 1);
	n[0] = N_MAX;
	assert_int_equal(walk(1, n, b, s, N_MAX), N_MAX);
	/* More blocks than the interleaver holds are clamped, never read past its array. */
	for (unsigned i = 0; i <= IL_BLOCKS_MAX; i++)
		n[i] = 1;
	il_start(&it, IL_BLOCKS_MAX + 1, n);
	assert_int_equal(it.blocks, IL_BLOCKS_MAX);
	for (unsigned i = 0; i < IL_BLOCKS_MAX; i++)
		assert_int_equal(il_next(&it, &x, &y), 1);
	assert_int_equal(il_next(&it, &x, &y), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_order),
	        cmocka_unit_test(test_burst_bound),
	        cmocka_unit_test(test_short_last_block),
	        cmocka_unit_test(test_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
