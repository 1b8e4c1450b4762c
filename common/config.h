/*
 * Typed configuration tables (after Redis's config.c): each daemon describes its
 * settings once — name, type, bounds, default, help — and gets parsing, range
 * checks and `-n` checking from here.
 *
 * File format: one "name value" per line; '#' starts a comment; blank lines are
 * ignored; a value runs to the end of the line (surrounding blanks trimmed).
 * Sizes take K, M, G suffixes (powers of 1024); durations take ms, s, m, h.
 */
#ifndef TIP_COMMON_CONFIG_H
#define TIP_COMMON_CONFIG_H

#include <stddef.h>
#include <stdio.h>

enum cfg_type {
	CFG_STRING,   /* char array of `max` bytes inside the struct; min = 1 makes it required */
	CFG_INT,      /* long long in [min, max] */
	CFG_SIZE,     /* size_t in [min, max] bytes */
	CFG_DURATION, /* long long milliseconds in [min, max] */
	CFG_BOOL,     /* int 0 or 1: yes/no, true/false, on/off, 1/0 */
};

struct cfg_entry {
	const char *name;
	enum cfg_type type;
	size_t offset; /* offsetof the field in the daemon's config struct */
	long long min, max;
	const char *def; /* default in file syntax; NULL means none (strings: empty) */
	const char *help;
};

#define CFG_ERR_MAX 256

/* Applies every default. TIP_OK, or TIP_EINVAL with a message naming the entry. */
int cfg_defaults(const struct cfg_entry *table, size_t n, void *obj, char err[CFG_ERR_MAX]);

/*
 * Defaults, then the file at path. TIP_EIO if it cannot be read; TIP_EINVAL
 * with "path:line: name: reason" for an unknown name, a repeated name, a bad
 * value, a value out of range, or a required string left empty.
 */
int cfg_load(const struct cfg_entry *table, size_t n, void *obj, const char *path, char err[CFG_ERR_MAX]);

/*
 * Writes the table as a Markdown table (setting, type, default, range, meaning)
 * for docs/operations.md; a test keeps the docs equal to it.
 */
void cfg_markdown(const struct cfg_entry *table, size_t n, FILE *out);

/* Parses one value of the given type (used by cfg_load and by tests). */
int cfg_parse_value(const struct cfg_entry *e, const char *value, void *obj, char err[CFG_ERR_MAX]);

#endif
