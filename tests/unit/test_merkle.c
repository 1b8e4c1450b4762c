#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "diode/merkle.h"
#include "common/encoding.h"
#include "common/err.h"
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define HL        MERKLE_HASH_LEN
#define PROOF_CAP (MERKLE_PROOF_MAX * HL)

/* ---- a naive RFC 9162 implementation over an array of leaf hashes, straight from the definitions ---- */

static uint64_t split(uint64_t n)
{
	uint64_t k = 1;

	while (k * 2 < n)
		k *= 2;
	return k;
}

static void ref_mth(const uint8_t (*lv)[HL], uint64_t n, uint8_t out[HL])
{
	uint8_t l[HL], r[HL];
	uint64_t k;

	if (n == 0) {
		merkle_empty_root(out);
		return;
	}
	if (n == 1) {
		memcpy(out, lv[0], HL);
		return;
	}
	k = split(n);
	ref_mth(lv, k, l);
	ref_mth(lv + k, n - k, r);
	merkle_node_hash(l, r, out);
}

static void ref_path(const uint8_t (*lv)[HL], uint64_t m, uint64_t n, uint8_t *out, size_t *len)
{
	uint64_t k;

	if (n <= 1)
		return;
	k = split(n);
	if (m < k) {
		ref_path(lv, m, k, out, len);
		ref_mth(lv + k, n - k, out + *len);
	} else {
		ref_path(lv + k, m - k, n - k, out, len);
		ref_mth(lv, k, out + *len);
	}
	*len += HL;
}

static void ref_subproof(const uint8_t (*lv)[HL], uint64_t m, uint64_t n, int whole, uint8_t *out,
                         size_t *len)
{
	uint64_t k;

	if (m == n) {
		if (!whole) {
			ref_mth(lv, n, out + *len);
			*len += HL;
		}
		return;
	}
	k = split(n);
	if (m <= k) {
		ref_subproof(lv, m, k, whole, out, len);
		ref_mth(lv + k, n - k, out + *len);
	} else {
		ref_subproof(lv + k, m - k, n - k, 0, out, len);
		ref_mth(lv, k, out + *len);
	}
	*len += HL;
}

static uint64_t rng_state = 0x243f6a8885a308d3u;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static uint8_t (*random_leaves(uint64_t n))[HL]
{
	uint8_t(*lv)[HL] = malloc((size_t)(n ? n : 1) * HL);

	assert_non_null(lv);
	for (uint64_t i = 0; i < n; i++) {
		uint64_t v[2] = {rng(), i};

		merkle_leaf_hash(v, sizeof(v), lv[i]);
	}
	return lv;
}

/* ---- the transparency-dev JSON vectors: a strict reader for their flat objects ---- */

struct vec {
	uint64_t leaf_idx, tree_size, size1, size2;
	int has_leaf_idx, has_size1;
	char root[128], leaf[128], root1[128], root2[128], desc[128];
	char proof[16][128];
	int nproof, want_err;
};

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
		p++;
	return p;
}

static const char *read_str(const char *p, char *out, size_t cap)
{
	size_t n = 0;

	assert_int_equal(*p, '"');
	for (p++; *p != '"'; p++) {
		assert_true(*p != '\0' && *p != '\\');
		assert_true(n + 1 < cap);
		out[n++] = *p;
	}
	out[n] = '\0';
	return p + 1;
}

static const char *read_u64(const char *p, uint64_t *v)
{
	char *end;

	assert_true(*p >= '0' && *p <= '9');
	errno = 0;
	*v = strtoull(p, &end, 10);
	assert_int_equal(errno, 0);
	return end;
}

static void parse_vec(const char *text, struct vec *v)
{
	const char *p = skip_ws(text);

	memset(v, 0, sizeof(*v));
	v->want_err = -1;
	assert_int_equal(*p++, '{');
	for (;;) {
		char key[32];

		p = skip_ws(p);
		p = read_str(p, key, sizeof(key));
		p = skip_ws(p);
		assert_int_equal(*p++, ':');
		p = skip_ws(p);
		if (strcmp(key, "leafIdx") == 0) {
			p = read_u64(p, &v->leaf_idx);
			v->has_leaf_idx = 1;
		} else if (strcmp(key, "treeSize") == 0) {
			p = read_u64(p, &v->tree_size);
		} else if (strcmp(key, "size1") == 0) {
			p = read_u64(p, &v->size1);
			v->has_size1 = 1;
		} else if (strcmp(key, "size2") == 0) {
			p = read_u64(p, &v->size2);
		} else if (strcmp(key, "root") == 0) {
			p = read_str(p, v->root, sizeof(v->root));
		} else if (strcmp(key, "leafHash") == 0) {
			p = read_str(p, v->leaf, sizeof(v->leaf));
		} else if (strcmp(key, "root1") == 0) {
			p = read_str(p, v->root1, sizeof(v->root1));
		} else if (strcmp(key, "root2") == 0) {
			p = read_str(p, v->root2, sizeof(v->root2));
		} else if (strcmp(key, "desc") == 0) {
			p = read_str(p, v->desc, sizeof(v->desc));
		} else if (strcmp(key, "wantErr") == 0) {
			if (strncmp(p, "true", 4) == 0) {
				v->want_err = 1;
				p += 4;
			} else {
				assert_int_equal(strncmp(p, "false", 5), 0);
				v->want_err = 0;
				p += 5;
			}
		} else if (strcmp(key, "proof") == 0) {
			if (strncmp(p, "null", 4) == 0) {
				p += 4;
			} else {
				assert_int_equal(*p++, '[');
				p = skip_ws(p);
				while (*p != ']') {
					assert_true(v->nproof < 16);
					p = read_str(p, v->proof[v->nproof++], sizeof(v->proof[0]));
					p = skip_ws(p);
					if (*p == ',')
						p = skip_ws(p + 1);
				}
				p++;
			}
		} else {
			fail_msg("unknown key %s", key);
		}
		p = skip_ws(p);
		if (*p == ',') {
			p++;
			continue;
		}
		assert_int_equal(*p, '}');
		break;
	}
	assert_true(v->want_err == 0 || v->want_err == 1);
}

/* Decodes a base64 hash of any length (the vectors hold some that are not 32 bytes). */
static size_t b64(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;

	assert_int_equal(b64_decode(s, strlen(s), out, cap, &n), TIP_OK);
	return n;
}

/*
 * Our proofs are hashes back to back, so a proof element that is not 32 bytes long has no
 * representation: such a proof is refused when it is decoded, before any verifier sees it.
 */
static int flat_proof(const struct vec *v, uint8_t *out, size_t *len)
{
	uint8_t h[96];

	*len = 0;
	for (int i = 0; i < v->nproof; i++) {
		if (b64(v->proof[i], h, sizeof(h)) != HL)
			return -1;
		memcpy(out + *len, h, HL);
		*len += HL;
	}
	return 0;
}

/* The leaves of the vectors README and of the transparency-dev tests; the vector roots are over them. */
static const char *const readme_leaves[] = {
        "", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"};

static struct merkle *readme_tree(void)
{
	struct merkle *t = merkle_new(NULL);

	assert_non_null(t);
	for (size_t i = 0; i < 8; i++) {
		size_t n = 0;
		uint8_t *d = strlen(readme_leaves[i]) ? tu_hex(readme_leaves[i], &n) : NULL, h[HL];

		merkle_leaf_hash(d, n, h);
		assert_int_equal(merkle_append(t, h, NULL), TIP_OK);
		free(d);
	}
	return t;
}

struct walk {
	int consistency;
	int files, happy, regenerated;
	struct merkle *tree;
};

static void check_inclusion(struct walk *w, const struct vec *v)
{
	uint8_t root[96], leaf[96], proof[16 * HL], mine[PROOF_CAP], want[HL];
	size_t rl = b64(v->root, root, sizeof(root)), ll = b64(v->leaf, leaf, sizeof(leaf)), pl, ml;
	int rc = -1;

	assert_true(v->has_leaf_idx);
	if (flat_proof(v, proof, &pl) == 0)
		rc = merkle_verify_inclusion(v->leaf_idx, v->tree_size, leaf, ll, proof, pl, root, rl);
	if ((rc != TIP_OK) != v->want_err)
		fail_msg("inclusion vector \"%s\" (%llu of %llu): rc %d, wantErr %d", v->desc,
		         (unsigned long long)v->leaf_idx, (unsigned long long)v->tree_size, rc, v->want_err);
	if (v->want_err)
		return;
	w->happy++;
	/* A happy path over the README tree: our proof must be the same bytes. */
	if (v->tree_size <= 8 && merkle_root_at(w->tree, v->tree_size, want) == TIP_OK &&
	    memcmp(want, root, HL) == 0) {
		assert_int_equal(
		        merkle_inclusion_proof(w->tree, v->leaf_idx, v->tree_size, mine, sizeof(mine), &ml),
		        TIP_OK);
		assert_int_equal(ml, pl);
		assert_memory_equal(mine, proof, pl);
		w->regenerated++;
	}
}

static void check_consistency(struct walk *w, const struct vec *v)
{
	uint8_t r1[96], r2[96], proof[16 * HL], mine[PROOF_CAP], want1[HL], want2[HL];
	size_t l1 = b64(v->root1, r1, sizeof(r1)), l2 = b64(v->root2, r2, sizeof(r2)), pl, ml;
	int rc = -1;

	assert_true(v->has_size1);
	if (flat_proof(v, proof, &pl) == 0)
		rc = merkle_verify_consistency(v->size1, v->size2, r1, l1, r2, l2, proof, pl);
	if ((rc != TIP_OK) != v->want_err)
		fail_msg("consistency vector \"%s\" (%llu to %llu): rc %d, wantErr %d", v->desc,
		         (unsigned long long)v->size1, (unsigned long long)v->size2, rc, v->want_err);
	if (v->want_err)
		return;
	w->happy++;
	if (v->size2 <= 8 && l1 == HL && l2 == HL && merkle_root_at(w->tree, v->size1, want1) == TIP_OK &&
	    merkle_root_at(w->tree, v->size2, want2) == TIP_OK && memcmp(want1, r1, HL) == 0 &&
	    memcmp(want2, r2, HL) == 0) {
		assert_int_equal(
		        merkle_consistency_proof(w->tree, v->size1, v->size2, mine, sizeof(mine), &ml),
		        TIP_OK);
		assert_int_equal(ml, pl);
		assert_memory_equal(mine, proof, pl);
		w->regenerated++;
	}
}

static void walk_dir(struct walk *w, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	assert_non_null(d);
	while ((e = readdir(d))) {
		char path[4096];
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		assert_true(snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) < (int)sizeof(path));
		assert_int_equal(stat(path, &st), 0);
		if (S_ISDIR(st.st_mode)) {
			walk_dir(w, path);
		} else if (strlen(e->d_name) > 5 && strcmp(e->d_name + strlen(e->d_name) - 5, ".json") == 0) {
			struct vec v;
			char *text = tu_read_file(path, NULL);

			assert_non_null(text);
			parse_vec(text, &v);
			free(text);
			if (w->consistency)
				check_consistency(w, &v);
			else
				check_inclusion(w, &v);
			w->files++;
		}
	}
	closedir(d);
}

static void test_vectors_inclusion(void **state)
{
	struct walk w = {0, 0, 0, 0, readme_tree()};
	char *dir = tu_vector_path("merkle/testdata/inclusion");

	(void)state;
	walk_dir(&w, dir);
	/* Every file of the published set, not a subset: 98 files, 6 of them happy paths. */
	assert_int_equal(w.files, 98);
	assert_int_equal(w.happy, 6);
	assert_int_equal(w.regenerated, 5);
	merkle_close(w.tree);
	free(dir);
}

static void test_vectors_consistency(void **state)
{
	struct walk w = {1, 0, 0, 0, readme_tree()};
	char *dir = tu_vector_path("merkle/testdata/consistency");

	(void)state;
	walk_dir(&w, dir);
	assert_int_equal(w.files, 98);
	assert_int_equal(w.happy, 6);
	assert_int_equal(w.regenerated, 5);
	merkle_close(w.tree);
	free(dir);
}

/* The table of roots for sizes 0..8 in the vectors README. */
static void test_readme_roots(void **state)
{
	char *path = tu_vector_path("README.md"), *text = tu_read_file(path, NULL), *line, *save = NULL;
	struct merkle *t = readme_tree();
	int rows = 0;

	(void)state;
	assert_non_null(text);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		uint8_t want[HL], got[HL];
		size_t n;

		if (strlen(line) != 66 || line[0] < '0' || line[0] > '8' || line[1] != ' ')
			continue;
		assert_int_equal(hex_decode(line + 2, 64, want, sizeof(want), &n), TIP_OK);
		assert_int_equal(merkle_root_at(t, (uint64_t)(line[0] - '0'), got), TIP_OK);
		assert_memory_equal(got, want, HL);
		rows++;
	}
	assert_int_equal(rows, 9);
	free(text);
	free(path);
	merkle_close(t);
}

static void flip_each_bit_fails_inclusion(uint64_t i, uint64_t m, const uint8_t *leaf, uint8_t *proof,
                                          size_t len, const uint8_t *root)
{
	for (size_t b = 0; b < len * 8; b += 7) {
		proof[b / 8] ^= (uint8_t)(1u << (b % 8));
		assert_int_equal(merkle_verify_inclusion(i, m, leaf, HL, proof, len, root, HL), TIP_EVERIFY);
		proof[b / 8] ^= (uint8_t)(1u << (b % 8));
	}
}

/* Every (index, size) and (size1, size2) up to 64 leaves: proofs equal the naive ones, verify, and
 * every tampering fails. */
static void test_all_proofs_to_64(void **state)
{
	uint8_t(*lv)[HL] = random_leaves(64), root[HL], root2[HL], ref[PROOF_CAP], got[PROOF_CAP + HL];
	uint8_t bad[HL];
	struct merkle *t = merkle_new(NULL);
	size_t rl, gl;

	(void)state;
	assert_non_null(t);
	memset(bad, 0x5a, sizeof(bad));
	for (uint64_t n = 1; n <= 64; n++) {
		assert_int_equal(merkle_append(t, lv[n - 1], NULL), TIP_OK);
		ref_mth(lv, n, root);
		merkle_root(t, root2);
		assert_memory_equal(root, root2, HL);
	}
	for (uint64_t m = 1; m <= 64; m++) {
		ref_mth(lv, m, root);
		assert_int_equal(merkle_root_at(t, m, root2), TIP_OK);
		assert_memory_equal(root, root2, HL);
		for (uint64_t i = 0; i < m; i++) {
			rl = 0;
			ref_path(lv, i, m, ref, &rl);
			assert_int_equal(merkle_inclusion_proof(t, i, m, got, PROOF_CAP, &gl), TIP_OK);
			assert_int_equal(gl, rl);
			assert_memory_equal(got, ref, rl);
			assert_int_equal(merkle_verify_inclusion(i, m, lv[i], HL, got, gl, root, HL), TIP_OK);
			/* Another leaf, index, size or root; a proof one hash short or long. */
			assert_int_not_equal(
			        merkle_verify_inclusion(i, m, lv[(i + 1) % 64], HL, got, gl, root, HL),
			        TIP_OK);
			if (m > 1)
				assert_int_not_equal(
				        merkle_verify_inclusion((i + 1) % m, m, lv[i], HL, got, gl, root, HL),
				        TIP_OK);
			/* Sizes doubled and halved, as the vectors do. Size + 1 is not here: where the path
			 * has the same shape the same hashes do prove that claim. */
			assert_int_not_equal(merkle_verify_inclusion(i, m * 2, lv[i], HL, got, gl, root, HL),
			                     TIP_OK);
			assert_int_not_equal(merkle_verify_inclusion(i, m / 2, lv[i], HL, got, gl, root, HL),
			                     TIP_OK);
			assert_int_not_equal(merkle_verify_inclusion(i, m, lv[i], HL, got, gl, bad, HL),
			                     TIP_OK);
			if (gl)
				assert_int_equal(
				        merkle_verify_inclusion(i, m, lv[i], HL, got, gl - HL, root, HL),
				        TIP_EFORMAT);
			memcpy(got + gl, bad, HL);
			assert_int_equal(merkle_verify_inclusion(i, m, lv[i], HL, got, gl + HL, root, HL),
			                 TIP_EFORMAT);
			assert_int_equal(merkle_verify_inclusion(i, m, lv[i], HL, got, gl + 1, root, HL),
			                 TIP_EFORMAT);
			flip_each_bit_fails_inclusion(i, m, lv[i], got, gl, root);
		}
		for (uint64_t n = m; n <= 64; n++) {
			ref_mth(lv, n, root2);
			rl = 0;
			if (m < n)
				ref_subproof(lv, m, n, 1, ref, &rl);
			assert_int_equal(merkle_consistency_proof(t, m, n, got, PROOF_CAP, &gl), TIP_OK);
			assert_int_equal(gl, rl);
			assert_memory_equal(got, ref, rl);
			assert_int_equal(merkle_verify_consistency(m, n, root, HL, root2, HL, got, gl),
			                 TIP_OK);
			if (m == n)
				continue;
			assert_int_not_equal(merkle_verify_consistency(m, n, root2, HL, root, HL, got, gl),
			                     TIP_OK);
			assert_int_not_equal(merkle_verify_consistency(m, n, bad, HL, root2, HL, got, gl),
			                     TIP_OK);
			assert_int_not_equal(merkle_verify_consistency(m, n, root, HL, bad, HL, got, gl),
			                     TIP_OK);
			/* Sizes off by one (or doubled or halved, as the vectors do). Size2 + 1 is not here:
			 * where the path has the same shape the same hashes do prove that claim. */
			assert_int_not_equal(
			        merkle_verify_consistency(m + 1, n, root, HL, root2, HL, got, gl), TIP_OK);
			assert_int_not_equal(
			        merkle_verify_consistency(m - 1, n, root, HL, root2, HL, got, gl), TIP_OK);
			assert_int_not_equal(
			        merkle_verify_consistency(m, n * 2, root, HL, root2, HL, got, gl), TIP_OK);
			assert_int_not_equal(
			        merkle_verify_consistency(m, n / 2, root, HL, root2, HL, got, gl), TIP_OK);
			assert_int_not_equal(
			        merkle_verify_consistency(m, n, root, HL, root2, HL, got, gl - HL), TIP_OK);
			assert_int_not_equal(merkle_verify_consistency(m, n, root, HL, root2, HL, NULL, 0),
			                     TIP_OK);
			memcpy(got + gl, bad, HL);
			assert_int_not_equal(
			        merkle_verify_consistency(m, n, root, HL, root2, HL, got, gl + HL), TIP_OK);
			for (size_t b = 0; b < gl * 8; b += 5) {
				got[b / 8] ^= (uint8_t)(1u << (b % 8));
				assert_int_equal(
				        merkle_verify_consistency(m, n, root, HL, root2, HL, got, gl),
				        TIP_EVERIFY);
				got[b / 8] ^= (uint8_t)(1u << (b % 8));
			}
		}
	}
	merkle_close(t);
	free(lv);
}

static void test_verify_arguments(void **state)
{
	uint8_t h[HL] = {1}, proof[2 * HL] = {0};

	(void)state;
	assert_int_equal(merkle_verify_inclusion(0, 0, h, HL, NULL, 0, h, HL), TIP_ERANGE);
	assert_int_equal(merkle_verify_inclusion(5, 5, h, HL, NULL, 0, h, HL), TIP_ERANGE);
	assert_int_equal(merkle_verify_inclusion(UINT64_MAX, 1, h, HL, NULL, 0, h, HL), TIP_ERANGE);
	assert_int_equal(merkle_verify_inclusion(0, 1, h, HL, NULL, 0, h, HL), TIP_OK);
	assert_int_equal(merkle_verify_inclusion(0, 1, h, HL - 1, NULL, 0, h, HL), TIP_EFORMAT);
	assert_int_equal(merkle_verify_inclusion(0, 1, h, HL, NULL, 0, h, HL + 1), TIP_EFORMAT);
	assert_int_equal(merkle_verify_inclusion(0, 1, NULL, HL, NULL, 0, h, HL), TIP_EFORMAT);
	assert_int_equal(merkle_verify_inclusion(0, 1, h, HL, NULL, HL, h, HL), TIP_EFORMAT);
	assert_int_equal(merkle_verify_inclusion(0, 2, h, HL, proof, 2 * HL, h, HL), TIP_EFORMAT);
	/* The largest sizes do not overflow anything. */
	assert_int_equal(merkle_verify_inclusion(UINT64_MAX - 1, UINT64_MAX, h, HL, proof, HL, h, HL),
	                 TIP_EFORMAT);
	assert_int_equal(merkle_verify_consistency(0, 0, h, HL, h, HL, NULL, 0), TIP_ERANGE);
	assert_int_equal(merkle_verify_consistency(0, 7, h, HL, h, HL, NULL, 0), TIP_ERANGE);
	assert_int_equal(merkle_verify_consistency(3, 2, h, HL, h, HL, NULL, 0), TIP_ERANGE);
	assert_int_equal(merkle_verify_consistency(3, 3, h, HL, h, HL, proof, HL), TIP_EFORMAT);
	assert_int_equal(merkle_verify_consistency(3, 4, h, HL, h, HL, NULL, 0), TIP_EFORMAT);
	assert_int_equal(merkle_verify_consistency(3, 4, h, HL - 1, h, HL, proof, 2 * HL), TIP_EFORMAT);
	assert_int_equal(merkle_verify_consistency(UINT64_MAX - 1, UINT64_MAX, h, HL, h, HL, proof, HL),
	                 TIP_EFORMAT);
}

/* Tree sizes across tile boundaries (256 and 65536 leaves): roots and proofs against the naive code. */
static void test_memory_tree_large(void **state)
{
	const uint64_t n = 70000;
	uint8_t(*lv)[HL] = random_leaves(n), a[HL], b[HL], got[PROOF_CAP], ref[PROOF_CAP];
	struct merkle_opts o = merkle_opts_default();
	struct merkle *t;
	size_t gl, rl;

	(void)state;
	o.mem_max_size = n;
	assert_non_null(t = merkle_new(&o));
	for (uint64_t i = 0; i < n; i++)
		assert_int_equal(merkle_append(t, lv[i], NULL), TIP_OK);
	assert_int_equal(merkle_append(t, lv[0], NULL), TIP_EFULL);
	assert_int_equal(merkle_size(t), n);
	assert_int_equal(merkle_durable(t), n);
	const uint64_t sizes[] = {1, 255, 256, 257, 511, 512, 65535, 65536, 65537, 69999, 70000};
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		ref_mth(lv, sizes[s], a);
		assert_int_equal(merkle_root_at(t, sizes[s], b), TIP_OK);
		assert_memory_equal(a, b, HL);
	}
	for (int k = 0; k < 40; k++) {
		uint64_t m = 1 + rng() % n, i = rng() % m, m1 = 1 + rng() % m;

		rl = 0;
		ref_path(lv, i, m, ref, &rl);
		assert_int_equal(merkle_inclusion_proof(t, i, m, got, sizeof(got), &gl), TIP_OK);
		assert_int_equal(gl, rl);
		assert_memory_equal(got, ref, rl);
		rl = 0;
		if (m1 < m)
			ref_subproof(lv, m1, m, 1, ref, &rl);
		assert_int_equal(merkle_consistency_proof(t, m1, m, got, sizeof(got), &gl), TIP_OK);
		assert_int_equal(gl, rl);
		assert_memory_equal(got, ref, rl);
	}
	assert_int_equal(merkle_leaf(t, 65536, a), TIP_OK);
	assert_memory_equal(a, lv[65536], HL);
	assert_int_equal(merkle_leaf(t, n, a), TIP_ERANGE);
	assert_int_equal(merkle_root_at(t, n + 1, a), TIP_ERANGE);
	assert_int_equal(merkle_inclusion_proof(t, 5, n + 1, got, sizeof(got), &gl), TIP_ERANGE);
	assert_int_equal(merkle_inclusion_proof(t, 5, 5, got, sizeof(got), &gl), TIP_ERANGE);
	assert_int_equal(merkle_inclusion_proof(t, 5, n, got, 3 * HL, &gl), TIP_EOVERSIZE);
	assert_int_equal(merkle_consistency_proof(t, 0, n, got, sizeof(got), &gl), TIP_ERANGE);
	assert_int_equal(merkle_consistency_proof(t, 9, 8, got, sizeof(got), &gl), TIP_ERANGE);
	assert_int_equal(merkle_consistency_proof(t, 9, n + 1, got, sizeof(got), &gl), TIP_ERANGE);
	assert_int_equal(merkle_consistency_proof(t, 9, n, got, HL, &gl), TIP_EOVERSIZE);
	assert_int_equal(merkle_sync(t), TIP_OK);
	merkle_close(t);
	free(lv);
}

static char *join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);

	assert_non_null(p);
	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

static int exists(const char *dir, const char *name)
{
	char *p = join(dir, name);
	struct stat st;
	int r = stat(p, &st) == 0;

	free(p);
	return r;
}

static void flip_byte(const char *dir, const char *name, off_t at)
{
	char *p = join(dir, name);
	int fd = open(p, O_RDWR);
	uint8_t c;

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &c, 1, at), 1);
	c ^= 0x20;
	assert_int_equal(pwrite(fd, &c, 1, at), 1);
	close(fd);
	free(p);
}

static struct merkle *open_tree(const char *dir, int flags, int want)
{
	int err = 12345;
	struct merkle *t = merkle_open(dir, flags, NULL, &err);

	assert_int_equal(err, want);
	if (want == TIP_OK)
		assert_non_null(t);
	else
		assert_null(t);
	return t;
}

/* A disk tree: the tlog-tiles layout, commit and reopen, proofs equal to a memory tree's. */
static void test_disk_tree(void **state)
{
	const uint64_t n = 256 * 1000 + 300;
	uint8_t(*lv)[HL] = random_leaves(n), a[HL], b[HL], p1[PROOF_CAP], p2[PROOF_CAP];
	char *base = tu_mkdtemp(), *dir = join(base, "log");
	struct merkle *t, *mem = merkle_new(NULL), *ro;
	size_t l1, l2;

	(void)state;
	assert_non_null(mem);
	open_tree(dir, 0, TIP_ENOTFOUND);
	t = open_tree(dir, MERKLE_CREATE, TIP_OK);
	assert_int_equal(merkle_size(t), 0);
	merkle_root(t, a);
	merkle_empty_root(b);
	assert_memory_equal(a, b, HL);
	open_tree(dir, 0, TIP_EBUSY);
	for (uint64_t i = 0; i < n; i++) {
		uint64_t idx;

		assert_int_equal(merkle_append(t, lv[i], &idx), TIP_OK);
		assert_int_equal(idx, i);
		assert_int_equal(merkle_append(mem, lv[i], NULL), TIP_OK);
		if (i == 69999 || i == 70000)
			assert_int_equal(merkle_sync(t), TIP_OK);
	}
	assert_int_equal(merkle_durable(t), 70001);
	/* A reader sees the committed size while the writer is ahead. */
	ro = open_tree(dir, MERKLE_RDONLY, TIP_OK);
	assert_int_equal(merkle_size(ro), 70001);
	assert_int_equal(merkle_root_at(mem, 70001, a), TIP_OK);
	merkle_root(ro, b);
	assert_memory_equal(a, b, HL);
	assert_int_equal(merkle_append(ro, lv[0], NULL), TIP_EINVAL);
	assert_int_equal(merkle_sync(ro), TIP_EINVAL);
	merkle_close(ro);

	assert_int_equal(merkle_sync(t), TIP_OK);
	assert_int_equal(merkle_durable(t), n);
	/* tlog-tiles names: full tiles, 3-digit groups, partial tiles of the committed widths. */
	assert_true(exists(dir, "tree"));
	assert_true(exists(dir, "tile/0/000"));
	assert_true(exists(dir, "tile/0/x001/000"));
	assert_true(exists(dir, "tile/0/x001/001.p/44"));
	assert_true(exists(dir, "tile/1/002"));
	assert_true(exists(dir, "tile/1/003.p/233"));
	assert_true(exists(dir, "tile/2/000.p/3"));
	/* Partial tiles of earlier commits: kept while their tile is partial, removed once it is full. */
	assert_true(exists(dir, "tile/2/000.p/1"));
	assert_false(exists(dir, "tile/0/273.p"));
	assert_false(exists(dir, "tile/1/001.p"));
	assert_false(exists(dir, "tile/1/003"));
	assert_int_equal(merkle_close(t), TIP_OK);

	t = open_tree(dir, 0, TIP_OK);
	assert_int_equal(merkle_size(t), n);
	merkle_root(t, a);
	merkle_root(mem, b);
	assert_memory_equal(a, b, HL);
	for (int k = 0; k < 200; k++) {
		uint64_t m = 1 + rng() % n, i = rng() % m, m1 = 1 + rng() % m;

		assert_int_equal(merkle_root_at(t, m, a), TIP_OK);
		assert_int_equal(merkle_root_at(mem, m, b), TIP_OK);
		assert_memory_equal(a, b, HL);
		assert_int_equal(merkle_inclusion_proof(t, i, m, p1, sizeof(p1), &l1), TIP_OK);
		assert_int_equal(merkle_inclusion_proof(mem, i, m, p2, sizeof(p2), &l2), TIP_OK);
		assert_int_equal(l1, l2);
		assert_memory_equal(p1, p2, l1);
		assert_int_equal(merkle_verify_inclusion(i, m, lv[i], HL, p1, l1, a, HL), TIP_OK);
		assert_int_equal(merkle_consistency_proof(t, m1, m, p1, sizeof(p1), &l1), TIP_OK);
		assert_int_equal(merkle_consistency_proof(mem, m1, m, p2, sizeof(p2), &l2), TIP_OK);
		assert_int_equal(l1, l2);
		assert_memory_equal(p1, p2, l1);
	}
	assert_int_equal(merkle_leaf(t, 12345, a), TIP_OK);
	assert_memory_equal(a, lv[12345], HL);
	/* Appending after a reopen continues the same tree. */
	for (int i = 0; i < 1000; i++) {
		assert_int_equal(merkle_append(t, lv[i], NULL), TIP_OK);
		assert_int_equal(merkle_append(mem, lv[i], NULL), TIP_OK);
	}
	merkle_root(t, a);
	merkle_root(mem, b);
	assert_memory_equal(a, b, HL);
	assert_int_equal(merkle_close(t), TIP_OK); /* close commits */
	t = open_tree(dir, MERKLE_RDONLY, TIP_OK);
	assert_int_equal(merkle_size(t), n + 1000);
	merkle_close(t);

	merkle_close(mem);
	tu_rmtree(base);
	free(dir);
	free(base);
	free(lv);
}

/* A writer that dies without committing: the reopened tree is the committed one, and a different
 * continuation (over the tiles the dead writer left) is stored correctly. */
static void test_disk_crash(void **state)
{
	const uint64_t n = 3000;
	uint8_t(*lv)[HL] = random_leaves(2 * n), a[HL], b[HL], p[PROOF_CAP];
	char *base = tu_mkdtemp(), *dir = join(base, "log");
	struct merkle *t, *mem = merkle_new(NULL);
	pid_t pid;
	int status;
	size_t pl;

	(void)state;
	assert_non_null(mem);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct merkle *c = merkle_open(dir, MERKLE_CREATE, NULL, NULL);

		if (!c)
			_exit(2);
		for (uint64_t i = 0; i < n; i++)
			if (merkle_append(c, lv[i], NULL) != TIP_OK ||
			    (i == 1000 && merkle_sync(c) != TIP_OK))
				_exit(3);
		_exit(0); /* no close: everything after leaf 1000 is uncommitted */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_true(exists(dir, "tile/0/010")); /* a full tile past the committed size */

	t = open_tree(dir, 0, TIP_OK);
	assert_int_equal(merkle_size(t), 1001);
	for (uint64_t i = 0; i < 1001; i++)
		assert_int_equal(merkle_append(mem, lv[i], NULL), TIP_OK);
	merkle_root(t, a);
	merkle_root(mem, b);
	assert_memory_equal(a, b, HL);
	for (uint64_t i = n; i < 2 * n; i++) {
		assert_int_equal(merkle_append(t, lv[i], NULL), TIP_OK);
		assert_int_equal(merkle_append(mem, lv[i], NULL), TIP_OK);
	}
	assert_int_equal(merkle_close(t), TIP_OK);
	t = open_tree(dir, 0, TIP_OK);
	for (uint64_t m = 1; m <= merkle_size(mem); m += 97) {
		assert_int_equal(merkle_root_at(t, m, a), TIP_OK);
		assert_int_equal(merkle_root_at(mem, m, b), TIP_OK);
		assert_memory_equal(a, b, HL);
		assert_int_equal(merkle_inclusion_proof(t, m / 2, m, p, sizeof(p), &pl), TIP_OK);
		assert_int_equal(merkle_verify_inclusion(m / 2, m,
		                                         lv[m / 2 < 1001 ? m / 2 : m / 2 - 1001 + n], HL, p,
		                                         pl, b, HL),
		                 TIP_OK);
	}
	merkle_close(t);
	merkle_close(mem);
	tu_rmtree(base);
	free(dir);
	free(base);
	free(lv);
}

/* Damaged storage is found, never used. */
static void test_disk_damage(void **state)
{
	const uint64_t n = 256 * 3 + 17;
	uint8_t(*lv)[HL] = random_leaves(n), a[HL], p[PROOF_CAP];
	char *base = tu_mkdtemp(), *dir = join(base, "log"), *path;
	struct merkle *t;
	uint8_t head[52];
	size_t pl;
	int fd;

	(void)state;
	t = open_tree(dir, MERKLE_CREATE, TIP_OK);
	for (uint64_t i = 0; i < n; i++)
		assert_int_equal(merkle_append(t, lv[i], NULL), TIP_OK);
	assert_int_equal(merkle_close(t), TIP_OK);

	/* A flipped byte in a full tile: the open works (the root needs no full tile), reads fail. */
	flip_byte(dir, "tile/0/001", 100);
	t = open_tree(dir, MERKLE_RDONLY, TIP_OK);
	assert_int_equal(merkle_leaf(t, 256 + 3, a), TIP_ECORRUPT);
	assert_int_equal(merkle_root_at(t, 300, a), TIP_ECORRUPT);
	assert_int_equal(merkle_inclusion_proof(t, 300, n, p, sizeof(p), &pl), TIP_ECORRUPT);
	assert_int_equal(merkle_inclusion_proof(t, 0, n, p, sizeof(p), &pl), TIP_OK); /* needs tile 0 only */
	assert_int_equal(merkle_leaf(t, 3, a), TIP_OK); /* other tiles are fine */
	merkle_close(t);
	flip_byte(dir, "tile/0/001", 100);

	/* A flipped byte in a partial tile or in the head: the open fails. */
	flip_byte(dir, "tile/0/003.p/17", 5);
	open_tree(dir, MERKLE_RDONLY, TIP_ECORRUPT);
	flip_byte(dir, "tile/0/003.p/17", 5);
	flip_byte(dir, "tile/1/000.p/3", 40);
	open_tree(dir, 0, TIP_ECORRUPT);
	flip_byte(dir, "tile/1/000.p/3", 40);
	for (off_t at = 0; at < 52; at += 13) {
		flip_byte(dir, "tree", at);
		open_tree(dir, MERKLE_RDONLY, TIP_ECORRUPT);
		flip_byte(dir, "tree", at);
	}
	t = open_tree(dir, MERKLE_RDONLY, TIP_OK);
	merkle_close(t);

	/* A missing or truncated tile. */
	path = join(dir, "tile/0/002");
	assert_int_equal(truncate(path, 8191), 0);
	t = open_tree(dir, MERKLE_RDONLY, TIP_OK);
	assert_int_equal(merkle_leaf(t, 600, a), TIP_ECORRUPT);
	merkle_close(t);
	assert_int_equal(unlink(path), 0);
	t = open_tree(dir, MERKLE_RDONLY, TIP_OK);
	assert_int_equal(merkle_leaf(t, 600, a), TIP_ECORRUPT);
	merkle_close(t);
	free(path);
	path = join(dir, "tile/0/003.p/17");
	assert_int_equal(unlink(path), 0);
	open_tree(dir, MERKLE_RDONLY, TIP_ECORRUPT);
	free(path);

	/* A head from a newer format (CRC right) and one of the wrong length. */
	path = join(dir, "tree");
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, head, sizeof(head), 0), 52);
	head[4] = 2;
	{
		/* Recompute the CRC32C (bitwise; the table-free form is enough here). */
		uint32_t crc = 0xffffffffu;

		for (int i = 0; i < 48; i++) {
			crc ^= head[i];
			for (int k = 0; k < 8; k++)
				crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1)));
		}
		crc ^= 0xffffffffu;
		for (int i = 0; i < 4; i++)
			head[48 + i] = (uint8_t)(crc >> (8 * i));
	}
	assert_int_equal(pwrite(fd, head, sizeof(head), 0), 52);
	close(fd);
	open_tree(dir, MERKLE_RDONLY, TIP_EVERSION);
	assert_int_equal(truncate(path, 51), 0);
	open_tree(dir, MERKLE_RDONLY, TIP_ECORRUPT);
	/* Tiles without a head are not silently replaced by an empty tree. */
	assert_int_equal(unlink(path), 0);
	open_tree(dir, MERKLE_RDONLY, TIP_ENOTFOUND);
	open_tree(dir, MERKLE_CREATE, TIP_ECORRUPT);
	free(path);

	open_tree(dir, MERKLE_CREATE | MERKLE_RDONLY, TIP_EINVAL);
	open_tree(dir, 0x40, TIP_EINVAL);
	{
		struct merkle_opts o = merkle_opts_default();
		int err;

		o.cache_tiles = 0;
		assert_null(merkle_open(dir, 0, &o, &err));
		assert_int_equal(err, TIP_EINVAL);
		assert_null(merkle_new(&o));
	}
	tu_rmtree(base);
	free(dir);
	free(base);
	free(lv);
}

/* The hash functions against RFC 6962's definitions, computed another way. */
static void test_hashes(void **state)
{
	uint8_t a[HL], b[HL], buf[1 + 2 * HL], want[HL];
	size_t n;
	uint8_t *e = tu_hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", &n);
	uint8_t *l0 = tu_hex("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d", &n);
	struct merkle *t;

	(void)state;
	merkle_empty_root(a);
	assert_memory_equal(a, e, HL);
	merkle_leaf_hash(NULL, 0, a);
	assert_memory_equal(a, l0, HL);
	merkle_leaf_hash("\x00", 1, b);
	buf[0] = 1;
	memcpy(buf + 1, a, HL);
	memcpy(buf + 1 + HL, b, HL);
	merkle_leaf_hash(buf + 1, 2 * HL, want); /* 0x00 prefix: must differ from the node hash */
	merkle_node_hash(a, b, a);               /* output aliasing an input */
	assert_memory_not_equal(a, want, HL);
	t = readme_tree(); /* its root at size 2 is the node over the leaves "" and 00 */
	assert_int_equal(merkle_root_at(t, 2, want), TIP_OK);
	assert_memory_equal(a, want, HL);
	merkle_close(t);
	free(e);
	free(l0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_hashes),
	        cmocka_unit_test(test_readme_roots),
	        cmocka_unit_test(test_vectors_inclusion),
	        cmocka_unit_test(test_vectors_consistency),
	        cmocka_unit_test(test_verify_arguments),
	        cmocka_unit_test(test_all_proofs_to_64),
	        cmocka_unit_test(test_memory_tree_large),
	        cmocka_unit_test(test_disk_tree),
	        cmocka_unit_test(test_disk_crash),
	        cmocka_unit_test(test_disk_damage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
