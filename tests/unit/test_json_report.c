#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/err.h"
#include "intake/json_report.h"
#include "proto/codec.h"
#include "proto/report.h"
#include "testutil.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct taxonomy *tax;
static struct report_limits lim;
static uint8_t qhash[REPORT_QUERY_HASH_LEN];
static const uint8_t jpeg[] = {0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00, 0x01};

static const char full_json[] =
        "{\"taxonomy_version\": \"2026.1\", \"locale\": \"zh-CN\",\n"
        " \"reporter\": {\"anonymous\": false, \"name\": \"张三\", \"id_number\": \"11010519491231002X\",\n"
        "   \"phone\": \"+86 138-0000-0000\", \"address\": \"北京市东城区\", \"contact_allowed\": true,\n"
        "   \"channel\": \"phone\"},\n"
        " \"persons\": [{\"name\": \"李四\", \"aliases\": [\"四哥\", \"\\u8001\\u56db\"], \"description\": "
        "\"经营砂石场\",\n"
        "   \"phones\": [\"13900000000\"], \"region\": \"110101\"},\n"
        "   {\"name\": \"王五\"}],\n"
        " \"activity\": {\"categories\": [\"illegal_mining_sand_dredging\", \"protective_umbrella\"],\n"
        "   \"sector\": \"natural_resources\", \"region\": \"110101\", \"place\": \"河边采砂场\",\n"
        "   \"time\": \"2024年以来每晚\", \"narrative\": \"夜间非法采砂，有人放风。\\nIllegal dredging at "
        "night.\"},\n"
        " \"umbrella\": {\"officials\": [{\"name\": \"赵六\", \"position\": \"副所长\", \"unit\": "
        "\"某派出所\",\n"
        "   \"region\": \"110101\", \"description\": \"通风报信\"}]}}";

/* The smallest valid report is REP and ACT inside braces. */
#define TV  "\"taxonomy_version\": \"2026.1\""
#define REP "\"reporter\": {\"anonymous\": true}"
#define ACT "\"activity\": {\"categories\": [\"other\"], \"region\": \"110101\", \"narrative\": \"x\"}"

static int setup(void **state)
{
	(void)state;
	tax = tu_taxonomy();
	lim = report_limits_default();
	memset(qhash, 0x5a, sizeof(qhash));
	return tax ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	tax_free(tax);
	return 0;
}

static void expect_error_n(const char *json, size_t len, int code, const char *field)
{
	struct jr_error e;
	struct jr_report *r = jr_parse(json, len, &lim, &e);

	if (r) {
		jr_free(r);
		fail_msg("parsed, want %d \"%s\" for %.80s", code, field, json);
	}
	if (e.code != code || strcmp(e.field, field) != 0)
		fail_msg("got %d \"%s\" (%s), want %d \"%s\" for %.80s", e.code, e.field, e.message, code,
		         field, json);
	assert_true(e.message[0] != '\0');
	assert_true(codec_utf8_ok((const uint8_t *)e.field, strlen(e.field)) || e.field[0] == '\0');
}

static void expect_error(const char *json, int code, const char *field)
{
	expect_error_n(json, strlen(json), code, field);
}

static struct jr_report *parse_ok(const char *json)
{
	struct jr_error e;
	struct jr_report *r = jr_parse(json, strlen(json), &lim, &e);

	if (!r)
		fail_msg("%d \"%s\" %s for %.80s", e.code, e.field, e.message, json);
	assert_int_equal(e.code, TIP_OK);
	return r;
}

static void test_full_report(void **state)
{
	(void)state;
	size_t len = strlen(full_json);
	char *copy = malloc(len);
	struct jr_error e;
	struct jr_report *r;
	Tip__Report *rep, *back = NULL;
	uint8_t *packed = NULL, digest[32];
	size_t packed_len;
	char field[REPORT_FIELD_MAX];

	assert_non_null(copy);
	memcpy(copy, full_json, len);
	r = jr_parse(copy, len, &lim, &e);
	assert_non_null(r);
	/* Every string is a copy: wiping the input changes nothing. */
	memset(copy, 'x', len);
	free(copy);

	rep = jr_report(r);
	assert_string_equal(rep->taxonomy_version, "2026.1");
	assert_string_equal(rep->locale, "zh-CN");
	assert_false(rep->reporter->anonymous);
	assert_string_equal(rep->reporter->name, "张三");
	assert_string_equal(rep->reporter->id_number, "11010519491231002X");
	assert_true(rep->reporter->contact_allowed);
	assert_string_equal(rep->reporter->channel, "phone");
	assert_int_equal(rep->n_persons, 2);
	assert_int_equal(rep->persons[0]->n_aliases, 2);
	assert_string_equal(rep->persons[0]->aliases[1], "老四");
	assert_string_equal(rep->persons[0]->phones[0], "13900000000");
	assert_string_equal(rep->persons[1]->name, "王五");
	assert_string_equal(rep->persons[1]->description, "");
	assert_int_equal(rep->persons[1]->n_aliases, 0);
	assert_int_equal(rep->activity->n_categories, 2);
	assert_string_equal(rep->activity->categories[1], "protective_umbrella");
	assert_string_equal(rep->activity->narrative, "夜间非法采砂，有人放风。\nIllegal dredging at night.");
	assert_int_equal(rep->umbrella->n_officials, 1);
	assert_string_equal(rep->umbrella->officials[0]->unit, "某派出所");
	assert_int_equal(rep->version, 0);
	assert_int_equal(rep->query_hash.len, 0);

	assert_int_equal(jr_add_attachment(r, "photo.jpg", "image/jpeg", jpeg, sizeof(jpeg), &e), TIP_OK);
	assert_int_equal(jr_finish(r, qhash, tax, &lim, &e), TIP_OK);
	assert_int_equal(e.code, TIP_OK);
	assert_string_equal(e.field, "");
	assert_int_equal(rep->version, REPORT_VERSION);
	assert_memory_equal(rep->query_hash.data, qhash, sizeof(qhash));
	SHA256(jpeg, sizeof(jpeg), digest);
	assert_int_equal(rep->activity->n_attachments, 1);
	assert_memory_equal(rep->activity->attachments[0]->sha256.data, digest, sizeof(digest));
	assert_memory_equal(rep->activity->attachments[0]->data.data, jpeg, sizeof(jpeg));
	assert_string_equal(rep->activity->attachments[0]->content_type, "image/jpeg");

	/* What the intake seals is what the internal side decodes and accepts. */
	assert_int_equal(codec_pack(&rep->base, 1 << 20, &packed, &packed_len), TIP_OK);
	assert_int_equal(codec_unpack(&tip__report__descriptor, packed, packed_len, 1 << 20,
	                              (ProtobufCMessage **)&back),
	                 TIP_OK);
	assert_int_equal(report_validate(back, tax, &lim, field), TIP_OK);
	assert_string_equal(back->persons[0]->aliases[0], "四哥");
	codec_free(&back->base);
	free(packed);
	jr_free(r);
}

static void test_minimal_report(void **state)
{
	(void)state;
	struct jr_error e;
	struct jr_report *r = parse_ok("{" TV ", " REP ", " ACT "}");
	Tip__Report *rep = jr_report(r);

	/* Absent fields are empty strings, absent blocks are NULL or empty. */
	assert_string_equal(rep->locale, "");
	assert_string_equal(rep->reporter->name, "");
	assert_string_equal(rep->activity->sector, "");
	assert_int_equal(rep->n_persons, 0);
	assert_null(rep->umbrella);
	assert_int_equal(jr_finish(r, qhash, tax, &lim, &e), TIP_OK);
	jr_free(r);

	/* Empty arrays and an empty umbrella are fine too. */
	r = parse_ok("{" TV ", " REP ", " ACT ", \"persons\": [], \"umbrella\": {\"officials\": []}}");
	assert_int_equal(jr_finish(r, qhash, tax, &lim, NULL), TIP_OK);
	jr_free(r);
	assert_null(jr_report(NULL));
	jr_free(NULL);
}

static void test_unknown_keys(void **state)
{
	(void)state;
	expect_error("{" REP ", " ACT ", \"colour\": 1}", TIP_EINVAL, "colour");
	expect_error("{\"colour\": 1, " REP ", " ACT "}", TIP_EINVAL, "colour");
	expect_error("{" REP ", \"activity\": {\"categories\": [\"other\"], \"colour\": \"red\"}}",
	             TIP_EINVAL, "activity.colour");
	expect_error("{\"reporter\": {\"anonymous\": true, \"Name\": \"x\"}, " ACT "}", TIP_EINVAL,
	             "reporter.Name");
	expect_error("{" REP ", " ACT ", \"persons\": [{\"name\": \"a\"}, {\"age\": \"40\"}]}", TIP_EINVAL,
	             "persons[1].age");
	expect_error("{" REP ", " ACT ", \"umbrella\": {\"officials\": [{\"rank\": \"x\"}]}}", TIP_EINVAL,
	             "umbrella.officials[0].rank");
	/* What the server sets is refused from the client. */
	expect_error("{\"version\": 1, " REP ", " ACT "}", TIP_EINVAL, "version");
	expect_error("{\"query_hash\": \"AAAA\", " REP ", " ACT "}", TIP_EINVAL, "query_hash");
	expect_error("{" REP ", \"activity\": {\"attachments\": []}}", TIP_EINVAL, "activity.attachments");
	/* A key is shown as decoded; control characters as '?'; long keys cut on a character boundary. */
	expect_error("{\"a\\nb\": 1}", TIP_EINVAL, "a?b");
	{
		char json[1024], want[REPORT_FIELD_MAX];
		size_t o = 0;

		o += (size_t)snprintf(json, sizeof(json), "{\"reporter\": {\"");
		for (int i = 0; i < 40; i++, o += 3)
			memcpy(json + o, "举", 3);
		snprintf(json + o, sizeof(json) - o, "\": 1}}");
		memcpy(want, "reporter.", 9);
		for (int i = 0; i < 18; i++)
			memcpy(want + 9 + 3 * i, "举", 3);
		want[9 + 54] = '\0';
		expect_error(json, TIP_EINVAL, want);
	}
}

static void test_duplicate_keys(void **state)
{
	(void)state;
	expect_error("{\"locale\": \"en\", " REP ", \"locale\": \"en\", " ACT "}", TIP_EDECODE, "locale");
	expect_error("{\"reporter\": {\"name\": \"a\", \"name\": \"b\"}, " ACT "}", TIP_EDECODE,
	             "reporter.name");
	expect_error("{" REP ", " ACT ", \"persons\": [{}, {\"phones\": [], \"phones\": []}]}", TIP_EDECODE,
	             "persons[1].phones");
	expect_error("{" REP ", " REP ", " ACT "}", TIP_EDECODE, "reporter");
}

static void test_wrong_types(void **state)
{
	(void)state;
	/* string fields */
	expect_error("{\"taxonomy_version\": 2026.1, " REP ", " ACT "}", TIP_EINVAL, "taxonomy_version");
	expect_error("{\"reporter\": {\"name\": 42}, " ACT "}", TIP_EINVAL, "reporter.name");
	expect_error("{\"reporter\": {\"phone\": [\"1\"]}, " ACT "}", TIP_EINVAL, "reporter.phone");
	expect_error("{\"reporter\": {\"address\": {}}, " ACT "}", TIP_EINVAL, "reporter.address");
	expect_error("{" REP ", \"activity\": {\"sector\": null}}", TIP_EINVAL, "activity.sector");
	expect_error("{" REP ", \"activity\": {\"narrative\": true}}", TIP_EINVAL, "activity.narrative");
	expect_error("{" REP ", " ACT ", \"umbrella\": {\"officials\": [{\"region\": 110101}]}}", TIP_EINVAL,
	             "umbrella.officials[0].region");
	/* booleans */
	expect_error("{\"reporter\": {\"anonymous\": \"true\"}, " ACT "}", TIP_EINVAL, "reporter.anonymous");
	expect_error("{\"reporter\": {\"contact_allowed\": 1}, " ACT "}", TIP_EINVAL,
	             "reporter.contact_allowed");
	expect_error("{\"reporter\": {\"contact_allowed\": null}, " ACT "}", TIP_EINVAL,
	             "reporter.contact_allowed");
	/* arrays */
	expect_error("{" REP ", " ACT ", \"persons\": {\"name\": \"a\"}}", TIP_EINVAL, "persons");
	expect_error("{" REP ", \"activity\": {\"categories\": \"other\"}}", TIP_EINVAL,
	             "activity.categories");
	expect_error("{" REP ", " ACT ", \"persons\": [{\"aliases\": \"a\"}]}", TIP_EINVAL,
	             "persons[0].aliases");
	expect_error("{" REP ", " ACT ", \"umbrella\": {\"officials\": null}}", TIP_EINVAL,
	             "umbrella.officials");
	/* array elements */
	expect_error("{" REP ", \"activity\": {\"categories\": [\"other\", 7]}}", TIP_EINVAL,
	             "activity.categories[1]");
	expect_error("{" REP ", " ACT ", \"persons\": [{\"phones\": [\"1\", \"2\", [\"3\"]]}]}", TIP_EINVAL,
	             "persons[0].phones[2]");
	expect_error("{" REP ", " ACT ", \"persons\": [\"Li Si\"]}", TIP_EINVAL, "persons[0]");
	expect_error("{" REP ", " ACT ", \"umbrella\": {\"officials\": [{}, 5]}}", TIP_EINVAL,
	             "umbrella.officials[1]");
	/* objects */
	expect_error("{\"reporter\": \"me\", " ACT "}", TIP_EINVAL, "reporter");
	expect_error("{" REP ", \"activity\": []}", TIP_EINVAL, "activity");
	expect_error("{" REP ", " ACT ", \"umbrella\": [{}]}", TIP_EINVAL, "umbrella");
	expect_error("{\"reporter\": null, " ACT "}", TIP_EINVAL, "reporter");
}

static void test_arrays_too_long(void **state)
{
	(void)state;
	char json[4096];
	size_t o;

	/* The count is checked before any element: 21 numbers give "too many", not "wrong type". */
	o = (size_t)snprintf(json, sizeof(json), "{" REP ", " ACT ", \"persons\": [");
	for (int i = 0; i < 21; i++)
		o += (size_t)snprintf(json + o, sizeof(json) - o, "%s1", i ? "," : "");
	snprintf(json + o, sizeof(json) - o, "]}");
	expect_error(json, TIP_EOVERSIZE, "persons");

	o = (size_t)snprintf(json, sizeof(json), "{" REP ", \"activity\": {\"categories\": [");
	for (int i = 0; i < 11; i++)
		o += (size_t)snprintf(json + o, sizeof(json) - o, "%snull", i ? "," : "");
	snprintf(json + o, sizeof(json) - o, "]}}");
	expect_error(json, TIP_EOVERSIZE, "activity.categories");

	o = (size_t)snprintf(json, sizeof(json), "{" REP ", " ACT ", \"umbrella\": {\"officials\": [");
	for (int i = 0; i < 21; i++)
		o += (size_t)snprintf(json + o, sizeof(json) - o, "%s{}", i ? "," : "");
	snprintf(json + o, sizeof(json) - o, "]}}");
	expect_error(json, TIP_EOVERSIZE, "umbrella.officials");

	/* The limits are the caller's. */
	lim.max_list = 1;
	expect_error("{" REP ", " ACT ", \"persons\": [{\"aliases\": [\"a\", \"b\"]}]}", TIP_EOVERSIZE,
	             "persons[0].aliases");
	expect_error("{" REP ", " ACT ", \"persons\": [{\"phones\": [\"1\", 2]}]}", TIP_EOVERSIZE,
	             "persons[0].phones");
	lim.max_list = 2;
	jr_free(parse_ok("{" REP ", " ACT ", \"persons\": [{\"aliases\": [\"a\", \"b\"]}]}"));
	lim = report_limits_default();
}

static void test_required_blocks(void **state)
{
	(void)state;
	expect_error("{" ACT "}", TIP_EINVAL, "reporter");
	expect_error("{" REP "}", TIP_EINVAL, "activity");
	expect_error("{}", TIP_EINVAL, "reporter");
}

static void test_encoding_errors(void **state)
{
	(void)state;
	/* \u0000 in a value and in a key */
	expect_error("{\"reporter\": {\"name\": \"a\\u0000b\"}, " ACT "}", TIP_EDECODE, "reporter.name");
	expect_error("{\"reporter\": {\"na\\u0000me\": \"a\"}, " ACT "}", TIP_EDECODE,
	             "reporter.na\\u0000me");
	/* a raw NUL byte */
	{
		static const char raw_nul[] = "{\"reporter\": {\"name\": \"a\0b\"}}";

		expect_error_n(raw_nul, sizeof(raw_nul) - 1, TIP_EDECODE, "reporter.name");
	}
	/* invalid UTF-8: stray byte, overlong, encoded surrogate, truncated sequence, lone escaped surrogate
	 */
	expect_error("{" REP ", \"activity\": {\"narrative\": \"\xff"
	             "\"}}",
	             TIP_EDECODE, "activity.narrative");
	expect_error("{" REP ", \"activity\": {\"narrative\": \"\xc0\xaf\"}}", TIP_EDECODE,
	             "activity.narrative");
	expect_error("{" REP ", \"activity\": {\"place\": \"\xed\xa0\x80\"}}", TIP_EDECODE, "activity.place");
	expect_error("{" REP ", \"activity\": {\"place\": \"\xe4\xb8\"}}", TIP_EDECODE, "activity.place");
	expect_error("{" REP ", \"activity\": {\"place\": \"\\ud800\"}}", TIP_EDECODE, "activity.place");
	/* invalid UTF-8 in a key names the object it is in */
	expect_error("{\"reporter\": {\"n\xff\": 1}}", TIP_EDECODE, "reporter");
}

static void test_not_an_object(void **state)
{
	(void)state;
	expect_error("[]", TIP_EINVAL, "");
	expect_error("[{\"reporter\": {}}]", TIP_EINVAL, "");
	expect_error("42", TIP_EINVAL, "");
	expect_error("\"report\"", TIP_EINVAL, "");
	expect_error("null", TIP_EINVAL, "");
	expect_error("true", TIP_EINVAL, "");
}

static void test_malformed(void **state)
{
	(void)state;
	struct jr_error e;

	/* empty */
	expect_error("", TIP_EDECODE, "");
	expect_error("  \n", TIP_EDECODE, "");
	assert_null(jr_parse(NULL, 0, &lim, &e));
	assert_int_equal(e.code, TIP_EDECODE);
	assert_null(jr_parse(NULL, 5, &lim, &e));
	assert_int_equal(e.code, TIP_EINVAL);
	assert_null(jr_parse("{}", 2, NULL, &e));
	assert_int_equal(e.code, TIP_EINVAL);
	/* truncated, trailing text, syntax errors (named where the text says) */
	expect_error("{\"reporter\": {", TIP_EDECODE, "");
	expect_error("{" REP ", " ACT "} x", TIP_EDECODE, "");
	expect_error("{" REP ", " ACT "}{}", TIP_EDECODE, "");
	expect_error("{\"reporter\": {\"anonymous\": tru}}", TIP_EDECODE, "reporter.anonymous");
	expect_error("{\"reporter\": {\"name\": 'a'}}", TIP_EDECODE, "reporter.name");
	expect_error("{\"reporter\": {\"name\": \"a\",}}", TIP_EDECODE, "reporter");
	expect_error("{" REP ", " ACT ", \"persons\": [{}, {\"name\": \"a\" \"b\"}]}", TIP_EDECODE,
	             "persons[1].name");
	expect_error("{\"reporter\": {\"name\": 1e99999}}", TIP_EDECODE, "reporter.name");
	/* a body over the hard ceiling is refused before it is read */
	{
		char *big = malloc(JR_MAX_BODY + 1);

		assert_non_null(big);
		memset(big, ' ', JR_MAX_BODY + 1);
		expect_error_n(big, JR_MAX_BODY + 1, TIP_EOVERSIZE, "");
		free(big);
	}
}

static void test_deep_nesting(void **state)
{
	(void)state;
	size_t n = 100000, o;
	char *deep = malloc(2 * n + 64);

	assert_non_null(deep);
	/* Far deeper than jansson's own limit: refused by the scan before jansson recurses. */
	memset(deep, '[', n);
	memset(deep + n, ']', n);
	expect_error_n(deep, 2 * n, TIP_EDECODE, "");
	for (size_t i = 0; i < n; i++)
		memcpy(deep + 5 * i, "{\"a\":", i < n / 5 ? 5 : 0);
	expect_error_n(deep, n, TIP_EDECODE, "a.a.a.a.a.a.a.a");

	/* One past the limit inside a field names the field. */
	o = (size_t)snprintf(deep, 2 * n, "{\"activity\": {\"narrative\": ");
	for (int i = 0; i < JR_MAX_DEPTH - 1; i++)
		deep[o++] = '[';
	deep[o] = '\0';
	expect_error(deep, TIP_EDECODE, "activity.narrative[0][0][0][0][0][0]");
	/* At the limit the text parses and the type is wrong. */
	o = (size_t)snprintf(deep, 2 * n, "{\"activity\": {\"narrative\": ");
	for (int i = 0; i < JR_MAX_DEPTH - 2; i++)
		deep[o++] = '[';
	for (int i = 0; i < JR_MAX_DEPTH - 2; i++)
		deep[o++] = ']';
	memcpy(deep + o, "}}", 3);
	expect_error(deep, TIP_EINVAL, "activity.narrative");
	/* Brackets inside strings do not count. */
	jr_free(parse_ok("{" REP ", \"activity\": {\"narrative\": \"[[[[[[[[[[[[{{{{{{{{{{\\\"[[[[[[[[\"}}"));
	free(deep);
}

static void test_attachments(void **state)
{
	(void)state;
	struct jr_error e;
	struct jr_report *r = parse_ok("{" TV ", " REP ", " ACT "}");
	Tip__Report *rep = jr_report(r);
	uint8_t *big;

	assert_int_equal(jr_add_attachment(r, "a.jpg", NULL, jpeg, sizeof(jpeg), &e), TIP_ERANGE);
	assert_string_equal(e.field, "activity.attachments[0].content_type");
	assert_int_equal(jr_add_attachment(r, "a.jpg", "image/jpeg", jpeg, 0, &e), TIP_EINVAL);
	assert_string_equal(e.field, "activity.attachments[0].data");
	assert_int_equal(jr_add_attachment(r, "a.jpg", "image/jpeg", NULL, 3, &e), TIP_EINVAL);
	assert_int_equal(rep->activity->n_attachments, 0);

	/* The total is capped: one byte under the cap fits, then one more byte does not. */
	lim.attachment_bytes = 100;
	jr_free(r);
	r = parse_ok("{" TV ", " REP ", " ACT "}");
	rep = jr_report(r);
	lim = report_limits_default();
	big = calloc(1, 100);
	assert_non_null(big);
	memcpy(big, jpeg, sizeof(jpeg));
	assert_int_equal(jr_add_attachment(r, NULL, "image/jpeg", big, 99, &e), TIP_OK);
	assert_string_equal(rep->activity->attachments[0]->filename, "");
	assert_int_equal(jr_add_attachment(r, "b.jpg", "image/jpeg", big, 2, &e), TIP_EOVERSIZE);
	assert_string_equal(e.field, "activity.attachments[1].data");
	assert_int_equal(jr_add_attachment(r, "b.jpg", "image/jpeg", big, 1, &e), TIP_OK);
	assert_int_equal(rep->activity->n_attachments, 2);
	assert_int_equal(jr_finish(r, qhash, tax, &lim, &e), TIP_OK);
	jr_free(r);
	free(big);

	/* The count is capped. */
	r = parse_ok("{" TV ", " REP ", " ACT "}");
	rep = jr_report(r);
	for (size_t i = 0; i < lim.max_attachments; i++)
		assert_int_equal(jr_add_attachment(r, "p.jpg", "image/jpeg", jpeg, sizeof(jpeg), &e), TIP_OK);
	assert_int_equal(jr_add_attachment(r, "p.jpg", "image/jpeg", jpeg, sizeof(jpeg), &e), TIP_EOVERSIZE);
	assert_string_equal(e.field, "activity.attachments");
	assert_int_equal(rep->activity->n_attachments, lim.max_attachments);
	for (size_t i = 0; i < lim.max_attachments; i++)
		assert_memory_equal(rep->activity->attachments[i]->data.data, jpeg, sizeof(jpeg));
	assert_int_equal(jr_finish(r, qhash, tax, &lim, &e), TIP_OK);

	/* report_validate still has the last word on what was added. */
	jr_free(r);
	r = parse_ok("{" TV ", " REP ", " ACT "}");
	assert_int_equal(jr_add_attachment(r, "../x.jpg", "image/jpeg", jpeg, sizeof(jpeg), &e), TIP_OK);
	assert_int_equal(jr_finish(r, qhash, tax, &lim, &e), TIP_EINVAL);
	assert_string_equal(e.field, "activity.attachments[0].filename");
	jr_free(r);
	r = parse_ok("{" TV ", " REP ", " ACT "}");
	assert_int_equal(jr_add_attachment(r, "x.exe", "application/x-msdownload", jpeg, sizeof(jpeg), &e),
	                 TIP_OK);
	assert_int_equal(jr_finish(r, qhash, tax, &lim, &e), TIP_ERANGE);
	assert_string_equal(e.field, "activity.attachments[0].content_type");
	jr_free(r);
	assert_int_equal(jr_add_attachment(NULL, "x", "image/jpeg", jpeg, 1, &e), TIP_EINVAL);
}

static void test_finish_validates(void **state)
{
	(void)state;
	static const struct {
		const char *json;
		int code;
		const char *field;
	} cases[] = {
	        {"{\"taxonomy_version\": \"1999.1\", " REP ", " ACT "}", TIP_ERANGE, "taxonomy_version"},
	        {"{" REP ", " ACT "}", TIP_ERANGE, "taxonomy_version"},
	        {"{" TV ", \"locale\": \"fr\", " REP ", " ACT "}", TIP_ERANGE, "locale"},
	        {"{" TV ", \"reporter\": {\"anonymous\": true, \"name\": \"x\"}, " ACT "}", TIP_EINVAL,
	         "reporter.anonymous"},
	        {"{" TV ", \"reporter\": {\"name\": \"x\"}, " ACT "}", TIP_EINVAL, "reporter.phone"},
	        {"{" TV ", " REP ", \"activity\": {\"categories\": [\"jaywalking\"], \"region\": \"110101\", "
	         "\"narrative\": \"x\"}}",
	         TIP_ERANGE, "activity.categories[0]"},
	        {"{" TV ", " REP
	         ", \"activity\": {\"categories\": [], \"region\": \"110101\", \"narrative\": \"x\"}}",
	         TIP_EINVAL, "activity.categories"},
	        {"{" TV ", " REP ", \"activity\": {\"categories\": [\"other\"], \"region\": \"999999\", "
	         "\"narrative\": \"x\"}}",
	         TIP_ERANGE, "activity.region"},
	        {"{" TV ", " REP ", " ACT ", \"persons\": [{}]}", TIP_EINVAL, "persons[0].name"},
	        {"{" TV ", " REP ", " ACT ", \"persons\": [{\"name\": \"a\", \"phones\": [\"12\"]}]}",
	         TIP_EINVAL, "persons[0].phones[0]"},
	        {"{" TV ", " REP ", " ACT
	         ", \"umbrella\": {\"officials\": [{\"name\": \"a\", \"region\": \"1\"}]}}",
	         TIP_ERANGE, "umbrella.officials[0].region"},
	        {"{" TV ", " REP ", \"activity\": {\"categories\": [\"other\"], \"region\": \"110101\", "
	         "\"narrative\": \"a\\u0001b\"}}",
	         TIP_EINVAL, "activity.narrative"},
	};
	struct jr_error e;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct jr_report *r = parse_ok(cases[i].json);
		int rc = jr_finish(r, qhash, tax, &lim, &e);

		if (rc != cases[i].code || e.code != rc || strcmp(e.field, cases[i].field) != 0)
			fail_msg("case %zu: got %d/%d \"%s\", want %d \"%s\"", i, rc, e.code, e.field,
			         cases[i].code, cases[i].field);
		assert_true(e.message[0] != '\0');
		jr_free(r);
	}
	assert_int_equal(jr_finish(NULL, qhash, tax, &lim, &e), TIP_EINVAL);
}

/* Deterministic mutations of the full report: every outcome is a report or a named, well-formed error. */
static void test_mutations(void **state)
{
	(void)state;
	size_t len = strlen(full_json);
	char *buf = malloc(len);
	uint64_t x = 0x2545f4914f6cdd1dULL;
	size_t parsed = 0;

	assert_non_null(buf);
	for (int round = 0; round < 5000; round++) {
		struct jr_error e;
		struct jr_report *r;
		size_t n = len;

		memcpy(buf, full_json, len);
		for (int k = 0; k < 1 + round % 3; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			if (round % 5 == 0)
				n = x % (len + 1);
			else
				buf[x % len] = (char)(x >> 32);
		}
		r = jr_parse(buf, n, &lim, &e);
		if (r) {
			parsed++;
			assert_int_equal(e.code, TIP_OK);
			jr_finish(r, qhash, tax, &lim, &e);
			jr_free(r);
		} else {
			assert_true(e.code < 0);
			assert_true(e.message[0] != '\0');
		}
		assert_true(codec_utf8_ok((const uint8_t *)e.field, strlen(e.field)) || e.field[0] == '\0');
		assert_true(strlen(e.field) < REPORT_FIELD_MAX);
	}
	assert_true(parsed > 0);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_full_report),      cmocka_unit_test(test_minimal_report),
	        cmocka_unit_test(test_unknown_keys),     cmocka_unit_test(test_duplicate_keys),
	        cmocka_unit_test(test_wrong_types),      cmocka_unit_test(test_arrays_too_long),
	        cmocka_unit_test(test_required_blocks),  cmocka_unit_test(test_encoding_errors),
	        cmocka_unit_test(test_not_an_object),    cmocka_unit_test(test_malformed),
	        cmocka_unit_test(test_deep_nesting),     cmocka_unit_test(test_attachments),
	        cmocka_unit_test(test_finish_validates), cmocka_unit_test(test_mutations),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
