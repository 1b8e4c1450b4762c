#include "diode/fec.h"

#include "common/err.h"

#include <isa-l/erasure_code.h>

#include <stdlib.h>
#include <string.h>

/* r missing data symbols are rebuilt from r repair rows; r <= m and r <= k with k + m <= 255. */
#define R_MAX 127
/* Decoding coefficients: r rows of k; the largest r * k with r <= min(k, 255 - k) is 127 * 128. */
#define COEF_MAX (R_MAX * (R_MAX + 1))

struct fec {
	unsigned k, m;
	size_t symbol_size;
	uint8_t *tables; /* ec_init_tables() output for the m repair rows: 32 * k * m bytes */
};

static int geometry_ok(unsigned k, unsigned m)
{
	return k >= 1 && k + m <= FEC_N_MAX;
}

struct fec *fec_new(unsigned k, unsigned m, size_t symbol_size, int *err)
{
	struct fec *f = NULL;
	uint8_t *matrix = NULL;

	*err = TIP_EINVAL;
	if (!geometry_ok(k, m) || symbol_size == 0 || symbol_size > FEC_SYMBOL_MAX)
		return NULL;
	*err = TIP_ENOMEM;
	if (!(f = calloc(1, sizeof(*f))))
		goto out;
	f->k = k;
	f->m = m;
	f->symbol_size = symbol_size;
	if (m > 0) {
		if (!(matrix = malloc((size_t)(k + m) * k)) || !(f->tables = malloc((size_t)32 * k * m)))
			goto out;
		gf_gen_cauchy1_matrix(matrix, (int)(k + m), (int)k);
		/* Only the repair rows are computed; the identity rows are the data itself. */
		ec_init_tables((int)k, (int)m, matrix + (size_t)k * k, f->tables);
	}
	*err = TIP_OK;
out:
	free(matrix);
	if (*err != TIP_OK) {
		fec_free(f);
		f = NULL;
	}
	return f;
}

void fec_free(struct fec *f)
{
	if (!f)
		return;
	free(f->tables);
	free(f);
}

void fec_encode_rows(const struct fec *f, const uint8_t *data, uint8_t *repair, unsigned rows)
{
	uint8_t *src[FEC_N_MAX], *dst[FEC_N_MAX];

	if (rows > f->m)
		rows = f->m;
	if (rows == 0)
		return;
	/* ISA-L's prototype lacks const; it only reads the sources. */
	for (unsigned i = 0; i < f->k; i++)
		src[i] = (uint8_t *)(uintptr_t)(data + (size_t)i * f->symbol_size);
	for (unsigned j = 0; j < rows; j++)
		dst[j] = repair + (size_t)j * f->symbol_size;
	/* The tables hold 32 * k bytes per repair row, so the first rows' tables are a prefix. */
	ec_encode_data((int)f->symbol_size, (int)f->k, (int)rows, f->tables, src, dst);
}

void fec_encode(const struct fec *f, const uint8_t *data, uint8_t *repair)
{
	fec_encode_rows(f, data, repair, f->m);
}

struct fec_block {
	struct fec_pool *pool;
	struct fec_block *prev, *next; /* the pool's in-use list, or next = the free list's next */
	size_t bytes;                  /* what this allocation counts against the pool's cap */
	size_t room;                   /* symbol bytes buf can hold */
	unsigned k, m, count, rebuilt;
	int decoded;
	uint8_t present[FEC_N_MAX];
	uint8_t *buf; /* symbol i at i * S, for i < k + m */
};

struct fec_pool {
	size_t symbol_size, cap, bytes, blocks;
	struct fec_block *free_list, *in_use;
	/* Decoding scratch, sized once for the worst geometry. */
	uint8_t a[R_MAX * R_MAX], inv[R_MAX * R_MAX], coef[COEF_MAX], b[COEF_MAX];
	uint8_t *tables; /* 32 * COEF_MAX */
};

struct fec_pool *fec_pool_new(size_t symbol_size, size_t cap, int *err)
{
	struct fec_pool *p;

	*err = TIP_EINVAL;
	if (symbol_size == 0 || symbol_size > FEC_SYMBOL_MAX ||
	    cap < sizeof(struct fec_block) + FEC_N_MAX * symbol_size)
		return NULL;
	*err = TIP_ENOMEM;
	if (!(p = calloc(1, sizeof(*p))))
		return NULL;
	if (!(p->tables = malloc((size_t)32 * COEF_MAX))) {
		free(p);
		return NULL;
	}
	p->symbol_size = symbol_size;
	p->cap = cap;
	*err = TIP_OK;
	return p;
}

static void release(struct fec_pool *p, struct fec_block *b)
{
	p->bytes -= b->bytes;
	free(b);
}

void fec_pool_free(struct fec_pool *p)
{
	if (!p)
		return;
	while (p->in_use)
		fec_block_free(p->in_use);
	while (p->free_list) {
		struct fec_block *b = p->free_list;

		p->free_list = b->next;
		release(p, b);
	}
	free(p->tables);
	free(p);
}

size_t fec_pool_bytes(const struct fec_pool *p)
{
	return p->bytes;
}

size_t fec_pool_blocks(const struct fec_pool *p)
{
	return p->blocks;
}

struct fec_block *fec_block_new(struct fec_pool *p, unsigned k, unsigned m, int *err)
{
	struct fec_block *b = NULL, **link;
	size_t room;

	if (!geometry_ok(k, m)) {
		*err = TIP_EINVAL;
		return NULL;
	}
	room = (size_t)(k + m) * p->symbol_size;
	for (link = &p->free_list; *link; link = &(*link)->next)
		if ((*link)->room >= room) {
			b = *link;
			*link = b->next;
			break;
		}
	if (!b) {
		size_t bytes = sizeof(*b) + room;

		/* Memory kept for reuse is given back before the pool says it is full. */
		while (p->bytes + bytes > p->cap && p->free_list) {
			struct fec_block *f = p->free_list;

			p->free_list = f->next;
			release(p, f);
		}
		if (p->bytes + bytes > p->cap) {
			*err = TIP_EFULL;
			return NULL;
		}
		if (!(b = malloc(bytes))) {
			*err = TIP_ENOMEM;
			return NULL;
		}
		b->bytes = bytes;
		b->room = room;
		b->buf = (uint8_t *)(b + 1);
		p->bytes += bytes;
	}
	b->pool = p;
	b->prev = NULL;
	b->next = p->in_use;
	if (p->in_use)
		p->in_use->prev = b;
	p->in_use = b;
	b->k = k;
	b->m = m;
	b->count = 0;
	b->rebuilt = 0;
	b->decoded = 0;
	memset(b->present, 0, sizeof(b->present));
	p->blocks++;
	*err = TIP_OK;
	return b;
}

void fec_block_free(struct fec_block *b)
{
	struct fec_pool *p;

	if (!b)
		return;
	p = b->pool;
	if (b->prev)
		b->prev->next = b->next;
	else
		p->in_use = b->next;
	if (b->next)
		b->next->prev = b->prev;
	p->blocks--;
	b->next = p->free_list;
	p->free_list = b;
}

int fec_block_add(struct fec_block *b, unsigned k, unsigned m, unsigned index, const uint8_t *symbol)
{
	size_t s = b->pool->symbol_size;

	if (k != b->k || m != b->m)
		return TIP_EINVAL;
	if (index >= k + m)
		return TIP_ERANGE;
	if (b->present[index] || b->count >= k)
		return 0;
	memcpy(b->buf + (size_t)index * s, symbol, s);
	b->present[index] = 1;
	b->count++;
	return 1;
}

unsigned fec_block_count(const struct fec_block *b)
{
	return b->count;
}

int fec_block_ready(const struct fec_block *b)
{
	return b->count >= b->k;
}

/* Generator coefficient of repair row `row` (k <= row < k + m) for data column col: exactly what
 * gf_gen_cauchy1_matrix() puts there, 1 / (row + col) in GF(2^8), where + is XOR. */
static uint8_t cauchy(unsigned row, unsigned col)
{
	return gf_inv((uint8_t)(row ^ col));
}

/*
 * With the missing data indices E, present data indices P and r present repair rows R:
 * y_R = A d_E + B d_P, where A = C[R][E] and B = C[R][P], so d_E = A^-1 y_R + (A^-1 B) d_P.
 * Only the r x r matrix A is inverted (not k x k); the product A^-1 B is itself computed by
 * ec_encode_data() over the rows of B; then one ec_encode_data() pass over the k surviving
 * symbols writes the r missing ones. Set-up is O(r^3 + r k) table work, small next to the pass.
 */
int fec_block_decode(struct fec_block *b, const uint8_t **data, unsigned *rebuilt)
{
	struct fec_pool *p = b->pool;
	size_t s = p->symbol_size;
	unsigned k = b->k, n = b->k + b->m, e[R_MAX], rows[R_MAX], r = 0, np = 0;
	uint8_t *src[FEC_N_MAX], *dst[FEC_N_MAX];

	if (b->decoded)
		goto done;
	if (b->count < k)
		return TIP_ETRUNCATED;
	for (unsigned i = 0; i < k; i++)
		if (!b->present[i])
			e[r++] = i;
	if (r == 0)
		goto decoded;
	for (unsigned j = k, u = 0; j < n && u < r; j++)
		if (b->present[j])
			rows[u++] = j;

	/* A (r x r) and B (r x (k - r), columns in the order of the present data symbols). */
	for (unsigned u = 0; u < r; u++)
		for (unsigned t = 0; t < r; t++)
			p->a[u * r + t] = cauchy(rows[u], e[t]);
	for (unsigned i = 0; i < k; i++) {
		if (!b->present[i])
			continue;
		for (unsigned u = 0; u < r; u++)
			p->b[u * (k - r) + np] = cauchy(rows[u], i);
		src[np++] = b->buf + (size_t)i * s;
	}
	if (gf_invert_matrix(p->a, p->inv, (int)r) != 0)
		return TIP_EINVAL;

	/* Coefficient row t: (A^-1 B)[t] for the present data symbols, then A^-1[t] for the repair rows. */
	if (np > 0) {
		uint8_t *brow[R_MAX], *crow[R_MAX];

		for (unsigned u = 0; u < r; u++)
			brow[u] = p->b + (size_t)u * np;
		for (unsigned t = 0; t < r; t++)
			crow[t] = p->coef + (size_t)t * k;
		ec_init_tables((int)r, (int)r, p->inv, p->tables);
		ec_encode_data((int)np, (int)r, (int)r, p->tables, brow, crow);
	}
	for (unsigned t = 0; t < r; t++)
		memcpy(p->coef + (size_t)t * k + np, p->inv + (size_t)t * r, r);
	for (unsigned u = 0; u < r; u++)
		src[np + u] = b->buf + (size_t)rows[u] * s;
	for (unsigned t = 0; t < r; t++)
		dst[t] = b->buf + (size_t)e[t] * s;
	ec_init_tables((int)k, (int)r, p->coef, p->tables);
	ec_encode_data((int)s, (int)k, (int)r, p->tables, src, dst);
	for (unsigned t = 0; t < r; t++)
		b->present[e[t]] = 1;
decoded:
	b->rebuilt = r;
	b->decoded = 1;
done:
	*data = b->buf;
	if (rebuilt)
		*rebuilt = b->rebuilt;
	return TIP_OK;
}
