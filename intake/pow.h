/*
 * Proof of work for the public API: stateless, HMAC-authenticated, single-use
 * challenges (docs/internals/intake-pow.md describes every byte).
 *
 * A challenge is 56 characters of URL-safe base64 without padding (RFC 4648
 * section 5) over 42 bytes: version 1, bits, expiry (u64 Unix seconds, big
 * endian), a 16-byte random id, and the first 16 bytes of HMAC-SHA256 over the
 * preceding 26 bytes under the server key. The server keeps nothing per
 * challenge it issues. A client answers with the header value
 * "<challenge>:<nonce>", nonce 1 to 20 ASCII decimal digits, such that
 * SHA-256 of exactly those header bytes begins with at least `bits` zero bits.
 *
 * Redeemed ids are kept in a fixed-capacity set until their challenge
 * expires, so a solution is accepted once. The set never forgets an unexpired
 * id: when it is full of them, pow_redeem fails with TIP_EFULL. The set lives
 * in memory only: with a key from config, a restarted process, or another node
 * given the same key, can accept a solution once more within its ttl. Keep the
 * ttl short, and give each node its own key (or a random one).
 *
 * Time: every call takes the caller's `now` (Unix seconds) but a pow never goes
 * back in time: it uses the latest `now` it has been given, so a clock stepped
 * backwards cannot revive a challenge whose id has already been forgotten.
 *
 * Threads: a struct pow is not locked; use it from one thread (the HTTP event
 * loop). pow_solve has no shared state.
 *
 * Cost and the default (docs/internals/intake-pow.md has the full table).
 * Measured with tests/bench/bench_pow.c on the 2-core AMD EPYC build machine
 * (OpenSSL 3.0 with SHA extensions, other jobs running): pow_solve makes 6.1 to
 * 7.0 million hashes a second, so the expected solve takes about 10 ms at 16
 * bits, 40 ms at 18 and 160 ms at 20; medians over 41 to 101 runs were 7-9 ms,
 * 21-30 ms and 70-130 ms (solve times are geometric: the median is 0.69 times
 * the mean, one solve in twenty takes three times the mean).
 *
 * The assumption suggested for the default, a mid-range phone ten times slower
 * than this machine (0.64 M hashes/s), would give 20 bits (1.6 s on average).
 * Measured on this same machine, JavaScript is already that slow: a plain-JS
 * SHA-256 loop in Node 20 made 0.6 M hashes/s, and one WebCrypto
 * crypto.subtle.digest call per nonce 25 k/s awaited one by one, 130 k/s in
 * batches of 64. Assuming instead that a mid-range phone runs the plain-JS
 * loop three times slower than this machine (0.2 M hashes/s, an assumption,
 * not a phone measurement), POW_DEFAULT_BITS = 18 costs it 1.3 s on average
 * (median 0.9 s, 1 in 20 over 3.9 s); 20 bits would cost 5 s. The web page
 * must therefore hash in plain JS or WebAssembly in a Web Worker; with one
 * WebCrypto call per nonce, use 15 or 16. Measure on a real phone before launch.
 */
#ifndef TIP_INTAKE_POW_H
#define TIP_INTAKE_POW_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define POW_VERSION       1
#define POW_KEY_LEN       32
#define POW_ID_LEN        16
#define POW_MAC_LEN       16
#define POW_RAW_LEN       (2 + 8 + POW_ID_LEN + POW_MAC_LEN) /* 42 bytes */
#define POW_CHALLENGE_LEN (POW_RAW_LEN / 3 * 4)              /* 56 characters */
#define POW_NONCE_MAX     20
#define POW_HEADER_MAX    (POW_CHALLENGE_LEN + 1 + POW_NONCE_MAX) /* 77 bytes */
#define POW_BITS_MAX      32
#define POW_TTL_MAX       86400
#define POW_SPENT_MAX     ((size_t)1 << 24)
#define POW_DEFAULT_BITS  18

struct pow;

/*
 * A challenge issuer and verifier. bits: 0 (no work, but challenges are still
 * MAC-checked and single-use) to POW_BITS_MAX; ttl_seconds: 1 to POW_TTL_MAX;
 * spent_capacity: how many redeemed, unexpired ids can be held (1 to
 * POW_SPENT_MAX; the table takes 48 to 96 bytes per id). key: POW_KEY_LEN bytes
 * (copied), or NULL for a fresh random key, which makes every challenge issued
 * before a restart invalid. NULL on a bad argument or allocation failure.
 */
struct pow *pow_new(unsigned bits, unsigned ttl_seconds, size_t spent_capacity, const uint8_t key[32]);
/* Wipes the key and frees. NULL is a no-op. */
void pow_free(struct pow *p);

/*
 * Writes a NUL-terminated challenge (POW_CHALLENGE_LEN characters; cap must be
 * more than that) and sets *expires to its expiry in Unix seconds (now + ttl).
 * TIP_OK, TIP_EINVAL (now < 0), TIP_EOVERSIZE (cap too small) or TIP_ECRYPTO.
 */
int pow_issue(struct pow *p, time_t now, char *out, size_t cap, time_t *expires);
unsigned pow_bits(const struct pow *p);

/*
 * Checks a solution header value (exactly, no surrounding whitespace) in this
 * order, answering with the first failure:
 *   TIP_EDECODE  not "<56 base64url characters>:<1-20 digits>", or version != 1;
 *   TIP_EVERIFY  the MAC does not verify (not ours, or altered);
 *   TIP_ERANGE   the challenge has expired (now >= expiry);
 *   TIP_EVERIFY  SHA-256 of the header has fewer leading zero bits than the
 *                challenge asks for;
 *   TIP_EBUSY    the challenge was already redeemed;
 *   TIP_EFULL    the spent set is full of unexpired ids (nothing is recorded;
 *                the same solution may be retried later).
 * On TIP_OK the challenge's id is recorded as spent until its expiry.
 */
int pow_redeem(struct pow *p, const char *header, size_t len, time_t now);

/*
 * Brute force for tests and the benchmark client: the first decimal nonce
 * (counting from 0) such that SHA-256(challenge ":" nonce) has `bits` leading
 * zero bits, written NUL-terminated into nonce_out. TIP_OK; TIP_EINVAL (bits >
 * POW_BITS_MAX, or a challenge longer than POW_CHALLENGE_LEN or containing ':');
 * TIP_EOVERSIZE (cap too small for the nonce found); TIP_ENOTFOUND (no 20-digit
 * nonce works); TIP_ECRYPTO.
 */
int pow_solve(const char *challenge, unsigned bits, char *nonce_out, size_t cap);

/* Ids held in the spent set, including expired ones not yet reclaimed (a gauge for /metrics). */
size_t pow_spent(const struct pow *p);

#endif
