/*
 * SHA-256 through OpenSSL's SHA256_* functions on purpose: a tree hashes one 65-byte node per
 * leaf on append and up to 255 nodes per tile loaded, and OpenSSL 3.0's EVP layer allocates a
 * provider context on every init. The SHA256_CTX is a stack value with the same SHA-NI code; the
 * functions are deprecated in 3.0 but present in every 3.x release.
 */
#define OPENSSL_SUPPRESS_DEPRECATED

#include "diode/merkle.h"

#include "common/err.h"
#include "common/file.h"
#include "diode/crc32c.h"

#include <openssl/sha.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define HL          MERKLE_HASH_LEN
#define TILE_HEIGHT 8
#define TILE_WIDTH  256
#define TILE_NODES  511 /* 256 + 128 + ... + 1: every height of a tile, its root last */
#define TILE_BYTES  (TILE_WIDTH * HL)
#define LEVELS      8 /* tile levels 0..7 cover tree levels 0..63 */

#define HEAD_NAME    "tree"
#define HEAD_TMP     "tree.tmp"
#define HEAD_LEN     52
#define HEAD_VERSION 1

#define PATH_BUF  96
#define DIRTY_MAX 32

#define CACHE_DEFAULT   256
#define CACHE_MAX       65536
#define MEM_DEFAULT     (UINT64_C(1) << 24)
#define MEM_MAX         (UINT64_C(1) << 30)
#define TILE_ROOT_INDEX (TILE_NODES - 1)

/* A tile with its inner nodes: height k (0 = the tile's hashes, 8 = its root) starts at node_at(k). */
struct tile {
	uint8_t h[TILE_NODES][HL];
};

/* The rightmost tile of a level, filled by appends; its complete inner nodes are kept up to date. */
struct ptile {
	struct tile t;
	uint64_t index;        /* tile number N */
	unsigned width;        /* hashes present, 0..255 */
	uint64_t synced_index; /* index and width at the last commit */
	unsigned synced_width;
};

struct slot {
	int used;
	unsigned level;
	uint64_t index;
	struct tile t;
};

struct merkle {
	int dirfd; /* -1 for a memory tree */
	int lockfd;
	int rdonly;
	int failed;
	uint64_t size, durable, max_size;
	uint8_t frontier[64]
	                [HL]; /* frontier[l]: the complete subtree of 2^l leaves, if bit l of size is set */
	struct ptile pt[LEVELS];
	struct tile scratch[LEVELS]; /* a full tile being loaded and checked, one per level */
	struct slot *cache;          /* disk trees: direct-mapped by (level, index) */
	uint64_t cache_mask;
	struct tile **mem[LEVELS]; /* memory trees: every full tile, inner nodes included */
	size_t mem_n[LEVELS], mem_cap[LEVELS];
	char dirty[DIRTY_MAX][PATH_BUF]; /* directories with entries not yet fsynced */
	size_t ndirty;
};

static size_t node_at(unsigned k)
{
	return 512 - (512u >> k);
}

static unsigned bitlen64(uint64_t x)
{
	return x ? 64u - (unsigned)__builtin_clzll(x) : 0;
}

static unsigned popcount64(uint64_t x)
{
	return (unsigned)__builtin_popcountll(x);
}

void merkle_leaf_hash(const void *data, size_t len, uint8_t out[MERKLE_HASH_LEN])
{
	static const uint8_t prefix = 0x00;
	SHA256_CTX c;

	SHA256_Init(&c);
	SHA256_Update(&c, &prefix, 1);
	if (len)
		SHA256_Update(&c, data, len);
	SHA256_Final(out, &c);
}

void merkle_node_hash(const uint8_t left[MERKLE_HASH_LEN], const uint8_t right[MERKLE_HASH_LEN],
                      uint8_t out[MERKLE_HASH_LEN])
{
	uint8_t buf[1 + 2 * HL];
	SHA256_CTX c;

	/* Copied first: out may be left or right. */
	buf[0] = 0x01;
	memcpy(buf + 1, left, HL);
	memcpy(buf + 1 + HL, right, HL);
	SHA256_Init(&c);
	SHA256_Update(&c, buf, sizeof(buf));
	SHA256_Final(out, &c);
}

void merkle_empty_root(uint8_t out[MERKLE_HASH_LEN])
{
	SHA256_CTX c;

	SHA256_Init(&c);
	SHA256_Final(out, &c);
}

/* ---- verification (RFC 9162 sections 2.1.3.2 and 2.1.4.2) ---- */

int merkle_verify_inclusion(uint64_t index, uint64_t size, const uint8_t *leaf, size_t leaf_len,
                            const uint8_t *proof, size_t proof_len, const uint8_t *root, size_t root_len)
{
	uint8_t r[HL];
	uint64_t fn, sn;
	unsigned inner;
	size_t n, i;

	if (index >= size)
		return TIP_ERANGE;
	if (!leaf || leaf_len != HL || !root || root_len != HL || proof_len % HL || (proof_len && !proof))
		return TIP_EFORMAT;
	n = proof_len / HL;
	inner = bitlen64(index ^ (size - 1));
	if (n != (size_t)inner + popcount64(index >> inner))
		return TIP_EFORMAT;

	fn = index;
	sn = size - 1;
	memcpy(r, leaf, HL);
	for (i = 0; i < n; i++) {
		const uint8_t *p = proof + i * HL;

		if (sn == 0)
			return TIP_EVERIFY;
		if ((fn & 1) || fn == sn) {
			merkle_node_hash(p, r, r);
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			merkle_node_hash(r, p, r);
		}
		fn >>= 1;
		sn >>= 1;
	}
	return sn == 0 && memcmp(r, root, HL) == 0 ? TIP_OK : TIP_EVERIFY;
}

int merkle_verify_consistency(uint64_t size1, uint64_t size2, const uint8_t *root1, size_t root1_len,
                              const uint8_t *root2, size_t root2_len, const uint8_t *proof, size_t proof_len)
{
	uint8_t fr[HL], sr[HL];
	uint64_t fn, sn;
	unsigned inner, border, shift;
	size_t n, i, start;

	if (size1 > size2 || size1 == 0)
		return TIP_ERANGE;
	if (proof_len && !proof)
		return TIP_EFORMAT;
	if (size1 == size2) {
		if (proof_len != 0)
			return TIP_EFORMAT;
		if (root1_len != root2_len ||
		    (root1_len && (!root1 || !root2 || memcmp(root1, root2, root1_len))))
			return TIP_EVERIFY;
		return TIP_OK;
	}
	if (!root1 || root1_len != HL || !root2 || root2_len != HL || proof_len % HL)
		return TIP_EFORMAT;

	/* The proof is the tail of the inclusion path of leaf size1 - 1 in the tree of size2, from the
	 * level of the largest complete subtree ending at size1, plus that subtree's hash unless it is
	 * the whole old tree. */
	n = proof_len / HL;
	inner = bitlen64((size1 - 1) ^ (size2 - 1));
	shift = (unsigned)__builtin_ctzll(size1);
	border = popcount64((size1 - 1) >> inner);
	start = size1 == (UINT64_C(1) << shift) ? 0 : 1;
	if (n != start + (inner - shift) + border)
		return TIP_EFORMAT;

	memcpy(fr, start ? proof : root1, HL);
	memcpy(sr, fr, HL);
	fn = size1 - 1;
	sn = size2 - 1;
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	for (i = start; i < n; i++) {
		const uint8_t *c = proof + i * HL;

		if (sn == 0)
			return TIP_EVERIFY;
		if ((fn & 1) || fn == sn) {
			merkle_node_hash(c, fr, fr);
			merkle_node_hash(c, sr, sr);
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			merkle_node_hash(sr, c, sr);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0 || memcmp(fr, root1, HL) != 0 || memcmp(sr, root2, HL) != 0)
		return TIP_EVERIFY;
	return TIP_OK;
}

/* ---- small helpers ---- */

static void put_le(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* tlog-tiles path of tile N at level L (width w for a partial tile, 0 for a full one). */
static int tile_path(char *buf, size_t cap, unsigned level, uint64_t n, unsigned w)
{
	unsigned groups[8];
	int ng = 0, len;

	do {
		groups[ng++] = (unsigned)(n % 1000);
		n /= 1000;
	} while (n && ng < 8);
	if (n)
		return TIP_EINVAL;
	len = snprintf(buf, cap, "tile/%u", level);
	for (int i = ng - 1; i >= 0 && len >= 0 && (size_t)len < cap; i--)
		len += snprintf(buf + len, cap - (size_t)len, "/%s%03u", i ? "x" : "", groups[i]);
	if (w && len >= 0 && (size_t)len < cap)
		len += snprintf(buf + len, cap - (size_t)len, ".p/%u", w);
	return len < 0 || (size_t)len >= cap ? TIP_EINVAL : TIP_OK;
}

/* The directory part of rel ("." for a top-level name). */
static void parent_of(const char *rel, char *out, size_t cap)
{
	const char *slash = strrchr(rel, '/');
	size_t n = slash ? (size_t)(slash - rel) : 0;

	if (!slash || n >= cap)
		n = 0;
	memcpy(out, rel, n);
	if (n == 0)
		out[n++] = '.';
	out[n] = '\0';
}

static int fsync_at(int dirfd, const char *rel)
{
	int fd = openat(dirfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = TIP_OK;

	if (fd < 0)
		return TIP_EIO;
	while (fsync(fd) != 0) {
		if (errno != EINTR) {
			rc = TIP_EIO;
			break;
		}
	}
	close(fd);
	return rc;
}

static int flush_dirty(struct merkle *t)
{
	int rc = TIP_OK;

	for (size_t i = 0; i < t->ndirty; i++)
		if (fsync_at(t->dirfd, t->dirty[i]) != TIP_OK)
			rc = TIP_EIO;
	t->ndirty = 0;
	return rc;
}

static int mark_dirty(struct merkle *t, const char *dir)
{
	int rc;

	for (size_t i = 0; i < t->ndirty; i++)
		if (strcmp(t->dirty[i], dir) == 0)
			return TIP_OK;
	if (t->ndirty == DIRTY_MAX && (rc = flush_dirty(t)) != TIP_OK)
		return rc;
	if (strlen(dir) >= PATH_BUF)
		return TIP_EINVAL;
	memcpy(t->dirty[t->ndirty++], dir, strlen(dir) + 1);
	return TIP_OK;
}

/* Creates every missing directory on the way to the file rel; each new name is made durable later. */
static int make_parents(struct merkle *t, const char *rel)
{
	char path[PATH_BUF], up[PATH_BUF];
	size_t len = strlen(rel);
	int rc;

	if (len >= sizeof(path))
		return TIP_EINVAL;
	memcpy(path, rel, len + 1);
	for (char *p = strchr(path, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdirat(t->dirfd, path, 0755) == 0) {
			parent_of(path, up, sizeof(up));
			if ((rc = mark_dirty(t, up)) != TIP_OK || (rc = mark_dirty(t, path)) != TIP_OK)
				return rc;
		} else if (errno != EEXIST) {
			return TIP_EIO;
		}
		*p = '/';
	}
	return TIP_OK;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return TIP_EIO;
		p += w;
		len -= (size_t)w;
	}
	return TIP_OK;
}

/* rel.tmp written and fsynced, then renamed to rel; the directory is fsynced later (flush_dirty). */
static int write_file(struct merkle *t, const char *rel, const uint8_t *data, size_t len)
{
	char tmp[PATH_BUF + 8], dir[PATH_BUF];
	int fd, rc, n = snprintf(tmp, sizeof(tmp), "%s.tmp", rel);

	if (n < 0 || (size_t)n >= sizeof(tmp))
		return TIP_EINVAL;
	fd = openat(t->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 && errno == ENOENT) {
		if ((rc = make_parents(t, rel)) != TIP_OK)
			return rc;
		fd = openat(t->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	}
	if (fd < 0)
		return TIP_EIO;
	rc = write_all(fd, data, len);
	while (rc == TIP_OK && fsync(fd) != 0)
		if (errno != EINTR)
			rc = TIP_EIO;
	close(fd);
	if (rc == TIP_OK && renameat(t->dirfd, tmp, t->dirfd, rel) != 0)
		rc = TIP_EIO;
	if (rc != TIP_OK) {
		unlinkat(t->dirfd, tmp, 0);
		return rc;
	}
	parent_of(rel, dir, sizeof(dir));
	return mark_dirty(t, dir);
}

/* Exactly len bytes of the file rel: TIP_ENOTFOUND if absent, TIP_ECORRUPT if of another size. */
static int read_exact(int dirfd, const char *rel, uint8_t *out, size_t len)
{
	struct stat st;
	size_t got = 0;
	int fd = openat(dirfd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), rc = TIP_OK;

	if (fd < 0)
		return errno == ENOENT ? TIP_ENOTFOUND : TIP_EIO;
	if (fstat(fd, &st) != 0)
		rc = TIP_EIO;
	else if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != len)
		rc = TIP_ECORRUPT;
	while (rc == TIP_OK && got < len) {
		ssize_t r = read(fd, out + got, len - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			rc = r == 0 ? TIP_ECORRUPT : TIP_EIO;
		else
			got += (size_t)r;
	}
	close(fd);
	return rc;
}

/* Best effort: the partial versions of a tile that is now full are no longer needed. */
static void remove_partials(struct merkle *t, unsigned level, uint64_t n)
{
	char rel[PATH_BUF];
	DIR *d;
	struct dirent *e;
	size_t len;
	int fd;

	if (tile_path(rel, sizeof(rel), level, n, 0) != TIP_OK || (len = strlen(rel)) + 3 > sizeof(rel))
		return;
	memcpy(rel + len, ".p", 3);
	fd = openat(t->dirfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	unlinkat(t->dirfd, rel, AT_REMOVEDIR);
}

/* Fills heights 1..8 of a tile whose first width hashes are set, as far as they are complete. */
static void tile_inner(struct tile *tl, unsigned width)
{
	for (unsigned k = 1; k <= TILE_HEIGHT; k++) {
		unsigned count = width >> k;

		for (unsigned i = 0; i < count; i++)
			merkle_node_hash(tl->h[node_at(k - 1) + 2 * i], tl->h[node_at(k - 1) + 2 * i + 1],
			                 tl->h[node_at(k) + i]);
	}
}

/* ---- reading nodes ---- */

static int get_node(struct merkle *t, unsigned l, uint64_t j, uint8_t out[HL]);

/* The full tile (level, n) with its inner nodes; from disk it is checked against the level above. */
static int full_tile(struct merkle *t, unsigned level, uint64_t n, const struct tile **out)
{
	struct slot *s;
	struct tile *tl;
	uint8_t parent[HL];
	char rel[PATH_BUF];
	uint64_t h;
	int rc;

	if (t->dirfd < 0) {
		if (n >= t->mem_n[level])
			return TIP_ECORRUPT;
		*out = t->mem[level][n];
		return TIP_OK;
	}
	h = (n * UINT64_C(0x9e3779b97f4a7c15)) ^ ((uint64_t)level * UINT64_C(0xc2b2ae3d27d4eb4f));
	s = &t->cache[(h >> 32) & t->cache_mask];
	if (s->used && s->level == level && s->index == n) {
		*out = &s->t;
		return TIP_OK;
	}
	/* Loaded into this level's scratch tile: checking it may load (and evict) tiles of the level above.
	 */
	tl = &t->scratch[level];
	if ((rc = tile_path(rel, sizeof(rel), level, n, 0)) != TIP_OK)
		return rc;
	rc = read_exact(t->dirfd, rel, tl->h[0], TILE_BYTES);
	if (rc == TIP_ENOTFOUND)
		rc = TIP_ECORRUPT;
	if (rc != TIP_OK)
		return rc;
	tile_inner(tl, TILE_WIDTH);
	if (level + 1 >= LEVELS)
		return TIP_ECORRUPT;
	if ((rc = get_node(t, TILE_HEIGHT * (level + 1), n, parent)) != TIP_OK)
		return rc;
	if (memcmp(parent, tl->h[TILE_ROOT_INDEX], HL) != 0)
		return TIP_ECORRUPT;
	memcpy(&s->t, tl, sizeof(*tl));
	s->used = 1;
	s->level = level;
	s->index = n;
	*out = &s->t;
	return TIP_OK;
}

/* The complete subtree of 2^l leaves with index j; the caller guarantees (j + 1) << l <= size. */
static int get_node(struct merkle *t, unsigned l, uint64_t j, uint8_t out[HL])
{
	unsigned level = l / TILE_HEIGHT, k = l % TILE_HEIGHT;
	uint64_t n = (j << k) / TILE_WIDTH;
	size_t pos = node_at(k) + (size_t)(j & ((TILE_WIDTH >> k) - 1));
	const struct tile *tl;
	int rc;

	if (n == t->pt[level].index) {
		memcpy(out, t->pt[level].t.h[pos], HL);
		return TIP_OK;
	}
	if (n > t->pt[level].index)
		return TIP_ERANGE;
	if ((rc = full_tile(t, level, n, &tl)) != TIP_OK)
		return rc;
	memcpy(out, tl->h[pos], HL);
	return TIP_OK;
}

/* Hash of the n leaves from a (n >= 1, a a multiple of the largest power of two <= n): the complete
 * subtrees of n's binary decomposition from a, folded from the right. */
static int range_hash(struct merkle *t, uint64_t a, uint64_t n, uint8_t out[HL])
{
	uint8_t node[HL];
	int have = 0, rc;

	for (unsigned l = 0; l < 64; l++) {
		uint64_t pos;

		if (!((n >> l) & 1))
			continue;
		pos = a + (l + 1 < 64 ? (n >> (l + 1)) << (l + 1) : 0);
		if ((rc = get_node(t, l, pos >> l, have ? node : out)) != TIP_OK)
			return rc;
		if (have)
			merkle_node_hash(node, out, out);
		have = 1;
	}
	return have ? TIP_OK : TIP_EINVAL;
}

/* ---- proofs (RFC 9162 sections 2.1.3.1 and 2.1.4.1) ---- */

struct proof_out {
	uint8_t *buf;
	size_t cap, len;
};

static uint64_t split_point(uint64_t n)
{
	/* Largest power of two strictly below n (n >= 2). */
	return UINT64_C(1) << (bitlen64(n - 1) - 1);
}

static int emit(struct merkle *t, struct proof_out *o, uint64_t a, uint64_t b)
{
	if (o->cap - o->len < HL)
		return TIP_EOVERSIZE;
	o->len += HL;
	return range_hash(t, a, b - a, o->buf + o->len - HL);
}

static int path(struct merkle *t, struct proof_out *o, uint64_t m, uint64_t lo, uint64_t hi)
{
	uint64_t k;
	int rc;

	if (hi - lo <= 1)
		return TIP_OK;
	k = split_point(hi - lo);
	if (m - lo < k)
		return (rc = path(t, o, m, lo, lo + k)) != TIP_OK ? rc : emit(t, o, lo + k, hi);
	return (rc = path(t, o, m, lo + k, hi)) != TIP_OK ? rc : emit(t, o, lo, lo + k);
}

static int subproof(struct merkle *t, struct proof_out *o, uint64_t m, uint64_t lo, uint64_t hi, int whole)
{
	uint64_t k;
	int rc;

	if (m == hi - lo)
		return whole ? TIP_OK : emit(t, o, lo, hi);
	k = split_point(hi - lo);
	if (m <= k)
		return (rc = subproof(t, o, m, lo, lo + k, whole)) != TIP_OK ? rc : emit(t, o, lo + k, hi);
	return (rc = subproof(t, o, m - k, lo + k, hi, 0)) != TIP_OK ? rc : emit(t, o, lo, lo + k);
}

int merkle_inclusion_proof(struct merkle *t, uint64_t index, uint64_t size, uint8_t *proof, size_t cap,
                           size_t *len)
{
	struct proof_out o = {proof, cap, 0};
	int rc;

	*len = 0;
	if (index >= size || size > t->size)
		return TIP_ERANGE;
	if ((rc = path(t, &o, index, 0, size)) == TIP_OK)
		*len = o.len;
	return rc;
}

int merkle_consistency_proof(struct merkle *t, uint64_t size1, uint64_t size2, uint8_t *proof, size_t cap,
                             size_t *len)
{
	struct proof_out o = {proof, cap, 0};
	int rc;

	*len = 0;
	if (size1 == 0 || size1 > size2 || size2 > t->size)
		return TIP_ERANGE;
	if ((rc = subproof(t, &o, size1, 0, size2, 1)) == TIP_OK)
		*len = o.len;
	return rc;
}

int merkle_root_at(struct merkle *t, uint64_t size, uint8_t root[MERKLE_HASH_LEN])
{
	if (size > t->size)
		return TIP_ERANGE;
	if (size == t->size) {
		merkle_root(t, root);
		return TIP_OK;
	}
	if (size == 0) {
		merkle_empty_root(root);
		return TIP_OK;
	}
	return range_hash(t, 0, size, root);
}

int merkle_leaf(struct merkle *t, uint64_t index, uint8_t out[MERKLE_HASH_LEN])
{
	if (index >= t->size)
		return TIP_ERANGE;
	return get_node(t, 0, index, out);
}

uint64_t merkle_size(const struct merkle *t)
{
	return t->size;
}

uint64_t merkle_durable(const struct merkle *t)
{
	return t->durable;
}

void merkle_root(const struct merkle *t, uint8_t root[MERKLE_HASH_LEN])
{
	int have = 0;

	for (unsigned l = 0; l < 64; l++) {
		if (!((t->size >> l) & 1))
			continue;
		if (have)
			merkle_node_hash(t->frontier[l], root, root);
		else
			memcpy(root, t->frontier[l], HL);
		have = 1;
	}
	if (!have)
		merkle_empty_root(root);
}

/* ---- appending ---- */

static int store_full(struct merkle *t, unsigned level)
{
	struct ptile *p = &t->pt[level];
	char rel[PATH_BUF];
	int rc;

	if (t->dirfd < 0) {
		struct tile *copy;

		if (t->mem_n[level] == t->mem_cap[level]) {
			size_t cap = t->mem_cap[level] ? 2 * t->mem_cap[level] : 16;
			struct tile **grown = realloc(t->mem[level], cap * sizeof(*grown));

			if (!grown)
				return TIP_ENOMEM;
			t->mem[level] = grown;
			t->mem_cap[level] = cap;
		}
		if (!(copy = malloc(sizeof(*copy))))
			return TIP_ENOMEM;
		memcpy(copy, &p->t, sizeof(*copy));
		t->mem[level][t->mem_n[level]++] = copy;
	} else {
		struct slot *s;
		uint64_t h;

		if ((rc = tile_path(rel, sizeof(rel), level, p->index, 0)) != TIP_OK ||
		    (rc = write_file(t, rel, p->t.h[0], TILE_BYTES)) != TIP_OK)
			return rc;
		/* Recent tiles are the likeliest to be asked for next. */
		h = (p->index * UINT64_C(0x9e3779b97f4a7c15)) ^
		    ((uint64_t)level * UINT64_C(0xc2b2ae3d27d4eb4f));
		s = &t->cache[(h >> 32) & t->cache_mask];
		memcpy(&s->t, &p->t, sizeof(s->t));
		s->used = 1;
		s->level = level;
		s->index = p->index;
	}
	p->index++;
	p->width = 0;
	return TIP_OK;
}

/* Records a complete node just computed by an append: into its level's rightmost tile. */
static int record_node(struct merkle *t, unsigned l, uint64_t j, const uint8_t h[HL])
{
	unsigned level = l / TILE_HEIGHT, k = l % TILE_HEIGHT;
	struct ptile *p;
	int rc;

	if (k == 0 && level > 0) {
		/* This node is the root of the tile just completed one level down. */
		p = &t->pt[level - 1];
		memcpy(p->t.h[TILE_ROOT_INDEX], h, HL);
		if ((rc = store_full(t, level - 1)) != TIP_OK)
			return rc;
	}
	p = &t->pt[level];
	memcpy(p->t.h[node_at(k) + (j & ((TILE_WIDTH >> k) - 1))], h, HL);
	if (k == 0)
		p->width++;
	return TIP_OK;
}

int merkle_append(struct merkle *t, const uint8_t leaf[MERKLE_HASH_LEN], uint64_t *index)
{
	uint8_t carry[HL];
	uint64_t n = t->size + 1;
	unsigned l = 0;
	int rc;

	if (t->rdonly)
		return TIP_EINVAL;
	if (t->failed)
		return TIP_EIO;
	if (t->size >= t->max_size)
		return TIP_EFULL;
	memcpy(carry, leaf, HL);
	rc = record_node(t, 0, t->size, carry);
	while (rc == TIP_OK && ((t->size >> l) & 1)) {
		merkle_node_hash(t->frontier[l], carry, carry);
		l++;
		rc = record_node(t, l, (n >> l) - 1, carry);
	}
	if (rc != TIP_OK) {
		t->failed = 1;
		return rc;
	}
	memcpy(t->frontier[l], carry, HL);
	if (index)
		*index = t->size;
	t->size = n;
	if (t->dirfd < 0)
		t->durable = n;
	return TIP_OK;
}

/* ---- head file, open, sync ---- */

static void head_encode(uint8_t b[HEAD_LEN], uint64_t size, const uint8_t root[HL])
{
	memcpy(b, "TMTH", 4);
	put_le(b + 4, HEAD_VERSION, 2);
	put_le(b + 6, TILE_HEIGHT, 2);
	put_le(b + 8, size, 8);
	memcpy(b + 16, root, HL);
	put_le(b + 48, crc32c(b, 48), 4);
}

static int head_decode(const uint8_t b[HEAD_LEN], uint64_t *size, uint8_t root[HL])
{
	if (memcmp(b, "TMTH", 4) != 0 || get_le(b + 48, 4) != crc32c(b, 48))
		return TIP_ECORRUPT;
	if (get_le(b + 4, 2) != HEAD_VERSION)
		return TIP_EVERSION;
	*size = get_le(b + 8, 8);
	if (get_le(b + 6, 2) != TILE_HEIGHT || *size > MERKLE_MAX_SIZE)
		return TIP_ECORRUPT;
	memcpy(root, b + 16, HL);
	return TIP_OK;
}

static int write_head(struct merkle *t)
{
	uint8_t b[HEAD_LEN], root[HL];
	int fd, rc;

	merkle_root(t, root);
	head_encode(b, t->size, root);
	fd = openat(t->dirfd, HEAD_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return TIP_EIO;
	rc = write_all(fd, b, sizeof(b));
	while (rc == TIP_OK && fsync(fd) != 0)
		if (errno != EINTR)
			rc = TIP_EIO;
	close(fd);
	if (rc == TIP_OK && renameat(t->dirfd, HEAD_TMP, t->dirfd, HEAD_NAME) != 0)
		rc = TIP_EIO;
	if (rc != TIP_OK) {
		unlinkat(t->dirfd, HEAD_TMP, 0);
		return rc;
	}
	return fsync_at(t->dirfd, ".");
}

struct merkle_opts merkle_opts_default(void)
{
	struct merkle_opts o = {CACHE_DEFAULT, MEM_DEFAULT};

	return o;
}

static int opts_ok(const struct merkle_opts *o)
{
	return !o || (o->cache_tiles >= 1 && o->cache_tiles <= CACHE_MAX && o->mem_max_size >= 1 &&
	              o->mem_max_size <= MEM_MAX);
}

static struct merkle *alloc_tree(const struct merkle_opts *o, int disk)
{
	struct merkle_opts d = o ? *o : merkle_opts_default();
	struct merkle *t;
	size_t slots = 1;

	if (!opts_ok(o))
		return NULL;
	if (!(t = calloc(1, sizeof(*t))))
		return NULL;
	t->dirfd = -1;
	t->lockfd = -1;
	t->max_size = disk ? MERKLE_MAX_SIZE : d.mem_max_size;
	if (disk) {
		while (slots < d.cache_tiles)
			slots *= 2;
		if (!(t->cache = calloc(slots, sizeof(*t->cache)))) {
			free(t);
			return NULL;
		}
		t->cache_mask = slots - 1;
	}
	return t;
}

struct merkle *merkle_new(const struct merkle_opts *o)
{
	return alloc_tree(o, 0);
}

/* The rightmost tile of each level for the committed size, then the compact range from them. */
static int load_committed(struct merkle *t, const uint8_t want_root[HL])
{
	uint8_t root[HL];
	int rc;

	for (unsigned level = 0; level < LEVELS; level++) {
		struct ptile *p = &t->pt[level];
		uint64_t count = t->size >> (TILE_HEIGHT * level);
		char rel[PATH_BUF];

		p->index = p->synced_index = count / TILE_WIDTH;
		p->width = p->synced_width = (unsigned)(count % TILE_WIDTH);
		if (p->width == 0)
			continue;
		if ((rc = tile_path(rel, sizeof(rel), level, p->index, p->width)) != TIP_OK)
			return rc;
		rc = read_exact(t->dirfd, rel, p->t.h[0], (size_t)p->width * HL);
		if (rc == TIP_ENOTFOUND) {
			/* The partial tile may be gone once the full tile exists; its prefix is the same. */
			uint8_t *full = malloc(TILE_BYTES);

			if (!full)
				return TIP_ENOMEM;
			if ((rc = tile_path(rel, sizeof(rel), level, p->index, 0)) == TIP_OK)
				rc = read_exact(t->dirfd, rel, full, TILE_BYTES);
			if (rc == TIP_OK)
				memcpy(p->t.h[0], full, (size_t)p->width * HL);
			free(full);
			if (rc == TIP_ENOTFOUND)
				rc = TIP_ECORRUPT;
		}
		if (rc != TIP_OK)
			return rc;
		tile_inner(&p->t, p->width);
	}
	for (unsigned l = 0; l < 64; l++)
		if (((t->size >> l) & 1) &&
		    (rc = get_node(t, l, (t->size >> l) - 1, t->frontier[l])) != TIP_OK)
			return rc;
	merkle_root(t, root);
	return memcmp(root, want_root, HL) == 0 ? TIP_OK : TIP_ECORRUPT;
}

struct merkle *merkle_open(const char *dir, int flags, const struct merkle_opts *o, int *err)
{
	struct merkle *t = NULL;
	uint8_t head[HEAD_LEN], root[HL];
	int rc = TIP_OK, create = flags & MERKLE_CREATE;

	if (!dir || (flags & ~(MERKLE_CREATE | MERKLE_RDONLY)) || (create && (flags & MERKLE_RDONLY))) {
		rc = TIP_EINVAL;
		goto out;
	}
	if (!opts_ok(o)) {
		rc = TIP_EINVAL;
		goto out;
	}
	if (!(t = alloc_tree(o, 1))) {
		rc = TIP_ENOMEM;
		goto out;
	}
	t->rdonly = (flags & MERKLE_RDONLY) != 0;
	if (create) {
		if (mkdir(dir, 0755) == 0)
			rc = file_fsync_parent(dir);
		else if (errno != EEXIST)
			rc = errno == ENOENT ? TIP_ENOTFOUND : TIP_EIO;
		if (rc != TIP_OK)
			goto out;
	}
	if ((t->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		rc = errno == ENOENT ? TIP_ENOTFOUND : TIP_EIO;
		goto out;
	}
	if (!t->rdonly) {
		t->lockfd = openat(t->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (t->lockfd < 0) {
			rc = TIP_EIO;
			goto out;
		}
		if (flock(t->lockfd, LOCK_EX | LOCK_NB) != 0) {
			rc = errno == EWOULDBLOCK ? TIP_EBUSY : TIP_EIO;
			goto out;
		}
	}
	rc = read_exact(t->dirfd, HEAD_NAME, head, sizeof(head));
	if (rc == TIP_ENOTFOUND && create) {
		struct stat st;

		/* Tiles without a head: something removed it; starting over would hide that. */
		if (fstatat(t->dirfd, "tile", &st, AT_SYMLINK_NOFOLLOW) == 0) {
			rc = TIP_ECORRUPT;
			goto out;
		}
		if ((rc = write_head(t)) != TIP_OK)
			goto out;
		merkle_empty_root(root);
		head_encode(head, 0, root);
	} else if (rc != TIP_OK) {
		goto out;
	}
	if ((rc = head_decode(head, &t->size, root)) != TIP_OK || (rc = load_committed(t, root)) != TIP_OK)
		goto out;
	t->durable = t->size;
	if (!t->rdonly)
		for (unsigned level = 0; level < LEVELS; level++)
			if (t->pt[level].index > 0)
				remove_partials(t, level, t->pt[level].index - 1);
out:
	if (rc != TIP_OK) {
		if (t)
			t->failed = 1; /* nothing to sync: close only releases */
		merkle_close(t);
		t = NULL;
	}
	if (err)
		*err = rc;
	return t;
}

int merkle_sync(struct merkle *t)
{
	int rc;

	if (t->dirfd < 0)
		return TIP_OK;
	if (t->rdonly)
		return TIP_EINVAL;
	if (t->failed)
		return TIP_EIO;
	if (t->durable == t->size && t->ndirty == 0)
		return TIP_OK;
	for (unsigned level = 0; level < LEVELS; level++) {
		struct ptile *p = &t->pt[level];
		char rel[PATH_BUF];

		if (p->width == 0 || (p->index == p->synced_index && p->width == p->synced_width))
			continue;
		if ((rc = tile_path(rel, sizeof(rel), level, p->index, p->width)) != TIP_OK ||
		    (rc = write_file(t, rel, p->t.h[0], (size_t)p->width * HL)) != TIP_OK)
			goto fail;
	}
	if ((rc = flush_dirty(t)) != TIP_OK || (rc = write_head(t)) != TIP_OK)
		goto fail;
	t->durable = t->size;
	for (unsigned level = 0; level < LEVELS; level++) {
		struct ptile *p = &t->pt[level];

		if (p->synced_index < p->index && p->synced_width > 0)
			remove_partials(t, level, p->synced_index);
		p->synced_index = p->index;
		p->synced_width = p->width;
	}
	return TIP_OK;
fail:
	t->failed = 1;
	return rc;
}

int merkle_close(struct merkle *t)
{
	int rc = TIP_OK;

	if (!t)
		return TIP_OK;
	if (t->dirfd >= 0 && !t->rdonly && t->lockfd >= 0 && !t->failed && t->durable != t->size)
		rc = merkle_sync(t);
	if (t->lockfd >= 0)
		close(t->lockfd);
	if (t->dirfd >= 0)
		close(t->dirfd);
	for (unsigned level = 0; level < LEVELS; level++) {
		for (size_t i = 0; i < t->mem_n[level]; i++)
			free(t->mem[level][i]);
		free(t->mem[level]);
	}
	free(t->cache);
	free(t);
	return rc;
}
