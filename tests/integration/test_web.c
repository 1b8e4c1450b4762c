/*
 * intaked's public pages over real HTTP: exactly the compiled-in files with their
 * types and security headers, nothing else whatever the path says, and /qr.svg
 * built from configuration alone.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/err.h"
#include "daemon.h"
#include "httpc.h"
#include "common/qr.h"
#include "common/web.h"
#include "testutil.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define HOST       "127.0.0.1"
#define PUBLIC_URL "https://tips.example.org/report"

static char *dir;
static struct tdaemon with_qr, without_qr;

/* Writes <dir>/<name>.conf for an intake with the given extra settings; returns its path (static). */
static const char *write_conf(const char *name, const char *extra)
{
	static char path[600];

	snprintf(path, sizeof(path), "%s/%s.conf", dir, name);
	tu_write_text(path,
	              "origin web\nlisten 127.0.0.1\nport 0\nplain_http yes\nmetrics_port 0\n"
	              "signing_key %s/intake.key\nseal_key %s/seal.key.pub\nstatus_key %s/status.key.pub\n"
	              "outbox %s/%s-outbox\nstatus_spool %s/%s-status\ntaxonomy %s/proto/taxonomy\n%s",
	              dir, dir, dir, dir, name, dir, name, getenv("TIP_SOURCE_DIR"), extra);
	return path;
}

static int setup(void **state)
{
	(void)state;
	static const char *const keys[][2] = {{"sign", "intake"}, {"seal", "seal"}, {"sign", "status"}};
	char out[600], log[600];

	dir = tu_mkdtemp();
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		snprintf(out, sizeof(out), "%s/%s.key", dir, keys[i][1]);
		const char *args[] = {"generate", "--type", keys[i][0], "--name",
		                      keys[i][1], "--out",  out,        NULL};

		if (trun("tipkey", args) != 0)
			return -1;
	}
	snprintf(log, sizeof(log), "%s/with.log", dir);
	if (tdaemon_start(&with_qr, "intaked", write_conf("with", "public_url " PUBLIC_URL "\n"), log) != 0)
		return -1;
	snprintf(log, sizeof(log), "%s/without.log", dir);
	return tdaemon_start(&without_qr, "intaked", write_conf("without", ""), log);
}

static int teardown(void **state)
{
	(void)state;
	int a = tdaemon_stop(&with_qr, SIGTERM), b = tdaemon_stop(&without_qr, SIGTERM);

	tu_rmtree(dir);
	free(dir);
	return a == 0 && b == 0 ? 0 : -1;
}

static void get(const struct tdaemon *d, const char *method, const char *path, struct httpc_response *r)
{
	assert_int_equal(httpc_request(HOST, d->port, 0, method, path, NULL, NULL, 0, r), 0);
}

static void expect_header(const struct httpc_response *r, const char *name, const char *value)
{
	char buf[512];

	assert_non_null(httpc_header(r, name, buf, sizeof(buf)));
	assert_string_equal(buf, value);
}

/* What every page needs: no script or style but the site's own, no framing, no sniffing, no referrer. */
static void expect_page_headers(const struct httpc_response *r)
{
	char csp[512];

	assert_non_null(httpc_header(r, "Content-Security-Policy", csp, sizeof(csp)));
	assert_non_null(strstr(csp, "default-src 'self'"));
	assert_non_null(strstr(csp, "frame-ancestors 'none'"));
	assert_non_null(strstr(csp, "object-src 'none'"));
	assert_null(strstr(csp, "unsafe-"));
	assert_null(strstr(csp, "http"));
	assert_null(strstr(csp, "*"));
	expect_header(r, "X-Content-Type-Options", "nosniff");
	expect_header(r, "Referrer-Policy", "no-referrer");
	expect_header(r, "Cache-Control", "no-store");
	assert_null(httpc_header(r, "Set-Cookie", csp, sizeof(csp)));
}

static void test_every_asset_byte_for_byte(void **state)
{
	(void)state;
	struct httpc_response r;

	assert_true(web_public.count >= 9);
	for (size_t i = 0; i < web_public.count; i++) {
		const struct web_asset *a = &web_public.assets[i];

		get(&with_qr, "GET", a->path, &r);
		assert_int_equal(r.status, 200);
		expect_header(&r, "Content-Type", a->type);
		expect_page_headers(&r);
		assert_int_equal(r.body_len, a->len);
		assert_memory_equal(r.body, a->data, a->len);
		httpc_free(&r);
	}
	/* The form is the front page; HEAD gives the length without the body. */
	get(&with_qr, "HEAD", "/", &r);
	assert_int_equal(r.status, 200);
	expect_header(&r, "Content-Type", "text/html; charset=utf-8");
	assert_int_equal(r.body_len, 0);
	httpc_free(&r);
	get(&with_qr, "GET", "/?lang=en", &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, web_find(&web_public, "/index.html")->len);
	httpc_free(&r);
}

/* gunzips a whole gzip body, which must hold exactly want[0..want_len). */
static void expect_gunzipped(const char *gz, size_t gz_len, const void *want, size_t want_len)
{
	z_stream zs;
	unsigned char *out = malloc(want_len + 1);

	assert_non_null(out);
	memset(&zs, 0, sizeof(zs));
	assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
	zs.next_in = (Bytef *)(uintptr_t)gz;
	zs.avail_in = (uInt)gz_len;
	zs.next_out = out;
	zs.avail_out = (uInt)want_len + 1;
	assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
	assert_int_equal(zs.avail_in, 0);
	assert_int_equal(zs.total_out, want_len);
	assert_memory_equal(out, want, want_len);
	inflateEnd(&zs);
	free(out);
}

/*
 * Pages, scripts and the form document go gzip-compressed to a client that takes gzip, exactly the same bytes
 * once inflated, with Vary either way; answers built per request are never compressed.
 */
static void test_gzip_when_accepted(void **state)
{
	(void)state;
	static const char *const gzip = "Accept-Encoding: gzip, deflate, br, zstd\r\n";
	static const char *const refused[] = {"Accept-Encoding: gzip;q=0, br\r\n", "Accept-Encoding: br\r\n",
	                                      "Accept-Encoding: gzip;q=5\r\n", ""};
	static const char *const dynamic[] = {"/api/v1/challenge", "/healthz", "/nothing-here", "/qr.svg"};
	struct httpc_response plain, r;
	char buf[64];
	const char *paths[64];
	size_t n = 0;

	paths[n++] = "/api/v1/form";
	for (size_t i = 0; i < web_public.count && n < 64; i++)
		paths[n++] = web_public.assets[i].path;
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(httpc_request(HOST, with_qr.port, 0, "GET", paths[i], NULL, NULL, 0, &plain),
		                 0);
		assert_int_equal(plain.status, 200);
		assert_null(httpc_header(&plain, "Content-Encoding", buf, sizeof(buf)));
		expect_header(&plain, "Vary", "Accept-Encoding");
		assert_int_equal(httpc_request(HOST, with_qr.port, 0, "GET", paths[i], gzip, NULL, 0, &r), 0);
		assert_int_equal(r.status, 200);
		expect_header(&r, "Vary", "Accept-Encoding");
		expect_page_headers(&r);
		if (httpc_header(&r, "Content-Encoding", buf, sizeof(buf))) {
			assert_string_equal(buf, "gzip");
			assert_true(r.body_len < plain.body_len);
			expect_gunzipped(r.body, r.body_len, plain.body, plain.body_len);
		} else {
			/* Only where gzip gains nothing. */
			assert_memory_equal(r.body, plain.body, plain.body_len);
			assert_true(plain.body_len < 200);
		}
		if (i == 0) /* the regions make most of the form document and shrink to less than a fifth */
			assert_true(r.body_len * 5 < plain.body_len);
		for (size_t k = 0; k < sizeof(refused) / sizeof(refused[0]); k++) {
			httpc_free(&r);
			assert_int_equal(httpc_request(HOST, with_qr.port, 0, "GET", paths[i], refused[k],
			                               NULL, 0, &r),
			                 0);
			assert_null(httpc_header(&r, "Content-Encoding", buf, sizeof(buf)));
			assert_int_equal(r.body_len, plain.body_len);
		}
		httpc_free(&r);
		httpc_free(&plain);
	}
	for (size_t i = 0; i < sizeof(dynamic) / sizeof(dynamic[0]); i++) {
		assert_int_equal(httpc_request(HOST, with_qr.port, 0, "GET", dynamic[i], gzip, NULL, 0, &r),
		                 0);
		assert_true(r.status == 200 || r.status == 404);
		assert_null(httpc_header(&r, "Content-Encoding", buf, sizeof(buf)));
		httpc_free(&r);
	}
	/* HEAD names the compressed length and sends nothing. */
	assert_int_equal(httpc_request(HOST, with_qr.port, 0, "GET", "/api/v1/form", gzip, NULL, 0, &plain),
	                 0);
	assert_int_equal(httpc_request(HOST, with_qr.port, 0, "HEAD", "/api/v1/form", gzip, NULL, 0, &r), 0);
	expect_header(&r, "Content-Encoding", "gzip");
	assert_non_null(httpc_header(&r, "Content-Length", buf, sizeof(buf)));
	assert_int_equal(strtoull(buf, NULL, 10), plain.body_len);
	assert_int_equal(r.body_len, 0);
	httpc_free(&r);
	httpc_free(&plain);
}

/* web_gzip keeps a compressed form only when it is smaller. */
static void test_gzip_only_when_smaller(void **state)
{
	(void)state;
	struct web_gzipped gz;
	unsigned char noise[64];
	char text[4096];
	uint32_t x = 7;

	for (size_t i = 0; i < sizeof(noise); i++) {
		x = x * 1103515245u + 12345u;
		noise[i] = (unsigned char)(x >> 24);
	}
	assert_int_equal(web_gzip(noise, sizeof(noise), &gz), TIP_OK);
	assert_null(gz.data);
	assert_int_equal(web_gzip("", 0, &gz), TIP_OK);
	assert_null(gz.data);
	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = "扫黑除恶"[i % 12];
	assert_int_equal(web_gzip(text, sizeof(text), &gz), TIP_OK);
	assert_non_null(gz.data);
	assert_true(gz.len < 100);
	expect_gunzipped((const char *)gz.data, gz.len, text, sizeof(text));
	/* A fixed header: deflate, no name, no time, so the bytes are the same on every start. */
	assert_memory_equal(gz.data, "\x1f\x8b\x08\x00\x00\x00\x00\x00", 8);
	free(gz.data);
}

static void test_types_are_fixed(void **state)
{
	(void)state;
	static const struct {
		const char *suffix, *type;
	} types[] = {{".html", "text/html; charset=utf-8"},
	             {".js", "text/javascript; charset=utf-8"},
	             {".css", "text/css; charset=utf-8"}};
	size_t matched = 0;

	for (size_t i = 0; i < web_public.count; i++) {
		const char *p = web_public.assets[i].path;

		for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
			size_t n = strlen(p), s = strlen(types[t].suffix);

			if (n > s && strcmp(p + n - s, types[t].suffix) == 0) {
				assert_string_equal(web_public.assets[i].type, types[t].type);
				matched++;
			}
		}
	}
	assert_int_equal(matched, web_public.count);
	assert_non_null(web_find(&web_public, "/index.html"));
	assert_ptr_equal(web_find(&web_public, "/"), web_find(&web_public, "/index.html"));
}

static void test_nothing_else_is_served(void **state)
{
	(void)state;
	static const char *const paths[] = {
	        "/../CMakeLists.txt",
	        "/../../etc/passwd",
	        "/%2e%2e/intake/conf.c",
	        "/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
	        "/..%2fCMakeLists.txt",
	        "/./index.html",
	        "//index.html",
	        "/index.html/",
	        "/index.html/..",
	        "/index.html%00.txt",
	        "/%69ndex.html",
	        "/INDEX.HTML",
	        "/intake/web/index.html",
	        "/web/index.html",
	        "/web_assets.c",
	        "/.git/config",
	        "/proto/taxonomy/regions.json",
	        "/status",
	        "/app.css.map",
	        "/index.htm",
	        "/..",
	        "/.",
	        "/%",
	        "/\\index.html",
	};
	struct httpc_response r;

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		get(&with_qr, "GET", paths[i], &r);
		if (r.status != 404 && r.status != 400)
			fail_msg("%s: %d", paths[i], r.status);
		assert_non_null(strstr(r.body, "\"error\""));
		expect_page_headers(&r);
		httpc_free(&r);
	}
	/* Pages are only read. */
	static const char *const methods[] = {"POST", "PUT", "DELETE", "OPTIONS"};
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		get(&with_qr, methods[i], "/index.html", &r);
		assert_true(r.status >= 400);
		assert_null(strstr(r.body, "<html"));
		httpc_free(&r);
	}
}

static void test_qr_from_configuration_only(void **state)
{
	(void)state;
	static const char *const paths[] = {"/qr.svg", "/qr.svg?text=https://evil.example/",
	                                    "/qr.svg?" PUBLIC_URL "x"};
	struct httpc_response r;
	char *svg;
	size_t len;

	assert_int_equal(qr_svg(PUBLIC_URL, &svg, &len), TIP_OK);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		get(&with_qr, "GET", paths[i], &r);
		assert_int_equal(r.status, 200);
		expect_header(&r, "Content-Type", "image/svg+xml");
		expect_page_headers(&r);
		assert_int_equal(r.body_len, len);
		assert_memory_equal(r.body, svg, len);
		httpc_free(&r);
	}
	free(svg);
	get(&without_qr, "GET", "/qr.svg", &r);
	assert_int_equal(r.status, 404);
	httpc_free(&r);
	/* The poster page is there either way; it says so when there is no address. */
	get(&without_qr, "GET", "/poster.html", &r);
	assert_int_equal(r.status, 200);
	httpc_free(&r);
}

static void test_public_url_checked(void **state)
{
	(void)state;
	static const char *const bad[] = {
	        "public_url javascript:alert(1)\n",
	        "public_url https://tips.example.org/\"><script>x</script>\n",
	        "public_url https://tips.example.org/?a=1&b=2\n",
	        "public_url tips.example.org\n",
	};
	const char *args[] = {"-c", NULL, "-n", NULL};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		args[1] = write_conf("bad", bad[i]);
		assert_int_equal(trun("intaked", args), 78);
	}
	args[1] = write_conf("good", "public_url " PUBLIC_URL "\n");
	assert_int_equal(trun("intaked", args), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_every_asset_byte_for_byte),
	        cmocka_unit_test(test_gzip_when_accepted),
	        cmocka_unit_test(test_gzip_only_when_smaller),
	        cmocka_unit_test(test_types_are_fixed),
	        cmocka_unit_test(test_nothing_else_is_served),
	        cmocka_unit_test(test_qr_from_configuration_only),
	        cmocka_unit_test(test_public_url_checked),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
