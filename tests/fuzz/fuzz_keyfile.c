/*
 * A key file's line (without its LF) through both parsers. A verifier line that parses is written
 * out again byte for byte (the format has one spelling per key); a private key that parses yields
 * a public half whose verifier line parses to the same name, type, id and key (a symmetric key
 * has none to give). Secrets are wiped.
 */
#include "fuzz.h"

#include "common/err.h"
#include "proto/keyfile.h"

#include <stdlib.h>
#include <string.h>

static void check_rc(int rc)
{
	if (rc != TIP_OK && rc != TIP_EFORMAT)
		abort();
}

/* k's verifier line parses back to the same public key; if want is given, it is that line. */
static void public_round_trip(const struct key *k, const char *want, size_t want_len)
{
	char line[KEY_LINE_MAX + 1];
	struct key back;

	if (key_format_public(k, line, sizeof(line)) != TIP_OK ||
	    (want && (strlen(line) != want_len || memcmp(line, want, want_len) != 0)) ||
	    key_parse_public(line, strlen(line), &back) != TIP_OK || back.type != k->type ||
	    strcmp(back.name, k->name) != 0 || memcmp(back.id, k->id, KEY_ID_LEN) != 0 ||
	    memcmp(back.pub, k->pub, KEY_LEN) != 0 || back.has_secret)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data;
	struct key k;
	int rc;

	rc = key_parse_public(line, size, &k);
	check_rc(rc);
	if (rc == TIP_OK) {
		if (key_is_symmetric(k.type) || !key_type_name(k.type) || k.has_secret)
			abort();
		public_round_trip(&k, line, size);
	}
	rc = key_parse_private(line, size, &k);
	check_rc(rc);
	if (rc == TIP_OK) {
		if (!k.has_secret || !key_type_name(k.type))
			abort();
		if (!key_is_symmetric(k.type))
			public_round_trip(&k, NULL, 0);
		else if (key_format_public(&k, NULL, 0) != TIP_EINVAL)
			abort();
	}
	key_wipe(&k);
	return 0;
}
