#include "proto/ed25519.h"

#include "common/err.h"

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <stdlib.h>

struct ed25519_key {
	EVP_PKEY *pkey;
	uint8_t pub[ED25519_PUB_LEN];
};

struct ed25519_pub {
	EVP_PKEY *pkey;
};

/* d = -121665/121666 mod p, the Edwards curve constant of edwards25519. */
static const char ed25519_d_dec[] =
        "37095705934669439343138083508754565189542113879843219016388785533085940283555";

/*
 * OpenSSL 3.0 accepts any 32 bytes as an Ed25519 public key and only fails later,
 * inside every verify. Decoding once here (RFC 8032 section 5.1.3) lets a bad key in
 * a configuration or key file be refused when it is loaded. The key is public, so
 * variable-time BIGNUM arithmetic is fine.
 */
static int point_decodes(const uint8_t pub[ED25519_PUB_LEN])
{
	uint8_t le[ED25519_PUB_LEN];
	int x_sign = pub[31] >> 7;
	BN_CTX *bn = BN_CTX_new();
	BIGNUM *p, *y, *d, *u, *v, *e;
	int ok = 0;

	if (!bn)
		return 0;
	BN_CTX_start(bn);
	p = BN_CTX_get(bn);
	y = BN_CTX_get(bn);
	d = BN_CTX_get(bn);
	u = BN_CTX_get(bn);
	v = BN_CTX_get(bn);
	e = BN_CTX_get(bn);
	if (!e)
		goto out;
	for (size_t i = 0; i < sizeof(le); i++)
		le[i] = pub[i];
	le[31] &= 0x7f;
	/* p = 2^255 - 19 */
	if (!BN_set_bit(p, 255) || !BN_sub_word(p, 19) || !BN_lebin2bn(le, sizeof(le), y) ||
	    !BN_dec2bn(&d, ed25519_d_dec))
		goto out;
	if (BN_cmp(y, p) >= 0)
		goto out; /* non-canonical y */
	/* x^2 = u / v with u = y^2 - 1, v = d y^2 + 1; v is never zero because d is not a square. */
	if (!BN_mod_sqr(u, y, p, bn) || !BN_mod_mul(v, d, u, p, bn) || !BN_add_word(v, 1) ||
	    !BN_mod_sub(u, u, BN_value_one(), p, bn) || !BN_nnmod(v, v, p, bn))
		goto out;
	/* u/v is a square exactly when u*v is: test u*v with Euler's criterion. */
	if (!BN_mod_mul(u, u, v, p, bn))
		goto out;
	if (BN_is_zero(u)) {
		ok = !x_sign; /* x = 0 has no negative encoding */
		goto out;
	}
	if (!BN_copy(e, p) || !BN_sub_word(e, 1) || !BN_rshift1(e, e) || !BN_mod_exp(v, u, e, p, bn))
		goto out;
	ok = BN_is_one(v);
out:
	BN_CTX_end(bn);
	BN_CTX_free(bn);
	return ok;
}

int ed25519_generate(uint8_t seed[ED25519_SEED_LEN])
{
	return RAND_priv_bytes(seed, ED25519_SEED_LEN) == 1 ? TIP_OK : TIP_ECRYPTO;
}

struct ed25519_key *ed25519_key_new(const uint8_t seed[ED25519_SEED_LEN])
{
	struct ed25519_key *k = calloc(1, sizeof(*k));
	size_t len = ED25519_PUB_LEN;

	if (!k)
		return NULL;
	k->pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, ED25519_SEED_LEN);
	if (!k->pkey || EVP_PKEY_get_raw_public_key(k->pkey, k->pub, &len) != 1 || len != ED25519_PUB_LEN) {
		ed25519_key_free(k);
		return NULL;
	}
	return k;
}

void ed25519_key_public(const struct ed25519_key *k, uint8_t pub[ED25519_PUB_LEN])
{
	for (size_t i = 0; i < ED25519_PUB_LEN; i++)
		pub[i] = k->pub[i];
}

int ed25519_sign(const struct ed25519_key *k, const uint8_t *msg, size_t len, uint8_t sig[ED25519_SIG_LEN])
{
	static const uint8_t empty;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	size_t sig_len = ED25519_SIG_LEN;
	int rc = TIP_ECRYPTO;

	if (!md)
		goto out;
	if (EVP_DigestSignInit_ex(md, NULL, NULL, NULL, NULL, k->pkey, NULL) != 1)
		goto out;
	if (EVP_DigestSign(md, sig, &sig_len, len ? msg : &empty, len) != 1 || sig_len != ED25519_SIG_LEN)
		goto out;
	rc = TIP_OK;
out:
	EVP_MD_CTX_free(md);
	return rc;
}

void ed25519_key_free(struct ed25519_key *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

struct ed25519_pub *ed25519_pub_new(const uint8_t pub[ED25519_PUB_LEN])
{
	struct ed25519_pub *p;

	if (!point_decodes(pub))
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, ED25519_PUB_LEN);
	if (!p->pkey) {
		free(p);
		return NULL;
	}
	return p;
}

int ed25519_verify(const struct ed25519_pub *p, const uint8_t *msg, size_t len,
                   const uint8_t sig[ED25519_SIG_LEN])
{
	static const uint8_t empty;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int rc = TIP_ECRYPTO;

	if (!md)
		goto out;
	if (EVP_DigestVerifyInit_ex(md, NULL, NULL, NULL, NULL, p->pkey, NULL) != 1)
		goto out;
	/* Anything but 1 is a rejection: a hostile signature must never look like a library fault. */
	rc = EVP_DigestVerify(md, sig, ED25519_SIG_LEN, len ? msg : &empty, len) == 1 ? TIP_OK : TIP_EVERIFY;
out:
	EVP_MD_CTX_free(md);
	return rc;
}

void ed25519_pub_free(struct ed25519_pub *p)
{
	if (!p)
		return;
	EVP_PKEY_free(p->pkey);
	free(p);
}
