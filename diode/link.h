/*
 * The diode link without sockets: the sender turns records into sealed datagrams (stream packer,
 * FEC encoder, interleaver, datagram sealing) and the receiver turns datagrams back into records
 * (datagram check, block window, FEC decoder, reassembler). The daemons add sockets, pacing,
 * spools, replay and metrics. How the parts fit: docs/internals/diode-link.md; bytes on the wire:
 * docs/formats/diode.md.
 *
 * Threads: a struct link_tx or struct link_rx belongs to one thread. Nothing is allocated per
 * datagram: a sender's memory is fixed at link_tx_new(); a receiver allocates a block's buffer the
 * first time the pool needs one of that size and a record's buffer when it spans blocks, both
 * under caps.
 */
#ifndef TIP_DIODE_LINK_H
#define TIP_DIODE_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "diode/datagram.h"
#include "diode/stream.h"

/* Shared by both ends only through the datagrams themselves: a receiver reads k and m from each
 * header and never needs depth. */
struct link_params {
	size_t datagram_size; /* D: DG_SIZE_MIN..DG_SIZE_MAX (default 1452) */
	unsigned k;           /* data symbols per block: 1..254 (default LINK_K_DEFAULT) */
	unsigned m;           /* repair symbols per block: 0..255-k (default LINK_M_DEFAULT) */
	unsigned depth; /* blocks interleaved per group: 1..LINK_DEPTH_MAX (default LINK_DEPTH_DEFAULT) */
};

/* Defaults from measurements and the loss model in docs/formats/diode.md: 15.0% repair, a block
 * lost with probability 6e-7 at 5% independent loss, a burst of 50 datagrams costs a block
 * at most 7 symbols. */
#define LINK_K_DEFAULT     200
#define LINK_M_DEFAULT     30
#define LINK_DEPTH_DEFAULT 8
#define LINK_DEPTH_MAX     64

struct link_params link_params_default(void);
/* TIP_OK or TIP_EINVAL. */
int link_params_check(const struct link_params *p);

/* --- Sender --- */

struct link_tx;

struct link_tx_stats {
	uint64_t records, record_bytes; /* records put and their bytes */
	uint64_t blocks, groups;        /* blocks encoded, groups emitted */
	uint64_t piece_bytes;           /* bytes of piece frames in encoded blocks (the rest is padding) */
	uint64_t datagrams;             /* SYMBOL datagrams produced */
	uint64_t heartbeats;            /* HEARTBEAT datagrams produced */
};

/*
 * A sender for one session (choose session at random at each start, so the receiver sees the
 * restart). Memory: two groups of depth blocks of k + min(255 - k, m * depth) symbols (a group cut
 * short by a flush gets more repair per block). NULL with *err = TIP_EINVAL or TIP_ENOMEM.
 */
struct link_tx *link_tx_new(const struct link_params *p, const uint8_t key[DG_KEY_LEN], uint32_t session,
                            int *err);
void link_tx_free(struct link_tx *tx); /* NULL is safe */

/*
 * Queues one record, assigning it the next transfer id (*tid, may be NULL; ids start at 0 and
 * increase by one). The bytes are read lazily by link_tx_next(): they must stay valid and
 * unchanged until link_tx_busy() returns 0. Returns TIP_OK, TIP_EBUSY (the previous record is
 * still being packed: drain datagrams first) or TIP_EOVERSIZE (len > STREAM_RECORD_MAX).
 */
int link_tx_put(struct link_tx *tx, const uint8_t *rec, size_t len, uint64_t *tid);

/* 1 while the last record's bytes are still needed. */
int link_tx_busy(const struct link_tx *tx);

/*
 * Writes the next datagram (exactly D bytes) to out and returns 1, or returns 0 if there is
 * nothing to send: the group being filled is not complete and no flush was asked for. now_ms
 * goes into the header's sent_at.
 */
int link_tx_next(struct link_tx *tx, uint8_t *out, uint32_t now_ms);

/* Closes the open block (zero padding) and lets the partly filled group go out at the next
 * link_tx_next(). Call it when no more records are at hand, so none waits for traffic. */
void link_tx_flush(struct link_tx *tx);

/* Datagrams link_tx_next() will still return before needing more records or a flush. */
size_t link_tx_ready(const struct link_tx *tx);

/*
 * Writes one HEARTBEAT datagram carrying origins o[0..n) from the first, as many as fit; *taken
 * says how many. Call again with o + *taken until all are sent. TIP_OK, or TIP_EINVAL for a bad
 * origin entry.
 */
int link_tx_heartbeat(struct link_tx *tx, const struct stream_hb_origin *o, size_t n, uint8_t *out,
                      uint32_t now_ms, size_t *taken);

void link_tx_stats(const struct link_tx *tx, struct link_tx_stats *out);

/* --- Receiver --- */

struct link_rx;

struct link_rx_opts {
	size_t datagram_size; /* D, as the sender's */
	size_t window_blocks; /* blocks that may be open at once, above the oldest unfinished (default 256) */
	size_t block_mem;     /* cap on FEC block memory (default 64 MiB) */
	struct stream_rx_opts stream;
};
struct link_rx_opts link_rx_opts_default(void);

struct link_rx_cb {
	/* A complete record (rec valid during the call only). Required. */
	void (*record)(void *arg, uint64_t tid, const uint8_t *rec, size_t len);
	/* The origins of one heartbeat datagram. May be NULL. */
	void (*heartbeat)(void *arg, uint32_t session, const struct stream_hb_origin *o, size_t n);
	void *arg;
};

struct link_rx_stats {
	/* Datagrams refused by dg_open(), by reason (dg_reason() names). */
	uint64_t bad_short, bad_long, bad_magic, bad_version, bad_crc, bad_mac, bad_header;
	uint64_t datagrams;         /* authenticated datagrams */
	uint64_t heartbeats;        /* heartbeat datagrams decoded */
	uint64_t heartbeats_bad;    /* authenticated heartbeat payloads that did not decode */
	uint64_t sessions;          /* sender sessions seen (a change means the sender restarted) */
	uint64_t packets_skipped;   /* gaps in the sender's datagram counter: datagrams lost (or late) */
	uint64_t packets_reordered; /* datagrams whose counter went backwards (late or duplicated) */
	uint64_t symbols;           /* symbols stored in blocks */
	uint64_t symbols_dup;       /* duplicates of a stored symbol, or beyond the k needed */
	uint64_t symbols_done;      /* for a block already decoded or given up */
	uint64_t symbols_late;      /* for a block below the window */
	uint64_t symbols_bad;       /* k or m different from the block's first symbol */
	uint64_t symbols_nomem;     /* dropped: block memory at its cap with nothing older to give up */
	uint64_t blocks_clean;      /* decoded with every data symbol received */
	uint64_t blocks_recovered;  /* decoded with repair symbols */
	uint64_t symbols_rebuilt;   /* data symbols rebuilt by FEC */
	uint64_t blocks_lost;       /* given up: fewer than k symbols by the time the window moved on */
	uint64_t blocks_evicted;    /* of those, given up early to free block memory */
	uint64_t blocks_open;       /* blocks collecting symbols now */
	uint64_t block_mem_bytes;   /* FEC pool memory now */
	struct stream_rx_stats stream;
};

/* NULL with *err = TIP_EINVAL (bad options, no record callback) or TIP_ENOMEM. o may be NULL for
 * the defaults. */
struct link_rx *link_rx_new(const struct link_rx_opts *o, const uint8_t key[DG_KEY_LEN],
                            const struct link_rx_cb *cb, int *err);
void link_rx_free(struct link_rx *rx); /* NULL is safe */

/*
 * Takes one received datagram buf[0..len); now_ms is the receiver's monotonic clock. Callbacks run
 * inside. Returns TIP_OK for an authenticated datagram (even a duplicate or late one; see the
 * stats), the dg_open() code of a refused one, TIP_EDECODE for a heartbeat payload that did not
 * decode, or TIP_ERANGE for a symbol whose k or m contradicts its block.
 */
int link_rx_datagram(struct link_rx *rx, const uint8_t *buf, size_t len, uint32_t now_ms);

/*
 * Gives up blocks that have waited longer than max_age_ms since their first symbol, and blocks
 * never seen below one first seen that long ago (blocks go out in order, so they will not come),
 * so that records needing them are settled and memory is released. Call it periodically with an
 * age of a few group durations.
 */
void link_rx_expire(struct link_rx *rx, uint32_t now_ms, uint32_t max_age_ms);

void link_rx_stats(const struct link_rx *rx, struct link_rx_stats *out);

#endif
