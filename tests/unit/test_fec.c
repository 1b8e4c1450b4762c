#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/err.h"
#include "diode/fec.h"

#include <stdlib.h>
#include <string.h>

/* ---- an independent GF(2^8) for the known-answer check: polynomial x^8+x^4+x^3+x^2+1 (0x11d) ---- */

static uint8_t ref_mul(uint8_t a, uint8_t b)
{
	uint8_t p = 0;

	while (b) {
		if (b & 1)
			p ^= a;
		b >>= 1;
		a = (uint8_t)((a << 1) ^ ((a & 0x80) ? 0x1d : 0));
	}
	return p;
}

static uint8_t ref_inv(uint8_t a)
{
	for (unsigned x = 1; x < 256; x++)
		if (ref_mul(a, (uint8_t)x) == 1)
			return (uint8_t)x;
	return 0;
}

/* Repair row k + j of the systematic Cauchy code, byte by byte: sum over data symbols i of
 * d_i * 1/((k + j) xor i). */
static void ref_encode(unsigned k, unsigned m, size_t s, const uint8_t *data, uint8_t *repair)
{
	for (unsigned j = 0; j < m; j++)
		for (size_t b = 0; b < s; b++) {
			uint8_t acc = 0;

			for (unsigned i = 0; i < k; i++)
				acc ^= ref_mul(data[i * s + b], ref_inv((uint8_t)((k + j) ^ i)));
			repair[j * s + b] = acc;
		}
}

/* ---- helpers ---- */

static uint64_t rng_state = 0x1234567887654321u;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void random_bytes(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

struct coded {
	unsigned k, m;
	size_t s;
	uint8_t *data, *repair, *orig;
};

static void coded_make(struct coded *c, unsigned k, unsigned m, size_t s)
{
	int err;
	struct fec *f = fec_new(k, m, s, &err);

	assert_non_null(f);
	assert_int_equal(err, TIP_OK);
	c->k = k;
	c->m = m;
	c->s = s;
	c->data = malloc(k * s);
	c->orig = malloc(k * s);
	c->repair = malloc(m ? m * s : 1);
	random_bytes(c->data, k * s);
	memcpy(c->orig, c->data, k * s);
	fec_encode(f, c->data, c->repair);
	/* Systematic: encoding leaves the data alone. */
	assert_memory_equal(c->data, c->orig, k * s);
	fec_free(f);
}

static void coded_free(struct coded *c)
{
	free(c->data);
	free(c->repair);
	free(c->orig);
}

static const uint8_t *symbol_of(const struct coded *c, unsigned i)
{
	return i < c->k ? c->data + i * c->s : c->repair + (i - c->k) * c->s;
}

static void shuffle(unsigned *v, unsigned n)
{
	for (unsigned i = n; i > 1; i--) {
		unsigned j = (unsigned)(rnd() % i), t = v[i - 1];

		v[i - 1] = v[j];
		v[j] = t;
	}
}

/* Feeds every symbol not in `erased` (a bitmap over 0..k+m-1), in random order; checks the
 * block decodes to the data iff at most m were erased. */
static void decode_with(struct fec_pool *pool, const struct coded *c, const uint8_t *erased)
{
	unsigned n = c->k + c->m, order[FEC_N_MAX], cnt = 0, lost = 0, data_lost = 0, rebuilt = 99;
	int err;
	struct fec_block *b = fec_block_new(pool, c->k, c->m, &err);
	const uint8_t *out = NULL;

	assert_non_null(b);
	for (unsigned i = 0; i < n; i++) {
		if (erased[i]) {
			lost++;
			data_lost += i < c->k;
		} else {
			order[cnt++] = i;
		}
	}
	shuffle(order, cnt);
	for (unsigned i = 0; i < cnt; i++) {
		int rc = fec_block_add(b, c->k, c->m, order[i], symbol_of(c, order[i]));

		/* Stored until k are held, ignored after. */
		assert_int_equal(rc, i < c->k ? 1 : 0);
		assert_int_equal(fec_block_ready(b), i + 1 >= c->k);
	}
	if (lost > c->m) {
		assert_false(fec_block_ready(b));
		assert_int_equal(fec_block_decode(b, &out, &rebuilt), TIP_ETRUNCATED);
		assert_null(out);
	} else {
		/* Which data symbols had to be rebuilt depends on arrival order past the first k. */
		unsigned present_data = 0;

		for (unsigned i = 0; i < c->k && i < cnt; i++)
			present_data += order[i] < c->k;
		assert_int_equal(fec_block_decode(b, &out, &rebuilt), TIP_OK);
		assert_int_equal(rebuilt, c->k - present_data);
		assert_true(rebuilt >= data_lost);
		assert_memory_equal(out, c->orig, c->k * c->s);
		/* Decoding again gives the same answer without work. */
		assert_int_equal(fec_block_decode(b, &out, &rebuilt), TIP_OK);
		assert_memory_equal(out, c->orig, c->k * c->s);
	}
	fec_block_free(b);
}

static struct fec_pool *pool_for(size_t s)
{
	int err;
	struct fec_pool *p = fec_pool_new(s, 8 * FEC_N_MAX * (s + 64), &err);

	assert_non_null(p);
	return p;
}

/* ---- tests ---- */

static void test_known_answer(void **state)
{
	static const struct {
		unsigned k, m;
		size_t s;
	} g[] = {{4, 2, 64}, {4, 2, 1}, {3, 5, 33}, {8, 3, 100}, {1, 4, 17}, {20, 7, 250}};
	int err;

	(void)state;
	for (size_t t = 0; t < sizeof(g) / sizeof(g[0]); t++) {
		unsigned k = g[t].k, m = g[t].m;
		size_t s = g[t].s;
		struct fec *f = fec_new(k, m, s, &err);
		uint8_t *data = malloc(k * s), *got = malloc(m * s), *want = malloc(m * s);

		assert_non_null(f);
		random_bytes(data, k * s);
		fec_encode(f, data, got);
		ref_encode(k, m, s, data, want);
		assert_memory_equal(got, want, m * s);
		fec_free(f);
		free(data);
		free(got);
		free(want);
	}
}

/* A fixed vector for (4, 2): the bytes docs/formats/diode.md shows. */
static void test_fixed_vector(void **state)
{
	static const uint8_t data[4] = {0x01, 0x02, 0x03, 0x04};
	uint8_t repair[2], want[2];
	int err;
	struct fec *f = fec_new(4, 2, 1, &err);

	(void)state;
	fec_encode(f, data, repair);
	ref_encode(4, 2, 1, data, want);
	assert_memory_equal(repair, want, 2);
	/* Row 4: 1/4, 1/5, 1/6, 1/7; row 5: 1/5, 1/4, 1/7, 1/6 in GF(2^8) mod 0x11d. */
	assert_int_equal(ref_inv(4), 0x47);
	assert_int_equal(repair[0],
	                 0x47 ^ ref_mul(2, ref_inv(5)) ^ ref_mul(3, ref_inv(6)) ^ ref_mul(4, ref_inv(7)));
	assert_int_equal(repair[0], 0x48);
	assert_int_equal(repair[1], 0x0f);
	fec_free(f);
}

/* Repair row j does not depend on m: a code built for many rows encodes any smaller m. */
static void test_encode_rows(void **state)
{
	static const unsigned ks[] = {1, 3, 32, 200};
	int err;

	(void)state;
	for (size_t t = 0; t < sizeof(ks) / sizeof(ks[0]); t++) {
		unsigned k = ks[t], big_m = 255 - k;
		size_t s = 100;
		struct fec *big = fec_new(k, big_m, s, &err);
		uint8_t *data = malloc(k * s), *a = malloc(big_m * s), *b = malloc(big_m * s);

		assert_non_null(big);
		random_bytes(data, k * s);
		for (unsigned m = 1; m <= big_m; m += 1 + m / 2) {
			struct fec *small = fec_new(k, m, s, &err);

			memset(a, 0xee, big_m * s);
			fec_encode(small, data, b);
			fec_encode_rows(big, data, a, m);
			assert_memory_equal(a, b, m * s);
			/* Nothing past the rows asked for is written. */
			if (m < big_m)
				assert_int_equal(a[m * s], 0xee);
			fec_free(small);
		}
		/* More rows than the code has are clamped. */
		fec_encode_rows(big, data, a, 1000);
		fec_free(big);
		free(data);
		free(a);
		free(b);
	}
}

static void test_new_refuses(void **state)
{
	int err = 0;

	(void)state;
	assert_null(fec_new(0, 2, 100, &err));
	assert_int_equal(err, TIP_EINVAL);
	assert_null(fec_new(200, 56, 100, &err));
	assert_int_equal(err, TIP_EINVAL);
	assert_null(fec_new(4, 2, 0, &err));
	assert_int_equal(err, TIP_EINVAL);
	assert_null(fec_new(4, 2, FEC_SYMBOL_MAX + 1, &err));
	assert_int_equal(err, TIP_EINVAL);
	assert_null(fec_pool_new(0, 1 << 20, &err));
	assert_int_equal(err, TIP_EINVAL);
	assert_null(fec_pool_new(100, 255 * 100, &err));
	assert_int_equal(err, TIP_EINVAL);
	fec_free(NULL);
	fec_pool_free(NULL);
	fec_block_free(NULL);
}

/* Every set of erasures of size <= m + 1 for small codes. */
static void all_patterns(unsigned k, unsigned m, size_t s)
{
	struct coded c;
	struct fec_pool *pool = pool_for(s);
	unsigned n = k + m;
	unsigned long tried = 0;

	coded_make(&c, k, m, s);
	for (unsigned long mask = 0; mask < (1ul << n); mask++) {
		uint8_t erased[FEC_N_MAX] = {0};
		unsigned bits = (unsigned)__builtin_popcountl(mask);

		if (bits > m + 1)
			continue;
		for (unsigned i = 0; i < n; i++)
			erased[i] = (uint8_t)((mask >> i) & 1);
		decode_with(pool, &c, erased);
		tried++;
	}
	assert_true(tried > 0);
	assert_int_equal(fec_pool_blocks(pool), 0);
	coded_free(&c);
	fec_pool_free(pool);
}

static void test_all_patterns_small(void **state)
{
	(void)state;
	all_patterns(4, 2, 64);
	all_patterns(8, 3, 100);
	all_patterns(3, 0, 16);
	all_patterns(1, 5, 40);
	all_patterns(6, 6, 7);
}

/* Random erasure sets of exactly r symbols. */
static void random_patterns(unsigned k, unsigned m, size_t s, int rounds)
{
	struct coded c;
	struct fec_pool *pool = pool_for(s);
	unsigned n = k + m;

	coded_make(&c, k, m, s);
	for (int t = 0; t < rounds; t++) {
		uint8_t erased[FEC_N_MAX] = {0};
		unsigned idx[FEC_N_MAX], r;

		/* Mostly exactly m, sometimes fewer, sometimes m + 1. */
		switch (t % 4) {
		case 0: r = m + 1 <= n ? m + 1 : m; break;
		case 1: r = (unsigned)(rnd() % (m + 1)); break;
		default: r = m; break;
		}
		for (unsigned i = 0; i < n; i++)
			idx[i] = i;
		shuffle(idx, n);
		/* Every other round loses data symbols first: the hardest case, all repair needed. */
		if (t % 2 == 1)
			for (unsigned i = 0; i < n; i++)
				idx[i] = i;
		for (unsigned i = 0; i < r; i++)
			erased[idx[i]] = 1;
		decode_with(pool, &c, erased);
	}
	coded_free(&c);
	fec_pool_free(pool);
}

static void test_random_patterns_large(void **state)
{
	(void)state;
	random_patterns(32, 4, 1400, 40);
	random_patterns(64, 8, 1400, 40);
	random_patterns(200, 50, 1400, 12);
	random_patterns(200, 30, 1400, 12);
	random_patterns(128, 127, 300, 8); /* the largest rebuild: 127 data symbols from 127 repair rows */
	random_patterns(1, 254, 64, 8);
	random_patterns(254, 1, 64, 8);
	random_patterns(50, 5, 31, 20); /* symbols shorter than ISA-L's vector width */
}

static void test_duplicates_and_errors(void **state)
{
	struct coded c;
	struct fec_pool *pool = pool_for(50);
	int err;
	struct fec_block *b;
	const uint8_t *out;
	unsigned rebuilt;

	(void)state;
	coded_make(&c, 4, 2, 50);
	b = fec_block_new(pool, 4, 2, &err);
	assert_non_null(b);
	assert_int_equal(fec_block_add(b, 4, 2, 5, symbol_of(&c, 5)), 1);
	assert_int_equal(fec_block_add(b, 4, 2, 5, symbol_of(&c, 5)), 0);
	assert_int_equal(fec_block_add(b, 4, 2, 6, symbol_of(&c, 0)), TIP_ERANGE);
	assert_int_equal(fec_block_add(b, 4, 2, 1000, symbol_of(&c, 0)), TIP_ERANGE);
	assert_int_equal(fec_block_add(b, 4, 3, 0, symbol_of(&c, 0)), TIP_EINVAL);
	assert_int_equal(fec_block_add(b, 5, 2, 0, symbol_of(&c, 0)), TIP_EINVAL);
	assert_int_equal(fec_block_count(b), 1);
	assert_int_equal(fec_block_decode(b, &out, &rebuilt), TIP_ETRUNCATED);
	assert_int_equal(fec_block_add(b, 4, 2, 0, symbol_of(&c, 0)), 1);
	assert_int_equal(fec_block_add(b, 4, 2, 4, symbol_of(&c, 4)), 1);
	assert_false(fec_block_ready(b));
	assert_int_equal(fec_block_add(b, 4, 2, 2, symbol_of(&c, 2)), 1);
	assert_true(fec_block_ready(b));
	assert_int_equal(fec_block_add(b, 4, 2, 1, symbol_of(&c, 1)), 0);
	assert_int_equal(fec_block_decode(b, &out, NULL), TIP_OK);
	assert_memory_equal(out, c.orig, 4 * 50);
	fec_block_free(b);
	assert_null(fec_block_new(pool, 0, 1, &err));
	assert_int_equal(err, TIP_EINVAL);
	assert_null(fec_block_new(pool, 250, 10, &err));
	assert_int_equal(err, TIP_EINVAL);
	coded_free(&c);
	fec_pool_free(pool);
}

static void test_pool_cap(void **state)
{
	size_t s = 1000, cap = 4 * FEC_N_MAX * s;
	int err;
	struct fec_pool *p = fec_pool_new(s, cap, &err);
	struct fec_block *b[64];
	size_t n = 0, bytes;

	(void)state;
	assert_non_null(p);
	/* Blocks of 72 symbols: about 14 fit in the cap. */
	while ((b[n] = fec_block_new(p, 64, 8, &err)) != NULL) {
		assert_true(fec_pool_bytes(p) <= cap);
		n++;
		assert_true(n < 64);
	}
	assert_int_equal(err, TIP_EFULL);
	assert_int_equal(n, cap / (72 * s));
	assert_int_equal(fec_pool_blocks(p), n);
	/* A freed block's memory is reused without growing the pool. */
	bytes = fec_pool_bytes(p);
	fec_block_free(b[3]);
	b[3] = fec_block_new(p, 64, 8, &err);
	assert_non_null(b[3]);
	assert_int_equal(fec_pool_bytes(p), bytes);
	/* A bigger geometry gets memory once smaller free blocks are given back. */
	fec_block_free(b[0]);
	fec_block_free(b[1]);
	fec_block_free(b[2]);
	fec_block_free(b[3]);
	b[0] = fec_block_new(p, 200, 55, &err);
	assert_non_null(b[0]);
	assert_true(fec_pool_bytes(p) <= cap);
	/* The pool frees blocks still taken. */
	fec_pool_free(p);
}

/* A block decoded from one geometry, then its memory reused for another: no stale symbols. */
static void test_reuse_is_clean(void **state)
{
	struct coded a, c;
	struct fec_pool *pool = pool_for(100);
	uint8_t erased[FEC_N_MAX] = {0};

	(void)state;
	coded_make(&a, 10, 4, 100);
	coded_make(&c, 8, 3, 100);
	decode_with(pool, &a, erased);
	erased[0] = erased[1] = erased[2] = 1;
	decode_with(pool, &c, erased);
	decode_with(pool, &a, erased);
	coded_free(&a);
	coded_free(&c);
	fec_pool_free(pool);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_known_answer),          cmocka_unit_test(test_fixed_vector),
	        cmocka_unit_test(test_encode_rows),           cmocka_unit_test(test_new_refuses),
	        cmocka_unit_test(test_all_patterns_small),    cmocka_unit_test(test_random_patterns_large),
	        cmocka_unit_test(test_duplicates_and_errors), cmocka_unit_test(test_pool_cap),
	        cmocka_unit_test(test_reuse_is_clean),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
