/*
 * The staff API's request inputs parsed in C before any SQL (internal/staff.c): the login body,
 * the session cookie, the case list's filters and an operation's arguments. Pure functions over
 * (buffer, length) or a NUL-terminated header value, so they can be tested and fuzzed without a
 * database or a connection. What each accepts: docs/formats/staff-api.md.
 */
#ifndef TIP_INTERNAL_STAFF_INPUT_H
#define TIP_INTERNAL_STAFF_INPUT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "internal/auth.h"

#define STAFF_COOKIE    "tip_session"
#define STAFF_FILTERS   6  /* stage, province, region, category, before, limit */
#define STAFF_PARAM_MAX 40 /* bytes of one route or filter parameter with its NUL */
#define STAFF_PAGE_MAX  200
#define STAFF_FIELD_MAX 48

/* Why an input was refused: the field to name in the 400 answer ("" for none) and the message. */
struct staff_input_error {
	char field[STAFF_FIELD_MAX];
	const char *message; /* static text */
};

/*
 * A JSON object of non-empty strings without NUL, of at most AUTH_PASSWORD_MAX bytes, under the given keys
 * and no other, the first n_required of them required (the password change: "current", "new").
 * Returns the object (the caller owns it), or NULL with *e set.
 */
json_t *staff_strings_body(const uint8_t *body, size_t len, const char *const *keys, size_t n_keys,
                           size_t n_required, struct staff_input_error *e);

/* The login body: staff_strings_body of "username", "password" (required) and "totp". */
json_t *staff_login_parse(const uint8_t *body, size_t len, struct staff_input_error *e);

/* The digest of the session token in a Cookie header value (may be NULL): 0, or -1 when there is
 * none or it is malformed. */
int staff_cookie_token(const char *cookie, uint8_t digest[AUTH_DIGEST_LEN]);

/*
 * The case list's query string: stage, province, region, category (codes of [a-z0-9_], at most 16
 * bytes), before (an id), limit (an id up to STAFF_PAGE_MAX; page_default when absent), each into
 * params[i] ("" when absent). TIP_OK, or TIP_EINVAL with *e set.
 */
int staff_list_filters(const char *query, int page_default, char params[STAFF_FILTERS][STAFF_PARAM_MAX],
                       struct staff_input_error *e);

/*
 * An operation's arguments as a JSON object into *out (the caller owns it): a POST's body (a JSON object, or
 * nothing for {}), or a GET's query string of at most 32 name=value pairs, each name [a-z_]{1,40}
 * once, each value at most 64 bytes of [A-Za-z0-9_.:-]. TIP_OK; TIP_EINVAL with *e set;
 * TIP_ENOMEM.
 */
int staff_op_args(int post, const uint8_t *body, size_t len, const char *query, json_t **out,
                  struct staff_input_error *e);

/* 1 if s is an operation's name: [a-z_]{1,40}. */
int staff_op_name_ok(const char *s);

/* 1 if s[0..n) is a decimal id of 1 to 18 digits without a leading zero. */
int staff_id_ok(const char *s, size_t n);

#endif
