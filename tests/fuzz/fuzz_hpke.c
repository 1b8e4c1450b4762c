/*
 * HPKE over hostile bytes. Input byte 0 chooses the AEAD (bit 0), the test (bit 1) and where a bit
 * is flipped. Hostile: the next 32 bytes are taken as enc and the rest as a ciphertext for a fixed
 * recipient key; the recipient context either cannot be set up (a small-order enc) or refuses the
 * ciphertext and zeroes what it wrote. Round trip: the rest is sealed to the recipient as plaintext
 * (with a fixed ephemeral key) and must open to the same bytes, with the same exported secret on
 * both sides, and not open once one bit of it is flipped.
 */
#include "fuzz.h"

#include "common/err.h"
#include "proto/hpke.h"

#include <stdlib.h>
#include <string.h>

static const uint8_t info[] = "tipline fuzz";

static void hostile(enum hpke_aead aead, const uint8_t skR[HPKE_KEY_LEN], const uint8_t *data, size_t size)
{
	struct hpke_ctx ctx;
	uint8_t *pt;
	int rc;

	if (size < HPKE_KEY_LEN)
		return;
	rc = hpke_setup_base_r(aead, data, skR, info, sizeof(info), &ctx);
	if (rc != TIP_OK) {
		if (rc != TIP_EVERIFY)
			abort();
		return;
	}
	data += HPKE_KEY_LEN;
	size -= HPKE_KEY_LEN;
	if (!(pt = malloc(size + 1)))
		abort();
	memset(pt, 0xaa, size + 1);
	rc = hpke_open(&ctx, NULL, 0, data, size, pt);
	if (size < HPKE_TAG_LEN) {
		if (rc != TIP_ETRUNCATED)
			abort();
	} else if (rc != TIP_EVERIFY || ctx.seq != 0) {
		abort();
	} else {
		for (size_t i = 0; i < size - HPKE_TAG_LEN; i++)
			if (pt[i] != 0)
				abort();
	}
	free(pt);
	hpke_ctx_wipe(&ctx);
}

static void round_trip(enum hpke_aead aead, const uint8_t skR[HPKE_KEY_LEN], const uint8_t pkR[HPKE_KEY_LEN],
                       unsigned flip, const uint8_t *data, size_t size)
{
	static const uint8_t skE[HPKE_KEY_LEN] = {7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
	                                          7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7};
	struct hpke_ctx s, r;
	uint8_t enc[HPKE_KEY_LEN], ex_s[32], ex_r[32], *ct, *pt;
	size_t ct_len = size + HPKE_TAG_LEN;

	if (!(ct = malloc(ct_len)) || !(pt = malloc(ct_len)))
		abort();
	if (hpke_setup_base_s_fixed(aead, pkR, info, sizeof(info), skE, enc, &s) != TIP_OK ||
	    hpke_seal(&s, enc, sizeof(enc), data, size, ct) != TIP_OK ||
	    hpke_setup_base_r(aead, enc, skR, info, sizeof(info), &r) != TIP_OK ||
	    hpke_open(&r, enc, sizeof(enc), ct, ct_len, pt) != TIP_OK || (size && memcmp(pt, data, size)) ||
	    hpke_export(&s, data, size, sizeof(ex_s), ex_s) != TIP_OK ||
	    hpke_export(&r, data, size, sizeof(ex_r), ex_r) != TIP_OK || memcmp(ex_s, ex_r, sizeof(ex_s)))
		abort();
	/* The second message of the same context, altered in one bit: refused. */
	if (hpke_seal(&s, NULL, 0, data, size, ct) != TIP_OK)
		abort();
	ct[(flip * 131u) % ct_len] ^= (uint8_t)(1u << (flip % 8));
	if (hpke_open(&r, NULL, 0, ct, ct_len, pt) != TIP_EVERIFY || r.seq != 1)
		abort();
	hpke_ctx_wipe(&s);
	hpke_ctx_wipe(&r);
	free(ct);
	free(pt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t skR[HPKE_KEY_LEN], pkR[HPKE_KEY_LEN];
	static int ready;
	enum hpke_aead aead;

	if (!ready) {
		static const uint8_t ikm[] = "tipline fuzz recipient key, fixed";

		if (hpke_derive_keypair(ikm, sizeof(ikm), skR, pkR) != TIP_OK)
			abort();
		ready = 1;
	}
	if (size < 1)
		return 0;
	aead = (data[0] & 1) ? HPKE_AEAD_CHACHA20_POLY1305 : HPKE_AEAD_AES_128_GCM;
	if (data[0] & 2)
		round_trip(aead, skR, pkR, data[0] >> 2, data + 1, size - 1);
	else
		hostile(aead, skR, data + 1, size - 1);
	return 0;
}
