/*
 * The comparison keys' normalisation and digests (internal/match.h): the ways people write the same
 * name, ID number, phone number or place become one string; invalid UTF-8 and wrong forms give no
 * key; the digest depends on the key and the kind; random bytes never overrun.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "testutil.h"

#include "common/encoding.h"
#include "common/err.h"
#include "internal/match.h"
#include "proto/hmac.h"

#include <stdlib.h>
#include <string.h>

/* Normalises s for kind: the result (static buffer) or NULL with *rc set. */
static const char *norm(enum match_kind kind, const char *s, int *rc)
{
	static char out[1024];
	size_t n;

	*rc = match_normalize(kind, s, strlen(s), out, strlen(s) + 1, &n);
	if (*rc != TIP_OK) {
		assert_int_equal(n, 0);
		assert_string_equal(out, "");
		return NULL;
	}
	assert_int_equal(n, strlen(out));
	return out;
}

static void expect(enum match_kind kind, const char *s, const char *want)
{
	int rc;
	const char *got = norm(kind, s, &rc);

	if (!got || strcmp(got, want) != 0)
		fail_msg("%s \"%s\": got \"%s\" (%s), want \"%s\"", match_kind_name(kind), s, got ? got : "",
		         tip_strerror(rc), want);
}

static void refused(enum match_kind kind, const char *s, int want_rc)
{
	int rc;

	if (norm(kind, s, &rc) || rc != want_rc)
		fail_msg("%s \"%s\": %s, want %s", match_kind_name(kind), s, tip_strerror(rc),
		         tip_strerror(want_rc));
}

static void test_names(void **state)
{
	(void)state;
	/* Full-width ASCII, the ideographic space and every other white space. */
	expect(MATCH_NAME, "ＺＨＡＮＧ　Ｓａｎ", "zhangsan");
	expect(MATCH_NAME, "张　三", "张三");
	expect(MATCH_NAME, " 张 三\t\n", "张三");
	expect(MATCH_NAME, "张\xc2\xa0三", "张三");     /* no-break space */
	expect(MATCH_NAME, "张\xe2\x80\x8b三", "张三"); /* zero-width space */
	expect(MATCH_NAME, "\xef\xbb\xbf张三", "张三"); /* byte order mark */
	expect(MATCH_NAME, "张\xe2\x80\xaf三", "张三"); /* narrow no-break space */
	expect(MATCH_NAME, "张\xe1\x9a\x80三", "张三"); /* ogham space mark */
	/* The middle dots and separators of transliterated names. */
	static const char *const written[] = {
	        "阿卜杜·热合曼",         "阿卜杜・热合曼", "阿卜杜•热合曼",   "阿卜杜‧热合曼",
	        "阿卜杜．热合曼",        "阿卜杜-热合曼",  "阿卜杜—热合曼",   "阿卜杜 热合曼",
	        "阿卜杜･热合曼",         "阿卜杜⸱热合曼",  "阿卜杜∙热合曼",   "阿卜杜⋅热合曼",
	        "阿卜杜ꞏ热合曼", "阿卜杜=热合曼",  "“阿卜杜·热合曼”", "阿卜杜﹒热合曼",
	        "「阿卜杜热合曼」",
	};
	for (size_t i = 0; i < sizeof(written) / sizeof(written[0]); i++)
		expect(MATCH_NAME, written[i], "阿卜杜热合曼");
	/* Latin letters lower-cased, pinyin with its marks kept; punctuation gone. */
	expect(MATCH_NAME, "Zhang San", "zhangsan");
	expect(MATCH_NAME, "ZHANG-SAN", "zhangsan");
	expect(MATCH_NAME, "O'Neil, J.", "oneilj");
	expect(MATCH_NAME, "LǙ BÙ", "lǚbù");
	expect(MATCH_NAME, "ĀÁǍÀ ŁŃŸ", "āáǎàłńÿ");
	expect(MATCH_NAME, "İ", "i");
	expect(MATCH_NAME, "×", "×"); /* a sign, not a letter */
	/* Chinese text is left as it is; an empty or all-punctuation text normalises to nothing. */
	expect(MATCH_NAME, "四哥", "四哥");
	expect(MATCH_NAME, "", "");
	expect(MATCH_NAME, " ·-。 ", "");
	/* Places are names. */
	expect(MATCH_PLACE, "河边 采砂场（３号）", "河边采砂场3号");
	expect(MATCH_OFFICIAL, "王　五", "王五");
}

static void test_id_numbers(void **state)
{
	(void)state;
	expect(MATCH_ID_NUMBER, "11010519491231002X", "11010519491231002X");
	expect(MATCH_ID_NUMBER, "11010519491231002x", "11010519491231002X");
	expect(MATCH_ID_NUMBER, "１１０１０５１９４９１２３１００２ｘ", "11010519491231002X");
	expect(MATCH_ID_NUMBER, "110105 19491231 002X", "11010519491231002X");
	expect(MATCH_ID_NUMBER, "110105-19491231-0021", "110105194912310021");
	/* An old 15-digit number stays as it is (not widened to 18). */
	expect(MATCH_ID_NUMBER, "110105491231002", "110105491231002");
	refused(MATCH_ID_NUMBER, "1101051949123100", TIP_EFORMAT);     /* 16 */
	refused(MATCH_ID_NUMBER, "11010519491231002Y", TIP_EFORMAT);   /* not a check character */
	refused(MATCH_ID_NUMBER, "X10105194912310021", TIP_EFORMAT);   /* X only last */
	refused(MATCH_ID_NUMBER, "11010549123100X", TIP_EFORMAT);      /* no X in an old number */
	refused(MATCH_ID_NUMBER, "110105194912310021三", TIP_EFORMAT); /* something more */
	refused(MATCH_ID_NUMBER, "", TIP_EFORMAT);
}

static void test_phones(void **state)
{
	(void)state;
	static const char *const written[] = {
	        "13800000000",       "138 0000 0000",        "138-0000-0000",
	        "+86 138-0000-0000", "+8613800000000",       "0086 13800000000",
	        "8613800000000",     "（+86）138 0000 0000", "＋８６１３８００００００００",
	        "86-138-0000-0000",  "tel: 138.0000.0000",
	};
	for (size_t i = 0; i < sizeof(written) / sizeof(written[0]); i++)
		expect(MATCH_PHONE, written[i], "13800000000");
	/* Only before an 11-digit mobile number is the country code dropped. */
	expect(MATCH_PHONE, "010-12345678", "01012345678");
	expect(MATCH_PHONE, "+86 10 1234 5678", "861012345678");
	expect(MATCH_PHONE, "86 2345678", "862345678");
	expect(MATCH_PHONE, "1234567", "1234567");
	refused(MATCH_PHONE, "110", TIP_EFORMAT);
	refused(MATCH_PHONE, "12345", TIP_EFORMAT);
	refused(MATCH_PHONE, "+86 110", TIP_EFORMAT);
	refused(MATCH_PHONE, "no number", TIP_EFORMAT);
}

static void test_invalid_utf8(void **state)
{
	(void)state;
	static const char *const bad[] = {
	        "\xff",
	        "张\xe4\xb8", /* truncated */
	        "\xc0\xaf",
	        "\xe0\x80\xaf", /* overlong */
	        "\xed\xa0\x80",
	        "\xf4\x90\x80\x80", /* surrogate, past U+10FFFF */
	        "abc\x80",
	        "\xe5\xbc\xa0\xe4\x89", /* a lone continuation, a cut-off character */
	        "13800000000\xfe",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		for (int kind = 0; kind < MATCH_KINDS; kind++)
			refused((enum match_kind)kind, bad[i], TIP_EDECODE);
	uint8_t key[MATCH_KEY_LEN] = {0}, d[MATCH_DIGEST_LEN];
	struct match_key *k = match_key_new(key);
	assert_int_equal(match_key_of(k, MATCH_NAME, "张\xe4\xb8", d), TIP_ENOTFOUND);
	match_key_free(k);
}

static void test_bounds(void **state)
{
	(void)state;
	char out[64];
	size_t n;

	assert_int_equal(match_normalize(MATCH_NAME, "abc", 3, out, 3, &n), TIP_EOVERSIZE);
	assert_int_equal(match_normalize(MATCH_NAME, "abc", 3, out, 0, &n), TIP_EOVERSIZE);
	assert_int_equal(match_normalize(MATCH_NAME, "abc", 3, out, 4, &n), TIP_OK);
	assert_int_equal(match_normalize(MATCH_KINDS, "abc", 3, out, 4, &n), TIP_EINVAL);
	assert_null(match_kind_name(MATCH_KINDS));
	/* An embedded NUL is a control character like any other: dropped. */
	assert_int_equal(match_normalize(MATCH_NAME, "a\0b", 3, out, 4, &n), TIP_OK);
	assert_string_equal(out, "ab");
	/* Random bytes: never longer than the input, and either refused or clean. */
	srand(7);
	for (int round = 0; round < 20000; round++) {
		char in[48], *res = malloc(sizeof(in) + 1);
		size_t len = (size_t)(rand() % (int)sizeof(in));

		for (size_t i = 0; i < len; i++) /* mostly UTF-8 lead and continuation bytes, some ASCII */
			in[i] = (char)(rand() % 3 ? 0x80 + rand() % 0x80 : rand() % 0x80);
		for (int kind = 0; kind < MATCH_KINDS; kind++) {
			int rc = match_normalize((enum match_kind)kind, in, len, res, len + 1, &n);

			assert_true(rc == TIP_OK || rc == TIP_EDECODE || rc == TIP_EFORMAT);
			assert_true(n <= len);
			assert_int_equal(strlen(res), n);
		}
		free(res);
	}
}

static void test_digests(void **state)
{
	(void)state;
	uint8_t key[MATCH_KEY_LEN], other[MATCH_KEY_LEN], a[MATCH_DIGEST_LEN], b[MATCH_DIGEST_LEN];
	char hex[2 * MATCH_DIGEST_LEN + 1];

	for (int i = 0; i < MATCH_KEY_LEN; i++) {
		key[i] = (uint8_t)i;
		other[i] = (uint8_t)(i + 1);
	}
	struct match_key *k = match_key_new(key), *k2 = match_key_new(other);
	assert_non_null(k);
	assert_non_null(k2);
	/* Known answers: HMAC-SHA256(key 00 01 .. 1f, kind || 0x00 || value), computed independently. */
	assert_int_equal(match_key_of(k, MATCH_PHONE, "+86 138-0000-0000", a), TIP_OK);
	hex_encode(a, sizeof(a), hex, sizeof(hex));
	assert_string_equal(hex, "2e6497352b78a945089232b112c09b3b77b1a625218ed8e147739cec0700a2c9");
	assert_int_equal(match_key_of(k, MATCH_ID_NUMBER, "11010519491231002x", a), TIP_OK);
	hex_encode(a, sizeof(a), hex, sizeof(hex));
	assert_string_equal(hex, "474b6407d98e39ed36d44dad79508c1a6c074320af99574bb210f02769e6bca8");
	assert_int_equal(match_key_of(k, MATCH_NAME, "阿卜杜・热合曼", a), TIP_OK);
	hex_encode(a, sizeof(a), hex, sizeof(hex));
	assert_string_equal(hex, "488895a2570d515048216ee0cba748e2116e9b011f4c9d86d63c6cb490ab460c");
	/* The same string under two kinds: two digests. */
	assert_int_equal(match_key_of(k, MATCH_NAME, "13800000000", b), TIP_OK);
	hex_encode(b, sizeof(b), hex, sizeof(hex));
	assert_string_equal(hex, "6c552739a2332f1e39ab262c930d25eb52fa406836732e0c9796b7cafcd61f78");
	assert_int_equal(match_key_of(k, MATCH_PHONE, "13800000000", a), TIP_OK);
	assert_memory_not_equal(a, b, sizeof(a));
	/* Written differently, one digest; another key, another digest. */
	assert_int_equal(match_key_of(k, MATCH_PHONE, "0086 138 0000 0000", b), TIP_OK);
	assert_memory_equal(a, b, sizeof(a));
	assert_int_equal(match_key_of(k2, MATCH_PHONE, "13800000000", b), TIP_OK);
	assert_memory_not_equal(a, b, sizeof(a));
	/* Nothing to compare: no digest. */
	assert_int_equal(match_key_of(k, MATCH_PLACE, " · ", a), TIP_ENOTFOUND);
	assert_int_equal(match_key_of(k, MATCH_PHONE, "110", a), TIP_ENOTFOUND);
	assert_int_equal(match_key_of(k, MATCH_ID_NUMBER, "", a), TIP_ENOTFOUND);
	/* A long text takes the heap path. */
	char *big = malloc(4001);
	for (int i = 0; i < 4000; i++)
		big[i] = (char)('a' + i % 26);
	big[4000] = 0;
	assert_int_equal(match_key_of(k, MATCH_PLACE, big, a), TIP_OK);
	big[0] = 'A';
	assert_int_equal(match_key_of(k, MATCH_PLACE, big, b), TIP_OK);
	assert_memory_equal(a, b, sizeof(a));
	free(big);
	match_key_free(k);
	match_key_free(k2);
	match_key_free(NULL);
}

/* The shared HMAC against RFC 4231 (test cases 1 and 2), the message in one part and in two. */
static void test_hmac_rfc4231(void **state)
{
	(void)state;
	struct hmac_key k;
	uint8_t key1[20], mac[HMAC_SHA256_LEN];
	char hex[2 * HMAC_SHA256_LEN + 1];

	memset(key1, 0x0b, sizeof(key1));
	hmac_key_init(&k, key1, sizeof(key1));
	hmac_sha256(&k, (const uint8_t *)"Hi ", 3, (const uint8_t *)"There", 5, mac);
	hex_encode(mac, sizeof(mac), hex, sizeof(hex));
	assert_string_equal(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	hmac_key_init(&k, (const uint8_t *)"Jefe", 4);
	hmac_sha256(&k, (const uint8_t *)"what do ya want for nothing?", 28, NULL, 0, mac);
	hex_encode(mac, sizeof(mac), hex, sizeof(hex));
	assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	hmac_key_wipe(&k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_names),        cmocka_unit_test(test_id_numbers),
	        cmocka_unit_test(test_phones),       cmocka_unit_test(test_invalid_utf8),
	        cmocka_unit_test(test_bounds),       cmocka_unit_test(test_digests),
	        cmocka_unit_test(test_hmac_rfc4231),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
