#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "common/err.h"
#include "internal/auth.h"

#include <string.h>

/* RFC 6238 Appendix B: the seeds are the ASCII digits repeated to the hash's length. */
static void test_totp_rfc6238_vectors(void **state)
{
	(void)state;
	static const char seed[] = "1234567890123456789012345678901234567890123456789012345678901234";
	static const struct {
		long long t;
		long sha1, sha256, sha512;
	} v[] = {
	        {59, 94287082, 46119246, 90693936},         {1111111109, 7081804, 68084774, 25091201},
	        {1111111111, 14050471, 67062674, 99943326}, {1234567890, 89005924, 91819424, 93441116},
	        {2000000000, 69279037, 90698825, 38618901}, {20000000000, 65353130, 77737706, 47863826},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(auth_totp((const uint8_t *)seed, 20, AUTH_TOTP_SHA1, v[i].t, 8), v[i].sha1);
		assert_int_equal(auth_totp((const uint8_t *)seed, 32, AUTH_TOTP_SHA256, v[i].t, 8),
		                 v[i].sha256);
		assert_int_equal(auth_totp((const uint8_t *)seed, 64, AUTH_TOTP_SHA512, v[i].t, 8),
		                 v[i].sha512);
	}
	assert_int_equal(auth_totp((const uint8_t *)seed, 20, AUTH_TOTP_SHA1, 59, 5), -1);
	assert_int_equal(auth_totp((const uint8_t *)seed, 20, AUTH_TOTP_SHA1, -1, 6), -1);
}

/* Six digits, one 30-second step of drift either way and no more, digits only. */
static void test_totp_check(void **state)
{
	(void)state;
	static const uint8_t seed[] = "12345678901234567890";
	char code[8];

	/* At t = 59 the 8-digit code is 94287082, so the 6-digit one is 287082. */
	assert_int_equal(auth_totp_check(seed, 20, 59, "287082", -1, NULL), TIP_OK);
	assert_int_equal(auth_totp_check(seed, 20, 59 + 30, "287082", -1, NULL), TIP_OK);
	assert_int_equal(auth_totp_check(seed, 20, 59 - 30, "287082", -1, NULL), TIP_OK);
	assert_int_equal(auth_totp_check(seed, 20, 59 + 60, "287082", -1, NULL), TIP_EVERIFY);
	assert_int_equal(auth_totp_check(seed, 20, 59, "287083", -1, NULL), TIP_EVERIFY);
	assert_int_equal(auth_totp_check(seed, 20, 59, "28708", -1, NULL), TIP_EVERIFY);
	assert_int_equal(auth_totp_check(seed, 20, 59, "2870820", -1, NULL), TIP_EVERIFY);
	assert_int_equal(auth_totp_check(seed, 20, 59, "28708a", -1, NULL), TIP_EVERIFY);
	code[0] = 0;
	assert_int_equal(auth_totp_check(seed, 20, 59, code, -1, NULL), TIP_EVERIFY);

	/* A code is good once: not again at its own step, nor at a later time that still accepts it. */
	int64_t step = -1;
	assert_int_equal(auth_totp_check(seed, 20, 59, "287082", 0, &step), TIP_OK);
	assert_int_equal(step, 1);
	assert_int_equal(auth_totp_check(seed, 20, 59, "287082", 1, NULL), TIP_EVERIFY);
	assert_int_equal(auth_totp_check(seed, 20, 59 + 30, "287082", 1, NULL), TIP_EVERIFY);
}

static void test_passwords(void **state)
{
	(void)state;
	const struct auth_cost cheap = {1, 1024, 1};
	char hash[AUTH_HASH_MAX], long_password[AUTH_PASSWORD_MAX + 2];

	assert_int_equal(auth_hash_password("correct horse", 13, &cheap, hash), TIP_OK);
	assert_non_null(strstr(hash, "$argon2id$v=19$m=1024,t=1,p=1$"));
	assert_int_equal(auth_verify_password(hash, "correct horse", 13), TIP_OK);
	assert_int_equal(auth_verify_password(hash, "correct horse!", 14), TIP_EVERIFY);
	assert_int_equal(auth_verify_password(hash, "correct hors", 12), TIP_EVERIFY);
	assert_int_equal(auth_verify_password(NULL, "correct horse", 13), TIP_EVERIFY);
	assert_int_equal(auth_verify_password("$argon2i$v=19$m=1024,t=1,p=1$AAAA$AAAA", "x", 1), TIP_EVERIFY);
	assert_int_equal(auth_verify_password("not a hash", "x", 1), TIP_EVERIFY);
	/* Two hashes of one password differ (fresh salt). */
	char again[AUTH_HASH_MAX];
	assert_int_equal(auth_hash_password("correct horse", 13, &cheap, again), TIP_OK);
	assert_string_not_equal(hash, again);
	memset(long_password, 'a', sizeof(long_password));
	assert_int_equal(auth_hash_password(long_password, sizeof(long_password), &cheap, hash), TIP_EINVAL);
	assert_int_equal(auth_hash_password("", 0, &cheap, hash), TIP_EINVAL);
}

static void test_tokens(void **state)
{
	(void)state;
	char a[AUTH_TOKEN_TEXT], b[AUTH_TOKEN_TEXT];
	uint8_t da[AUTH_DIGEST_LEN], db[AUTH_DIGEST_LEN], again[AUTH_DIGEST_LEN];

	assert_int_equal(auth_new_token(a, da), TIP_OK);
	assert_int_equal(auth_new_token(b, db), TIP_OK);
	assert_int_equal(strlen(a), 43);
	assert_string_not_equal(a, b);
	assert_int_equal(auth_token_digest(a, again), TIP_OK);
	assert_memory_equal(da, again, AUTH_DIGEST_LEN);
	assert_int_equal(auth_token_digest("short", again), TIP_EINVAL);
	a[5] = '=';
	assert_int_equal(auth_token_digest(a, again), TIP_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_totp_rfc6238_vectors),
	        cmocka_unit_test(test_totp_check),
	        cmocka_unit_test(test_passwords),
	        cmocka_unit_test(test_tokens),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
