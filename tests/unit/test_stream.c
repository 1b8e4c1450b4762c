#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/err.h"
#include "diode/stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HDR STREAM_PIECE_HEADER

/* ---- deterministic records ---- */

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15u;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
	return x ^ (x >> 31);
}

static void rec_fill(uint64_t tid, uint8_t *buf, size_t len)
{
	uint64_t x = mix(tid);

	for (size_t j = 0; j < len; j++) {
		if ((j & 7) == 0)
			x = mix(x + j);
		buf[j] = (uint8_t)(x >> ((j & 7) * 8));
	}
}

/* ---- what the reassembler delivered ---- */

#define TIDS_MAX 4096

struct sink {
	unsigned count[TIDS_MAX];
	size_t len[TIDS_MAX];
	unsigned total;
	int bad_content;
};

static void deliver(void *arg, uint64_t tid, const uint8_t *rec, size_t len)
{
	struct sink *s = arg;
	uint8_t *want;

	assert_true(tid < TIDS_MAX);
	s->count[tid]++;
	s->len[tid] = len;
	s->total++;
	want = malloc(len ? len : 1);
	rec_fill(tid, want, len);
	if (len && memcmp(want, rec, len) != 0)
		s->bad_content++;
	free(want);
}

static struct stream_rx *rx_new(struct sink *s, size_t max_record, size_t mem_cap, size_t max_pending)
{
	struct stream_rx_opts o = {.max_record = max_record, .mem_cap = mem_cap, .max_pending = max_pending};
	int err;
	struct stream_rx *r;

	memset(s, 0, sizeof(*s));
	r = stream_rx_new(&o, deliver, s, &err);
	assert_non_null(r);
	assert_int_equal(err, TIP_OK);
	return r;
}

/* ---- packing a list of records into blocks ---- */

struct packed {
	size_t block_len, nblocks, cap;
	uint8_t *blocks;
	/* For each record: first and last block holding one of its pieces. */
	size_t first[TIDS_MAX], last[TIDS_MAX];
	size_t nrec;
};

static uint8_t *new_block(struct packed *pk)
{
	if (pk->nblocks == pk->cap) {
		pk->cap = pk->cap ? pk->cap * 2 : 16;
		pk->blocks = realloc(pk->blocks, pk->cap * pk->block_len);
		assert_non_null(pk->blocks);
	}
	/* Garbage, so padding is seen to be written. */
	memset(pk->blocks + pk->nblocks * pk->block_len, 0xa5, pk->block_len);
	return pk->blocks + pk->nblocks++ * pk->block_len;
}

static uint8_t *block_at(const struct packed *pk, size_t i)
{
	return pk->blocks + i * pk->block_len;
}

/* Packs records 0..n-1 of lengths lens[] the way the sender does: a new block when one is full,
 * the last one padded. */
static void pack(struct packed *pk, size_t block_len, const size_t *lens, size_t n)
{
	int err;
	struct stream_packer *p = stream_packer_new(block_len, &err);

	assert_non_null(p);
	memset(pk, 0, sizeof(*pk));
	pk->block_len = block_len;
	pk->nrec = n;
	for (size_t t = 0; t < n; t++) {
		uint8_t *rec = malloc(lens[t] ? lens[t] : 1);

		rec_fill(t, rec, lens[t]);
		if (!stream_packer_is_open(p))
			assert_int_equal(stream_packer_begin(p, new_block(pk)), TIP_OK);
		pk->first[t] = pk->nblocks - 1;
		assert_int_equal(stream_packer_put(p, t, rec, lens[t]), TIP_OK);
		/* An open block always has room for a first piece: a full one is closed at once. */
		assert_true(stream_packer_used(p) > 0);
		while (stream_packer_pending(p) || stream_packer_full(p)) {
			assert_true(stream_packer_end(p) > 0);
			if (!stream_packer_pending(p))
				break;
			assert_int_equal(stream_packer_put(p, t, rec, lens[t]), TIP_EBUSY);
			assert_int_equal(stream_packer_begin(p, new_block(pk)), TIP_OK);
		}
		pk->last[t] = pk->nblocks - 1;
		free(rec);
	}
	if (stream_packer_is_open(p))
		stream_packer_end(p);
	stream_packer_free(p);
}

/* An independent parse of the packed blocks: the first and last block of each record's pieces. */
static void check_layout(struct packed *pk)
{
	size_t seen_first[TIDS_MAX], seen_last[TIDS_MAX];

	for (size_t t = 0; t < pk->nrec; t++)
		seen_first[t] = SIZE_MAX;
	for (size_t b = 0; b < pk->nblocks; b++) {
		const uint8_t *d = block_at(pk, b);
		size_t pos = 0;

		while (pos < pk->block_len && d[pos] == STREAM_PIECE) {
			uint64_t tid = 0;
			size_t len = (size_t)d[pos + 18] << 8 | d[pos + 19];

			for (int i = 0; i < 8; i++)
				tid = tid << 8 | d[pos + 2 + i];
			assert_true(tid < pk->nrec);
			if (seen_first[tid] == SIZE_MAX)
				seen_first[tid] = b;
			seen_last[tid] = b;
			pos += HDR + len;
		}
		/* The rest is padding: zeros. */
		for (; pos < pk->block_len; pos++)
			assert_int_equal(d[pos], 0);
	}
	for (size_t t = 0; t < pk->nrec; t++) {
		assert_int_equal(seen_first[t], pk->first[t]);
		assert_int_equal(seen_last[t], pk->last[t]);
	}
}

static void feed_in_order(struct stream_rx *r, const struct packed *pk)
{
	for (size_t b = 0; b < pk->nblocks; b++) {
		assert_int_equal(stream_rx_block(r, b, block_at(pk, b), pk->block_len), TIP_OK);
		stream_rx_settle(r, b + 1);
	}
}

static void expect_all_once(const struct sink *s, const size_t *lens, size_t n)
{
	assert_int_equal(s->total, n);
	assert_int_equal(s->bad_content, 0);
	for (size_t t = 0; t < n; t++) {
		assert_int_equal(s->count[t], 1);
		assert_int_equal(s->len[t], lens[t]);
	}
}

/* ---- tests ---- */

static void test_sizes(void **state)
{
	const size_t bl = 11200, piece = bl - HDR;
	const size_t lens[] = {0, 1, piece, piece + 1, 0, bl, 2 * piece, (size_t)20 << 20,
	                       3, 0, 65535, 65536,     1};
	const size_t n = sizeof(lens) / sizeof(lens[0]);
	struct packed pk;
	struct sink s;
	struct stream_rx *r = rx_new(&s, (size_t)32 << 20, (size_t)64 << 20, 16);
	struct stream_rx_stats st;

	(void)state;
	pack(&pk, bl, lens, n);
	check_layout(&pk);
	feed_in_order(r, &pk);
	expect_all_once(&s, lens, n);
	stream_rx_stats(r, &st);
	assert_int_equal(st.records, n);
	assert_int_equal(st.blocks, pk.nblocks);
	assert_int_equal(st.malformed, 0);
	assert_int_equal(st.incomplete, 0);
	assert_int_equal(st.pending, 0);
	assert_int_equal(st.pending_bytes, 0);
	free(pk.blocks);
	stream_rx_free(r);
}

/* Blocks larger than a piece can carry: a record is cut at 65535 bytes inside one block. */
static void test_big_block(void **state)
{
	const size_t bl = 200000, lens[] = {150000, 10, 65535, 65536, 300000};
	const size_t n = sizeof(lens) / sizeof(lens[0]);
	struct packed pk;
	struct sink s;
	struct stream_rx *r = rx_new(&s, 1 << 20, 4 << 20, 16);
	const uint8_t *d;

	(void)state;
	pack(&pk, bl, lens, n);
	check_layout(&pk);
	d = block_at(&pk, 0);
	/* Record 0: pieces of 65535, 65535 and 18930 bytes, flags FIRST, none, LAST. */
	assert_int_equal(d[1], STREAM_FIRST);
	assert_int_equal(d[18] << 8 | d[19], STREAM_PIECE_MAX);
	d += HDR + STREAM_PIECE_MAX;
	assert_int_equal(d[1], 0);
	d += HDR + STREAM_PIECE_MAX;
	assert_int_equal(d[1], STREAM_LAST);
	assert_int_equal(d[18] << 8 | d[19], 150000 - 2 * STREAM_PIECE_MAX);
	feed_in_order(r, &pk);
	expect_all_once(&s, lens, n);
	free(pk.blocks);
	stream_rx_free(r);
}

/* A record of exactly one block's piece room starts and ends in a fresh block. */
static void test_exact_block(void **state)
{
	const size_t bl = 1000;
	const size_t lens[] = {bl - HDR, bl - HDR, bl - HDR + 1};
	struct packed pk;

	(void)state;
	pack(&pk, bl, lens, 3);
	check_layout(&pk);
	assert_int_equal(pk.nblocks, 4);
	assert_int_equal(pk.first[0], 0);
	assert_int_equal(pk.last[0], 0);
	assert_int_equal(pk.first[1], 1);
	assert_int_equal(pk.last[1], 1);
	assert_int_equal(pk.first[2], 2);
	assert_int_equal(pk.last[2], 3);
	free(pk.blocks);
}

/* Many records, mixed sizes, blocks in a random order. */
static void test_out_of_order(void **state)
{
	static size_t lens[600];
	const size_t n = 600, bl = 4096;
	struct packed pk;
	struct sink s;
	struct stream_rx *r = rx_new(&s, 1 << 20, 16 << 20, 4096);
	size_t *order;
	uint64_t x = 7;

	(void)state;
	for (size_t t = 0; t < n; t++) {
		x = mix(x);
		lens[t] = (x % 10 == 0) ? (size_t)(x >> 20) % 50000 : (size_t)(x >> 20) % 700;
	}
	pack(&pk, bl, lens, n);
	check_layout(&pk);
	order = malloc(pk.nblocks * sizeof(*order));
	for (size_t i = 0; i < pk.nblocks; i++)
		order[i] = i;
	for (size_t i = pk.nblocks; i > 1; i--) {
		size_t j = mix(i) % i, t = order[i - 1];

		order[i - 1] = order[j];
		order[j] = t;
	}
	for (size_t i = 0; i < pk.nblocks; i++)
		assert_int_equal(stream_rx_block(r, order[i], block_at(&pk, order[i]), bl), TIP_OK);
	expect_all_once(&s, lens, n);
	free(order);
	free(pk.blocks);
	stream_rx_free(r);
}

/* Lost blocks make exactly the records with a piece in them incomplete. */
static void test_missing_blocks(void **state)
{
	static size_t lens[800];
	const size_t n = 800, bl = 3000;
	struct packed pk;
	struct sink s;
	struct stream_rx *r = rx_new(&s, 1 << 20, 16 << 20, 4096);
	struct stream_rx_stats st;
	uint8_t *lost;
	size_t want = 0, partial = 0;
	uint64_t x = 99;

	(void)state;
	for (size_t t = 0; t < n; t++) {
		x = mix(x);
		lens[t] = (x % 8 == 0) ? (size_t)(x >> 20) % 20000 : (size_t)(x >> 20) % 1500;
	}
	pack(&pk, bl, lens, n);
	check_layout(&pk);
	lost = calloc(pk.nblocks, 1);
	for (size_t b = 0; b < pk.nblocks; b++)
		lost[b] = mix(b + 1000) % 7 == 0;
	for (size_t t = 0; t < n; t++) {
		int any_lost = 0, any_kept = 0;

		for (size_t b = pk.first[t]; b <= pk.last[t]; b++) {
			any_lost |= lost[b];
			any_kept |= !lost[b];
		}
		want += !any_lost;
		partial += any_lost && any_kept;
	}
	assert_true(partial > 0);
	for (size_t b = 0; b < pk.nblocks; b++) {
		if (!lost[b])
			assert_int_equal(stream_rx_block(r, b, block_at(&pk, b), bl), TIP_OK);
		stream_rx_settle(r, b + 1);
		stream_rx_stats(r, &st);
		/* Settling holds back a block: a record may still continue into block b + 1. */
		assert_true(st.pending <= 2);
	}
	stream_rx_settle(r, pk.nblocks + 1);
	stream_rx_stats(r, &st);
	assert_int_equal(s.total, want);
	assert_int_equal(s.bad_content, 0);
	for (size_t t = 0; t < n; t++) {
		int any_lost = 0;

		for (size_t b = pk.first[t]; b <= pk.last[t]; b++)
			any_lost |= lost[b];
		assert_int_equal(s.count[t], any_lost ? 0 : 1);
	}
	assert_int_equal(st.incomplete, partial);
	assert_int_equal(st.pending, 0);
	assert_int_equal(st.pending_bytes, 0);
	free(lost);
	free(pk.blocks);
	stream_rx_free(r);
}

/* The settle rule exactly: a record whose newest piece is in block h goes once block h + 1 is final. */
static void test_settle_rule(void **state)
{
	const size_t bl = 100, lens[] = {350};
	struct packed pk;
	struct sink s;
	struct stream_rx *r = rx_new(&s, 1 << 20, 1 << 20, 16);
	struct stream_rx_stats st;

	(void)state;
	pack(&pk, bl, lens, 1);
	assert_int_equal(pk.nblocks, 5);
	/* Blocks 10.. in the receiver's numbering: 10, 11, then 13 missing 12. */
	stream_rx_block(r, 10, block_at(&pk, 0), bl);
	stream_rx_block(r, 11, block_at(&pk, 1), bl);
	stream_rx_settle(r, 12);
	stream_rx_stats(r, &st);
	assert_int_equal(st.pending, 1);
	stream_rx_settle(r, 13);
	stream_rx_stats(r, &st);
	assert_int_equal(st.pending, 0);
	assert_int_equal(st.incomplete, 1);
	/* A late block of a forgotten record is ignored, not waited for again. */
	assert_int_equal(stream_rx_block(r, 13, block_at(&pk, 3), bl), TIP_OK);
	stream_rx_stats(r, &st);
	assert_int_equal(st.pending, 0);
	assert_int_equal(st.stale, 1);
	/* A reset forgets what was waiting, and what was given up: ids start again. */
	stream_rx_block(r, 20, block_at(&pk, 0), bl);
	stream_rx_stats(r, &st);
	assert_int_equal(st.pending, 0);
	assert_int_equal(st.stale, 2);
	stream_rx_reset(r);
	stream_rx_block(r, 0, block_at(&pk, 0), bl);
	stream_rx_stats(r, &st);
	assert_int_equal(st.pending, 1);
	stream_rx_reset(r);
	stream_rx_stats(r, &st);
	assert_int_equal(st.pending, 0);
	assert_int_equal(st.incomplete, 2);
	assert_int_equal(s.total, 0);
	free(pk.blocks);
	stream_rx_free(r);
}

/* Feeds every block but those holding some record's last piece, then those: every record waits
 * at once. Checks the caps after each block. */
static void two_pass(struct stream_rx *r, const struct packed *pk, size_t cap, size_t max_pending)
{
	struct stream_rx_stats st;

	for (int pass = 0; pass < 2; pass++)
		for (size_t b = 0; b < pk->nblocks; b++) {
			int is_last = 0;

			for (size_t t = 0; t < pk->nrec; t++)
				is_last |= pk->last[t] == b && pk->first[t] != b;
			if (is_last != pass)
				continue;
			stream_rx_block(r, b, block_at(pk, b), pk->block_len);
			stream_rx_stats(r, &st);
			assert_true(st.pending_bytes <= cap);
			assert_true(st.pending <= max_pending);
		}
}

/* Pending memory and count stay under their caps; the oldest records go first. */
static void test_memory_cap(void **state)
{
	static size_t lens[40];
	const size_t n = 40, bl = 2000, cap = 5 * 12000;
	struct packed pk;
	struct sink s;
	struct stream_rx *r = rx_new(&s, 12000, cap, 4096);
	struct stream_rx_stats st;

	(void)state;
	for (size_t t = 0; t < n; t++)
		lens[t] = 9000 + t; /* about 5 blocks each */
	pack(&pk, bl, lens, n);
	two_pass(r, &pk, cap, 4096);
	stream_rx_stats(r, &st);
	assert_true(st.evicted > 0);
	/* The remaining pieces of evicted records are ignored, not waited for again. */
	assert_true(st.stale > 0);
	assert_int_equal(st.pending, 0);
	assert_int_equal(s.total + st.evicted, n);
	assert_int_equal(s.bad_content, 0);
	/* The newest record survived. */
	assert_int_equal(s.count[n - 1], 1);
	for (size_t t = 0; t < n; t++)
		assert_true(s.count[t] <= 1);
	stream_rx_free(r);

	r = rx_new(&s, 12000, (size_t)1 << 30, 3);
	two_pass(r, &pk, (size_t)1 << 30, 3);
	stream_rx_stats(r, &st);
	assert_true(st.evicted > 0);
	assert_int_equal(s.total + st.evicted, n);
	assert_int_equal(s.count[n - 1], 1);
	stream_rx_free(r);
	free(pk.blocks);

	/* A record larger than the whole cap is refused once, its later pieces ignored. */
	r = rx_new(&s, 12000, 12000 + 10, 16);
	lens[0] = 12000;
	pack(&pk, bl, lens, 1);
	for (size_t b = 0; b < pk.nblocks; b++)
		stream_rx_block(r, b, block_at(&pk, b), bl);
	stream_rx_stats(r, &st);
	assert_int_equal(st.evicted, 1);
	assert_int_equal(st.stale, pk.nblocks - 1);
	assert_int_equal(s.total, 0);
	free(pk.blocks);
	stream_rx_free(r);
}

/* ---- hand-made frames ---- */

static size_t frame(uint8_t *p, uint8_t type, uint8_t flags, uint64_t tid, uint32_t total, uint32_t off,
                    uint16_t len)
{
	p[0] = type;
	p[1] = flags;
	for (int i = 0; i < 8; i++)
		p[2 + i] = (uint8_t)(tid >> (56 - 8 * i));
	for (int i = 0; i < 4; i++) {
		p[10 + i] = (uint8_t)(total >> (24 - 8 * i));
		p[14 + i] = (uint8_t)(off >> (24 - 8 * i));
	}
	p[18] = (uint8_t)(len >> 8);
	p[19] = (uint8_t)len;
	return HDR;
}

/* A valid whole record tid (content from rec_fill) at p. */
static size_t whole(uint8_t *p, uint64_t tid, uint16_t len)
{
	size_t n = frame(p, STREAM_PIECE, STREAM_FIRST | STREAM_LAST, tid, len, 0, len);

	rec_fill(tid, p + n, len);
	return n + len;
}

struct bad_case {
	const char *what;
	uint8_t type, flags;
	uint32_t total, off;
	uint16_t len;
	int extent_known; /* the parse goes on after it */
};

static void test_malformed(void **state)
{
	const uint8_t FL = STREAM_FIRST | STREAM_LAST;
	const struct bad_case cases[] = {
	        {"offset+len > total", STREAM_PIECE, STREAM_LAST, 10, 5, 6, 1},
	        {"offset > total", STREAM_PIECE, 0, 10, 11, 1, 1},
	        {"total over max_record", STREAM_PIECE, STREAM_FIRST, 5000, 0, 10, 1},
	        {"total over max_record, partial", STREAM_PIECE, STREAM_FIRST, 0xffffffffu, 0, 10, 1},
	        {"len past the block", STREAM_PIECE, FL, 400, 0, 400, 0},
	        {"type 2", 2, FL, 10, 0, 10, 0},
	        {"type 0xff", 0xff, FL, 10, 0, 10, 0},
	        {"unknown flag", STREAM_PIECE, FL | 4, 10, 0, 10, 1},
	        {"FIRST missing", STREAM_PIECE, STREAM_LAST, 10, 0, 10, 1},
	        {"FIRST on a later piece", STREAM_PIECE, STREAM_FIRST, 10, 5, 2, 1},
	        {"LAST missing", STREAM_PIECE, STREAM_FIRST, 10, 0, 10, 1},
	        {"LAST too early", STREAM_PIECE, STREAM_LAST, 10, 2, 2, 1},
	        {"empty piece of a non-empty record", STREAM_PIECE, STREAM_FIRST, 10, 0, 0, 1},
	};
	const size_t bl = 300;
	uint8_t block[300];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bad_case *c = &cases[i];
		struct sink s;
		struct stream_rx *r = rx_new(&s, 4000, 1 << 20, 16);
		struct stream_rx_stats st;
		size_t pos = 0;

		memset(block, 0, sizeof(block));
		pos += whole(block + pos, 1, 30);
		pos += frame(block + pos, c->type, c->flags, 2, c->total, c->off, c->len);
		memset(block + pos, 0x33, c->len <= bl - pos ? c->len : bl - pos);
		if (c->len <= bl - pos) {
			pos += c->len;
			pos += whole(block + pos, 3, 40);
		}
		if (stream_rx_block(r, 0, block, bl) != TIP_EDECODE)
			fail_msg("%s: not refused", c->what);
		stream_rx_stats(r, &st);
		if (st.malformed != 1)
			fail_msg("%s: malformed %llu", c->what, (unsigned long long)st.malformed);
		assert_int_equal(s.count[1], 1);
		assert_int_equal(s.count[2], 0);
		if (s.count[3] != (unsigned)c->extent_known)
			fail_msg("%s: the record after it %s", c->what, s.count[3] ? "was used" : "was lost");
		assert_int_equal(st.pending, 0);
		stream_rx_free(r);
	}
}

static void test_malformed_structure(void **state)
{
	uint8_t block[200];
	struct sink s;
	struct stream_rx *r = rx_new(&s, 4000, 1 << 20, 16);
	struct stream_rx_stats st;
	size_t pos;

	(void)state;
	/* A piece header cut off by the end of the block. */
	memset(block, 0, sizeof(block));
	pos = whole(block, 1, 200 - HDR - 10);
	block[pos] = STREAM_PIECE;
	block[pos + 5] = 1;
	assert_int_equal(stream_rx_block(r, 0, block, sizeof(block)), TIP_EDECODE);
	/* Padding that is not all zeros. */
	memset(block, 0, sizeof(block));
	pos = whole(block, 2, 50);
	block[199] = 1;
	assert_int_equal(stream_rx_block(r, 1, block, sizeof(block)), TIP_EDECODE);
	/* The same total for every piece of a record, and no overlaps. */
	memset(block, 0, sizeof(block));
	pos = frame(block, STREAM_PIECE, STREAM_FIRST, 7, 100, 0, 10);
	pos += 10;
	pos += frame(block + pos, STREAM_PIECE, 0, 7, 101, 10, 10);
	pos += 10;
	pos += frame(block + pos, STREAM_PIECE, 0, 7, 100, 5, 10);
	pos += 10;
	pos += frame(block + pos, STREAM_PIECE, 0, 7, 100, 10, 10);
	pos += 10;
	assert_int_equal(stream_rx_block(r, 2, block, sizeof(block)), TIP_EDECODE);
	stream_rx_stats(r, &st);
	assert_int_equal(st.malformed, 4);
	assert_int_equal(st.pending, 1); /* record 7 holds [0, 20) */
	assert_int_equal(s.count[1], 1);
	assert_int_equal(s.count[2], 1);
	/* A piece already held, again (as from a block delivered twice). */
	assert_int_equal(stream_rx_block(r, 2, block, sizeof(block)), TIP_EDECODE);
	stream_rx_stats(r, &st);
	assert_int_equal(st.malformed, 4 + 4);
	stream_rx_free(r);
}

/* The example of docs/formats/diode.md: record "hi", transfer id 1, in a 32-byte block. */
static void test_doc_example(void **state)
{
	static const uint8_t want[32] = {
	        0x01, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
	        0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x68, 0x69,
	        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	uint8_t block[32];
	int err;
	struct stream_packer *p = stream_packer_new(sizeof(block), &err);

	(void)state;
	memset(block, 0xff, sizeof(block));
	assert_int_equal(stream_packer_begin(p, block), TIP_OK);
	assert_int_equal(stream_packer_put(p, 1, (const uint8_t *)"hi", 2), TIP_OK);
	assert_int_equal(stream_packer_end(p), 22);
	assert_memory_equal(block, want, sizeof(want));
	stream_packer_free(p);
}

static void test_packer_api(void **state)
{
	int err;
	struct stream_packer *p;
	uint8_t block[64], rec[100];

	(void)state;
	assert_null(stream_packer_new(STREAM_BLOCK_MIN - 1, &err));
	assert_int_equal(err, TIP_EINVAL);
	assert_null(stream_packer_new(STREAM_BLOCK_MAX + 1, &err));
	p = stream_packer_new(sizeof(block), &err);
	assert_non_null(p);
	assert_int_equal(stream_packer_end(p), 0);
	assert_false(stream_packer_full(p));
	assert_int_equal(stream_packer_put(p, 0, rec, (size_t)STREAM_RECORD_MAX + 1), TIP_EOVERSIZE);
	/* Without a block the record waits. */
	memset(rec, 7, sizeof(rec));
	assert_int_equal(stream_packer_put(p, 0, rec, sizeof(rec)), TIP_OK);
	assert_true(stream_packer_pending(p));
	assert_int_equal(stream_packer_put(p, 1, rec, 1), TIP_EBUSY);
	memset(block, 0xee, sizeof(block));
	assert_int_equal(stream_packer_begin(p, block), TIP_OK);
	assert_int_equal(stream_packer_begin(p, block), TIP_EBUSY);
	assert_true(stream_packer_full(p));
	assert_int_equal(stream_packer_used(p), 64);
	assert_int_equal(stream_packer_end(p), 64);
	assert_int_equal(block[0], STREAM_PIECE);
	assert_int_equal(block[1], STREAM_FIRST);
	memset(block, 0xee, sizeof(block));
	assert_int_equal(stream_packer_begin(p, block), TIP_OK);
	assert_int_equal(stream_packer_end(p), 64);
	assert_int_equal(block[1], 0);
	memset(block, 0xee, sizeof(block));
	assert_int_equal(stream_packer_begin(p, block), TIP_OK);
	/* 100 - 44 - 44 = 12 bytes left: one piece of 32 bytes, then zeros. */
	assert_false(stream_packer_pending(p));
	assert_int_equal(stream_packer_used(p), HDR + 12);
	assert_int_equal(stream_packer_end(p), HDR + 12);
	assert_int_equal(block[1], STREAM_LAST);
	for (size_t i = HDR + 12; i < sizeof(block); i++)
		assert_int_equal(block[i], 0);
	/* An empty record needs only a header: 20 bytes of room take it. */
	assert_int_equal(stream_packer_begin(p, block), TIP_OK);
	assert_int_equal(stream_packer_put(p, 5, rec, 24), TIP_OK);
	assert_int_equal(stream_packer_used(p), 44);
	assert_int_equal(stream_packer_put(p, 6, rec, 0), TIP_OK);
	assert_false(stream_packer_pending(p));
	assert_int_equal(stream_packer_used(p), 64);
	stream_packer_end(p);
	stream_packer_free(p);
	stream_packer_free(NULL);
}

static void test_rx_options(void **state)
{
	struct stream_rx_opts o = stream_rx_opts_default();
	int err;
	struct sink s;

	(void)state;
	assert_null(stream_rx_new(&o, NULL, &s, &err));
	assert_int_equal(err, TIP_EINVAL);
	o.mem_cap = o.max_record - 1;
	assert_null(stream_rx_new(&o, deliver, &s, &err));
	o = stream_rx_opts_default();
	o.max_record = 0;
	assert_null(stream_rx_new(&o, deliver, &s, &err));
	o = stream_rx_opts_default();
	o.max_pending = 0;
	assert_null(stream_rx_new(&o, deliver, &s, &err));
	stream_rx_free(NULL);
	stream_rx_free(stream_rx_new(NULL, deliver, &s, &err));
	assert_int_equal(err, TIP_OK);
}

/* ---- heartbeats ---- */

static void hb_fill(struct stream_hb_origin *o, size_t n)
{
	memset(o, 0, n * sizeof(*o));
	for (size_t i = 0; i < n; i++) {
		snprintf(o[i].origin, sizeof(o[i].origin), "intake-%zu.example", i);
		o[i].has_seq = i % 3 != 0;
		o[i].highest_seq = o[i].has_seq ? mix(i) : 0;
		o[i].checkpoint_size = mix(i + 1000);
		for (int j = 0; j < REC_HASH_LEN; j++)
			o[i].checkpoint_hash[j] = (uint8_t)(i + (size_t)j);
	}
}

static void test_heartbeat_round_trip(void **state)
{
	static struct stream_hb_origin in[300], out[STREAM_HB_MAX];
	uint8_t buf[1400];
	size_t taken, n, done = 0;

	(void)state;
	hb_fill(in, 300);
	while (done < 300) {
		assert_int_equal(stream_hb_encode(in + done, 300 - done, buf, sizeof(buf), &taken), TIP_OK);
		assert_true(taken > 0);
		assert_int_equal(stream_hb_decode(buf, sizeof(buf), out, STREAM_HB_MAX, &n), TIP_OK);
		assert_int_equal(n, taken);
		for (size_t i = 0; i < n; i++) {
			assert_string_equal(out[i].origin, in[done + i].origin);
			assert_int_equal(out[i].has_seq, in[done + i].has_seq);
			assert_true(out[i].highest_seq == in[done + i].highest_seq);
			assert_true(out[i].checkpoint_size == in[done + i].checkpoint_size);
			assert_memory_equal(out[i].checkpoint_hash, in[done + i].checkpoint_hash,
			                    REC_HASH_LEN);
		}
		/* As many as fit: the count byte, the entries taken, and no room for the next one. */
		{
			size_t used = 1;

			for (size_t i = 0; i < taken; i++)
				used += stream_hb_entry_len(&in[done + i]);
			assert_true(used <= sizeof(buf));
			if (done + taken < 300)
				assert_true(used + stream_hb_entry_len(&in[done + taken]) > sizeof(buf));
		}
		done += taken;
	}
	/* None at all: a heartbeat that only says the sender is alive. */
	assert_int_equal(stream_hb_encode(in, 0, buf, sizeof(buf), &taken), TIP_OK);
	assert_int_equal(taken, 0);
	assert_int_equal(stream_hb_decode(buf, sizeof(buf), out, STREAM_HB_MAX, &n), TIP_OK);
	assert_int_equal(n, 0);
	/* More than 255 small entries: the count byte caps it. */
	{
		static struct stream_hb_origin tiny[300];
		static uint8_t big[65000];

		memset(tiny, 0, sizeof(tiny));
		for (size_t i = 0; i < 300; i++)
			snprintf(tiny[i].origin, sizeof(tiny[i].origin), "o%zu", i);
		assert_int_equal(stream_hb_encode(tiny, 300, big, sizeof(big), &taken), TIP_OK);
		assert_int_equal(taken, STREAM_HB_MAX);
		assert_int_equal(stream_hb_decode(big, sizeof(big), out, STREAM_HB_MAX, &n), TIP_OK);
		assert_int_equal(n, STREAM_HB_MAX);
		assert_int_equal(stream_hb_decode(big, sizeof(big), out, 10, &n), TIP_EOVERSIZE);
	}
}

static void test_heartbeat_refuses(void **state)
{
	struct stream_hb_origin in[2], out[4];
	uint8_t buf[300], bad[300];
	size_t taken, n, one;

	(void)state;
	hb_fill(in, 2);
	one = stream_hb_entry_len(&in[0]);
	assert_int_equal(one, 50 + strlen(in[0].origin));
	assert_int_equal(stream_hb_encode(in, 2, buf, sizeof(buf), &taken), TIP_OK);
	assert_int_equal(stream_hb_encode(in, 1, buf, one, &taken), TIP_EOVERSIZE);
	assert_int_equal(stream_hb_encode(in, 1, buf, one + 1, &taken), TIP_OK);
	assert_int_equal(stream_hb_decode(buf, one + 1, out, 4, &n), TIP_OK);
	assert_int_equal(stream_hb_decode(buf, one, out, 4, &n), TIP_ETRUNCATED);
	assert_int_equal(stream_hb_decode(buf, 0, out, 4, &n), TIP_ETRUNCATED);
	assert_int_equal(stream_hb_encode(in, 2, buf, sizeof(buf), &taken), TIP_OK);
	assert_int_equal(stream_hb_decode(buf, sizeof(buf), out, 1, &n), TIP_EOVERSIZE);

	/* Bad names, flags and trailing bytes. */
	memcpy(bad, buf, sizeof(buf));
	bad[1] = 0; /* empty origin */
	assert_int_equal(stream_hb_decode(bad, sizeof(bad), out, 4, &n), TIP_EDECODE);
	memcpy(bad, buf, sizeof(buf));
	bad[1] = 65;
	assert_int_equal(stream_hb_decode(bad, sizeof(bad), out, 4, &n), TIP_EDECODE);
	memcpy(bad, buf, sizeof(buf));
	bad[2] = ' ';
	assert_int_equal(stream_hb_decode(bad, sizeof(bad), out, 4, &n), TIP_EDECODE);
	memcpy(bad, buf, sizeof(buf));
	bad[2 + strlen(in[0].origin) + 8] = 2; /* has_seq */
	assert_int_equal(stream_hb_decode(bad, sizeof(bad), out, 4, &n), TIP_EDECODE);
	memcpy(bad, buf, sizeof(buf));
	bad[2 + strlen(in[0].origin) + 7] = 1; /* in[0] has no seq, yet highest_seq != 0 */
	assert_int_equal(in[0].has_seq, 0);
	assert_int_equal(stream_hb_decode(bad, sizeof(bad), out, 4, &n), TIP_EDECODE);
	memcpy(bad, buf, sizeof(buf));
	bad[sizeof(bad) - 1] = 1;
	assert_int_equal(stream_hb_decode(bad, sizeof(bad), out, 4, &n), TIP_EDECODE);
	memcpy(bad, buf, sizeof(buf));
	bad[0] = 3; /* a third entry of zeros: an empty name */
	assert_int_equal(stream_hb_decode(bad, sizeof(bad), out, 4, &n), TIP_EDECODE);
	/* Duplicate origins. */
	memcpy(&in[1].origin, in[0].origin, sizeof(in[0].origin));
	assert_int_equal(stream_hb_encode(in, 2, buf, sizeof(buf), &taken), TIP_OK);
	assert_int_equal(stream_hb_decode(buf, sizeof(buf), out, 4, &n), TIP_EDECODE);
	/* Encoding refuses what decoding would. */
	hb_fill(in, 2);
	in[0].origin[0] = '/';
	assert_int_equal(stream_hb_encode(in, 2, buf, sizeof(buf), &taken), TIP_EINVAL);
	hb_fill(in, 2);
	in[0].highest_seq = 5;
	in[0].has_seq = 0;
	assert_int_equal(stream_hb_encode(in, 2, buf, sizeof(buf), &taken), TIP_EINVAL);
	hb_fill(in, 2);
	memset(in[0].origin, 'a', sizeof(in[0].origin)); /* no terminator */
	assert_int_equal(stream_hb_encode(in, 2, buf, sizeof(buf), &taken), TIP_EINVAL);
	hb_fill(in, 2);
	memset(in[0].origin, 'a', REC_ORIGIN_MAX);
	in[0].origin[REC_ORIGIN_MAX] = '\0';
	assert_int_equal(stream_hb_encode(in, 2, buf, sizeof(buf), &taken), TIP_OK);
	assert_int_equal(stream_hb_decode(buf, sizeof(buf), out, 4, &n), TIP_OK);
	assert_int_equal(strlen(out[0].origin), REC_ORIGIN_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_sizes),
	        cmocka_unit_test(test_exact_block),
	        cmocka_unit_test(test_big_block),
	        cmocka_unit_test(test_out_of_order),
	        cmocka_unit_test(test_missing_blocks),
	        cmocka_unit_test(test_settle_rule),
	        cmocka_unit_test(test_memory_cap),
	        cmocka_unit_test(test_malformed),
	        cmocka_unit_test(test_malformed_structure),
	        cmocka_unit_test(test_doc_example),
	        cmocka_unit_test(test_packer_api),
	        cmocka_unit_test(test_rx_options),
	        cmocka_unit_test(test_heartbeat_round_trip),
	        cmocka_unit_test(test_heartbeat_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
