/*
 * Forward error correction for the diode: systematic Reed-Solomon erasure coding over GF(2^8) with
 * ISA-L, generator matrix from gf_gen_cauchy1_matrix (identity on top of a Cauchy matrix). A block
 * is k data symbols and m repair symbols of symbol_size bytes each, k >= 1, k + m <= 255; any k of
 * the k + m symbols give back the data. Symbol i < k is data bytes [i*S, (i+1)*S); symbol k + j is
 * repair row j. docs/formats/diode.md has the exact coefficients; docs/internals/diode-link.md
 * the costs.
 *
 * Encoding: struct fec holds the precomputed tables of one (k, m, S). It is read-only after
 * fec_new(), so any number of threads may encode with it at once.
 *
 * Decoding: a struct fec_pool owns the memory of blocks being received, up to a byte cap, plus
 * the scratch space of decoding; a struct fec_block collects one block's symbols in any order.
 * A pool and its blocks belong to one thread. Nothing is allocated per symbol; a block's memory
 * is reused after fec_block_free().
 */
#ifndef TIP_DIODE_FEC_H
#define TIP_DIODE_FEC_H

#include <stddef.h>
#include <stdint.h>

#define FEC_N_MAX 255
/* Longest symbol: the payload of the largest datagram. */
#define FEC_SYMBOL_MAX 65535

struct fec;

/* Tables for k data and m repair symbols of symbol_size bytes. NULL with *err = TIP_EINVAL (k = 0,
 * k + m > 255, symbol_size 0 or > FEC_SYMBOL_MAX) or TIP_ENOMEM. */
struct fec *fec_new(unsigned k, unsigned m, size_t symbol_size, int *err);
void fec_free(struct fec *f); /* NULL is safe */

/* Computes the m repair symbols (m * S bytes, contiguous) of the k data symbols (k * S bytes,
 * contiguous). Neither buffer needs any alignment; they must not overlap. */
void fec_encode(const struct fec *f, const uint8_t *data, uint8_t *repair);

/* The first `rows` repair symbols only (rows <= m; more is clamped): repair row j of the (k, m)
 * code is the same for every m > j, so one struct fec built for the most rows serves a block of
 * any m up to it. */
void fec_encode_rows(const struct fec *f, const uint8_t *data, uint8_t *repair, unsigned rows);

struct fec_pool;
struct fec_block;

/* A pool for blocks of symbol_size-byte symbols that holds at most cap bytes of block memory
 * (a block of k + m symbols takes about (k + m) * S bytes). NULL with *err = TIP_EINVAL
 * (symbol_size 0 or > FEC_SYMBOL_MAX, or cap too small for one block of 255 symbols) or TIP_ENOMEM. */
struct fec_pool *fec_pool_new(size_t symbol_size, size_t cap, int *err);
/* Frees the pool and every block still taken from it (their pointers become invalid); NULL is safe. */
void fec_pool_free(struct fec_pool *p);
/* Bytes of block memory the pool holds (blocks in use and kept for reuse); never above cap. */
size_t fec_pool_bytes(const struct fec_pool *p);
/* Blocks currently taken from the pool. */
size_t fec_pool_blocks(const struct fec_pool *p);

/* An empty block of geometry (k, m). NULL with *err = TIP_EINVAL (bad geometry), TIP_EFULL (the
 * pool is at its cap: free a block first) or TIP_ENOMEM. */
struct fec_block *fec_block_new(struct fec_pool *p, unsigned k, unsigned m, int *err);
/* Returns the block's memory to its pool; NULL is safe. */
void fec_block_free(struct fec_block *b);

/*
 * Adds symbol number index (S bytes) of a block whose datagram said (k, m). Returns 1 if stored,
 * 0 if ignored (a duplicate, or the block already has k symbols), TIP_ERANGE if index >= k + m,
 * TIP_EINVAL if (k, m) differ from the block's.
 */
int fec_block_add(struct fec_block *b, unsigned k, unsigned m, unsigned index, const uint8_t *symbol);
/* Distinct symbols stored so far (at most k). */
unsigned fec_block_count(const struct fec_block *b);
/* 1 once the block has k symbols and can be decoded. */
int fec_block_ready(const struct fec_block *b);

/*
 * Rebuilds the missing data symbols. On TIP_OK, *data points at the k * S data bytes (inside the
 * block, valid until fec_block_free) and *rebuilt (may be NULL) holds how many data symbols were
 * missing. Decoding twice returns the same bytes. TIP_ETRUNCATED if fewer than k symbols arrived
 * (the block is unrecoverable, for now); TIP_EINVAL if the surviving rows do not invert, which
 * the Cauchy construction rules out.
 */
int fec_block_decode(struct fec_block *b, const uint8_t **data, unsigned *rebuilt);

#endif
