#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "proto/taxonomy.h"
#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Load time and lookup rates over the shipped taxonomy, the figures ingest's validation depends on. */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void bench_taxonomy(void **state)
{
	(void)state;
	const char *src = getenv("TIP_SOURCE_DIR");
	char dir[1024];
	struct taxonomy *t;
	int err = 1;
	double t0, t1;
	const int loads = 20, rounds = 2000000;
	size_t found = 0, n_regions;
	char(*codes)[7];

	assert_non_null(src);
	assert_true((size_t)snprintf(dir, sizeof(dir), "%s/proto/taxonomy", src) < sizeof(dir));
	t0 = now();
	for (int i = 0; i < loads; i++) {
		t = tax_load(dir, &err);
		assert_non_null(t);
		tax_free(t);
	}
	t1 = now();
	print_message("tax_load: %.2f ms per load\n", (t1 - t0) * 1e3 / loads);

	t = tax_load(dir, &err);
	assert_non_null(t);
	n_regions = tax_region_count(t);
	/* Lookups go through copies, as a decoder would hand them over, in a scrambled order. */
	codes = malloc(n_regions * sizeof(*codes));
	assert_non_null(codes);
	for (size_t i = 0; i < n_regions; i++)
		memcpy(codes[i], tax_region_at(t, (i * 7919) % n_regions)->code, 7);
	t0 = now();
	for (int i = 0; i < rounds; i++)
		found += tax_region(t, codes[(size_t)i % n_regions]) != NULL;
	t1 = now();
	assert_int_equal(found, rounds);
	print_message("tax_region: %.1f M lookups/s (%zu regions)\n", rounds / (t1 - t0) / 1e6, n_regions);

	found = 0;
	t0 = now();
	for (int i = 0; i < rounds; i++) {
		enum tax_list l = (enum tax_list)(i % TAX_LIST_COUNT);
		const struct tax_item *it = tax_item_at(t, l, (size_t)i % tax_count(t, l));

		found += tax_find(t, l, it->code) == it;
	}
	t1 = now();
	assert_int_equal(found, rounds);
	print_message("tax_find: %.1f M lookups/s\n", rounds / (t1 - t0) / 1e6);

	t0 = now();
	for (int i = 0; i < loads; i++) {
		json_t *form = tax_to_json(t);
		char *text = json_dumps(form, JSON_COMPACT);

		assert_non_null(text);
		if (i == 0)
			print_message("form JSON: %zu bytes\n", strlen(text));
		free(text);
		json_decref(form);
	}
	t1 = now();
	print_message("tax_to_json + json_dumps: %.2f ms\n", (t1 - t0) * 1e3 / loads);
	free(codes);
	tax_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(bench_taxonomy)};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
