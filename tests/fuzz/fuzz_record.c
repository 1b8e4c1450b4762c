/* rec_decode over hostile bytes: never crashes, and what decodes is self-consistent. */
#include "fuzz.h"

#include "common/err.h"
#include "proto/record.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rec r;

	if (rec_decode(data, size, 1 << 20, &r) == TIP_OK) {
		if (!rec_origin_ok(r.origin) || r.body_len == 0 || r.kind < REC_REPORT || r.kind > REC_STATUS)
			abort();
		rec_release(&r);
	}
	return 0;
}
