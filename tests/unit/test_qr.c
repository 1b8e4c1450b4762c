/*
 * The QR code of the public address: which addresses are accepted, and that the
 * SVG, drawn as pixels, decodes (zbar) to exactly the address.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/qr.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zbar.h>

#define SCALE 4

/* Draws the SVG's dark runs ("M x y h n v1 h -n z") at SCALE pixels a module and decodes what zbar sees.
 * Returns the decoded text (heap) or NULL. */
static char *decode_svg(const char *svg)
{
	int side, x, y, run, back, used;
	const char *d = strstr(svg, " d=\""), *vb = strstr(svg, "viewBox=\"0 0 ");
	char *text = NULL;

	assert_non_null(d);
	assert_non_null(vb);
	assert_int_equal(sscanf(vb, "viewBox=\"0 0 %d", &side), 1);
	assert_in_range(side, 21 + 8, 177 + 8);
	assert_int_equal((side - 8 - 17) % 4, 0); /* a version's width, plus the quiet zone */
	size_t w = (size_t)side * SCALE;
	uint8_t *px = malloc(w * w);

	assert_non_null(px);
	memset(px, 0xff, w * w);
	for (d += 4; *d != '"'; d += used) {
		assert_int_equal(sscanf(d, "M%d %dh%dv1h-%dz%n", &x, &y, &run, &back, &used), 4);
		assert_int_equal(run, back);
		assert_true(x >= 4 && y >= 4 && run > 0 && x + run <= side - 4 && y < side - 4);
		for (int py = y * SCALE; py < (y + 1) * SCALE; py++)
			memset(px + (size_t)py * w + (size_t)x * SCALE, 0, (size_t)run * SCALE);
	}
	zbar_image_scanner_t *sc = zbar_image_scanner_create();
	zbar_image_t *img = zbar_image_create();

	zbar_image_scanner_set_config(sc, ZBAR_NONE, ZBAR_CFG_ENABLE, 0);
	zbar_image_scanner_set_config(sc, ZBAR_QRCODE, ZBAR_CFG_ENABLE, 1);
	zbar_image_set_format(img, zbar_fourcc('Y', '8', '0', '0'));
	zbar_image_set_size(img, (unsigned)w, (unsigned)w);
	zbar_image_set_data(img, px, w * w, NULL);
	if (zbar_scan_image(sc, img) == 1) {
		const zbar_symbol_t *s = zbar_image_first_symbol(img);

		assert_int_equal(zbar_symbol_get_type(s), ZBAR_QRCODE);
		text = strdup(zbar_symbol_get_data(s));
	}
	zbar_image_destroy(img);
	zbar_image_scanner_destroy(sc);
	free(px);
	return text;
}

static void test_decodes_to_the_address(void **state)
{
	(void)state;
	static const char *const urls[] = {
	        "https://tips.example.org/",
	        "http://127.0.0.1:8443/",
	        "https://xn--fiqs8s.example.cn/report?from=poster#form",
	        "https://a.example/"
	        "0123456789012345678901234567890123456789012345678901234567890123456789"
	        "0123456789012345678901234567890123456789012345678901234567890123456789",
	};

	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		char *svg, *text, title[QR_URL_MAX + 20];
		size_t len;

		assert_int_equal(qr_svg(urls[i], &svg, &len), TIP_OK);
		assert_int_equal(strlen(svg), len);
		assert_true(strncmp(svg, "<?xml", 5) == 0);
		snprintf(title, sizeof(title), "<title>%s</title>", urls[i]);
		assert_non_null(strstr(svg, title));
		text = decode_svg(svg);
		assert_non_null(text);
		assert_string_equal(text, urls[i]);
		free(text);
		free(svg);
	}
}

static void test_refuses_unfit_addresses(void **state)
{
	(void)state;
	static const char *const bad[] = {
	        "",
	        "tips.example.org",
	        "javascript:alert(1)",
	        "ftp://tips.example.org/",
	        "https://tips.example.org/\"><script>",
	        "https://tips.example.org/a&b",
	        "https://tips.example.org/it's",
	        "https://tips.example.org/<x>",
	        "https://tips.example.org/ space",
	        "https://tips.example.org/\n",
	        "https://例子.中国/",
	};
	char long_url[QR_URL_MAX + 2], *svg = NULL;
	size_t len;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(qr_url_ok(bad[i]));
		assert_int_equal(qr_svg(bad[i], &svg, &len), TIP_EINVAL);
		assert_null(svg);
	}
	memset(long_url, 'a', sizeof(long_url) - 1);
	long_url[sizeof(long_url) - 1] = '\0';
	memcpy(long_url, "https://", 8);
	assert_false(qr_url_ok(long_url));
	long_url[QR_URL_MAX] = '\0';
	assert_true(qr_url_ok(long_url));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_decodes_to_the_address),
	        cmocka_unit_test(test_refuses_unfit_addresses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
