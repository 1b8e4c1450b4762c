/*
 * Stands in for libFuzzer when the tree is built without it (gcc, sanitizer
 * builds): replays every file of a corpus folder through the target, then a
 * fixed number of deterministic mutations of them (bit flips, truncations,
 * splices, random bytes). Same seed, same inputs: a failure reproduces.
 * Usage: <target> corpus-dir [mutations] (20,000 by default).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#define REPLAY_MAX_INPUT (1 << 16)
#define REPLAY_MAX_SEEDS 256
#define MUTATIONS        20000 /* by default */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static size_t load_seeds(const char *dir, uint8_t **seeds, size_t *lens)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) && n < REPLAY_MAX_SEEDS) {
		char path[4096];
		FILE *f;

		if (e->d_name[0] == '.' ||
		    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path))
			continue;
		if (!(f = fopen(path, "rb")))
			continue;
		seeds[n] = malloc(REPLAY_MAX_INPUT);
		if (seeds[n]) {
			lens[n] = fread(seeds[n], 1, REPLAY_MAX_INPUT, f);
			n++;
		}
		fclose(f);
	}
	closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	static uint8_t *seeds[REPLAY_MAX_SEEDS];
	static size_t lens[REPLAY_MAX_SEEDS];
	static uint8_t buf[REPLAY_MAX_INPUT];
	size_t n = argc > 1 ? load_seeds(argv[1], seeds, lens) : 0;
	int mutations = argc > 2 ? atoi(argv[2]) : MUTATIONS;

	for (size_t i = 0; i < n; i++)
		LLVMFuzzerTestOneInput(seeds[i], lens[i]);
	for (int round = 0; round < mutations; round++) {
		size_t len;

		if (n == 0 || rng() % 8 == 0) {
			len = rng() % 512;
			for (size_t i = 0; i < len; i++)
				buf[i] = (uint8_t)rng();
		} else {
			size_t s = rng() % n;

			len = lens[s];
			memcpy(buf, seeds[s], len);
			switch (rng() % 4) {
			case 0: /* flip a few bits */
				for (int k = 0; k < 1 + (int)(rng() % 4) && len; k++)
					buf[rng() % len] ^= (uint8_t)(1u << (rng() % 8));
				break;
			case 1: /* truncate */ len = len ? rng() % len : 0; break;
			case 2: { /* overwrite a byte with an interesting value */
				static const uint8_t v[] = {0x00, 0x01, 0x7f, 0x80, 0xff};

				if (len)
					buf[rng() % len] = v[rng() % sizeof(v)];
				break;
			}
			default: { /* splice the tail of another seed */
				size_t o = rng() % n, at = len ? rng() % len : 0,
				       from = lens[o] ? rng() % lens[o] : 0;
				size_t take = lens[o] - from;

				if (at + take > REPLAY_MAX_INPUT)
					take = REPLAY_MAX_INPUT - at;
				memcpy(buf + at, seeds[o] + from, take);
				len = at + take;
				break;
			}
			}
		}
		LLVMFuzzerTestOneInput(buf, len);
	}
	for (size_t i = 0; i < n; i++)
		free(seeds[i]);
	printf("replayed %zu seeds and %d mutations\n", n, mutations);
	return 0;
}
