/*
 * Ed25519 (RFC 8032, pure mode) on OpenSSL's one-shot EVP_DigestSign and
 * EVP_DigestVerify. Keys are parsed once into opaque objects so that a caller
 * verifying many records pays the parsing only once.
 *
 * Ownership: ed25519_key_new and ed25519_pub_new return objects the caller frees
 * with the matching _free (NULL is accepted). Both objects are read-only after
 * creation, so one object may be used by several threads at once for signing or
 * verifying; each call uses its own EVP_MD_CTX.
 *
 * Secrets: the seed lives inside OpenSSL's key object, which cleanses it when freed.
 * Callers wipe their own copies of the seed (OPENSSL_cleanse).
 */
#ifndef TIP_PROTO_ED25519_H
#define TIP_PROTO_ED25519_H

#include <stddef.h>
#include <stdint.h>

#define ED25519_SEED_LEN 32
#define ED25519_PUB_LEN  32
#define ED25519_SIG_LEN  64

struct ed25519_key; /* private signing key */
struct ed25519_pub; /* public verifying key */

/* Fills seed from the CSPRNG. TIP_OK, or TIP_ECRYPTO if the generator failed. */
int ed25519_generate(uint8_t seed[ED25519_SEED_LEN]);

/* A signing key from its 32-byte seed; NULL on allocation or library failure. */
struct ed25519_key *ed25519_key_new(const uint8_t seed[ED25519_SEED_LEN]);
/* The public key that verifies k's signatures. */
void ed25519_key_public(const struct ed25519_key *k, uint8_t pub[ED25519_PUB_LEN]);
/* Signs msg[0..len) (len 0 allowed). TIP_OK or TIP_ECRYPTO. */
int ed25519_sign(const struct ed25519_key *k, const uint8_t *msg, size_t len, uint8_t sig[ED25519_SIG_LEN]);
void ed25519_key_free(struct ed25519_key *k);

/*
 * A verifying key from its 32-byte encoding. NULL if the bytes do not decode to a
 * curve point as RFC 8032 section 5.1.3 requires (non-canonical y, x not a square
 * root, or x = 0 with the sign bit set), or on allocation failure.
 */
struct ed25519_pub *ed25519_pub_new(const uint8_t pub[ED25519_PUB_LEN]);
/*
 * TIP_OK if sig is p's signature over msg[0..len); TIP_EVERIFY if not (including a
 * non-canonical S >= L, which OpenSSL rejects); TIP_ECRYPTO if the library failed.
 */
int ed25519_verify(const struct ed25519_pub *p, const uint8_t *msg, size_t len,
                   const uint8_t sig[ED25519_SIG_LEN]);
void ed25519_pub_free(struct ed25519_pub *p);

#endif
