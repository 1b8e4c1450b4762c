#define OPENSSL_SUPPRESS_DEPRECATED

#include "proto/hmac.h"

#include <openssl/crypto.h>

#include <string.h>

#define SHA256_BLOCK 64

void hmac_key_init(struct hmac_key *k, const uint8_t *secret, size_t len)
{
	uint8_t pad[SHA256_BLOCK];

	if (len > HMAC_KEY_MAX)
		len = HMAC_KEY_MAX; /* callers pass fixed-size keys; never longer than a block */
	/* A key shorter than the block is zero-padded (RFC 2104). */
	memset(pad, 0x36, sizeof(pad));
	for (size_t i = 0; i < len; i++)
		pad[i] ^= secret[i];
	SHA256_Init(&k->inner);
	SHA256_Update(&k->inner, pad, sizeof(pad));
	memset(pad, 0x5c, sizeof(pad));
	for (size_t i = 0; i < len; i++)
		pad[i] ^= secret[i];
	SHA256_Init(&k->outer);
	SHA256_Update(&k->outer, pad, sizeof(pad));
	OPENSSL_cleanse(pad, sizeof(pad));
}

void hmac_key_wipe(struct hmac_key *k)
{
	OPENSSL_cleanse(k, sizeof(*k));
}

void hmac_sha256(const struct hmac_key *k, const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len,
                 uint8_t out[HMAC_SHA256_LEN])
{
	SHA256_CTX c = k->inner;
	uint8_t inner[SHA256_DIGEST_LENGTH];

	SHA256_Update(&c, a, a_len);
	if (b_len)
		SHA256_Update(&c, b, b_len);
	SHA256_Final(inner, &c);
	c = k->outer;
	SHA256_Update(&c, inner, sizeof(inner));
	SHA256_Final(out, &c);
	/* The copied states are derived from the key. */
	OPENSSL_cleanse(&c, sizeof(c));
}
