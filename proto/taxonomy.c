#include "proto/taxonomy.h"

#include "common/err.h"
#include "common/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct tax_list_data {
	struct tax_item *items;         /* file order */
	const struct tax_item **sorted; /* by code, for bsearch */
	size_t n;
};

struct taxonomy {
	/* The parsed documents own every string the items and regions point to. */
	json_t *tax_doc;
	json_t *reg_doc;
	const char *version;
	struct tax_list_data lists[TAX_LIST_COUNT];
	struct tax_region *regions; /* ascending code order */
	size_t n_regions;
};

static const char *const list_names[TAX_LIST_COUNT] = {
        [TAX_CRIME_CATEGORY] = "crime_categories",
        [TAX_SECTOR] = "sectors",
        [TAX_STAGE] = "stages",
        [TAX_RESULT] = "results",
        [TAX_CHANNEL] = "channels",
};

static const char *const item_keys[] = {"code", "zh", "en", "deprecated"};
static const char *const region_keys[] = {"code", "zh", "en", "parent", "deprecated"};

const char *tax_list_name(enum tax_list l)
{
	if ((unsigned)l >= TAX_LIST_COUNT)
		return NULL;
	return list_names[l];
}

/* Unknown keys are refused so that a misspelt "deprecated" or "en" cannot pass unnoticed. */
static bool only_keys(json_t *obj, const char *const *allowed, size_t n_allowed)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v)
	{
		size_t i;

		for (i = 0; i < n_allowed; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (i == n_allowed)
			return false;
	}
	return true;
}

static bool valid_code(const char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++) {
		char c = s[n];

		if (n >= TAX_CODE_MAX || !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return n > 0;
}

static bool valid_version(const char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++) {
		char c = s[n];

		if (n >= TAX_VERSION_MAX || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		                              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return n > 0;
}

/*
 * Labels end up in web pages and staff screens: they must be short, non-empty and free of control
 * characters. The JSON parser has already refused invalid UTF-8 and embedded NULs.
 */
static int get_label(json_t *obj, const char *key, bool required, const char **out)
{
	json_t *v = json_object_get(obj, key);
	const char *s;
	size_t n;

	*out = NULL;
	if (!v)
		return required ? TIP_EFORMAT : TIP_OK;
	if (!json_is_string(v))
		return TIP_EFORMAT;
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0 || n > TAX_LABEL_MAX || strlen(s) != n)
		return TIP_EFORMAT;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			return TIP_EFORMAT;
	}
	*out = s;
	return TIP_OK;
}

static int get_deprecated(json_t *obj, bool *out)
{
	json_t *v = json_object_get(obj, "deprecated");

	*out = false;
	if (!v)
		return TIP_OK;
	if (!json_is_boolean(v))
		return TIP_EFORMAT;
	*out = json_is_true(v);
	return TIP_OK;
}

static int cmp_item_ptr(const void *a, const void *b)
{
	const struct tax_item *x = *(const struct tax_item *const *)a;
	const struct tax_item *y = *(const struct tax_item *const *)b;

	return strcmp(x->code, y->code);
}

static int cmp_code_item(const void *key, const void *elem)
{
	const struct tax_item *y = *(const struct tax_item *const *)elem;

	return strcmp(key, y->code);
}

static int parse_list(struct tax_list_data *d, json_t *arr)
{
	size_t n, i;
	json_t *v;
	int rc;

	if (!json_is_array(arr))
		return TIP_EFORMAT;
	n = json_array_size(arr);
	if (n == 0)
		return TIP_EFORMAT;
	if (n > TAX_MAX_ITEMS)
		return TIP_EOVERSIZE;
	d->items = calloc(n, sizeof(*d->items));
	d->sorted = calloc(n, sizeof(const struct tax_item *));
	if (!d->items || !d->sorted)
		return TIP_ENOMEM;
	json_array_foreach(arr, i, v)
	{
		struct tax_item *it = &d->items[i];
		json_t *code = json_object_get(v, "code");

		if (!json_is_object(v) || !only_keys(v, item_keys, sizeof(item_keys) / sizeof(item_keys[0])))
			return TIP_EFORMAT;
		if (!json_is_string(code) || !valid_code(json_string_value(code)))
			return TIP_EFORMAT;
		it->code = json_string_value(code);
		if ((rc = get_label(v, "zh", true, &it->zh)) != TIP_OK ||
		    (rc = get_label(v, "en", true, &it->en)) != TIP_OK ||
		    (rc = get_deprecated(v, &it->deprecated)) != TIP_OK)
			return rc;
		d->sorted[i] = it;
	}
	d->n = n;
	qsort(d->sorted, n, sizeof(const struct tax_item *), cmp_item_ptr);
	for (i = 1; i < n; i++)
		if (strcmp(d->sorted[i - 1]->code, d->sorted[i]->code) == 0)
			return TIP_EFORMAT;
	return TIP_OK;
}

static int parse_taxonomy(struct taxonomy *t, json_t *root)
{
	static const char *const top_keys[] = {"version", "lists"};
	json_t *version = json_object_get(root, "version");
	json_t *lists = json_object_get(root, "lists");
	const char *key;
	json_t *v;
	int rc;

	if (!json_is_object(root) || !only_keys(root, top_keys, 2))
		return TIP_EFORMAT;
	if (!json_is_string(version) || !valid_version(json_string_value(version)))
		return TIP_EFORMAT;
	t->version = json_string_value(version);
	if (!json_is_object(lists) || !only_keys(lists, list_names, TAX_LIST_COUNT))
		return TIP_EFORMAT;
	for (int l = 0; l < TAX_LIST_COUNT; l++)
		if (!json_object_get(lists, list_names[l]))
			return TIP_EFORMAT;
	json_object_foreach(lists, key, v)
	{
		int l = 0;

		while (strcmp(key, list_names[l]) != 0)
			l++;
		if ((rc = parse_list(&t->lists[l], v)) != TIP_OK)
			return rc;
	}
	return TIP_OK;
}

/*
 * GB/T 2260: two digits of province, two of prefecture, two of county; a level is marked by trailing
 * zero pairs. Returns 0 for anything that is not six digits or has a zero pair above a non-zero one.
 */
static int code_level(const char *c)
{
	for (int i = 0; i < 6; i++)
		if (c[i] < '0' || c[i] > '9')
			return 0;
	if (c[6] != '\0' || (c[0] == '0' && c[1] == '0'))
		return 0;
	if (c[4] == '0' && c[5] == '0')
		return (c[2] == '0' && c[3] == '0') ? TAX_PROVINCE : TAX_PREFECTURE;
	if (c[2] == '0' && c[3] == '0')
		return 0;
	return TAX_COUNTY;
}

static int cmp_code_region(const void *key, const void *elem)
{
	const struct tax_region *r = elem;

	return memcmp(key, r->code, 6);
}

static const struct tax_region *find_region(const struct tax_region *arr, size_t n, const char *code6)
{
	return bsearch(code6, arr, n, sizeof(*arr), cmp_code_region);
}

/*
 * The parent must be the unit the code's prefix names: a prefecture's province; a county's prefecture,
 * or its province when the file has no such prefecture (municipalities and the county-level units a
 * province administers directly, such as 429004). Parents sort before their children, so only the
 * regions already read need searching.
 */
static int check_parent(struct tax_region *r, json_t *parent, const struct tax_region *before,
                        size_t n_before)
{
	char up[7];
	const struct tax_region *p, *pref;

	if (r->level == TAX_PROVINCE)
		return json_is_null(parent) ? TIP_OK : TIP_EFORMAT;
	if (!json_is_string(parent) || json_string_length(parent) != 6)
		return TIP_EFORMAT;
	p = find_region(before, n_before, json_string_value(parent));
	if (!p)
		return TIP_EFORMAT;
	memcpy(up, r->code, 7);
	up[4] = up[5] = '0';
	pref = NULL;
	if (r->level == TAX_COUNTY)
		pref = find_region(before, n_before, up);
	if (!pref) {
		up[2] = up[3] = '0';
		pref = find_region(before, n_before, up);
	}
	if (p != pref)
		return TIP_EFORMAT;
	if (p->deprecated && !r->deprecated)
		return TIP_EFORMAT;
	r->parent = p;
	return TIP_OK;
}

static int parse_regions(struct taxonomy *t, json_t *root)
{
	static const char *const top_keys[] = {"source", "regions"};
	static const char *const source_required[] = {"package", "version", "license"};
	json_t *source = json_object_get(root, "source");
	json_t *arr = json_object_get(root, "regions");
	size_t n, i;
	json_t *v;
	int rc;

	if (!json_is_object(root) || !only_keys(root, top_keys, 2))
		return TIP_EFORMAT;
	/* Provenance is free-form, but what was vendored, which release and under what licence must be said.
	 */
	if (!json_is_object(source))
		return TIP_EFORMAT;
	for (i = 0; i < sizeof(source_required) / sizeof(source_required[0]); i++) {
		json_t *s = json_object_get(source, source_required[i]);

		if (!json_is_string(s) || json_string_length(s) == 0)
			return TIP_EFORMAT;
	}
	if (!json_is_array(arr))
		return TIP_EFORMAT;
	n = json_array_size(arr);
	if (n == 0)
		return TIP_EFORMAT;
	if (n > TAX_MAX_REGIONS)
		return TIP_EOVERSIZE;
	t->regions = calloc(n, sizeof(*t->regions));
	if (!t->regions)
		return TIP_ENOMEM;
	json_array_foreach(arr, i, v)
	{
		struct tax_region *r = &t->regions[i];
		json_t *code = json_object_get(v, "code");
		json_t *parent = json_object_get(v, "parent");
		int level;

		if (!json_is_object(v) ||
		    !only_keys(v, region_keys, sizeof(region_keys) / sizeof(region_keys[0])))
			return TIP_EFORMAT;
		if (!json_is_string(code) || json_string_length(code) != 6)
			return TIP_EFORMAT;
		memcpy(r->code, json_string_value(code), 7);
		if ((level = code_level(r->code)) == 0)
			return TIP_EFORMAT;
		r->level = (enum tax_level)level;
		/* Strictly ascending order gives bsearch for free and makes a duplicate impossible to miss.
		 */
		if (i > 0 && memcmp(t->regions[i - 1].code, r->code, 6) >= 0)
			return TIP_EFORMAT;
		if ((rc = get_label(v, "zh", true, &r->zh)) != TIP_OK ||
		    (rc = get_label(v, "en", false, &r->en)) != TIP_OK ||
		    (rc = get_deprecated(v, &r->deprecated)) != TIP_OK)
			return rc;
		if (!r->en)
			r->en = r->zh;
		if (!parent)
			return TIP_EFORMAT;
		if ((rc = check_parent(r, parent, t->regions, i)) != TIP_OK)
			return rc;
	}
	t->n_regions = n;
	return TIP_OK;
}

static json_t *load_doc(const char *buf, size_t len, int *rc)
{
	json_error_t jerr;
	json_t *doc;

	if (len > TAX_FILE_CAP) {
		*rc = TIP_EOVERSIZE;
		return NULL;
	}
	doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc)
		*rc = json_error_code(&jerr) == json_error_out_of_memory ? TIP_ENOMEM : TIP_EFORMAT;
	return doc;
}

struct taxonomy *tax_parse(const char *tax_json, size_t tax_len, const char *regions_json, size_t regions_len,
                           int *err)
{
	struct taxonomy *t = NULL;
	int rc = TIP_OK;

	if (!tax_json || !regions_json) {
		rc = TIP_EINVAL;
		goto out;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		rc = TIP_ENOMEM;
		goto out;
	}
	if (!(t->tax_doc = load_doc(tax_json, tax_len, &rc)) ||
	    !(t->reg_doc = load_doc(regions_json, regions_len, &rc)))
		goto out;
	if ((rc = parse_taxonomy(t, t->tax_doc)) != TIP_OK)
		goto out;
	rc = parse_regions(t, t->reg_doc);
out:
	if (rc != TIP_OK) {
		tax_free(t);
		t = NULL;
	}
	if (err)
		*err = rc;
	return t;
}

static int read_capped(const char *dir, const char *name, char **out, size_t *out_len)
{
	char path[4096];
	int n = snprintf(path, sizeof(path), "%s/%s", dir, name);

	*out = NULL;
	if (n < 0 || (size_t)n >= sizeof(path))
		return TIP_EINVAL;
	return file_read(path, TAX_FILE_CAP, out, out_len);
}

struct taxonomy *tax_load(const char *dir, int *err)
{
	char *tax = NULL, *reg = NULL;
	size_t tax_len = 0, reg_len = 0;
	struct taxonomy *t = NULL;
	int rc;

	if (!dir) {
		rc = TIP_EINVAL;
		goto out;
	}
	if ((rc = read_capped(dir, "taxonomy.json", &tax, &tax_len)) != TIP_OK ||
	    (rc = read_capped(dir, "regions.json", &reg, &reg_len)) != TIP_OK)
		goto out;
	t = tax_parse(tax, tax_len, reg, reg_len, &rc);
out:
	free(tax);
	free(reg);
	if (err)
		*err = rc;
	return t;
}

void tax_free(struct taxonomy *t)
{
	if (!t)
		return;
	for (int l = 0; l < TAX_LIST_COUNT; l++) {
		free(t->lists[l].items);
		free(t->lists[l].sorted);
	}
	free(t->regions);
	json_decref(t->tax_doc);
	json_decref(t->reg_doc);
	free(t);
}

const char *tax_version(const struct taxonomy *t)
{
	return t ? t->version : NULL;
}

const struct tax_item *tax_find(const struct taxonomy *t, enum tax_list l, const char *code)
{
	const struct tax_item *const *hit;
	const struct tax_list_data *d;

	if (!t || !code || (unsigned)l >= TAX_LIST_COUNT)
		return NULL;
	d = &t->lists[l];
	hit = bsearch(code, d->sorted, d->n, sizeof(const struct tax_item *), cmp_code_item);
	return hit ? *hit : NULL;
}

size_t tax_count(const struct taxonomy *t, enum tax_list l)
{
	if (!t || (unsigned)l >= TAX_LIST_COUNT)
		return 0;
	return t->lists[l].n;
}

const struct tax_item *tax_item_at(const struct taxonomy *t, enum tax_list l, size_t i)
{
	if (!t || (unsigned)l >= TAX_LIST_COUNT || i >= t->lists[l].n)
		return NULL;
	return &t->lists[l].items[i];
}

const struct tax_region *tax_region(const struct taxonomy *t, const char *code)
{
	if (!t || !code || code_level(code) == 0)
		return NULL;
	return find_region(t->regions, t->n_regions, code);
}

const struct tax_region *tax_region_province(const struct tax_region *r)
{
	while (r && r->parent)
		r = r->parent;
	return r;
}

size_t tax_region_count(const struct taxonomy *t)
{
	return t ? t->n_regions : 0;
}

const struct tax_region *tax_region_at(const struct taxonomy *t, size_t i)
{
	if (!t || i >= t->n_regions)
		return NULL;
	return &t->regions[i];
}

/* json_object_set_new steals the value even when it fails, so a NULL value only needs reporting. */
static bool set_str(json_t *obj, const char *key, const char *s)
{
	return json_object_set_new(obj, key, json_string(s)) == 0;
}

static json_t *item_json(const struct tax_item *it)
{
	json_t *o = json_object();

	if (!o || !set_str(o, "code", it->code) || !set_str(o, "zh", it->zh) || !set_str(o, "en", it->en)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *region_json(const struct tax_region *r)
{
	json_t *o = json_object();

	if (!o || !set_str(o, "code", r->code) || !set_str(o, "zh", r->zh) ||
	    (r->en != r->zh && !set_str(o, "en", r->en)) ||
	    json_object_set_new(o, "parent", r->parent ? json_string(r->parent->code) : json_null()) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

json_t *tax_to_json(const struct taxonomy *t)
{
	json_t *root, *lists, *regions;
	bool ok;

	if (!t || !(root = json_object()))
		return NULL;
	lists = json_object();
	regions = json_array();
	/* Each call runs even after a failure so that root ends up owning (and freeing) both containers. */
	ok = set_str(root, "version", t->version);
	ok = json_object_set_new(root, "lists", lists) == 0 && ok;
	ok = json_object_set_new(root, "regions", regions) == 0 && ok;
	for (int l = 0; ok && l < TAX_LIST_COUNT; l++) {
		const struct tax_list_data *d = &t->lists[l];
		json_t *arr = json_array();

		ok = json_object_set_new(lists, list_names[l], arr) == 0;
		for (size_t i = 0; ok && i < d->n; i++)
			if (!d->items[i].deprecated)
				ok = json_array_append_new(arr, item_json(&d->items[i])) == 0;
	}
	for (size_t i = 0; ok && i < t->n_regions; i++)
		if (!t->regions[i].deprecated)
			ok = json_array_append_new(regions, region_json(&t->regions[i])) == 0;
	if (!ok) {
		json_decref(root);
		return NULL;
	}
	return root;
}
