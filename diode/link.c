#include "diode/link.h"

#include "common/err.h"
#include "diode/fec.h"
#include "diode/interleave.h"

#include <stdlib.h>
#include <string.h>

struct link_params link_params_default(void)
{
	return (struct link_params){
	        .datagram_size = DG_SIZE_DEFAULT,
	        .k = LINK_K_DEFAULT,
	        .m = LINK_M_DEFAULT,
	        .depth = LINK_DEPTH_DEFAULT,
	};
}

int link_params_check(const struct link_params *p)
{
	if (!dg_size_ok(p->datagram_size) || p->k < 1 || p->k + p->m > DG_N_MAX || p->depth < 1 ||
	    p->depth > LINK_DEPTH_MAX)
		return TIP_EINVAL;
	/* A block must hold one piece header and a byte; the smallest datagram gives 204-byte symbols. */
	return TIP_OK;
}

/* --- Sender --- */

struct group {
	uint8_t *mem;               /* depth slots of tx->slot bytes */
	unsigned blocks;            /* blocks closed in this group */
	int sealed;                 /* closed by a flush: goes out as it is, takes no more blocks */
	unsigned k[LINK_DEPTH_MAX]; /* data symbols: k, or fewer for a block closed by a flush */
	unsigned m[LINK_DEPTH_MAX]; /* repair symbols, set when the group starts going out */
	uint64_t first;             /* block number of slot 0 */
};

struct link_tx {
	struct link_params p;
	size_t s, slot;    /* symbol size, bytes per block slot: k + rows_max symbols */
	unsigned rows_max; /* most repair rows a full-length block can get: min(255 - k, m * depth) */
	struct dg_key *key;
	struct fec *fec;       /* (k, rows_max) */
	struct fec *short_fec; /* (short_k, min(255 - short_k, m * depth)) for a block closed by a flush */
	unsigned short_k;
	struct stream_packer *packer;
	struct group g[2];
	struct group *fill, *emit;
	struct il_iter it;
	size_t emit_left;
	int emitting, flush;
	uint32_t session, packet;
	uint64_t next_tid, next_hb;
	struct link_tx_stats st;
};

static unsigned min_u(unsigned a, unsigned b)
{
	return a < b ? a : b;
}

struct link_tx *link_tx_new(const struct link_params *p, const uint8_t key[DG_KEY_LEN], uint32_t session,
                            int *err)
{
	struct link_tx *tx = NULL;

	if (link_params_check(p) != TIP_OK) {
		*err = TIP_EINVAL;
		return NULL;
	}
	if (!(tx = calloc(1, sizeof(*tx))))
		goto nomem;
	tx->p = *p;
	tx->s = p->datagram_size - DG_OVERHEAD;
	tx->rows_max = min_u(DG_N_MAX - p->k, p->m * p->depth);
	tx->slot = (size_t)(p->k + tx->rows_max) * tx->s;
	tx->session = session;
	if (!(tx->key = dg_key_new(key)))
		goto nomem;
	if (!(tx->fec = fec_new(p->k, tx->rows_max, tx->s, err)))
		goto fail;
	if (!(tx->packer = stream_packer_new((size_t)p->k * tx->s, err)))
		goto fail;
	for (int i = 0; i < 2; i++)
		if (!(tx->g[i].mem = malloc(tx->slot * p->depth)))
			goto nomem;
	tx->fill = &tx->g[0];
	tx->emit = &tx->g[1];
	*err = TIP_OK;
	return tx;
nomem:
	*err = TIP_ENOMEM;
fail:
	link_tx_free(tx);
	return NULL;
}

void link_tx_free(struct link_tx *tx)
{
	if (!tx)
		return;
	dg_key_free(tx->key);
	fec_free(tx->fec);
	fec_free(tx->short_fec);
	stream_packer_free(tx->packer);
	free(tx->g[0].mem);
	free(tx->g[1].mem);
	free(tx);
}

int link_tx_put(struct link_tx *tx, const uint8_t *rec, size_t len, uint64_t *tid)
{
	int rc = stream_packer_put(tx->packer, tx->next_tid, rec, len);

	if (rc != TIP_OK)
		return rc;
	if (tid)
		*tid = tx->next_tid;
	tx->next_tid++;
	tx->st.records++;
	tx->st.record_bytes += len;
	return TIP_OK;
}

int link_tx_busy(const struct link_tx *tx)
{
	return stream_packer_pending(tx->packer);
}

/*
 * Pads the open block and adds it to the group. A block closed before it is full (by a flush)
 * keeps only the data symbols its pieces reach: at low traffic a record goes out as a few data
 * symbols plus repair, not k + m.
 */
static void close_block(struct link_tx *tx)
{
	struct group *g = tx->fill;
	size_t used = stream_packer_end(tx->packer);
	unsigned k = tx->p.k;

	if (used < (size_t)k * tx->s) {
		unsigned short_k = (unsigned)((used + tx->s - 1) / tx->s);
		int err;

		if (short_k < 1)
			short_k = 1;
		if (short_k < k && tx->short_k != short_k) {
			fec_free(tx->short_fec);
			tx->short_fec = fec_new(short_k, min_u(DG_N_MAX - short_k, tx->p.m * tx->p.depth),
			                        tx->s, &err);
			/* Without memory for the tables the block simply goes out at full length. */
			tx->short_k = tx->short_fec ? short_k : 0;
		}
		if (short_k < k && tx->short_k == short_k)
			k = short_k;
	}
	g->k[g->blocks++] = k;
	tx->st.blocks++;
	tx->st.piece_bytes += used;
}

/*
 * Encodes the group and starts sending it. A full group gives each block m repair symbols. A
 * group cut short by a flush has fewer blocks to spread a burst over, so it keeps the repair of a
 * full group: m * depth / G per block for G blocks, at most 255 - k. Partial groups only happen
 * when the link is idle, where the extra datagrams cost nothing that was needed.
 */
static void start_emit(struct link_tx *tx)
{
	struct group *g = tx->fill;
	unsigned n[LINK_DEPTH_MAX], share = (tx->p.m * tx->p.depth + g->blocks - 1) / g->blocks;

	tx->emit_left = 0;
	for (unsigned b = 0; b < g->blocks; b++) {
		uint8_t *slot = g->mem + (size_t)b * tx->slot;
		unsigned k = g->k[b];
		const struct fec *f = k == tx->p.k ? tx->fec : tx->short_fec;

		g->m[b] = min_u(g->blocks == tx->p.depth ? tx->p.m : share, DG_N_MAX - k);
		fec_encode_rows(f, slot, slot + (size_t)k * tx->s, g->m[b]);
		n[b] = k + g->m[b];
		tx->emit_left += n[b];
	}
	il_start(&tx->it, g->blocks, n);
	tx->fill = tx->emit;
	tx->emit = g;
	tx->fill->blocks = 0;
	tx->fill->sealed = 0;
	tx->fill->first = g->first + g->blocks;
	tx->emitting = 1;
	tx->st.groups++;
}

size_t link_tx_ready(const struct link_tx *tx)
{
	return tx->emitting ? tx->emit_left : 0;
}

int link_tx_next(struct link_tx *tx, uint8_t *out, uint32_t now_ms)
{
	for (;;) {
		struct group *g = tx->fill;

		if (tx->emitting) {
			struct group *e = tx->emit;
			unsigned b, sym;

			if (il_next(&tx->it, &b, &sym)) {
				struct dg_header h = {
				        .type = DG_SYMBOL,
				        .session = tx->session,
				        .block = e->first + b,
				        .packet = tx->packet++,
				        .sent_at = now_ms,
				        .index = (uint16_t)sym,
				        .k = (uint8_t)e->k[b],
				        .m = (uint8_t)e->m[b],
				        .symbol_size = (uint16_t)tx->s,
				};

				tx->emit_left--;
				tx->st.datagrams++;
				/* The geometry is valid by construction, so sealing cannot fail. */
				dg_seal(tx->key, &h, e->mem + (size_t)b * tx->slot + (size_t)sym * tx->s,
				        tx->s, out, tx->p.datagram_size);
				return 1;
			}
			tx->emitting = 0;
		}
		if (g->blocks == tx->p.depth || g->sealed) {
			start_emit(tx);
			continue;
		}
		if (stream_packer_pending(tx->packer) && !stream_packer_is_open(tx->packer))
			stream_packer_begin(tx->packer, g->mem + (size_t)g->blocks * tx->slot);
		if (stream_packer_is_open(tx->packer) &&
		    (stream_packer_full(tx->packer) || stream_packer_pending(tx->packer))) {
			close_block(tx);
			continue;
		}
		/*
		 * A flush covers every byte put before it: once they are all in blocks, the open block
		 * closes (short) and the group goes as it is. So a group has at most one short block, its
		 * last, and records put after the flush start the next group.
		 */
		if (tx->flush && !stream_packer_pending(tx->packer)) {
			tx->flush = 0;
			if (stream_packer_is_open(tx->packer))
				close_block(tx);
			if (g->blocks > 0) {
				g->sealed = 1;
				continue;
			}
		}
		return 0;
	}
}

void link_tx_flush(struct link_tx *tx)
{
	/* With nothing to flush, the next record must not go out alone in a block of its own. */
	if (stream_packer_is_open(tx->packer) || stream_packer_pending(tx->packer) || tx->fill->blocks > 0)
		tx->flush = 1;
}

int link_tx_heartbeat(struct link_tx *tx, const struct stream_hb_origin *o, size_t n, uint8_t *out,
                      uint32_t now_ms, size_t *taken)
{
	struct dg_header h = {
	        .type = DG_HEARTBEAT,
	        .session = tx->session,
	        .block = tx->next_hb,
	        .packet = tx->packet,
	        .sent_at = now_ms,
	        .symbol_size = (uint16_t)tx->s,
	};
	int rc;

	/* The payload is encoded in place, so nothing is copied when sealing. */
	rc = stream_hb_encode(o, n, out + DG_HEADER_LEN, tx->s, taken);
	if (rc != TIP_OK)
		return rc == TIP_EOVERSIZE ? TIP_EINVAL : rc;
	rc = dg_seal(tx->key, &h, out + DG_HEADER_LEN, tx->s, out, tx->p.datagram_size);
	if (rc != TIP_OK)
		return rc;
	tx->packet++;
	tx->next_hb++;
	tx->st.heartbeats++;
	return TIP_OK;
}

void link_tx_stats(const struct link_tx *tx, struct link_tx_stats *out)
{
	*out = tx->st;
}

/* --- Receiver --- */

enum slot_state { SLOT_FREE, SLOT_OPEN, SLOT_DONE };

struct slot {
	uint64_t block;
	enum slot_state state;
	uint32_t first_ms;
	struct fec_block *fb;
};

struct link_rx {
	struct link_rx_opts o;
	size_t s;
	struct dg_key *key;
	struct link_rx_cb cb;
	struct fec_pool *pool;
	struct stream_rx *stream;
	struct slot *ring;
	uint64_t mask; /* ring size - 1; the ring holds blocks [base, base + ring size) */
	/* Session state. */
	int have_session, window_set;
	uint32_t session, last_packet;
	uint64_t base;       /* lowest block not yet final */
	uint64_t top;        /* one past the highest block seen */
	uint64_t first_seen; /* blocks below it were sent before this receiver looked */
	struct stream_hb_origin hb[STREAM_HB_MAX];
	struct link_rx_stats st;
};

struct link_rx_opts link_rx_opts_default(void)
{
	return (struct link_rx_opts){
	        .datagram_size = DG_SIZE_DEFAULT,
	        .window_blocks = 256,
	        .block_mem = (size_t)64 << 20,
	        .stream = stream_rx_opts_default(),
	};
}

struct link_rx *link_rx_new(const struct link_rx_opts *o, const uint8_t key[DG_KEY_LEN],
                            const struct link_rx_cb *cb, int *err)
{
	struct link_rx_opts d = o ? *o : link_rx_opts_default();
	struct link_rx *rx = NULL;
	size_t ring = 1;

	*err = TIP_EINVAL;
	if (!cb || !cb->record || !dg_size_ok(d.datagram_size) || d.window_blocks < 1 ||
	    d.window_blocks > 65536)
		return NULL;
	while (ring < d.window_blocks)
		ring <<= 1;
	*err = TIP_ENOMEM;
	if (!(rx = calloc(1, sizeof(*rx))))
		return NULL;
	rx->o = d;
	rx->s = d.datagram_size - DG_OVERHEAD;
	rx->cb = *cb;
	rx->mask = ring - 1;
	if (!(rx->key = dg_key_new(key)) || !(rx->ring = calloc(ring, sizeof(*rx->ring))))
		goto fail;
	if (!(rx->pool = fec_pool_new(rx->s, d.block_mem, err)))
		goto fail;
	if (!(rx->stream = stream_rx_new(&d.stream, cb->record, cb->arg, err)))
		goto fail;
	*err = TIP_OK;
	return rx;
fail:
	link_rx_free(rx);
	return NULL;
}

void link_rx_free(struct link_rx *rx)
{
	if (!rx)
		return;
	dg_key_free(rx->key);
	/* The pool frees the blocks the ring still points at. */
	fec_pool_free(rx->pool);
	stream_rx_free(rx->stream);
	free(rx->ring);
	free(rx);
}

static struct slot *slot_of(struct link_rx *rx, uint64_t block)
{
	return &rx->ring[block & rx->mask];
}

/* Block `block` (below top) is given up or was never seen: either way final and lost. */
static void give_up(struct link_rx *rx, uint64_t block)
{
	struct slot *sl = slot_of(rx, block);

	if (sl->block == block && sl->state == SLOT_OPEN) {
		fec_block_free(sl->fb);
		sl->fb = NULL;
		rx->st.blocks_lost++;
	} else if (!(sl->block == block && sl->state == SLOT_DONE) && block >= rx->first_seen) {
		rx->st.blocks_lost++;
	}
	sl->state = SLOT_FREE;
}

/* Moves base past final blocks and tells the reassembler if it moved since `old`. */
static void settle_from(struct link_rx *rx, uint64_t old)
{
	while (rx->base < rx->top) {
		struct slot *sl = slot_of(rx, rx->base);

		if (sl->block != rx->base || sl->state != SLOT_DONE)
			break;
		sl->state = SLOT_FREE;
		rx->base++;
	}
	if (rx->base != old)
		stream_rx_settle(rx->stream, rx->base);
}

static void settle(struct link_rx *rx)
{
	settle_from(rx, rx->base);
}

/* Gives up every block below `to` and moves base there. */
static void advance_to(struct link_rx *rx, uint64_t to)
{
	uint64_t ring = rx->mask + 1, from = rx->base;

	if (to <= from)
		return;
	if (to - from > ring) {
		/* Blocks beyond the ring's reach were never seen: count them without visiting them. */
		uint64_t skipped = to - from - ring;

		for (uint64_t b = from; b < from + ring; b++)
			give_up(rx, b);
		rx->st.blocks_lost += skipped;
	} else {
		for (uint64_t b = from; b < to; b++)
			give_up(rx, b);
	}
	rx->base = to;
	if (rx->top < to)
		rx->top = to;
	settle_from(rx, from);
}

static void drop_session(struct link_rx *rx)
{
	for (uint64_t i = 0; i <= rx->mask; i++) {
		struct slot *sl = &rx->ring[i];

		if (sl->state == SLOT_OPEN) {
			fec_block_free(sl->fb);
			rx->st.blocks_lost++;
		}
		memset(sl, 0, sizeof(*sl));
	}
	stream_rx_reset(rx->stream);
	rx->window_set = 0;
}

static void note_session(struct link_rx *rx, const struct dg_header *h)
{
	int32_t d;

	if (!rx->have_session || h->session != rx->session) {
		if (rx->have_session)
			drop_session(rx);
		rx->have_session = 1;
		rx->session = h->session;
		rx->last_packet = h->packet;
		rx->st.sessions++;
		return;
	}
	/* Serial-number arithmetic: the counter wraps after 2^32 datagrams. */
	d = (int32_t)(h->packet - rx->last_packet);
	if (d > 0) {
		rx->st.packets_skipped += (uint64_t)(d - 1);
		rx->last_packet = h->packet;
	} else {
		rx->st.packets_reordered++;
	}
}

/* Frees the oldest open block other than `keep` to make room. 1 if one was freed. */
static int evict_oldest(struct link_rx *rx, uint64_t keep)
{
	for (uint64_t b = rx->base; b < rx->top; b++) {
		struct slot *sl = slot_of(rx, b);

		if (b != keep && sl->block == b && sl->state == SLOT_OPEN) {
			fec_block_free(sl->fb);
			sl->fb = NULL;
			sl->state = SLOT_DONE;
			rx->st.blocks_lost++;
			rx->st.blocks_evicted++;
			settle(rx);
			return 1;
		}
	}
	return 0;
}

static int symbol(struct link_rx *rx, const struct dg_header *h, const uint8_t *payload, uint32_t now_ms)
{
	uint64_t b = h->block, ring = rx->mask + 1;
	struct slot *sl;
	const uint8_t *data;
	unsigned rebuilt;
	int rc;

	if (!rx->window_set) {
		/* Leave room below for blocks of the same interleaved group that arrive after this one. */
		rx->base = b > ring / 2 ? b - ring / 2 : 0;
		rx->top = b + 1;
		rx->first_seen = b;
		rx->window_set = 1;
	}
	if (b < rx->base) {
		rx->st.symbols_late++;
		return TIP_OK;
	}
	if (b - rx->base >= ring)
		advance_to(rx, b - ring + 1);
	if (b >= rx->top)
		rx->top = b + 1;
	sl = slot_of(rx, b);
	if (sl->block != b || sl->state == SLOT_FREE) {
		int err;

		sl->block = b;
		sl->state = SLOT_FREE;
		while (!(sl->fb = fec_block_new(rx->pool, h->k, h->m, &err)) && err == TIP_EFULL &&
		       evict_oldest(rx, b))
			;
		if (!sl->fb) {
			rx->st.symbols_nomem++;
			return TIP_OK;
		}
		sl->state = SLOT_OPEN;
		sl->first_ms = now_ms;
	} else if (sl->state == SLOT_DONE) {
		rx->st.symbols_done++;
		return TIP_OK;
	}
	rc = fec_block_add(sl->fb, h->k, h->m, h->index, payload);
	if (rc < 0) {
		rx->st.symbols_bad++;
		return TIP_ERANGE;
	}
	if (rc == 0) {
		rx->st.symbols_dup++;
		return TIP_OK;
	}
	rx->st.symbols++;
	if (!fec_block_ready(sl->fb))
		return TIP_OK;
	if (fec_block_decode(sl->fb, &data, &rebuilt) == TIP_OK) {
		if (rebuilt)
			rx->st.blocks_recovered++;
		else
			rx->st.blocks_clean++;
		rx->st.symbols_rebuilt += rebuilt;
		stream_rx_block(rx->stream, b, data, (size_t)h->k * rx->s);
	} else {
		rx->st.blocks_lost++;
	}
	fec_block_free(sl->fb);
	sl->fb = NULL;
	sl->state = SLOT_DONE;
	settle(rx);
	return TIP_OK;
}

int link_rx_datagram(struct link_rx *rx, const uint8_t *buf, size_t len, uint32_t now_ms)
{
	struct dg_header h;
	const uint8_t *payload;
	size_t n;
	int rc = dg_open(rx->key, buf, len, rx->o.datagram_size, &h, &payload);

	switch (rc) {
	case TIP_OK: break;
	case TIP_ETRUNCATED: rx->st.bad_short++; return rc;
	case TIP_EOVERSIZE: rx->st.bad_long++; return rc;
	case TIP_EFORMAT: rx->st.bad_magic++; return rc;
	case TIP_EVERSION: rx->st.bad_version++; return rc;
	case TIP_ECORRUPT: rx->st.bad_crc++; return rc;
	case TIP_EVERIFY: rx->st.bad_mac++; return rc;
	default: rx->st.bad_header++; return rc;
	}
	rx->st.datagrams++;
	note_session(rx, &h);
	if (h.type == DG_SYMBOL)
		return symbol(rx, &h, payload, now_ms);
	rc = stream_hb_decode(payload, rx->s, rx->hb, STREAM_HB_MAX, &n);
	if (rc != TIP_OK) {
		rx->st.heartbeats_bad++;
		return TIP_EDECODE;
	}
	rx->st.heartbeats++;
	if (rx->cb.heartbeat)
		rx->cb.heartbeat(rx->cb.arg, h.session, rx->hb, n);
	return TIP_OK;
}

/*
 * Blocks are sent in order, so a block never seen below one first seen more than max_age_ms ago
 * will not come either: walking down from the top finds both kinds.
 */
void link_rx_expire(struct link_rx *rx, uint32_t now_ms, uint32_t max_age_ms)
{
	int stale_above = 0;

	if (!rx->window_set)
		return;
	for (uint64_t b = rx->top; b-- > rx->base;) {
		struct slot *sl = slot_of(rx, b);

		if (sl->block == b && sl->state != SLOT_FREE) {
			int old = (uint32_t)(now_ms - sl->first_ms) > max_age_ms;

			if (old && sl->state == SLOT_OPEN) {
				fec_block_free(sl->fb);
				sl->fb = NULL;
				sl->state = SLOT_DONE;
				rx->st.blocks_lost++;
			}
			stale_above |= old;
		} else if (stale_above) {
			sl->block = b;
			sl->state = SLOT_DONE;
			sl->first_ms = now_ms - max_age_ms - 1;
			if (b >= rx->first_seen)
				rx->st.blocks_lost++;
		}
	}
	settle(rx);
}

void link_rx_stats(const struct link_rx *rx, struct link_rx_stats *out)
{
	*out = rx->st;
	out->blocks_open = fec_pool_blocks(rx->pool);
	out->block_mem_bytes = fec_pool_bytes(rx->pool);
	stream_rx_stats(rx->stream, &out->stream);
}
