/*
 * The JSON body of POST /api/v1/reports through parsing, conversion, an
 * attachment and validation; what passes is packed and must decode and validate
 * again, as the internal side will do. Every failure must carry a well-formed
 * field path and message, since the server sends both back in JSON.
 */
#include "fuzz.h"
#include "testutil.h"

#include "common/err.h"
#include "intake/json_report.h"
#include "intake/sniff.h"
#include "proto/codec.h"
#include "proto/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct taxonomy *load_taxonomy(void)
{
	static struct taxonomy *t;

	if (!t)
		t = tu_taxonomy();
	return t;
}

static void check_error(const struct jr_error *e)
{
	size_t f = strnlen(e->field, sizeof(e->field)), m = strnlen(e->message, sizeof(e->message));

	if (e->code >= 0 || f == sizeof(e->field) || m == 0 || m == sizeof(e->message) ||
	    (!codec_utf8_ok((const uint8_t *)e->field, f) && f != 0))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t jpeg[] = {0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00};
	struct taxonomy *t = load_taxonomy();
	struct report_limits lim = report_limits_default();
	uint8_t hash[REPORT_QUERY_HASH_LEN], *packed = NULL;
	ProtobufCMessage *back = NULL;
	char field[REPORT_FIELD_MAX];
	struct jr_error e;
	struct jr_report *r;
	size_t packed_len;

	memset(hash, 0x11, sizeof(hash));
	r = jr_parse((const char *)data, size, &lim, &e);
	if (!r) {
		check_error(&e);
		return 0;
	}
	if (jr_add_attachment(r, "photo.jpg", sniff_content_type(jpeg, sizeof(jpeg)), jpeg, sizeof(jpeg),
	                      &e) != TIP_OK)
		abort();
	if (jr_finish(r, hash, t, &lim, &e) != TIP_OK) {
		check_error(&e);
	} else {
		if (codec_pack(&jr_report(r)->base, 1 << 22, &packed, &packed_len) != TIP_OK ||
		    codec_unpack(&tip__report__descriptor, packed, packed_len, 1 << 22, &back) != TIP_OK ||
		    report_validate((Tip__Report *)back, t, &lim, field) != TIP_OK)
			abort();
		codec_free(back);
		free(packed);
	}
	jr_free(r);
	return 0;
}
