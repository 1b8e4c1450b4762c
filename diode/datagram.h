/*
 * Diode datagrams: the fixed-size unit on the one-way link. Every datagram of a link has the same
 * configured size D: a 32-byte header, D - 52 payload bytes and a 20-byte trailer (CRC32C, then
 * the first 16 bytes of HMAC-SHA256 under the link key). Byte layout: docs/formats/diode.md.
 *
 * dg_open() checks, in this order and before looking at anything else: the length, the magic,
 * the version, the CRC and the HMAC. Only an authenticated header is decoded and range-checked.
 * Each failure has its own return code, and dg_reason() names it for metrics.
 *
 * Threads: a struct dg_key is immutable after dg_key_new(); any number of threads may seal and
 * open with the same key at once. Sealing and opening allocate nothing.
 */
#ifndef TIP_DIODE_DATAGRAM_H
#define TIP_DIODE_DATAGRAM_H

#include <stddef.h>
#include <stdint.h>

#define DG_HEADER_LEN  32
#define DG_CRC_LEN     4
#define DG_MAC_LEN     16
#define DG_TRAILER_LEN (DG_CRC_LEN + DG_MAC_LEN)
#define DG_OVERHEAD    (DG_HEADER_LEN + DG_TRAILER_LEN)
#define DG_VERSION     1
#define DG_KEY_LEN     32

/* 1452 bytes of UDP payload fit a 1500-byte MTU under IPv6 (40 + 8 bytes of headers) and IPv4. */
#define DG_SIZE_DEFAULT 1452
/* The smallest size leaves room for a heartbeat entry with the longest origin name. */
#define DG_SIZE_MIN 256
/* The largest UDP payload IPv4 can carry. */
#define DG_SIZE_MAX 65507

/* Highest k + m of one block: symbol indexes are 0..k+m-1 and GF(2^8) has 255 non-zero elements. */
#define DG_N_MAX 255

enum dg_type { DG_SYMBOL = 1, DG_HEARTBEAT = 2 };

/*
 * The header fields a sender chooses. Magic, version and the reserved field are implicit.
 * SYMBOL: k >= 1, k + m <= 255, index < k + m, block = block number in the session.
 * HEARTBEAT: k = m = 0, index = 0, block = heartbeat number in the session.
 * Both: symbol_size = D - 52 (the payload length).
 */
struct dg_header {
	enum dg_type type;
	uint32_t session; /* random per sender start */
	uint64_t block;
	uint32_t packet;  /* datagram number in the session, wrapping; for loss statistics */
	uint32_t sent_at; /* sender's monotonic clock in milliseconds, wrapping; for diagnostics */
	uint16_t index;
	uint8_t k, m;
	uint16_t symbol_size;
};

struct dg_key;

/* A key context from the 32 secret bytes of a KEY_LINK key. NULL on allocation failure. */
struct dg_key *dg_key_new(const uint8_t secret[DG_KEY_LEN]);
/* Wipes and frees; NULL is safe. */
void dg_key_free(struct dg_key *key);

/* 1 if D is an allowed datagram size (DG_SIZE_MIN..DG_SIZE_MAX). */
int dg_size_ok(size_t size);

/*
 * Writes a whole datagram of `size` bytes to out: header h, the len payload bytes followed by
 * zeros up to D - 52, CRC and MAC. A SYMBOL's payload must be exactly D - 52 bytes. payload may
 * be out + DG_HEADER_LEN (the payload already in place: nothing is copied); any other overlap is
 * not allowed. Returns TIP_OK, or TIP_EINVAL for a bad size, a header that breaks the rules above,
 * or a payload that does not fit.
 */
int dg_seal(const struct dg_key *key, const struct dg_header *h, const uint8_t *payload, size_t len,
            uint8_t *out, size_t size);

/*
 * Checks and decodes the datagram in[0..len) of a link whose datagrams are `size` bytes. On
 * TIP_OK, *h holds the header and *payload points at the D - 52 payload bytes inside in.
 * Errors, in the order they are checked:
 *   TIP_ETRUNCATED  len < size
 *   TIP_EOVERSIZE   len > size
 *   TIP_EFORMAT     the magic is not "TD"
 *   TIP_EVERSION    the version is not 1
 *   TIP_ECORRUPT    the CRC32C does not match
 *   TIP_EVERIFY     the MAC does not match (compared in constant time)
 *   TIP_ERANGE      authenticated, but the type, geometry or reserved field breaks the rules
 * TIP_EINVAL if size itself is not allowed. *h and *payload are only written on TIP_OK.
 */
int dg_open(const struct dg_key *key, const uint8_t *in, size_t len, size_t size, struct dg_header *h,
            const uint8_t **payload);

/* A short stable name for a dg_open() result, for metric labels: "ok", "short", "long", "magic",
 * "version", "crc", "mac", "header", "invalid". */
const char *dg_reason(int rc);

#endif
