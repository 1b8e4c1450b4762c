#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "proto/hpke.h"
#include "common/err.h"
#include "testutil.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/*
 * The vector files are the RFC 9180 appendix text: "name: value" lines whose hex
 * value may be empty or continue on following lines, a setup block, then
 * "#### Encryptions" and "#### Exported Values" blocks.
 */
#define VAL_CAP   1024
#define MAX_ITEMS 16

struct field {
	char key[32];
	char val[VAL_CAP];
};

struct group {
	struct field f[32];
	int n;
};

struct suite {
	struct group setup;
	struct group enc[MAX_ITEMS];
	int n_enc;
	struct group exp[MAX_ITEMS];
	int n_exp;
};

static const char *get(const struct group *g, const char *key)
{
	for (int i = 0; i < g->n; i++)
		if (strcmp(g->f[i].key, key) == 0)
			return g->f[i].val;
	fail_msg("vector field %s missing", key);
	return NULL;
}

static uint8_t *hex(const struct group *g, const char *key, size_t *len)
{
	return tu_hex(get(g, key), len);
}

/* Copies a hex field that must have exactly n bytes. */
static void hex_n(const struct group *g, const char *key, uint8_t *out, size_t n)
{
	size_t len;
	uint8_t *b = hex(g, key, &len);

	assert_int_equal(len, n);
	memcpy(out, b, n);
	free(b);
}

static void append(char *dst, const char *src)
{
	size_t a = strlen(dst), b = strlen(src);

	assert_true(a + b < VAL_CAP);
	memcpy(dst + a, src, b + 1);
}

static void load_suite(const char *rel, struct suite *s)
{
	char *path = tu_vector_path(rel);
	char *text = tu_read_file(path, NULL);
	char *save = NULL;
	int section = 0; /* 0 setup, 1 encryptions, 2 exports */
	struct group *g = &s->setup;
	struct field *cur = NULL;

	assert_non_null(text);
	memset(s, 0, sizeof(*s));
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':');

		if (strncmp(line, "####", 4) == 0) {
			section = strstr(line, "Encryptions") ? 1 : strstr(line, "Exported") ? 2 : section;
			cur = NULL;
			continue;
		}
		if (line[0] == '#' || strncmp(line, "~~~", 3) == 0) {
			cur = NULL;
			continue;
		}
		if (!colon) {
			assert_non_null(cur); /* a continuation of the previous hex value */
			append(cur->val, line);
			continue;
		}
		*colon = '\0';
		if (section == 1 && strcmp(line, "sequence number") == 0) {
			assert_true(s->n_enc < MAX_ITEMS);
			g = &s->enc[s->n_enc++];
		} else if (section == 2 && strcmp(line, "exporter_context") == 0) {
			assert_true(s->n_exp < MAX_ITEMS);
			g = &s->exp[s->n_exp++];
		}
		assert_true(g->n < 32);
		cur = &g->f[g->n++];
		assert_true(strlen(line) < sizeof(cur->key));
		memcpy(cur->key, line, strlen(line) + 1);
		for (colon++; *colon == ' '; colon++)
			;
		append(cur->val, colon);
	}
	free(text);
	free(path);
}

static const char *suite_files[] = {"hpke/x25519-sha256-aes128gcm-base.txt",
                                    "hpke/x25519-sha256-chacha20poly1305-base.txt"};

/* Sender and recipient contexts from a suite's fixed keys, checked against its setup values. */
static void setup_pair(const struct suite *s, struct hpke_ctx *snd, struct hpke_ctx *rcv)
{
	const struct group *g = &s->setup;
	enum hpke_aead aead = (enum hpke_aead)atoi(get(g, "aead_id"));
	uint8_t pkR[32], skR[32], skE[32], enc[32], want_enc[32], ss[32], want_ss[32];
	uint8_t key[32], nonce[12], exp[32];
	size_t info_len, key_len;
	uint8_t *info = hex(g, "info", &info_len);
	uint8_t *k = hex(g, "key", &key_len);

	hex_n(g, "pkRm", pkR, 32);
	hex_n(g, "skRm", skR, 32);
	hex_n(g, "skEm", skE, 32);
	hex_n(g, "enc", want_enc, 32);
	hex_n(g, "shared_secret", want_ss, 32);
	hex_n(g, "base_nonce", nonce, 12);
	hex_n(g, "exporter_secret", exp, 32);
	memcpy(key, k, key_len);
	free(k);

	assert_int_equal(hpke_setup_base_s_fixed(aead, pkR, info, info_len, skE, enc, snd), TIP_OK);
	assert_memory_equal(enc, want_enc, 32);
	assert_int_equal(hpke_decap(enc, skR, ss), TIP_OK);
	assert_memory_equal(ss, want_ss, 32);
	assert_int_equal(hpke_setup_base_r(aead, enc, skR, info, info_len, rcv), TIP_OK);
	for (int i = 0; i < 2; i++) {
		const struct hpke_ctx *c = i ? rcv : snd;

		assert_int_equal(c->aead, aead);
		assert_int_equal(c->key_len, key_len);
		assert_memory_equal(c->key, key, key_len);
		assert_memory_equal(c->base_nonce, nonce, 12);
		assert_memory_equal(c->exporter_secret, exp, 32);
		assert_int_equal(c->seq, 0);
	}
	assert_int_equal(snd->role, HPKE_ROLE_SENDER);
	assert_int_equal(rcv->role, HPKE_ROLE_RECIPIENT);
	free(info);
}

static void test_vectors_setup(void **state)
{
	(void)state;
	for (size_t f = 0; f < 2; f++) {
		struct suite *s = malloc(sizeof(*s));
		struct hpke_ctx snd, rcv;
		uint8_t sk[32], pk[32], want_sk[32], want_pk[32];
		size_t ikm_len;
		uint8_t *ikm;

		assert_non_null(s);
		load_suite(suite_files[f], s);
		assert_int_equal(atoi(get(&s->setup, "mode")), 0);
		assert_int_equal(atoi(get(&s->setup, "kem_id")), 32);
		assert_int_equal(atoi(get(&s->setup, "kdf_id")), 1);
		assert_int_equal(atoi(get(&s->setup, "aead_id")), f == 0 ? 1 : 3);
		assert_int_equal(s->n_enc, 6);
		assert_int_equal(s->n_exp, 3);
		/* DeriveKeyPair for both the ephemeral and the recipient key. */
		const char *ikms[2][3] = {{"ikmE", "skEm", "pkEm"}, {"ikmR", "skRm", "pkRm"}};
		for (int i = 0; i < 2; i++) {
			ikm = hex(&s->setup, ikms[i][0], &ikm_len);
			hex_n(&s->setup, ikms[i][1], want_sk, 32);
			hex_n(&s->setup, ikms[i][2], want_pk, 32);
			assert_int_equal(hpke_derive_keypair(ikm, ikm_len, sk, pk), TIP_OK);
			assert_memory_equal(sk, want_sk, 32);
			assert_memory_equal(pk, want_pk, 32);
			assert_int_equal(hpke_public_from_private(want_sk, pk), TIP_OK);
			assert_memory_equal(pk, want_pk, 32);
			free(ikm);
		}
		setup_pair(s, &snd, &rcv);
		hpke_ctx_wipe(&snd);
		hpke_ctx_wipe(&rcv);
		free(s);
	}
}

static void test_vectors_encryptions_exports(void **state)
{
	(void)state;
	for (size_t f = 0; f < 2; f++) {
		struct suite *s = malloc(sizeof(*s));
		struct hpke_ctx snd, rcv;

		assert_non_null(s);
		load_suite(suite_files[f], s);
		setup_pair(s, &snd, &rcv);
		for (int i = 0; i < s->n_enc; i++) {
			const struct group *g = &s->enc[i];
			uint64_t seq = strtoull(get(g, "sequence number"), NULL, 10);
			size_t pt_len, aad_len, ct_len, nonce_len;
			uint8_t *pt = hex(g, "pt", &pt_len), *aad = hex(g, "aad", &aad_len);
			uint8_t *ct = hex(g, "ct", &ct_len), *nonce = hex(g, "nonce", &nonce_len);
			uint8_t *out = malloc(ct_len), *back = malloc(ct_len);
			uint8_t want_nonce[12];

			assert_non_null(out);
			assert_non_null(back);
			/* The vector's nonce is base_nonce XOR seq, as compute_nonce builds it. */
			memcpy(want_nonce, snd.base_nonce, 12);
			for (int b = 0; b < 8; b++)
				want_nonce[11 - b] ^= (uint8_t)(seq >> (8 * b));
			assert_int_equal(nonce_len, 12);
			assert_memory_equal(nonce, want_nonce, 12);

			assert_int_equal(ct_len, pt_len + HPKE_TAG_LEN);
			snd.seq = seq; /* the vectors skip sequence numbers */
			assert_int_equal(hpke_seal(&snd, aad, aad_len, pt, pt_len, out), TIP_OK);
			assert_memory_equal(out, ct, ct_len);
			assert_int_equal(snd.seq, seq + 1);
			rcv.seq = seq;
			assert_int_equal(hpke_open(&rcv, aad, aad_len, ct, ct_len, back), TIP_OK);
			assert_memory_equal(back, pt, pt_len);
			assert_int_equal(rcv.seq, seq + 1);
			free(pt);
			free(aad);
			free(ct);
			free(nonce);
			free(out);
			free(back);
		}
		for (int i = 0; i < s->n_exp; i++) {
			const struct group *g = &s->exp[i];
			size_t ctx_len, want_len;
			uint8_t *ec = hex(g, "exporter_context", &ctx_len);
			uint8_t *want = hex(g, "exported_value", &want_len);
			size_t L = (size_t)atoi(get(g, "L"));
			uint8_t out[64];

			assert_int_equal(L, want_len);
			assert_true(L <= sizeof(out));
			assert_int_equal(hpke_export(&snd, ec, ctx_len, L, out), TIP_OK);
			assert_memory_equal(out, want, L);
			assert_int_equal(hpke_export(&rcv, ec, ctx_len, L, out), TIP_OK);
			assert_memory_equal(out, want, L);
			free(ec);
			free(want);
		}
		hpke_ctx_wipe(&snd);
		hpke_ctx_wipe(&rcv);
		free(s);
	}
}

/* Everything a recipient could be handed wrongly must fail to open. */
static void test_vectors_must_fail(void **state)
{
	(void)state;
	for (size_t f = 0; f < 2; f++) {
		struct suite *s = malloc(sizeof(*s));
		struct hpke_ctx snd, rcv, bad;
		const struct group *g;
		enum hpke_aead aead, other;
		size_t pt_len, aad_len, ct_len, info_len;
		uint8_t *pt, *aad, *ct, *info, *buf, *back;
		uint8_t enc[32], skR[32], sk2[32], pk2[32];
		int rc;

		assert_non_null(s);
		load_suite(suite_files[f], s);
		setup_pair(s, &snd, &rcv);
		aead = snd.aead;
		other = aead == HPKE_AEAD_AES_128_GCM ? HPKE_AEAD_CHACHA20_POLY1305 : HPKE_AEAD_AES_128_GCM;
		g = &s->enc[0];
		pt = hex(g, "pt", &pt_len);
		aad = hex(g, "aad", &aad_len);
		ct = hex(g, "ct", &ct_len);
		info = hex(&s->setup, "info", &info_len);
		hex_n(&s->setup, "enc", enc, 32);
		hex_n(&s->setup, "skRm", skR, 32);
		buf = malloc(ct_len);
		back = malloc(ct_len);
		assert_non_null(buf);
		assert_non_null(back);

		/* Every single-bit change of the ciphertext or tag. The output is zeroed, seq unchanged. */
		for (size_t bit = 0; bit < ct_len * 8; bit++) {
			memcpy(buf, ct, ct_len);
			buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			memset(back, 0xaa, ct_len);
			assert_int_equal(hpke_open(&rcv, aad, aad_len, buf, ct_len, back), TIP_EVERIFY);
			for (size_t j = 0; j < pt_len; j++)
				assert_int_equal(back[j], 0);
			assert_int_equal(rcv.seq, 0);
		}
		/* Altered or missing aad. */
		aad[0] ^= 1;
		assert_int_equal(hpke_open(&rcv, aad, aad_len, ct, ct_len, back), TIP_EVERIFY);
		aad[0] ^= 1;
		assert_int_equal(hpke_open(&rcv, aad, aad_len - 1, ct, ct_len, back), TIP_EVERIFY);
		assert_int_equal(hpke_open(&rcv, NULL, 0, ct, ct_len, back), TIP_EVERIFY);
		/* Truncated: shorter than a tag, and every shorter length above it. */
		for (size_t len = 0; len < HPKE_TAG_LEN; len++)
			assert_int_equal(hpke_open(&rcv, aad, aad_len, ct, len, back), TIP_ETRUNCATED);
		for (size_t len = HPKE_TAG_LEN; len < ct_len; len++)
			assert_int_equal(hpke_open(&rcv, aad, aad_len, ct, len, back), TIP_EVERIFY);
		/* Wrong sequence number. */
		rcv.seq = 1;
		assert_int_equal(hpke_open(&rcv, aad, aad_len, ct, ct_len, back), TIP_EVERIFY);
		rcv.seq = 0;
		/* Altered info. */
		info[0] ^= 1;
		assert_int_equal(hpke_setup_base_r(aead, enc, skR, info, info_len, &bad), TIP_OK);
		assert_int_equal(hpke_open(&bad, aad, aad_len, ct, ct_len, back), TIP_EVERIFY);
		info[0] ^= 1;
		assert_int_equal(hpke_setup_base_r(aead, enc, skR, NULL, 0, &bad), TIP_OK);
		assert_int_equal(hpke_open(&bad, aad, aad_len, ct, ct_len, back), TIP_EVERIFY);
		/* Altered enc: each bit but the top one, which X25519 ignores (RFC 7748 5). */
		for (size_t bit = 0; bit < 255; bit++) {
			enc[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			rc = hpke_setup_base_r(aead, enc, skR, info, info_len, &bad);
			if (rc == TIP_OK)
				rc = hpke_open(&bad, aad, aad_len, ct, ct_len, back);
			assert_int_equal(rc, TIP_EVERIFY);
			enc[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		/* Wrong recipient key. */
		assert_int_equal(hpke_generate_keypair(sk2, pk2), TIP_OK);
		assert_int_equal(hpke_setup_base_r(aead, enc, sk2, info, info_len, &bad), TIP_OK);
		assert_int_equal(hpke_open(&bad, aad, aad_len, ct, ct_len, back), TIP_EVERIFY);
		/* Other AEAD for the same keys. */
		assert_int_equal(hpke_setup_base_r(other, enc, skR, info, info_len, &bad), TIP_OK);
		assert_int_equal(hpke_open(&bad, aad, aad_len, ct, ct_len, back), TIP_EVERIFY);
		/* And the untouched inputs still open. */
		assert_int_equal(hpke_open(&rcv, aad, aad_len, ct, ct_len, back), TIP_OK);
		assert_memory_equal(back, pt, pt_len);

		hpke_ctx_wipe(&bad);
		hpke_ctx_wipe(&snd);
		hpke_ctx_wipe(&rcv);
		free(pt);
		free(aad);
		free(ct);
		free(info);
		free(buf);
		free(back);
		free(s);
	}
}

static void test_roundtrip_random(void **state)
{
	(void)state;
	static const enum hpke_aead aeads[] = {HPKE_AEAD_AES_128_GCM, HPKE_AEAD_CHACHA20_POLY1305};
	uint8_t sk[32], pk[32], sk2[32], pk2[32], enc[32];
	const uint8_t info[] = "origin=intake-1;seq=42";

	assert_int_equal(hpke_generate_keypair(sk, pk), TIP_OK);
	assert_int_equal(hpke_generate_keypair(sk2, pk2), TIP_OK);
	assert_memory_not_equal(sk, sk2, 32);
	for (size_t a = 0; a < 2; a++) {
		struct hpke_ctx snd, rcv;
		uint8_t msg[300], buf[300 + HPKE_TAG_LEN], e1[40], e2[40];

		assert_int_equal(hpke_setup_base_s(aeads[a], pk, info, sizeof(info), enc, &snd), TIP_OK);
		assert_int_equal(hpke_setup_base_r(aeads[a], enc, sk, info, sizeof(info), &rcv), TIP_OK);
		for (size_t len = 0; len <= sizeof(msg); len += 37) {
			for (size_t i = 0; i < len; i++)
				msg[i] = (uint8_t)(i * 7 + len);
			memcpy(buf, msg, len);
			/* In place, and with no aad for odd lengths. */
			assert_int_equal(
			        hpke_seal(&snd, len & 1 ? NULL : info, len & 1 ? 0 : 5, buf, len, buf),
			        TIP_OK);
			assert_int_equal(hpke_open(&rcv, len & 1 ? NULL : info, len & 1 ? 0 : 5, buf,
			                           len + HPKE_TAG_LEN, buf),
			                 TIP_OK);
			assert_memory_equal(buf, msg, len);
		}
		/* Empty plaintext, NULL output pointer on open. */
		assert_int_equal(hpke_seal(&snd, NULL, 0, NULL, 0, buf), TIP_OK);
		assert_int_equal(hpke_open(&rcv, NULL, 0, buf, HPKE_TAG_LEN, NULL), TIP_OK);
		buf[0] ^= 1;
		assert_int_equal(hpke_seal(&snd, NULL, 0, NULL, 0, buf), TIP_OK);
		buf[3] ^= 1;
		assert_int_equal(hpke_open(&rcv, NULL, 0, buf, HPKE_TAG_LEN, NULL), TIP_EVERIFY);
		/* Both sides export the same secret, and lengths 0 and 255*32 are allowed. */
		assert_int_equal(hpke_export(&snd, info, 3, sizeof(e1), e1), TIP_OK);
		assert_int_equal(hpke_export(&rcv, info, 3, sizeof(e2), e2), TIP_OK);
		assert_memory_equal(e1, e2, sizeof(e1));
		assert_int_equal(hpke_export(&rcv, NULL, 0, 0, NULL), TIP_OK);
		uint8_t *big = malloc(HPKE_EXPORT_MAX);
		assert_non_null(big);
		assert_int_equal(hpke_export(&rcv, NULL, 0, HPKE_EXPORT_MAX, big), TIP_OK);
		assert_int_equal(hpke_export(&rcv, NULL, 0, HPKE_EXPORT_MAX + 1, big), TIP_EINVAL);
		free(big);
		/* A context encrypting to another key cannot be opened with this one. */
		hpke_ctx_wipe(&snd);
		assert_int_equal(hpke_setup_base_s(aeads[a], pk2, info, sizeof(info), enc, &snd), TIP_OK);
		assert_int_equal(hpke_seal(&snd, NULL, 0, msg, 10, buf), TIP_OK);
		hpke_ctx_wipe(&rcv);
		assert_int_equal(hpke_setup_base_r(aeads[a], enc, sk, info, sizeof(info), &rcv), TIP_OK);
		assert_int_equal(hpke_open(&rcv, NULL, 0, buf, 10 + HPKE_TAG_LEN, msg), TIP_EVERIFY);
		hpke_ctx_wipe(&snd);
		hpke_ctx_wipe(&rcv);
	}
}

/* The X25519 public values of small order (and their non-canonical forms): RFC 9180 7.1.4. */
static const char *small_order[] = {
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0100000000000000000000000000000000000000000000000000000000000000",
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
};

static void test_zero_shared_secret(void **state)
{
	(void)state;
	uint8_t sk[32], pk[32], enc[32], ss[32];
	struct hpke_ctx ctx;

	assert_int_equal(hpke_generate_keypair(sk, pk), TIP_OK);
	for (size_t i = 0; i < sizeof(small_order) / sizeof(small_order[0]); i++) {
		size_t len;
		uint8_t *bad = tu_hex(small_order[i], &len);

		assert_int_equal(len, 32);
		memset(&ctx, 0x55, sizeof(ctx));
		assert_int_equal(hpke_setup_base_r(HPKE_AEAD_AES_128_GCM, bad, sk, NULL, 0, &ctx),
		                 TIP_EVERIFY);
		/* A failed setup leaves no key material behind. */
		for (size_t j = 0; j < sizeof(ctx.key); j++)
			assert_int_equal(ctx.key[j], 0);
		assert_int_equal(hpke_decap(bad, sk, ss), TIP_EVERIFY);
		assert_int_equal(hpke_setup_base_s(HPKE_AEAD_CHACHA20_POLY1305, bad, NULL, 0, enc, &ctx),
		                 TIP_EVERIFY);
		free(bad);
	}
}

static void test_bad_use(void **state)
{
	(void)state;
	uint8_t sk[32], pk[32], enc[32], buf[64];
	struct hpke_ctx snd, rcv;

	assert_int_equal(hpke_generate_keypair(sk, pk), TIP_OK);
	assert_int_equal(hpke_setup_base_s((enum hpke_aead)2, pk, NULL, 0, enc, &snd), TIP_EINVAL);
	assert_int_equal(hpke_setup_base_r((enum hpke_aead)0, pk, sk, NULL, 0, &rcv), TIP_EINVAL);
	assert_int_equal(hpke_setup_base_s(HPKE_AEAD_AES_128_GCM, pk, NULL, 0, enc, &snd), TIP_OK);
	assert_int_equal(hpke_setup_base_r(HPKE_AEAD_AES_128_GCM, enc, sk, NULL, 0, &rcv), TIP_OK);
	/* Roles are fixed: a recipient never seals, a sender never opens. */
	assert_int_equal(hpke_seal(&rcv, NULL, 0, buf, 8, buf), TIP_EINVAL);
	assert_int_equal(hpke_seal(&snd, NULL, 0, buf, 8, buf), TIP_OK);
	assert_int_equal(hpke_open(&snd, NULL, 0, buf, 8 + HPKE_TAG_LEN, buf), TIP_EINVAL);
	assert_int_equal(hpke_open(&rcv, NULL, 0, buf, 8 + HPKE_TAG_LEN, buf), TIP_OK);
	/* Lengths the EVP interface cannot take are refused before any byte is read. */
	assert_int_equal(hpke_seal(&snd, buf, (size_t)INT_MAX + 1, buf, 1, buf), TIP_EOVERSIZE);
	assert_int_equal(hpke_seal(&snd, NULL, 0, buf, (size_t)INT_MAX, buf), TIP_EOVERSIZE);
	assert_int_equal(hpke_open(&rcv, buf, (size_t)INT_MAX + 1, buf, 20, buf), TIP_EOVERSIZE);
	/* Sequence exhaustion: the last uint64_t value is never used. */
	snd.seq = UINT64_MAX - 1;
	assert_int_equal(hpke_seal(&snd, NULL, 0, buf, 8, buf), TIP_OK);
	assert_int_equal(snd.seq, UINT64_MAX);
	assert_int_equal(hpke_seal(&snd, NULL, 0, buf, 8, buf), TIP_EFULL);
	rcv.seq = UINT64_MAX;
	assert_int_equal(hpke_open(&rcv, NULL, 0, buf, 8 + HPKE_TAG_LEN, buf), TIP_EFULL);
	/* A wiped context is unusable. */
	hpke_ctx_wipe(&snd);
	hpke_ctx_wipe(&rcv);
	assert_int_equal(hpke_seal(&snd, NULL, 0, buf, 8, buf), TIP_EINVAL);
	assert_int_equal(hpke_open(&rcv, NULL, 0, buf, 8 + HPKE_TAG_LEN, buf), TIP_EINVAL);
	assert_int_equal(hpke_export(&snd, NULL, 0, 8, buf), TIP_EINVAL);
	hpke_ctx_wipe(NULL);
}

static void test_derive_keypair(void **state)
{
	(void)state;
	const uint8_t ikm[32] = {1, 2, 3};
	uint8_t sk1[32], pk1[32], sk2[32], pk2[32], pk3[32];

	assert_int_equal(hpke_derive_keypair(ikm, sizeof(ikm), sk1, pk1), TIP_OK);
	assert_int_equal(hpke_derive_keypair(ikm, sizeof(ikm), sk2, pk2), TIP_OK);
	assert_memory_equal(sk1, sk2, 32);
	assert_memory_equal(pk1, pk2, 32);
	assert_int_equal(hpke_public_from_private(sk1, pk3), TIP_OK);
	assert_memory_equal(pk1, pk3, 32);
	assert_int_equal(hpke_derive_keypair(ikm, 31, sk2, pk2), TIP_OK);
	assert_memory_not_equal(sk1, sk2, 32);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_vectors_setup),      cmocka_unit_test(test_vectors_encryptions_exports),
	        cmocka_unit_test(test_vectors_must_fail),  cmocka_unit_test(test_roundtrip_random),
	        cmocka_unit_test(test_zero_shared_secret), cmocka_unit_test(test_bad_use),
	        cmocka_unit_test(test_derive_keypair),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
