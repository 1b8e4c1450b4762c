/*
 * An HTTP request head through http_parse_head(), as the server hands it over (a NUL after the
 * bytes): answers only with its documented statuses; what it accepts holds no NUL byte, points into
 * the buffer, and written out again in canonical form ("name: value" lines) parses to the same
 * request.
 */
#include "fuzz.h"

#include "common/http_parse.h"

#include <stdlib.h>
#include <string.h>

#define MAX_TARGET 2048

static void inside(const char *s, const char *buf, size_t size)
{
	if (!s || s < buf || s + strlen(s) > buf + size)
		abort();
}

/* h written out again; returns the length, 0 if it does not fit. */
static size_t canonical(const struct http_head *h, char *out, size_t cap)
{
	size_t n = 0;

#define PUT(s)                                                                                               \
	do {                                                                                                 \
		size_t l_ = strlen(s);                                                                       \
		if (n + l_ >= cap)                                                                           \
			return 0;                                                                            \
		memcpy(out + n, s, l_);                                                                      \
		n += l_;                                                                                     \
	} while (0)
	PUT(h->method_name);
	PUT(" ");
	PUT(h->path);
	if (h->query[0]) {
		PUT("?");
		PUT(h->query);
	}
	PUT(h->minor ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n");
	for (size_t i = 0; i < h->n_headers; i++) {
		PUT(h->headers[i].name);
		PUT(": ");
		PUT(h->headers[i].value);
		PUT("\r\n");
	}
	PUT("\r\n");
#undef PUT
	out[n] = '\0';
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *again = NULL;
	struct http_head h, h2;
	size_t cap = size + 16, n;
	int rc;

	if (!buf)
		abort();
	memcpy(buf, data, size);
	buf[size] = '\0';
	rc = http_parse_head(buf, size, MAX_TARGET, &h);
	if (rc != 0) {
		if (rc != 400 && rc != 414 && rc != 431 && rc != 501 && rc != 505)
			abort();
		goto out;
	}
	if (memchr(data, '\0', size) || h.n_headers > HTTP_MAX_HEADERS || (h.minor != 0 && h.minor != 1) ||
	    (h.minor == 1 && !http_head_header(&h, "Host")) ||
	    h.has_length != (http_head_header(&h, "Content-Length") != NULL))
		abort();
	inside(h.method_name, buf, size);
	inside(h.path, buf, size);
	if (h.path[0] != '/' || strlen(h.path) > MAX_TARGET || strchr(h.path, '?'))
		abort();
	if (h.query[0])
		inside(h.query, buf, size);
	for (size_t i = 0; i < h.n_headers; i++) {
		inside(h.headers[i].name, buf, size);
		inside(h.headers[i].value, buf, size);
		if (!h.headers[i].name[0])
			abort();
	}
	rc = http_accepts_encoding(&h, "gzip");
	if (rc != 0 && rc != 1)
		abort();
	/* The canonical form is never longer than the input plus the ": " of short separators. */
	cap += 2 * h.n_headers;
	if (!(again = malloc(cap + 1)))
		abort();
	n = canonical(&h, again, cap + 1);
	if (n == 0 || http_parse_head(again, n, MAX_TARGET, &h2) != 0 || h2.method != h.method ||
	    strcmp(h2.method_name, h.method_name) || strcmp(h2.path, h.path) || strcmp(h2.query, h.query) ||
	    h2.minor != h.minor || h2.n_headers != h.n_headers || h2.has_length != h.has_length ||
	    h2.content_length != h.content_length || h2.keep_alive != h.keep_alive ||
	    h2.expect_continue != h.expect_continue || http_accepts_encoding(&h2, "gzip") != rc)
		abort();
	for (size_t i = 0; i < h.n_headers; i++)
		if (strcmp(h2.headers[i].name, h.headers[i].name) ||
		    strcmp(h2.headers[i].value, h.headers[i].value))
			abort();
out:
	free(again);
	free(buf);
	return 0;
}
