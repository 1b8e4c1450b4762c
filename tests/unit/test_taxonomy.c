#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "proto/taxonomy.h"
#include "common/err.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The 31 mainland provincial-level units every edition of GB/T 2260 has. */
static const char *const mainland[] = {
        "110000", "120000", "130000", "140000", "150000", "210000", "220000", "230000",
        "310000", "320000", "330000", "340000", "350000", "360000", "370000", "410000",
        "420000", "430000", "440000", "450000", "460000", "500000", "510000", "520000",
        "530000", "540000", "610000", "620000", "630000", "640000", "650000",
};

static char *real_dir(void)
{
	const char *src = getenv("TIP_SOURCE_DIR");
	size_t n;
	char *p;

	if (!src) {
		print_error("TIP_SOURCE_DIR is not set\n");
		abort();
	}
	n = strlen(src) + sizeof("/proto/taxonomy");
	p = malloc(n);
	assert_non_null(p);
	snprintf(p, n, "%s/proto/taxonomy", src);
	return p;
}

static struct taxonomy *load_real(void)
{
	char *dir = real_dir();
	int err = 1;
	struct taxonomy *t = tax_load(dir, &err);

	assert_int_equal(err, TIP_OK);
	assert_non_null(t);
	free(dir);
	return t;
}

/* ---- the shipped data ---- */

static void test_real_lists(void **state)
{
	(void)state;
	struct taxonomy *t = load_real();
	static const size_t min_count[TAX_LIST_COUNT] = {10, 11, 10, 7, 3};

	assert_non_null(tax_version(t));
	assert_true(strlen(tax_version(t)) > 0);
	for (int l = 0; l < TAX_LIST_COUNT; l++) {
		size_t n = tax_count(t, (enum tax_list)l);

		assert_true(n >= min_count[l]);
		assert_null(tax_item_at(t, (enum tax_list)l, n));
		for (size_t i = 0; i < n; i++) {
			const struct tax_item *it = tax_item_at(t, (enum tax_list)l, i);

			assert_non_null(it);
			assert_true(strlen(it->zh) > 0);
			assert_true(strlen(it->en) > 0);
			/* Every code finds exactly its own item, so no code appears twice in a list. */
			assert_ptr_equal(tax_find(t, (enum tax_list)l, it->code), it);
			for (size_t j = 0; j < i; j++)
				assert_string_not_equal(tax_item_at(t, (enum tax_list)l, j)->code, it->code);
		}
	}
	assert_string_equal(tax_find(t, TAX_CRIME_CATEGORY, "mafia_organisation")->zh, "黑社会性质组织");
	assert_string_equal(tax_find(t, TAX_CRIME_CATEGORY, "protective_umbrella")->zh, "黑恶势力“保护伞”");
	assert_string_equal(tax_find(t, TAX_SECTOR, "natural_resources")->zh, "自然资源");
	assert_string_equal(tax_find(t, TAX_STAGE, "not_accepted")->zh, "不予受理");
	assert_string_equal(tax_find(t, TAX_RESULT, "partially_substantiated")->zh, "部分属实");
	assert_string_equal(tax_find(t, TAX_CHANNEL, "sms")->zh, "短信");
	assert_string_equal(tax_item_at(t, TAX_STAGE, 0)->code, "received");
	assert_null(tax_find(t, TAX_CRIME_CATEGORY, "Mafia_organisation"));
	assert_null(tax_find(t, TAX_CRIME_CATEGORY, "mafia_organisatio"));
	assert_null(tax_find(t, TAX_CRIME_CATEGORY, ""));
	assert_null(tax_find(t, TAX_CRIME_CATEGORY, NULL));
	assert_null(tax_find(t, TAX_SECTOR, "sms"));
	assert_null(tax_find(t, TAX_LIST_COUNT, "sms"));
	assert_int_equal(tax_count(t, TAX_LIST_COUNT), 0);
	assert_null(tax_item_at(t, TAX_LIST_COUNT, 0));
	assert_string_equal(tax_list_name(TAX_CHANNEL), "channels");
	assert_null(tax_list_name(TAX_LIST_COUNT));
	tax_free(t);
}

static void test_real_regions(void **state)
{
	(void)state;
	struct taxonomy *t = load_real();
	size_t n = tax_region_count(t), per_level[4] = {0}, with_en = 0, direct = 0;
	const struct tax_region *r;

	assert_true(n > 3000);
	for (size_t i = 0; i < n; i++) {
		r = tax_region_at(t, i);
		assert_non_null(r);
		assert_int_equal(strlen(r->code), 6);
		assert_true(strlen(r->zh) > 0);
		assert_non_null(r->en);
		if (i > 0)
			assert_true(strcmp(tax_region_at(t, i - 1)->code, r->code) < 0);
		assert_ptr_equal(tax_region(t, r->code), r);
		assert_true(r->level >= TAX_PROVINCE && r->level <= TAX_COUNTY);
		per_level[r->level]++;
		if (r->en != r->zh)
			with_en++;
		if (r->level == TAX_PROVINCE) {
			assert_null(r->parent);
			assert_true(r->en != r->zh);
		} else {
			assert_non_null(r->parent);
			assert_true(r->parent->level < r->level);
			assert_memory_equal(r->parent->code, r->code,
			                    r->parent->level == TAX_PROVINCE ? 2 : 4);
			if (r->level == TAX_COUNTY && r->parent->level == TAX_PROVINCE)
				direct++;
		}
		assert_int_equal(tax_region_province(r)->level, TAX_PROVINCE);
		assert_memory_equal(tax_region_province(r)->code, r->code, 2);
	}
	assert_null(tax_region_at(t, n));
	print_message("regions: %zu (%zu provincial, %zu prefecture, %zu county, %zu county directly under a "
	              "province, %zu with English names)\n",
	              n, per_level[1], per_level[2], per_level[3], direct, with_en);
	assert_true(per_level[TAX_PROVINCE] >= 31);
	assert_int_equal(with_en, per_level[TAX_PROVINCE]);
	for (size_t i = 0; i < sizeof(mainland) / sizeof(mainland[0]); i++) {
		r = tax_region(t, mainland[i]);
		assert_non_null(r);
		assert_int_equal(r->level, TAX_PROVINCE);
	}

	r = tax_region(t, "110000");
	assert_non_null(r);
	assert_string_equal(r->zh, "北京市");
	assert_string_equal(r->en, "Beijing");
	r = tax_region(t, "440300");
	assert_non_null(r);
	assert_string_equal(r->zh, "深圳市");
	assert_int_equal(r->level, TAX_PREFECTURE);
	assert_string_equal(r->parent->code, "440000");
	assert_string_equal(r->parent->zh, "广东省");
	assert_ptr_equal(r->en, r->zh);
	r = tax_region(t, "110101");
	assert_non_null(r);
	assert_string_equal(r->zh, "东城区");
	assert_int_equal(r->level, TAX_COUNTY);
	assert_string_equal(r->parent->code, "110000");
	r = tax_region(t, "440305");
	assert_non_null(r);
	assert_string_equal(r->parent->code, "440300");
	assert_string_equal(tax_region_province(r)->code, "440000");
	r = tax_region(t, "429004");
	assert_non_null(r);
	assert_string_equal(r->zh, "仙桃市");
	assert_string_equal(r->parent->code, "420000");
	r = tax_region(t, "441900");
	assert_non_null(r);
	assert_string_equal(r->zh, "东莞市");
	assert_int_equal(r->level, TAX_PREFECTURE);

	/* Placeholder levels of the statistical data are not regions. */
	assert_null(tax_region(t, "110100"));
	assert_null(tax_region(t, "429000"));
	/* Malformed codes are refused before any search. */
	assert_null(tax_region(t, "11000"));
	assert_null(tax_region(t, "1100000"));
	assert_null(tax_region(t, "11000a"));
	assert_null(tax_region(t, "000000"));
	assert_null(tax_region(t, ""));
	assert_null(tax_region(t, NULL));
	assert_null(tax_region(NULL, "110000"));
	assert_null(tax_region_province(NULL));
	tax_free(t);
	tax_free(NULL);
}

static void test_real_to_json(void **state)
{
	(void)state;
	struct taxonomy *t = load_real();
	json_t *form = tax_to_json(t), *back, *lists, *regions, *v;
	json_error_t jerr;
	char *text;
	size_t i;

	assert_non_null(form);
	text = json_dumps(form, JSON_COMPACT);
	assert_non_null(text);
	print_message("form JSON: %zu bytes\n", strlen(text));
	back = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	assert_non_null(back);
	assert_true(json_equal(form, back));
	assert_string_equal(json_string_value(json_object_get(back, "version")), tax_version(t));
	lists = json_object_get(back, "lists");
	assert_int_equal(json_object_size(lists), TAX_LIST_COUNT);
	for (int l = 0; l < TAX_LIST_COUNT; l++) {
		json_t *arr = json_object_get(lists, tax_list_name((enum tax_list)l));

		assert_int_equal(json_array_size(arr), tax_count(t, (enum tax_list)l));
		json_array_foreach(arr, i, v)
		{
			const struct tax_item *it = tax_item_at(t, (enum tax_list)l, i);

			assert_int_equal(json_object_size(v), 3);
			assert_string_equal(json_string_value(json_object_get(v, "code")), it->code);
			assert_string_equal(json_string_value(json_object_get(v, "zh")), it->zh);
			assert_string_equal(json_string_value(json_object_get(v, "en")), it->en);
		}
	}
	regions = json_object_get(back, "regions");
	assert_int_equal(json_array_size(regions), tax_region_count(t));
	json_array_foreach(regions, i, v)
	{
		const struct tax_region *r = tax_region_at(t, i);
		json_t *parent = json_object_get(v, "parent");

		assert_string_equal(json_string_value(json_object_get(v, "code")), r->code);
		assert_string_equal(json_string_value(json_object_get(v, "zh")), r->zh);
		if (r->level == TAX_PROVINCE) {
			assert_true(json_is_null(parent));
			assert_string_equal(json_string_value(json_object_get(v, "en")), r->en);
		} else {
			assert_string_equal(json_string_value(parent), r->parent->code);
			assert_null(json_object_get(v, "en"));
		}
	}
	free(text);
	json_decref(back);
	json_decref(form);
	assert_null(tax_to_json(NULL));
	tax_free(t);
}

/* ---- malformed files, each written to a fresh directory ---- */

static const char base_tax[] =
        "{\"version\": \"t1\", \"lists\": {"
        "\"crime_categories\": [{\"code\": \"a\", \"zh\": \"甲\", \"en\": \"A\"}, "
        "{\"code\": \"b_2\", \"zh\": \"乙\", \"en\": \"B\"}], "
        "\"sectors\": [{\"code\": \"s\", \"zh\": \"行业\", \"en\": \"S\"}], "
        "\"stages\": [{\"code\": \"received\", \"zh\": \"已接收\", \"en\": \"Received\"}], "
        "\"results\": [{\"code\": \"pending\", \"zh\": \"待定\", \"en\": \"Pending\"}], "
        "\"channels\": [{\"code\": \"sms\", \"zh\": \"短信\", \"en\": \"SMS\"}]}}";

static const char base_reg[] =
        "{\"source\": {\"package\": \"p\", \"version\": \"1\", \"license\": \"MIT\"}, "
        "\"regions\": [\n"
        "{\"code\": \"110000\", \"zh\": \"北京市\", \"en\": \"Beijing\", \"parent\": null},\n"
        "{\"code\": \"110101\", \"zh\": \"东城区\", \"parent\": \"110000\"},\n"
        "{\"code\": \"420000\", \"zh\": \"湖北省\", \"parent\": null},\n"
        "{\"code\": \"420100\", \"zh\": \"武汉市\", \"parent\": \"420000\"},\n"
        "{\"code\": \"420102\", \"zh\": \"江岸区\", \"parent\": \"420100\"},\n"
        "{\"code\": \"429004\", \"zh\": \"仙桃市\", \"parent\": \"420000\"}]}";

/* s with its one occurrence of from replaced by to (the test fails if from is not there exactly once). */
static char *subst(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);
	size_t n;
	char *out;

	assert_non_null(at);
	assert_null(strstr(at + 1, from));
	n = strlen(s) - strlen(from) + strlen(to) + 1;
	out = malloc(n);
	assert_non_null(out);
	snprintf(out, n, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
	return out;
}

static void write_file(const char *dir, const char *name, const char *data, size_t len)
{
	char path[1024];
	FILE *f;

	assert_true((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) < sizeof(path));
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Writes the pair to a new directory, loads it and returns the error (the taxonomy, if any, is freed). */
static int load_pair(const char *tax, const char *reg)
{
	char *dir = tu_mkdtemp();
	struct taxonomy *t;
	int err = 1;

	if (tax)
		write_file(dir, "taxonomy.json", tax, strlen(tax));
	if (reg)
		write_file(dir, "regions.json", reg, strlen(reg));
	t = tax_load(dir, &err);
	assert_true((t != NULL) == (err == TIP_OK));
	tax_free(t);
	tu_rmtree(dir);
	free(dir);
	return err;
}

static int load_tax_variant(const char *from, const char *to)
{
	char *tax = subst(base_tax, from, to);
	int err = load_pair(tax, base_reg);

	free(tax);
	return err;
}

static int load_reg_variant(const char *from, const char *to)
{
	char *reg = subst(base_reg, from, to);
	int err = load_pair(base_tax, reg);

	free(reg);
	return err;
}

static void test_base_loads(void **state)
{
	(void)state;
	struct taxonomy *t;
	const struct tax_region *r;
	int err = 1;

	assert_int_equal(load_pair(base_tax, base_reg), TIP_OK);
	t = tax_parse(base_tax, strlen(base_tax), base_reg, strlen(base_reg), &err);
	assert_int_equal(err, TIP_OK);
	assert_non_null(t);
	assert_string_equal(tax_version(t), "t1");
	assert_int_equal(tax_count(t, TAX_CRIME_CATEGORY), 2);
	assert_int_equal(tax_region_count(t), 6);
	r = tax_region(t, "429004");
	assert_non_null(r);
	assert_ptr_equal(r->parent, tax_region(t, "420000"));
	assert_ptr_equal(r->en, r->zh);
	assert_ptr_equal(tax_region_province(tax_region(t, "420102")), tax_region(t, "420000"));
	tax_free(t);
	assert_null(tax_parse(NULL, 0, base_reg, strlen(base_reg), &err));
	assert_int_equal(err, TIP_EINVAL);
	assert_null(tax_load(NULL, &err));
	assert_int_equal(err, TIP_EINVAL);
}

static void test_rejects_taxonomy(void **state)
{
	(void)state;
	static const struct {
		const char *from, *to;
	} bad[] = {
	        /* duplicate code */
	        {"\"b_2\"", "\"a\""},
	        /* missing, empty, non-string and control-character labels */
	        {"\"zh\": \"乙\", ", ""},
	        {", \"en\": \"B\"", ""},
	        {"\"zh\": \"乙\"", "\"zh\": 2"},
	        {"\"en\": \"B\"", "\"en\": null"},
	        {"\"en\": \"B\"", "\"en\": \"\""},
	        {"\"en\": \"B\"", "\"en\": \"B\\u0001\""},
	        {"\"en\": \"B\"", "\"en\": \"B\\n\""},
	        /* bad code characters and lengths */
	        {"\"b_2\"", "\"B_2\""},
	        {"\"b_2\"", "\"b-2\""},
	        {"\"b_2\"", "\"b 2\""},
	        {"\"b_2\"", "\"\""},
	        {"\"b_2\"", "\"b\\u00e9\""},
	        {"\"b_2\"", "\"abcdefghijklmnopqrstuvwxyz0123456\""},
	        {"\"b_2\"", "2"},
	        {"{\"code\": \"b_2\", ", "{"},
	        /* unknown or missing lists, wrong shapes */
	        {"\"sectors\"", "\"colours\""},
	        {", \"channels\": [{\"code\": \"sms\", \"zh\": \"短信\", \"en\": \"SMS\"}]", ""},
	        {"\"channels\": [{\"code\": \"sms\", \"zh\": \"短信\", \"en\": \"SMS\"}]",
	         "\"channels\": []"},
	        {"\"channels\": [{\"code\": \"sms\", \"zh\": \"短信\", \"en\": \"SMS\"}]",
	         "\"channels\": {}"},
	        {"[{\"code\": \"s\", \"zh\": \"行业\", \"en\": \"S\"}]", "[\"s\"]"},
	        /* unknown keys, bad deprecated flag */
	        {"\"en\": \"B\"", "\"en\": \"B\", \"deprecate\": true"},
	        {"\"en\": \"B\"", "\"en\": \"B\", \"deprecated\": 1"},
	        {"{\"version\": \"t1\", ", "{\"version\": \"t1\", \"extra\": 1, "},
	        /* missing, empty or malformed version */
	        {"\"version\": \"t1\", ", ""},
	        {"\"version\": \"t1\"", "\"version\": \"\""},
	        {"\"version\": \"t1\"", "\"version\": 1"},
	        {"\"version\": \"t1\"", "\"version\": \"t 1\""},
	        {"\"version\": \"t1\"", "\"version\": \"123456789012345678901234567890123\""},
	        /* invalid JSON: truncated, trailing garbage, duplicate key, not an object */
	        {"\"SMS\"}]}}", "\"SMS\"}]}"},
	        {"\"SMS\"}]}}", "\"SMS\"}]}} x"},
	        {"\"version\": \"t1\"", "\"version\": \"t1\", \"version\": \"t2\""},
	        {"\"zh\": \"乙\", \"en\": \"B\"", "\"zh\": \"乙\", \"zh\": \"丙\", \"en\": \"B\""},
	        {"{\"version\": \"t1\", \"lists\": {", "[{\"version\": \"t1\", \"lists\": {"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int err = load_tax_variant(bad[i].from, bad[i].to);

		if (err != TIP_EFORMAT)
			print_error("taxonomy variant %zu (%s -> %s) gave %d\n", i, bad[i].from, bad[i].to,
			            err);
		assert_int_equal(err, TIP_EFORMAT);
	}
}

static void test_rejects_regions(void **state)
{
	(void)state;
	static const struct {
		const char *from, *to;
	} bad[] = {
	        /* orphans: parent missing or null */
	        {"\"parent\": \"110000\"", "\"parent\": \"120000\""},
	        {"\"parent\": \"110000\"", "\"parent\": null"},
	        {"\"parent\": \"110000\"", "\"parent\": \"11000\""},
	        {"\"parent\": \"110000\"", "\"parent\": 110000"},
	        {", \"parent\": \"110000\"", ""},
	        {"{\"code\": \"420000\", \"zh\": \"湖北省\", \"parent\": null},\n", ""},
	        /* a code that does not fit where its parent puts it */
	        {"\"parent\": \"420100\"", "\"parent\": \"420000\""},
	        {"\"parent\": \"420100\"", "\"parent\": \"110000\""},
	        {"\"parent\": \"420100\"", "\"parent\": \"420102\""},
	        {"\"zh\": \"武汉市\", \"parent\": \"420000\"", "\"zh\": \"武汉市\", \"parent\": \"110000\""},
	        {"\"zh\": \"湖北省\", \"parent\": null", "\"zh\": \"湖北省\", \"parent\": \"110000\""},
	        {"\"zh\": \"仙桃市\", \"parent\": \"420000\"", "\"zh\": \"仙桃市\", \"parent\": \"420100\""},
	        /* bad codes, duplicates, order */
	        {"\"110101\"", "\"11010\""},
	        {"\"110101\"", "\"1101011\""},
	        {"\"110101\"", "\"11010a\""},
	        {"\"110101\"", "\"110001\""},
	        {"\"110101\"", "110101"},
	        {"\"110000\", \"zh\": \"北京市\"", "\"000000\", \"zh\": \"北京市\""},
	        {"{\"code\": \"429004\", \"zh\": \"仙桃市\", \"parent\": \"420000\"}]",
	         "{\"code\": \"429004\", \"zh\": \"仙桃市\", \"parent\": \"420000\"},\n"
	         "{\"code\": \"429004\", \"zh\": \"仙桃市\", \"parent\": \"420000\"}]"},
	        {"{\"code\": \"420102\", \"zh\": \"江岸区\", \"parent\": \"420100\"},\n"
	         "{\"code\": \"429004\", \"zh\": \"仙桃市\", \"parent\": \"420000\"}",
	         "{\"code\": \"429004\", \"zh\": \"仙桃市\", \"parent\": \"420000\"},\n"
	         "{\"code\": \"420102\", \"zh\": \"江岸区\", \"parent\": \"420100\"}"},
	        /* labels and keys */
	        {"\"zh\": \"东城区\", ", ""},
	        {"\"zh\": \"东城区\"", "\"zh\": \"\""},
	        {"\"zh\": \"东城区\"", "\"zh\": [\"东城区\"]"},
	        {"\"en\": \"Beijing\"", "\"en\": 1"},
	        {"\"zh\": \"东城区\"", "\"zh\": \"东城区\", \"name\": \"x\""},
	        /* a live region may not hang under a deprecated one */
	        {"\"en\": \"Beijing\"", "\"en\": \"Beijing\", \"deprecated\": true"},
	        /* provenance */
	        {"\"source\": {\"package\": \"p\", \"version\": \"1\", \"license\": \"MIT\"}, ", ""},
	        {", \"license\": \"MIT\"", ""},
	        {"\"version\": \"1\"", "\"version\": \"\""},
	        {"\"regions\": [", "\"regions\": {\"a\": ["},
	        /* invalid JSON */
	        {"\"仙桃市\"", "\"仙桃市"},
	        {"\"仙桃市\"", "\"\xe4\xbb\""},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int err = load_reg_variant(bad[i].from, bad[i].to);

		if (err != TIP_EFORMAT)
			print_error("regions variant %zu (%s -> %s) gave %d\n", i, bad[i].from, bad[i].to,
			            err);
		assert_int_equal(err, TIP_EFORMAT);
	}
	assert_int_equal(load_pair(base_tax,
	                           "{\"source\": {\"package\": \"p\", \"version\": \"1\", \"license\": "
	                           "\"MIT\"}, \"regions\": []}"),
	                 TIP_EFORMAT);
	assert_int_equal(load_pair(base_tax, ""), TIP_EFORMAT);
}

static void test_missing_files(void **state)
{
	(void)state;
	assert_int_equal(load_pair(base_tax, NULL), TIP_ENOTFOUND);
	assert_int_equal(load_pair(NULL, base_reg), TIP_ENOTFOUND);
}

/* A file exactly at the cap loads; one byte more is refused before it is parsed. */
static void test_size_cap(void **state)
{
	(void)state;
	size_t base = strlen(base_reg);
	char *big = malloc(TAX_FILE_CAP + 2);
	char *dir = tu_mkdtemp();
	struct taxonomy *t;
	int err = 1;

	assert_non_null(big);
	memcpy(big, base_reg, base);
	memset(big + base, ' ', TAX_FILE_CAP + 1 - base);
	big[TAX_FILE_CAP + 1] = '\0';
	write_file(dir, "taxonomy.json", base_tax, strlen(base_tax));
	write_file(dir, "regions.json", big, TAX_FILE_CAP);
	t = tax_load(dir, &err);
	assert_int_equal(err, TIP_OK);
	tax_free(t);
	write_file(dir, "regions.json", big, TAX_FILE_CAP + 1);
	assert_null(tax_load(dir, &err));
	assert_int_equal(err, TIP_EOVERSIZE);
	assert_null(tax_parse(base_tax, strlen(base_tax), big, TAX_FILE_CAP + 1, &err));
	assert_int_equal(err, TIP_EOVERSIZE);
	write_file(dir, "regions.json", base_reg, base);
	write_file(dir, "taxonomy.json", big, TAX_FILE_CAP + 1);
	assert_null(tax_load(dir, &err));
	assert_int_equal(err, TIP_EOVERSIZE);
	tu_rmtree(dir);
	free(dir);
	free(big);
}

/*
 * n valid regions: provinces 110000 and 120000, each followed by counties with no prefecture in the file
 * (so they sit directly under the province). Needs n <= 2 + 2 * 99 * 99.
 */
static char *gen_regions(size_t n)
{
	size_t cap = n * 64 + 256, len = 0;
	char *s = malloc(cap);
	size_t made = 0;

	assert_non_null(s);
	assert_true(n >= 2 && n <= 2 + 2 * 99 * 99);
	len += (size_t)snprintf(s, cap,
	                        "{\"source\": {\"package\": \"p\", \"version\": \"1\", \"license\": \"x\"}, "
	                        "\"regions\": [");
	for (int p = 11; p <= 12; p++) {
		len += (size_t)snprintf(s + len, cap - len,
		                        "%s{\"code\":\"%d0000\",\"zh\":\"p\",\"parent\":null}",
		                        made ? "," : "", p);
		made++;
		for (int m = 1; m <= 99 && made < n && (p == 12 || made < (n + 1) / 2); m++)
			for (int c = 1; c <= 99 && made < n && (p == 12 || made < (n + 1) / 2); c++) {
				len += (size_t)snprintf(
				        s + len, cap - len,
				        ",{\"code\":\"%d%02d%02d\",\"zh\":\"x\",\"parent\":\"%d0000\"}", p, m,
				        c, p);
				made++;
			}
	}
	len += (size_t)snprintf(s + len, cap - len, "]}");
	assert_true(len < cap);
	assert_int_equal(made, n);
	return s;
}

static char *gen_tax(size_t n_items)
{
	size_t cap = n_items * 64 + 64, len = 0;
	char *items = malloc(cap), *tax;

	assert_non_null(items);
	items[0] = '\0';
	for (size_t i = 0; i < n_items; i++)
		len += (size_t)snprintf(items + len, cap - len,
		                        "%s{\"code\":\"c%zu\",\"zh\":\"x\",\"en\":\"x\"}", i ? "," : "", i);
	assert_true(len < cap);
	tax = subst(base_tax, "{\"code\": \"s\", \"zh\": \"行业\", \"en\": \"S\"}", items);
	free(items);
	return tax;
}

/* Lists and the region table have count caps of their own, well inside the byte cap. */
static void test_count_caps(void **state)
{
	(void)state;
	char *reg = gen_regions(TAX_MAX_REGIONS), *tax = gen_tax(TAX_MAX_ITEMS);

	assert_int_equal(load_pair(tax, reg), TIP_OK);
	free(reg);
	free(tax);
	reg = gen_regions(TAX_MAX_REGIONS + 1);
	tax = gen_tax(TAX_MAX_ITEMS + 1);
	assert_int_equal(load_pair(base_tax, reg), TIP_EOVERSIZE);
	assert_int_equal(load_pair(tax, base_reg), TIP_EOVERSIZE);
	free(reg);
	free(tax);
}

static void test_deprecated(void **state)
{
	(void)state;
	char *tax = subst(base_tax, "\"en\": \"B\"", "\"en\": \"B\", \"deprecated\": true");
	char *reg = subst(base_reg, "\"zh\": \"东城区\"", "\"zh\": \"东城区\", \"deprecated\": false");
	char *reg2 = subst(reg, "\"zh\": \"仙桃市\"", "\"zh\": \"仙桃市\", \"deprecated\": true");
	struct taxonomy *t;
	json_t *form, *arr;
	int err = 1;

	t = tax_parse(tax, strlen(tax), reg2, strlen(reg2), &err);
	assert_int_equal(err, TIP_OK);
	assert_non_null(t);
	/* Old reports still validate... */
	assert_true(tax_find(t, TAX_CRIME_CATEGORY, "b_2")->deprecated);
	assert_false(tax_find(t, TAX_CRIME_CATEGORY, "a")->deprecated);
	assert_true(tax_region(t, "429004")->deprecated);
	assert_false(tax_region(t, "110101")->deprecated);
	/* ...but forms no longer offer the code. */
	form = tax_to_json(t);
	assert_non_null(form);
	arr = json_object_get(json_object_get(form, "lists"), "crime_categories");
	assert_int_equal(json_array_size(arr), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(arr, 0), "code")), "a");
	assert_int_equal(json_array_size(json_object_get(form, "regions")), 5);
	json_decref(form);
	tax_free(t);
	free(tax);
	free(reg);
	free(reg2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_real_lists),       cmocka_unit_test(test_real_regions),
	        cmocka_unit_test(test_real_to_json),     cmocka_unit_test(test_base_loads),
	        cmocka_unit_test(test_rejects_taxonomy), cmocka_unit_test(test_rejects_regions),
	        cmocka_unit_test(test_missing_files),    cmocka_unit_test(test_size_cap),
	        cmocka_unit_test(test_count_caps),       cmocka_unit_test(test_deprecated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
