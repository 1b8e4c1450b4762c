#include "common/config.h"

#include "common/err.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LINE_MAX_LEN 4096
#define MAX_ENTRIES  256

static int parse_number(const char *v, long long *out, const char *const *units, const long long *mult)
{
	char *end;
	long long n;

	if (!isdigit((unsigned char)v[0]) && v[0] != '-')
		return TIP_EINVAL;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno || end == v)
		return TIP_EINVAL;
	if (*end && units) {
		for (size_t i = 0; units[i]; i++) {
			if (strcasecmp(end, units[i]) == 0) {
				if (n > LLONG_MAX / mult[i] || n < LLONG_MIN / mult[i])
					return TIP_EINVAL;
				*out = n * mult[i];
				return TIP_OK;
			}
		}
		return TIP_EINVAL;
	}
	if (*end)
		return TIP_EINVAL;
	*out = n;
	return TIP_OK;
}

int cfg_parse_value(const struct cfg_entry *e, const char *value, void *obj, char err[CFG_ERR_MAX])
{
	static const char *const size_units[] = {"K", "M", "G", NULL};
	static const long long size_mult[] = {1024LL, 1024LL * 1024, 1024LL * 1024 * 1024};
	static const char *const time_units[] = {"ms", "s", "m", "h", NULL};
	static const long long time_mult[] = {1, 1000, 60000, 3600000};
	char *field = (char *)obj + e->offset;
	long long n;

	switch (e->type) {
	case CFG_STRING: {
		size_t len = strlen(value);

		if (len >= (size_t)e->max) {
			snprintf(err, CFG_ERR_MAX, "%s: longer than %lld bytes", e->name, e->max - 1);
			return TIP_EINVAL;
		}
		memcpy(field, value, len + 1);
		return TIP_OK;
	}
	case CFG_BOOL:
		if (!strcasecmp(value, "yes") || !strcasecmp(value, "true") || !strcasecmp(value, "on") ||
		    !strcmp(value, "1")) {
			*(int *)field = 1;
		} else if (!strcasecmp(value, "no") || !strcasecmp(value, "false") ||
		           !strcasecmp(value, "off") || !strcmp(value, "0")) {
			*(int *)field = 0;
		} else {
			snprintf(err, CFG_ERR_MAX, "%s: expected yes or no, got \"%s\"", e->name, value);
			return TIP_EINVAL;
		}
		return TIP_OK;
	case CFG_INT:
	case CFG_SIZE:
	case CFG_DURATION:
		if (parse_number(value, &n,
		                 e->type == CFG_SIZE       ? size_units
		                 : e->type == CFG_DURATION ? time_units
		                                           : NULL,
		                 e->type == CFG_SIZE ? size_mult : time_mult) != TIP_OK) {
			snprintf(err, CFG_ERR_MAX, "%s: not a valid %s: \"%s\"", e->name,
			         e->type == CFG_SIZE       ? "size"
			         : e->type == CFG_DURATION ? "duration"
			                                   : "integer",
			         value);
			return TIP_EINVAL;
		}
		if (n < e->min || n > e->max) {
			snprintf(err, CFG_ERR_MAX, "%s: %lld is outside [%lld, %lld]", e->name, n, e->min,
			         e->max);
			return TIP_EINVAL;
		}
		if (e->type == CFG_SIZE)
			*(size_t *)field = (size_t)n;
		else
			*(long long *)field = n;
		return TIP_OK;
	}
	return TIP_EINVAL;
}

int cfg_defaults(const struct cfg_entry *table, size_t n, void *obj, char err[CFG_ERR_MAX])
{
	for (size_t i = 0; i < n; i++) {
		const struct cfg_entry *e = &table[i];

		if (e->type == CFG_STRING && !e->def)
			((char *)obj + e->offset)[0] = '\0';
		else if (cfg_parse_value(e, e->def ? e->def : "0", obj, err) != TIP_OK)
			return TIP_EINVAL;
	}
	return TIP_OK;
}

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n'))
		*--end = '\0';
	return s;
}

int cfg_load(const struct cfg_entry *table, size_t n, void *obj, const char *path, char err[CFG_ERR_MAX])
{
	char line[LINE_MAX_LEN + 2], sub[CFG_ERR_MAX];
	unsigned char seen[MAX_ENTRIES] = {0};
	int lineno = 0, rc = TIP_OK;
	FILE *f;

	if (n > MAX_ENTRIES)
		return TIP_EINVAL;
	if ((rc = cfg_defaults(table, n, obj, err)) != TIP_OK)
		return rc;
	if (!(f = fopen(path, "r"))) {
		snprintf(err, CFG_ERR_MAX, "%s: %s", path, strerror(errno));
		return TIP_EIO;
	}
	while (fgets(line, sizeof(line), f)) {
		char *p, *name, *value;
		size_t i;

		lineno++;
		if (strlen(line) > LINE_MAX_LEN) {
			snprintf(err, CFG_ERR_MAX, "%s:%d: line too long", path, lineno);
			rc = TIP_EINVAL;
			goto out;
		}
		if ((p = strchr(line, '#')))
			*p = '\0';
		name = trim(line);
		if (!*name)
			continue;
		value = name + strcspn(name, " \t");
		if (*value)
			*value++ = '\0';
		value = trim(value);
		for (i = 0; i < n && strcmp(table[i].name, name) != 0; i++)
			;
		if (i == n) {
			snprintf(err, CFG_ERR_MAX, "%s:%d: %s: unknown setting", path, lineno, name);
			rc = TIP_EINVAL;
			goto out;
		}
		if (seen[i]++) {
			snprintf(err, CFG_ERR_MAX, "%s:%d: %s: set twice", path, lineno, name);
			rc = TIP_EINVAL;
			goto out;
		}
		if (cfg_parse_value(&table[i], value, obj, sub) != TIP_OK) {
			snprintf(err, CFG_ERR_MAX, "%s:%d: %.200s", path, lineno, sub);
			rc = TIP_EINVAL;
			goto out;
		}
	}
	if (ferror(f)) {
		snprintf(err, CFG_ERR_MAX, "%s: read error", path);
		rc = TIP_EIO;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (table[i].type == CFG_STRING && table[i].min > 0 && !((char *)obj + table[i].offset)[0]) {
			snprintf(err, CFG_ERR_MAX, "%s: %s: required", path, table[i].name);
			rc = TIP_EINVAL;
			goto out;
		}
	}
out:
	fclose(f);
	return rc;
}

static void print_bound(enum cfg_type type, long long v, FILE *out)
{
	static const char *const size_units[] = {"", "K", "M", "G", "T"};
	static const struct {
		long long ms;
		const char *unit;
	} time_units[] = {{3600000, "h"}, {60000, "m"}, {1000, "s"}};
	int u = 0;

	if (type == CFG_SIZE) {
		while (v >= 1024 && v % 1024 == 0 && u < 4) {
			v /= 1024;
			u++;
		}
		fprintf(out, "%lld%s", v, size_units[u]);
		return;
	}
	if (type == CFG_DURATION) {
		for (size_t i = 0; i < sizeof(time_units) / sizeof(time_units[0]); i++) {
			if (v >= time_units[i].ms && v % time_units[i].ms == 0) {
				fprintf(out, "%lld%s", v / time_units[i].ms, time_units[i].unit);
				return;
			}
		}
		fprintf(out, "%lldms", v);
		return;
	}
	fprintf(out, "%lld", v);
}

void cfg_markdown(const struct cfg_entry *table, size_t n, FILE *out)
{
	static const char *const type_names[] = {"text", "integer", "size", "duration", "yes/no"};

	fprintf(out, "| setting | type | default | range | meaning |\n|---|---|---|---|---|\n");
	for (size_t i = 0; i < n; i++) {
		const struct cfg_entry *e = &table[i];

		fprintf(out, "| `%s` | %s | %s | ", e->name, type_names[e->type],
		        e->def ? e->def : (e->type == CFG_STRING && e->min > 0 ? "(required)" : ""));
		if (e->type == CFG_INT || e->type == CFG_SIZE || e->type == CFG_DURATION) {
			print_bound(e->type, e->min, out);
			fputs(" – ", out);
			print_bound(e->type, e->max, out);
		}
		fprintf(out, " | %s |\n", e->help);
	}
}
