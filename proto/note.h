/*
 * C2SP signed notes (c2sp.org/signed-note): a UTF-8 text ending in a newline, a blank line, then
 * signature lines "— <key name> <base64(key id || signature)>\n" (the dash is U+2014). Byte layout
 * and the rules checked: docs/formats/transfer-log.md.
 *
 * Two signature types, with the keys of proto/keyfile.h:
 *   KEY_ED25519 (0x01): Ed25519 over the note text.
 *   KEY_COSIGN  (0x04): c2sp.org/tlog-cosignature v1, the signature field being an 8-byte big-endian
 *                       timestamp then Ed25519 over "cosignature/v1\ntime <timestamp>\n" || text.
 * A key is identified in a note by its name and its 4-byte key id together, as the spec says.
 *
 * Opening a note (note_open) is strict: the whole note must be valid UTF-8 without control
 * characters other than newline, the text must be followed by a blank line and at least one
 * signature line, every signature line must be well formed (a valid key name, canonical base64 of
 * at least 5 bytes), there are at most NOTE_MAX_SIGS of them, and a known key may sign only once.
 * Lines of unknown keys are ignored; every line of a known key must verify, and at least one must.
 * (Go's sumdb/note drops a repeated signature of a known key; this module rejects the note.)
 *
 * Ownership: every function works on caller buffers; nothing is retained. Keys are read only.
 * Returns: TIP_OK or a negative code from common/err.h, as each function says.
 */
#ifndef TIP_PROTO_NOTE_H
#define TIP_PROTO_NOTE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/keyfile.h"

/* Longest note accepted or produced, whatever the caller's cap. */
#define NOTE_MAX_LEN (1 << 20)
/* Most signature lines in a note (the spec asks verifiers to accept at least 16). */
#define NOTE_MAX_SIGS 100
/* Latest cosignature timestamp the spec allows. */
#define NOTE_MAX_TIME INT64_MAX

/* What note_open found for one known key. */
struct note_check {
	int verified;       /* 1 if the note carries this key's signature and it verified */
	uint64_t timestamp; /* KEY_COSIGN: the time in the cosignature (seconds since the epoch); else 0 */
};

/*
 * 1 if text[0..len) can be the text of a note: non-empty, valid UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF), no control character below U+0020 other than newline, and
 * ending in a newline. 0 otherwise.
 */
int note_text_ok(const char *text, size_t len);

/* 1 if name[0..len) is a valid key name: non-empty UTF-8 without '+', Unicode spaces or controls. */
int note_name_ok(const char *name, size_t len);

/*
 * Verifies note[0..len). known[0..nknown) are public keys (secrets are not needed) of type
 * KEY_ED25519 or KEY_COSIGN, no two with the same name and key id. On TIP_OK *text_len is the
 * length of the note text (note[0..*text_len), final newline included) and checks[i] (checks may
 * be NULL) tells about known[i]. Returns TIP_OK if at least one known key's signature verified
 * and none failed; TIP_EOVERSIZE if len exceeds cap or NOTE_MAX_LEN, or there are more than
 * NOTE_MAX_SIGS signature lines; TIP_EFORMAT for a malformed note (including a second signature by
 * one known key); TIP_EVERIFY if a known key's signature does not verify (also one of the wrong
 * length, or a cosignature time above NOTE_MAX_TIME); TIP_ENOTFOUND if no known key signed;
 * TIP_EINVAL for bad keys; TIP_ENOMEM; TIP_ECRYPTO.
 */
int note_open(const char *note, size_t len, size_t cap, const struct key *known, size_t nknown,
              size_t *text_len, struct note_check *checks);

/*
 * A signed note: text[0..text_len) (note_text_ok), a blank line, then one signature line per
 * signer in order. Signers are private keys of type KEY_ED25519 or KEY_COSIGN; cosignatures carry
 * timestamp (<= NOTE_MAX_TIME). out gets the note and a terminating NUL; *out_len its length
 * without the NUL. Returns TIP_OK; TIP_EFORMAT for bad text; TIP_EINVAL for a bad signer (no
 * secret, another type, an invalid name, two with the same name and id, none at all) or
 * timestamp; TIP_EOVERSIZE if out is too small or the note would exceed NOTE_MAX_LEN; TIP_ECRYPTO.
 */
int note_sign(const char *text, size_t text_len, const struct key *signers, size_t nsigners,
              uint64_t timestamp, char *out, size_t cap, size_t *out_len);

/*
 * Appends signer's signature line to the signed note note[0..len), which must be well formed (its
 * signatures are not verified here). TIP_EINVAL if the note already has a line with the signer's
 * name and key id. Other returns as note_sign, and TIP_EOVERSIZE / TIP_EFORMAT as note_open for
 * the input note.
 */
int note_add_signature(const char *note, size_t len, const struct key *signer, uint64_t timestamp, char *out,
                       size_t cap, size_t *out_len);

#endif
