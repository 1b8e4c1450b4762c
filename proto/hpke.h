/*
 * HPKE (RFC 9180), base mode only, single-shot and multi-message contexts:
 *   KEM  0x0020 DHKEM(X25519, HKDF-SHA256)
 *   KDF  0x0001 HKDF-SHA256
 *   AEAD 0x0001 AES-128-GCM or 0x0003 ChaCha20Poly1305
 * built on OpenSSL 3.0 primitives (X25519 EVP_PKEY derive, HMAC-SHA256 EVP_MAC,
 * EVP_CIPHER AEADs). Reports are sealed with it to the internal zone's public key.
 *
 * Ownership: struct hpke_ctx is plain data owned by the caller (no heap memory);
 * it holds the AEAD key and exporter secret, so the caller must hpke_ctx_wipe it
 * when done. A context is not safe to use from two threads at once (seq changes).
 * A sender context only seals and a recipient context only opens (RFC 9180 5.2),
 * so the two directions never share a nonce.
 *
 * Returns: TIP_OK; TIP_EINVAL for an unknown AEAD, a wrong-role context or an
 * exporter length over 255*32; TIP_EVERIFY when a tag does not verify or a peer
 * public key is of small order (all-zero shared secret, RFC 9180 7.1.4);
 * TIP_ETRUNCATED when a ciphertext is shorter than the tag; TIP_EFULL when the
 * context's sequence number is exhausted; TIP_EOVERSIZE for inputs over INT_MAX
 * bytes; TIP_ECRYPTO when OpenSSL fails for a reason other than the input.
 */
#ifndef TIP_PROTO_HPKE_H
#define TIP_PROTO_HPKE_H

#include <stddef.h>
#include <stdint.h>

enum hpke_aead { HPKE_AEAD_AES_128_GCM = 0x0001, HPKE_AEAD_CHACHA20_POLY1305 = 0x0003 };
enum hpke_role { HPKE_ROLE_SENDER = 1, HPKE_ROLE_RECIPIENT = 2 };

#define HPKE_KEY_LEN      32 /* X25519 private and public keys, and enc */
#define HPKE_TAG_LEN      16
#define HPKE_NONCE_LEN    12
#define HPKE_SECRET_LEN   32 /* Nsecret and Nh of HKDF-SHA256 */
#define HPKE_EXPORT_MAX   ((size_t)255 * HPKE_SECRET_LEN)
#define HPKE_AEAD_KEY_MAX 32

struct hpke_ctx {
	enum hpke_aead aead;
	enum hpke_role role;
	uint8_t key[HPKE_AEAD_KEY_MAX]; /* first key_len bytes used: 16 for AES-128-GCM, 32 for ChaCha20 */
	size_t key_len;
	uint8_t base_nonce[HPKE_NONCE_LEN];
	uint8_t exporter_secret[HPKE_SECRET_LEN];
	uint64_t seq; /* next message's sequence number */
};

/* A fresh X25519 key pair from the CSPRNG. */
int hpke_generate_keypair(uint8_t sk[HPKE_KEY_LEN], uint8_t pk[HPKE_KEY_LEN]);
/* DeriveKeyPair (RFC 9180 7.1.3): deterministic key pair from ikm (ikm_len >= 32 recommended; any length
 * accepted). */
int hpke_derive_keypair(const uint8_t *ikm, size_t ikm_len, uint8_t sk[HPKE_KEY_LEN],
                        uint8_t pk[HPKE_KEY_LEN]);
int hpke_public_from_private(const uint8_t sk[HPKE_KEY_LEN], uint8_t pk[HPKE_KEY_LEN]);

/* SetupBaseS: a sender context for recipient pkR, and enc to send along. ctx is wiped on failure. */
int hpke_setup_base_s(enum hpke_aead aead, const uint8_t pkR[HPKE_KEY_LEN], const uint8_t *info,
                      size_t info_len, uint8_t enc[HPKE_KEY_LEN], struct hpke_ctx *ctx);
/* Known-answer tests only: the ephemeral key is given instead of drawn. */
int hpke_setup_base_s_fixed(enum hpke_aead aead, const uint8_t pkR[HPKE_KEY_LEN], const uint8_t *info,
                            size_t info_len, const uint8_t skE[HPKE_KEY_LEN], uint8_t enc[HPKE_KEY_LEN],
                            struct hpke_ctx *ctx);
/* SetupBaseR: the recipient context for enc under skR. ctx is wiped on failure. */
int hpke_setup_base_r(enum hpke_aead aead, const uint8_t enc[HPKE_KEY_LEN], const uint8_t skR[HPKE_KEY_LEN],
                      const uint8_t *info, size_t info_len, struct hpke_ctx *ctx);

/*
 * Decap (RFC 9180 4.1): the KEM shared secret for enc under skR. Exposed so the
 * known-answer tests can check it; protocol code uses hpke_setup_base_r.
 */
int hpke_decap(const uint8_t enc[HPKE_KEY_LEN], const uint8_t skR[HPKE_KEY_LEN],
               uint8_t shared_secret[HPKE_SECRET_LEN]);

/* Seals pt[0..pt_len) into ct[0..pt_len + HPKE_TAG_LEN) (ct may equal pt); seq advances on success. */
int hpke_seal(struct hpke_ctx *ctx, const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t pt_len,
              uint8_t *ct);
/*
 * Opens ct[0..ct_len) into pt[0..ct_len - HPKE_TAG_LEN) (pt may equal ct); seq advances
 * only on success. On TIP_EVERIFY the output bytes are zeroed.
 */
int hpke_open(struct hpke_ctx *ctx, const uint8_t *aad, size_t aad_len, const uint8_t *ct, size_t ct_len,
              uint8_t *pt);
/* Secret export (RFC 9180 5.3): L bytes (L <= HPKE_EXPORT_MAX) into out. Either role. */
int hpke_export(const struct hpke_ctx *ctx, const uint8_t *exporter_context, size_t ctx_len, size_t L,
                uint8_t *out);
void hpke_ctx_wipe(struct hpke_ctx *ctx);

#endif
