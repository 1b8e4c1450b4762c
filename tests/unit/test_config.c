#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/config.h"
#include "common/err.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct demo {
	char origin[16];
	char spool[64];
	long long workers;
	size_t body;
	long long timeout;
	int syslog;
};

static const struct cfg_entry table[] = {
        {"origin", CFG_STRING, offsetof(struct demo, origin), 1, 16, NULL, "origin name"},
        {"spool", CFG_STRING, offsetof(struct demo, spool), 0, 64, "/var/spool/x", "spool dir"},
        {"workers", CFG_INT, offsetof(struct demo, workers), 1, 64, "2", "threads"},
        {"max_body", CFG_SIZE, offsetof(struct demo, body), 1024, 1LL << 30, "1M", "body cap"},
        {"timeout", CFG_DURATION, offsetof(struct demo, timeout), 1, 3600000, "30s", "timeout"},
        {"syslog", CFG_BOOL, offsetof(struct demo, syslog), 0, 1, "no", "use syslog"},
};
#define N (sizeof(table) / sizeof(table[0]))

static char dir[256];

static int load_text(const char *text, struct demo *d, char *err)
{
	char path[300];
	FILE *f;

	snprintf(path, sizeof(path), "%s/c.conf", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	memset(d, 0x5a, sizeof(*d));
	return cfg_load(table, N, d, path, err);
}

static void test_defaults_and_values(void **state)
{
	(void)state;
	struct demo d;
	char err[CFG_ERR_MAX];

	assert_int_equal(load_text("# comment\n\norigin  intake-a \n", &d, err), TIP_OK);
	assert_string_equal(d.origin, "intake-a");
	assert_string_equal(d.spool, "/var/spool/x");
	assert_int_equal(d.workers, 2);
	assert_int_equal(d.body, 1 << 20);
	assert_int_equal(d.timeout, 30000);
	assert_int_equal(d.syslog, 0);
	assert_int_equal(
	        load_text("origin a\nworkers 8\nmax_body 20M\ntimeout 250ms\nsyslog yes # trailing\n", &d,
	                  err),
	        TIP_OK);
	assert_int_equal(d.workers, 8);
	assert_int_equal(d.body, 20 << 20);
	assert_int_equal(d.timeout, 250);
	assert_int_equal(d.syslog, 1);
}

static void expect_error(const char *text, const char *fragment)
{
	struct demo d;
	char err[CFG_ERR_MAX];

	assert_int_equal(load_text(text, &d, err), TIP_EINVAL);
	if (!strstr(err, fragment))
		fail_msg("error \"%s\" lacks \"%s\"", err, fragment);
}

static void test_errors_name_the_setting(void **state)
{
	(void)state;
	expect_error("workers 2\n", "origin: required");
	expect_error("origin a\nbogus 1\n", ":2: bogus: unknown setting");
	expect_error("origin a\norigin b\n", ":2: origin: set twice");
	expect_error("origin a\nworkers 0\n", "workers: 0 is outside [1, 64]");
	expect_error("origin a\nworkers 2x\n", "workers: not a valid integer");
	expect_error("origin a\nworkers 99999999999999999999\n", "workers: not a valid integer");
	expect_error("origin a\nmax_body 5T\n", "max_body: not a valid size");
	expect_error("origin a\nmax_body 512\n", "max_body: 512 is outside");
	expect_error("origin a\ntimeout 5 s\n", "timeout: not a valid duration");
	expect_error("origin a\nsyslog maybe\n", "syslog: expected yes or no");
	expect_error("origin 0123456789abcdefX\n", "origin: longer than 15 bytes");
	expect_error("origin a\nmax_body 9999999999999G\n", "max_body: not a valid size");
}

static void test_missing_file(void **state)
{
	(void)state;
	struct demo d;
	char err[CFG_ERR_MAX];

	assert_int_equal(cfg_load(table, N, &d, "/nonexistent/c.conf", err), TIP_EIO);
	assert_non_null(strstr(err, "/nonexistent/c.conf"));
}

static int setup(void **state)
{
	(void)state;
	char *d = tu_mkdtemp();

	snprintf(dir, sizeof(dir), "%s", d);
	free(d);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tu_rmtree(dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_defaults_and_values),
	        cmocka_unit_test(test_errors_name_the_setting),
	        cmocka_unit_test(test_missing_file),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
