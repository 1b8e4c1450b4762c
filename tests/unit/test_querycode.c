#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/err.h"
#include "intake/querycode.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

static void test_damm_known_values(void **state)
{
	(void)state;
	/* The worked example of Damm's algorithm: 572 gets 4, and 5724 checks to 0. */
	assert_int_equal(qc_damm("572", 3), '4');
	assert_int_equal(qc_damm("5724", 4), '0');
	assert_int_equal(qc_damm("", 0), '0');
	/* Values computed separately (a Python transcription of the same quasigroup). */
	assert_int_equal(qc_damm("1234567890123456789", 19), '1');
	assert_int_equal(qc_damm("0000000000000000000", 19), '0');
	assert_int_equal(qc_damm("9999999999999999999", 19), '2');
	assert_int_equal(qc_damm("57a", 3), 0);
}

static void test_damm_table_properties(void **state)
{
	(void)state;
	/*
	 * Weak total anti-symmetry, checked through the public function: for any
	 * state reached by a one-digit prefix, reading a then b differs from b then
	 * a whenever a != b; and each row is a permutation, so one wrong digit
	 * always changes the result.
	 */
	for (char p = '0'; p <= '9'; p++)
		for (char a = '0'; a <= '9'; a++)
			for (char b = '0'; b <= '9'; b++) {
				char ab[3] = {p, a, b}, ba[3] = {p, b, a}, pa[2] = {p, a}, pb[2] = {p, b};

				if (a == b)
					continue;
				assert_int_not_equal(qc_damm(ab, 3), qc_damm(ba, 3));
				assert_int_not_equal(qc_damm(pa, 2), qc_damm(pb, 2));
			}
}

static void test_generate_valid(void **state)
{
	(void)state;
	char code[QC_DIGITS + 1], norm[QC_DIGITS + 1];

	for (int i = 0; i < 1000; i++) {
		assert_int_equal(qc_generate(code), TIP_OK);
		assert_int_equal(strlen(code), QC_DIGITS);
		assert_int_equal(strspn(code, "0123456789"), QC_DIGITS);
		assert_int_equal(qc_damm(code, QC_DIGITS), '0');
		assert_int_equal(qc_normalize(code, QC_DIGITS, norm), TIP_OK);
		assert_string_equal(norm, code);
	}
}

static void test_every_single_error_detected(void **state)
{
	(void)state;
	char code[QC_DIGITS + 1], bad[QC_DIGITS + 1], out[QC_DIGITS + 1];
	size_t checked = 0;

	for (int k = 0; k < 300; k++) {
		assert_int_equal(qc_generate(code), TIP_OK);
		for (size_t i = 0; i < QC_DIGITS; i++)
			for (char d = '0'; d <= '9'; d++) {
				if (d == code[i])
					continue;
				memcpy(bad, code, sizeof(bad));
				bad[i] = d;
				assert_int_equal(qc_normalize(bad, QC_DIGITS, out), TIP_EVERIFY);
				assert_string_equal(out, "");
				checked++;
			}
	}
	assert_int_equal(checked, 300 * QC_DIGITS * 9);
}

static void test_every_adjacent_transposition_detected(void **state)
{
	(void)state;
	char code[QC_DIGITS + 1], bad[QC_DIGITS + 1], out[QC_DIGITS + 1];
	size_t checked = 0;

	for (int k = 0; k < 3000; k++) {
		assert_int_equal(qc_generate(code), TIP_OK);
		for (size_t i = 0; i + 1 < QC_DIGITS; i++) {
			if (code[i] == code[i + 1])
				continue;
			memcpy(bad, code, sizeof(bad));
			bad[i] = code[i + 1];
			bad[i + 1] = code[i];
			assert_int_equal(qc_normalize(bad, QC_DIGITS, out), TIP_EVERIFY);
			checked++;
		}
	}
	/* About 90% of adjacent pairs differ; make sure the loop really ran. */
	assert_true(checked > 3000 * 15);
}

static void test_format(void **state)
{
	(void)state;
	char out[QC_DIGITS + QC_DIGITS / 4];

	assert_int_equal(sizeof(out), 25);
	memset(out, 'x', sizeof(out));
	qc_format("12345678901234567891", out);
	assert_string_equal(out, "1234 5678 9012 3456 7891");
}

static void test_normalize_separators(void **state)
{
	(void)state;
	static const char *ok[] = {
	        "12345678901234567891",
	        "1234 5678 9012 3456 7891",
	        "1234-5678-9012-3456-7891",
	        "  1234 5678 9012 3456 7891  ",
	        "1-2-3-4 5 6 7 8--9012    34567891",
	        "-1234 - 5678 - 9012 - 3456 - 7891-",
	};
	char out[QC_DIGITS + 1];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(qc_normalize(ok[i], strlen(ok[i]), out), TIP_OK);
		assert_string_equal(out, "12345678901234567891");
	}
	/* len is honoured: trailing bytes past it are not read. */
	assert_int_equal(qc_normalize("12345678901234567891XYZ", 20, out), TIP_OK);
	assert_string_equal(out, "12345678901234567891");

	/* A formatted code reads back. */
	char code[QC_DIGITS + 1], shown[QC_DIGITS + QC_DIGITS / 4];
	assert_int_equal(qc_generate(code), TIP_OK);
	qc_format(code, shown);
	assert_int_equal(qc_normalize(shown, strlen(shown), out), TIP_OK);
	assert_string_equal(out, code);
}

static void test_normalize_bad_characters(void **state)
{
	(void)state;
	static const char *bad[] = {
	        "1234 5678 9012 3456 789a",  "1234_5678_9012_3456_7891",   "1234.5678.9012.3456.7891",
	        "1234\t5678 9012 3456 7891", "1234 5678 9012 3456 7891\n", "+12345678901234567891",
	        "１2345678901234567891", /* a full-width digit one */
	};
	char out[QC_DIGITS + 1];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(out, 'x', sizeof(out));
		assert_int_equal(qc_normalize(bad[i], strlen(bad[i]), out), TIP_EINVAL);
		assert_string_equal(out, "");
	}
	/* An embedded NUL is a bad character, not the end of the input. */
	assert_int_equal(qc_normalize("1234567890\0"
	                              "1234567891",
	                              21, out),
	                 TIP_EINVAL);
	/* Every byte that is neither a digit nor a separator is refused, wherever it sits. */
	for (int c = 0; c < 256; c++) {
		char in[QC_DIGITS + 1] = "1234567890123456789";

		if ((c >= '0' && c <= '9') || c == ' ' || c == '-')
			continue;
		in[19] = '1';
		in[20] = (char)c;
		assert_int_equal(qc_normalize(in, 21, out), TIP_EINVAL);
		in[20] = '\0';
		in[0] = (char)c;
		assert_int_equal(qc_normalize(in, 20, out), TIP_EINVAL);
	}
}

static void test_normalize_wrong_lengths(void **state)
{
	(void)state;
	char out[QC_DIGITS + 1], in[QC_INPUT_MAX + 2];

	assert_int_equal(qc_normalize("", 0, out), TIP_EINVAL);
	assert_int_equal(qc_normalize("    ", 4, out), TIP_EINVAL);
	assert_int_equal(qc_normalize("1234567890123456789", 19, out), TIP_EINVAL);
	assert_int_equal(qc_normalize("123456789012345678910", 21, out), TIP_EINVAL);
	assert_int_equal(qc_normalize("1234 5678 9012 3456 7891 0", 26, out), TIP_EINVAL);
	/* A 40-digit paste (a code twice) fails on count, not by reading past 20. */
	assert_int_equal(qc_normalize("1234567890123456789112345678901234567891", 40, out), TIP_EINVAL);

	/* Separators count towards the input cap. */
	memset(in, ' ', sizeof(in));
	memcpy(in, "12345678901234567891", QC_DIGITS);
	assert_int_equal(qc_normalize(in, QC_INPUT_MAX, out), TIP_OK);
	assert_int_equal(qc_normalize(in, QC_INPUT_MAX + 1, out), TIP_EINVAL);
}

static void test_distribution(void **state)
{
	(void)state;
	enum { N = 100000 };
	static unsigned counts[QC_DIGITS][10];
	char code[QC_DIGITS + 1];

	memset(counts, 0, sizeof(counts));
	for (int k = 0; k < N; k++) {
		assert_int_equal(qc_generate(code), TIP_OK);
		for (size_t i = 0; i < QC_DIGITS; i++)
			counts[i][code[i] - '0']++;
	}
	/*
	 * Each count is Binomial(100000, 0.1): mean 10000, standard deviation about
	 * 95. The bound of +-1000 is over ten standard deviations (a chance below
	 * 1e-23 per cell), yet a stuck digit, a digit never drawn, or the bias of a
	 * plain modulo (64 random bits mod 10^19 would make the first digit 9 only
	 * about 5,400 times in 100,000) all fail it. The check digit is a
	 * quasigroup image of uniform digits, so it is uniform too.
	 */
	for (size_t i = 0; i < QC_DIGITS; i++)
		for (int d = 0; d < 10; d++) {
			if (counts[i][d] < 9000 || counts[i][d] > 11000)
				fail_msg("position %zu digit %d: %u of %d", i, d, counts[i][d], N);
		}
}

static void test_hash_known_value(void **state)
{
	(void)state;
	uint8_t h[QC_HASH_LEN], h2[QC_HASH_LEN];
	size_t n;
	/* printf 'tipline query code v1\00012345678901234567891' | sha256sum */
	uint8_t *want = tu_hex("2d85dcd91137844ecddd8a21210cd6b3503f7247d42834e1bf02c49480ee9277", &n);
	/* printf 'tipline query code v1\00000000000000000000000' | sha256sum */
	uint8_t *want0 = tu_hex("952e204320073a100bfe5eef81e087c2589f14192ebe1f8e57a1eb6137a3d40f", &n);

	assert_int_equal(qc_hash("12345678901234567891", h), TIP_OK);
	assert_memory_equal(h, want, QC_HASH_LEN);
	assert_int_equal(qc_hash("00000000000000000000", h), TIP_OK);
	assert_memory_equal(h, want0, QC_HASH_LEN);
	/* Only the 20 digits count: the hash of a code does not depend on what follows it in memory. */
	assert_int_equal(qc_hash("12345678901234567891trailing", h2), TIP_OK);
	assert_memory_equal(h2, want, QC_HASH_LEN);
	free(want);
	free(want0);
}

static int status_body(const char *body, char code[QC_DIGITS + 1], char field[QC_FIELD_MAX])
{
	return qc_status_body((const uint8_t *)body, strlen(body), code, field);
}

static void test_status_body(void **state)
{
	(void)state;
	char code[QC_DIGITS + 1], field[QC_FIELD_MAX];

	assert_int_equal(status_body("{\"query_code\": \"1234 5678 9012 3456 7891\"}", code, field), TIP_OK);
	assert_string_equal(code, "12345678901234567891");
	assert_int_equal(status_body("{\"query_code\": \"1234 5678 9012 3456 7890\"}", code, field),
	                 TIP_EVERIFY);
	assert_string_equal(code, "");
	assert_int_equal(status_body("{\"query_code\": 123}", code, field), TIP_EINVAL);
	assert_int_equal(status_body("{}", code, field), TIP_EINVAL);
	assert_int_equal(status_body("{\"query_code\": \"1\", \"lang\": \"zh\"}", code, field), TIP_EFORMAT);
	assert_string_equal(field, "lang");
	assert_int_equal(status_body("\"12345678901234567891\"", code, field), TIP_EDECODE);
	assert_int_equal(status_body("{\"query_code\": \"1\", \"query_code\": \"2\"}", code, field),
	                 TIP_EDECODE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_damm_known_values),
	        cmocka_unit_test(test_damm_table_properties),
	        cmocka_unit_test(test_generate_valid),
	        cmocka_unit_test(test_every_single_error_detected),
	        cmocka_unit_test(test_every_adjacent_transposition_detected),
	        cmocka_unit_test(test_format),
	        cmocka_unit_test(test_normalize_separators),
	        cmocka_unit_test(test_normalize_bad_characters),
	        cmocka_unit_test(test_normalize_wrong_lengths),
	        cmocka_unit_test(test_status_body),
	        cmocka_unit_test(test_distribution),
	        cmocka_unit_test(test_hash_known_value),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
