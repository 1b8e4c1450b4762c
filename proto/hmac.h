/*
 * HMAC-SHA256 (RFC 2104) with the key's two pad states hashed once, for MACs computed many times
 * under one key (diode datagrams, the comparison indexes' keyed digests).
 *
 * Why OpenSSL's SHA256_* functions and not EVP_MAC: OpenSSL 3.0's EVP layer frees and re-creates the
 * provider's digest context on every EVP_DigestInit_ex() and EVP_MD_CTX_copy_ex(), so an EVP or
 * EVP_MAC HMAC costs one or two heap allocations per message, and is about 20% slower at 1.4 KB
 * (measured: 880 ns against 1,030-1,120 ns). A SHA256_CTX is a value: the pad states are copied
 * for each message. The functions are deprecated in 3.0 but present in every 3.x release, with the
 * same SHA-NI code.
 *
 * struct hmac_key holds state derived from the secret: wipe it with hmac_key_wipe.
 */
#ifndef TIP_PROTO_HMAC_H
#define TIP_PROTO_HMAC_H

#include <openssl/sha.h>
#include <stddef.h>
#include <stdint.h>

#define HMAC_SHA256_LEN 32
#define HMAC_KEY_MAX    64 /* longest secret taken as is (SHA-256's block) */

struct hmac_key {
	SHA256_CTX inner; /* state after the block key ^ ipad */
	SHA256_CTX outer; /* state after the block key ^ opad */
};

/* The pad states of secret[0..len), len at most HMAC_KEY_MAX. */
void hmac_key_init(struct hmac_key *k, const uint8_t *secret, size_t len);
void hmac_key_wipe(struct hmac_key *k);
/* HMAC-SHA256 of a[0..a_len) followed by b[0..b_len) (b may be NULL when b_len is 0). */
void hmac_sha256(const struct hmac_key *k, const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len,
                 uint8_t out[HMAC_SHA256_LEN]);

#endif
