/*
 * Signed records: the envelope of everything in a spool or on the diode.
 * A record is SignedRecord{body, key_id, signature} where body is a serialized
 * RecordBody{version, origin, seq, prev_hash, created_at, kind, payload}.
 * Signatures cover the body bytes exactly as carried; nothing is re-serialized.
 */
#ifndef TIP_PROTO_RECORD_H
#define TIP_PROTO_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "proto/ed25519.h"
#include "proto/keyfile.h"

#define REC_VERSION    1
#define REC_HASH_LEN   32
#define REC_KEY_ID_LEN 4
#define REC_ORIGIN_MAX 64

enum rec_kind { REC_REPORT = 1, REC_CHECKPOINT = 2, REC_STATUS = 3 };

/*
 * A decoded record. The pointers refer into memory owned by the struct;
 * rec_release frees it. The struct is a view: fields are checked for form
 * (lengths, origin syntax, known kind) but the signature only by rec_verify.
 */
struct rec {
	uint32_t version;
	const char *origin;
	uint64_t seq;
	const uint8_t *prev_hash; /* REC_HASH_LEN bytes */
	int64_t created_at;       /* Unix milliseconds */
	enum rec_kind kind;
	const uint8_t *payload;
	size_t payload_len;
	const uint8_t *key_id; /* REC_KEY_ID_LEN bytes */
	const uint8_t *body;   /* the exact signed bytes */
	size_t body_len;
	const uint8_t *signature;   /* ED25519_SIG_LEN bytes */
	uint8_t hash[REC_HASH_LEN]; /* SHA-256 of the whole SignedRecord encoding */
	void *owned_signed, *owned_body;
};

/*
 * Decodes buf[0..len) into *out (zeroed first, so rec_release is always safe).
 * TIP_EOVERSIZE (len > cap), TIP_ETRUNCATED, TIP_EDECODE (malformed, a bad field
 * length, a bad origin, an unknown kind) or TIP_EVERSION (body version != 1).
 */
int rec_decode(const uint8_t *buf, size_t len, size_t cap, struct rec *out);
void rec_release(struct rec *r);

/* Checks the record's signature with the origin's public key: TIP_OK or TIP_EVERIFY. */
int rec_verify(const struct rec *r, const struct ed25519_pub *pub);

/*
 * The keys one origin signs with: its current key and the retired ones still trusted, told apart by
 * key id (docs/key-ceremony.md). The verifiers are borrowed. A key removed from the ring (revoked)
 * no longer verifies anything.
 */
#define REC_KEYS_MAX 8
struct rec_keyring {
	size_t n;
	const struct ed25519_pub *pub[REC_KEYS_MAX];
	uint8_t id[REC_KEYS_MAX][REC_KEY_ID_LEN];
};

/* Adds a key. TIP_OK; TIP_EFULL past REC_KEYS_MAX; TIP_EINVAL when a key of that id is in the ring. */
int rec_keyring_add(struct rec_keyring *kr, const struct ed25519_pub *pub, const uint8_t id[REC_KEY_ID_LEN]);

/* The ring's key of that id, or NULL (unknown, or revoked). */
const struct ed25519_pub *rec_keyring_find(const struct rec_keyring *kr, const uint8_t id[REC_KEY_ID_LEN]);

/*
 * Adds the verifier key files named in list (blank-separated paths, key_read_list) to kr; their
 * verifier objects are appended to pubs[*n .. cap) (*n counts them; free each with ed25519_pub_free,
 * also after a failure). TIP_OK; key_read_list's errors with the path in bad; TIP_EFULL past the
 * ring's or pubs' room; TIP_EINVAL for a key id already in the ring; TIP_ENOMEM.
 */
int rec_keyring_load(struct rec_keyring *kr, const char *list, struct ed25519_pub **pubs, size_t cap,
                     size_t *n, char bad[KEY_PATH_MAX]);

/*
 * Checks the record's signature with the ring's key of the record's key id: TIP_OK; TIP_ENOTFOUND
 * when no key of the ring has that id (unknown, or revoked); TIP_EVERIFY when the signature fails.
 */
int rec_verify_ring(const struct rec *r, const struct rec_keyring *kr);

/* SHA-256 of a record's exact bytes: what the next record carries as prev_hash. */
void rec_hash(const uint8_t *buf, size_t len, uint8_t out[REC_HASH_LEN]);

/* 1 if s is a valid origin name: [A-Za-z0-9][A-Za-z0-9._-]{0,63}. */
int rec_origin_ok(const char *s);

/*
 * The position of an origin's chain: the sequence number and prev_hash the next
 * record must carry. A writer signs with it; a reader checks what arrives against it.
 */
struct rec_chain {
	char origin[REC_ORIGIN_MAX + 1];
	uint64_t next_seq;
	uint8_t prev_hash[REC_HASH_LEN];
};

/* A chain at its start: seq 0, prev_hash all zeros. TIP_EINVAL for a bad origin. */
int rec_chain_init(struct rec_chain *c, const char *origin);
/* Moves the chain past the record whose hash is given. */
void rec_chain_advance(struct rec_chain *c, const uint8_t hash[REC_HASH_LEN]);

enum rec_chain_verdict {
	REC_CHAIN_NEXT,      /* the record continues the chain */
	REC_CHAIN_DUPLICATE, /* seq already passed */
	REC_CHAIN_GAP,       /* seq beyond the next expected */
	REC_CHAIN_FORK,      /* right seq, wrong prev_hash */
	REC_CHAIN_FOREIGN,   /* another origin's record */
};
enum rec_chain_verdict rec_chain_check(const struct rec_chain *c, const struct rec *r);

/*
 * Builds and signs the next record of chain c (c is not advanced: call
 * rec_chain_advance with *hash once the record is safely stored).
 * *out is a heap buffer of *out_len bytes; cap bounds it (TIP_EOVERSIZE).
 */
int rec_sign(const struct rec_chain *c, const struct ed25519_key *key, const uint8_t key_id[REC_KEY_ID_LEN],
             enum rec_kind kind, int64_t created_at, const uint8_t *payload, size_t payload_len, size_t cap,
             uint8_t **out, size_t *out_len, uint8_t hash[REC_HASH_LEN]);

/*
 * Who signs a record body: sig becomes the Ed25519 signature over msg[0..len). TIP_OK or a negative
 * error. rec_ed25519_signer signs with key, a struct ed25519_key; intaked's worker asks its signer
 * process instead (intake/signer.h).
 */
typedef int (*rec_signer)(void *arg, const uint8_t *msg, size_t len, uint8_t sig[ED25519_SIG_LEN]);
int rec_ed25519_signer(void *key, const uint8_t *msg, size_t len, uint8_t sig[ED25519_SIG_LEN]);

/* rec_sign with the signature made by sign(sign_arg, ...); its error is returned as it is. */
int rec_sign_by(const struct rec_chain *c, rec_signer sign, void *sign_arg,
                const uint8_t key_id[REC_KEY_ID_LEN], enum rec_kind kind, int64_t created_at,
                const uint8_t *payload, size_t payload_len, size_t cap, uint8_t **out, size_t *out_len,
                uint8_t hash[REC_HASH_LEN]);

#endif
