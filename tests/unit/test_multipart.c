#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/err.h"
#include "intake/multipart.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define B "----WebKitFormBoundary7MA4YWxkTrZu0gW"

static const uint8_t jpeg[] = {0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00, 0x01};
static const uint8_t png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
/* Data that nearly holds the delimiter (CRLF "--" boundary), and CRLFs, must come through unchanged. */
static const uint8_t tricky[] =
        "\r\n----WebKitFormBoundary7MA4YWxkTrZu0g\r\nx--" B "\r\n-" B "\r\n\r\n--\r\n";
static const char report_json[] = "{\"reporter\": {\"anonymous\": true}}";

struct body {
	uint8_t d[1 << 16];
	size_t n;
};

static void put(struct body *b, const void *p, size_t n)
{
	assert_true(b->n + n <= sizeof(b->d));
	memcpy(b->d + b->n, p, n);
	b->n += n;
}

static void puts_(struct body *b, const char *s)
{
	put(b, s, strlen(s));
}

/* One part: delimiter line, header lines (already CRLF-terminated), blank line, data. */
static void part(struct body *b, const char *headers, const void *data, size_t len)
{
	puts_(b, b->n ? "\r\n--" B "\r\n" : "--" B "\r\n");
	puts_(b, headers);
	puts_(b, "\r\n");
	put(b, data, len);
}

static void close_body(struct body *b)
{
	puts_(b, "\r\n--" B "--\r\n");
}

static void report_part(struct body *b)
{
	part(b, "Content-Disposition: form-data; name=\"report\"\r\nContent-Type: application/json\r\n",
	     report_json, strlen(report_json));
}

static void inside(const struct body *b, const struct mp_part *p)
{
	assert_true(p->data >= b->d && p->data + p->len <= b->d + b->n);
}

static void test_boundary(void **state)
{
	(void)state;
	char out[MP_BOUNDARY_MAX + 1];
	char long_ct[200];
	static const struct {
		const char *ct;
		int rc;
		const char *want;
	} cases[] = {
	        {"multipart/form-data; boundary=" B, TIP_OK, B},
	        {"multipart/form-data; boundary=\"" B "\"", TIP_OK, B},
	        {"Multipart/Form-Data;BOUNDARY=abc", TIP_OK, "abc"},
	        {"multipart/form-data; charset=utf-8; boundary=\"a b'()+_,-./:=?z\"", TIP_OK,
	         "a b'()+_,-./:=?z"},
	        {"multipart/form-data; boundary=\"a\\:b\"", TIP_OK, "a:b"},
	        {"  multipart/form-data ;\tboundary=x  ", TIP_OK, "x"},
	        {"application/json", TIP_EINVAL, ""},
	        {"multipart/mixed; boundary=x", TIP_EINVAL, ""},
	        {"multipart/form-datax; boundary=x", TIP_EINVAL, ""},
	        {"multipart", TIP_EINVAL, ""},
	        {"", TIP_EINVAL, ""},
	        {"multipart/form-data", TIP_EDECODE, ""},
	        {"multipart/form-data; charset=utf-8", TIP_EDECODE, ""},
	        {"multipart/form-data; boundary=a; boundary=a", TIP_EDECODE, ""},
	        {"multipart/form-data; boundary=\"\"", TIP_EDECODE, ""},
	        {"multipart/form-data; boundary=", TIP_EDECODE, ""},
	        {"multipart/form-data; boundary=\"ab \"", TIP_EDECODE, ""},
	        {"multipart/form-data; boundary=\"a@b\"", TIP_EDECODE, ""},
	        {"multipart/form-data; boundary=\"a\\\"b\"", TIP_EDECODE, ""},
	        {"multipart/form-data; boundary=a@b", TIP_EDECODE, ""},
	        {"multipart/form-data; boundary=\"abc", TIP_EDECODE, ""},
	        {"multipart/form-data; boundary=abc;", TIP_EDECODE, ""},
	        {"multipart/form-data; boundary = abc", TIP_EDECODE, ""},
	        {"multipart/form-data boundary=abc", TIP_EDECODE, ""},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = mp_boundary(cases[i].ct, out);

		if (rc != cases[i].rc || (rc == TIP_OK && strcmp(out, cases[i].want) != 0))
			fail_msg("%s: got %d \"%s\", want %d \"%s\"", cases[i].ct, rc, out, cases[i].rc,
			         cases[i].want);
	}
	assert_int_equal(mp_boundary(NULL, out), TIP_EINVAL);
	/* 70 characters is the RFC 2046 maximum, 71 is too many. */
	snprintf(long_ct, sizeof(long_ct), "multipart/form-data; boundary=%070d", 7);
	assert_int_equal(mp_boundary(long_ct, out), TIP_OK);
	assert_int_equal(strlen(out), 70);
	snprintf(long_ct, sizeof(long_ct), "multipart/form-data; boundary=%071d", 7);
	assert_int_equal(mp_boundary(long_ct, out), TIP_EDECODE);
}

static void test_valid_forms(void **state)
{
	(void)state;
	static const struct {
		const char *filename;
		const uint8_t *data;
		size_t len;
	} files[] = {{"photo.jpg", jpeg, sizeof(jpeg)},
	             {"scan.png", png, sizeof(png)},
	             {"x.bin", tricky, sizeof(tricky) - 1}};
	struct body *b = calloc(1, sizeof(*b));
	struct mp_form f;

	assert_non_null(b);
	for (size_t n = 0; n <= 3; n++) {
		b->n = 0;
		report_part(b);
		for (size_t i = 0; i < n; i++) {
			char h[256];

			snprintf(h, sizeof(h),
			         "Content-Disposition: form-data; name=\"attachment\"; filename=\"%s\"\r\n"
			         "Content-Type: application/octet-stream\r\n",
			         files[i].filename);
			part(b, h, files[i].data, files[i].len);
		}
		close_body(b);
		assert_int_equal(mp_parse(b->d, b->n, B, 8, &f), TIP_OK);
		assert_null(f.error);
		assert_int_equal(f.n_parts, n + 1);
		assert_string_equal(f.parts[0].name, "report");
		assert_null(f.parts[0].filename);
		assert_int_equal(f.parts[0].len, strlen(report_json));
		assert_memory_equal(f.parts[0].data, report_json, strlen(report_json));
		inside(b, &f.parts[0]);
		for (size_t i = 0; i < n; i++) {
			const struct mp_part *p = &f.parts[i + 1];

			assert_string_equal(p->name, "attachment");
			assert_string_equal(p->filename, files[i].filename);
			assert_int_equal(p->len, files[i].len);
			assert_memory_equal(p->data, files[i].data, files[i].len);
			inside(b, p);
		}
		mp_form_free(&f);
		mp_form_free(&f);
	}
	free(b);
}

static void test_syntax_variants(void **state)
{
	(void)state;
	struct mp_form f;
	static const struct {
		const char *body;
		size_t n_parts;
		const char *name0, *filename0, *data0;
	} cases[] = {
	        /* no CRLF after the final boundary; padding after boundaries */
	        {"--b\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--b--", 1, "a", NULL, "x"},
	        {"--b \t\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--b-- \r\n", 1, "a", NULL,
	         "x"},
	        /* empty data; header names and disposition type in any case; extra whitespace */
	        {"--b\r\ncontent-DISPOSITION:Form-Data;name=\"a\"\r\n\r\n\r\n--b--\r\n", 1, "a", NULL, ""},
	        {"--b\r\nContent-Disposition:  form-data ; name=\"a\" ; filename=\"f\"  "
	         "\r\n\r\nx\r\n--b--\r\n",
	         1, "a", "f", "x"},
	        /* other headers ignored, permitted Content-Transfer-Encoding */
	        {"--b\r\nX-Thing: 1\r\nContent-Disposition: form-data; name=a\r\nContent-Transfer-Encoding: "
	         "binary\r\n"
	         "\r\nx\r\n--b--\r\n",
	         1, "a", NULL, "x"},
	        /* filename* is ignored; unknown parameters too */
	        {"--b\r\nContent-Disposition: form-data; name=a; filename*=UTF-8''x.jpg; "
	         "size=3\r\n\r\nx\r\n--b--",
	         1, "a", NULL, "x"},
	        /* filenames: last path component, no controls, UTF-8 only, a file input left empty */
	        {"--b\r\nContent-Disposition: form-data; name=a; "
	         "filename=\"C:\\Users\\li\\photo.jpg\"\r\n\r\nx\r\n--b--",
	         1, "a", "photo.jpg", "x"},
	        {"--b\r\nContent-Disposition: form-data; name=a; "
	         "filename=\"../../etc/passwd\"\r\n\r\nx\r\n--b--",
	         1, "a", "passwd", "x"},
	        {"--b\r\nContent-Disposition: form-data; name=a; filename=\"dir/\"\r\n\r\nx\r\n--b--", 1, "a",
	         "", "x"},
	        {"--b\r\nContent-Disposition: form-data; name=a; "
	         "filename=\"a\tb\xc2\x85\xe2\x80\xaegpj.exe\"\r\n\r\nx\r\n"
	         "--b--",
	         1, "a", "abgpj.exe", "x"},
	        {"--b\r\nContent-Disposition: form-data; name=a; "
	         "filename=\"\xff\xc3\xa9t\xc3\xa9.jpg\"\r\n\r\nx\r\n--b--",
	         1, "a", "_été.jpg", "x"},
	        {"--b\r\nContent-Disposition: form-data; name=a; filename=\"\"\r\n\r\n\r\n--b--", 1, "a", "",
	         ""},
	        {"--b\r\nContent-Disposition: form-data; name=a; filename=\"say "
	         "%22hi%22.pdf\"\r\n\r\nx\r\n--b--",
	         1, "a", "say %22hi%22.pdf", "x"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const uint8_t *body = (const uint8_t *)cases[i].body;
		size_t len = strlen(cases[i].body);
		int rc = mp_parse(body, len, "b", 8, &f);

		if (rc != TIP_OK)
			fail_msg("case %zu: %d %s", i, rc, f.error);
		assert_int_equal(f.n_parts, cases[i].n_parts);
		assert_string_equal(f.parts[0].name, cases[i].name0);
		if (cases[i].filename0)
			assert_string_equal(f.parts[0].filename, cases[i].filename0);
		else
			assert_null(f.parts[0].filename);
		assert_int_equal(f.parts[0].len, strlen(cases[i].data0));
		assert_memory_equal(f.parts[0].data, cases[i].data0, f.parts[0].len);
		assert_true(f.parts[0].data >= body && f.parts[0].data + f.parts[0].len <= body + len);
		mp_form_free(&f);
	}
}

static void test_long_filename(void **state)
{
	(void)state;
	char body[2048], name[1024];
	struct mp_form f;
	size_t o = 0;

	/* 300 code points, 2 bytes each: the last 255 are kept, so the extension survives. */
	for (int i = 0; i < 296; i++, o += 2)
		memcpy(name + o, "é", 2);
	memcpy(name + o, ".jpg", 5);
	snprintf(body, sizeof(body),
	         "--b\r\nContent-Disposition: form-data; name=a; filename=\"%s\"\r\n\r\nx\r\n--b--", name);
	assert_int_equal(mp_parse((const uint8_t *)body, strlen(body), "b", 1, &f), TIP_OK);
	assert_int_equal(strlen(f.parts[0].filename), 251 * 2 + 4);
	assert_string_equal(f.parts[0].filename, name + (296 - 251) * 2);
	mp_form_free(&f);
}

static void expect_fail(const char *body, size_t max_parts, int rc)
{
	struct mp_form f;
	int got = mp_parse((const uint8_t *)body, strlen(body), "b", max_parts, &f);

	if (got != rc)
		fail_msg("got %d (%s), want %d for %.60s", got, f.error ? f.error : "-", rc, body);
	assert_non_null(f.error);
	assert_null(f.parts);
	assert_int_equal(f.n_parts, 0);
	mp_form_free(&f);
}

#define CD "Content-Disposition: form-data; name=a\r\n"

static void test_errors(void **state)
{
	(void)state;
	struct mp_form f;
	char b71[72];

	/* boundary: missing at the start, preamble, wrong one */
	expect_fail("preamble\r\n--b\r\n" CD "\r\nx\r\n--b--", 8, TIP_EDECODE);
	expect_fail("\r\n--b\r\n" CD "\r\nx\r\n--b--", 8, TIP_EDECODE);
	expect_fail("--c\r\n" CD "\r\nx\r\n--c--", 8, TIP_EDECODE);
	expect_fail("", 8, TIP_ETRUNCATED);
	expect_fail("--", 8, TIP_EDECODE);
	/* missing final boundary */
	expect_fail("--b\r\n" CD "\r\nx", 8, TIP_ETRUNCATED);
	expect_fail("--b\r\n" CD "\r\nx\r\n--b", 8, TIP_ETRUNCATED);
	expect_fail("--b\r\n" CD "\r\nx\r\n--b  ", 8, TIP_ETRUNCATED);
	expect_fail("--b\r\n" CD "\r\nx\r\n--b\r\n", 8, TIP_ETRUNCATED);
	expect_fail("--b", 8, TIP_ETRUNCATED);
	/* junk: after a boundary, after the final boundary, a lone CR, no parts at all */
	expect_fail("--bX\r\n" CD "\r\nx\r\n--b--", 8, TIP_EDECODE);
	expect_fail("--b\r\n" CD "\r\nx\r\n--bX\r\n--b--", 8, TIP_EDECODE);
	expect_fail("--b\r\n" CD "\r\nx\r\n--b--\r\nepilogue", 8, TIP_EDECODE);
	expect_fail("--b\r\n" CD "\r\nx\r\n--b--x", 8, TIP_EDECODE);
	expect_fail("--b\r\n" CD "\r\nx\r\n--b--\r\n\r\n", 8, TIP_EDECODE);
	expect_fail("--b\r" CD "\r\nx\r\n--b--", 8, TIP_EDECODE);
	expect_fail("--b--", 8, TIP_EDECODE);
	expect_fail("--b--\r\n", 8, TIP_EDECODE);
	/* a part without a name */
	expect_fail("--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--", 8, TIP_EDECODE);
	expect_fail("--b\r\nContent-Disposition: form-data; filename=\"x.jpg\"\r\n\r\nx\r\n--b--", 8,
	            TIP_EDECODE);
	expect_fail("--b\r\nContent-Disposition: form-data; name=\"\"\r\n\r\nx\r\n--b--", 8, TIP_EDECODE);
	expect_fail("--b\r\nContent-Type: image/jpeg\r\n\r\nx\r\n--b--", 8, TIP_EDECODE);
	expect_fail("--b\r\nContent-Disposition: form-data; name=\"r\xe9port\"\r\n\r\nx\r\n--b--", 8,
	            TIP_EDECODE);
	expect_fail("--b\r\n\r\nx\r\n--b--", 8, TIP_EDECODE);
	/* repeated headers and parameters, wrong disposition, bad parameter syntax */
	expect_fail("--b\r\n" CD CD "\r\nx\r\n--b--", 8, TIP_EDECODE);
	expect_fail("--b\r\n" CD "Content-Type: a/b\r\ncontent-type: a/b\r\n\r\nx\r\n--b--", 8, TIP_EDECODE);
	expect_fail("--b\r\nContent-Disposition: form-data; name=a; name=b\r\n\r\nx\r\n--b--", 8,
	            TIP_EDECODE);
	expect_fail("--b\r\nContent-Disposition: form-data; name=a; filename=x; filename=y\r\n\r\nx\r\n--b--",
	            8, TIP_EDECODE);
	expect_fail("--b\r\nContent-Disposition: attachment; name=a\r\n\r\nx\r\n--b--", 8, TIP_EDECODE);
	expect_fail("--b\r\nContent-Disposition: form-data; name=\"a\r\n\r\nx\r\n--b--", 8, TIP_EDECODE);
	expect_fail("--b\r\nContent-Disposition: form-data; name=a b\r\n\r\nx\r\n--b--", 8, TIP_EDECODE);
	expect_fail("--b\r\n" CD "Content-Transfer-Encoding: base64\r\n\r\neA==\r\n--b--", 8, TIP_EDECODE);
	/* header lines: bare LF, bare CR, folding, no colon, empty name, control character */
	expect_fail("--b\r\nContent-Disposition: form-data; name=a\n\r\nx\r\n--b--", 8, TIP_EDECODE);
	expect_fail("--b\r\nContent-Disposition: form-data; name=a\r\n\n\r\nx\r\n--b--", 8, TIP_EDECODE);
	expect_fail("--b\r\nContent-Disposition: form-data;\r name=a\r\n\r\nx\r\n--b--", 8, TIP_EDECODE);
	expect_fail("--b\r\nContent-Disposition: form-data;\r\n name=a\r\n\r\nx\r\n--b--", 8, TIP_EDECODE);
	expect_fail("--b\r\n" CD "X-Thing\r\n\r\nx\r\n--b--", 8, TIP_EDECODE);
	expect_fail("--b\r\n" CD ": x\r\n\r\nx\r\n--b--", 8, TIP_EDECODE);
	expect_fail("--b\r\n" CD "X-Thing: a\x01z\r\n\r\nx\r\n--b--", 8, TIP_EDECODE);
	/* the body ends inside the headers */
	expect_fail("--b\r\n" CD, 8, TIP_ETRUNCATED);
	expect_fail("--b\r\nContent-Disposition: form-data; name=a\r", 8, TIP_ETRUNCATED);
	/* too many parts */
	expect_fail("--b\r\n" CD "\r\nx\r\n--b\r\n" CD "\r\ny\r\n--b\r\n" CD "\r\nz\r\n--b--", 2,
	            TIP_EOVERSIZE);
	expect_fail("--b\r\n" CD "\r\nx\r\n--b--", 0, TIP_EOVERSIZE);
	{
		static const char two[] = "--b\r\n" CD "\r\nx\r\n--b\r\n" CD "\r\ny\r\n--b--";

		assert_int_equal(mp_parse((const uint8_t *)two, sizeof(two) - 1, "b", 2, &f), TIP_OK);
	}
	assert_int_equal(f.n_parts, 2);
	mp_form_free(&f);
	/* bad arguments */
	assert_int_equal(mp_parse((const uint8_t *)"--b--", 5, NULL, 8, &f), TIP_EINVAL);
	assert_int_equal(mp_parse((const uint8_t *)"--b--", 5, "", 8, &f), TIP_EINVAL);
	memset(b71, 'a', 71);
	b71[71] = '\0';
	assert_int_equal(mp_parse((const uint8_t *)"--b--", 5, b71, 8, &f), TIP_EINVAL);
	assert_int_equal(mp_parse(NULL, 5, "b", 8, &f), TIP_EINVAL);
	assert_non_null(f.error);
	mp_form_free(&f);
	mp_form_free(NULL);
}

static void test_header_cap(void **state)
{
	(void)state;
	struct body *b = calloc(1, sizeof(*b));
	struct mp_form f;
	size_t filler;

	assert_non_null(b);
	/* A header block of exactly MP_HEADER_MAX bytes (blank line included) passes; one byte more does not.
	 */
	for (int extra = 0; extra <= 1; extra++) {
		b->n = 0;
		puts_(b, "--b\r\n" CD "X-Pad: ");
		filler = MP_HEADER_MAX - strlen(CD "X-Pad: ") - 4 + (size_t)extra;
		for (size_t i = 0; i < filler; i++)
			put(b, "p", 1);
		puts_(b, "\r\n\r\nx\r\n--b--\r\n");
		f.error = NULL;
		assert_int_equal(mp_parse(b->d, b->n, "b", 8, &f), extra ? TIP_EOVERSIZE : TIP_OK);
		if (extra)
			assert_non_null(f.error);
		else
			assert_int_equal(f.parts[0].len, 1);
		mp_form_free(&f);
	}
	/* No line end within the cap at all. */
	b->n = 0;
	puts_(b, "--b\r\nX-Pad: ");
	for (size_t i = 0; i < MP_HEADER_MAX * 2; i++)
		put(b, "p", 1);
	puts_(b, "\r\n" CD "\r\nx\r\n--b--\r\n");
	assert_int_equal(mp_parse(b->d, b->n, "b", 8, &f), TIP_EOVERSIZE);
	free(b);
}

/* Deterministic mutations of a valid form: no crash, and on success every part lies inside the input. */
static void test_mutations(void **state)
{
	(void)state;
	struct body *src = calloc(1, sizeof(*src)), *b = calloc(1, sizeof(*b));
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	size_t ok = 0;

	assert_non_null(src);
	assert_non_null(b);
	report_part(src);
	part(src, "Content-Disposition: form-data; name=\"attachment\"; filename=\"a.jpg\"\r\n", jpeg,
	     sizeof(jpeg));
	part(src, "Content-Disposition: form-data; name=\"attachment\"; filename=\"b.bin\"\r\n", tricky,
	     sizeof(tricky) - 1);
	close_body(src);
	for (int round = 0; round < 20000; round++) {
		struct mp_form f;

		memcpy(b, src, sizeof(*b));
		for (int k = 0; k < 1 + round % 3; k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			if (round % 4 == 0)
				b->n = x % (src->n + 1);
			else
				b->d[x % src->n] = (uint8_t)(x >> 40);
		}
		if (mp_parse(b->d, b->n, B, 4, &f) == TIP_OK) {
			ok++;
			assert_null(f.error);
			for (size_t i = 0; i < f.n_parts; i++) {
				assert_non_null(f.parts[i].name);
				assert_true(f.parts[i].name[0] != '\0');
				inside(b, &f.parts[i]);
			}
		} else {
			assert_non_null(f.error);
			assert_int_equal(f.n_parts, 0);
		}
		mp_form_free(&f);
	}
	assert_true(ok > 0);
	free(src);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_boundary),        cmocka_unit_test(test_valid_forms),
	        cmocka_unit_test(test_syntax_variants), cmocka_unit_test(test_long_filename),
	        cmocka_unit_test(test_errors),          cmocka_unit_test(test_header_cap),
	        cmocka_unit_test(test_mutations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
