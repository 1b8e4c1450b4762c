/*
 * The byte stream inside FEC blocks: records cut into PIECE frames that never straddle a block,
 * and the heartbeat payload. Byte layout: docs/formats/diode.md.
 *
 * Packer (sender): fills caller-provided block buffers with pieces of records, and zero padding.
 * Reassembler (receiver): takes decoded blocks in any order, some never, and hands out each
 * complete record once; incomplete records are forgotten when the blocks they needed are gone,
 * and pending memory has a hard cap (oldest records dropped first).
 *
 * Each object belongs to one thread. Records of a single piece are delivered straight from the
 * block, without a copy or an allocation; only records spanning blocks allocate (once, their
 * total length, checked against the caps).
 */
#ifndef TIP_DIODE_STREAM_H
#define TIP_DIODE_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "proto/record.h"

#define STREAM_PIECE_HEADER 20
#define STREAM_PIECE_MAX    65535 /* data bytes of one piece (a u16) */
#define STREAM_BLOCK_MIN    (STREAM_PIECE_HEADER + 1)
#define STREAM_BLOCK_MAX    ((size_t)1 << 26)
#define STREAM_RECORD_MAX   UINT32_MAX

enum stream_frame { STREAM_PAD = 0, STREAM_PIECE = 1 };
#define STREAM_FIRST 0x01
#define STREAM_LAST  0x02

/* --- Packer --- */

struct stream_packer;

/* A packer for blocks of block_len bytes (STREAM_BLOCK_MIN..STREAM_BLOCK_MAX); NULL with
 * *err = TIP_EINVAL or TIP_ENOMEM. */
struct stream_packer *stream_packer_new(size_t block_len, int *err);
void stream_packer_free(struct stream_packer *p); /* NULL is safe */

/* Opens an empty block (block_len bytes, owned by the caller) and writes into it as much of the
 * pending record as fits. TIP_EBUSY if a block is already open. */
int stream_packer_begin(struct stream_packer *p, uint8_t *block);

/*
 * Makes rec[0..len) with transfer id tid the pending record and writes as much of it as fits in
 * the open block, if any. The bytes must stay valid and unchanged until stream_packer_pending()
 * returns 0. Returns TIP_OK, TIP_EBUSY (the previous record is still pending) or TIP_EOVERSIZE
 * (len > STREAM_RECORD_MAX).
 */
int stream_packer_put(struct stream_packer *p, uint64_t tid, const uint8_t *rec, size_t len);

/* 1 while part of the last put record waits for a block. */
int stream_packer_pending(const struct stream_packer *p);
/* 1 if a block is open. */
int stream_packer_is_open(const struct stream_packer *p);
/* 1 if the open block has no room for a piece with data (fewer than STREAM_BLOCK_MIN bytes left). */
int stream_packer_full(const struct stream_packer *p);
/* Bytes of pieces in the open block (0 if none is open). */
size_t stream_packer_used(const struct stream_packer *p);

/* Zero-fills the rest of the open block (padding) and closes it; returns the bytes of pieces in
 * it. 0 and nothing done if no block is open. */
size_t stream_packer_end(struct stream_packer *p);

/* --- Reassembler --- */

struct stream_rx_opts {
	size_t max_record;  /* longest record accepted (32 MiB by default; 1..STREAM_RECORD_MAX) */
	size_t mem_cap;     /* bytes of records waiting for pieces (64 MiB by default; >= max_record) */
	size_t max_pending; /* records waiting for pieces (4096 by default; 1..1,000,000) */
};
struct stream_rx_opts stream_rx_opts_default(void);

struct stream_rx_stats {
	uint64_t blocks;        /* blocks parsed */
	uint64_t records;       /* records delivered */
	uint64_t record_bytes;  /* their bytes */
	uint64_t pieces;        /* piece frames accepted */
	uint64_t incomplete;    /* records dropped because blocks they needed were lost */
	uint64_t evicted;       /* records dropped to stay under mem_cap or max_pending */
	uint64_t malformed;     /* frames refused (bad type, flags, lengths, offsets, overlaps, padding) */
	uint64_t stale;         /* pieces of records already delivered or given up (ignored) */
	uint64_t pending;       /* records waiting now */
	uint64_t pending_bytes; /* memory they hold now */
};

/* Called once per complete record; rec is valid only during the call. The callback must not call
 * back into the same reassembler. */
typedef void (*stream_deliver_fn)(void *arg, uint64_t tid, const uint8_t *rec, size_t len);

/* NULL with *err = TIP_EINVAL (bad options or no callback) or TIP_ENOMEM. o may be NULL (defaults). */
struct stream_rx *stream_rx_new(const struct stream_rx_opts *o, stream_deliver_fn deliver, void *arg,
                                int *err);
void stream_rx_free(struct stream_rx *r); /* NULL is safe */

/*
 * Parses one decoded block (number `block` in the sender's session) and delivers every record it
 * completes. Returns TIP_OK, or TIP_EDECODE if some frame was refused (counted in malformed);
 * parsing stops at a frame whose length cannot be trusted, records completed before it are
 * delivered. len >= 1.
 */
int stream_rx_block(struct stream_rx *r, uint64_t block, const uint8_t *data, size_t len);

/*
 * Tells the reassembler that every block numbered below `block` is final (parsed or lost).
 * A record's pieces fill consecutive blocks, so a record still incomplete whose newest piece is
 * in a block below block - 1 can never complete: it is dropped (counted in incomplete).
 */
void stream_rx_settle(struct stream_rx *r, uint64_t block);

/* Drops every pending record (counted in incomplete): the sender started a new session. */
void stream_rx_reset(struct stream_rx *r);

void stream_rx_stats(const struct stream_rx *r, struct stream_rx_stats *out);

/* --- Heartbeat payload --- */

#define STREAM_HB_MAX 255 /* origins in one heartbeat (a u8 count) */

struct stream_hb_origin {
	char origin[REC_ORIGIN_MAX + 1];
	int has_seq;          /* 0 if the origin has no record yet (then highest_seq is 0) */
	uint64_t highest_seq; /* the highest sequence number the sender holds for the origin */
	uint64_t checkpoint_size;
	uint8_t checkpoint_hash[REC_HASH_LEN];
};

/* Bytes one origin takes in a heartbeat: 50 + its name's length. */
size_t stream_hb_entry_len(const struct stream_hb_origin *o);

/*
 * Encodes origins o[0..n) from the first, as many as fit in out[0..cap) (at most 255), and
 * zero-fills the rest of out; *taken says how many went in. Call again with o + *taken for the
 * rest. Returns TIP_OK, TIP_EINVAL (a bad origin name or has_seq 0 with highest_seq != 0) or
 * TIP_EOVERSIZE (n > 0 and not even the first fits).
 */
int stream_hb_encode(const struct stream_hb_origin *o, size_t n, uint8_t *out, size_t cap, size_t *taken);

/*
 * Decodes a heartbeat payload buf[0..len) into out[0..max); *n gets the count. Strict: every
 * origin name valid and distinct, has_seq 0 or 1 (and highest_seq 0 when 0), every byte after the
 * last entry zero. TIP_OK, TIP_ETRUNCATED, TIP_EDECODE or TIP_EOVERSIZE (count > max).
 */
int stream_hb_decode(const uint8_t *buf, size_t len, struct stream_hb_origin *out, size_t max, size_t *n);

#endif
