#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/file.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_read_and_write(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp(), path[512], tmp[600], *buf;
	size_t len;
	struct stat st;

	snprintf(path, sizeof(path), "%s/f", dir);
	assert_int_equal(file_read(path, 100, &buf, &len), TIP_ENOTFOUND);
	assert_int_equal(file_write_atomic(path, "hello", 5, 0640), TIP_OK);
	assert_int_equal(file_read(path, 100, &buf, &len), TIP_OK);
	assert_int_equal(len, 5);
	assert_string_equal(buf, "hello");
	free(buf);
	assert_int_equal(file_read(path, 5, &buf, &len), TIP_OK);
	free(buf);
	assert_int_equal(file_read(path, 4, &buf, &len), TIP_EOVERSIZE);
	assert_null(buf);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	/* Replaced whole, no temporary left behind. */
	assert_int_equal(file_write_atomic(path, "", 0, 0600), TIP_OK);
	assert_int_equal(file_read(path, 100, &buf, &len), TIP_OK);
	assert_int_equal(len, 0);
	free(buf);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_not_equal(access(tmp, F_OK), 0);
	/* A directory is not a regular file; a file in a missing directory cannot be written. */
	assert_int_equal(file_read(dir, 100, &buf, &len), TIP_EFORMAT);
	snprintf(path, sizeof(path), "%s/missing/f", dir);
	assert_int_equal(file_write_atomic(path, "x", 1, 0600), TIP_EIO);
	/* Reading a growing stream (not a sized file) still stops at the cap. */
	FILE *p = popen("yes | head -c 100000", "r");
	assert_int_equal(file_read_fd(fileno(p), 1000, &buf, &len), TIP_EOVERSIZE);
	pclose(p);
	p = popen("yes | head -c 1000", "r");
	assert_int_equal(file_read_fd(fileno(p), 1000, &buf, &len), TIP_OK);
	assert_int_equal(len, 1000);
	free(buf);
	pclose(p);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_read_and_write),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
