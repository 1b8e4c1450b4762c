/*
 * What the transfer logs read back from disk, from hostile bytes (files in memory when the system
 * allows). Input byte 0 chooses (modulo 3), the rest is the file:
 *   0: a verifier key list, as diode-audit reads it (tlog_audit_read_keys): what loads holds only
 *      signing and cosigning verifier keys, and the file had no NUL byte to hide text behind.
 *   1: a checkpoint signer's state file (ckpt_signer_open), for the log's key (byte 1 even) or a
 *      cosigner's: what opens reports the checkpoint the file holds (a note the log signed; for a
 *      cosigner, whose own cosignature covers only the body, the body).
 *   2: a Merkle tree directory (merkle_open, read-only): byte 1 bit 0 says whether the head file
 *      is made honestly (the root of the leaves given, at a size of n - byte 1 / 2) or taken from
 *      the input; then up to 255 leaf hashes of a partial tile. What opens has the head's size and
 *      root, reads back the leaves and proves each one's inclusion.
 */
#include "fuzz.h"
#include "testutil.h"

#include "common/err.h"
#include "diode/crc32c.h"
#include "diode/merkle.h"
#include "diode/tlog_audit.h"
#include "proto/checkpoint.h"
#include "proto/keyfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define HEAD_LEN 52

static char *dir;
static struct key keys[2], pubs[2];

static void remove_dir(void)
{
	tu_rmtree(dir);
	free(dir);
}

static void key_list(const uint8_t *data, size_t size)
{
	char path[4200], err[256];
	struct key *list;
	size_t n;
	int rc;

	tu_write_bytes(dir, "keys", data, size);
	snprintf(path, sizeof(path), "%s/keys", dir);
	rc = tlog_audit_read_keys(path, &list, &n, err, sizeof(err));
	if (rc != TIP_OK) {
		if ((rc != TIP_EFORMAT && rc != TIP_EOVERSIZE) || list || n || !err[0])
			abort();
		return;
	}
	if (memchr(data, '\0', size))
		abort();
	for (size_t i = 0; i < n; i++)
		if ((list[i].type != KEY_ED25519 && list[i].type != KEY_COSIGN) || list[i].has_secret)
			abort();
	free(list);
}

static void signer_state(int cosigner, const uint8_t *data, size_t size)
{
	char path[4200];
	struct ckpt_signer *s;
	struct note_check checks[2];
	struct ckpt c;
	uint8_t root[CKPT_HASH_LEN];
	uint64_t n;
	int err, rc;

	tu_write_bytes(dir, "state", data, size);
	snprintf(path, sizeof(path), "%s/state", dir);
	s = ckpt_signer_open(path, &keys[cosigner], "fuzz.example/log", 0, &err);
	if (!s) {
		if (err != TIP_ECORRUPT && err != TIP_EINVAL && err != TIP_ENOTFOUND && err != TIP_EIO)
			abort();
		return;
	}
	rc = ckpt_signer_last(s, &n, root);
	if (rc == TIP_OK) {
		/* A log signer's state is its signed note; a cosigner checks its own cosignature only,
		 * which covers the body (the text up to the blank line). */
		const uint8_t *blank = memmem(data, size, "\n\n", 2);

		if (cosigner ? !blank || ckpt_body_parse((const char *)data, (size_t)(blank - data) + 1,
		                                         &c) != TIP_OK
		             : ckpt_open((const char *)data, size, CKPT_NOTE_MAX, pubs, 1, &c, checks) !=
		                               TIP_OK ||
		                       !checks[0].verified)
			abort();
		if (c.size != n || memcmp(c.root, root, sizeof(root)) != 0)
			abort();
	} else if (rc != TIP_ENOTFOUND) {
		abort();
	}
	ckpt_signer_free(s);
}

static void put_le(uint8_t *b, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

static void tree(uint8_t flags, const uint8_t *data, size_t size)
{
	char tree_dir[4200], sub[4300], name[64];
	uint8_t head[HEAD_LEN], root[MERKLE_HASH_LEN], got[MERKLE_HASH_LEN];
	uint8_t proof[MERKLE_PROOF_MAX * MERKLE_HASH_LEN];
	const uint8_t *leaves;
	uint64_t size_claimed;
	size_t n, proof_len;
	struct merkle *t;
	int err;

	if (!(flags & 1)) {
		if (size < HEAD_LEN)
			return;
		memcpy(head, data, HEAD_LEN);
		data += HEAD_LEN;
		size -= HEAD_LEN;
	}
	n = size / MERKLE_HASH_LEN;
	if (n > 255)
		n = 255;
	leaves = data;
	if (flags & 1) {
		struct merkle *m = merkle_new(NULL);
		uint64_t s = n - (flags >> 1) % (n + 1);

		if (!m)
			abort();
		for (size_t i = 0; i < n; i++)
			if (merkle_append(m, leaves + i * MERKLE_HASH_LEN, NULL) != TIP_OK)
				abort();
		if (merkle_root_at(m, s, root) != TIP_OK)
			abort();
		merkle_close(m);
		memcpy(head, "TMTH", 4);
		put_le(head + 4, 1, 2);
		put_le(head + 6, 8, 2);
		put_le(head + 8, s, 8);
		memcpy(head + 16, root, MERKLE_HASH_LEN);
		put_le(head + 48, crc32c(head, 48), 4);
	}
	snprintf(tree_dir, sizeof(tree_dir), "%s/tree", dir);
	snprintf(sub, sizeof(sub), "%s/tile", tree_dir);
	if (mkdir(tree_dir, 0700) != 0 || mkdir(sub, 0700) != 0)
		abort();
	snprintf(sub, sizeof(sub), "%s/tile/0", tree_dir);
	if (mkdir(sub, 0700) != 0)
		abort();
	tu_write_bytes(tree_dir, "tree", head, sizeof(head));
	if (n) {
		snprintf(sub, sizeof(sub), "%s/tile/0/000.p", tree_dir);
		if (mkdir(sub, 0700) != 0)
			abort();
		snprintf(name, sizeof(name), "tile/0/000.p/%zu", n);
		tu_write_bytes(tree_dir, name, leaves, n * MERKLE_HASH_LEN);
	}
	if (!(t = merkle_open(tree_dir, MERKLE_RDONLY, NULL, &err))) {
		if (err != TIP_ECORRUPT && err != TIP_EVERSION && err != TIP_EIO)
			abort();
		return;
	}
	size_claimed = 0;
	for (int i = 0; i < 8; i++)
		size_claimed |= (uint64_t)head[8 + i] << (8 * i);
	merkle_root(t, root);
	if (merkle_size(t) != size_claimed || memcmp(root, head + 16, MERKLE_HASH_LEN) != 0)
		abort();
	for (uint64_t i = 0; i < merkle_size(t) && i < 64; i++) {
		if (merkle_leaf(t, i, got) != TIP_OK ||
		    memcmp(got, leaves + i * MERKLE_HASH_LEN, MERKLE_HASH_LEN) ||
		    merkle_inclusion_proof(t, i, merkle_size(t), proof, sizeof(proof), &proof_len) !=
		            TIP_OK ||
		    merkle_verify_inclusion(i, merkle_size(t), got, MERKLE_HASH_LEN, proof, proof_len, root,
		                            MERKLE_HASH_LEN) != TIP_OK)
			abort();
	}
	merkle_close(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!dir) {
		dir = tu_mkdtemp_mem();
		atexit(remove_dir);
		tu_corpus_keys(keys, pubs);
	}
	if (size < 2)
		return 0;
	tu_rmtree(dir);
	if (mkdir(dir, 0700) != 0)
		abort();
	switch (data[0] % 3) {
	case 0: key_list(data + 1, size - 1); break;
	case 1: signer_state(data[1] & 1, data + 2, size - 2); break;
	default: tree(data[1], data + 2, size - 2); break;
	}
	return 0;
}
