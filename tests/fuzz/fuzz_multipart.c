/*
 * A multipart/form-data request: the input's first line is the Content-Type
 * header value, the rest the body. Every part found must lie inside the body and
 * carry a name and a clean filename; each part's data also goes through the
 * content sniffer.
 */
#include "fuzz.h"

#include "common/err.h"
#include "intake/multipart.h"
#include "intake/sniff.h"
#include "proto/codec.h"

#include <stdlib.h>
#include <string.h>

static void check_filename(const char *f)
{
	size_t n = strlen(f);

	if (!codec_utf8_ok((const uint8_t *)f, n) || strchr(f, '/') || strchr(f, '\\'))
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)f[i] < 0x20 || f[i] == 0x7f)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size < 512 ? size : 512);
	char ct[513], boundary[MP_BOUNDARY_MAX + 1];
	const uint8_t *body = data;
	size_t len = size;
	struct mp_form f;

	sniff_content_type(data, size);
	boundary[0] = 'b';
	boundary[1] = '\0';
	if (nl) {
		memcpy(ct, data, (size_t)(nl - data));
		ct[nl - data] = '\0';
		body = nl + 1;
		len = size - (size_t)(body - data);
		if (mp_boundary(ct, boundary) != TIP_OK)
			return 0;
	}
	if (mp_parse(body, len, boundary, 8, &f) != TIP_OK) {
		if (!f.error || f.n_parts || f.parts)
			abort();
		return 0;
	}
	for (size_t i = 0; i < f.n_parts; i++) {
		const struct mp_part *p = &f.parts[i];

		if (!p->name || !p->name[0] || !codec_utf8_ok((const uint8_t *)p->name, strlen(p->name)) ||
		    p->data < body || p->len > len || p->data + p->len > body + len)
			abort();
		if (p->filename)
			check_filename(p->filename);
		sniff_content_type(p->data, p->len);
	}
	mp_form_free(&f);
	return 0;
}
