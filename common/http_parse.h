/*
 * A strict HTTP/1.x request-head parser over (buffer, length): request line and
 * header fields up to the empty line. No allocation: the result points into the
 * caller's buffer, which the parser modifies (it NUL-terminates tokens).
 *
 * Strict on purpose (RFC 9112): CRLF line endings only, no obsolete line
 * folding, no whitespace before the colon, one Content-Length, no
 * Transfer-Encoding (bodies must have a length; chunked uploads are refused),
 * origin-form targets only, Host required for HTTP/1.1.
 */
#ifndef TIP_COMMON_HTTP_PARSE_H
#define TIP_COMMON_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_HEADERS 64
#define HTTP_METHOD_MAX  16

enum http_method { HTTP_OTHER = 0, HTTP_GET, HTTP_HEAD, HTTP_POST };

struct http_header {
	const char *name; /* as sent; compare case-insensitively */
	const char *value;
};

struct http_head {
	enum http_method method;
	const char *method_name;
	const char *path;  /* the request target up to '?', percent-encoding untouched */
	const char *query; /* after '?', or "" */
	int minor;         /* HTTP/1.minor: 0 or 1 */
	struct http_header headers[HTTP_MAX_HEADERS];
	size_t n_headers;
	int has_length;
	uint64_t content_length;
	int keep_alive;      /* after Connection and the version's default */
	int expect_continue; /* "Expect: 100-continue" */
};

/*
 * Parses buf[0..len), which must hold the complete head including the final
 * CRLFCRLF (the caller finds it). Returns an HTTP status for the failure, or 0:
 *   400 malformed, 414 target longer than max_target, 431 too many header
 *   fields, 501 Transfer-Encoding or an unknown expectation, 505 not HTTP/1.0 or 1.1.
 */
int http_parse_head(char *buf, size_t len, size_t max_target, struct http_head *out);

/* The value of the first header named name (case-insensitive), or NULL. */
const char *http_head_header(const struct http_head *h, const char *name);
/*
 * Whether the request accepts the content coding `coding` ("gzip"), after every Accept-Encoding field
 * (RFC 9110 12.5.3): named (or as x-<coding>) with a weight above zero, or, when not named, "*" with a weight
 * above zero. No field, or any malformed one, accepts nothing: the identity answer is always safe.
 */
int http_accepts_encoding(const struct http_head *h, const char *coding);

#endif
