#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/err.h"
#include "diode/datagram.h"
#include "diode/link.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t key_a[DG_KEY_LEN] = {9, 8, 7, 6,  5,  4,  3,  2,  1,  0,  1,  2,  3,  4,  5,  6,
                                          7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22};

/* ---- deterministic randomness and records ---- */

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15u;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
	return x ^ (x >> 31);
}

static uint64_t rng;

static uint64_t rnd(void)
{
	rng = mix(rng);
	return rng;
}

/* Uniform in [0, 1). */
static double rnd01(void)
{
	return (double)(rnd() >> 11) / 9007199254740992.0;
}

static void rec_fill(uint64_t tid, uint8_t *buf, size_t len)
{
	uint64_t x = mix(tid ^ 0x5555);

	for (size_t j = 0; j < len; j++) {
		if ((j & 7) == 0)
			x = mix(x + j);
		buf[j] = (uint8_t)(x >> ((j & 7) * 8));
	}
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint64_t be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* ---- what the receiver hands out ---- */

#define RECS_MAX 8192

struct sink {
	unsigned count[RECS_MAX];
	size_t len[RECS_MAX];
	unsigned records, bad_content;
	unsigned heartbeats, hb_origins;
	int hb_bad;
};

static void on_record(void *arg, uint64_t tid, const uint8_t *rec, size_t len)
{
	struct sink *s = arg;
	uint8_t *want;

	assert_true(tid < RECS_MAX);
	s->count[tid]++;
	s->len[tid] = len;
	s->records++;
	want = malloc(len ? len : 1);
	rec_fill(tid, want, len);
	if (len && memcmp(want, rec, len) != 0)
		s->bad_content++;
	free(want);
}

static void on_heartbeat(void *arg, uint32_t session, const struct stream_hb_origin *o, size_t n)
{
	struct sink *s = arg;

	(void)session;
	s->heartbeats++;
	for (size_t i = 0; i < n; i++) {
		unsigned long num;
		char *end;

		if (strncmp(o[i].origin, "origin-", 7) != 0)
			s->hb_bad = 1;
		num = strtoul(o[i].origin + 7, &end, 10);
		if (*end != '\0' || num >= 40 || o[i].highest_seq != 1000 + num || !o[i].has_seq)
			s->hb_bad = 1;
		s->hb_origins++;
	}
}

static struct link_rx *rx_new(struct sink *s, const struct link_rx_opts *o)
{
	struct link_rx_cb cb = {.record = on_record, .heartbeat = on_heartbeat, .arg = s};
	int err;
	struct link_rx *rx;

	memset(s, 0, sizeof(*s));
	rx = link_rx_new(o, key_a, &cb, &err);
	assert_non_null(rx);
	assert_int_equal(err, TIP_OK);
	return rx;
}

/* ---- the sent datagram stream ---- */

struct sent {
	uint8_t *buf; /* n datagrams of D bytes */
	size_t n, cap, d;
	struct meta {
		enum dg_type type;
		uint64_t block;
		unsigned index, k;
	} * meta;
};

static uint8_t *sent_slot(struct sent *st)
{
	if (st->n == st->cap) {
		st->cap = st->cap ? st->cap * 2 : 1024;
		st->buf = realloc(st->buf, st->cap * st->d);
		st->meta = realloc(st->meta, st->cap * sizeof(*st->meta));
		assert_non_null(st->buf);
		assert_non_null(st->meta);
	}
	return st->buf + st->n * st->d;
}

/* Opens what was just written to the slot with the test's own key context, for the model. */
static void sent_commit(struct sent *st, struct dg_key *key)
{
	struct dg_header h;
	const uint8_t *p;

	assert_int_equal(dg_open(key, sent_slot(st), st->d, st->d, &h, &p), TIP_OK);
	st->meta[st->n].type = h.type;
	st->meta[st->n].block = h.block;
	st->meta[st->n].index = h.index;
	st->meta[st->n].k = h.k;
	st->n++;
}

static void drain(struct link_tx *tx, struct sent *st, struct dg_key *key)
{
	while (link_tx_next(tx, sent_slot(st), (uint32_t)st->n))
		sent_commit(st, key);
}

static void send_heartbeat(struct link_tx *tx, struct sent *st, struct dg_key *key)
{
	struct stream_hb_origin o[40];
	size_t done = 0, taken;

	memset(o, 0, sizeof(o));
	for (size_t i = 0; i < 40; i++) {
		snprintf(o[i].origin, sizeof(o[i].origin), "origin-%zu", i);
		o[i].has_seq = 1;
		o[i].highest_seq = 1000 + i;
	}
	while (done < 40) {
		assert_int_equal(link_tx_heartbeat(tx, o + done, 40 - done, sent_slot(st), 0, &taken),
		                 TIP_OK);
		assert_true(taken > 0);
		sent_commit(st, key);
		done += taken;
	}
}

/* ---- the simulation ---- */

struct sim {
	const char *name;
	struct link_params p;
	unsigned records;
	size_t big; /* largest record */
	double loss;
	unsigned burst_every, burst_len;
	double dup;
	unsigned reorder; /* window of local shuffling */
	double corrupt, truncate, forge;
	int expect_all; /* the FEC is expected to recover everything */
};

struct item {
	size_t src;
	int kind; /* 0 intact, 1 bit flipped, 2 truncated, 3 sealed with another key */
	uint8_t *copy;
};

struct block_model {
	unsigned k;
	uint8_t sent_any;
	uint8_t got[DG_N_MAX];
	unsigned distinct;
	uint8_t *data; /* k * S bytes of data symbols, as sent */
};

static void run(const struct sim *c)
{
	size_t d = c->p.datagram_size, s_len = d - DG_OVERHEAD;
	int err;
	struct link_tx *tx = link_tx_new(&c->p, key_a, 0xc0ffee, &err);
	struct dg_key *key = dg_key_new(key_a), *other;
	uint8_t other_key[DG_KEY_LEN];
	struct sent st = {.d = d};
	struct item *items;
	size_t nitems = 0, items_cap, nblocks = 0, bad_expected[4] = {0}, hb_expected = 0;
	struct block_model *bm;
	size_t *first, *last, lens[RECS_MAX];
	struct sink sink;
	struct link_rx_opts ro = link_rx_opts_default();
	struct link_rx *rx;
	struct link_rx_stats rs;
	size_t recoverable_blocks = 0, lost_blocks = 0, want_records = 0, top_seen = 0;
	int any_seen = 0;

	assert_non_null(tx);
	assert_true(c->records <= RECS_MAX);
	memcpy(other_key, key_a, sizeof(other_key));
	other_key[0] ^= 0x80;
	other = dg_key_new(other_key);

	/* Sender: records of mixed sizes, an idle flush now and then, heartbeats. */
	for (unsigned t = 0; t < c->records; t++) {
		uint64_t x = mix(t * 7919u + c->p.k);
		size_t len = x % 20 == 0  ? (size_t)(x >> 8) % c->big
		             : x % 4 == 0 ? (x >> 8) % 20000
		                          : (x >> 8) % 2500;
		uint8_t *rec = malloc(len ? len : 1);
		uint64_t tid;

		lens[t] = len;
		rec_fill(t, rec, len);
		assert_int_equal(link_tx_put(tx, rec, len, &tid), TIP_OK);
		assert_int_equal(tid, t);
		/* The bytes are read as datagrams are drawn; put refuses while they are needed. */
		if (link_tx_busy(tx))
			assert_int_equal(link_tx_put(tx, rec, 1, NULL), TIP_EBUSY);
		drain(tx, &st, key);
		assert_false(link_tx_busy(tx));
		free(rec);
		if (x % 97 == 0) {
			link_tx_flush(tx);
			drain(tx, &st, key);
			assert_int_equal(link_tx_ready(tx), 0);
		}
		if (t % 150 == 0)
			send_heartbeat(tx, &st, key);
	}
	link_tx_flush(tx);
	drain(tx, &st, key);

	/* The model: every block's data as sent, so records map to blocks without the receiver's code. */
	for (size_t i = 0; i < st.n; i++)
		if (st.meta[i].type == DG_SYMBOL && st.meta[i].block + 1 > nblocks)
			nblocks = st.meta[i].block + 1;
	bm = calloc(nblocks, sizeof(*bm));
	for (size_t i = 0; i < st.n; i++) {
		const struct meta *m = &st.meta[i];
		struct block_model *b = &bm[m->block];

		if (m->type != DG_SYMBOL)
			continue;
		if (!b->data) {
			b->k = m->k;
			b->data = calloc(m->k, s_len);
		}
		assert_int_equal(b->k, m->k);
		b->sent_any = 1;
		if (m->index < m->k)
			memcpy(b->data + m->index * s_len, st.buf + i * d + DG_HEADER_LEN, s_len);
	}
	first = malloc(c->records * sizeof(*first));
	last = malloc(c->records * sizeof(*last));
	for (size_t t = 0; t < c->records; t++)
		first[t] = SIZE_MAX;
	for (size_t b = 0; b < nblocks; b++) {
		size_t pos = 0, len = bm[b].k * s_len;

		assert_true(bm[b].sent_any); /* block numbers have no holes */
		while (pos + STREAM_PIECE_HEADER <= len && bm[b].data[pos] == STREAM_PIECE) {
			uint64_t tid = be64(bm[b].data + pos + 2);

			assert_true(tid < c->records);
			if (first[tid] == SIZE_MAX)
				first[tid] = b;
			last[tid] = b;
			pos += STREAM_PIECE_HEADER + be16(bm[b].data + pos + 18);
		}
	}
	for (size_t t = 0; t < c->records; t++)
		assert_true(first[t] != SIZE_MAX);

	/* The channel: loss, bursts, damage, duplicates, reordering. */
	items_cap = st.n * 2 + 16;
	items = calloc(items_cap, sizeof(*items));
	for (size_t i = 0; i < st.n; i++) {
		struct item *it;
		double r;

		if (c->burst_every && i % c->burst_every >= c->burst_every - c->burst_len)
			continue;
		if (rnd01() < c->loss)
			continue;
		it = &items[nitems++];
		it->src = i;
		r = rnd01();
		if (r < c->corrupt) {
			it->kind = 1;
			it->copy = malloc(d);
			memcpy(it->copy, st.buf + i * d, d);
			it->copy[rnd() % d] ^= (uint8_t)(1u << (rnd() % 8));
		} else if (r < c->corrupt + c->truncate) {
			it->kind = 2;
		} else if (r < c->corrupt + c->truncate + c->forge) {
			struct dg_header h;
			const uint8_t *p;

			it->kind = 3;
			it->copy = malloc(d);
			assert_int_equal(dg_open(key, st.buf + i * d, d, d, &h, &p), TIP_OK);
			assert_int_equal(dg_seal(other, &h, p, s_len, it->copy, d), TIP_OK);
		}
		if (rnd01() < c->dup) {
			items[nitems].src = i;
			nitems++;
		}
	}
	for (size_t i = 0; c->reorder && i < nitems; i++) {
		size_t j = i + rnd() % c->reorder;

		if (j < nitems) {
			struct item t = items[i];

			items[i] = items[j];
			items[j] = t;
		}
	}

	/* What the receiver can possibly get back. */
	for (size_t i = 0; i < nitems; i++) {
		const struct meta *m = &st.meta[items[i].src];

		if (items[i].kind != 0) {
			bad_expected[items[i].kind]++;
			continue;
		}
		if (m->type == DG_HEARTBEAT) {
			hb_expected++;
			continue;
		}
		if (!bm[m->block].got[m->index]) {
			bm[m->block].got[m->index] = 1;
			bm[m->block].distinct++;
		}
		any_seen = 1;
		if (m->block > top_seen)
			top_seen = m->block;
	}
	for (size_t b = 0; b < nblocks; b++) {
		if (bm[b].distinct >= bm[b].k)
			recoverable_blocks++;
		else if (any_seen && b <= top_seen) {
			lost_blocks++;
			if (getenv("SIM_DEBUG"))
				print_message("lost block %zu: k %u, %u distinct\n", b, bm[b].k,
				              bm[b].distinct);
		}
	}
	for (size_t t = 0; t < c->records; t++) {
		int ok = 1;

		for (size_t b = first[t]; b <= last[t]; b++)
			ok &= bm[b].distinct >= bm[b].k;
		want_records += ok;
	}

	/* Receiver. */
	ro.datagram_size = d;
	rx = rx_new(&sink, &ro);
	for (size_t i = 0; i < nitems; i++) {
		const uint8_t *p = items[i].copy ? items[i].copy : st.buf + items[i].src * d;
		size_t len = items[i].kind == 2 ? d - 1 - rnd() % 100 : d;
		uint32_t now = (uint32_t)(i / 100);
		int rc = link_rx_datagram(rx, p, len, now);

		if (items[i].kind == 0)
			assert_int_equal(rc, TIP_OK);
		else
			assert_int_not_equal(rc, TIP_OK);
		if (i % 1000 == 999)
			link_rx_expire(rx, now, 5000);
	}
	link_rx_expire(rx, (uint32_t)(nitems / 100) + 100000, 1000);
	link_rx_stats(rx, &rs);

	/* Exactly the recoverable records, each once and intact. */
	assert_int_equal(sink.bad_content, 0);
	for (size_t t = 0; t < c->records; t++) {
		int ok = 1;

		for (size_t b = first[t]; b <= last[t]; b++)
			ok &= bm[b].distinct >= bm[b].k;
		if (sink.count[t] != (unsigned)ok)
			fail_msg("%s: record %zu (%zu bytes, blocks %zu..%zu) delivered %u times, "
			         "recoverable %d",
			         c->name, t, lens[t], first[t], last[t], sink.count[t], ok);
		if (ok)
			assert_int_equal(sink.len[t], lens[t]);
	}
	assert_int_equal(sink.records, want_records);
	if (c->expect_all)
		assert_int_equal(want_records, c->records);
	assert_int_equal(rs.blocks_clean + rs.blocks_recovered, recoverable_blocks);
	assert_int_equal(rs.blocks_lost, lost_blocks);
	assert_int_equal(rs.bad_crc + rs.bad_mac + rs.bad_magic + rs.bad_version,
	                 bad_expected[1] + bad_expected[3]);
	assert_int_equal(rs.bad_short, bad_expected[2]);
	assert_true(rs.bad_mac >= bad_expected[3]);
	assert_int_equal(rs.bad_long + rs.bad_header, 0);
	assert_int_equal(rs.heartbeats, hb_expected);
	assert_int_equal(sink.heartbeats, hb_expected);
	assert_false(sink.hb_bad);
	assert_int_equal(rs.sessions, 1);
	assert_int_equal(rs.symbols_bad + rs.symbols_nomem + rs.blocks_evicted, 0);
	assert_int_equal(rs.stream.malformed, 0);
	assert_int_equal(rs.stream.evicted, 0);
	/* A record reaching into the last block may still be waiting for the block after it. */
	assert_true(rs.stream.pending <= 1);
	assert_int_equal(rs.blocks_open, 0);
	if (c->loss == 0 && !c->burst_every && c->corrupt + c->truncate + c->forge == 0)
		assert_int_equal(rs.blocks_recovered, 0);
	print_message("sim %s: %zu datagrams sent, %zu received, %zu blocks (%zu lost), %u/%u records\n",
	              c->name, st.n, nitems, nblocks, lost_blocks, sink.records, c->records);

	link_rx_free(rx);
	for (size_t i = 0; i < nitems; i++)
		free(items[i].copy);
	for (size_t b = 0; b < nblocks; b++)
		free(bm[b].data);
	free(items);
	free(bm);
	free(first);
	free(last);
	free(st.buf);
	free(st.meta);
	dg_key_free(key);
	dg_key_free(other);
	link_tx_free(tx);
}

static const struct link_params P_DEFAULT = {DG_SIZE_DEFAULT, LINK_K_DEFAULT, LINK_M_DEFAULT,
                                             LINK_DEPTH_DEFAULT};

static void test_sim_clean(void **state)
{
	struct sim c = {.name = "0%", .p = P_DEFAULT, .records = 1500, .big = 400000, .expect_all = 1};

	(void)state;
	rng = 1;
	run(&c);
}

static void test_sim_1pct(void **state)
{
	struct sim c = {.name = "1% dup reorder",
	                .p = P_DEFAULT,
	                .records = 1500,
	                .big = 400000,
	                .loss = 0.01,
	                .dup = 0.02,
	                .reorder = 40,
	                .expect_all = 1};

	(void)state;
	rng = 2;
	run(&c);
}

static void test_sim_5pct_bursts(void **state)
{
	struct sim c = {.name = "5% bursts of 50",
	                .p = P_DEFAULT,
	                .records = 2000,
	                .big = 400000,
	                .loss = 0.05,
	                .burst_every = 4000,
	                .burst_len = 50,
	                .dup = 0.01,
	                .reorder = 64,
	                .expect_all = 1};

	(void)state;
	rng = 3;
	run(&c);
}

static void test_sim_20pct(void **state)
{
	struct sim c = {.name = "20%",
	                .p = P_DEFAULT,
	                .records = 1000,
	                .big = 300000,
	                .loss = 0.20,
	                .dup = 0.01,
	                .reorder = 16};

	(void)state;
	rng = 4;
	run(&c);
}

/* Small blocks at 5%: some blocks are lost, so delivery is partial and must match the model. */
static void test_sim_small_blocks(void **state)
{
	struct sim c = {.name = "(32,4,4) 5%",
	                .p = {DG_SIZE_DEFAULT, 32, 4, 4},
	                .records = 1500,
	                .big = 200000,
	                .loss = 0.05,
	                .dup = 0.02,
	                .reorder = 20};

	(void)state;
	rng = 5;
	run(&c);
}

/* No interleaving and bursts of 50: whole blocks vanish, never seen at all. */
static void test_sim_bursts_no_interleave(void **state)
{
	struct sim c = {.name = "(8,3,1) bursts",
	                .p = {DG_SIZE_MIN, 8, 3, 1},
	                .records = 800,
	                .big = 20000,
	                .loss = 0.01,
	                .burst_every = 500,
	                .burst_len = 50};

	(void)state;
	rng = 6;
	run(&c);
}

static void test_sim_damage(void **state)
{
	struct sim c = {.name = "damage",
	                .p = {1200, 64, 8, 4},
	                .records = 1000,
	                .big = 100000,
	                .loss = 0.02,
	                .corrupt = 0.01,
	                .truncate = 0.005,
	                .forge = 0.005,
	                .reorder = 8};

	(void)state;
	rng = 7;
	run(&c);
}

/* ---- sender details ---- */

static void test_params(void **state)
{
	struct link_params p = link_params_default();
	int err;

	(void)state;
	assert_int_equal(link_params_check(&p), TIP_OK);
	assert_true((double)p.m / p.k <= 0.15);
	p.k = 0;
	assert_int_equal(link_params_check(&p), TIP_EINVAL);
	p = link_params_default();
	p.m = 256 - p.k;
	assert_int_equal(link_params_check(&p), TIP_EINVAL);
	p = link_params_default();
	p.depth = 0;
	assert_int_equal(link_params_check(&p), TIP_EINVAL);
	p.depth = LINK_DEPTH_MAX + 1;
	assert_int_equal(link_params_check(&p), TIP_EINVAL);
	p = link_params_default();
	p.datagram_size = DG_SIZE_MIN - 1;
	assert_int_equal(link_params_check(&p), TIP_EINVAL);
	assert_null(link_tx_new(&p, key_a, 1, &err));
	assert_int_equal(err, TIP_EINVAL);
	link_tx_free(NULL);
	link_rx_free(NULL);
}

/* A flush at low traffic sends a short block: the data symbols its pieces reach, plus m repair. */
static void test_flush_short_block(void **state)
{
	struct link_params p = {DG_SIZE_DEFAULT, 200, 30, 8};
	int err;
	struct link_tx *tx = link_tx_new(&p, key_a, 5, &err);
	struct dg_key *key = dg_key_new(key_a);
	uint8_t rec[3000], out[DG_SIZE_DEFAULT];
	struct dg_header h;
	const uint8_t *pl;
	unsigned count = 0;
	struct sink sink;
	struct link_rx *rx = rx_new(&sink, NULL);

	(void)state;
	rec_fill(0, rec, sizeof(rec));
	assert_int_equal(link_tx_put(tx, rec, sizeof(rec), NULL), TIP_OK);
	/* A group is not complete yet: nothing goes out before a flush. */
	assert_int_equal(link_tx_next(tx, out, 0), 0);
	link_tx_flush(tx);
	while (link_tx_next(tx, out, 0)) {
		assert_int_equal(dg_open(key, out, sizeof(out), sizeof(out), &h, &pl), TIP_OK);
		/* 3000 + 20 bytes of piece need 3 symbols of 1400. */
		assert_int_equal(h.k, 3);
		/* A group of one block keeps a full group's repair: 30 * 8. */
		assert_int_equal(h.m, 240);
		assert_true(h.block == 0);
		assert_int_equal(h.index, count);
		count++;
		/* Lose every data symbol: the repair rows alone bring the record back. */
		if (h.index >= 3)
			assert_int_equal(link_rx_datagram(rx, out, sizeof(out), 0), TIP_OK);
	}
	assert_int_equal(count, 243);
	assert_int_equal(sink.count[0], 1);
	/* A flush that ends on a full group is spent too: the next record waits for company. */
	{
		/* A block of 280,000 bytes holds five pieces (at most 65,535 bytes each) of 20-byte headers.
		 */
		size_t big_len = 8 * (200 * 1400 - 5 * 20);
		uint8_t *big = malloc(big_len);

		memset(big, 1, big_len);
		assert_int_equal(link_tx_put(tx, big, big_len, NULL), TIP_OK);
		link_tx_flush(tx);
		count = 0;
		while (link_tx_next(tx, out, 0))
			count++;
		assert_int_equal(count, 8 * 230);
		free(big);
		assert_int_equal(link_tx_put(tx, rec, 10, NULL), TIP_OK);
		assert_int_equal(link_tx_next(tx, out, 0), 0);
		link_tx_flush(tx);
		count = 0;
		while (link_tx_next(tx, out, 0))
			count++;
		assert_int_equal(count, 1 + 240);
	}
	/* A flush with nothing put sends nothing, and does not make the next record go out alone. */
	link_tx_flush(tx);
	assert_int_equal(link_tx_next(tx, out, 0), 0);
	assert_int_equal(link_tx_put(tx, rec, 10, NULL), TIP_OK);
	assert_int_equal(link_tx_next(tx, out, 0), 0);
	link_rx_free(rx);
	dg_key_free(key);
	link_tx_free(tx);
}

/* A flush asked while a group is going out covers the record put before it, not the next one. */
static void test_flush_during_emission(void **state)
{
	struct link_params p = {DG_SIZE_MIN, 4, 2, 2};
	int err;
	struct link_tx *tx = link_tx_new(&p, key_a, 5, &err);
	struct dg_key *key = dg_key_new(key_a);
	uint8_t a[2 * (4 * 204 - 20)], b[100], c[50], out[DG_SIZE_MIN];
	struct dg_header h;
	const uint8_t *pl;
	unsigned n = 0, short_blocks = 0;
	uint64_t last_block = 0;

	(void)state;
	memset(a, 1, sizeof(a));
	memset(b, 2, sizeof(b));
	memset(c, 3, sizeof(c));
	/* A fills a whole group of two blocks exactly: it goes out without a flush. */
	assert_int_equal(link_tx_put(tx, a, sizeof(a), NULL), TIP_OK);
	assert_int_equal(link_tx_next(tx, out, 0), 1);
	assert_false(link_tx_busy(tx));
	assert_int_equal(link_tx_put(tx, b, sizeof(b), NULL), TIP_OK);
	link_tx_flush(tx);
	while (link_tx_next(tx, out, 0)) {
		assert_int_equal(dg_open(key, out, sizeof(out), sizeof(out), &h, &pl), TIP_OK);
		if (h.k < 4 && h.index == 0)
			short_blocks++;
		last_block = h.block;
		n++;
	}
	/* The rest of group 1 (11 datagrams), then B alone: one data symbol and 2 * 2 repair. */
	assert_int_equal(n, 11 + 1 + 4);
	assert_int_equal(short_blocks, 1);
	assert_true(last_block == 2);
	/* The flush is spent: C waits for company. */
	assert_int_equal(link_tx_put(tx, c, sizeof(c), NULL), TIP_OK);
	assert_int_equal(link_tx_next(tx, out, 0), 0);
	dg_key_free(key);
	link_tx_free(tx);
}

/* ---- receiver details ---- */

static size_t collect(struct link_tx *tx, uint8_t *buf, size_t cap, size_t d)
{
	size_t n = 0;

	while (n < cap && link_tx_next(tx, buf + n * d, 0))
		n++;
	return n;
}

static void test_session_change(void **state)
{
	struct link_params p = {DG_SIZE_MIN, 4, 2, 2};
	enum { CAP = 4000 };
	size_t d = DG_SIZE_MIN, na, nb;
	uint8_t *a = malloc(CAP * d), *b = malloc(CAP * d), rec[2000];
	int err;
	struct link_tx *ta = link_tx_new(&p, key_a, 1, &err), *tb = link_tx_new(&p, key_a, 2, &err);
	struct link_rx_opts o = link_rx_opts_default();
	struct sink sink;
	struct link_rx *rx;
	struct link_rx_stats st;

	(void)state;
	o.datagram_size = d;
	rx = rx_new(&sink, &o);
	rec_fill(0, rec, sizeof(rec));
	assert_int_equal(link_tx_put(ta, rec, sizeof(rec), NULL), TIP_OK);
	link_tx_flush(ta);
	na = collect(ta, a, CAP, d);
	assert_int_equal(link_tx_put(tb, rec, sizeof(rec), NULL), TIP_OK);
	link_tx_flush(tb);
	nb = collect(tb, b, CAP, d);
	/* Two full blocks of (4, 2), then a flushed block of 3 data symbols with 4 repair. */
	assert_int_equal(na, 19);
	assert_int_equal(nb, 19);
	/* Session 1's record with one symbol of its last block, then session 2 (a restarted sender). */
	for (size_t i = 0; i < 13; i++)
		assert_int_equal(link_rx_datagram(rx, a + i * d, d, 0), TIP_OK);
	link_rx_stats(rx, &st);
	assert_int_equal(st.stream.pending, 1);
	for (size_t i = 0; i < nb; i++)
		assert_int_equal(link_rx_datagram(rx, b + i * d, d, 0), TIP_OK);
	link_rx_stats(rx, &st);
	assert_int_equal(st.sessions, 2);
	assert_int_equal(st.stream.incomplete, 1);
	assert_int_equal(st.blocks_lost, 1);
	assert_int_equal(sink.count[0], 1); /* transfer id 0 of session 2 */
	assert_int_equal(st.stream.pending, 0);
	link_rx_free(rx);
	link_tx_free(ta);
	link_tx_free(tb);
	free(a);
	free(b);
}

/* Hand-made symbols: late ones, a contradicting geometry, a far jump of the block number. */
static void test_window(void **state)
{
	size_t d = DG_SIZE_MIN, s = d - DG_OVERHEAD;
	struct dg_key *key = dg_key_new(key_a);
	struct link_rx_opts o = link_rx_opts_default();
	struct sink sink;
	struct link_rx *rx;
	struct link_rx_stats st;
	uint8_t payload[DG_SIZE_MIN] = {0}, out[DG_SIZE_MIN];
	struct dg_header h = {.type = DG_SYMBOL, .session = 9, .k = 2, .m = 1, .symbol_size = (uint16_t)s};

	(void)state;
	o.datagram_size = d;
	o.window_blocks = 16;
	rx = rx_new(&sink, &o);
	/* Block 0, symbol 0 of k = 2: open. Then the same block with k = 3: refused. */
	h.block = 0;
	assert_int_equal(dg_seal(key, &h, payload, s, out, d), TIP_OK);
	assert_int_equal(link_rx_datagram(rx, out, d, 0), TIP_OK);
	assert_int_equal(link_rx_datagram(rx, out, d, 0), TIP_OK); /* a duplicate */
	h.k = 3;
	h.index = 1;
	assert_int_equal(dg_seal(key, &h, payload, s, out, d), TIP_OK);
	assert_int_equal(link_rx_datagram(rx, out, d, 0), TIP_ERANGE);
	link_rx_stats(rx, &st);
	assert_int_equal(st.symbols_bad, 1);
	assert_int_equal(st.symbols_dup, 1);
	assert_int_equal(st.blocks_open, 1);
	/* Block 1,000,000: the window jumps; everything between counts as lost, without a long walk. */
	h.k = 2;
	h.index = 0;
	h.block = 1000000;
	assert_int_equal(dg_seal(key, &h, payload, s, out, d), TIP_OK);
	assert_int_equal(link_rx_datagram(rx, out, d, 0), TIP_OK);
	link_rx_stats(rx, &st);
	assert_int_equal(st.blocks_lost, 1000000 - 15);
	assert_int_equal(st.blocks_open, 1);
	/* Block 5 is now far below the window. */
	h.block = 5;
	assert_int_equal(dg_seal(key, &h, payload, s, out, d), TIP_OK);
	assert_int_equal(link_rx_datagram(rx, out, d, 0), TIP_OK);
	link_rx_stats(rx, &st);
	assert_int_equal(st.symbols_late, 1);
	/* Expiry gives up the open block after its age. */
	link_rx_expire(rx, 100, 1000);
	link_rx_stats(rx, &st);
	assert_int_equal(st.blocks_open, 1);
	link_rx_expire(rx, 1001, 1000);
	link_rx_stats(rx, &st);
	assert_int_equal(st.blocks_open, 0);
	/* ... and with it the never-seen blocks below it: 0 .. 1,000,000 are all lost. */
	assert_int_equal(st.blocks_lost, 1000001);
	/* Its late symbols are "done", not a new block. */
	h.index = 1;
	assert_int_equal(dg_seal(key, &h, payload, s, out, d), TIP_OK);
	assert_int_equal(link_rx_datagram(rx, out, d, 2000), TIP_OK);
	link_rx_stats(rx, &st);
	assert_int_equal(st.blocks_open, 0);
	assert_int_equal(st.symbols_late + st.symbols_done, 2);
	/* Bad datagrams are counted by reason. */
	assert_int_equal(link_rx_datagram(rx, out, d - 1, 0), TIP_ETRUNCATED);
	out[40] ^= 1;
	assert_int_equal(link_rx_datagram(rx, out, d, 0), TIP_ECORRUPT);
	link_rx_stats(rx, &st);
	assert_int_equal(st.bad_short, 1);
	assert_int_equal(st.bad_crc, 1);
	link_rx_free(rx);
	dg_key_free(key);
}

/* With block memory for two blocks and eight interleaved, the oldest open blocks are given up. */
static void test_block_memory_cap(void **state)
{
	struct link_params p = {DG_SIZE_MIN, 200, 50, 8};
	enum { CAP = 20000 };
	size_t d = DG_SIZE_MIN, n;
	uint8_t *buf = malloc(CAP * d), *rec = malloc(200000);
	int err;
	struct link_tx *tx = link_tx_new(&p, key_a, 3, &err);
	struct link_rx_opts o = link_rx_opts_default();
	struct sink sink;
	struct link_rx *rx;
	struct link_rx_stats st;

	(void)state;
	o.datagram_size = d;
	o.block_mem = 2 * 255 * (d - DG_OVERHEAD) + 1000;
	rx = rx_new(&sink, &o);
	for (unsigned t = 0; t < 20; t++) {
		rec_fill(t, rec, 30000 + t);
		assert_int_equal(link_tx_put(tx, rec, 30000 + t, NULL), TIP_OK);
		n = collect(tx, buf, CAP, d);
		for (size_t i = 0; i < n; i++)
			link_rx_datagram(rx, buf + i * d, d, 0);
	}
	link_tx_flush(tx);
	n = collect(tx, buf, CAP, d);
	for (size_t i = 0; i < n; i++)
		link_rx_datagram(rx, buf + i * d, d, 0);
	link_rx_stats(rx, &st);
	assert_true(st.blocks_evicted > 0);
	assert_true(st.block_mem_bytes <= o.block_mem);
	assert_int_equal(sink.bad_content, 0);
	for (unsigned t = 0; t < 20; t++)
		assert_true(sink.count[t] <= 1);
	link_rx_free(rx);
	link_tx_free(tx);
	free(buf);
	free(rec);
}

static void test_rx_options(void **state)
{
	struct link_rx_opts o = link_rx_opts_default();
	struct link_rx_cb cb = {.record = on_record};
	int err;

	(void)state;
	o.window_blocks = 0;
	assert_null(link_rx_new(&o, key_a, &cb, &err));
	assert_int_equal(err, TIP_EINVAL);
	o = link_rx_opts_default();
	o.datagram_size = 100;
	assert_null(link_rx_new(&o, key_a, &cb, &err));
	o = link_rx_opts_default();
	o.block_mem = 1000;
	assert_null(link_rx_new(&o, key_a, &cb, &err));
	cb.record = NULL;
	assert_null(link_rx_new(NULL, key_a, &cb, &err));
	assert_int_equal(err, TIP_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_params),
	        cmocka_unit_test(test_flush_short_block),
	        cmocka_unit_test(test_flush_during_emission),
	        cmocka_unit_test(test_session_change),
	        cmocka_unit_test(test_window),
	        cmocka_unit_test(test_block_memory_cap),
	        cmocka_unit_test(test_rx_options),
	        cmocka_unit_test(test_sim_clean),
	        cmocka_unit_test(test_sim_1pct),
	        cmocka_unit_test(test_sim_5pct_bursts),
	        cmocka_unit_test(test_sim_20pct),
	        cmocka_unit_test(test_sim_small_blocks),
	        cmocka_unit_test(test_sim_bursts_no_interleave),
	        cmocka_unit_test(test_sim_damage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
