/*
 * RFC 9162 (RFC 6962) Merkle trees for the transfer log: leaf and node hashing, an append-only
 * tree kept as C2SP tlog-tiles hash tiles, roots for any past size, inclusion and consistency
 * proofs, and their verification. Byte layout of a tree directory: docs/formats/transfer-log.md;
 * how storage, caching and recovery work: docs/internals/transfer-log.md.
 *
 * Hashes are SHA-256: a leaf is SHA-256(0x00 || data), an interior node SHA-256(0x01 || left ||
 * right), the empty tree SHA-256(""). A proof is its hashes concatenated (32 bytes each), in the
 * order RFC 9162 section 2.1.3 and 2.1.4 give them (from the leaf or the old tree upwards).
 *
 * Verification fails closed: an index or size out of range, a proof of the wrong length, a hash
 * of the wrong length and a mismatching root are all errors. A consistency proof from the empty
 * tree (size1 == 0) is refused as meaningless, as in transparency-dev/merkle.
 *
 * Ownership and threads: struct merkle is opaque, created by merkle_new() or merkle_open() and
 * freed by merkle_close() (NULL is accepted). Every call on one tree, reads included, must come
 * from one thread at a time: reads fill a tile cache. Distinct trees share nothing.
 *
 * Returns: TIP_OK or a negative code from common/err.h, as each function says.
 */
#ifndef TIP_DIODE_MERKLE_H
#define TIP_DIODE_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#define MERKLE_HASH_LEN 32
/* Most hashes in any proof: 64 for an inclusion proof, 65 for a consistency proof. */
#define MERKLE_PROOF_MAX 65
/* Most leaves of a tree on disk; a memory tree's limit is in struct merkle_opts. */
#define MERKLE_MAX_SIZE (UINT64_C(1) << 62)

/* SHA-256(0x00 || data[0..len)); data may be NULL when len is 0. */
void merkle_leaf_hash(const void *data, size_t len, uint8_t out[MERKLE_HASH_LEN]);
/* SHA-256(0x01 || left || right). */
void merkle_node_hash(const uint8_t left[MERKLE_HASH_LEN], const uint8_t right[MERKLE_HASH_LEN],
                      uint8_t out[MERKLE_HASH_LEN]);
/* The root of the empty tree, SHA-256(""). */
void merkle_empty_root(uint8_t out[MERKLE_HASH_LEN]);

/*
 * Checks that leaf (leaf_len must be 32) is at index in the tree of the given size and root.
 * proof holds proof_len bytes: exactly the number of hashes RFC 9162 gives for (index, size),
 * 32 bytes each. Returns TIP_OK; TIP_ERANGE if index >= size; TIP_EFORMAT for a proof or hash of
 * the wrong length; TIP_EVERIFY if the proof leads to another root.
 */
int merkle_verify_inclusion(uint64_t index, uint64_t size, const uint8_t *leaf, size_t leaf_len,
                            const uint8_t *proof, size_t proof_len, const uint8_t *root, size_t root_len);

/*
 * Checks that the tree (size1, root1) is a prefix of the tree (size2, root2). For size1 == size2
 * the proof must be empty and the roots equal byte for byte (nothing is computed, so their length
 * is not checked); otherwise both roots must be 32 bytes and the proof exactly as long as RFC 9162
 * gives for (size1, size2). Returns TIP_OK; TIP_ERANGE if size1 > size2 or size1 == 0; TIP_EFORMAT
 * for a proof or hash of the wrong length; TIP_EVERIFY if the proof does not lead to both roots.
 */
int merkle_verify_consistency(uint64_t size1, uint64_t size2, const uint8_t *root1, size_t root1_len,
                              const uint8_t *root2, size_t root2_len, const uint8_t *proof, size_t proof_len);

struct merkle_opts {
	/* Full tiles kept with their inner nodes for proofs and past roots (16 KiB each); rounded up to
	 * a power of two. Default 256 (4 MiB); range 1 .. 65536. */
	size_t cache_tiles;
	/* Memory trees only: most leaves (full tiles are kept in RAM, 32 bytes a leaf). Default 2^24;
	 * range 1 .. 2^30. */
	uint64_t mem_max_size;
};

/* The defaults above. */
struct merkle_opts merkle_opts_default(void);

struct merkle;

/* A tree in memory only (nothing is written). o may be NULL. NULL on TIP_ENOMEM or bad options. */
struct merkle *merkle_new(const struct merkle_opts *o);

#define MERKLE_CREATE 1 /* create the directory (one level) and an empty tree if there is none */
#define MERKLE_RDONLY 2 /* read the committed tree; no lock, no appends */

/*
 * Opens the tree stored in dir. A writer holds dir/lock (flock) while open and sees the tree at
 * its last committed size (merkle_sync); leaves appended after that are gone and must be appended
 * again. A read-only opener sees the committed size at the time of the call. The committed root
 * is recomputed from the tiles and checked. o may be NULL. Returns NULL with *err: TIP_ENOTFOUND
 * (no tree and no MERKLE_CREATE), TIP_EBUSY (another writer), TIP_ECORRUPT (a damaged or missing
 * head or tile, or a root that does not match), TIP_EVERSION, TIP_EINVAL, TIP_EIO, TIP_ENOMEM.
 */
struct merkle *merkle_open(const char *dir, int flags, const struct merkle_opts *o, int *err);

/*
 * Appends one leaf hash (see merkle_leaf_hash) and stores its index in *index (may be NULL).
 * A tile completed by the append is written to disk (temporary file, fsync, rename); the new
 * size is committed only by merkle_sync(). Returns TIP_OK; TIP_EINVAL for a read-only tree;
 * TIP_EFULL at the size limit; TIP_EIO if a tile could not be written, after which the tree
 * refuses every append and sync (close it and open it again).
 */
int merkle_append(struct merkle *t, const uint8_t leaf[MERKLE_HASH_LEN], uint64_t *index);

/* Leaves in the tree (appended, committed or not). */
uint64_t merkle_size(const struct merkle *t);
/* The committed size: what a reopen would find. A memory tree's size. */
uint64_t merkle_durable(const struct merkle *t);
/* The root at the current size, from the compact range: no tile is read. */
void merkle_root(const struct merkle *t, uint8_t root[MERKLE_HASH_LEN]);

/*
 * The root of the first size leaves, size <= merkle_size(). TIP_OK; TIP_ERANGE; TIP_ECORRUPT or
 * TIP_EIO if a tile it needs is damaged or unreadable (every tile read from disk is checked
 * against the tile above it, up to the committed root).
 */
int merkle_root_at(struct merkle *t, uint64_t size, uint8_t root[MERKLE_HASH_LEN]);

/* The leaf hash at index < merkle_size(). TIP_OK, TIP_ERANGE, TIP_ECORRUPT, TIP_EIO. */
int merkle_leaf(struct merkle *t, uint64_t index, uint8_t out[MERKLE_HASH_LEN]);

/*
 * The inclusion proof of the leaf at index in the tree of the first size leaves (index < size <=
 * merkle_size()) into proof[0..cap); *len gets its length in bytes. TIP_OK; TIP_ERANGE;
 * TIP_EOVERSIZE if cap is too small (MERKLE_PROOF_MAX * 32 always suffices); TIP_ECORRUPT; TIP_EIO.
 */
int merkle_inclusion_proof(struct merkle *t, uint64_t index, uint64_t size, uint8_t *proof, size_t cap,
                           size_t *len);

/*
 * The consistency proof from size1 to size2 (0 < size1 <= size2 <= merkle_size(); empty when
 * equal). Same returns as merkle_inclusion_proof(); TIP_ERANGE for size1 == 0.
 */
int merkle_consistency_proof(struct merkle *t, uint64_t size1, uint64_t size2, uint8_t *proof, size_t cap,
                             size_t *len);

/*
 * Commits the current size: partial tiles written (temporary file, fsync, rename), directories
 * fsynced, then the head file replaced the same way. After TIP_OK a reopen finds every leaf
 * appended so far. TIP_OK (at once for a memory tree), TIP_EINVAL (read-only), TIP_EIO (the
 * tree then refuses appends and syncs; the last committed size stays on disk).
 */
int merkle_sync(struct merkle *t);

/* A writer syncs first; returns that result (TIP_OK for readers, memory trees and NULL). Frees. */
int merkle_close(struct merkle *t);

#endif
