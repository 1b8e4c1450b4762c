/* common/utf8.h: every code point encodes and decodes back; malformed forms are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "common/utf8.h"

#include <string.h>

static void test_roundtrip(void **state)
{
	(void)state;
	uint8_t buf[UTF8_MAX];
	uint32_t back;

	for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
		size_t n = utf8_put(cp, buf);

		if (cp >= 0xd800 && cp <= 0xdfff) {
			assert_int_equal(n, 0);
			continue;
		}
		assert_int_equal(n, cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4);
		assert_int_equal(utf8_next(buf, n, &back), n);
		assert_int_equal(back, cp);
		/* One byte short is never a code point. */
		assert_int_equal(utf8_next(buf, n - 1, &back), 0);
	}
	assert_int_equal(utf8_put(0x110000, buf), 0);
}

static void test_malformed(void **state)
{
	(void)state;
	static const char *const bad[] = {"\x80",
	                                  "\xbf",
	                                  "\xc0\x80",
	                                  "\xc1\xbf",
	                                  "\xe0\x9f\xbf",
	                                  "\xed\xa0\x80",
	                                  "\xf0\x8f\xbf\xbf",
	                                  "\xf4\x90\x80\x80",
	                                  "\xf8\x88\x80\x80\x80",
	                                  "\xff",
	                                  "\xe4\xb8\x41"};
	uint32_t cp;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(utf8_next((const uint8_t *)bad[i], strlen(bad[i]), &cp), 0);
	assert_int_equal(utf8_next((const uint8_t *)"", 0, &cp), 0);
	assert_int_equal(utf8_next((const uint8_t *)"\xe5\xbc\xa0", 3, &cp), 3);
	assert_int_equal(cp, 0x5f20);
}

static void test_space(void **state)
{
	(void)state;
	static const uint32_t space[] = {0x09,   0x0a,   0x0d,   0x20,   0x85,   0xa0,  0x1680,
	                                 0x2000, 0x200a, 0x2028, 0x202f, 0x205f, 0x3000};
	static const uint32_t not_space[] = {0x08, 0x21, 0x200b, 0x3001, 0xfeff, 0x5f20};

	for (size_t i = 0; i < sizeof(space) / sizeof(space[0]); i++)
		assert_true(utf8_is_space(space[i]));
	for (size_t i = 0; i < sizeof(not_space) / sizeof(not_space[0]); i++)
		assert_false(utf8_is_space(not_space[i]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_roundtrip),
	        cmocka_unit_test(test_malformed),
	        cmocka_unit_test(test_space),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
