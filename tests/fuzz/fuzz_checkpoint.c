/*
 * Checkpoints over hostile bytes: a body that parses formats back to exactly the same bytes (the
 * format has one spelling per value), a signed checkpoint opens only with its text parsed, and a
 * cosignature added to what the log signed opens with both keys.
 */
#include "fuzz.h"
#include "testutil.h"

#include "common/err.h"
#include "proto/checkpoint.h"
#include "proto/keyfile.h"

#include <stdlib.h>
#include <string.h>

/* The seeds in corpus/fuzz_checkpoint are signed with the corpus keys. */
static struct key keys[2], pubs[2];

static void load_keys(void)
{
	tu_corpus_keys(keys, pubs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char body[CKPT_BODY_MAX + 1], out[CKPT_NOTE_MAX + 1];
	static int ready;
	const char *text = (const char *)data;
	struct note_check checks[2];
	struct ckpt c;
	size_t len, out_len;
	int rc;

	if (!ready) {
		load_keys();
		ready = 1;
	}
	rc = ckpt_body_parse(text, size, &c);
	if (rc == TIP_OK) {
		if (ckpt_body_format(&c, body, sizeof(body), &len) != TIP_OK || len != size ||
		    memcmp(body, text, size))
			abort();
	} else if (rc != TIP_EFORMAT && rc != TIP_EOVERSIZE) {
		abort();
	}

	rc = ckpt_open(text, size, CKPT_NOTE_MAX, pubs, 2, &c, checks);
	if (rc != TIP_OK) {
		if (checks[0].verified || checks[1].verified)
			abort();
		return 0;
	}
	if (ckpt_body_format(&c, body, sizeof(body), &len) != TIP_OK || len >= size ||
	    memcmp(body, text, len) || text[len] != '\n')
		abort();
	if (!checks[0].verified)
		return 0;
	rc = ckpt_cosign(text, size, &pubs[0], &keys[1], 1700000000, c.size, c.root, out, sizeof(out),
	                 &out_len);
	if (rc == TIP_OK) {
		if (ckpt_open(out, out_len, CKPT_NOTE_MAX, pubs, 2, &c, checks) != TIP_OK ||
		    !checks[0].verified || !checks[1].verified || checks[1].timestamp != 1700000000)
			abort();
	} else if (rc != TIP_EINVAL && rc != TIP_EOVERSIZE) {
		abort();
	}
	return 0;
}
