#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/metrics.h"

#include <string.h>

static void test_render(void **state)
{
	(void)state;
	static const double bounds[] = {0.001, 0.01, 0.1};
	char buf[4096];

	metrics_reset();
	struct metric *ok =
	        metric_counter("intake_reports_total", "result=\"accepted\"", "Reports by result.");
	struct metric *bad =
	        metric_counter("intake_reports_total", "result=\"rejected\"", "Reports by result.");
	struct metric *q = metric_gauge("spool_pending", NULL, "Records not yet durable.");
	struct metric *h = metric_histogram("intake_latency_seconds", "Request latency.", bounds, 3);

	assert_non_null(ok);
	assert_non_null(bad);
	assert_non_null(q);
	assert_non_null(h);
	metric_add(ok, 41);
	metric_inc(ok);
	metric_inc(bad);
	metric_set(q, -3);
	metric_observe(h, 0.0005);
	metric_observe(h, 0.05);
	metric_observe(h, 5);
	assert_int_equal(metric_value(ok), 42);
	size_t n = metrics_render(buf, sizeof(buf));
	assert_true(n < sizeof(buf));
	assert_string_equal(buf, "# HELP intake_reports_total Reports by result.\n"
	                         "# TYPE intake_reports_total counter\n"
	                         "intake_reports_total{result=\"accepted\"} 42\n"
	                         "intake_reports_total{result=\"rejected\"} 1\n"
	                         "# HELP spool_pending Records not yet durable.\n"
	                         "# TYPE spool_pending gauge\n"
	                         "spool_pending -3\n"
	                         "# HELP intake_latency_seconds Request latency.\n"
	                         "# TYPE intake_latency_seconds histogram\n"
	                         "intake_latency_seconds_bucket{le=\"0.001\"} 1\n"
	                         "intake_latency_seconds_bucket{le=\"0.01\"} 1\n"
	                         "intake_latency_seconds_bucket{le=\"0.1\"} 2\n"
	                         "intake_latency_seconds_bucket{le=\"+Inf\"} 3\n"
	                         "intake_latency_seconds_sum 5.050500\n"
	                         "intake_latency_seconds_count 3\n");
	/* Too small a buffer: the needed length comes back. */
	assert_int_equal(metrics_render(buf, 10), n);
}

static void test_rejects_bad_registrations(void **state)
{
	(void)state;
	static const double unordered[] = {1, 0.5};

	metrics_reset();
	assert_null(metric_counter("Bad-Name", NULL, "x"));
	assert_null(metric_counter("9lives", NULL, "x"));
	assert_null(metric_counter("ok", "a=\"}\"", "x"));
	assert_null(metric_counter("ok", NULL, NULL));
	assert_null(metric_histogram("h", "x", unordered, 2));
	for (int i = 0; i < METRICS_MAX; i++)
		assert_non_null(metric_counter("many", NULL, "x"));
	assert_null(metric_counter("one_too_many", NULL, "x"));
	metrics_reset();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_render),
	        cmocka_unit_test(test_rejects_bad_registrations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
