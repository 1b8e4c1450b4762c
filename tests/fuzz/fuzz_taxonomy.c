/*
 * A taxonomy.json and a regions.json through the loader, split at the first NUL byte of the input (without
 * one, the whole input is tried as both). What loads is walked and turned into form JSON.
 */
#include "fuzz.h"

#include "common/err.h"
#include "proto/taxonomy.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	const char *nul = memchr(in, '\0', size);
	size_t tax_len = nul ? (size_t)(nul - in) : size;
	const char *reg = nul ? nul + 1 : in;
	size_t reg_len = nul ? size - tax_len - 1 : size;
	struct taxonomy *t;
	json_t *form;
	int err;

	t = tax_parse(in, tax_len, reg, reg_len, &err);
	if (!t) {
		if (err == TIP_OK)
			abort();
		return 0;
	}
	for (size_t i = 0; i < tax_region_count(t); i++) {
		const struct tax_region *r = tax_region_at(t, i);

		if (tax_region(t, r->code) != r || !tax_region_province(r))
			abort();
	}
	for (int l = 0; l < TAX_LIST_COUNT; l++)
		for (size_t i = 0; i < tax_count(t, (enum tax_list)l); i++)
			if (!tax_find(t, (enum tax_list)l, tax_item_at(t, (enum tax_list)l, i)->code))
				abort();
	form = tax_to_json(t);
	json_decref(form);
	tax_free(t);
	return 0;
}
