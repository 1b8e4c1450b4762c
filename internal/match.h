/*
 * Comparison keys: what two reports must share to be proposed as the same matter. Ingest normalises
 * ID numbers, phone numbers, names and places so that the ways people write the same thing become
 * one string, and stores a keyed digest of each (HMAC-SHA256 under the index key) in case_keys. The
 * database compares digests only; without the key they say nothing about the values, and nobody can
 * test a guessed phone number or ID number against them (docs/internals/casemgr.md, "Comparison").
 *
 * Normalisation (docs/formats/casemgr-schema.md has the table):
 *   names, aliases, officials, places: full-width ASCII to ASCII; every white space, control and
 *     format character removed (the ideographic space too); the middle dots, hyphens, quotes and
 *     other punctuation of transliterated names removed, all ASCII punctuation with them; Latin
 *     letters lower-cased (ASCII, Latin-1, Latin Extended-A, the pinyin letters with caron).
 *   ID numbers: the text as a name, then 17 digits and a check digit or X (an x is upper-cased), or
 *     15 digits (an old number, kept as it is); anything else is no ID number.
 *   phone numbers: the digits alone; a +86, 0086 or 86 before an 11-digit mobile number (1...) is
 *     dropped; fewer than MATCH_PHONE_MIN digits is no phone number.
 * Digest: HMAC-SHA256(index key, kind name || 0x00 || normalised value), so the same text under two
 * kinds never gives the same digest.
 *
 * Pure functions over (buffer, length); a struct match_key holds state derived from the key (wipe it
 * with match_key_free). Safe from several threads at once.
 */
#ifndef TIP_INTERNAL_MATCH_H
#define TIP_INTERNAL_MATCH_H

#include <stddef.h>
#include <stdint.h>

#define MATCH_KEY_LEN    32 /* the index key's secret */
#define MATCH_DIGEST_LEN 32
#define MATCH_PHONE_MIN  7 /* a subscriber number has 7 or more digits; 110 or 12345 is a service */

enum match_kind {
	MATCH_ID_NUMBER, /* the reporter's resident identity card number */
	MATCH_PHONE,     /* the reporter's phone, the persons' phones */
	MATCH_NAME,      /* the persons' names and aliases */
	MATCH_OFFICIAL,  /* the officials' names */
	MATCH_PLACE,     /* the activity's place */
	MATCH_KINDS
};

/* "id_number", "phone", "name", "official", "place": case_keys.kind and the digest's prefix. */
const char *match_kind_name(enum match_kind kind);

/*
 * Normalises in[0..len) for kind into out (NUL-terminated; *out_len without the NUL). The result is
 * never longer than the input: cap = len + 1 always suffices. Returns TIP_OK (*out_len may be 0:
 * nothing to compare), TIP_EDECODE when the input is not UTF-8 (nothing written), TIP_EFORMAT when it
 * is not an ID number or phone number of the forms above, TIP_EOVERSIZE when cap is too small,
 * TIP_EINVAL for an unknown kind.
 */
int match_normalize(enum match_kind kind, const char *in, size_t len, char *out, size_t cap, size_t *out_len);

struct match_key;

/* Pad states of the 32-byte index key. NULL when out of memory. */
struct match_key *match_key_new(const uint8_t secret[MATCH_KEY_LEN]);
/* Wipes and frees; NULL is safe. */
void match_key_free(struct match_key *k);
/* The digest of an already normalised value. */
void match_digest(const struct match_key *k, enum match_kind kind, const char *norm, size_t len,
                  uint8_t out[MATCH_DIGEST_LEN]);
/*
 * Normalises the NUL-terminated text s for kind and digests it. TIP_OK, or TIP_ENOTFOUND when there
 * is nothing to compare (empty, not UTF-8, not of the kind's form): no digest then. TIP_ENOMEM.
 */
int match_key_of(const struct match_key *k, enum match_kind kind, const char *s,
                 uint8_t out[MATCH_DIGEST_LEN]);

#endif
