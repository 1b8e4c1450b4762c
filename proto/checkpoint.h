/*
 * C2SP tlog-checkpoint bodies (c2sp.org/tlog-checkpoint) and tlog-cosignature v1 cosignatures
 * (c2sp.org/tlog-cosignature), carried in signed notes (proto/note.h), and a signer that never
 * signs two inconsistent checkpoints, not even across restarts. Text formats and the signer's
 * state file, byte by byte: docs/formats/transfer-log.md.
 *
 * A checkpoint body is
 *   <origin>\n<tree size, decimal, no leading zero>\n<base64 of the 32-byte root hash>\n[<extension
 * line>\n]... A log signs it with a KEY_ED25519 key; a cosigner adds a KEY_COSIGN line whose signature covers
 * "cosignature/v1\ntime <seconds>\n" followed by the body.
 *
 * Ownership: struct ckpt is plain caller data. struct ckpt_signer is opaque (ckpt_signer_open /
 * ckpt_signer_free, NULL accepted), keeps a copy of the private key (wiped when freed) and holds a
 * lock on its state file; one thread at a time.
 *
 * Returns: TIP_OK or a negative code from common/err.h, as each function says.
 */
#ifndef TIP_PROTO_CHECKPOINT_H
#define TIP_PROTO_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "diode/merkle.h"
#include "proto/keyfile.h"
#include "proto/note.h"

#define CKPT_HASH_LEN   MERKLE_HASH_LEN
#define CKPT_ORIGIN_MAX 255  /* bytes of the origin line */
#define CKPT_EXT_MAX    1024 /* bytes of all extension lines, newlines included */
/* Longest body: origin, 20 digits, 44 base64 characters, extensions, newlines. */
#define CKPT_BODY_MAX (CKPT_ORIGIN_MAX + 1 + 20 + 1 + 44 + 1 + CKPT_EXT_MAX)
/* Longest signed checkpoint this module reads or writes. */
#define CKPT_NOTE_MAX 32768

struct ckpt {
	char origin[CKPT_ORIGIN_MAX + 1]; /* NUL-terminated; non-empty, UTF-8, no control characters */
	uint64_t size;
	uint8_t root[CKPT_HASH_LEN];
	char ext[CKPT_EXT_MAX + 1]; /* extension lines, each ending in '\n', NUL-terminated; "" for none */
};

/*
 * The body of c into out (NUL-terminated; *len without the NUL). TIP_OK; TIP_EINVAL for an
 * origin or extension that a body cannot carry (empty, too long, a control character or invalid
 * UTF-8, an empty extension line or one without its newline); TIP_EOVERSIZE if out is too small.
 */
int ckpt_body_format(const struct ckpt *c, char *out, size_t cap, size_t *len);

/*
 * Parses text[0..len) as a body into *out. TIP_OK; TIP_EOVERSIZE (len > CKPT_BODY_MAX, or an
 * origin or extensions over their caps); TIP_EFORMAT for anything else not exactly in the format:
 * fewer than three lines, an empty line, a size with a sign, a leading zero or above 2^64 - 1, a
 * root that is not canonical base64 of 32 bytes, invalid UTF-8, a control character, no final
 * newline.
 */
int ckpt_body_parse(const char *text, size_t len, struct ckpt *out);

/* The checkpoint signed by log_key (private, KEY_ED25519): returns as ckpt_body_format and note_sign. */
int ckpt_sign(const struct ckpt *c, const struct key *log_key, char *out, size_t cap, size_t *out_len);

/*
 * Verifies a signed checkpoint (note_open with known keys of type KEY_ED25519 and KEY_COSIGN) and
 * parses its body into *out; checks[i] (may be NULL) tells whether known[i] signed and when (a
 * cosignature's timestamp). The caller decides which keys must have signed. Returns as note_open;
 * TIP_EFORMAT also for a body not in the checkpoint format.
 */
int ckpt_open(const char *note, size_t len, size_t cap, const struct key *known, size_t nknown,
              struct ckpt *out, struct note_check *checks);

/*
 * Cosigns without memory of earlier cosignatures (ckpt_signer_cosign keeps one): checks that
 * log_key signed note and that its body names exactly (size, root), then appends cosigner's
 * cosignature line with timestamp (seconds since the epoch). TIP_OK; TIP_EVERIFY if the log's
 * signature or (size, root) does not match; TIP_ENOTFOUND if log_key did not sign; TIP_EINVAL if
 * the note already has this cosigner's line or a key is of the wrong type; other returns as
 * ckpt_open and note_add_signature.
 */
int ckpt_cosign(const char *note, size_t len, const struct key *log_key, const struct key *cosigner,
                uint64_t timestamp, uint64_t size, const uint8_t root[CKPT_HASH_LEN], char *out, size_t cap,
                size_t *out_len);

/* ---- the signer that refuses inconsistency ---- */

#define CKPT_SIGNER_CREATE 1 /* no state file yet: start with nothing signed */

struct ckpt_signer;

/*
 * Opens the signer for origin with key (private; KEY_ED25519 for a log, KEY_COSIGN for a
 * cosigner) and its state file: the last note it produced, exactly. The state is verified with
 * the key's public half. A lock, state_path + ".lock", keeps a second signer out. Returns NULL
 * with *err: TIP_ENOTFOUND (no state file and no CKPT_SIGNER_CREATE), TIP_EBUSY (locked),
 * TIP_ECORRUPT (a state file that does not parse, is not signed by this key, or records an empty
 * tree with another root), TIP_EINVAL (bad key or origin, or a state file of another origin),
 * TIP_EIO, TIP_ENOMEM.
 */
struct ckpt_signer *ckpt_signer_open(const char *state_path, const struct key *key, const char *origin,
                                     int flags, int *err);

/* The last checkpoint signed or cosigned: TIP_OK, or TIP_ENOTFOUND if there is none yet. */
int ckpt_signer_last(const struct ckpt_signer *s, uint64_t *size, uint8_t root[CKPT_HASH_LEN]);

/*
 * Signs checkpoint c (a log signer; c->origin must be the signer's) only if it is consistent with
 * the last one signed (size0, root0):
 *   - c->size < size0: refused (TIP_ERANGE);
 *   - c->size == size0: only with root0 (else TIP_EVERIFY); signing it again is allowed;
 *   - c->size > size0: only if the consistency of (size0, root0) with (c->size, c->root) is shown,
 *     from tree (non-NULL: a consistency proof is made from it and checked, and tree's root at
 *     c->size must be c->root) or else from proof[0..proof_len), a consistency proof the caller
 *     got elsewhere; TIP_EVERIFY or TIP_EFORMAT otherwise. From size0 == 0 nothing needs showing.
 * A checkpoint of size 0 must carry the empty tree's root (TIP_EVERIFY). When tree is given, its
 * root at c->size must match in every case (TIP_EVERIFY; TIP_ERANGE if the tree is smaller).
 * The new note replaces the state file (temporary file, fsync, rename, directory fsync) before it
 * is copied to out. TIP_OK; TIP_EINVAL (a cosigner, another origin); TIP_EOVERSIZE (out too
 * small; nothing is written); TIP_EIO (the state could not be written: nothing is returned, and
 * the state is unchanged); TIP_ECORRUPT or TIP_EIO from the tree; TIP_ECRYPTO.
 */
int ckpt_signer_sign(struct ckpt_signer *s, const struct ckpt *c, struct merkle *tree, const uint8_t *proof,
                     size_t proof_len, char *out, size_t cap, size_t *out_len);

/*
 * A cosigner's counterpart: note must be signed by log_key (TIP_EVERIFY / TIP_ENOTFOUND) and be a
 * checkpoint of the signer's origin (TIP_EINVAL); its (size, root) is admitted by the rules of
 * ckpt_signer_sign, with tree being the cosigner's own copy of the log. timestamp may not be
 * older than the last cosignature's (TIP_ERANGE). On TIP_OK out holds note with the cosignature
 * line appended, and the state file holds the same.
 */
int ckpt_signer_cosign(struct ckpt_signer *s, const char *note, size_t len, const struct key *log_key,
                       uint64_t timestamp, struct merkle *tree, const uint8_t *proof, size_t proof_len,
                       char *out, size_t cap, size_t *out_len);

void ckpt_signer_free(struct ckpt_signer *s);

#endif
