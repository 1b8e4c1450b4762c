#include "diode/stream.h"

#include "common/bytes.h"

#include "common/err.h"

#include <stdlib.h>
#include <string.h>

/* Piece header offsets. */
#define P_TYPE   0
#define P_FLAGS  1
#define P_TID    2
#define P_TOTAL  10
#define P_OFFSET 14
#define P_LEN    18

/* Byte ranges one pending record may hold before it counts as malformed: a record's pieces fill
 * consecutive blocks, so holes only come from blocks decoded out of order. */
#define RANGES_MAX 4096
/* Records given up that are remembered, so their remaining pieces are ignored instead of starting a
 * wait that cannot end (and, after an eviction, pushing out the next record in turn). */
#define DEAD_MAX 1024

static int all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

/* --- Packer --- */

struct stream_packer {
	size_t block_len, used;
	uint8_t *block; /* NULL when no block is open */
	const uint8_t *rec;
	size_t len, off;
	uint64_t tid;
	int pending;
};

struct stream_packer *stream_packer_new(size_t block_len, int *err)
{
	struct stream_packer *p;

	if (block_len < STREAM_BLOCK_MIN || block_len > STREAM_BLOCK_MAX) {
		*err = TIP_EINVAL;
		return NULL;
	}
	if (!(p = calloc(1, sizeof(*p)))) {
		*err = TIP_ENOMEM;
		return NULL;
	}
	p->block_len = block_len;
	*err = TIP_OK;
	return p;
}

void stream_packer_free(struct stream_packer *p)
{
	free(p);
}

/* Writes pieces of the pending record while the open block has room for one. */
static void pack(struct stream_packer *p)
{
	while (p->block && p->pending) {
		size_t room = p->block_len - p->used, left = p->len - p->off, n;
		uint8_t *f = p->block + p->used;

		/* An empty record takes a bare header; any other piece carries at least one byte. */
		if (room < STREAM_PIECE_HEADER + (left > 0))
			return;
		n = room - STREAM_PIECE_HEADER;
		if (n > left)
			n = left;
		if (n > STREAM_PIECE_MAX)
			n = STREAM_PIECE_MAX;
		f[P_TYPE] = STREAM_PIECE;
		f[P_FLAGS] = (uint8_t)((p->off == 0 ? STREAM_FIRST : 0) |
		                       (p->off + n == p->len ? STREAM_LAST : 0));
		put64(f + P_TID, p->tid);
		put32(f + P_TOTAL, (uint32_t)p->len);
		put32(f + P_OFFSET, (uint32_t)p->off);
		put16(f + P_LEN, (uint16_t)n);
		if (n > 0)
			memcpy(f + STREAM_PIECE_HEADER, p->rec + p->off, n);
		p->used += STREAM_PIECE_HEADER + n;
		p->off += n;
		if (p->off == p->len)
			p->pending = 0;
	}
}

int stream_packer_begin(struct stream_packer *p, uint8_t *block)
{
	if (p->block)
		return TIP_EBUSY;
	p->block = block;
	p->used = 0;
	pack(p);
	return TIP_OK;
}

int stream_packer_put(struct stream_packer *p, uint64_t tid, const uint8_t *rec, size_t len)
{
	if (p->pending)
		return TIP_EBUSY;
	if (len > STREAM_RECORD_MAX)
		return TIP_EOVERSIZE;
	p->rec = rec;
	p->len = len;
	p->off = 0;
	p->tid = tid;
	p->pending = 1;
	pack(p);
	return TIP_OK;
}

int stream_packer_pending(const struct stream_packer *p)
{
	return p->pending;
}

int stream_packer_is_open(const struct stream_packer *p)
{
	return p->block != NULL;
}

int stream_packer_full(const struct stream_packer *p)
{
	return p->block && p->block_len - p->used < STREAM_BLOCK_MIN;
}

size_t stream_packer_used(const struct stream_packer *p)
{
	return p->block ? p->used : 0;
}

size_t stream_packer_end(struct stream_packer *p)
{
	size_t used = p->used;

	if (!p->block)
		return 0;
	memset(p->block + used, 0, p->block_len - used);
	p->block = NULL;
	p->used = 0;
	return used;
}

/* --- Reassembler --- */

struct range {
	uint32_t lo, hi; /* [lo, hi) */
};

struct pending {
	struct pending *prev, *next; /* oldest first */
	uint64_t tid, last_block;
	uint32_t total, have;
	struct range *ranges; /* sorted, disjoint, not touching */
	unsigned nranges, ranges_cap;
	uint8_t *buf;
};

struct stream_rx {
	struct stream_rx_opts o;
	stream_deliver_fn deliver;
	void *arg;
	struct pending *oldest, *newest;
	uint64_t dead[DEAD_MAX];
	unsigned dead_n, dead_next;
	struct stream_rx_stats st;
};

struct stream_rx_opts stream_rx_opts_default(void)
{
	return (struct stream_rx_opts){
	        .max_record = (size_t)32 << 20,
	        .mem_cap = (size_t)64 << 20,
	        .max_pending = 4096,
	};
}

struct stream_rx *stream_rx_new(const struct stream_rx_opts *o, stream_deliver_fn deliver, void *arg,
                                int *err)
{
	struct stream_rx_opts d = o ? *o : stream_rx_opts_default();
	struct stream_rx *r;

	if (!deliver || d.max_record < 1 || d.max_record > STREAM_RECORD_MAX || d.mem_cap < d.max_record ||
	    d.max_pending < 1 || d.max_pending > 1000000) {
		*err = TIP_EINVAL;
		return NULL;
	}
	if (!(r = calloc(1, sizeof(*r)))) {
		*err = TIP_ENOMEM;
		return NULL;
	}
	r->o = d;
	r->deliver = deliver;
	r->arg = arg;
	*err = TIP_OK;
	return r;
}

static size_t pending_bytes(const struct pending *p)
{
	return sizeof(*p) + p->total + (size_t)p->ranges_cap * sizeof(struct range);
}

static void bury(struct stream_rx *r, uint64_t tid)
{
	r->dead[r->dead_next] = tid;
	r->dead_next = (r->dead_next + 1) % DEAD_MAX;
	if (r->dead_n < DEAD_MAX)
		r->dead_n++;
}

static int is_dead(const struct stream_rx *r, uint64_t tid)
{
	for (unsigned i = 0; i < r->dead_n; i++)
		if (r->dead[i] == tid)
			return 1;
	return 0;
}

static void drop(struct stream_rx *r, struct pending *p)
{
	bury(r, p->tid);
	if (p->prev)
		p->prev->next = p->next;
	else
		r->oldest = p->next;
	if (p->next)
		p->next->prev = p->prev;
	else
		r->newest = p->prev;
	r->st.pending--;
	r->st.pending_bytes -= pending_bytes(p);
	free(p->ranges);
	free(p->buf);
	free(p);
}

void stream_rx_reset(struct stream_rx *r)
{
	while (r->oldest) {
		r->st.incomplete++;
		drop(r, r->oldest);
	}
	/* Transfer ids start again in a new session. */
	r->dead_n = 0;
	r->dead_next = 0;
}

void stream_rx_free(struct stream_rx *r)
{
	if (!r)
		return;
	stream_rx_reset(r);
	free(r);
}

void stream_rx_settle(struct stream_rx *r, uint64_t block)
{
	struct pending *p = r->oldest, *next;

	for (; p; p = next) {
		next = p->next;
		if (p->last_block < block && block - p->last_block > 1) {
			r->st.incomplete++;
			drop(r, p);
		}
	}
}

void stream_rx_stats(const struct stream_rx *r, struct stream_rx_stats *out)
{
	*out = r->st;
}

static struct pending *find(struct stream_rx *r, uint64_t tid)
{
	/* Newest first: the record a piece belongs to almost always started recently. */
	for (struct pending *p = r->newest; p; p = p->prev)
		if (p->tid == tid)
			return p;
	return NULL;
}

static struct pending *create(struct stream_rx *r, uint64_t tid, uint32_t total)
{
	struct pending *p;
	size_t need = sizeof(*p) + total + 4 * sizeof(struct range);

	if (need > r->o.mem_cap)
		return NULL;
	while (r->oldest &&
	       (r->st.pending_bytes + need > r->o.mem_cap || r->st.pending >= r->o.max_pending)) {
		r->st.evicted++;
		drop(r, r->oldest);
	}
	if (!(p = calloc(1, sizeof(*p))))
		return NULL;
	p->ranges_cap = 4;
	if (!(p->ranges = malloc(p->ranges_cap * sizeof(*p->ranges))) || !(p->buf = malloc(total))) {
		free(p->ranges);
		free(p);
		return NULL;
	}
	p->tid = tid;
	p->total = total;
	p->prev = r->newest;
	if (r->newest)
		r->newest->next = p;
	else
		r->oldest = p;
	r->newest = p;
	r->st.pending++;
	r->st.pending_bytes += pending_bytes(p);
	return p;
}

/* Adds [lo, hi) to p's ranges. 0 on success, TIP_EDECODE for an overlap or too many ranges,
 * TIP_ENOMEM. */
static int add_range(struct stream_rx *r, struct pending *p, uint32_t lo, uint32_t hi)
{
	unsigned i = 0;
	int join_prev, join_next;

	while (i < p->nranges && p->ranges[i].hi <= lo)
		i++;
	/* ranges[i] is the first that ends after lo: it must start at or after hi. */
	if (i < p->nranges && p->ranges[i].lo < hi)
		return TIP_EDECODE;
	join_prev = i > 0 && p->ranges[i - 1].hi == lo;
	join_next = i < p->nranges && p->ranges[i].lo == hi;
	if (join_prev && join_next) {
		p->ranges[i - 1].hi = p->ranges[i].hi;
		memmove(p->ranges + i, p->ranges + i + 1, (p->nranges - i - 1) * sizeof(*p->ranges));
		p->nranges--;
	} else if (join_prev) {
		p->ranges[i - 1].hi = hi;
	} else if (join_next) {
		p->ranges[i].lo = lo;
	} else {
		if (p->nranges == p->ranges_cap) {
			unsigned cap = p->ranges_cap * 2;
			struct range *n;

			size_t extra = (size_t)(cap - p->ranges_cap) * sizeof(*n);

			if (cap > RANGES_MAX)
				return TIP_EDECODE;
			/* The cap holds for bookkeeping too: older records make room, or this one goes. */
			while (r->oldest != p && r->st.pending_bytes + extra > r->o.mem_cap) {
				r->st.evicted++;
				drop(r, r->oldest);
			}
			if (r->st.pending_bytes + extra > r->o.mem_cap ||
			    !(n = realloc(p->ranges, cap * sizeof(*n))))
				return TIP_ENOMEM;
			r->st.pending_bytes += extra;
			p->ranges = n;
			p->ranges_cap = cap;
		}
		memmove(p->ranges + i + 1, p->ranges + i, (p->nranges - i) * sizeof(*p->ranges));
		p->ranges[i].lo = lo;
		p->ranges[i].hi = hi;
		p->nranges++;
	}
	return 0;
}

/* One checked piece. Returns 0, or TIP_EDECODE if it conflicts with pieces already held. */
static int piece(struct stream_rx *r, uint64_t block, uint64_t tid, uint32_t total, uint32_t off,
                 uint32_t len, const uint8_t *data)
{
	struct pending *p;
	int rc;

	if (off == 0 && len == total) {
		r->st.pieces++;
		r->st.records++;
		r->st.record_bytes += total;
		r->deliver(r->arg, tid, data, total);
		return 0;
	}
	if (!(p = find(r, tid))) {
		if (is_dead(r, tid)) {
			r->st.stale++;
			return 0;
		}
		if (!(p = create(r, tid, total))) {
			/* Larger than the whole cap, or out of memory: lost like a record pushed out. */
			r->st.evicted++;
			bury(r, tid);
			return 0;
		}
	} else if (p->total != total) {
		return TIP_EDECODE;
	}
	rc = add_range(r, p, off, off + len);
	if (rc == TIP_ENOMEM) {
		r->st.evicted++;
		drop(r, p);
		return 0;
	}
	if (rc != 0)
		return rc;
	memcpy(p->buf + off, data, len);
	p->have += len;
	if (block > p->last_block)
		p->last_block = block;
	r->st.pieces++;
	if (p->have == p->total) {
		r->st.records++;
		r->st.record_bytes += total;
		r->deliver(r->arg, tid, p->buf, total);
		/* drop() remembers the id, so a repeated piece cannot start the record again. */
		drop(r, p);
	}
	return 0;
}

int stream_rx_block(struct stream_rx *r, uint64_t block, const uint8_t *data, size_t len)
{
	size_t pos = 0;
	int rc = TIP_OK;

	r->st.blocks++;
	while (pos < len) {
		const uint8_t *f = data + pos;
		uint64_t tid;
		uint32_t total, off, n;
		uint8_t flags;

		if (f[P_TYPE] == STREAM_PAD) {
			if (!all_zero(f, len - pos))
				goto malformed;
			break;
		}
		if (f[P_TYPE] != STREAM_PIECE || len - pos < STREAM_PIECE_HEADER)
			goto malformed;
		flags = f[P_FLAGS];
		tid = get64(f + P_TID);
		total = get32(f + P_TOTAL);
		off = get32(f + P_OFFSET);
		n = get16(f + P_LEN);
		if (n > len - pos - STREAM_PIECE_HEADER)
			goto malformed;
		pos += STREAM_PIECE_HEADER + n;
		/* From here the frame's extent is known, so a bad piece does not stop the parse. */
		if ((flags & ~(STREAM_FIRST | STREAM_LAST)) != 0 || total > r->o.max_record || off > total ||
		    n > total - off || (n == 0 && total != 0) ||
		    ((flags & STREAM_FIRST) != 0) != (off == 0) ||
		    ((flags & STREAM_LAST) != 0) != (off + n == total) ||
		    piece(r, block, tid, total, off, n, f + STREAM_PIECE_HEADER) != 0) {
			r->st.malformed++;
			rc = TIP_EDECODE;
		}
	}
	return rc;
malformed:
	r->st.malformed++;
	return TIP_EDECODE;
}

/* --- Heartbeat --- */

#define HB_FIXED (1 + 8 + 1 + 8 + REC_HASH_LEN)

size_t stream_hb_entry_len(const struct stream_hb_origin *o)
{
	return HB_FIXED + strnlen(o->origin, sizeof(o->origin));
}

int stream_hb_encode(const struct stream_hb_origin *o, size_t n, uint8_t *out, size_t cap, size_t *taken)
{
	size_t pos = 1, i;

	*taken = 0;
	if (cap < 1)
		return TIP_EOVERSIZE;
	for (i = 0; i < n && i < STREAM_HB_MAX; i++) {
		size_t olen = strnlen(o[i].origin, sizeof(o[i].origin));

		if (olen > REC_ORIGIN_MAX || !rec_origin_ok(o[i].origin) ||
		    (o[i].has_seq != 0 && o[i].has_seq != 1) || (!o[i].has_seq && o[i].highest_seq != 0))
			return TIP_EINVAL;
		if (cap - pos < HB_FIXED + olen)
			break;
		out[pos++] = (uint8_t)olen;
		memcpy(out + pos, o[i].origin, olen);
		pos += olen;
		put64(out + pos, o[i].highest_seq);
		pos += 8;
		out[pos++] = (uint8_t)o[i].has_seq;
		put64(out + pos, o[i].checkpoint_size);
		pos += 8;
		memcpy(out + pos, o[i].checkpoint_hash, REC_HASH_LEN);
		pos += REC_HASH_LEN;
	}
	if (n > 0 && i == 0)
		return TIP_EOVERSIZE;
	out[0] = (uint8_t)i;
	memset(out + pos, 0, cap - pos);
	*taken = i;
	return TIP_OK;
}

int stream_hb_decode(const uint8_t *buf, size_t len, struct stream_hb_origin *out, size_t max, size_t *n)
{
	size_t pos = 1, count;

	if (len < 1)
		return TIP_ETRUNCATED;
	count = buf[0];
	if (count > max)
		return TIP_EOVERSIZE;
	for (size_t i = 0; i < count; i++) {
		struct stream_hb_origin *e = out + i;
		size_t olen;

		if (len - pos < 1)
			return TIP_ETRUNCATED;
		olen = buf[pos++];
		if (olen < 1 || olen > REC_ORIGIN_MAX)
			return TIP_EDECODE;
		if (len - pos < olen + HB_FIXED - 1)
			return TIP_ETRUNCATED;
		memcpy(e->origin, buf + pos, olen);
		e->origin[olen] = '\0';
		pos += olen;
		if (!rec_origin_ok(e->origin))
			return TIP_EDECODE;
		for (size_t j = 0; j < i; j++)
			if (strcmp(out[j].origin, e->origin) == 0)
				return TIP_EDECODE;
		e->highest_seq = get64(buf + pos);
		pos += 8;
		if (buf[pos] > 1 || (buf[pos] == 0 && e->highest_seq != 0))
			return TIP_EDECODE;
		e->has_seq = buf[pos++];
		e->checkpoint_size = get64(buf + pos);
		pos += 8;
		memcpy(e->checkpoint_hash, buf + pos, REC_HASH_LEN);
		pos += REC_HASH_LEN;
	}
	if (!all_zero(buf + pos, len - pos))
		return TIP_EDECODE;
	*n = count;
	return TIP_OK;
}
