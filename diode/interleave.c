#include "diode/interleave.h"

void il_start(struct il_iter *it, unsigned blocks, const unsigned *n)
{
	if (blocks > IL_BLOCKS_MAX)
		blocks = IL_BLOCKS_MAX;
	it->blocks = blocks;
	it->block = 0;
	it->symbol = 0;
	it->longest = 0;
	for (unsigned b = 0; b < blocks; b++) {
		it->n[b] = n[b];
		if (n[b] > it->longest)
			it->longest = n[b];
	}
}

int il_next(struct il_iter *it, unsigned *block, unsigned *symbol)
{
	while (it->symbol < it->longest) {
		unsigned b = it->block, s = it->symbol;

		if (++it->block == it->blocks) {
			it->block = 0;
			it->symbol++;
		}
		if (s < it->n[b]) {
			*block = b;
			*symbol = s;
			return 1;
		}
	}
	return 0;
}
