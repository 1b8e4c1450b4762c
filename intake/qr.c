#include "intake/qr.h"

#include "common/err.h"

#include <qrencode.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUIET 4

int qr_url_ok(const char *url)
{
	size_t n = strlen(url);

	if (n > QR_URL_MAX || (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0))
		return 0;
	return strspn(url, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	                   "-._~:/?#[]@!$()*+,;=%") == n;
}

struct out {
	char *buf;
	size_t len, cap;
};

static int put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len)
		return TIP_EOVERSIZE;
	o->len += (size_t)n;
	return TIP_OK;
}

int qr_svg(const char *url, char **svg, size_t *len)
{
	QRcode *qr;
	struct out o = {0};
	int rc = TIP_OK, w, side;

	if (!qr_url_ok(url))
		return TIP_EINVAL;
	if (!(qr = QRcode_encodeString(url, 0, QR_ECLEVEL_M, QR_MODE_8, 1)))
		return TIP_ENOMEM;
	w = qr->width;
	side = w + 2 * QUIET;
	/* Each run of dark modules is one "M x y h n v1 h -n z" of at most 26 bytes; a run needs a light gap.
	 */
	o.cap = 512 + strlen(url) + (size_t)w * (size_t)(w / 2 + 1) * 26;
	if (!(o.buf = malloc(o.cap))) {
		rc = TIP_ENOMEM;
		goto out;
	}
	rc = put(&o,
	         "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
	         "viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" shape-rendering=\"crispEdges\">"
	         "<title>%s</title><rect width=\"%d\" height=\"%d\" fill=\"#fff\"/><path fill=\"#000\" d=\"",
	         side, side, side * 8, side * 8, url, side, side);
	for (int y = 0; rc == TIP_OK && y < w; y++) {
		for (int x = 0; rc == TIP_OK && x < w;) {
			int run = 0;

			/* Bit 0 of each module byte is dark; the other bits say what kind of module it is. */
			while (x + run < w && (qr->data[y * w + x + run] & 1))
				run++;
			if (run)
				rc = put(&o, "M%d %dh%dv1h-%dz", x + QUIET, y + QUIET, run, run);
			x += run ? run : 1;
		}
	}
	if (rc == TIP_OK)
		rc = put(&o, "\"/></svg>\n");
	if (rc != TIP_OK) {
		free(o.buf);
		goto out;
	}
	*svg = o.buf;
	*len = o.len;
out:
	QRcode_free(qr);
	return rc;
}
