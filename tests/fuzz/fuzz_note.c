/*
 * note_open over hostile bytes: never crashes, answers only with its documented codes, and what it
 * accepts is self-consistent. note_add_signature on the same bytes: whatever it signs opens again
 * with the signer's key.
 */
#include "fuzz.h"
#include "testutil.h"

#include "common/err.h"
#include "proto/keyfile.h"
#include "proto/note.h"

#include <stdlib.h>
#include <string.h>

/* The seeds in corpus/fuzz_note are signed with the corpus keys. */
static struct key keys[2], pubs[2];

static void load_keys(void)
{
	tu_corpus_keys(keys, pubs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char out[NOTE_MAX_LEN + 1];
	static int ready;
	const char *note = (const char *)data;
	struct note_check checks[2];
	size_t text_len, out_len, text2;
	int rc;

	if (!ready) {
		load_keys();
		ready = 1;
	}
	rc = note_open(note, size, NOTE_MAX_LEN, pubs, 2, &text_len, checks);
	switch (rc) {
	case TIP_OK:
		if (text_len >= size || !note_text_ok(note, text_len) || note[text_len] != '\n' ||
		    !(checks[0].verified || checks[1].verified) || (checks[0].timestamp != 0))
			abort();
		break;
	case TIP_EFORMAT:
	case TIP_EOVERSIZE:
	case TIP_EVERIFY:
	case TIP_ENOTFOUND:
	case TIP_ENOMEM:
		if (text_len != 0 || checks[0].verified || checks[1].verified)
			abort();
		break;
	default: abort();
	}

	rc = note_add_signature(note, size, &keys[0], 0, out, sizeof(out), &out_len);
	switch (rc) {
	case TIP_OK:
		if (out_len <= size || memcmp(out, note, size) != 0 || out[out_len] != '\0')
			abort();
		if (note_open(out, out_len, NOTE_MAX_LEN, &pubs[0], 1, &text2, checks) != TIP_OK ||
		    !checks[0].verified)
			abort();
		break;
	case TIP_EFORMAT:
	case TIP_EOVERSIZE:
	case TIP_EINVAL:
	case TIP_ENOMEM: break;
	default: abort();
	}
	return 0;
}
