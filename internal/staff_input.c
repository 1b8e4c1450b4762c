#include "internal/staff_input.h"

#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FILTER_MAX   16
#define OP_NAME_MAX  40
#define OP_ARGS_MAX  32 /* query parameters of a GET operation */
#define OP_VALUE_MAX 64

static void refuse(struct staff_input_error *e, const char *field, int field_len, const char *message)
{
	snprintf(e->field, sizeof(e->field), "%.*s", field_len, field ? field : "");
	e->message = message;
}

json_t *staff_strings_body(const uint8_t *body, size_t len, const char *const *keys, size_t n_keys,
                           size_t n_required, struct staff_input_error *e)
{
	json_error_t je;
	const char *key;
	json_t *doc = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &je), *v;

	if (!json_is_object(doc)) {
		refuse(e, NULL, 0, "the body must be a JSON object");
		goto fail;
	}
	json_object_foreach(doc, key, v)
	{
		int known = 0;
		size_t n = json_is_string(v) ? json_string_length(v) : 0;

		for (size_t i = 0; i < n_keys; i++)
			known |= !strcmp(key, keys[i]);
		if (!known || !json_is_string(v) || !n || n > AUTH_PASSWORD_MAX ||
		    strlen(json_string_value(v)) != n) {
			refuse(e, key, (int)strnlen(key, STAFF_FIELD_MAX),
			       known ? "a non-empty string without NUL" : "unknown key");
			goto fail;
		}
	}
	for (size_t i = 0; i < n_required; i++)
		if (!json_object_get(doc, keys[i])) {
			refuse(e, keys[i], STAFF_FIELD_MAX, "required");
			goto fail;
		}
	return doc;
fail:
	json_decref(doc);
	return NULL;
}

json_t *staff_login_parse(const uint8_t *body, size_t len, struct staff_input_error *e)
{
	static const char *const keys[] = {"username", "password", "totp"};

	return staff_strings_body(body, len, keys, 3, 2, e);
}

int staff_cookie_token(const char *cookie, uint8_t digest[AUTH_DIGEST_LEN])
{
	char token[AUTH_TOKEN_TEXT];
	const char *p;

	for (p = cookie; p && (p = strstr(p, STAFF_COOKIE "=")); p++)
		if (p == cookie || p[-1] == ' ' || p[-1] == ';') {
			size_t n = strcspn(p + sizeof(STAFF_COOKIE), "; ");

			if (n != AUTH_TOKEN_TEXT - 1)
				return -1;
			memcpy(token, p + sizeof(STAFF_COOKIE), n);
			token[n] = 0;
			return auth_token_digest(token, digest) == TIP_OK ? 0 : -1;
		}
	return -1;
}

int staff_id_ok(const char *s, size_t n)
{
	return n >= 1 && n <= 18 && strspn(s, "0123456789") >= n && s[0] != '0';
}

int staff_list_filters(const char *q, int page_default, char params[STAFF_FILTERS][STAFF_PARAM_MAX],
                       struct staff_input_error *e)
{
	static const char *const keys[STAFF_FILTERS] = {"stage",    "province", "region",
	                                                "category", "before",   "limit"};

	for (int i = 0; i < STAFF_FILTERS; i++)
		params[i][0] = '\0';
	snprintf(params[5], STAFF_PARAM_MAX, "%d", page_default);
	while (*q) {
		size_t n = strcspn(q, "&"), k = strcspn(q, "=");
		int found = -1, field_len = (int)((k < n ? k : n) < 31 ? (k < n ? k : n) : 31);

		for (int i = 0; i < STAFF_FILTERS; i++)
			if (k < n && strlen(keys[i]) == k && strncmp(q, keys[i], k) == 0)
				found = i;
		if (found < 0) {
			refuse(e, q, field_len, "unknown filter");
			return TIP_EINVAL;
		}
		const char *v = q + k + 1;
		size_t vn = n - k - 1;

		if (vn == 0 || vn > FILTER_MAX || strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789_") < vn ||
		    (found >= 4 && !staff_id_ok(v, vn)) ||
		    (found == 5 && (vn > 3 || atoi(v) > STAFF_PAGE_MAX))) {
			refuse(e, q, field_len, "a code, or a number for before and limit (<= 200)");
			return TIP_EINVAL;
		}
		memcpy(params[found], v, vn);
		params[found][vn] = 0;
		q += n + (q[n] == '&');
	}
	return TIP_OK;
}

int staff_op_name_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= OP_NAME_MAX && strspn(s, "abcdefghijklmnopqrstuvwxyz_") == n;
}

int staff_op_args(int post, const uint8_t *body, size_t len, const char *q, json_t **out,
                  struct staff_input_error *e)
{
	json_t *args = NULL;
	json_error_t je;

	*out = NULL;
	if (post) {
		args = len ? json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &je) : json_object();
		if (!json_is_object(args)) {
			json_decref(args);
			refuse(e, NULL, 0, "the body must be a JSON object");
			return TIP_EINVAL;
		}
	} else {
		args = json_object();
		for (size_t count = 0; args && *q; count++) {
			size_t n = strcspn(q, "&"), k = strcspn(q, "=");
			char key[OP_NAME_MAX + 1], value[OP_VALUE_MAX + 1];
			int bad = count >= OP_ARGS_MAX || k >= n || k == 0 || k > OP_NAME_MAX ||
			          n - k - 1 > OP_VALUE_MAX;

			if (!bad) {
				memcpy(key, q, k);
				key[k] = 0;
				memcpy(value, q + k + 1, n - k - 1);
				value[n - k - 1] = 0;
				bad = !staff_op_name_ok(key) || json_object_get(args, key) ||
				      strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123"
				                    "456789_.:-") != strlen(value) ||
				      json_object_set_new(args, key, json_string(value)) != 0;
			}
			if (bad) {
				char field[OP_NAME_MAX + 1];

				snprintf(field, sizeof(field), "%.*s", (int)(k < n ? k : n), q);
				json_decref(args);
				refuse(e, field, OP_NAME_MAX, NULL);
				if (!staff_op_name_ok(field))
					e->field[0] = '\0';
				e->message = "parameters name=value, at most 32, each once, values of "
				             "letters, digits "
				             "and _ . : - (at most 64)";
				return TIP_EINVAL;
			}
			q += n + (q[n] == '&');
		}
	}
	*out = args;
	return args ? TIP_OK : TIP_ENOMEM;
}
