#include "proto/hpke.h"

#include "common/err.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define KEM_ID   0x0020
#define KDF_ID   0x0001
#define HASH_LEN 32

static const uint8_t kem_suite[5] = {'K', 'E', 'M', KEM_ID >> 8, KEM_ID & 0xff};

/* A byte string handed to HMAC piece by piece, so labelled inputs are never copied together. */
struct part {
	const uint8_t *p;
	size_t len;
};

#define PART_STR(s) ((struct part){(const uint8_t *)(s), sizeof(s) - 1})

/*
 * Algorithms are fetched once per process: an OpenSSL 3 fetch costs more than the
 * HMAC it finds. The fetched objects are immutable and shared by all threads.
 */
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;
static EVP_MAC *hmac_alg;
static EVP_CIPHER *aes_alg, *chacha_alg;

static void fetch_algorithms(void)
{
	hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
	aes_alg = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
	chacha_alg = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
}

/* One HMAC-SHA256 context reused (re-keyed) for every step of an operation. */
static EVP_MAC_CTX *hmac_new(void)
{
	EVP_MAC_CTX *mc = NULL;
	OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
	                       OSSL_PARAM_construct_end()};

	pthread_once(&fetch_once, fetch_algorithms);
	if (!hmac_alg)
		return NULL;
	mc = EVP_MAC_CTX_new(hmac_alg);
	if (mc && EVP_MAC_CTX_set_params(mc, params) != 1) {
		EVP_MAC_CTX_free(mc);
		mc = NULL;
	}
	return mc;
}

static int hmac_parts(EVP_MAC_CTX *mc, const uint8_t *key, size_t key_len, const struct part *parts, size_t n,
                      uint8_t out[HASH_LEN])
{
	size_t out_len = 0;

	if (EVP_MAC_init(mc, key, key_len, NULL) != 1)
		return TIP_ECRYPTO;
	for (size_t i = 0; i < n; i++)
		if (parts[i].len && EVP_MAC_update(mc, parts[i].p, parts[i].len) != 1)
			return TIP_ECRYPTO;
	if (EVP_MAC_final(mc, out, &out_len, HASH_LEN) != 1 || out_len != HASH_LEN)
		return TIP_ECRYPTO;
	return TIP_OK;
}

/*
 * LabeledExtract(salt, label, ikm) = HKDF-Extract(salt, "HPKE-v1" || suite_id || label || ikm).
 * An empty salt means HashLen zero bytes (RFC 5869 2.2); HMAC pads its key with zeros,
 * so passing the zeros explicitly gives the same result without an empty HMAC key.
 */
static int labeled_extract(EVP_MAC_CTX *mc, const uint8_t *suite, size_t suite_len, const uint8_t *salt,
                           size_t salt_len, struct part label, const uint8_t *ikm, size_t ikm_len,
                           uint8_t prk[HASH_LEN])
{
	static const uint8_t zero_salt[HASH_LEN];
	const struct part parts[] = {PART_STR("HPKE-v1"), {suite, suite_len}, label, {ikm, ikm_len}};

	if (salt_len == 0) {
		salt = zero_salt;
		salt_len = sizeof(zero_salt);
	}
	return hmac_parts(mc, salt, salt_len, parts, 4, prk);
}

/*
 * LabeledExpand(prk, label, info, L) = HKDF-Expand(prk, I2OSP(L, 2) || "HPKE-v1" || suite_id || label ||
 * info, L), with HKDF-Expand written out over HMAC: T(i) = HMAC(prk, T(i-1) || labeled_info || i).
 */
static int labeled_expand(EVP_MAC_CTX *mc, const uint8_t *suite, size_t suite_len,
                          const uint8_t prk[HASH_LEN], struct part label, const uint8_t *info,
                          size_t info_len, size_t L, uint8_t *out)
{
	uint8_t len2[2] = {(uint8_t)(L >> 8), (uint8_t)L};
	uint8_t t[HASH_LEN], counter = 0;
	size_t done = 0;
	int rc = TIP_OK;

	if (L > (size_t)255 * HASH_LEN)
		return TIP_EINVAL;
	while (done < L) {
		const struct part parts[] = {{t, counter ? HASH_LEN : 0},
		                             {len2, 2},
		                             PART_STR("HPKE-v1"),
		                             {suite, suite_len},
		                             label,
		                             {info, info_len},
		                             {&counter, 1}};
		size_t take = L - done < HASH_LEN ? L - done : HASH_LEN;

		counter++;
		rc = hmac_parts(mc, prk, HASH_LEN, parts, 7, t);
		if (rc != TIP_OK)
			break;
		memcpy(out + done, t, take);
		done += take;
	}
	OPENSSL_cleanse(t, sizeof(t));
	if (rc != TIP_OK)
		OPENSSL_cleanse(out, L);
	return rc;
}

/* An X25519 private key object and its public key (one scalar multiplication). */
static EVP_PKEY *x25519_private(const uint8_t sk[HPKE_KEY_LEN], uint8_t pk[HPKE_KEY_LEN])
{
	EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, sk, HPKE_KEY_LEN);
	size_t len = HPKE_KEY_LEN;

	if (k && (EVP_PKEY_get_raw_public_key(k, pk, &len) != 1 || len != HPKE_KEY_LEN)) {
		EVP_PKEY_free(k);
		k = NULL;
	}
	return k;
}

int hpke_public_from_private(const uint8_t sk[HPKE_KEY_LEN], uint8_t pk[HPKE_KEY_LEN])
{
	EVP_PKEY *k = x25519_private(sk, pk);

	EVP_PKEY_free(k);
	return k ? TIP_OK : TIP_ECRYPTO;
}

int hpke_generate_keypair(uint8_t sk[HPKE_KEY_LEN], uint8_t pk[HPKE_KEY_LEN])
{
	int rc;

	if (RAND_priv_bytes(sk, HPKE_KEY_LEN) != 1)
		return TIP_ECRYPTO;
	rc = hpke_public_from_private(sk, pk);
	if (rc != TIP_OK)
		OPENSSL_cleanse(sk, HPKE_KEY_LEN);
	return rc;
}

int hpke_derive_keypair(const uint8_t *ikm, size_t ikm_len, uint8_t sk[HPKE_KEY_LEN],
                        uint8_t pk[HPKE_KEY_LEN])
{
	EVP_MAC_CTX *mc = hmac_new();
	uint8_t dkp_prk[HASH_LEN];
	int rc = TIP_ECRYPTO;

	if (!mc)
		goto out;
	rc = labeled_extract(mc, kem_suite, sizeof(kem_suite), NULL, 0, PART_STR("dkp_prk"), ikm, ikm_len,
	                     dkp_prk);
	if (rc == TIP_OK)
		rc = labeled_expand(mc, kem_suite, sizeof(kem_suite), dkp_prk, PART_STR("sk"), NULL, 0,
		                    HPKE_KEY_LEN, sk);
	if (rc == TIP_OK)
		rc = hpke_public_from_private(sk, pk);
	if (rc != TIP_OK)
		OPENSSL_cleanse(sk, HPKE_KEY_LEN);
out:
	OPENSSL_cleanse(dkp_prk, sizeof(dkp_prk));
	EVP_MAC_CTX_free(mc);
	return rc;
}

/*
 * DH(sk, pk). OpenSSL's X25519 already fails on an all-zero result; the explicit check
 * keeps RFC 9180 7.1.4 true whatever the library does. A small-order peer key is the
 * only input that fails here, so it is reported as a verification failure.
 */
static int x25519(EVP_PKEY *s, const uint8_t pk[HPKE_KEY_LEN], uint8_t out[HPKE_KEY_LEN])
{
	static const uint8_t zero[HPKE_KEY_LEN];
	EVP_PKEY *p = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pk, HPKE_KEY_LEN);
	EVP_PKEY_CTX *pc = NULL;
	size_t len = HPKE_KEY_LEN;
	int rc = TIP_ECRYPTO;

	if (!p)
		goto out;
	pc = EVP_PKEY_CTX_new_from_pkey(NULL, s, NULL);
	if (!pc || EVP_PKEY_derive_init(pc) != 1 || EVP_PKEY_derive_set_peer(pc, p) != 1)
		goto out;
	if (EVP_PKEY_derive(pc, out, &len) != 1 || len != HPKE_KEY_LEN ||
	    CRYPTO_memcmp(out, zero, HPKE_KEY_LEN) == 0) {
		rc = TIP_EVERIFY;
		goto out;
	}
	rc = TIP_OK;
out:
	if (rc != TIP_OK)
		OPENSSL_cleanse(out, HPKE_KEY_LEN);
	EVP_PKEY_CTX_free(pc);
	EVP_PKEY_free(p);
	return rc;
}

/* ExtractAndExpand(dh, kem_context) with kem_context = enc || pkR. */
static int extract_and_expand(EVP_MAC_CTX *mc, const uint8_t dh[HPKE_KEY_LEN],
                              const uint8_t enc[HPKE_KEY_LEN], const uint8_t pkR[HPKE_KEY_LEN],
                              uint8_t shared_secret[HPKE_SECRET_LEN])
{
	uint8_t kem_context[2 * HPKE_KEY_LEN], eae_prk[HASH_LEN];
	int rc;

	memcpy(kem_context, enc, HPKE_KEY_LEN);
	memcpy(kem_context + HPKE_KEY_LEN, pkR, HPKE_KEY_LEN);
	rc = labeled_extract(mc, kem_suite, sizeof(kem_suite), NULL, 0, PART_STR("eae_prk"), dh, HPKE_KEY_LEN,
	                     eae_prk);
	if (rc == TIP_OK)
		rc = labeled_expand(mc, kem_suite, sizeof(kem_suite), eae_prk, PART_STR("shared_secret"),
		                    kem_context, sizeof(kem_context), HPKE_SECRET_LEN, shared_secret);
	OPENSSL_cleanse(eae_prk, sizeof(eae_prk));
	return rc;
}

static size_t aead_key_len(enum hpke_aead aead)
{
	switch (aead) {
	case HPKE_AEAD_AES_128_GCM: return 16;
	case HPKE_AEAD_CHACHA20_POLY1305: return 32;
	}
	return 0;
}

/* KeySchedule for mode_base (psk and psk_id empty). */
static int key_schedule(EVP_MAC_CTX *mc, enum hpke_aead aead, enum hpke_role role,
                        const uint8_t shared_secret[HPKE_SECRET_LEN], const uint8_t *info, size_t info_len,
                        struct hpke_ctx *ctx)
{
	const uint8_t suite[10] = {'H',          'P',           'K',
	                           'E',          KEM_ID >> 8,   KEM_ID & 0xff,
	                           KDF_ID >> 8,  KDF_ID & 0xff, (uint8_t)(aead >> 8),
	                           (uint8_t)aead};
	uint8_t ksc[1 + 2 * HASH_LEN], secret[HASH_LEN];
	int rc;

	memset(ctx, 0, sizeof(*ctx));
	ctx->aead = aead;
	ctx->role = role;
	ctx->key_len = aead_key_len(aead);
	ksc[0] = 0x00; /* mode_base */
	rc = labeled_extract(mc, suite, sizeof(suite), NULL, 0, PART_STR("psk_id_hash"), NULL, 0, ksc + 1);
	if (rc == TIP_OK)
		rc = labeled_extract(mc, suite, sizeof(suite), NULL, 0, PART_STR("info_hash"), info, info_len,
		                     ksc + 1 + HASH_LEN);
	if (rc == TIP_OK)
		rc = labeled_extract(mc, suite, sizeof(suite), shared_secret, HPKE_SECRET_LEN,
		                     PART_STR("secret"), NULL, 0, secret);
	if (rc == TIP_OK)
		rc = labeled_expand(mc, suite, sizeof(suite), secret, PART_STR("key"), ksc, sizeof(ksc),
		                    ctx->key_len, ctx->key);
	if (rc == TIP_OK)
		rc = labeled_expand(mc, suite, sizeof(suite), secret, PART_STR("base_nonce"), ksc,
		                    sizeof(ksc), HPKE_NONCE_LEN, ctx->base_nonce);
	if (rc == TIP_OK)
		rc = labeled_expand(mc, suite, sizeof(suite), secret, PART_STR("exp"), ksc, sizeof(ksc),
		                    HPKE_SECRET_LEN, ctx->exporter_secret);
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(ksc, sizeof(ksc));
	return rc;
}

int hpke_setup_base_s_fixed(enum hpke_aead aead, const uint8_t pkR[HPKE_KEY_LEN], const uint8_t *info,
                            size_t info_len, const uint8_t skE[HPKE_KEY_LEN], uint8_t enc[HPKE_KEY_LEN],
                            struct hpke_ctx *ctx)
{
	uint8_t dh[HPKE_KEY_LEN], shared_secret[HPKE_SECRET_LEN];
	EVP_MAC_CTX *mc = NULL;
	EVP_PKEY *e = NULL;
	int rc = TIP_ECRYPTO;

	memset(ctx, 0, sizeof(*ctx));
	if (aead_key_len(aead) == 0)
		return TIP_EINVAL;
	if (!(e = x25519_private(skE, enc)))
		goto out;
	rc = x25519(e, pkR, dh);
	if (rc != TIP_OK)
		goto out;
	rc = TIP_ECRYPTO;
	mc = hmac_new();
	if (!mc)
		goto out;
	rc = extract_and_expand(mc, dh, enc, pkR, shared_secret);
	if (rc == TIP_OK)
		rc = key_schedule(mc, aead, HPKE_ROLE_SENDER, shared_secret, info, info_len, ctx);
out:
	OPENSSL_cleanse(dh, sizeof(dh));
	OPENSSL_cleanse(shared_secret, sizeof(shared_secret));
	EVP_MAC_CTX_free(mc);
	EVP_PKEY_free(e);
	if (rc != TIP_OK)
		hpke_ctx_wipe(ctx);
	return rc;
}

int hpke_setup_base_s(enum hpke_aead aead, const uint8_t pkR[HPKE_KEY_LEN], const uint8_t *info,
                      size_t info_len, uint8_t enc[HPKE_KEY_LEN], struct hpke_ctx *ctx)
{
	uint8_t skE[HPKE_KEY_LEN];
	int rc;

	memset(ctx, 0, sizeof(*ctx));
	if (aead_key_len(aead) == 0)
		return TIP_EINVAL;
	if (RAND_priv_bytes(skE, sizeof(skE)) != 1)
		return TIP_ECRYPTO;
	rc = hpke_setup_base_s_fixed(aead, pkR, info, info_len, skE, enc, ctx);
	OPENSSL_cleanse(skE, sizeof(skE));
	return rc;
}

/*
 * The recipient's key, kept by each thread for the next open: making an X25519 key from its private
 * half computes the public half, a scalar multiplication as costly as the Diffie-Hellman itself, and
 * a recipient opens report after report with one key. The cache is compared in constant time and
 * wiped when its thread ends.
 */
struct recipient {
	uint8_t sk[HPKE_KEY_LEN], pk[HPKE_KEY_LEN];
	EVP_PKEY *key;
};
static pthread_key_t recipient_tls;
static pthread_once_t recipient_once = PTHREAD_ONCE_INIT;

static void recipient_free(void *p)
{
	struct recipient *r = p;

	EVP_PKEY_free(r->key);
	OPENSSL_cleanse(r, sizeof(*r));
	free(r);
}

static void recipient_init(void)
{
	if (pthread_key_create(&recipient_tls, recipient_free) != 0)
		abort(); /* only when the process is out of keys: nothing here can go on */
}

/* The key for skR (and pkR): the thread's cached one, or a new one cached. *owned: the caller frees it. */
static EVP_PKEY *recipient_key(const uint8_t skR[HPKE_KEY_LEN], uint8_t pkR[HPKE_KEY_LEN], int *owned)
{
	struct recipient *r;
	EVP_PKEY *k;

	pthread_once(&recipient_once, recipient_init);
	r = pthread_getspecific(recipient_tls);
	*owned = 0;
	if (r && CRYPTO_memcmp(r->sk, skR, HPKE_KEY_LEN) == 0) {
		memcpy(pkR, r->pk, HPKE_KEY_LEN);
		return r->key;
	}
	if (!(k = x25519_private(skR, pkR)))
		return NULL;
	if (!r && (r = calloc(1, sizeof(*r))) && pthread_setspecific(recipient_tls, r) != 0) {
		free(r);
		r = NULL;
	}
	if (!r) {
		*owned = 1; /* no cache: used once */
		return k;
	}
	EVP_PKEY_free(r->key);
	memcpy(r->sk, skR, HPKE_KEY_LEN);
	memcpy(r->pk, pkR, HPKE_KEY_LEN);
	r->key = k;
	return k;
}

static int decap(EVP_MAC_CTX *mc, const uint8_t enc[HPKE_KEY_LEN], const uint8_t skR[HPKE_KEY_LEN],
                 uint8_t shared_secret[HPKE_SECRET_LEN])
{
	uint8_t dh[HPKE_KEY_LEN], pkR[HPKE_KEY_LEN];
	int owned, rc;
	EVP_PKEY *r = recipient_key(skR, pkR, &owned);

	rc = r ? x25519(r, enc, dh) : TIP_ECRYPTO;
	if (rc == TIP_OK)
		rc = extract_and_expand(mc, dh, enc, pkR, shared_secret);
	OPENSSL_cleanse(dh, sizeof(dh));
	if (owned)
		EVP_PKEY_free(r);
	return rc;
}

int hpke_decap(const uint8_t enc[HPKE_KEY_LEN], const uint8_t skR[HPKE_KEY_LEN],
               uint8_t shared_secret[HPKE_SECRET_LEN])
{
	EVP_MAC_CTX *mc = hmac_new();
	int rc = TIP_ECRYPTO;

	if (mc)
		rc = decap(mc, enc, skR, shared_secret);
	if (rc != TIP_OK)
		OPENSSL_cleanse(shared_secret, HPKE_SECRET_LEN);
	EVP_MAC_CTX_free(mc);
	return rc;
}

int hpke_setup_base_r(enum hpke_aead aead, const uint8_t enc[HPKE_KEY_LEN], const uint8_t skR[HPKE_KEY_LEN],
                      const uint8_t *info, size_t info_len, struct hpke_ctx *ctx)
{
	uint8_t shared_secret[HPKE_SECRET_LEN];
	EVP_MAC_CTX *mc = NULL;
	int rc = TIP_ECRYPTO;

	memset(ctx, 0, sizeof(*ctx));
	if (aead_key_len(aead) == 0)
		return TIP_EINVAL;
	mc = hmac_new();
	if (!mc)
		goto out;
	rc = decap(mc, enc, skR, shared_secret);
	if (rc == TIP_OK)
		rc = key_schedule(mc, aead, HPKE_ROLE_RECIPIENT, shared_secret, info, info_len, ctx);
out:
	OPENSSL_cleanse(shared_secret, sizeof(shared_secret));
	EVP_MAC_CTX_free(mc);
	if (rc != TIP_OK)
		hpke_ctx_wipe(ctx);
	return rc;
}

/* nonce = base_nonce XOR I2OSP(seq, Nn); seq fills only the low 8 of the 12 bytes. */
static void compute_nonce(const struct hpke_ctx *ctx, uint8_t nonce[HPKE_NONCE_LEN])
{
	memcpy(nonce, ctx->base_nonce, HPKE_NONCE_LEN);
	for (int i = 0; i < 8; i++)
		nonce[HPKE_NONCE_LEN - 1 - i] ^= (uint8_t)(ctx->seq >> (8 * i));
}

static const EVP_CIPHER *cipher_of(enum hpke_aead aead)
{
	pthread_once(&fetch_once, fetch_algorithms);
	return aead == HPKE_AEAD_AES_128_GCM ? aes_alg : chacha_alg;
}

/*
 * The RFC's limit is seq < 2^96 - 1; seq is a uint64_t here, so its last value is
 * reserved instead. Either limit is far beyond any real use of one context.
 */
static int check_ctx(const struct hpke_ctx *ctx, enum hpke_role role)
{
	if (ctx->role != role || aead_key_len(ctx->aead) == 0 || ctx->key_len != aead_key_len(ctx->aead))
		return TIP_EINVAL;
	if (ctx->seq == UINT64_MAX)
		return TIP_EFULL;
	return TIP_OK;
}

int hpke_seal(struct hpke_ctx *ctx, const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t pt_len,
              uint8_t *ct)
{
	uint8_t nonce[HPKE_NONCE_LEN];
	const EVP_CIPHER *cipher = NULL;
	EVP_CIPHER_CTX *c = NULL;
	int n, rc = check_ctx(ctx, HPKE_ROLE_SENDER);

	if (rc != TIP_OK)
		return rc;
	if (aad_len > INT_MAX || pt_len > INT_MAX - HPKE_TAG_LEN)
		return TIP_EOVERSIZE;
	rc = TIP_ECRYPTO;
	compute_nonce(ctx, nonce);
	cipher = cipher_of(ctx->aead);
	c = EVP_CIPHER_CTX_new();
	if (!cipher || !c || EVP_EncryptInit_ex2(c, cipher, ctx->key, nonce, NULL) != 1)
		goto out;
	if (aad_len && EVP_EncryptUpdate(c, NULL, &n, aad, (int)aad_len) != 1)
		goto out;
	if (pt_len && (EVP_EncryptUpdate(c, ct, &n, pt, (int)pt_len) != 1 || (size_t)n != pt_len))
		goto out;
	if (EVP_EncryptFinal_ex(c, ct + pt_len, &n) != 1 || n != 0)
		goto out;
	if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, HPKE_TAG_LEN, ct + pt_len) != 1)
		goto out;
	ctx->seq++;
	rc = TIP_OK;
out:
	if (rc != TIP_OK)
		OPENSSL_cleanse(ct, pt_len + HPKE_TAG_LEN);
	OPENSSL_cleanse(nonce, sizeof(nonce));
	EVP_CIPHER_CTX_free(c);
	return rc;
}

int hpke_open(struct hpke_ctx *ctx, const uint8_t *aad, size_t aad_len, const uint8_t *ct, size_t ct_len,
              uint8_t *pt)
{
	uint8_t nonce[HPKE_NONCE_LEN], tag[HPKE_TAG_LEN], tail[HPKE_TAG_LEN];
	const EVP_CIPHER *cipher = NULL;
	EVP_CIPHER_CTX *c = NULL;
	size_t pt_len;
	int n, rc = check_ctx(ctx, HPKE_ROLE_RECIPIENT);

	if (rc != TIP_OK)
		return rc;
	if (ct_len < HPKE_TAG_LEN)
		return TIP_ETRUNCATED;
	if (aad_len > INT_MAX || ct_len > INT_MAX)
		return TIP_EOVERSIZE;
	pt_len = ct_len - HPKE_TAG_LEN;
	memcpy(tag, ct + pt_len, HPKE_TAG_LEN); /* before pt may overwrite ct in place */
	rc = TIP_ECRYPTO;
	compute_nonce(ctx, nonce);
	cipher = cipher_of(ctx->aead);
	c = EVP_CIPHER_CTX_new();
	if (!cipher || !c || EVP_DecryptInit_ex2(c, cipher, ctx->key, nonce, NULL) != 1)
		goto out;
	if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, HPKE_TAG_LEN, tag) != 1)
		goto out;
	if (aad_len && EVP_DecryptUpdate(c, NULL, &n, aad, (int)aad_len) != 1)
		goto out;
	/* pt may be NULL when there is no plaintext; an AEAD emits nothing at Final. */
	if (pt_len && (EVP_DecryptUpdate(c, pt, &n, ct, (int)pt_len) != 1 || (size_t)n != pt_len))
		goto out;
	if (EVP_DecryptFinal_ex(c, tail, &n) != 1 || n != 0) {
		rc = TIP_EVERIFY;
		goto out;
	}
	ctx->seq++;
	rc = TIP_OK;
out:
	if (rc != TIP_OK && pt_len)
		OPENSSL_cleanse(pt, pt_len);
	OPENSSL_cleanse(nonce, sizeof(nonce));
	EVP_CIPHER_CTX_free(c);
	return rc;
}

int hpke_export(const struct hpke_ctx *ctx, const uint8_t *exporter_context, size_t ctx_len, size_t L,
                uint8_t *out)
{
	const uint8_t suite[10] = {'H',
	                           'P',
	                           'K',
	                           'E',
	                           KEM_ID >> 8,
	                           KEM_ID & 0xff,
	                           KDF_ID >> 8,
	                           KDF_ID & 0xff,
	                           (uint8_t)(ctx->aead >> 8),
	                           (uint8_t)ctx->aead};
	EVP_MAC_CTX *mc;
	int rc;

	if (L > HPKE_EXPORT_MAX || aead_key_len(ctx->aead) == 0)
		return TIP_EINVAL;
	if (L == 0)
		return TIP_OK;
	mc = hmac_new();
	if (!mc)
		return TIP_ECRYPTO;
	rc = labeled_expand(mc, suite, sizeof(suite), ctx->exporter_secret, PART_STR("sec"), exporter_context,
	                    ctx_len, L, out);
	EVP_MAC_CTX_free(mc);
	return rc;
}

void hpke_ctx_wipe(struct hpke_ctx *ctx)
{
	if (ctx)
		OPENSSL_cleanse(ctx, sizeof(*ctx));
}
