#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "proto/checkpoint.h"
#include "common/encoding.h"
#include "common/err.h"
#include "diode/merkle.h"
#include "proto/keyfile.h"
#include "proto/note.h"
#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HL  MERKLE_HASH_LEN
#define CAP CKPT_NOTE_MAX

static const char spec_body[] =
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

static void gen(enum key_type type, const char *name, struct key *k, struct key *pub)
{
	assert_int_equal(key_generate(type, name, k), TIP_OK);
	*pub = *k;
	memset(pub->secret, 0, sizeof(pub->secret));
	pub->has_secret = 0;
}

static char *join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);

	assert_non_null(p);
	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

static void set_ckpt(struct ckpt *c, const char *origin, uint64_t size, const uint8_t root[HL],
                     const char *ext)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->origin, sizeof(c->origin), "%s", origin);
	c->size = size;
	memcpy(c->root, root, HL);
	snprintf(c->ext, sizeof(c->ext), "%s", ext);
}

/* A memory tree of n leaves derived from seed. */
static struct merkle *tree_of(uint64_t n, unsigned seed)
{
	struct merkle *t = merkle_new(NULL);

	assert_non_null(t);
	for (uint64_t i = 0; i < n; i++) {
		uint8_t h[HL];
		uint64_t v[2] = {seed, i};

		merkle_leaf_hash(v, sizeof(v), h);
		assert_int_equal(merkle_append(t, h, NULL), TIP_OK);
	}
	return t;
}

static void root_of(struct merkle *t, uint64_t size, uint8_t root[HL])
{
	assert_int_equal(merkle_root_at(t, size, root), TIP_OK);
}

static void test_body_roundtrip(void **state)
{
	struct ckpt c, d;
	char out[CKPT_BODY_MAX + 1];
	size_t len;
	uint8_t root[HL];

	(void)state;
	/* The specification's example. */
	assert_int_equal(ckpt_body_parse(spec_body, strlen(spec_body), &c), TIP_OK);
	assert_string_equal(c.origin, "example.com/behind-the-sofa");
	assert_int_equal(c.size, 20852163);
	assert_int_equal(c.root[0], 0x0a);
	assert_int_equal(c.root[31], 0x62);
	assert_string_equal(c.ext, "");
	assert_int_equal(ckpt_body_format(&c, out, sizeof(out), &len), TIP_OK);
	assert_int_equal(len, strlen(spec_body));
	assert_string_equal(out, spec_body);

	/* Extensions, the largest size, size 0, a UTF-8 origin. */
	for (size_t i = 0; i < HL; i++)
		root[i] = (uint8_t)(i * 7);
	const char *exts[] = {"", "one\n", "one\ntwo\n", "\xe2\x9c\x93 checked\n"};
	const uint64_t sizes[] = {0, 1, 20852163, UINT64_MAX};
	for (size_t i = 0; i < 4; i++) {
		set_ckpt(&c, i == 3 ? "\xe6\x97\xa5\xe6\x9c\xac/log" : "tip.example/intake", sizes[i], root,
		         exts[i]);
		assert_int_equal(ckpt_body_format(&c, out, sizeof(out), &len), TIP_OK);
		assert_int_equal(ckpt_body_parse(out, len, &d), TIP_OK);
		assert_memory_equal(&c, &d, sizeof(c));
		/* Too small an output buffer, at every length. */
		for (size_t cap = 1; cap <= len; cap++)
			assert_int_equal(ckpt_body_format(&c, out, cap, &len), TIP_EOVERSIZE);
		assert_int_equal(ckpt_body_format(&c, out, sizeof(out), &len), TIP_OK);
	}
	{
		const char *max = "o\n18446744073709551615\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

		assert_int_equal(ckpt_body_parse(max, strlen(max), &c), TIP_OK);
	}
	assert_true(c.size == UINT64_MAX);
}

static void test_body_malformed(void **state)
{
	const char *r = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
	const char *bad[] = {
	        "",
	        "\n",
	        "o\n",
	        "o\n1\n",
	        "o\n1\n%s",           /* no final newline */
	        "o\n1\n%s\n\n",       /* empty extension line */
	        "o\n1\n%s\next",      /* extension without its newline */
	        "o\n1\n%s\na\n\nb\n", /* empty line between extensions */
	        "\n1\n%s\n",          /* empty origin */
	        "o\n\n%s\n",          /* empty size */
	        "o\n01\n%s\n",        /* leading zero */
	        "o\n00\n%s\n",
	        "o\n+1\n%s\n",
	        "o\n-1\n%s\n",
	        "o\n1 \n%s\n",
	        "o\n 1\n%s\n",
	        "o\n0x10\n%s\n",
	        "o\n18446744073709551616\n%s\n", /* 2^64 */
	        "o\n99999999999999999999\n%s\n",
	        "o\n123456789012345678901\n%s\n",
	        "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n",  /* no padding */
	        "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n", /* stray bits */
	        "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxqw==\n", /* 31 bytes */
	        "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2IA\n", /* 33 bytes */
	        "o\n1\nCsUYapGGPo4dkMgIAUqom_Xajj7h2fB2MPA3j2jxq2I=\n", /* URL-safe alphabet */
	        "o\n1\n%s \n",
	        "o\n1\n\n%s\n",
	        "o\t\n1\n%s\n", /* control characters */
	        "o\r\n1\n%s\n",
	        "o\n1\n%s\nx\x01\n",
	        "o\xff\n1\n%s\n", /* invalid UTF-8 */
	        "o\xc0\xaf\n1\n%s\n",
	};
	char buf[512];
	struct ckpt c;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* "%s" in a template stands for a good root line. */
		const char *hole = strstr(bad[i], "%s");
		size_t n = strlen(bad[i]);

		if (hole) {
			size_t head = (size_t)(hole - bad[i]);

			memcpy(buf, bad[i], head);
			memcpy(buf + head, r, strlen(r));
			memcpy(buf + head + strlen(r), hole + 2, n - head - 2);
			n += strlen(r) - 2;
		} else {
			memcpy(buf, bad[i], n);
		}
		buf[n] = '\0';
		if (ckpt_body_parse(buf, n, &c) != TIP_EFORMAT)
			fail_msg("bad body %zu accepted: %s", i, buf);
		assert_int_equal(c.size, 0); /* nothing half-filled */
	}
	/* Oversize: the origin, the extensions, the whole. */
	{
		char *big = malloc(CKPT_BODY_MAX + 64);
		size_t n;

		assert_non_null(big);
		memset(big, 'a', CKPT_ORIGIN_MAX + 1);
		n = CKPT_ORIGIN_MAX + 1;
		n += (size_t)snprintf(big + n, 64, "\n1\n%s\n", r);
		assert_int_equal(ckpt_body_parse(big, n, &c), TIP_EOVERSIZE);
		n = (size_t)snprintf(big, 64, "o\n1\n%s\n", r);
		memset(big + n, 'e', CKPT_EXT_MAX);
		big[n + CKPT_EXT_MAX] = '\n';
		assert_int_equal(ckpt_body_parse(big, n + CKPT_EXT_MAX + 1, &c), TIP_EOVERSIZE);
		assert_int_equal(ckpt_body_parse(big, n + CKPT_EXT_MAX - 1, &c),
		                 TIP_EFORMAT); /* no newline */
		big[n + CKPT_EXT_MAX - 1] = '\n';
		assert_int_equal(ckpt_body_parse(big, n + CKPT_EXT_MAX, &c), TIP_OK);
		memset(big, 'x', CKPT_BODY_MAX + 1);
		assert_int_equal(ckpt_body_parse(big, CKPT_BODY_MAX + 1, &c), TIP_EOVERSIZE);
		free(big);
	}
	/* What a body cannot carry is not formatted either. */
	{
		uint8_t root[HL] = {0};
		const char *origins[] = {"", "a\nb", "a\tb", "\xff"};
		const char *exts[] = {"x", "\n", "a\n\nb\n", "a\r\n"};
		char out[CKPT_BODY_MAX + 1];
		size_t len;

		for (size_t i = 0; i < 4; i++) {
			set_ckpt(&c, origins[i], 1, root, "");
			assert_int_equal(ckpt_body_format(&c, out, sizeof(out), &len), TIP_EINVAL);
			set_ckpt(&c, "o", 1, root, exts[i]);
			assert_int_equal(ckpt_body_format(&c, out, sizeof(out), &len), TIP_EINVAL);
		}
		memset(c.origin, 'a', sizeof(c.origin)); /* no NUL */
		assert_int_equal(ckpt_body_format(&c, out, sizeof(out), &len), TIP_EINVAL);
	}
}

static void test_sign_open_cosign(void **state)
{
	struct key log, log_pub, wit, wit_pub, other, other_pub;
	struct note_check checks[3];
	struct ckpt c, d;
	char note[CAP], cos[CAP], cos2[CAP];
	size_t len, cos_len, cos2_len;
	uint8_t root[HL];

	(void)state;
	gen(KEY_ED25519, "tip.example/intake", &log, &log_pub);
	gen(KEY_COSIGN, "tip.example/internal", &wit, &wit_pub);
	gen(KEY_ED25519, "tip.example/intake", &other, &other_pub);
	memset(root, 0xab, sizeof(root));
	set_ckpt(&c, "tip.example/intake", 1234, root, "");
	assert_int_equal(ckpt_sign(&c, &log, note, sizeof(note), &len), TIP_OK);
	assert_int_equal(ckpt_open(note, len, CAP, &log_pub, 1, &d, checks), TIP_OK);
	assert_memory_equal(&c, &d, sizeof(c));
	assert_int_equal(checks[0].verified, 1);
	/* The body is the note text exactly. */
	{
		char body[CKPT_BODY_MAX + 1];
		size_t blen;

		assert_int_equal(ckpt_body_format(&c, body, sizeof(body), &blen), TIP_OK);
		assert_memory_equal(note, body, blen);
		assert_int_equal(note[blen], '\n');
	}
	assert_int_equal(ckpt_open(note, len, CAP, &other_pub, 1, &d, checks), TIP_ENOTFOUND);
	assert_int_equal(ckpt_sign(&c, &wit, note, sizeof(note), &len), TIP_EINVAL);
	assert_int_equal(ckpt_sign(&c, &log, note, sizeof(note), &len), TIP_OK);

	/* Cosigning: only what the log signed, only the (size, root) the cosigner holds. */
	assert_int_equal(
	        ckpt_cosign(note, len, &log, &wit, 1700000000, 1234, root, cos, sizeof(cos), &cos_len),
	        TIP_OK);
	assert_int_equal(
	        ckpt_open(cos, cos_len, CAP, (struct key[]){log_pub, wit_pub, other_pub}, 3, &d, checks),
	        TIP_OK);
	assert_true(checks[0].verified && checks[1].verified && !checks[2].verified);
	assert_int_equal(checks[1].timestamp, 1700000000);
	assert_int_equal(ckpt_open(cos, cos_len, CAP, &wit_pub, 1, &d, checks), TIP_OK);
	assert_int_equal(ckpt_cosign(note, len, &log, &wit, 1, 1235, root, cos2, sizeof(cos2), &cos2_len),
	                 TIP_EVERIFY);
	root[5] ^= 1;
	assert_int_equal(ckpt_cosign(note, len, &log, &wit, 1, 1234, root, cos2, sizeof(cos2), &cos2_len),
	                 TIP_EVERIFY);
	root[5] ^= 1;
	assert_int_equal(ckpt_cosign(note, len, &other, &wit, 1, 1234, root, cos2, sizeof(cos2), &cos2_len),
	                 TIP_ENOTFOUND);
	assert_int_equal(ckpt_cosign(cos, cos_len, &log, &wit, 1, 1234, root, cos2, sizeof(cos2), &cos2_len),
	                 TIP_EINVAL); /* already cosigned by it */
	assert_int_equal(ckpt_cosign(note, len, &log, &log, 1, 1234, root, cos2, sizeof(cos2), &cos2_len),
	                 TIP_EINVAL);
	note[len - 3] ^= 1; /* the log's signature */
	assert_int_not_equal(ckpt_cosign(note, len, &log, &wit, 1, 1234, root, cos2, sizeof(cos2), &cos2_len),
	                     TIP_OK);
	note[len - 3] ^= 1;
	/* A cosignature of one checkpoint does not carry over to another body. */
	{
		char *p = strstr(cos, "\n1234\n");

		assert_non_null(p);
		p[4] = '5';
		assert_int_equal(ckpt_open(cos, cos_len, CAP, &wit_pub, 1, &d, checks), TIP_EVERIFY);
	}
	/* A verified note whose text is not a checkpoint. */
	assert_int_equal(note_sign("just text\n", 10, &log, 1, 0, note, sizeof(note), &len), TIP_OK);
	assert_int_equal(ckpt_open(note, len, CAP, &log_pub, 1, &d, checks), TIP_EFORMAT);
	assert_int_equal(checks[0].verified, 0);
	key_wipe(&log);
	key_wipe(&wit);
	key_wipe(&other);
}

struct env {
	char *dir, *state;
	struct key log, log_pub;
};

static void env_init(struct env *e)
{
	e->dir = tu_mkdtemp();
	e->state = join(e->dir, "checkpoint");
	gen(KEY_ED25519, "tip.example/intake", &e->log, &e->log_pub);
}

static void env_free(struct env *e)
{
	tu_rmtree(e->dir);
	free(e->dir);
	free(e->state);
	key_wipe(&e->log);
}

static struct ckpt_signer *signer(const char *path, const struct key *k, const char *origin, int flags,
                                  int want)
{
	int err = 12345;
	struct ckpt_signer *s = ckpt_signer_open(path, k, origin, flags, &err);

	assert_int_equal(err, want);
	if (want == TIP_OK)
		assert_non_null(s);
	else
		assert_null(s);
	return s;
}

/* The state file holds exactly the note last returned. */
static void assert_state_is(const char *path, const char *note, size_t len)
{
	size_t n;
	char *got = tu_read_file(path, &n);

	assert_non_null(got);
	assert_int_equal(n, len);
	assert_memory_equal(got, note, len);
	free(got);
}

static void test_signer_rules(void **state)
{
	struct env e;
	struct ckpt_signer *s;
	struct merkle *t = tree_of(100, 1), *fork = tree_of(100, 2);
	struct ckpt c;
	char note[CAP], again[CAP];
	size_t len, len2, pl;
	uint8_t root[HL], r0[HL], proof[MERKLE_PROOF_MAX * HL];
	uint64_t size;

	(void)state;
	env_init(&e);
	signer(e.state, &e.log, "tip.example/intake", 0, TIP_ENOTFOUND);
	s = signer(e.state, &e.log, "tip.example/intake", CKPT_SIGNER_CREATE, TIP_OK);
	assert_int_equal(ckpt_signer_last(s, &size, root), TIP_ENOTFOUND);
	signer(e.state, &e.log, "tip.example/intake", CKPT_SIGNER_CREATE, TIP_EBUSY);

	/* Size 0 only with the empty root. */
	memset(root, 1, HL);
	set_ckpt(&c, "tip.example/intake", 0, root, "");
	assert_int_equal(ckpt_signer_sign(s, &c, NULL, NULL, 0, note, sizeof(note), &len), TIP_EVERIFY);
	merkle_empty_root(r0);
	set_ckpt(&c, "tip.example/intake", 0, r0, "");
	assert_int_equal(ckpt_signer_sign(s, &c, NULL, NULL, 0, note, sizeof(note), &len), TIP_OK);
	assert_state_is(e.state, note, len);

	/* From the empty tree anything follows; with the tree, its root must match. */
	root_of(t, 10, root);
	set_ckpt(&c, "tip.example/intake", 10, root, "");
	c.root[0] ^= 1;
	assert_int_equal(ckpt_signer_sign(s, &c, t, NULL, 0, note, sizeof(note), &len), TIP_EVERIFY);
	c.root[0] ^= 1;
	c.size = 101;
	assert_int_equal(ckpt_signer_sign(s, &c, t, NULL, 0, note, sizeof(note), &len), TIP_ERANGE);
	c.size = 10;
	assert_int_equal(ckpt_signer_sign(s, &c, t, NULL, 0, note, sizeof(note), &len), TIP_OK);
	assert_int_equal(ckpt_signer_last(s, &size, r0), TIP_OK);
	assert_int_equal(size, 10);
	assert_memory_equal(r0, root, HL);

	/* Smaller: refused. The same size: only the same root, and then the very same note. */
	root_of(t, 5, root);
	set_ckpt(&c, "tip.example/intake", 5, root, "");
	assert_int_equal(ckpt_signer_sign(s, &c, t, NULL, 0, again, sizeof(again), &len2), TIP_ERANGE);
	assert_int_equal(ckpt_signer_sign(s, &c, NULL, NULL, 0, again, sizeof(again), &len2), TIP_ERANGE);
	root_of(fork, 10, root);
	set_ckpt(&c, "tip.example/intake", 10, root, "");
	assert_int_equal(ckpt_signer_sign(s, &c, NULL, NULL, 0, again, sizeof(again), &len2), TIP_EVERIFY);
	assert_int_equal(ckpt_signer_sign(s, &c, fork, NULL, 0, again, sizeof(again), &len2), TIP_EVERIFY);
	root_of(t, 10, root);
	set_ckpt(&c, "tip.example/intake", 10, root, "");
	assert_int_equal(ckpt_signer_sign(s, &c, NULL, NULL, 0, again, sizeof(again), &len2), TIP_OK);
	assert_int_equal(len2, len);
	assert_memory_equal(again, note, len);

	/* Larger: only with the consistency shown. */
	root_of(t, 20, root);
	set_ckpt(&c, "tip.example/intake", 20, root, "");
	assert_int_equal(ckpt_signer_sign(s, &c, NULL, NULL, 0, note, sizeof(note), &len), TIP_EFORMAT);
	assert_int_equal(merkle_consistency_proof(t, 10, 20, proof, sizeof(proof), &pl), TIP_OK);
	proof[7] ^= 1;
	assert_int_equal(ckpt_signer_sign(s, &c, NULL, proof, pl, note, sizeof(note), &len), TIP_EVERIFY);
	proof[7] ^= 1;
	assert_int_equal(ckpt_signer_sign(s, &c, NULL, proof, pl - HL, note, sizeof(note), &len),
	                 TIP_EFORMAT);
	assert_int_equal(ckpt_signer_sign(s, &c, NULL, proof, pl, note, sizeof(note), &len), TIP_OK);
	assert_state_is(e.state, note, len);
	/* A forked tree that agrees on nothing: its own proof does not reach the signed root. */
	root_of(fork, 30, root);
	set_ckpt(&c, "tip.example/intake", 30, root, "");
	assert_int_equal(ckpt_signer_sign(s, &c, fork, NULL, 0, note, sizeof(note), &len), TIP_EVERIFY);
	assert_int_equal(merkle_consistency_proof(fork, 20, 30, proof, sizeof(proof), &pl), TIP_OK);
	assert_int_equal(ckpt_signer_sign(s, &c, NULL, proof, pl, note, sizeof(note), &len), TIP_EVERIFY);
	/* A consistency proof for the right tree but claimed for another root. */
	assert_int_equal(merkle_consistency_proof(t, 20, 30, proof, sizeof(proof), &pl), TIP_OK);
	assert_int_equal(ckpt_signer_sign(s, &c, NULL, proof, pl, note, sizeof(note), &len), TIP_EVERIFY);
	root_of(t, 30, root);
	set_ckpt(&c, "tip.example/intake", 30, root, "ext line\n");
	assert_int_equal(ckpt_signer_sign(s, &c, t, NULL, 0, note, sizeof(note), &len), TIP_OK);

	/* Another origin; a cosigner call on a log signer; too small a buffer changes nothing. */
	set_ckpt(&c, "tip.example/other", 30, root, "");
	assert_int_equal(ckpt_signer_sign(s, &c, t, NULL, 0, again, sizeof(again), &len2), TIP_EINVAL);
	assert_int_equal(ckpt_signer_cosign(s, note, len, &e.log, 1, t, NULL, 0, again, sizeof(again), &len2),
	                 TIP_EINVAL);
	root_of(t, 40, root);
	set_ckpt(&c, "tip.example/intake", 40, root, "");
	assert_int_equal(ckpt_signer_sign(s, &c, t, NULL, 0, again, 100, &len2), TIP_EOVERSIZE);
	assert_int_equal(len2, 0);
	assert_int_equal(ckpt_signer_last(s, &size, r0), TIP_OK);
	assert_int_equal(size, 30);
	assert_state_is(e.state, note, len);

	/* A state file that cannot be written: nothing is returned and nothing changes. */
	{
		char *tmp = join(e.dir, "checkpoint.tmp");

		assert_int_equal(mkdir(tmp, 0700), 0);
		assert_int_equal(ckpt_signer_sign(s, &c, t, NULL, 0, again, sizeof(again), &len2), TIP_EIO);
		assert_int_equal(len2, 0);
		assert_int_equal(again[0], '\0');
		assert_int_equal(ckpt_signer_last(s, &size, r0), TIP_OK);
		assert_int_equal(size, 30);
		assert_state_is(e.state, note, len);
		assert_int_equal(rmdir(tmp), 0);
		free(tmp);
	}
	ckpt_signer_free(s);
	merkle_close(t);
	merkle_close(fork);
	env_free(&e);
}

/* The refusals hold after a restart: the state file is the memory. */
static void test_signer_restart(void **state)
{
	struct env e;
	struct ckpt_signer *s;
	struct merkle *t = tree_of(64, 3), *fork = tree_of(64, 4);
	struct ckpt c;
	char note[CAP], out[CAP];
	size_t len, out_len, pl;
	uint8_t root[HL], got[HL], proof[MERKLE_PROOF_MAX * HL];
	uint64_t size;

	(void)state;
	env_init(&e);
	s = signer(e.state, &e.log, "tip.example/intake", CKPT_SIGNER_CREATE, TIP_OK);
	root_of(t, 32, root);
	set_ckpt(&c, "tip.example/intake", 32, root, "");
	assert_int_equal(ckpt_signer_sign(s, &c, t, NULL, 0, note, sizeof(note), &len), TIP_OK);
	ckpt_signer_free(s);

	/* Reopened (CREATE does not reset an existing state). */
	s = signer(e.state, &e.log, "tip.example/intake", CKPT_SIGNER_CREATE, TIP_OK);
	assert_int_equal(ckpt_signer_last(s, &size, got), TIP_OK);
	assert_int_equal(size, 32);
	assert_memory_equal(got, root, HL);
	root_of(fork, 32, root);
	set_ckpt(&c, "tip.example/intake", 32, root, "");
	assert_int_equal(ckpt_signer_sign(s, &c, NULL, NULL, 0, out, sizeof(out), &out_len), TIP_EVERIFY);
	root_of(t, 31, root);
	set_ckpt(&c, "tip.example/intake", 31, root, "");
	assert_int_equal(ckpt_signer_sign(s, &c, t, NULL, 0, out, sizeof(out), &out_len), TIP_ERANGE);
	root_of(fork, 50, root);
	set_ckpt(&c, "tip.example/intake", 50, root, "");
	assert_int_equal(ckpt_signer_sign(s, &c, fork, NULL, 0, out, sizeof(out), &out_len), TIP_EVERIFY);
	root_of(t, 50, root);
	set_ckpt(&c, "tip.example/intake", 50, root, "");
	assert_int_equal(merkle_consistency_proof(t, 32, 50, proof, sizeof(proof), &pl), TIP_OK);
	assert_int_equal(ckpt_signer_sign(s, &c, NULL, proof, pl, out, sizeof(out), &out_len), TIP_OK);
	ckpt_signer_free(s);
	s = signer(e.state, &e.log, "tip.example/intake", 0, TIP_OK);
	assert_int_equal(ckpt_signer_last(s, &size, got), TIP_OK);
	assert_int_equal(size, 50);
	assert_memory_equal(got, root, HL);
	ckpt_signer_free(s);

	/* The wrong key or origin for this state. */
	{
		struct key k2, p2;

		gen(KEY_ED25519, "tip.example/intake", &k2, &p2);
		signer(e.state, &k2, "tip.example/intake", 0, TIP_ECORRUPT);
		signer(e.state, &e.log, "tip.example/elsewhere", 0, TIP_EINVAL);
		signer(e.state, &e.log_pub, "tip.example/intake", 0, TIP_EINVAL);
		signer(e.state, &e.log, "", 0, TIP_EINVAL);
		signer(e.state, &e.log, "tip.example/intake", 0x10, TIP_EINVAL);
		key_wipe(&k2);
	}
	merkle_close(t);
	merkle_close(fork);
	env_free(&e);
}

/* A damaged or replaced state file stops the signer rather than letting it forget. */
static void test_signer_tampered_state(void **state)
{
	struct env e;
	struct ckpt_signer *s;
	struct merkle *t = tree_of(20, 5);
	struct ckpt c;
	char note[CAP], forged[CAP];
	size_t len, flen;
	uint8_t root[HL];
	int fd;

	(void)state;
	env_init(&e);
	s = signer(e.state, &e.log, "tip.example/intake", CKPT_SIGNER_CREATE, TIP_OK);
	root_of(t, 20, root);
	set_ckpt(&c, "tip.example/intake", 20, root, "");
	assert_int_equal(ckpt_signer_sign(s, &c, t, NULL, 0, note, sizeof(note), &len), TIP_OK);
	ckpt_signer_free(s);

	/* Every single flipped byte. */
	for (size_t i = 0; i < len; i++) {
		char bad[CAP];

		memcpy(bad, note, len);
		bad[i] ^= 0x01;
		fd = open(e.state, O_WRONLY | O_TRUNC);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, bad, len), (ssize_t)len);
		close(fd);
		signer(e.state, &e.log, "tip.example/intake", 0, TIP_ECORRUPT);
	}
	/* Truncated, empty, oversize. */
	assert_int_equal(truncate(e.state, (off_t)len - 1), 0);
	signer(e.state, &e.log, "tip.example/intake", 0, TIP_ECORRUPT);
	assert_int_equal(truncate(e.state, 0), 0);
	signer(e.state, &e.log, "tip.example/intake", 0, TIP_ECORRUPT);
	assert_int_equal(truncate(e.state, CKPT_NOTE_MAX + 1), 0);
	signer(e.state, &e.log, "tip.example/intake", 0, TIP_ECORRUPT);
	/* A size-0 state with another root, even correctly signed, is not a state this signer writes. */
	memset(root, 9, HL);
	set_ckpt(&c, "tip.example/intake", 0, root, "");
	assert_int_equal(ckpt_sign(&c, &e.log, forged, sizeof(forged), &flen), TIP_OK);
	fd = open(e.state, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, forged, flen), (ssize_t)flen);
	close(fd);
	signer(e.state, &e.log, "tip.example/intake", 0, TIP_ECORRUPT);
	/* Deleted: without CREATE the signer does not start over by itself. */
	assert_int_equal(unlink(e.state), 0);
	signer(e.state, &e.log, "tip.example/intake", 0, TIP_ENOTFOUND);
	merkle_close(t);
	env_free(&e);
}

static void test_cosigner(void **state)
{
	struct env e;
	struct key wit, wit_pub;
	struct ckpt_signer *log_s, *w;
	struct merkle *t = tree_of(80, 6), *fork = tree_of(80, 7), *mine = tree_of(60, 6);
	struct ckpt c, d;
	struct note_check checks[2];
	char *wstate;
	char n1[CAP], n2[CAP], out[CAP], forged[CAP];
	size_t l1, l2, out_len, flen;
	uint8_t root[HL];
	uint64_t size;

	(void)state;
	env_init(&e);
	wstate = join(e.dir, "cosigned");
	gen(KEY_COSIGN, "tip.example/internal", &wit, &wit_pub);
	log_s = signer(e.state, &e.log, "tip.example/intake", CKPT_SIGNER_CREATE, TIP_OK);
	w = signer(wstate, &wit, "tip.example/intake", CKPT_SIGNER_CREATE, TIP_OK);

	root_of(t, 40, root);
	set_ckpt(&c, "tip.example/intake", 40, root, "");
	assert_int_equal(ckpt_signer_sign(log_s, &c, t, NULL, 0, n1, sizeof(n1), &l1), TIP_OK);
	/* The cosigner holds 60 records of the same log: it cosigns 40. */
	assert_int_equal(
	        ckpt_signer_cosign(w, n1, l1, &e.log_pub, 1000, mine, NULL, 0, out, sizeof(out), &out_len),
	        TIP_OK);
	assert_state_is(wstate, out, out_len);
	assert_int_equal(ckpt_open(out, out_len, CAP, (struct key[]){e.log_pub, wit_pub}, 2, &d, checks),
	                 TIP_OK);
	assert_true(checks[0].verified && checks[1].verified);
	assert_int_equal(checks[1].timestamp, 1000);
	/* A log signer cannot cosign, a cosigner cannot sign. */
	assert_int_equal(ckpt_signer_sign(w, &c, t, NULL, 0, out, sizeof(out), &out_len), TIP_EINVAL);

	/* The log goes to 70; the cosigner holds only 60: it cannot say it holds 70. */
	root_of(t, 70, root);
	set_ckpt(&c, "tip.example/intake", 70, root, "");
	assert_int_equal(ckpt_signer_sign(log_s, &c, t, NULL, 0, n2, sizeof(n2), &l2), TIP_OK);
	assert_int_equal(
	        ckpt_signer_cosign(w, n2, l2, &e.log_pub, 1001, mine, NULL, 0, out, sizeof(out), &out_len),
	        TIP_ERANGE);
	/* With the log's own proof instead of a tree it can. Earlier times are refused. */
	{
		uint8_t proof[MERKLE_PROOF_MAX * HL];
		size_t pl;

		assert_int_equal(merkle_consistency_proof(t, 40, 70, proof, sizeof(proof), &pl), TIP_OK);
		assert_int_equal(ckpt_signer_cosign(w, n2, l2, &e.log_pub, 999, NULL, proof, pl, out,
		                                    sizeof(out), &out_len),
		                 TIP_ERANGE);
		assert_int_equal(ckpt_signer_cosign(w, n2, l2, &e.log_pub, 1001, NULL, NULL, 0, out,
		                                    sizeof(out), &out_len),
		                 TIP_EFORMAT);
		assert_int_equal(ckpt_signer_cosign(w, n2, l2, &e.log_pub, 1001, NULL, proof, pl, out,
		                                    sizeof(out), &out_len),
		                 TIP_OK);
	}
	/* The log key signs a fork behind its own signer's back: the cosigner refuses it, also after a
	 * restart. */
	root_of(fork, 75, root);
	set_ckpt(&c, "tip.example/intake", 75, root, "");
	assert_int_equal(ckpt_sign(&c, &e.log, forged, sizeof(forged), &flen), TIP_OK);
	assert_int_equal(ckpt_signer_cosign(w, forged, flen, &e.log_pub, 1002, fork, NULL, 0, out,
	                                    sizeof(out), &out_len),
	                 TIP_EVERIFY);
	ckpt_signer_free(w);
	w = signer(wstate, &wit, "tip.example/intake", 0, TIP_OK);
	assert_int_equal(ckpt_signer_last(w, &size, root), TIP_OK);
	assert_int_equal(size, 70);
	assert_int_equal(ckpt_signer_cosign(w, forged, flen, &e.log_pub, 1002, fork, NULL, 0, out,
	                                    sizeof(out), &out_len),
	                 TIP_EVERIFY);
	assert_int_equal(
	        ckpt_signer_cosign(w, n1, l1, &e.log_pub, 1003, t, NULL, 0, out, sizeof(out), &out_len),
	        TIP_ERANGE); /* 40 < 70 */
	assert_int_equal(
	        ckpt_signer_cosign(w, n2, l2, &e.log_pub, 999, t, NULL, 0, out, sizeof(out), &out_len),
	        TIP_ERANGE); /* the time persisted too */
	/* Not signed by the log; another origin; a note the cosigner already signed. */
	assert_int_equal(
	        ckpt_signer_cosign(w, n2, l2, &wit_pub, 1003, t, NULL, 0, out, sizeof(out), &out_len),
	        TIP_EINVAL);
	n2[l2 - 5] ^= 1;
	assert_int_not_equal(
	        ckpt_signer_cosign(w, n2, l2, &e.log_pub, 1003, t, NULL, 0, out, sizeof(out), &out_len),
	        TIP_OK);
	n2[l2 - 5] ^= 1;
	set_ckpt(&c, "tip.example/other", 70, root, "");
	assert_int_equal(ckpt_sign(&c, &e.log, forged, sizeof(forged), &flen), TIP_OK);
	assert_int_equal(
	        ckpt_signer_cosign(w, forged, flen, &e.log_pub, 1003, t, NULL, 0, out, sizeof(out), &out_len),
	        TIP_EINVAL);
	assert_int_equal(
	        ckpt_signer_cosign(w, n2, l2, &e.log_pub, 1003, t, NULL, 0, out, sizeof(out), &out_len),
	        TIP_OK);
	assert_int_equal(ckpt_signer_cosign(w, out, out_len, &e.log_pub, 1004, t, NULL, 0, forged,
	                                    sizeof(forged), &flen),
	                 TIP_EINVAL);

	ckpt_signer_free(w);
	ckpt_signer_free(log_s);
	merkle_close(t);
	merkle_close(fork);
	merkle_close(mine);
	key_wipe(&wit);
	free(wstate);
	env_free(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_body_roundtrip),   cmocka_unit_test(test_body_malformed),
	        cmocka_unit_test(test_sign_open_cosign), cmocka_unit_test(test_signer_rules),
	        cmocka_unit_test(test_signer_restart),   cmocka_unit_test(test_signer_tampered_state),
	        cmocka_unit_test(test_cosigner),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
