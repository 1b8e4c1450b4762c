#include "intake/ratelimit.h"

#include "common/err.h"

#include <netinet/in.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#define KEY_LEN 32
#define NIL     UINT32_MAX
/*
 * Slack for floating-point rounding: a computed wait of 90.00000000000001 s is
 * 90 s, and a bucket at 0.9999999999 tokens after that wait is full enough.
 * The second must exceed the first times any rate whose wait can exceed 1 s
 * (rates up to 1/s), so waiting exactly the Retry-After always suffices.
 */
#define WAIT_EPSILON  1e-9
#define TOKEN_EPSILON 1e-6

struct bucket {
	uint64_t key;
	double tokens;
	uint64_t last_ms;
	uint32_t newer, older; /* the recency list, most recent at rl.newest */
};

struct rl {
	double rate, burst;
	unsigned v4_prefix, v6_prefix;
	EVP_MAC_CTX *mac; /* keyed once, re-initialised per use */
	struct bucket *buckets;
	size_t capacity, used;
	/*
	 * Open addressing (linear probing) from key to bucket number + 1, 0 for an
	 * empty slot; a power of two at least twice the capacity, so probes stay
	 * short and an empty slot always exists.
	 */
	uint32_t *index;
	size_t mask;
	uint32_t newest, oldest;
};

static size_t home_of(const struct rl *r, uint64_t key)
{
	/* Keys are HMAC output under a secret key: their low bits cannot be steered by clients. */
	return (size_t)key & r->mask;
}

/* Backward-shift deletion keeps every probe run unbroken without tombstones. */
static void index_delete(struct rl *r, size_t hole)
{
	size_t j = hole;

	for (;;) {
		j = (j + 1) & r->mask;
		if (r->index[j] == 0)
			break;
		size_t home = home_of(r, r->buckets[r->index[j] - 1].key);

		if (((j - home) & r->mask) >= ((j - hole) & r->mask)) {
			r->index[hole] = r->index[j];
			hole = j;
		}
	}
	r->index[hole] = 0;
}

static void list_unlink(struct rl *r, uint32_t i)
{
	struct bucket *b = &r->buckets[i];

	if (b->newer != NIL)
		r->buckets[b->newer].older = b->older;
	else
		r->newest = b->older;
	if (b->older != NIL)
		r->buckets[b->older].newer = b->newer;
	else
		r->oldest = b->newer;
	b->newer = b->older = NIL;
}

static void list_push_newest(struct rl *r, uint32_t i)
{
	struct bucket *b = &r->buckets[i];

	b->newer = NIL;
	b->older = r->newest;
	if (r->newest != NIL)
		r->buckets[r->newest].newer = i;
	r->newest = i;
	if (r->oldest == NIL)
		r->oldest = i;
}

/*
 * family byte || address with the bits past the prefix cleared. On a MAC
 * failure (memory exhaustion only) every client falls into bucket 0, which
 * limits harder rather than not at all.
 */
static uint64_t prefix_key(struct rl *r, const struct sockaddr *addr)
{
	static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	uint8_t msg[1 + 16] = {0}, mac[32];
	size_t len = 1, bytes = 0, mac_len = 0;
	unsigned prefix = 0;
	uint64_t key = 0;

	if (addr && addr->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)addr;

		msg[0] = 4;
		memcpy(msg + 1, &sin->sin_addr, 4);
		bytes = 4;
		prefix = r->v4_prefix;
	} else if (addr && addr->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)addr;
		const uint8_t *a = sin6->sin6_addr.s6_addr;

		if (memcmp(a, v4_mapped, sizeof(v4_mapped)) == 0) {
			msg[0] = 4;
			memcpy(msg + 1, a + 12, 4);
			bytes = 4;
			prefix = r->v4_prefix;
		} else {
			msg[0] = 6;
			memcpy(msg + 1, a, 16);
			bytes = 16;
			prefix = r->v6_prefix;
		}
	}
	for (size_t i = 0; i < bytes; i++) {
		unsigned bit = (unsigned)i * 8;

		if (bit >= prefix)
			msg[1 + i] = 0;
		else if (prefix - bit < 8)
			msg[1 + i] &= (uint8_t)(0xff << (8 - (prefix - bit)));
	}
	len += bytes;
	if (EVP_MAC_init(r->mac, NULL, 0, NULL) == 1 && EVP_MAC_update(r->mac, msg, len) == 1 &&
	    EVP_MAC_final(r->mac, mac, &mac_len, sizeof(mac)) == 1 && mac_len == sizeof(mac))
		for (size_t i = 0; i < 8; i++)
			key = key << 8 | mac[i];
	OPENSSL_cleanse(msg, sizeof(msg));
	OPENSSL_cleanse(mac, sizeof(mac));
	return key;
}

static uint32_t find_or_add(struct rl *r, uint64_t key, uint64_t now_ms)
{
	size_t s = home_of(r, key);
	uint32_t i;

	for (; r->index[s] != 0; s = (s + 1) & r->mask)
		if (r->buckets[r->index[s] - 1].key == key)
			return r->index[s] - 1;
	if (r->used < r->capacity) {
		i = (uint32_t)r->used++;
	} else {
		i = r->oldest;
		for (s = home_of(r, r->buckets[i].key); r->index[s] != i + 1; s = (s + 1) & r->mask)
			;
		index_delete(r, s);
		list_unlink(r, i);
		/* The deletion may have shifted the run the new key belongs to. */
		for (s = home_of(r, key); r->index[s] != 0; s = (s + 1) & r->mask)
			;
	}
	r->index[s] = i + 1;
	r->buckets[i].key = key;
	r->buckets[i].tokens = r->burst;
	r->buckets[i].last_ms = now_ms;
	list_push_newest(r, i);
	return i;
}

struct rl *rl_new(double per_second, double burst, size_t capacity, unsigned v4_prefix, unsigned v6_prefix)
{
	OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
	                       OSSL_PARAM_construct_end()};
	uint8_t key[KEY_LEN];
	EVP_MAC *alg = NULL;
	struct rl *r = NULL;
	size_t size = 2;
	int ok = 0;

	/* Written so that NaN fails every comparison and is refused. */
	if (!(per_second >= RL_RATE_MIN && per_second <= RL_RATE_MAX) ||
	    !(burst >= 1 && burst <= RL_BURST_MAX) || capacity == 0 || capacity > RL_CAPACITY_MAX ||
	    v4_prefix > 32 || v6_prefix > 128)
		return NULL;
	if (!(r = calloc(1, sizeof(*r))))
		goto out;
	r->rate = per_second;
	r->burst = burst;
	r->capacity = capacity;
	r->v4_prefix = v4_prefix;
	r->v6_prefix = v6_prefix;
	r->newest = r->oldest = NIL;
	while (size < 2 * capacity)
		size *= 2;
	r->mask = size - 1;
	if (!(r->buckets = calloc(capacity, sizeof(*r->buckets))) ||
	    !(r->index = calloc(size, sizeof(*r->index))))
		goto out;
	if (RAND_bytes(key, sizeof(key)) != 1)
		goto out;
	if (!(alg = EVP_MAC_fetch(NULL, "HMAC", NULL)) || !(r->mac = EVP_MAC_CTX_new(alg)) ||
	    EVP_MAC_init(r->mac, key, sizeof(key), params) != 1)
		goto out;
	ok = 1;
out:
	OPENSSL_cleanse(key, sizeof(key));
	EVP_MAC_free(alg);
	if (!ok) {
		rl_free(r);
		r = NULL;
	}
	return r;
}

void rl_free(struct rl *r)
{
	if (!r)
		return;
	EVP_MAC_CTX_free(r->mac);
	free(r->buckets);
	free(r->index);
	free(r);
}

size_t rl_count(const struct rl *r)
{
	return r->used;
}

unsigned rl_check(struct rl *r, const struct sockaddr *addr, uint64_t now_ms)
{
	uint32_t i = find_or_add(r, prefix_key(r, addr), now_ms);
	struct bucket *b = &r->buckets[i];
	double wait;
	unsigned whole;

	if (now_ms > b->last_ms) {
		b->tokens += (double)(now_ms - b->last_ms) / 1000.0 * r->rate;
		if (b->tokens > r->burst)
			b->tokens = r->burst;
		b->last_ms = now_ms;
	}
	if (i != r->newest) {
		list_unlink(r, i);
		list_push_newest(r, i);
	}
	if (b->tokens >= 1 - TOKEN_EPSILON) {
		b->tokens = b->tokens > 1 ? b->tokens - 1 : 0;
		return 0;
	}
	/* At most 1 / RL_RATE_MIN = 86400, so the conversion cannot overflow; rounded up by hand (no libm).
	 */
	wait = (1 - b->tokens) / r->rate - WAIT_EPSILON;
	whole = (unsigned)wait;
	if ((double)whole < wait)
		whole++;
	return whole < 1 ? 1 : whole;
}
