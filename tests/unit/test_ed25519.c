#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "proto/ed25519.h"
#include "common/err.h"
#include "testutil.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* One case of the RFC 8032 section 7.1 file: "name seed pub msg sig" in hex, "-" for an empty message. */
struct vec {
	char name[32];
	uint8_t seed[ED25519_SEED_LEN];
	uint8_t pub[ED25519_PUB_LEN];
	uint8_t *msg;
	size_t msg_len;
	uint8_t sig[ED25519_SIG_LEN];
};

#define MAX_VECS 16

static size_t load_vectors(struct vec *v, size_t cap)
{
	char *path = tu_vector_path("ed25519/rfc8032-section-7.1.txt");
	char *text = tu_read_file(path, NULL);
	size_t n = 0;
	char *save = NULL;

	assert_non_null(text);
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[5], *s2 = NULL;
		int nf = 0;
		uint8_t *b;
		size_t len;

		if (line[0] == '#' || line[0] == '\0')
			continue;
		for (char *t = strtok_r(line, " \t", &s2); t && nf < 5; t = strtok_r(NULL, " \t", &s2))
			f[nf++] = t;
		assert_int_equal(nf, 5);
		assert_null(strtok_r(NULL, " \t", &s2));
		assert_true(n < cap);
		assert_true(strlen(f[0]) < sizeof(v[n].name));
		memcpy(v[n].name, f[0], strlen(f[0]) + 1);
		b = tu_hex(f[1], &len);
		assert_int_equal(len, ED25519_SEED_LEN);
		memcpy(v[n].seed, b, len);
		free(b);
		b = tu_hex(f[2], &len);
		assert_int_equal(len, ED25519_PUB_LEN);
		memcpy(v[n].pub, b, len);
		free(b);
		if (strcmp(f[3], "-") == 0) {
			v[n].msg = NULL;
			v[n].msg_len = 0;
		} else {
			v[n].msg = tu_hex(f[3], &v[n].msg_len);
		}
		b = tu_hex(f[4], &len);
		assert_int_equal(len, ED25519_SIG_LEN);
		memcpy(v[n].sig, b, len);
		free(b);
		n++;
	}
	free(text);
	free(path);
	return n;
}

static void free_vectors(struct vec *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].msg);
}

static void test_rfc8032_vectors(void **state)
{
	(void)state;
	struct vec v[MAX_VECS];
	size_t n = load_vectors(v, MAX_VECS);

	assert_true(n >= 3); /* the RFC's TEST 1..3 at least */
	for (size_t i = 0; i < n; i++) {
		struct ed25519_key *k = ed25519_key_new(v[i].seed);
		struct ed25519_pub *p = ed25519_pub_new(v[i].pub);
		uint8_t pub[ED25519_PUB_LEN], sig[ED25519_SIG_LEN];

		assert_non_null(k);
		assert_non_null(p);
		ed25519_key_public(k, pub);
		assert_memory_equal(pub, v[i].pub, ED25519_PUB_LEN);
		assert_int_equal(ed25519_sign(k, v[i].msg, v[i].msg_len, sig), TIP_OK);
		assert_memory_equal(sig, v[i].sig, ED25519_SIG_LEN);
		assert_int_equal(ed25519_verify(p, v[i].msg, v[i].msg_len, v[i].sig), TIP_OK);
		ed25519_key_free(k);
		ed25519_pub_free(p);
	}
	free_vectors(v, n);
}

/* Every single-bit change of message, R, S or public key must make verification fail. */
static void test_flipped_bits(void **state)
{
	(void)state;
	struct vec v[MAX_VECS];
	size_t n = load_vectors(v, MAX_VECS);

	for (size_t i = 0; i < n; i++) {
		struct ed25519_pub *p = ed25519_pub_new(v[i].pub);
		uint8_t sig[ED25519_SIG_LEN], pub[ED25519_PUB_LEN];
		uint8_t *msg = malloc(v[i].msg_len + 1);
		int rejected_at_load = 0;

		assert_non_null(p);
		assert_non_null(msg);
		if (v[i].msg_len)
			memcpy(msg, v[i].msg, v[i].msg_len);
		for (size_t bit = 0; bit < v[i].msg_len * 8; bit++) {
			msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			assert_int_equal(ed25519_verify(p, msg, v[i].msg_len, v[i].sig), TIP_EVERIFY);
			msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		/* A message one byte longer (covers the empty-message case too). */
		msg[v[i].msg_len] = 0;
		assert_int_equal(ed25519_verify(p, msg, v[i].msg_len + 1, v[i].sig), TIP_EVERIFY);
		/* R is sig[0..32), S is sig[32..64). */
		for (size_t bit = 0; bit < ED25519_SIG_LEN * 8; bit++) {
			memcpy(sig, v[i].sig, sizeof(sig));
			sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			assert_int_equal(ed25519_verify(p, v[i].msg, v[i].msg_len, sig), TIP_EVERIFY);
		}
		for (size_t bit = 0; bit < ED25519_PUB_LEN * 8; bit++) {
			struct ed25519_pub *q;

			memcpy(pub, v[i].pub, sizeof(pub));
			pub[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			q = ed25519_pub_new(pub);
			if (!q) {
				rejected_at_load++; /* not a curve point: refused when loaded */
				continue;
			}
			assert_int_equal(ed25519_verify(q, v[i].msg, v[i].msg_len, v[i].sig), TIP_EVERIFY);
			ed25519_pub_free(q);
		}
		/* About half of all 255-bit y values are not on the curve; some flips must hit one. */
		assert_true(rejected_at_load > 0);
		assert_true(rejected_at_load < ED25519_PUB_LEN * 8);
		assert_int_equal(ed25519_verify(p, v[i].msg, v[i].msg_len, v[i].sig), TIP_OK);
		free(msg);
		ed25519_pub_free(p);
	}
	free_vectors(v, n);
}

/* L = 2^252 + 27742317777372353535851937790883648493, little-endian. */
static const uint8_t order_l[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7,
                                    0xa2, 0xde, 0xf9, 0xde, 0x14, 0,    0,    0,    0,    0,    0,
                                    0,    0,    0,    0,    0,    0,    0,    0,    0,    0x10};

/*
 * RFC 8032 requires S < L. OpenSSL 3.0 checks it, so S + L (same value mod L, so an
 * otherwise valid equation) is refused: signatures are not malleable this way.
 */
static void test_noncanonical_s(void **state)
{
	(void)state;
	struct vec v[MAX_VECS];
	size_t n = load_vectors(v, MAX_VECS);

	for (size_t i = 0; i < n; i++) {
		struct ed25519_pub *p = ed25519_pub_new(v[i].pub);
		uint8_t sig[ED25519_SIG_LEN];
		unsigned carry = 0;

		assert_non_null(p);
		memcpy(sig, v[i].sig, sizeof(sig));
		for (int j = 0; j < 32; j++) {
			unsigned t = sig[32 + j] + order_l[j] + carry;

			sig[32 + j] = (uint8_t)t;
			carry = t >> 8;
		}
		assert_int_equal(carry, 0); /* S + L still fits 256 bits */
		assert_int_equal(ed25519_verify(p, v[i].msg, v[i].msg_len, sig), TIP_EVERIFY);
		/* and S = L - S' style garbage: all-ones S */
		memset(sig + 32, 0xff, 32);
		assert_int_equal(ed25519_verify(p, v[i].msg, v[i].msg_len, sig), TIP_EVERIFY);
		ed25519_pub_free(p);
	}
	free_vectors(v, n);
}

static void test_public_key_decoding(void **state)
{
	(void)state;
	uint8_t pub[ED25519_PUB_LEN];
	struct ed25519_pub *p;

	/* y = 1, sign 0: the neutral element, a valid encoding. */
	memset(pub, 0, sizeof(pub));
	pub[0] = 1;
	p = ed25519_pub_new(pub);
	assert_non_null(p);
	ed25519_pub_free(p);
	/* y = 1 with the sign bit set: x = 0 has no negative form. */
	pub[31] = 0x80;
	assert_null(ed25519_pub_new(pub));
	/* y = p = 2^255 - 19 and y = p + 1: non-canonical encodings of 0 and 1. */
	memset(pub, 0xff, sizeof(pub));
	pub[0] = 0xed;
	pub[31] = 0x7f;
	assert_null(ed25519_pub_new(pub));
	pub[0] = 0xee;
	assert_null(ed25519_pub_new(pub));
	/* y = 2: (y^2 - 1)/(d y^2 + 1) is not a square mod p. */
	memset(pub, 0, sizeof(pub));
	pub[0] = 2;
	assert_null(ed25519_pub_new(pub));
	/* y = 0 decodes (x^2 = -1 is a square mod p). */
	pub[0] = 0;
	p = ed25519_pub_new(pub);
	assert_non_null(p);
	ed25519_pub_free(p);
}

static void test_generate_sign_verify(void **state)
{
	(void)state;
	uint8_t seed1[ED25519_SEED_LEN], seed2[ED25519_SEED_LEN], pub[ED25519_PUB_LEN], sig[ED25519_SIG_LEN];
	const uint8_t msg[] = "record body bytes";
	struct ed25519_key *k;
	struct ed25519_pub *p;

	assert_int_equal(ed25519_generate(seed1), TIP_OK);
	assert_int_equal(ed25519_generate(seed2), TIP_OK);
	assert_memory_not_equal(seed1, seed2, sizeof(seed1));
	k = ed25519_key_new(seed1);
	assert_non_null(k);
	ed25519_key_public(k, pub);
	p = ed25519_pub_new(pub);
	assert_non_null(p);
	assert_int_equal(ed25519_sign(k, msg, sizeof(msg), sig), TIP_OK);
	assert_int_equal(ed25519_verify(p, msg, sizeof(msg), sig), TIP_OK);
	/* Empty message, NULL pointer. */
	assert_int_equal(ed25519_sign(k, NULL, 0, sig), TIP_OK);
	assert_int_equal(ed25519_verify(p, NULL, 0, sig), TIP_OK);
	assert_int_equal(ed25519_verify(p, msg, 1, sig), TIP_EVERIFY);
	ed25519_key_free(k);
	ed25519_pub_free(p);
	ed25519_key_free(NULL);
	ed25519_pub_free(NULL);
}

struct thread_arg {
	const struct ed25519_pub *p;
	const struct ed25519_key *k;
	int failures;
};

#define THREAD_ROUNDS 200

static void *verify_many(void *argp)
{
	struct thread_arg *a = argp;

	for (int i = 0; i < THREAD_ROUNDS; i++) {
		uint8_t msg[8] = {(uint8_t)i, (uint8_t)(i >> 8), 1, 2, 3, 4, 5, 6};
		uint8_t sig[ED25519_SIG_LEN];

		if (ed25519_sign(a->k, msg, sizeof(msg), sig) != TIP_OK ||
		    ed25519_verify(a->p, msg, sizeof(msg), sig) != TIP_OK)
			a->failures++;
		sig[5] ^= 1;
		if (ed25519_verify(a->p, msg, sizeof(msg), sig) != TIP_EVERIFY)
			a->failures++;
	}
	return NULL;
}

/* Shared key objects used from several threads at once. */
static void test_threads(void **state)
{
	(void)state;
	uint8_t seed[ED25519_SEED_LEN], pub[ED25519_PUB_LEN];
	pthread_t t[4];
	struct thread_arg a[4];
	struct ed25519_key *k;
	struct ed25519_pub *p;

	assert_int_equal(ed25519_generate(seed), TIP_OK);
	k = ed25519_key_new(seed);
	assert_non_null(k);
	ed25519_key_public(k, pub);
	p = ed25519_pub_new(pub);
	assert_non_null(p);
	for (int i = 0; i < 4; i++) {
		a[i] = (struct thread_arg){.p = p, .k = k, .failures = 0};
		assert_int_equal(pthread_create(&t[i], NULL, verify_many, &a[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(a[i].failures, 0);
	}
	ed25519_key_free(k);
	ed25519_pub_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_rfc8032_vectors),      cmocka_unit_test(test_flipped_bits),
	        cmocka_unit_test(test_noncanonical_s),       cmocka_unit_test(test_public_key_decoding),
	        cmocka_unit_test(test_generate_sign_verify), cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
