/*
 * rec_decode (SignedRecord and the RecordBody inside it) over hostile bytes: never crashes, and
 * what decodes is self-consistent: its hash is that of the bytes given, its payload is shorter
 * than the body that carries it.
 */
#include "fuzz.h"

#include "common/err.h"
#include "proto/record.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rec r;

	if (rec_decode(data, size, 1 << 20, &r) == TIP_OK) {
		uint8_t hash[REC_HASH_LEN];

		rec_hash(data, size, hash);
		if (!rec_origin_ok(r.origin) || r.body_len == 0 || r.kind < REC_REPORT ||
		    r.kind > REC_STATUS || r.version != REC_VERSION ||
		    memcmp(hash, r.hash, sizeof(hash)) != 0 || r.payload_len >= r.body_len)
			abort();
		rec_release(&r);
	}
	return 0;
}
