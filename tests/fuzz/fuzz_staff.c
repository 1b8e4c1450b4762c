/*
 * casemgrd's staff API inputs that C parses before any SQL (internal/staff_input.h). Input byte 0
 * chooses (modulo 5): the login body, a Cookie header, the case list's query string, a GET
 * operation's query string, a POST operation's body; the rest is that input. What is refused
 * names a field and a message; what is accepted keeps its promises, and the filters and a GET
 * operation's arguments written back as a query string parse to the same result.
 */
#include "fuzz.h"

#include "common/err.h"
#include "internal/staff_input.h"

#include <stdlib.h>
#include <string.h>

static void check_error(const struct staff_input_error *e)
{
	if (!e->message || !e->message[0] || strnlen(e->field, sizeof(e->field)) == sizeof(e->field))
		abort();
}

static void login(const uint8_t *data, size_t size)
{
	struct staff_input_error e;
	json_t *doc = staff_login_parse(data, size, &e);

	if (!doc) {
		check_error(&e);
		return;
	}
	if (!json_is_string(json_object_get(doc, "username")) ||
	    !json_is_string(json_object_get(doc, "password")) || json_object_size(doc) > 3)
		abort();
	json_decref(doc);
}

static void cookie(const char *text)
{
	uint8_t digest[AUTH_DIGEST_LEN];
	const char *p = strstr(text, STAFF_COOKIE "=");

	if (staff_cookie_token(text, digest) == 0 && !p)
		abort();
}

static void filters(const char *query)
{
	char params[STAFF_FILTERS][STAFF_PARAM_MAX], again[STAFF_FILTERS][STAFF_PARAM_MAX];
	static const char *const keys[STAFF_FILTERS] = {"stage",    "province", "region",
	                                                "category", "before",   "limit"};
	char rebuilt[STAFF_FILTERS * (STAFF_PARAM_MAX + 12)] = "";
	struct staff_input_error e;
	size_t n = 0;

	if (staff_list_filters(query, 50, params, &e) != TIP_OK) {
		check_error(&e);
		return;
	}
	for (int i = 0; i < STAFF_FILTERS; i++) {
		size_t len = strnlen(params[i], STAFF_PARAM_MAX);

		if (len == STAFF_PARAM_MAX || len > 16 ||
		    strspn(params[i], "abcdefghijklmnopqrstuvwxyz0123456789_") != len ||
		    (i >= 4 && len && !staff_id_ok(params[i], len)) ||
		    (i == 5 && atoi(params[i]) > STAFF_PAGE_MAX))
			abort();
		if (len)
			n += (size_t)snprintf(rebuilt + n, sizeof(rebuilt) - n, "%s%s=%s", n ? "&" : "",
			                      keys[i], params[i]);
	}
	if (staff_list_filters(rebuilt, 50, again, &e) != TIP_OK)
		abort();
	for (int i = 0; i < STAFF_FILTERS; i++)
		if (strcmp(params[i], again[i]) != 0)
			abort();
}

static void op(int post, const uint8_t *data, size_t size, const char *query)
{
	struct staff_input_error e;
	char rebuilt[32 * (40 + 64 + 2) + 1] = "";
	json_t *doc, *again, *v;
	const char *key;
	size_t n = 0;
	int rc = staff_op_args(post, data, size, query, &doc, &e);

	if (rc != TIP_OK) {
		if (rc != TIP_EINVAL || doc)
			abort();
		check_error(&e);
		return;
	}
	if (!json_is_object(doc))
		abort();
	if (!post) {
		json_object_foreach(doc, key, v)
		{
			if (!staff_op_name_ok(key) || !json_is_string(v) || json_string_length(v) > 64)
				abort();
			n += (size_t)snprintf(rebuilt + n, sizeof(rebuilt) - n, "%s%s=%s", n ? "&" : "", key,
			                      json_string_value(v));
			if (n >= sizeof(rebuilt))
				abort();
		}
		if (staff_op_args(0, NULL, 0, rebuilt, &again, &e) != TIP_OK || !json_equal(again, doc))
			abort();
		json_decref(again);
	}
	json_decref(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;

	if (size < 1)
		return 0;
	/* Header values and query strings reach the parsers NUL-terminated, as the HTTP parser leaves them.
	 */
	if (!(text = malloc(size)))
		abort();
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	switch (data[0] % 5) {
	case 0: login(data + 1, size - 1); break;
	case 1: cookie(text); break;
	case 2: filters(text); break;
	case 3: op(0, NULL, 0, text); break;
	default: op(1, data + 1, size - 1, ""); break;
	}
	free(text);
	return 0;
}
