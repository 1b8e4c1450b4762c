/*
 * Versioned taxonomies of the wire contract: the fixed code lists a report and a status bulletin carry
 * (crime categories, industry sectors, stages, results, feedback channels) and the GB/T 2260 regions.
 * Both zones load the same files (proto/taxonomy/taxonomy.json and regions.json, described in
 * docs/formats/taxonomy.md) and validate every code against them.
 *
 * Ownership: a struct taxonomy owns every string and struct it hands out; pointers stay valid until
 * tax_free(). A loaded taxonomy is never modified, so any number of threads may read it at once.
 * Lookups are binary searches over arrays sorted at load time and allocate nothing.
 */
#ifndef TIP_PROTO_TAXONOMY_H
#define TIP_PROTO_TAXONOMY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define TAX_FILE_CAP    (8u << 20) /* bytes per data file */
#define TAX_MAX_ITEMS   1024       /* entries per code list */
#define TAX_MAX_REGIONS 16384      /* entries in regions.json */
#define TAX_CODE_MAX    32         /* bytes in a list code, [a-z0-9_] */
#define TAX_LABEL_MAX   256        /* bytes in a zh or en label (UTF-8) */
#define TAX_VERSION_MAX 32         /* bytes in the version string, [A-Za-z0-9._-] */

enum tax_list { TAX_CRIME_CATEGORY, TAX_SECTOR, TAX_STAGE, TAX_RESULT, TAX_CHANNEL, TAX_LIST_COUNT };
enum tax_level { TAX_PROVINCE = 1, TAX_PREFECTURE = 2, TAX_COUNTY = 3 };

struct tax_item {
	const char *code, *zh, *en;
	/* Still valid in stored reports, no longer offered on forms. */
	bool deprecated;
};

struct tax_region {
	char code[7]; /* six ASCII digits */
	const char *zh;
	const char *en; /* the zh pointer itself when the file has no English name */
	enum tax_level level;
	const struct tax_region *parent; /* NULL for a province */
	bool deprecated;
};

struct taxonomy;

/*
 * Reads dir/taxonomy.json and dir/regions.json. Returns NULL and sets *err (when err is not NULL) to
 * TIP_ENOTFOUND (a file is missing), TIP_EIO, TIP_EOVERSIZE (a file over TAX_FILE_CAP or a list over its
 * count cap), TIP_EFORMAT (anything in the files that breaks the format) or TIP_ENOMEM.
 */
struct taxonomy *tax_load(const char *dir, int *err);
/* The same from memory: the two documents and their lengths (not NUL-terminated). Same errors. */
struct taxonomy *tax_parse(const char *tax_json, size_t tax_len, const char *regions_json, size_t regions_len,
                           int *err);
void tax_free(struct taxonomy *t);

/* The taxonomy.json version string a report records. */
const char *tax_version(const struct taxonomy *t);
/* The list's key in taxonomy.json ("crime_categories", ...); NULL when l is out of range. */
const char *tax_list_name(enum tax_list l);

/* The item with this code, deprecated or not; NULL when unknown (or l out of range, or code NULL). */
const struct tax_item *tax_find(const struct taxonomy *t, enum tax_list l, const char *code);
/* Items in file order, which is the order forms show them; tax_item_at is NULL past the end. */
size_t tax_count(const struct taxonomy *t, enum tax_list l);
const struct tax_item *tax_item_at(const struct taxonomy *t, enum tax_list l, size_t i);

/* The region with this code: exactly six digits and a NUL, else NULL. NULL when unknown. */
const struct tax_region *tax_region(const struct taxonomy *t, const char *code);
/* The provincial-level unit r belongs to (r itself for a province); NULL for NULL. */
const struct tax_region *tax_region_province(const struct tax_region *r);
/* Regions in ascending code order, so every parent comes before its children. */
size_t tax_region_count(const struct taxonomy *t);
const struct tax_region *tax_region_at(const struct taxonomy *t, size_t i);

/*
 * What a web form needs, as a new reference the caller owns (json_decref), NULL on allocation failure:
 * {"version": "...", "lists": {"crime_categories": [{"code", "zh", "en"}, ...], ...},
 *  "regions": [{"code", "zh", "en" (only when the file has one), "parent": code or null}, ...]}.
 * Deprecated items and regions are left out; order is file order for lists and code order for regions.
 */
json_t *tax_to_json(const struct taxonomy *t);

#endif
