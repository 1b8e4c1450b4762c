/* The staff API's inputs parsed before SQL (internal/staff_input.h): what each accepts, and the field
 * and message each refusal names. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/err.h"
#include "internal/staff_input.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *login(const char *body, struct staff_input_error *e)
{
	return staff_login_parse((const uint8_t *)body, strlen(body), e);
}

static void test_login_body(void **state)
{
	(void)state;
	struct staff_input_error e;
	json_t *doc = login("{\"username\": \"li\", \"password\": \"pw\", \"totp\": \"123456\"}", &e);

	assert_non_null(doc);
	json_decref(doc);
	assert_null(login("[1]", &e));
	assert_string_equal(e.field, "");
	assert_string_equal(e.message, "the body must be a JSON object");
	assert_null(login("{\"username\": \"li\", \"role\": \"x\"}", &e));
	assert_string_equal(e.field, "role");
	assert_string_equal(e.message, "unknown key");
	assert_null(login("{\"username\": \"li\", \"password\": \"\"}", &e));
	assert_string_equal(e.field, "password");
	/* jansson refuses \u0000 without JSON_ALLOW_NUL: the body is not JSON at all. */
	assert_null(login("{\"username\": \"li\", \"password\": \"a\\u0000b\"}", &e));
	assert_string_equal(e.field, "");
	assert_null(login("{\"password\": \"pw\"}", &e));
	assert_string_equal(e.field, "username");
	assert_string_equal(e.message, "required");
}

static void test_cookie(void **state)
{
	(void)state;
	uint8_t d[AUTH_DIGEST_LEN];
	char text[AUTH_TOKEN_TEXT], cookie[128];

	assert_int_equal(auth_new_token(text, d), TIP_OK);
	snprintf(cookie, sizeof(cookie), "theme=dark; " STAFF_COOKIE "=%s; x=1", text);
	assert_int_equal(staff_cookie_token(cookie, d), 0);
	snprintf(cookie, sizeof(cookie), "my" STAFF_COOKIE "=%s", text);
	assert_int_equal(staff_cookie_token(cookie, d), -1);
	assert_int_equal(staff_cookie_token(STAFF_COOKIE "=short", d), -1);
	assert_int_equal(staff_cookie_token(NULL, d), -1);
}

static void test_filters(void **state)
{
	(void)state;
	char p[STAFF_FILTERS][STAFF_PARAM_MAX];
	struct staff_input_error e;

	assert_int_equal(staff_list_filters("", 50, p, &e), TIP_OK);
	assert_string_equal(p[5], "50");
	assert_int_equal(staff_list_filters("stage=review&before=123&limit=200", 50, p, &e), TIP_OK);
	assert_string_equal(p[0], "review");
	assert_string_equal(p[4], "123");
	assert_string_equal(p[5], "200");
	assert_int_equal(staff_list_filters("limit=201", 50, p, &e), TIP_EINVAL);
	assert_string_equal(e.field, "limit");
	assert_int_equal(staff_list_filters("before=0123", 50, p, &e), TIP_EINVAL);
	assert_int_equal(staff_list_filters("colour=red", 50, p, &e), TIP_EINVAL);
	assert_string_equal(e.field, "colour");
	assert_string_equal(e.message, "unknown filter");
	assert_int_equal(staff_list_filters("stage=Review", 50, p, &e), TIP_EINVAL);
}

/* An operation's arguments as compact JSON text (heap), or NULL when refused. */
static char *op_args(int post, const char *body, const char *query, int want, struct staff_input_error *e)
{
	json_t *doc;
	char *text;

	assert_int_equal(staff_op_args(post, (const uint8_t *)body, body ? strlen(body) : 0, query, &doc, e),
	                 want);
	if (want != TIP_OK) {
		assert_null(doc);
		return NULL;
	}
	text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	return text;
}

static void test_op_args(void **state)
{
	(void)state;
	struct staff_input_error e;
	char *args;

	args = op_args(0, NULL, "case_id=42&from=2026-01-01", TIP_OK, &e);
	assert_string_equal(args, "{\"case_id\":\"42\",\"from\":\"2026-01-01\"}");
	free(args);
	args = op_args(1, NULL, "", TIP_OK, &e);
	assert_string_equal(args, "{}");
	free(args);
	op_args(1, "[]", "", TIP_EINVAL, &e);
	op_args(0, NULL, "case_id=4 2", TIP_EINVAL, &e);
	assert_string_equal(e.field, "case_id");
	op_args(0, NULL, "a=1&a=2", TIP_EINVAL, &e);
	op_args(0, NULL, "Bad=1", TIP_EINVAL, &e);
	assert_string_equal(e.field, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_login_body),
	        cmocka_unit_test(test_cookie),
	        cmocka_unit_test(test_filters),
	        cmocka_unit_test(test_op_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
