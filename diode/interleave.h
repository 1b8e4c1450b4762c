/*
 * Interleaving: the order in which the datagrams of a group of blocks go out. A group is up to
 * `depth` consecutive blocks; its datagrams are sent symbol-major (symbol 0 of every block, then
 * symbol 1 of every block, ...), skipping a block once its symbols are all out (only a group's
 * last block, closed early by a flush, is shorter). So L consecutive lost datagrams cost each
 * block of a group of G blocks of equal length at most ceil(L / G) symbols. The receiver needs
 * none of this: every datagram names its block and symbol index.
 */
#ifndef TIP_DIODE_INTERLEAVE_H
#define TIP_DIODE_INTERLEAVE_H

#define IL_BLOCKS_MAX 64

struct il_iter {
	unsigned blocks, block, symbol, longest;
	unsigned n[IL_BLOCKS_MAX];
};

/* Starts the order of a group of `blocks` blocks (1..IL_BLOCKS_MAX; fewer is clamped) where block b
 * has n[b] symbols. */
void il_start(struct il_iter *it, unsigned blocks, const unsigned *n);

/* The next datagram: *block (0-based in the group) and *symbol. Returns 1, or 0 when every symbol
 * of the group has been given. */
int il_next(struct il_iter *it, unsigned *block, unsigned *symbol);

#endif
