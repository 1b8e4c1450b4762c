/*
 * The comparison keys' normalisation (internal/match.h) over hostile bytes, for every kind: never
 * crashes or overruns, answers only with its documented codes, never grows the text, and what it
 * returns is a fixed point (normalising it again changes nothing) made only of what the kind keeps.
 */
#include "fuzz.h"

#include "common/err.h"
#include "internal/match.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *out = malloc(size + 1), *again = malloc(size + 1);
	const char *in = (const char *)data;

	if (!out || !again)
		abort();
	for (int kind = 0; kind < MATCH_KINDS; kind++) {
		size_t n, m;
		int rc = match_normalize((enum match_kind)kind, in, size, out, size + 1, &n);

		if (rc != TIP_OK && rc != TIP_EDECODE && rc != TIP_EFORMAT)
			abort();
		if (n > size || strlen(out) != n || (rc != TIP_OK && n != 0))
			abort();
		if (rc != TIP_OK)
			continue;
		for (size_t i = 0; i < n; i++)
			if (out[i] == '\0' || (kind == MATCH_PHONE && (out[i] < '0' || out[i] > '9')) ||
			    ((unsigned char)out[i] < 0x80 &&
			     !((out[i] >= '0' && out[i] <= '9') || (out[i] >= 'a' && out[i] <= 'z') ||
			       (kind == MATCH_ID_NUMBER && out[i] == 'X'))))
				abort();
		/* A phone keeps its digits only once: the dropped country code may not come back. */
		if (kind != MATCH_PHONE &&
		    (match_normalize((enum match_kind)kind, out, n, again, n + 1, &m) != TIP_OK || m != n ||
		     memcmp(out, again, n) != 0))
			abort();
	}
	free(out);
	free(again);
	return 0;
}
