/*
 * A serialized Report (what a sealed report opens to) through decoding and
 * validation, and a StatusBulletin through its decoder: hostile bytes never crash.
 */
#include "fuzz.h"
#include "testutil.h"

#include "common/err.h"
#include "proto/bulletin.h"
#include "proto/codec.h"
#include "proto/report.h"

#include <stdio.h>
#include <stdlib.h>

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
	bulletin_decode(data, size, t, &b);
	return 0;
}
