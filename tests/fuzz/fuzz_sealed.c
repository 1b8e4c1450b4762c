/*
 * A SealedReport (what a REPORT record carries) through report_open() for a fixed recipient: over
 * hostile bytes it answers only with its documented codes, since nothing forged opens. Whatever
 * decodes as a Report is also sealed to that recipient and opened again: a version-1 report comes
 * back equal (same serialization), any other version is refused as such.
 */
#include "fuzz.h"

#include "common/err.h"
#include "proto/codec.h"
#include "proto/hpke.h"
#include "proto/report.h"

#include <stdlib.h>
#include <string.h>

#define CAP (1 << 20)

static const uint8_t key_id[4] = {0xde, 0xad, 0xbe, 0xef};

static void hostile(const uint8_t sk[HPKE_KEY_LEN], const uint8_t *data, size_t size)
{
	Tip__Report *r;
	int rc = report_open(data, size, CAP, sk, key_id, "intake-a", 7, &r);

	switch (rc) {
	case TIP_OK: abort(); /* nothing forged opens */
	case TIP_EDECODE:
	case TIP_ETRUNCATED:
	case TIP_EOVERSIZE:
	case TIP_EVERSION:
	case TIP_ENOTFOUND:
	case TIP_EVERIFY: break;
	default: abort();
	}
	if (r)
		abort();
}

static void round_trip(const uint8_t sk[HPKE_KEY_LEN], const uint8_t pk[HPKE_KEY_LEN], const uint8_t *data,
                       size_t size)
{
	ProtobufCMessage *m;
	Tip__Report *back = NULL, *other = NULL;
	uint8_t *sealed = NULL, *a = NULL, *b = NULL;
	size_t sealed_len, a_len, b_len;
	int rc;

	if (codec_unpack(&tip__report__descriptor, data, size, CAP, &m) != TIP_OK)
		return;
	if (report_seal((Tip__Report *)m, (size & 1) ? HPKE_AEAD_CHACHA20_POLY1305 : HPKE_AEAD_AES_128_GCM,
	                pk, key_id, "intake-a", 7, CAP + 4096, &sealed, &sealed_len) != TIP_OK)
		abort();
	rc = report_open(sealed, sealed_len, CAP + 4096, sk, key_id, "intake-a", 7, &back);
	if (((Tip__Report *)m)->version != REPORT_VERSION) {
		if (rc != TIP_EVERSION || back)
			abort();
	} else if (rc != TIP_OK || codec_pack(m, CAP, &a, &a_len) != TIP_OK ||
	           codec_pack(&back->base, CAP, &b, &b_len) != TIP_OK || a_len != b_len ||
	           memcmp(a, b, a_len) != 0) {
		abort();
	}
	/* Bound to its record: another seq does not open it. */
	if (report_open(sealed, sealed_len, CAP + 4096, sk, key_id, "intake-a", 8, &other) != TIP_EVERIFY ||
	    other)
		abort();
	codec_free(back ? &back->base : NULL);
	codec_free(m);
	free(sealed);
	free(a);
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t sk[HPKE_KEY_LEN], pk[HPKE_KEY_LEN];
	static int ready;

	if (!ready) {
		static const uint8_t ikm[] = "tipline fuzz seal key, fixed....";

		if (hpke_derive_keypair(ikm, sizeof(ikm), sk, pk) != TIP_OK)
			abort();
		ready = 1;
	}
	hostile(sk, data, size);
	round_trip(sk, pk, data, size);
	return 0;
}
