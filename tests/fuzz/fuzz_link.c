/*
 * The receiver's whole reassembly path (link_rx: datagram check, block window, FEC pool and
 * decoder, record reassembly) driven by hostile traffic. Datagrams are 256 bytes. Input byte 0
 * chooses the mode:
 *   even: the rest is a program of crafted datagrams, each sealed with the link key so that it
 *         passes the MAC: opcode byte, then for a SYMBOL block (0..15), k (1..16), m (0..7),
 *         index (0..k+m-1), session bit, a payload length and that many payload bytes (zero
 *         padded); for a HEARTBEAT a payload the same way; for a raw datagram a length and that
 *         many bytes as they stand; or a clock step with an expiry. The caps (window, block memory,
 *         pending records) must hold, every answer be documented, every record be readable.
 *   odd:  a real sender (k, m and depth from bytes 1..3) sends the records cut from the rest
 *         (a length byte times 5, then that many bytes); two bits per datagram say deliver, drop,
 *         deliver twice, or hold back one place. The records that arrive are sent ones, each once
 *         and byte for byte (in any order); if no block lost more than its repair symbols, all
 *         arrive.
 */
#include "fuzz.h"

#include "common/err.h"
#include "diode/datagram.h"
#include "diode/link.h"

#include <stdlib.h>
#include <string.h>

#define D        256
#define S        (D - DG_OVERHEAD)
#define RECS_MAX 1024
#define BLOCKS   4096

static uint8_t key_bytes[DG_KEY_LEN];
static struct dg_key *key;

/* Up to want (at most cap) bytes of the input into out, zero padded to cap. */
static size_t take_bytes(struct fuzz_cursor *c, uint8_t *out, size_t want, size_t cap)
{
	size_t n = fuzz_avail(c, want < cap ? want : cap);

	memcpy(out, c->p, n);
	memset(out + n, 0, cap - n);
	fuzz_skip(c, n);
	return n;
}

/* ---- hostile datagrams ---- */

static void read_record(void *arg, uint64_t tid, const uint8_t *rec, size_t len)
{
	(void)arg;
	(void)tid;
	if (len > 4096)
		abort();
	fuzz_read_all(rec, len);
}

static void read_heartbeat(void *arg, uint32_t session, const struct stream_hb_origin *o, size_t n)
{
	(void)arg;
	(void)session;
	for (size_t i = 0; i < n; i++)
		if (!o[i].origin[0] || strnlen(o[i].origin, sizeof(o[i].origin)) == sizeof(o[i].origin))
			abort();
}

static void hostile(struct fuzz_cursor *c)
{
	struct link_rx_opts o = link_rx_opts_default();
	struct link_rx_cb cb = {read_record, read_heartbeat, NULL};
	struct link_rx_stats st;
	struct link_rx *rx;
	uint8_t dg[D + 8], payload[S];
	uint32_t now = 0, packet = 0;
	int err, rc;

	o.datagram_size = D;
	o.window_blocks = 8;
	o.block_mem = 4 * 255 * D; /* room for a few blocks of the largest geometry */
	o.stream = (struct stream_rx_opts){.max_record = 4096, .mem_cap = 16384, .max_pending = 8};
	if (!(rx = link_rx_new(&o, key_bytes, &cb, &err)))
		abort();
	while (c->n) {
		uint8_t op = fuzz_take(c);
		struct dg_header h = {.symbol_size = S, .packet = packet++, .sent_at = now};
		size_t len = D;

		switch (op & 3) {
		case 0: /* SYMBOL */
			h.type = DG_SYMBOL;
			h.block = fuzz_take(c) & 15;
			h.k = (uint8_t)(1 + (fuzz_take(c) & 15));
			h.m = (uint8_t)(fuzz_take(c) & 7);
			h.index = (uint16_t)(fuzz_take(c) % (h.k + h.m));
			h.session = (op >> 2) & 1;
			take_bytes(c, payload, fuzz_take(c), S);
			if (dg_seal(key, &h, payload, S, dg, D) != TIP_OK)
				abort();
			break;
		case 1: /* HEARTBEAT */
			h.type = DG_HEARTBEAT;
			h.block = packet;
			h.session = (op >> 2) & 1;
			len = take_bytes(c, payload, fuzz_take(c), S);
			if (dg_seal(key, &h, payload, len, dg, D) != TIP_OK)
				abort();
			len = D;
			break;
		case 2: /* raw bytes, not authenticated */
			len = take_bytes(c, dg, (size_t)fuzz_take(c) * 2, sizeof(dg));
			break;
		default: /* time passes; old blocks are given up */
			now += (uint32_t)fuzz_take(c) * 10;
			link_rx_expire(rx, now, 500);
			len = 0;
			break;
		}
		if (len) {
			rc = link_rx_datagram(rx, dg, len, now);
			if (rc != TIP_OK && rc != TIP_ETRUNCATED && rc != TIP_EOVERSIZE &&
			    rc != TIP_EFORMAT && rc != TIP_EVERSION && rc != TIP_ECORRUPT &&
			    rc != TIP_EVERIFY && rc != TIP_ERANGE && rc != TIP_EDECODE)
				abort();
		}
		link_rx_stats(rx, &st);
		if (st.block_mem_bytes > o.block_mem || st.stream.pending > o.stream.max_pending ||
		    st.stream.pending_bytes > o.stream.mem_cap)
			abort();
	}
	link_rx_expire(rx, now + 100000, 0);
	link_rx_free(rx);
}

/* ---- a real sender, hostile losses ---- */

struct want {
	const uint8_t *data[RECS_MAX];
	size_t len[RECS_MAX];
	size_t n;
	uint8_t seen[RECS_MAX];
	size_t got;
};

static void check_record(void *arg, uint64_t tid, const uint8_t *rec, size_t len)
{
	struct want *w = arg;

	if (tid >= w->n || w->seen[tid] || len != w->len[tid] || (len && memcmp(rec, w->data[tid], len)))
		abort();
	w->seen[tid] = 1;
	w->got++;
}

struct block_seen {
	unsigned k;
	uint8_t got[DG_N_MAX];
	unsigned distinct;
};

struct channel {
	struct link_rx *rx;
	struct fuzz_cursor *fate;
	uint8_t held[D];
	int holding;
	struct block_seen *blocks;
	uint32_t now;
	unsigned bits; /* fate bits left in byte */
	uint8_t byte;
};

static void deliver(struct channel *ch, const uint8_t *dg)
{
	struct dg_header h;
	const uint8_t *p;

	if (dg_open(key, dg, D, D, &h, &p) != TIP_OK)
		abort();
	if (h.type == DG_SYMBOL) {
		struct block_seen *b;

		if (h.block >= BLOCKS)
			abort();
		b = &ch->blocks[h.block];
		b->k = h.k;
		if (!b->got[h.index]) {
			b->got[h.index] = 1;
			b->distinct++;
		}
	}
	if (link_rx_datagram(ch->rx, dg, D, ch->now++) != TIP_OK)
		abort();
}

/* One datagram from the sender meets its fate. */
static void send_one(struct channel *ch, const uint8_t *dg)
{
	if (ch->bits == 0) {
		ch->byte = fuzz_take(ch->fate);
		ch->bits = 4;
	}
	ch->bits--;
	switch ((ch->byte >> (2 * ch->bits)) & 3) {
	case 0: deliver(ch, dg); break;
	case 1: break; /* lost */
	case 2:
		deliver(ch, dg);
		deliver(ch, dg);
		break;
	default: /* held back: the one held before goes first */
		if (ch->holding)
			deliver(ch, ch->held);
		memcpy(ch->held, dg, D);
		ch->holding = 1;
		break;
	}
}

static void pump(struct link_tx *tx, struct channel *ch)
{
	uint8_t dg[D];

	while (link_tx_next(tx, dg, ch->now))
		send_one(ch, dg);
}

static void real(struct fuzz_cursor *c)
{
	static struct want w;
	struct link_params p = {.datagram_size = D};
	struct link_rx_opts o = link_rx_opts_default();
	struct link_rx_cb cb = {check_record, NULL, &w};
	struct channel ch = {0};
	struct fuzz_cursor fate;
	struct link_tx *tx;
	struct link_tx_stats ts;
	int recoverable = 1;
	int err;

	p.k = 1 + fuzz_take(c) % 8;
	p.m = fuzz_take(c) % 4;
	p.depth = 1 + fuzz_take(c) % 4;
	memset(&w, 0, sizeof(w));
	/* The second half of what is left decides the fates, the first is cut into records. */
	fate.p = c->p + c->n / 2;
	fate.n = c->n - c->n / 2;
	c->n /= 2;
	while (c->n && w.n < RECS_MAX) {
		size_t len = fuzz_avail(c, (size_t)fuzz_take(c) * 5);

		w.data[w.n] = c->p;
		w.len[w.n++] = len;
		fuzz_skip(c, len);
	}
	o.datagram_size = D;
	ch.fate = &fate;
	if (!(ch.blocks = calloc(BLOCKS, sizeof(*ch.blocks))) ||
	    !(tx = link_tx_new(&p, key_bytes, 0x5eed, &err)) ||
	    !(ch.rx = link_rx_new(&o, key_bytes, &cb, &err)))
		abort();
	for (size_t t = 0; t < w.n; t++) {
		uint64_t tid;

		if (link_tx_put(tx, w.data[t], w.len[t], &tid) != TIP_OK || tid != t)
			abort();
		pump(tx, &ch);
		if (link_tx_busy(tx))
			abort();
	}
	link_tx_flush(tx);
	pump(tx, &ch);
	if (ch.holding)
		deliver(&ch, ch.held);
	link_rx_expire(ch.rx, ch.now + 100000, 0);
	link_tx_stats(tx, &ts);
	if (ts.blocks > BLOCKS)
		abort();
	for (size_t b = 0; b < ts.blocks; b++)
		if (!ch.blocks[b].k || ch.blocks[b].distinct < ch.blocks[b].k)
			recoverable = 0;
	if (recoverable && w.got != w.n)
		abort();
	link_tx_free(tx);
	link_rx_free(ch.rx);
	free(ch.blocks);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_cursor c = {data + 1, size ? size - 1 : 0};

	if (!key) {
		for (int i = 0; i < DG_KEY_LEN; i++)
			key_bytes[i] = (uint8_t)(0xa0 + i);
		if (!(key = dg_key_new(key_bytes)))
			abort();
	}
	if (size < 1)
		return 0;
	if (data[0] & 1)
		real(&c);
	else
		hostile(&c);
	return 0;
}
