#include "intake/pow.h"

#include "common/bytes.h"
#include "common/encoding.h"
#include "common/err.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#define OFF_VERSION 0
#define OFF_BITS    1
#define OFF_EXPIRY  2
#define OFF_ID      10
#define OFF_MAC     (OFF_ID + POW_ID_LEN)
#define HASH_LEN    32

/* One redeemed id. expires == 0 marks an empty slot: a real expiry is always >= ttl >= 1. */
struct spent {
	uint8_t id[POW_ID_LEN];
	uint64_t expires;
};

struct pow {
	unsigned bits, ttl;
	uint8_t key[POW_KEY_LEN];
	EVP_MAC_CTX *mac; /* keyed once, re-initialised per use */
	EVP_MD *sha256;
	EVP_MD_CTX *md;
	uint64_t now; /* the latest time seen */
	/*
	 * The spent set: linear probing over a power-of-two table at most half
	 * full, so probes stay short and an empty slot always exists.
	 */
	struct spent *slots;
	size_t mask, count, capacity;
	/* No held id expires before this; until then a full set cannot be swept free. */
	uint64_t oldest;
};

/* POW_RAW_LEN is a multiple of 3, so the encoding has no partial group and no padding question. */
/* A challenge is its 42 raw bytes in unpadded URL-safe base64: exactly 56 characters. */
static void encode_challenge(const uint8_t raw[POW_RAW_LEN], char out[POW_CHALLENGE_LEN + 1])
{
	b64url_encode(raw, POW_RAW_LEN, out, POW_CHALLENGE_LEN + 1);
}

static int decode_challenge(const char *s, uint8_t raw[POW_RAW_LEN])
{
	size_t n;

	if (b64url_decode(s, POW_CHALLENGE_LEN, raw, POW_RAW_LEN, &n) != TIP_OK || n != POW_RAW_LEN)
		return TIP_EDECODE;
	return TIP_OK;
}

static int challenge_mac(struct pow *p, const uint8_t raw[POW_RAW_LEN], uint8_t mac[HASH_LEN])
{
	size_t n = 0;

	if (EVP_MAC_init(p->mac, NULL, 0, NULL) != 1 || EVP_MAC_update(p->mac, raw, OFF_MAC) != 1 ||
	    EVP_MAC_final(p->mac, mac, &n, HASH_LEN) != 1 || n != HASH_LEN)
		return TIP_ECRYPTO;
	return TIP_OK;
}

static unsigned leading_zero_bits(const uint8_t h[HASH_LEN])
{
	unsigned n = 0;

	for (size_t i = 0; i < HASH_LEN; i++) {
		if (h[i] == 0) {
			n += 8;
			continue;
		}
		for (uint8_t b = h[i]; !(b & 0x80); b = (uint8_t)(b << 1))
			n++;
		break;
	}
	return n;
}

static int sha256(EVP_MD_CTX *md, const EVP_MD *alg, const void *msg, size_t len, uint8_t out[HASH_LEN])
{
	unsigned int n = 0;

	if (EVP_DigestInit_ex2(md, alg, NULL) != 1 || EVP_DigestUpdate(md, msg, len) != 1 ||
	    EVP_DigestFinal_ex(md, out, &n) != 1 || n != HASH_LEN)
		return TIP_ECRYPTO;
	return TIP_OK;
}

/* The id is random and MAC-protected, so its first bytes are already a good hash. */
static size_t slot_of(const struct pow *p, const uint8_t id[POW_ID_LEN])
{
	return (size_t)get64(id) & p->mask;
}

/* Backward-shift deletion: later members of the probe run move up so no lookup ever stops early. */
static void slot_delete(struct pow *p, size_t hole)
{
	size_t j = hole;

	for (;;) {
		j = (j + 1) & p->mask;
		if (p->slots[j].expires == 0)
			break;
		size_t home = slot_of(p, p->slots[j].id);

		if (((j - home) & p->mask) >= ((j - hole) & p->mask)) {
			p->slots[hole] = p->slots[j];
			hole = j;
		}
	}
	memset(&p->slots[hole], 0, sizeof(p->slots[hole]));
	p->count--;
}

/*
 * Drops every expired id. Starting just after an empty slot means each probe
 * run is walked from its beginning, so entries shifted by a deletion land on
 * the slot being examined and are looked at exactly once.
 */
static void sweep(struct pow *p)
{
	size_t start = 0, size = p->mask + 1;
	uint64_t oldest = UINT64_MAX;

	while (p->slots[start].expires != 0)
		start++;
	for (size_t k = 1; k <= size; k++) {
		size_t i = (start + k) & p->mask;

		while (p->slots[i].expires != 0 && p->slots[i].expires <= p->now)
			slot_delete(p, i);
		if (p->slots[i].expires != 0 && p->slots[i].expires < oldest)
			oldest = p->slots[i].expires;
	}
	p->oldest = oldest;
}

static int spend(struct pow *p, const uint8_t id[POW_ID_LEN], uint64_t expires)
{
	size_t i = slot_of(p, id);

	for (; p->slots[i].expires != 0; i = (i + 1) & p->mask)
		if (memcmp(p->slots[i].id, id, POW_ID_LEN) == 0)
			return TIP_EBUSY;
	if (p->count == p->capacity) {
		/* Sweeping is O(table), so only when something can have expired since the last one. */
		if (p->now < p->oldest)
			return TIP_EFULL;
		sweep(p);
		if (p->count == p->capacity)
			return TIP_EFULL;
		for (i = slot_of(p, id); p->slots[i].expires != 0; i = (i + 1) & p->mask)
			;
	}
	memcpy(p->slots[i].id, id, POW_ID_LEN);
	p->slots[i].expires = expires;
	p->count++;
	if (expires < p->oldest)
		p->oldest = expires;
	return TIP_OK;
}

static void advance_clock(struct pow *p, time_t now)
{
	if (now > 0 && (uint64_t)now > p->now)
		p->now = (uint64_t)now;
}

struct pow *pow_new(unsigned bits, unsigned ttl_seconds, size_t spent_capacity, const uint8_t key[32])
{
	OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
	                       OSSL_PARAM_construct_end()};
	struct pow *p = NULL;
	EVP_MAC *alg = NULL;
	size_t size = 2;

	if (bits > POW_BITS_MAX || ttl_seconds == 0 || ttl_seconds > POW_TTL_MAX || spent_capacity == 0 ||
	    spent_capacity > POW_SPENT_MAX)
		return NULL;
	if (!(p = calloc(1, sizeof(*p))))
		return NULL;
	p->bits = bits;
	p->ttl = ttl_seconds;
	p->capacity = spent_capacity;
	p->oldest = UINT64_MAX;
	while (size < 2 * spent_capacity)
		size *= 2;
	p->mask = size - 1;
	if (!(p->slots = calloc(size, sizeof(*p->slots))))
		goto fail;
	if (key)
		memcpy(p->key, key, POW_KEY_LEN);
	else if (RAND_bytes(p->key, POW_KEY_LEN) != 1)
		goto fail;
	if (!(alg = EVP_MAC_fetch(NULL, "HMAC", NULL)) || !(p->mac = EVP_MAC_CTX_new(alg)) ||
	    EVP_MAC_init(p->mac, p->key, POW_KEY_LEN, params) != 1)
		goto fail;
	if (!(p->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) || !(p->md = EVP_MD_CTX_new()))
		goto fail;
	EVP_MAC_free(alg);
	return p;
fail:
	EVP_MAC_free(alg);
	pow_free(p);
	return NULL;
}

void pow_free(struct pow *p)
{
	if (!p)
		return;
	OPENSSL_cleanse(p->key, sizeof(p->key));
	EVP_MAC_CTX_free(p->mac);
	EVP_MD_CTX_free(p->md);
	EVP_MD_free(p->sha256);
	free(p->slots);
	free(p);
}

unsigned pow_bits(const struct pow *p)
{
	return p->bits;
}

size_t pow_spent(const struct pow *p)
{
	return p->count;
}

int pow_issue(struct pow *p, time_t now, char *out, size_t cap, time_t *expires)
{
	uint8_t raw[POW_RAW_LEN], mac[HASH_LEN];
	uint64_t expiry;
	int rc;

	if (now < 0)
		return TIP_EINVAL;
	if (cap < POW_CHALLENGE_LEN + 1)
		return TIP_EOVERSIZE;
	advance_clock(p, now);
	expiry = p->now + p->ttl;
	raw[OFF_VERSION] = POW_VERSION;
	raw[OFF_BITS] = (uint8_t)p->bits;
	put64(raw + OFF_EXPIRY, expiry);
	if (RAND_bytes(raw + OFF_ID, POW_ID_LEN) != 1)
		return TIP_ECRYPTO;
	if ((rc = challenge_mac(p, raw, mac)) != TIP_OK)
		return rc;
	memcpy(raw + OFF_MAC, mac, POW_MAC_LEN);
	encode_challenge(raw, out);
	*expires = (time_t)expiry;
	return TIP_OK;
}

int pow_redeem(struct pow *p, const char *header, size_t len, time_t now)
{
	uint8_t raw[POW_RAW_LEN], mac[HASH_LEN], h[HASH_LEN];
	uint64_t expiry;
	int rc;

	advance_clock(p, now);
	if (len < POW_CHALLENGE_LEN + 2 || len > POW_HEADER_MAX || header[POW_CHALLENGE_LEN] != ':')
		return TIP_EDECODE;
	for (size_t i = POW_CHALLENGE_LEN + 1; i < len; i++)
		if (header[i] < '0' || header[i] > '9')
			return TIP_EDECODE;
	if (decode_challenge(header, raw) != TIP_OK || raw[OFF_VERSION] != POW_VERSION)
		return TIP_EDECODE;
	if ((rc = challenge_mac(p, raw, mac)) != TIP_OK)
		return rc;
	if (CRYPTO_memcmp(mac, raw + OFF_MAC, POW_MAC_LEN) != 0)
		return TIP_EVERIFY;
	expiry = get64(raw + OFF_EXPIRY);
	if (p->now >= expiry)
		return TIP_ERANGE;
	if ((rc = sha256(p->md, p->sha256, header, len, h)) != TIP_OK)
		return rc;
	if (leading_zero_bits(h) < raw[OFF_BITS])
		return TIP_EVERIFY;
	return spend(p, raw + OFF_ID, expiry);
}

/* Adds one to a decimal string in place; 0 when it would need more than POW_NONCE_MAX digits. */
static size_t nonce_next(char *d, size_t n)
{
	size_t i = n;

	while (i > 0) {
		if (d[i - 1] != '9') {
			d[i - 1]++;
			return n;
		}
		d[--i] = '0';
	}
	if (n == POW_NONCE_MAX)
		return 0;
	memmove(d + 1, d, n);
	d[0] = '1';
	return n + 1;
}

int pow_solve(const char *challenge, unsigned bits, char *nonce_out, size_t cap)
{
	char msg[POW_CHALLENGE_LEN + 1 + POW_NONCE_MAX];
	size_t clen, n = 1;
	uint8_t h[HASH_LEN];
	EVP_MD *alg = NULL;
	EVP_MD_CTX *md = NULL;
	int rc = TIP_ECRYPTO;

	clen = strnlen(challenge, POW_CHALLENGE_LEN + 1);
	if (bits > POW_BITS_MAX || clen > POW_CHALLENGE_LEN || memchr(challenge, ':', clen))
		return TIP_EINVAL;
	memcpy(msg, challenge, clen);
	msg[clen] = ':';
	msg[clen + 1] = '0';
	if (!(alg = EVP_MD_fetch(NULL, "SHA256", NULL)) || !(md = EVP_MD_CTX_new()))
		goto out;
	for (;;) {
		if ((rc = sha256(md, alg, msg, clen + 1 + n, h)) != TIP_OK)
			goto out;
		if (leading_zero_bits(h) >= bits)
			break;
		if (!(n = nonce_next(msg + clen + 1, n))) {
			rc = TIP_ENOTFOUND;
			goto out;
		}
	}
	if (cap < n + 1) {
		rc = TIP_EOVERSIZE;
		goto out;
	}
	memcpy(nonce_out, msg + clen + 1, n);
	nonce_out[n] = '\0';
	rc = TIP_OK;
out:
	EVP_MD_CTX_free(md);
	EVP_MD_free(alg);
	return rc;
}
