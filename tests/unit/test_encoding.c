#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/encoding.h"
#include "common/err.h"

#include <string.h>

static void test_hex_roundtrip(void **state)
{
	(void)state;
	const uint8_t in[] = {0x00, 0x01, 0xab, 0xff};
	char out[9];
	uint8_t back[4];
	size_t n;

	assert_int_equal(hex_encode(in, 4, out, sizeof(out)), TIP_OK);
	assert_string_equal(out, "0001abff");
	assert_int_equal(hex_encode(in, 4, out, 8), TIP_EOVERSIZE);
	assert_int_equal(hex_decode("0001ABff", 8, back, sizeof(back), &n), TIP_OK);
	assert_int_equal(n, 4);
	assert_memory_equal(back, in, 4);
	assert_int_equal(hex_decode("000", 3, back, sizeof(back), &n), TIP_EDECODE);
	assert_int_equal(hex_decode("0g", 2, back, sizeof(back), &n), TIP_EDECODE);
	assert_int_equal(hex_decode("0001abff00", 10, back, sizeof(back), &n), TIP_EOVERSIZE);
}

static void test_b64_rfc4648(void **state)
{
	(void)state;
	/* RFC 4648 section 10 test vectors. */
	static const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	static const char *coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
	char out[16];
	uint8_t back[16];
	size_t n;

	for (int i = 0; i < 7; i++) {
		assert_int_equal(b64_encode((const uint8_t *)plain[i], strlen(plain[i]), out, sizeof(out)),
		                 TIP_OK);
		assert_string_equal(out, coded[i]);
		assert_int_equal(b64_decode(coded[i], strlen(coded[i]), back, sizeof(back), &n), TIP_OK);
		assert_int_equal(n, strlen(plain[i]));
		assert_memory_equal(back, plain[i], n);
	}
}

static void test_b64_rejects(void **state)
{
	(void)state;
	uint8_t back[16];
	size_t n;
	static const char *bad[] = {"Zg=", "Zg", "Z===", "Zh==", "Zm8", "Zm9v\n", "Zg==Zg==", "Zm=v", "Zm9*"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(b64_decode(bad[i], strlen(bad[i]), back, sizeof(back), &n), TIP_EDECODE);
	assert_int_equal(b64_decode("Zm9vYmFy", 8, back, 5, &n), TIP_EOVERSIZE);
}

static void test_b64url(void **state)
{
	(void)state;
	static const uint8_t in[] = {0xfb, 0xff, 0xbf, 0x00};
	char out[16];
	uint8_t back[16];
	size_t n;

	/* 0xfb 0xff 0xbf uses both characters where the alphabets differ. */
	assert_int_equal(b64url_encode(in, 3, out, sizeof(out)), TIP_OK);
	assert_string_equal(out, "-_-_");
	assert_int_equal(b64url_encode(in, 4, out, sizeof(out)), TIP_OK);
	assert_string_equal(out, "-_-_AA");
	assert_int_equal(b64url_encode(in, 1, out, sizeof(out)), TIP_OK);
	assert_string_equal(out, "-w");
	assert_int_equal(b64url_encode(in, 4, out, 6), TIP_EOVERSIZE);
	assert_int_equal(b64url_decode("-_-_AA", 6, back, sizeof(back), &n), TIP_OK);
	assert_int_equal(n, 4);
	assert_memory_equal(back, in, 4);
	assert_int_equal(b64url_decode("", 0, back, sizeof(back), &n), TIP_OK);
	assert_int_equal(n, 0);
	static const char *bad[] = {"-_-_A", "-w==", "+/+/", "-x", "-_-_AB", "ab=c"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (b64url_decode(bad[i], strlen(bad[i]), back, sizeof(back), &n) != TIP_EDECODE)
			fail_msg("accepted %s", bad[i]);
	assert_int_equal(b64url_decode("-_-_AA", 6, back, 3, &n), TIP_EOVERSIZE);
}

/* RFC 4648 section 10 without the padding, and the decoder's refusals. */
static void test_b32(void **state)
{
	(void)state;
	static const char *const vectors[][2] = {{"", ""},
	                                         {"f", "MY"},
	                                         {"fo", "MZXQ"},
	                                         {"foo", "MZXW6"},
	                                         {"foob", "MZXW6YQ"},
	                                         {"fooba", "MZXW6YTB"},
	                                         {"foobar", "MZXW6YTBOI"}};
	static const char *const bad[] = {"mzxw6", "MZXW6=", "MZ1", "M", "MZXW6YR", "MY\n"};
	char out[32];
	uint8_t back[32];
	size_t n;

	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const char *in = vectors[i][0];
		assert_int_equal(b32_encode((const uint8_t *)in, strlen(in), out, sizeof(out)), TIP_OK);
		assert_string_equal(out, vectors[i][1]);
		assert_int_equal(b32_decode(out, strlen(out), back, sizeof(back), &n), TIP_OK);
		assert_int_equal(n, strlen(in));
		assert_memory_equal(back, in, n);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (b32_decode(bad[i], strlen(bad[i]), back, sizeof(back), &n) != TIP_EDECODE)
			fail_msg("accepted %s", bad[i]);
	assert_int_equal(b32_encode((const uint8_t *)"foobar", 6, out, 10), TIP_EOVERSIZE);
	assert_int_equal(b32_decode("MZXW6YTBOI", 10, back, 5, &n), TIP_EOVERSIZE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_hex_roundtrip), cmocka_unit_test(test_b64_rfc4648),
	        cmocka_unit_test(test_b64_rejects),   cmocka_unit_test(test_b64url),
	        cmocka_unit_test(test_b32),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
