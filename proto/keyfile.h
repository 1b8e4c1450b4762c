/*
 * Key files: one key per file, one text line ending in a single LF, in the style
 * of Go's sumdb/note key strings (byte layout in docs/formats/keys.md):
 *   private:  PRIVATE+KEY+<name>+<keyid, 8 lower-case hex digits>+<base64(type || secret)>
 *   verifier: <name>+<keyid>+<base64(type || public key)>          (C2SP signed-note)
 *
 * Key ids: for 0x01, 0x04 and 0x80 the C2SP rule, the first 4 bytes of
 * SHA-256(name || 0x0A || type || public key). A link or index key has no public half; its id
 * is a check value, the first 4 bytes of SHA-256("tipline link key" || 0x0A || secret) (for an index
 * key, "tipline index key").
 *
 * Ownership: struct key is plain caller-owned data; when has_secret is set it
 * holds secret bytes and must be wiped with key_wipe.
 *
 * Returns: TIP_OK; TIP_EFORMAT for any text not exactly in the format (bad name,
 * hex, base64, length, type, key id, a public key that is not a curve point, a
 * second line, a missing final LF); TIP_EINVAL for a bad argument or a private
 * key file readable or writable by group or others; TIP_ENOTFOUND when the file
 * does not exist; TIP_EIO when a system call fails (errno says why, EEXIST when a
 * file to be written already exists); TIP_EOVERSIZE when an output buffer is too
 * small; TIP_ECRYPTO when OpenSSL fails.
 */
#ifndef TIP_PROTO_KEYFILE_H
#define TIP_PROTO_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

enum key_type {
	KEY_ED25519 = 0x01, /* Ed25519 signing key for signed notes and records (C2SP signed-note) */
	KEY_COSIGN = 0x04,  /* Ed25519 cosignature key (C2SP tlog-cosignature v1) */
	KEY_X25519 = 0x80,  /* X25519 HPKE key pair (project-private; never appears in a note) */
	KEY_LINK = 0x81,    /* 32-byte HMAC key of a diode link (secret only) */
	KEY_INDEX = 0x82,   /* 32-byte HMAC key of the case manager's comparison indexes (secret only) */
};

#define KEY_NAME_MAX 64
#define KEY_ID_LEN   4
#define KEY_LEN      32
/* Longest line without its LF: "PRIVATE+KEY+" + name + "+" + 8 hex + "+" + 44 base64. */
#define KEY_LINE_MAX (12 + KEY_NAME_MAX + 1 + 8 + 1 + 44)

struct key {
	enum key_type type;
	char name[KEY_NAME_MAX + 1];
	uint8_t id[KEY_ID_LEN];
	uint8_t secret[KEY_LEN]; /* Ed25519 seed, X25519 private key or link key; valid if has_secret */
	uint8_t pub[KEY_LEN];    /* public key; all zero for a symmetric key */
	int has_secret;
};

/* A fresh key of the given type from the CSPRNG. name: 1..64 bytes of printable ASCII except '+'. */
int key_generate(enum key_type type, const char *name, struct key *out);

/* Parse one line (no LF) of either form; the public half and key id are recomputed and checked. */
int key_parse_private(const char *line, size_t len, struct key *out);
int key_parse_public(const char *line, size_t len, struct key *out); /* never a symmetric key */

/* Read a file holding exactly one such line. A private key file must have no group or other permission bits.
 */
int key_read_private(const char *path, struct key *out);
int key_read_public(const char *path, struct key *out);

/*
 * Reads every key file named in list, paths separated by blanks (a setting naming the retired keys of a
 * role), private files when private is set, else verifier files; each must be of type. TIP_OK with
 * *n keys in out (wipe each with key_wipe); TIP_EFULL for more than cap; a read's error, or
 * TIP_EFORMAT for a key of another type or a key id listed twice, with that path in bad; TIP_EINVAL
 * for a path longer than KEY_PATH_MAX - 1. On failure out holds nothing. An empty list gives 0 keys.
 */
#define KEY_PATH_MAX 256
int key_read_list(const char *list, int private, enum key_type type, struct key *out, size_t cap, size_t *n,
                  char bad[KEY_PATH_MAX]);

/*
 * Create path (O_EXCL: an existing file is never replaced) holding the key line, then
 * fsync it and its directory. Private files get mode 0600, public files 0644.
 * k must be consistent: its public half and id are recomputed from the secret.
 */
int key_write_private(const char *path, const struct key *k);
int key_write_public(const char *path, const struct key *k); /* TIP_EINVAL for a symmetric key */

/* The verifier line (no LF) into out, NUL-terminated. TIP_EINVAL for a symmetric key. */
int key_format_public(const struct key *k, char *out, size_t cap);

/* "sign", "cosign", "seal", "link" or "index" (the names tipkey uses); NULL for an unknown type. */
const char *key_type_name(enum key_type type);
/* 1 for a key that is a secret alone, without a public half (KEY_LINK, KEY_INDEX). */
int key_is_symmetric(enum key_type type);

void key_wipe(struct key *k);

#endif
