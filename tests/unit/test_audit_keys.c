/* diode-audit's verifier key list (tlog_audit_read_keys): comments and blank lines skipped, only
 * signing and cosigning verifier keys, and no NUL byte that would hide the rest of the file. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "testutil.h"

#include "common/err.h"
#include "diode/tlog_audit.h"
#include "proto/keyfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int read_keys(const char *dir, const void *text, size_t len, size_t *n, char *err)
{
	char path[4200];
	struct key *keys;
	int rc;

	tu_write_bytes(dir, "keys", text, len);
	snprintf(path, sizeof(path), "%s/keys", dir);
	rc = tlog_audit_read_keys(path, &keys, n, err, 256);
	free(keys);
	return rc;
}

static void test_key_list(void **state)
{
	(void)state;
	struct key keys[2], pubs[2];
	char sign[KEY_LINE_MAX + 1], cosign[KEY_LINE_MAX + 1], text[512], err[256];
	char *dir = tu_mkdtemp();
	size_t n, len;

	tu_corpus_keys(keys, pubs);
	assert_int_equal(key_format_public(&pubs[0], sign, sizeof(sign)), TIP_OK);
	assert_int_equal(key_format_public(&pubs[1], cosign, sizeof(cosign)), TIP_OK);
	len = (size_t)snprintf(text, sizeof(text), "# log and witness\n%s\n\n%s\n", sign, cosign);
	assert_int_equal(read_keys(dir, text, len, &n, err), TIP_OK);
	assert_int_equal(n, 2);

	/* A NUL in the comment used to end the file there: the bad line after it went unseen. */
	len = (size_t)snprintf(text, sizeof(text), "#x\n%s\nnot a key\n", sign);
	text[1] = '\0';
	assert_int_equal(read_keys(dir, text, len, &n, err), TIP_EFORMAT);
	assert_int_equal(n, 0);
	assert_non_null(strstr(err, "NUL byte at offset 1"));

	len = (size_t)snprintf(text, sizeof(text), "%s\nnot a key\n", sign);
	assert_int_equal(read_keys(dir, text, len, &n, err), TIP_EFORMAT);
	assert_non_null(strstr(err, "not a verifier key"));
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_key_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
