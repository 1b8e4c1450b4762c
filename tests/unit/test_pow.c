#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/err.h"
#include "intake/pow.h"

#include <stdio.h>
#include <string.h>

#define T0 1700000000

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/*
 * Known answers made outside this code base (Python hmac/hashlib/base64) with
 * key 00 01 .. 1f and expiry 2000000000:
 *   KAT0: bits 0, id a0..af;  KAT12: bits 12, id b0..bf, first nonces with at
 *   least 12 and 16 zero bits 2126 and 20952; KATV2: version byte 2, correctly
 *   MACed.
 */
#define KAT0  "AQAAAAAAdzWUAKChoqOkpaanqKmqq6ytrq9z4dnBKpr90yZHQhgwvFJp"
#define KAT12 "AQwAAAAAdzWUALCxsrO0tba3uLm6u7y9vr-K9z4TBSqT4clW2Zq2SRyZ"
#define KATV2 "AgAAAAAAdzWUAAAAAAAAAAAAAAAAAAAAAADmegcV3VfZORan8E9pcHET"

static void kat_key(uint8_t key[POW_KEY_LEN])
{
	for (int i = 0; i < POW_KEY_LEN; i++)
		key[i] = (uint8_t)i;
}

static int redeem(struct pow *p, const char *challenge, const char *nonce, time_t now)
{
	char h[256];
	int n = snprintf(h, sizeof(h), "%s:%s", challenge, nonce);

	assert_true(n > 0 && (size_t)n < sizeof(h));
	return pow_redeem(p, h, (size_t)n, now);
}

static int redeem_str(struct pow *p, const char *header, time_t now)
{
	return pow_redeem(p, header, strlen(header), now);
}

static void issue(struct pow *p, time_t now, char c[POW_CHALLENGE_LEN + 1], time_t *expires)
{
	assert_int_equal(pow_issue(p, now, c, POW_CHALLENGE_LEN + 1, expires), TIP_OK);
}

static void test_known_answers(void **state)
{
	(void)state;
	uint8_t key[POW_KEY_LEN];
	char nonce[POW_NONCE_MAX + 1];
	struct pow *p;

	kat_key(key);
	assert_non_null(p = pow_new(0, 60, 16, key));
	assert_int_equal(redeem(p, KAT0, "0", T0), TIP_OK);
	/*
	 * KAT12 asks for 12 bits; the pow's own setting (0) does not lower it.
	 * Nonce 17953 gives exactly 11 leading zero bits (00153156...), 11660
	 * exactly 12 (000cce5c...), 2126 has 13 (00073e40...), 2125 few.
	 */
	assert_int_equal(redeem(p, KAT12, "2125", T0), TIP_EVERIFY);
	assert_int_equal(redeem(p, KAT12, "17953", T0), TIP_EVERIFY);
	assert_int_equal(redeem(p, KAT12, "11660", T0), TIP_OK);
	assert_int_equal(redeem(p, KAT12, "2126", T0), TIP_EBUSY);
	assert_int_equal(redeem(p, KATV2, "0", T0), TIP_EDECODE);
	assert_int_equal(pow_spent(p), 2);
	pow_free(p);

	assert_int_equal(pow_solve(KAT12, 12, nonce, sizeof(nonce)), TIP_OK);
	assert_string_equal(nonce, "2126");
	assert_int_equal(pow_solve(KAT12, 16, nonce, sizeof(nonce)), TIP_OK);
	assert_string_equal(nonce, "20952");
	assert_int_equal(pow_solve(KAT12, 0, nonce, sizeof(nonce)), TIP_OK);
	assert_string_equal(nonce, "0");
}

static void test_issue_solve_redeem(void **state)
{
	(void)state;
	char c[POW_CHALLENGE_LEN + 1], nonce[POW_NONCE_MAX + 1];
	time_t expires = 0;
	struct pow *p;

	assert_non_null(p = pow_new(10, 120, 64, NULL));
	assert_int_equal(pow_bits(p), 10);
	issue(p, T0, c, &expires);
	assert_int_equal(expires, T0 + 120);
	assert_int_equal(strlen(c), POW_CHALLENGE_LEN);
	assert_int_equal(strspn(c, b64url), POW_CHALLENGE_LEN);
	assert_int_equal(pow_solve(c, 10, nonce, sizeof(nonce)), TIP_OK);
	assert_int_equal(pow_spent(p), 0);
	assert_int_equal(redeem(p, c, nonce, T0 + 1), TIP_OK);
	assert_int_equal(pow_spent(p), 1);

	/* Two challenges are never the same. */
	char c2[POW_CHALLENGE_LEN + 1];
	issue(p, T0, c2, &expires);
	assert_string_not_equal(c, c2);

	/* Issue refuses a short buffer and a negative time. */
	assert_int_equal(pow_issue(p, T0, c, POW_CHALLENGE_LEN, &expires), TIP_EOVERSIZE);
	assert_int_equal(pow_issue(p, -1, c, sizeof(c), &expires), TIP_EINVAL);
	pow_free(p);
}

static void test_reuse_refused(void **state)
{
	(void)state;
	char c[POW_CHALLENGE_LEN + 1], nonce[POW_NONCE_MAX + 1];
	time_t expires;
	struct pow *p;

	assert_non_null(p = pow_new(4, 60, 64, NULL));
	issue(p, T0, c, &expires);
	assert_int_equal(pow_solve(c, 4, nonce, sizeof(nonce)), TIP_OK);
	assert_int_equal(redeem(p, c, nonce, T0), TIP_OK);
	assert_int_equal(redeem(p, c, nonce, T0), TIP_EBUSY);
	assert_int_equal(redeem(p, c, nonce, expires - 1), TIP_EBUSY);
	/* Another valid nonce for the same challenge is the same challenge. */
	char c0[POW_CHALLENGE_LEN + 1], n1[8];
	struct pow *p0;
	assert_non_null(p0 = pow_new(0, 60, 64, NULL));
	issue(p0, T0, c0, &expires);
	assert_int_equal(redeem(p0, c0, "1", T0), TIP_OK);
	for (int i = 2; i < 50; i++) {
		snprintf(n1, sizeof(n1), "%d", i);
		assert_int_equal(redeem(p0, c0, n1, T0), TIP_EBUSY);
	}
	/* Leading zeros make another string but not another challenge. */
	assert_int_equal(redeem(p0, c0, "0001", T0), TIP_EBUSY);
	pow_free(p0);
	pow_free(p);
}

static void test_expired_refused(void **state)
{
	(void)state;
	char c[POW_CHALLENGE_LEN + 1], d[POW_CHALLENGE_LEN + 1];
	time_t expires;
	struct pow *p;

	assert_non_null(p = pow_new(0, 30, 64, NULL));
	issue(p, T0, c, &expires);
	issue(p, T0, d, &expires);
	assert_int_equal(expires, T0 + 30);
	assert_int_equal(redeem(p, c, "0", T0 + 29), TIP_OK);
	assert_int_equal(redeem(p, d, "0", T0 + 30), TIP_ERANGE);
	assert_int_equal(redeem(p, d, "0", T0 + 100000), TIP_ERANGE);
	/* An expired challenge that was spent reports expiry, not reuse. */
	assert_int_equal(redeem(p, c, "0", T0 + 30), TIP_ERANGE);
	pow_free(p);
}

static void test_clock_never_goes_back(void **state)
{
	(void)state;
	char c[POW_CHALLENGE_LEN + 1];
	time_t expires;
	struct pow *p;

	assert_non_null(p = pow_new(0, 30, 64, NULL));
	issue(p, T0, c, &expires);
	assert_int_equal(redeem(p, c, "1", T0 + 40), TIP_ERANGE);
	/* The clock steps back: the challenge stays expired. */
	assert_int_equal(redeem(p, c, "1", T0), TIP_ERANGE);
	/* And challenges issued now run from the latest time seen. */
	issue(p, T0, c, &expires);
	assert_int_equal(expires, T0 + 40 + 30);
	pow_free(p);
}

static void raw_to_challenge(const uint8_t raw[POW_RAW_LEN], char out[POW_CHALLENGE_LEN + 1])
{
	size_t o = 0;

	for (size_t i = 0; i < POW_RAW_LEN; i += 3) {
		uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];

		for (int s = 18; s >= 0; s -= 6)
			out[o++] = b64url[v >> s & 63];
	}
	out[o] = '\0';
}

static void challenge_to_raw(const char *c, uint8_t raw[POW_RAW_LEN])
{
	size_t o = 0;

	for (size_t i = 0; i < POW_CHALLENGE_LEN; i += 4) {
		uint32_t v = 0;

		for (size_t j = 0; j < 4; j++)
			v = v << 6 | (uint32_t)(strchr(b64url, c[i + j]) - b64url);
		raw[o++] = (uint8_t)(v >> 16);
		raw[o++] = (uint8_t)(v >> 8);
		raw[o++] = (uint8_t)v;
	}
}

static void test_tampered_challenge(void **state)
{
	(void)state;
	char c[POW_CHALLENGE_LEN + 1], t[POW_CHALLENGE_LEN + 1];
	uint8_t raw[POW_RAW_LEN], bad[POW_RAW_LEN];
	time_t expires;
	struct pow *p;

	/* bits 0, so any failure below comes from the challenge, not the work. */
	assert_non_null(p = pow_new(0, 60, 64, NULL));
	issue(p, T0, c, &expires);

	/* Every character replaced by every other character of the alphabet. */
	for (size_t i = 0; i < POW_CHALLENGE_LEN; i++)
		for (size_t k = 0; k < 64; k++) {
			if (b64url[k] == c[i])
				continue;
			memcpy(t, c, sizeof(t));
			t[i] = b64url[k];
			int rc = redeem(p, t, "0", T0);
			if (i < 2 && rc == TIP_EDECODE) /* the version lives in the first two characters */
				continue;
			assert_int_equal(rc, TIP_EVERIFY);
		}
	/* Characters outside the alphabet, including padding and standard base64's "+/". */
	static const char outside[] = "=+/.:~ !\"\x7f\x80\xff";
	for (size_t i = 0; i < POW_CHALLENGE_LEN; i++)
		for (size_t k = 0; k < sizeof(outside) - 1; k++) {
			memcpy(t, c, sizeof(t));
			t[i] = outside[k];
			int rc = redeem(p, t, "0", T0);
			/* A ':' inside the challenge makes the colon come early: still malformed. */
			assert_int_equal(rc, TIP_EDECODE);
		}

	/* Every bit of every decoded byte. */
	challenge_to_raw(c, raw);
	for (size_t i = 0; i < POW_RAW_LEN; i++)
		for (int b = 0; b < 8; b++) {
			memcpy(bad, raw, sizeof(bad));
			bad[i] ^= (uint8_t)(1 << b);
			raw_to_challenge(bad, t);
			assert_int_equal(redeem(p, t, "0", T0), i == 0 ? TIP_EDECODE : TIP_EVERIFY);
		}

	/* Lowering the recorded work is the attack the MAC over `bits` exists for. */
	struct pow *hard;
	assert_non_null(hard = pow_new(20, 60, 64, NULL));
	issue(hard, T0, c, &expires);
	challenge_to_raw(c, raw);
	assert_int_equal(raw[1], 20);
	raw[1] = 0;
	raw_to_challenge(raw, t);
	assert_int_equal(redeem(hard, t, "0", T0), TIP_EVERIFY);
	/* Extending the expiry likewise. */
	challenge_to_raw(c, raw);
	raw[9] ^= 0x40;
	raw_to_challenge(raw, t);
	assert_int_equal(redeem(hard, t, "0", T0), TIP_EVERIFY);
	pow_free(hard);

	/* The untouched challenge still works after all that: failures spend nothing. */
	assert_int_equal(pow_spent(p), 0);
	assert_int_equal(redeem(p, c, "0", T0), TIP_EVERIFY); /* c now belongs to `hard`'s key */
	issue(p, T0, c, &expires);
	assert_int_equal(redeem(p, c, "0", T0), TIP_OK);
	pow_free(p);
}

static void test_wrong_nonce(void **state)
{
	(void)state;
	char c[POW_CHALLENGE_LEN + 1], nonce[POW_NONCE_MAX + 1], wrong[POW_NONCE_MAX + 2];
	time_t expires;
	struct pow *p;
	int refused = 0;

	assert_non_null(p = pow_new(12, 60, 64, NULL));
	issue(p, T0, c, &expires);
	assert_int_equal(pow_solve(c, 12, nonce, sizeof(nonce)), TIP_OK);
	/* pow_solve returns the first nonce that works, so every smaller one must fail. */
	for (unsigned long long n = 0; n < 200; n++) {
		snprintf(wrong, sizeof(wrong), "%llu", n);
		if (strcmp(wrong, nonce) == 0)
			break;
		assert_int_equal(redeem(p, c, wrong, T0), TIP_EVERIFY);
		refused++;
	}
	/* Odds that the first 200 nonces contain a 12-bit solution: about 5%; then fewer were tried. */
	assert_true(refused > 0 || strcmp(nonce, "0") == 0);
	assert_int_equal(redeem(p, c, nonce, T0), TIP_OK);
	pow_free(p);
}

static void test_malformed_headers(void **state)
{
	(void)state;
	char c[POW_CHALLENGE_LEN + 1], h[2048];
	time_t expires;
	struct pow *p;

	assert_non_null(p = pow_new(0, 60, 64, NULL));
	issue(p, T0, c, &expires);
	/* Non-digit nonces. */
	static const char *nonces[] = {"12a", " 1", "1 ", "-1", "+1", "0x1", "1.0", "", "١", "1\n", "1\r\n"};
	for (size_t i = 0; i < sizeof(nonces) / sizeof(nonces[0]); i++)
		assert_int_equal(redeem(p, c, nonces[i], T0), TIP_EDECODE);
	/* An embedded NUL within len. */
	snprintf(h, sizeof(h), "%s:12", c);
	h[POW_CHALLENGE_LEN + 2] = '\0';
	assert_int_equal(pow_redeem(p, h, POW_CHALLENGE_LEN + 3, T0), TIP_EDECODE);
	/* Nonce lengths: 21 digits is too long. */
	assert_int_equal(redeem(p, c, "123456789012345678901", T0), TIP_EDECODE);
	/* Missing colon, another separator, empty, challenge alone, colon alone. */
	snprintf(h, sizeof(h), "%s0", c);
	assert_int_equal(redeem_str(p, h, T0), TIP_EDECODE);
	snprintf(h, sizeof(h), "%s;0", c);
	assert_int_equal(redeem_str(p, h, T0), TIP_EDECODE);
	assert_int_equal(pow_redeem(p, "", 0, T0), TIP_EDECODE);
	assert_int_equal(redeem_str(p, c, T0), TIP_EDECODE);
	snprintf(h, sizeof(h), "%s:", c);
	assert_int_equal(redeem_str(p, h, T0), TIP_EDECODE);
	assert_int_equal(redeem_str(p, ":0", T0), TIP_EDECODE);
	/* Whitespace around the value is not trimmed here. */
	snprintf(h, sizeof(h), " %s:0", c);
	assert_int_equal(redeem_str(p, h, T0), TIP_EDECODE);
	/* A challenge one character short or long. */
	snprintf(h, sizeof(h), "%.*s:0", POW_CHALLENGE_LEN - 1, c);
	assert_int_equal(redeem_str(p, h, T0), TIP_EDECODE);
	snprintf(h, sizeof(h), "%sA:0", c);
	assert_int_equal(redeem_str(p, h, T0), TIP_EDECODE);
	/* Oversized header values: one byte over the maximum, and much more. */
	snprintf(h, sizeof(h), "%s:%s", c, "123456789012345678901");
	assert_int_equal(strlen(h), POW_HEADER_MAX + 1);
	assert_int_equal(redeem_str(p, h, T0), TIP_EDECODE);
	memset(h, 'A', sizeof(h));
	memcpy(h, c, POW_CHALLENGE_LEN);
	h[POW_CHALLENGE_LEN] = ':';
	memset(h + POW_CHALLENGE_LEN + 1, '7', sizeof(h) - POW_CHALLENGE_LEN - 1);
	assert_int_equal(pow_redeem(p, h, sizeof(h), T0), TIP_EDECODE);
	/* Nothing above spent the challenge; a 20-digit nonce (the maximum) is fine. */
	assert_int_equal(pow_spent(p), 0);
	assert_int_equal(redeem(p, c, "99999999999999999999", T0), TIP_OK);
	pow_free(p);
}

static void test_other_key_refused(void **state)
{
	(void)state;
	uint8_t k1[POW_KEY_LEN], k2[POW_KEY_LEN];
	char c[POW_CHALLENGE_LEN + 1];
	struct pow *a, *b, *a2, *r;
	time_t expires;

	kat_key(k1);
	kat_key(k2);
	k2[31] ^= 1;
	assert_non_null(a = pow_new(0, 60, 64, k1));
	assert_non_null(b = pow_new(0, 60, 64, k2));
	assert_non_null(a2 = pow_new(0, 60, 64, k1));
	assert_non_null(r = pow_new(0, 60, 64, NULL));
	issue(a, T0, c, &expires);
	assert_int_equal(redeem(b, c, "0", T0), TIP_EVERIFY);
	assert_int_equal(redeem(r, c, "0", T0), TIP_EVERIFY);
	/* The same configured key (a restart, or a second node) accepts it. */
	assert_int_equal(redeem(a2, c, "0", T0), TIP_OK);
	pow_free(a);
	pow_free(b);
	pow_free(a2);
	pow_free(r);
}

static void test_bits_zero(void **state)
{
	(void)state;
	char c[POW_CHALLENGE_LEN + 1], nonce[POW_NONCE_MAX + 1];
	time_t expires;
	struct pow *p;
	uint8_t raw[POW_RAW_LEN];

	assert_non_null(p = pow_new(0, 60, 64, NULL));
	assert_int_equal(pow_bits(p), 0);
	issue(p, T0, c, &expires);
	challenge_to_raw(c, raw);
	assert_int_equal(raw[0], POW_VERSION);
	assert_int_equal(raw[1], 0);
	assert_int_equal(pow_solve(c, 0, nonce, sizeof(nonce)), TIP_OK);
	assert_string_equal(nonce, "0");
	assert_int_equal(redeem(p, c, "31337", T0), TIP_OK);
	assert_int_equal(redeem(p, c, "0", T0), TIP_EBUSY);
	c[10] = c[10] == 'A' ? 'B' : 'A';
	assert_int_equal(redeem(p, c, "0", T0), TIP_EVERIFY);
	pow_free(p);
}

static void test_full_spent_set(void **state)
{
	(void)state;
	char c[4][POW_CHALLENGE_LEN + 1], late[POW_CHALLENGE_LEN + 1];
	time_t expires;
	struct pow *p;

	assert_non_null(p = pow_new(0, 10, 3, NULL));
	for (int i = 0; i < 4; i++)
		issue(p, T0, c[i], &expires);
	for (int i = 0; i < 3; i++)
		assert_int_equal(redeem(p, c[i], "0", T0), TIP_OK);
	assert_int_equal(redeem(p, c[3], "0", T0), TIP_EFULL);
	/* Full is checked after everything else: a reuse is still a reuse. */
	assert_int_equal(redeem(p, c[0], "0", T0), TIP_EBUSY);
	issue(p, T0 + 5, late, &expires);
	assert_int_equal(redeem(p, late, "0", T0 + 9), TIP_EFULL);
	assert_int_equal(redeem(p, c[3], "0", T0 + 9), TIP_EFULL);
	/* The first three expire at T0+10; then their room comes back. */
	assert_int_equal(redeem(p, late, "0", T0 + 10), TIP_OK);
	assert_int_equal(pow_spent(p), 1);
	assert_int_equal(redeem(p, late, "0", T0 + 11), TIP_EBUSY);
	assert_int_equal(redeem(p, c[0], "0", T0 + 11), TIP_ERANGE);
	pow_free(p);
}

/*
 * Many ids with staggered expiries through a small, crowded table: every id
 * spent and not yet expired must be refused when replayed, whatever sweeps and
 * deletions happened in between. A lost entry would come back TIP_OK.
 */
static void test_spent_set_churn(void **state)
{
	(void)state;
	enum { CAP = 61, TTL = 7, SECONDS = 400, PER_SECOND = 11, HELD = TTL * PER_SECOND };
	static char held[HELD][POW_CHALLENGE_LEN + 1];
	static time_t held_exp[HELD];
	char c[POW_CHALLENGE_LEN + 1];
	size_t next = 0, ok = 0, full = 0;
	time_t expires;
	struct pow *p;

	assert_non_null(p = pow_new(0, TTL, CAP, NULL));
	memset(held_exp, 0, sizeof(held_exp));
	for (time_t t = T0; t < T0 + SECONDS; t++) {
		for (int k = 0; k < PER_SECOND; k++) {
			issue(p, t, c, &expires);
			int rc = redeem(p, c, "0", t);
			if (rc == TIP_OK) {
				memcpy(held[next], c, sizeof(c));
				held_exp[next] = expires;
				next = (next + 1) % HELD;
				ok++;
			} else {
				assert_int_equal(rc, TIP_EFULL);
				full++;
			}
		}
		for (size_t i = 0; i < HELD; i++) {
			if (!held_exp[i])
				continue;
			assert_int_equal(redeem(p, held[i], "7", t),
			                 held_exp[i] > t ? TIP_EBUSY : TIP_ERANGE);
		}
		assert_true(pow_spent(p) <= CAP);
	}
	/* Demand (77 live ids) exceeds the capacity (61), so both outcomes occurred. */
	assert_true(ok > (size_t)SECONDS * CAP / TTL / 2);
	assert_true(full > 0);
	pow_free(p);
}

static void test_bad_arguments(void **state)
{
	(void)state;
	char nonce[POW_NONCE_MAX + 1];

	assert_null(pow_new(POW_BITS_MAX + 1, 60, 16, NULL));
	assert_null(pow_new(0, 0, 16, NULL));
	assert_null(pow_new(0, POW_TTL_MAX + 1, 16, NULL));
	assert_null(pow_new(0, 60, 0, NULL));
	assert_null(pow_new(0, 60, POW_SPENT_MAX + 1, NULL));
	pow_free(NULL);

	assert_int_equal(pow_solve(KAT12, POW_BITS_MAX + 1, nonce, sizeof(nonce)), TIP_EINVAL);
	assert_int_equal(pow_solve(KAT12 "A", 1, nonce, sizeof(nonce)), TIP_EINVAL);
	assert_int_equal(pow_solve("abc:def", 1, nonce, sizeof(nonce)), TIP_EINVAL);
	assert_int_equal(pow_solve(KAT12, 12, nonce, 4), TIP_EOVERSIZE);
	assert_int_equal(pow_solve(KAT12, 12, nonce, 5), TIP_OK);
	assert_string_equal(nonce, "2126");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_known_answers),         cmocka_unit_test(test_issue_solve_redeem),
	        cmocka_unit_test(test_reuse_refused),         cmocka_unit_test(test_expired_refused),
	        cmocka_unit_test(test_clock_never_goes_back), cmocka_unit_test(test_tampered_challenge),
	        cmocka_unit_test(test_wrong_nonce),           cmocka_unit_test(test_malformed_headers),
	        cmocka_unit_test(test_other_key_refused),     cmocka_unit_test(test_bits_zero),
	        cmocka_unit_test(test_full_spent_set),        cmocka_unit_test(test_spent_set_churn),
	        cmocka_unit_test(test_bad_arguments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
