#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/err.h"
#include "proto/codec.h"
#include "record.pb-c.h"
#include "report.pb-c.h"

#include <stdlib.h>
#include <string.h>

static int check_report(const uint8_t *b, size_t n)
{
	return codec_check(&tip__report__descriptor, b, n, 1 << 20);
}

static void test_accepts_valid(void **state)
{
	(void)state;
	Tip__Report r = TIP__REPORT__INIT;
	Tip__Activity a = TIP__ACTIVITY__INIT;
	char *cats[] = {"mafia", "gangs"};
	uint8_t *buf;
	size_t n;
	ProtobufCMessage *m;

	r.version = 1;
	r.taxonomy_version = "2026.1";
	a.categories = cats;
	a.n_categories = 2;
	a.narrative = "村里有人强迫交易";
	r.activity = &a;
	assert_int_equal(codec_pack(&r.base, 1 << 20, &buf, &n), TIP_OK);
	assert_int_equal(check_report(buf, n), TIP_OK);
	assert_int_equal(codec_unpack(&tip__report__descriptor, buf, n, 1 << 20, &m), TIP_OK);
	Tip__Report *back = (Tip__Report *)m;
	assert_int_equal(back->activity->n_categories, 2);
	assert_string_equal(back->activity->narrative, "村里有人强迫交易");
	codec_free(m);
	assert_int_equal(codec_check(&tip__report__descriptor, buf, n, n - 1), TIP_EOVERSIZE);
	free(buf);
	assert_int_equal(codec_pack(&r.base, n - 1, &buf, &n), TIP_EOVERSIZE);
	assert_null(buf);
}

static void test_rejects_wire_errors(void **state)
{
	(void)state;
	/* field 1 (version) varint 1 */
	static const uint8_t ok[] = {0x08, 0x01};
	static const uint8_t unknown_field[] = {0x08, 0x01, 0xf8, 0x01, 0x01}; /* field 31 */
	static const uint8_t wrong_wire[] = {0x0d, 0x01, 0x00, 0x00, 0x00};    /* field 1 as fixed32 */
	static const uint8_t duplicate[] = {0x08, 0x01, 0x08, 0x02};           /* version twice */
	static const uint8_t trunc_varint[] = {0x08, 0x81};                    /* varint continues past end */
	static const uint8_t trunc_len[] = {0x12, 0x05, 'a', 'b'};             /* string of 5, 2 present */
	static const uint8_t bad_utf8[] = {0x12, 0x02, 0xc3, 0x28};            /* taxonomy_version */
	static const uint8_t overlong_utf8[] = {0x12, 0x02, 0xc0, 0xaf};       /* overlong '/' */
	static const uint8_t surrogate[] = {0x12, 0x03, 0xed, 0xa0, 0x80};     /* U+D800 */
	static const uint8_t nul_in_string[] = {0x12, 0x03, 'a', 0x00, 'b'};
	static const uint8_t overlong_varint[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff,
	                                          0xff, 0xff, 0xff, 0xff, 0x7f};
	static const uint8_t field_zero[] = {0x00, 0x01};
	static const uint8_t group_wire[] = {0x0b}; /* field 1, start group */
	/* activity (field 6) holding a string with bad UTF-8 in narrative (field 6): nested check */
	static const uint8_t nested_bad[] = {0x32, 0x04, 0x32, 0x02, 0xff, 0xfe};
	static const uint8_t nested_trunc[] = {0x32, 0x04, 0x32, 0x05, 'a', 'b'};

	assert_int_equal(check_report(ok, sizeof(ok)), TIP_OK);
	assert_int_equal(check_report(unknown_field, sizeof(unknown_field)), TIP_EDECODE);
	assert_int_equal(check_report(wrong_wire, sizeof(wrong_wire)), TIP_EDECODE);
	assert_int_equal(check_report(duplicate, sizeof(duplicate)), TIP_EDECODE);
	assert_int_equal(check_report(trunc_varint, sizeof(trunc_varint)), TIP_ETRUNCATED);
	assert_int_equal(check_report(trunc_len, sizeof(trunc_len)), TIP_ETRUNCATED);
	assert_int_equal(check_report(bad_utf8, sizeof(bad_utf8)), TIP_EDECODE);
	assert_int_equal(check_report(overlong_utf8, sizeof(overlong_utf8)), TIP_EDECODE);
	assert_int_equal(check_report(surrogate, sizeof(surrogate)), TIP_EDECODE);
	assert_int_equal(check_report(nul_in_string, sizeof(nul_in_string)), TIP_EDECODE);
	assert_int_equal(check_report(overlong_varint, sizeof(overlong_varint)), TIP_EDECODE);
	assert_int_equal(check_report(field_zero, sizeof(field_zero)), TIP_EDECODE);
	assert_int_equal(check_report(group_wire, sizeof(group_wire)), TIP_EDECODE);
	assert_int_equal(check_report(nested_bad, sizeof(nested_bad)), TIP_EDECODE);
	assert_int_equal(check_report(nested_trunc, sizeof(nested_trunc)), TIP_ETRUNCATED);
}

static void test_utf8(void **state)
{
	(void)state;
	assert_true(codec_utf8_ok((const uint8_t *)"", 0));
	assert_true(codec_utf8_ok((const uint8_t *)"abc 举报", strlen("abc 举报")));
	assert_true(codec_utf8_ok((const uint8_t *)"\xf0\x9f\x98\x80", 4));  /* U+1F600 */
	assert_false(codec_utf8_ok((const uint8_t *)"\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
	assert_false(codec_utf8_ok((const uint8_t *)"\xe4\xb8", 2));         /* truncated sequence */
	assert_false(codec_utf8_ok((const uint8_t *)"\x80", 1));             /* lone continuation */
	assert_false(codec_utf8_ok((const uint8_t *)"\xe0\x80\xaf", 3));     /* overlong */
}

/* Many empty repeated messages: tiny on the wire, large unpacked. The budget refuses. */
static void test_allocation_budget(void **state)
{
	(void)state;
	size_t count = 200000, n = count * 2;
	uint8_t *buf = malloc(n);
	ProtobufCMessage *m;

	assert_non_null(buf);
	for (size_t i = 0; i < count; i++) {
		buf[2 * i] = 0x2a; /* field 5 (persons), length-delimited */
		buf[2 * i + 1] = 0x00;
	}
	assert_int_equal(codec_check(&tip__report__descriptor, buf, n, n), TIP_OK);
	assert_int_equal(codec_unpack(&tip__report__descriptor, buf, n, n, &m), TIP_EOVERSIZE);
	assert_null(m);
	free(buf);
}

/* Random bytes never crash the walk, and what it accepts protobuf-c can unpack. */
static void test_random_inputs(void **state)
{
	(void)state;
	uint8_t buf[64];
	uint32_t x = 0x12345678;
	int accepted = 0;

	for (int round = 0; round < 20000; round++) {
		size_t n = (size_t)(round % 64);
		ProtobufCMessage *m;

		for (size_t i = 0; i < n; i++) {
			x = x * 1103515245u + 12345u;
			buf[i] = (uint8_t)(x >> 16);
		}
		int rc = codec_unpack(&tip__signed_record__descriptor, buf, n, sizeof(buf), &m);

		assert_true(rc == TIP_OK || rc == TIP_EDECODE || rc == TIP_ETRUNCATED);
		if (rc == TIP_OK) {
			accepted++;
			codec_free(m);
		}
	}
	assert_true(accepted > 0); /* the empty message at least */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_accepts_valid), cmocka_unit_test(test_rejects_wire_errors),
	        cmocka_unit_test(test_utf8),          cmocka_unit_test(test_allocation_budget),
	        cmocka_unit_test(test_random_inputs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
