#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/err.h"
#include "proto/bulletin.h"
#include "proto/codec.h"
#include "record.pb-c.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct taxonomy *tax;

static int setup(void **state)
{
	(void)state;
	tax = tu_taxonomy();
	return tax ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	tax_free(tax);
	return 0;
}

static struct bulletin sample(void)
{
	struct bulletin b;

	memset(&b, 0, sizeof(b));
	memset(b.query_hash, 0xab, sizeof(b.query_hash));
	memcpy(b.stage, "verifying", sizeof("verifying"));
	memcpy(b.result, "pending", sizeof("pending"));
	memcpy(b.date, "2026-02-28", sizeof("2026-02-28"));
	return b;
}

static void test_round_trip(void **state)
{
	(void)state;
	struct bulletin b = sample(), back;
	uint8_t *buf;
	size_t len;

	assert_int_equal(bulletin_encode(&b, tax, &buf, &len), TIP_OK);
	assert_true(len <= BULLETIN_MAX_SIZE);
	assert_int_equal(bulletin_decode(buf, len, tax, &back), TIP_OK);
	assert_memory_equal(&b, &back, sizeof(b));
	for (size_t cut = 0; cut < len; cut++)
		assert_int_not_equal(bulletin_decode(buf, cut, tax, &back), TIP_OK);
	free(buf);
}

static void test_rejects(void **state)
{
	(void)state;
	struct bulletin b = sample();
	uint8_t *buf;
	size_t len;

	memcpy(b.stage, "lost", 5);
	assert_int_equal(bulletin_encode(&b, tax, &buf, &len), TIP_ERANGE);
	b = sample();
	memcpy(b.result, "guilty", 7);
	assert_int_equal(bulletin_encode(&b, tax, &buf, &len), TIP_ERANGE);
	b = sample();
	memcpy(b.date, "2026-02-30", 11);
	assert_int_equal(bulletin_encode(&b, tax, &buf, &len), TIP_EINVAL);

	/* Hand-made messages that bulletin_encode would never write. */
	Tip__StatusBulletin m = TIP__STATUS_BULLETIN__INIT;
	uint8_t hash[33] = {0};
	struct bulletin out;

	m.version = 1;
	m.query_hash.data = hash;
	m.query_hash.len = 32;
	m.stage = "verifying";
	m.result = "pending";
	m.date = "2026-01-01";
	assert_int_equal(codec_pack(&m.base, 1024, &buf, &len), TIP_OK);
	assert_int_equal(bulletin_decode(buf, len, tax, &out), TIP_OK);
	free(buf);
	m.version = 2;
	assert_int_equal(codec_pack(&m.base, 1024, &buf, &len), TIP_OK);
	assert_int_equal(bulletin_decode(buf, len, tax, &out), TIP_EVERSION);
	free(buf);
	m.version = 1;
	m.query_hash.len = 33;
	assert_int_equal(codec_pack(&m.base, 1024, &buf, &len), TIP_OK);
	assert_int_equal(bulletin_decode(buf, len, tax, &out), TIP_EDECODE);
	free(buf);
	m.query_hash.len = 32;
	m.stage = "verifying_verifying_verifying_verifying";
	assert_int_equal(codec_pack(&m.base, 1024, &buf, &len), TIP_OK);
	assert_int_equal(bulletin_decode(buf, len, tax, &out), TIP_EDECODE);
	free(buf);
	m.stage = "verifying";
	m.date = "26-1-1";
	assert_int_equal(codec_pack(&m.base, 1024, &buf, &len), TIP_OK);
	assert_int_equal(bulletin_decode(buf, len, tax, &out), TIP_EINVAL);
	free(buf);
	uint8_t big[BULLETIN_MAX_SIZE + 1] = {0};
	assert_int_equal(bulletin_decode(big, sizeof(big), tax, &out), TIP_EOVERSIZE);
}

static void test_dates(void **state)
{
	(void)state;
	assert_true(bulletin_date_ok("2024-02-29"));
	assert_true(bulletin_date_ok("2000-02-29"));
	assert_false(bulletin_date_ok("2100-02-29"));
	assert_false(bulletin_date_ok("2025-02-29"));
	assert_false(bulletin_date_ok("2025-04-31"));
	assert_false(bulletin_date_ok("2025-13-01"));
	assert_false(bulletin_date_ok("2025-00-10"));
	assert_false(bulletin_date_ok("1999-12-31"));
	assert_false(bulletin_date_ok("2025/01/01"));
	assert_false(bulletin_date_ok("2025-01-1"));
	assert_false(bulletin_date_ok("2025-01-01 "));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_round_trip),
	        cmocka_unit_test(test_rejects),
	        cmocka_unit_test(test_dates),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
