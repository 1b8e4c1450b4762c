/*
 * Merkle tree figures for 1,000,000 leaves: appends (leaf hashing included) to a tree on disk
 * under TMPDIR (one fsync per full tile, one commit at the end) and in memory; reopening the
 * committed tree (its root is recomputed and checked); then, on the reopened tree with its default
 * 4 MiB tile cache, roots of random past sizes, inclusion and consistency proofs for random
 * arguments, and inclusion proof verification. Output: a line per figure, then
 *   bench merkle: leaves=N append_disk=N/s append_mem=N/s reopen_ms=X root_at=N/s incl_proof=N/s
 *                 cons_proof=N/s verify_incl=N/s
 */
#include "common/err.h"
#include "diode/merkle.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LEAVES  1000000u
#define QUERIES 100000u
#define HL      MERKLE_HASH_LEN

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void check(const char *what, int rc)
{
	if (rc != TIP_OK) {
		fprintf(stderr, "bench_merkle: %s: %s\n", what, tip_strerror(rc));
		exit(1);
	}
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Appends LEAVES leaves (a 64-byte record each, hashed here) and returns the rate. */
static double fill(struct merkle *t)
{
	double t0 = now();

	for (uint64_t i = 0; i < LEAVES; i++) {
		uint64_t record[8] = {i, i * 3, i * 5, i * 7, i * 11, i * 13, i * 17, i * 19};
		uint8_t h[HL];

		merkle_leaf_hash(record, sizeof(record), h);
		check("append", merkle_append(t, h, NULL));
	}
	check("sync", merkle_sync(t));
	return LEAVES / (now() - t0);
}

int main(void)
{
	struct merkle_opts o = merkle_opts_default();
	char *base = tu_mkdtemp(), dir[4096];
	struct merkle *t, *mem;
	uint8_t root[HL], root_mem[HL], proof[MERKLE_PROOF_MAX * HL];
	double append_disk, append_mem, reopen_ms, r_root, r_incl, r_cons, r_verify, t0;
	size_t len;
	int err;

	snprintf(dir, sizeof(dir), "%s/tree", base);
	if (!(t = merkle_open(dir, MERKLE_CREATE, NULL, &err)))
		check("open", err);
	append_disk = fill(t);
	check("close", merkle_close(t));
	printf("append to a tree on disk: %.0f leaves/s\n", append_disk);

	o.mem_max_size = LEAVES;
	if (!(mem = merkle_new(&o)))
		check("new", TIP_ENOMEM);
	append_mem = fill(mem);
	printf("append to a tree in memory: %.0f leaves/s\n", append_mem);

	t0 = now();
	if (!(t = merkle_open(dir, 0, NULL, &err)))
		check("reopen", err);
	reopen_ms = (now() - t0) * 1e3;
	merkle_root(t, root);
	merkle_root(mem, root_mem);
	if (merkle_size(t) != LEAVES || memcmp(root, root_mem, HL) != 0) {
		fprintf(stderr, "bench_merkle: the reopened tree differs\n");
		return 1;
	}
	printf("reopen (root recomputed and checked): %.2f ms\n", reopen_ms);

	t0 = now();
	for (unsigned q = 0; q < QUERIES; q++)
		check("root_at", merkle_root_at(t, 1 + rng() % LEAVES, root));
	r_root = QUERIES / (now() - t0);
	printf("root at a random past size: %.0f/s\n", r_root);

	t0 = now();
	for (unsigned q = 0; q < QUERIES; q++)
		check("inclusion",
		      merkle_inclusion_proof(t, rng() % LEAVES, LEAVES, proof, sizeof(proof), &len));
	r_incl = QUERIES / (now() - t0);
	printf("inclusion proof, random leaf, full tree: %.0f/s\n", r_incl);

	t0 = now();
	for (unsigned q = 0; q < QUERIES; q++) {
		uint64_t n = 2 + rng() % (LEAVES - 1), m = 1 + rng() % (n - 1);

		check("consistency", merkle_consistency_proof(t, m, n, proof, sizeof(proof), &len));
	}
	r_cons = QUERIES / (now() - t0);
	printf("consistency proof, random sizes: %.0f/s\n", r_cons);

	{
		uint64_t idx = 123457;
		uint8_t leaf[HL];

		merkle_root(t, root);
		check("leaf", merkle_leaf(t, idx, leaf));
		check("inclusion", merkle_inclusion_proof(t, idx, LEAVES, proof, sizeof(proof), &len));
		t0 = now();
		for (unsigned q = 0; q < QUERIES; q++)
			check("verify", merkle_verify_inclusion(idx, LEAVES, leaf, HL, proof, len, root, HL));
		r_verify = QUERIES / (now() - t0);
		printf("inclusion proof verification (%zu hashes): %.0f/s\n", len / HL, r_verify);
	}

	printf("bench merkle: leaves=%u append_disk=%.0f/s append_mem=%.0f/s reopen_ms=%.2f root_at=%.0f/s "
	       "incl_proof=%.0f/s cons_proof=%.0f/s verify_incl=%.0f/s\n",
	       LEAVES, append_disk, append_mem, reopen_ms, r_root, r_incl, r_cons, r_verify);
	merkle_close(t);
	merkle_close(mem);
	tu_rmtree(base);
	free(base);
	return 0;
}
