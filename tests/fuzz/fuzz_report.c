/*
 * A serialized Report (what a sealed report opens to) through decoding and
 * validation, and a StatusBulletin through its decoder: hostile bytes never crash,
 * and a bulletin that decodes encodes and decodes again to the same fields.
 */
#include "fuzz.h"
#include "testutil.h"

#include "common/err.h"
#include "proto/bulletin.h"
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct taxonomy *t = load_taxonomy();
	struct report_limits lim = report_limits_default();
	char field[REPORT_FIELD_MAX];
	ProtobufCMessage *m;
	struct bulletin b;

	if (codec_unpack(&tip__report__descriptor, data, size, 1 << 20, &m) == TIP_OK) {
		report_validate((Tip__Report *)m, t, &lim, field);
		codec_free(m);
	}
	if (bulletin_decode(data, size, t, &b) == TIP_OK) {
		struct bulletin again;
		uint8_t *out;
		size_t out_len;

		if (bulletin_encode(&b, t, &out, &out_len) != TIP_OK ||
		    bulletin_decode(out, out_len, t, &again) != TIP_OK ||
		    memcmp(again.query_hash, b.query_hash, sizeof(b.query_hash)) != 0 ||
		    strcmp(again.stage, b.stage) || strcmp(again.result, b.result) ||
		    strcmp(again.date, b.date))
			abort();
		free(out);
	}
	return 0;
}
