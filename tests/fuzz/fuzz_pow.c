/*
 * pow_redeem over hostile header bytes: never crashes, answers only with its
 * documented codes, and a solution it accepts is refused the second time.
 */
#include "fuzz.h"

#include "common/err.h"
#include "intake/pow.h"

#include <stdlib.h>

/* The seeds in corpus/fuzz_pow were made with key 00 01 .. 1f and expire at 2000000000 (one at 1800000000).
 */
#define FUZZ_NOW 1900000000

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pow *p;
	const char *header = (const char *)data;
	int rc;

	if (!p) {
		uint8_t key[POW_KEY_LEN];

		for (int i = 0; i < POW_KEY_LEN; i++)
			key[i] = (uint8_t)i;
		/* A small spent set, so the full path is reached too. */
		if (!(p = pow_new(8, 300, 8, key)))
			abort();
	}
	rc = pow_redeem(p, header, size, FUZZ_NOW);
	switch (rc) {
	case TIP_OK:
		if (pow_redeem(p, header, size, FUZZ_NOW) != TIP_EBUSY)
			abort();
		break;
	case TIP_EDECODE:
	case TIP_EVERIFY:
	case TIP_ERANGE:
	case TIP_EBUSY:
	case TIP_EFULL: break;
	default: abort();
	}
	if (size > POW_HEADER_MAX && rc != TIP_EDECODE)
		abort();
	return 0;
}
