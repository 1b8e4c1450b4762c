/*
 * Per-client rate limiting for the public API: one token bucket per address
 * prefix (IPv4 /24 and IPv6 /48 by default), so that one household, office or
 * customer network shares a budget and hopping between addresses inside it
 * gains nothing.
 *
 * No address is ever stored. A bucket is found by the first 8 bytes of
 * HMAC-SHA256 under a key drawn at rl_new (never written anywhere) over a
 * family byte (4 or 6) and the address with every bit past the prefix cleared.
 * IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) count as the IPv4 address they
 * carry. Any other address family (a Unix socket) shares one bucket.
 *
 * The table holds at most `capacity` buckets. When a new prefix arrives and it
 * is full, the bucket seen least recently (allowed or refused) is dropped. A
 * dropped bucket comes back full, so a client able to cycle through more
 * prefixes than the capacity within one refill period (easy with an IPv6 /32)
 * gets a fresh burst each time: size the capacity well above the number of
 * prefixes expected per refill period, and rely on the proof of work for the
 * rest. Eviction never makes anyone wait longer than their own bucket says.
 *
 * Behind a reverse proxy every request comes from the proxy's address: the
 * caller must pass the client address the proxy reports instead.
 *
 * Threads: a struct rl is not locked; use it from one thread (the HTTP event loop).
 */
#ifndef TIP_INTAKE_RATELIMIT_H
#define TIP_INTAKE_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#define RL_CAPACITY_MAX ((size_t)1 << 24)
/* The slowest allowed refill, one token a day, bounds a Retry-After to a day. */
#define RL_RATE_MIN  (1.0 / 86400)
#define RL_RATE_MAX  1e6
#define RL_BURST_MAX 1e6

struct rl;

/*
 * per_second: tokens added per second (RL_RATE_MIN to RL_RATE_MAX); burst: bucket
 * size and the tokens a new client starts with (1 to RL_BURST_MAX); capacity:
 * buckets held (1 to RL_CAPACITY_MAX; 40 to 48 bytes each); prefixes:
 * v4_prefix 0 to 32, v6_prefix 0 to 128 bits. NULL on a bad argument or when
 * memory or the CSPRNG fails.
 */
struct rl *rl_new(double per_second, double burst, size_t capacity, unsigned v4_prefix, unsigned v6_prefix);
/* Frees (the key lives only inside the MAC context, which OpenSSL wipes). NULL is a no-op. */
void rl_free(struct rl *r);

/*
 * One request from addr at now_ms (a monotonic clock in milliseconds; a time
 * earlier than one already seen counts as no time passing). 0 when allowed (a
 * token is taken); otherwise the whole seconds, at least 1, after which the
 * next request will be allowed if none is made meanwhile: the Retry-After
 * value. A refused request takes no token. addr may be NULL (one shared
 * bucket, like any unknown family).
 */
unsigned rl_check(struct rl *r, const struct sockaddr *addr, uint64_t now_ms);

/* Buckets currently held (a gauge for /metrics). */
size_t rl_count(const struct rl *r);

#endif
