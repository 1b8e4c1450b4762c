#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/http_parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse(const char *text, struct http_head *h)
{
	static char buf[8192];
	size_t n = strlen(text);

	memcpy(buf, text, n + 1);
	return http_parse_head(buf, n, 64, h);
}

static void test_valid(void **state)
{
	(void)state;
	struct http_head h;

	assert_int_equal(parse("POST /api/v1/reports?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n"
	                       "Content-Type:  application/json  \r\nExpect: 100-continue\r\n\r\n",
	                       &h),
	                 0);
	assert_int_equal(h.method, HTTP_POST);
	assert_string_equal(h.path, "/api/v1/reports");
	assert_string_equal(h.query, "x=1");
	assert_int_equal(h.minor, 1);
	assert_true(h.has_length);
	assert_int_equal(h.content_length, 12);
	assert_true(h.keep_alive);
	assert_true(h.expect_continue);
	assert_string_equal(http_head_header(&h, "content-type"), "application/json");
	assert_null(http_head_header(&h, "Cookie"));

	assert_int_equal(parse("GET / HTTP/1.0\r\n\r\n", &h), 0);
	assert_false(h.keep_alive);
	assert_int_equal(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &h), 0);
	assert_true(h.keep_alive);
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n", &h), 0);
	assert_false(h.keep_alive);
	assert_int_equal(parse("DELETE /x HTTP/1.1\r\nHost: a\r\n\r\n", &h), 0);
	assert_int_equal(h.method, HTTP_OTHER);
	assert_string_equal(h.method_name, "DELETE");
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\n\r\n", &h), 0);
	assert_string_equal(http_head_header(&h, "x-empty"), "");
}

static void test_rejects(void **state)
{
	(void)state;
	struct http_head h;
	static const struct {
		const char *text;
		int status;
	} cases[] = {
	        {"GET / HTTP/1.1\r\n\r\n", 400},                          /* no Host */
	        {"GET / HTTP/1.1\nHost: a\r\n\r\n", 400},                 /* bare LF */
	        {"GET / HTTP/1.1\r\nHost: a\r\n continued\r\n\r\n", 400}, /* obs-fold */
	        {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},              /* space before colon */
	        {"GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", 400},
	        {"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n", 400}, /* control character */
	        {"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400},   /* bare CR */
	        {"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400},             /* double space */
	        {"GET http://x/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},      /* absolute-form */
	        {"GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	        {"G@T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	        {"AVERYLONGMETHODNAME / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
	        {"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
	        {"GET / FTP/1.1\r\nHost: a\r\n\r\n", 400},
	        {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", 400},
	        {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400},
	        {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", 400},
	        {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400},
	        {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400},
	        {"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", 501},
	        {"POST / HTTP/1.1\r\nHost: a\r\nExpect: something\r\n\r\n", 501},
	        {"GET /0123456789012345678901234567890123456789012345678901234567890123456789 "
	         "HTTP/1.1\r\nHost: a\r\n\r\n",
	         414},
	        {"GET / HTTP/1.1\r\nHost: a\r\n\r\nextra", 400},
	        {"", 400},
	        {"\r\n\r\n", 400},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = parse(cases[i].text, &h);

		if (rc != cases[i].status)
			fail_msg("case %zu: got %d, want %d", i, rc, cases[i].status);
	}
}

static void test_too_many_headers(void **state)
{
	(void)state;
	struct http_head h;
	char text[8192];
	size_t n = 0;

	n += (size_t)snprintf(text + n, sizeof(text) - n, "GET / HTTP/1.1\r\nHost: a\r\n");
	for (int i = 0; i < HTTP_MAX_HEADERS - 1; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "X-%d: v\r\n", i);
	snprintf(text + n, sizeof(text) - n, "\r\n");
	assert_int_equal(parse(text, &h), 0);
	snprintf(text + n, sizeof(text) - n, "X-last: v\r\n\r\n");
	assert_int_equal(parse(text, &h), 431);
}

/* Whether a GET whose head carries the given header lines accepts gzip. */
static int gzip_ok(const char *lines)
{
	char text[1024];
	struct http_head h;

	snprintf(text, sizeof(text), "GET / HTTP/1.1\r\nHost: a\r\n%s\r\n", lines);
	assert_int_equal(parse(text, &h), 0);
	return http_accepts_encoding(&h, "gzip");
}

static void test_accept_encoding(void **state)
{
	(void)state;
	static const struct {
		const char *lines;
		int gzip;
	} cases[] = {
	        {"", 0}, /* no field: the identity answer */
	        {"Accept-Encoding: gzip, deflate, br, zstd\r\n", 1},
	        {"accept-encoding: GZIP\r\n", 1},
	        {"Accept-Encoding: x-gzip\r\n", 1},
	        {"Accept-Encoding: br\r\n", 0},
	        {"Accept-Encoding: gzipped, gzi, xgzip\r\n", 0},
	        {"Accept-Encoding:\r\n", 0},
	        {"Accept-Encoding: identity\r\n", 0},
	        {"Accept-Encoding: *\r\n", 1},
	        {"Accept-Encoding: *;q=0\r\n", 0},
	        {"Accept-Encoding: gzip;q=0\r\n", 0},
	        {"Accept-Encoding: gzip;q=0.000\r\n", 0},
	        {"Accept-Encoding: gzip; q=0.001\r\n", 1},
	        {"Accept-Encoding: gzip ;Q=1.000\r\n", 1},
	        {"Accept-Encoding: gzip;q=0, *\r\n", 0}, /* named beats the wildcard */
	        {"Accept-Encoding: *;q=0, gzip;q=0.5\r\n", 1},
	        {"Accept-Encoding: br\r\nAccept-Encoding: gzip\r\n", 1}, /* every field counts */
	        {"Accept-Encoding: deflate;level=1, gzip\r\n", 1},
	        /* Malformed lists accept nothing. */
	        {"Accept-Encoding: gzip;q=1.5\r\n", 0},
	        {"Accept-Encoding: gzip;q=2\r\n", 0},
	        {"Accept-Encoding: gzip;q=0.0001\r\n", 0},
	        {"Accept-Encoding: gzip;q=.5\r\n", 0},
	        {"Accept-Encoding: gzip;q=\r\n", 0},
	        {"Accept-Encoding: gzip;q\r\n", 0},
	        {"Accept-Encoding: gzip;=1\r\n", 0},
	        {"Accept-Encoding: gzip;x=\"a\"\r\n", 0},
	        {"Accept-Encoding: gzip x\r\n", 0},
	        {"Accept-Encoding: (gzip)\r\n", 0},
	        {"Accept-Encoding: gzip\r\nAccept-Encoding: gz ip\r\n", 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (gzip_ok(cases[i].lines) != cases[i].gzip)
			fail_msg("case %zu (%s): want %d", i, cases[i].lines, cases[i].gzip);
}

static void test_random_heads(void **state)
{
	(void)state;
	static const char seed[] =
	        "POST /a?b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nConnection: close\r\n\r\n";
	char buf[sizeof(seed)];
	uint32_t x = 1;
	struct http_head h;

	for (int round = 0; round < 100000; round++) {
		memcpy(buf, seed, sizeof(seed));
		for (int k = 0; k < 3; k++) {
			x = x * 1103515245u + 12345u;
			buf[(x >> 8) % (sizeof(seed) - 1)] = (char)(x >> 24);
		}
		int rc = http_parse_head(buf, sizeof(seed) - 1, 64, &h);

		assert_true(rc == 0 || rc == 400 || rc == 414 || rc == 431 || rc == 501 || rc == 505);
	}
	/* Random bytes in an Accept-Encoding value: an answer, never a crash or a read past the value. */
	for (int round = 0; round < 100000; round++) {
		static const char alphabet[] = "gzip*;q=0.1, \t\"x-";
		char value[24], *copy;
		struct http_header field = {"Accept-Encoding", value};

		x = x * 1103515245u + 12345u;
		size_t n = (x >> 16) % sizeof(value);

		for (size_t k = 0; k < n; k++) {
			x = x * 1103515245u + 12345u;
			value[k] = alphabet[(x >> 16) % (sizeof(alphabet) - 1)];
		}
		value[n] = '\0';
		copy = malloc(n + 1); /* exactly as long as the value, so ASan sees a read past it */
		assert_non_null(copy);
		memcpy(copy, value, n + 1);
		field.value = copy;
		h.headers[0] = field;
		h.n_headers = 1;
		int ok = http_accepts_encoding(&h, "gzip");

		assert_true(ok == 0 || ok == 1);
		free(copy);
	}
}

/* A NUL inside the head would end a token unseen (found by fuzz_http): the whole head is refused. */
static void test_nul_byte(void **state)
{
	(void)state;
	static const char *const heads[] = {
	        "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\0 0\r\n\r\n",
	        "GET / HTTP/1.1\0junk\r\nHost: a\r\n\r\n",
	        "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n",
	        "GET / HTTP/1.1\r\nHost: a\r\n\0\r\n\r\n",
	};
	static const size_t lens[] = {49, 32, 29, 30};
	char buf[64];
	struct http_head h;

	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		memcpy(buf, heads[i], lens[i]);
		buf[lens[i]] = '\0';
		assert_int_equal(http_parse_head(buf, lens[i], 64, &h), 400);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_valid),
	        cmocka_unit_test(test_rejects),
	        cmocka_unit_test(test_too_many_headers),
	        cmocka_unit_test(test_accept_encoding),
	        cmocka_unit_test(test_random_heads),
	        cmocka_unit_test(test_nul_byte),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
