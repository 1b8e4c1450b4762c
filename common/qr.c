#include "common/qr.h"

#include "common/err.h"
#include "common/textbuf.h"

#include <qrencode.h>
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

/* The document for qr into t; with t->cap 0 it only measures. */
static void draw(const QRcode *qr, const char *title, struct textbuf *t)
{
	int w = qr->width, side = w + 2 * QUIET;

	textbuf_printf(
	        t,
	        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" "
	        "viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" shape-rendering=\"crispEdges\">"
	        "<title>%s</title><rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>"
	        "<path fill=\"#000\" d=\"",
	        side, side, side * 8, side * 8, title, side, side);
	for (int y = 0; y < w; y++) {
		for (int x = 0; x < w;) {
			int run = 0;

			/* Bit 0 of each module byte is dark; the other bits say what kind of module it is. */
			while (x + run < w && (qr->data[y * w + x + run] & 1))
				run++;
			if (run)
				textbuf_printf(t, "M%d %dh%dv1h-%dz", x + QUIET, y + QUIET, run, run);
			x += run ? run : 1;
		}
	}
	textbuf_printf(t, "\"/></svg>\n");
}

int qr_svg(const char *url, char **svg, size_t *len)
{
	return qr_url_ok(url) ? qr_svg_titled(url, url, svg, len) : TIP_EINVAL;
}

int qr_svg_titled(const char *text, const char *title, char **svg, size_t *len)
{
	QRcode *qr;
	struct textbuf t = {NULL, 0, 0};
	size_t n = strlen(title);

	if (!*text || strlen(text) > QR_DATA_MAX || !n || n > QR_URL_MAX || strcspn(title, "&'\"<>") != n)
		return TIP_EINVAL;
	if (!(qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1)))
		return TIP_ENOMEM;
	draw(qr, title, &t);
	t.cap = t.len + 1;
	t.len = 0;
	if ((t.buf = malloc(t.cap)))
		draw(qr, title, &t);
	QRcode_free(qr);
	if (!t.buf)
		return TIP_ENOMEM;
	*svg = t.buf;
	*len = t.len;
	return TIP_OK;
}
