#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "proto/note.h"
#include "common/encoding.h"
#include "common/err.h"
#include "proto/ed25519.h"
#include "proto/keyfile.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CAP  8192
#define DASH "\xe2\x80\x94"

/* A key from the vectors' keys.txt: the value after the given label. */
static void vector_key(const char *label, const char *name_hint, int private, struct key *k)
{
	char *path = tu_vector_path("signed-note/keys.txt"), *text = tu_read_file(path, NULL), *line,
	     *save = NULL;
	int found = 0;

	assert_non_null(text);
	for (line = strtok_r(text, "\n", &save); line && !found; line = strtok_r(NULL, "\n", &save)) {
		char *v;

		if (strncmp(line, label, strlen(label)) != 0 || line[strlen(label)] != ' ' ||
		    !strstr(line, name_hint))
			continue;
		for (v = line + strlen(label); *v == ' '; v++)
			;
		if (private)
			assert_int_equal(key_parse_private(v, strlen(v), k), TIP_OK);
		else
			assert_int_equal(key_parse_public(v, strlen(v), k), TIP_OK);
		found = 1;
	}
	assert_true(found);
	free(text);
	free(path);
}

static void public_of(const struct key *k, struct key *pub)
{
	*pub = *k;
	memset(pub->secret, 0, sizeof(pub->secret));
	pub->has_secret = 0;
}

static void gen(enum key_type type, const char *name, struct key *k, struct key *pub)
{
	assert_int_equal(key_generate(type, name, k), TIP_OK);
	public_of(k, pub);
}

static int open_rc(const char *note, size_t len, const struct key *known, size_t n)
{
	size_t text_len;

	return note_open(note, len, NOTE_MAX_LEN, known, n, &text_len, NULL);
}

static int open_str(const char *note, const struct key *known, size_t n)
{
	return open_rc(note, strlen(note), known, n);
}

/* The sumdb/note example: verifies, and signing its text reproduces it byte for byte. */
static void test_go_vector(void **state)
{
	char *path = tu_vector_path("signed-note/go-peterneumann.note"), out[CAP];
	size_t len, text_len, out_len;
	char *note = tu_read_file(path, &len);
	struct key sk, vk;
	struct note_check check;

	(void)state;
	assert_non_null(note);
	vector_key("signer", "PeterNeumann", 1, &sk);
	vector_key("verifier", "PeterNeumann", 0, &vk);
	assert_int_equal(note_open(note, len, len, &vk, 1, &text_len, &check), TIP_OK);
	assert_int_equal(check.verified, 1);
	assert_int_equal(check.timestamp, 0);
	assert_int_equal(text_len, strlen("If you think cryptography is the answer to your problem,\n"
	                                  "then you don't know what your problem is.\n"));
	assert_int_equal(note_sign(note, text_len, &sk, 1, 0, out, sizeof(out), &out_len), TIP_OK);
	assert_int_equal(out_len, len);
	assert_memory_equal(out, note, len);
	assert_int_equal(out[out_len], '\0');
	/* A cap below the length refuses. */
	assert_int_equal(note_open(note, len, len - 1, &vk, 1, &text_len, &check), TIP_EOVERSIZE);
	assert_int_equal(check.verified, 0);
	key_wipe(&sk);
	free(note);
	free(path);
}

static void test_spec_vector(void **state)
{
	char *path = tu_vector_path("signed-note/spec-example.note");
	size_t len, text_len;
	char *note = tu_read_file(path, &len);
	struct key vk, other, other_pub;
	struct note_check checks[2];

	(void)state;
	assert_non_null(note);
	vector_key("verifier", "example.com/foo", 0, &vk);
	gen(KEY_ED25519, "example.com/bar", &other, &other_pub);
	assert_int_equal(note_open(note, len, len, (struct key[]){other_pub, vk}, 2, &text_len, checks),
	                 TIP_OK);
	assert_int_equal(text_len, strlen("This is an example message.\n"));
	assert_int_equal(checks[0].verified, 0);
	assert_int_equal(checks[1].verified, 1);
	/* Only keys the note does not name: not verified by anyone. */
	assert_int_equal(note_open(note, len, len, &other_pub, 1, &text_len, checks), TIP_ENOTFOUND);
	assert_int_equal(note_open(note, len, len, NULL, 0, &text_len, NULL), TIP_ENOTFOUND);
	/* Same name, another id / same id, another name: unknown keys, ignored. */
	{
		struct key a = vk, b = vk;

		a.id[0] ^= 1;
		memcpy(b.name, "example.com/fop", 16);
		assert_int_equal(note_open(note, len, len, &a, 1, &text_len, NULL), TIP_ENOTFOUND);
		assert_int_equal(note_open(note, len, len, &b, 1, &text_len, NULL), TIP_ENOTFOUND);
		/* The right name and id with another public key: that signature must verify, and does not. */
		memcpy(a.pub, other_pub.pub, KEY_LEN);
		a.id[0] ^= 1;
		assert_int_equal(note_open(note, len, len, &a, 1, &text_len, NULL), TIP_EVERIFY);
	}
	key_wipe(&other);
	free(note);
	free(path);
}

static void test_sign_open_roundtrip(void **state)
{
	struct key k1, p1, k2, p2, c, pc, unknown, pu;
	struct note_check checks[3];
	const char *texts[] = {
	        "a\n",
	        "\n",
	        "line one\n\nline three after a blank\n",
	        "ends in blank lines\n\n\n",
	        "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xc3\xa9t\xc3\xa9 \x7f del is not a control\n",
	        DASH " looks like a signature line\n"};
	char out[CAP];
	size_t out_len, text_len;

	(void)state;
	gen(KEY_ED25519, "log.example/a", &k1, &p1);
	gen(KEY_ED25519, "log.example/b", &k2, &p2);
	gen(KEY_COSIGN, "witness.example/w", &c, &pc);
	gen(KEY_ED25519, "stranger", &unknown, &pu);
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct key signers[3] = {k1, c, k2}, known[3] = {p2, pc, p1};

		assert_int_equal(note_sign(texts[i], strlen(texts[i]), signers, 3, 1679315147, out,
		                           sizeof(out), &out_len),
		                 TIP_OK);
		assert_int_equal(strlen(out), out_len);
		assert_int_equal(note_open(out, out_len, out_len, known, 3, &text_len, checks), TIP_OK);
		assert_int_equal(text_len, strlen(texts[i]));
		assert_memory_equal(out, texts[i], text_len);
		assert_int_equal(checks[0].verified + checks[1].verified + checks[2].verified, 3);
		assert_int_equal(checks[1].timestamp, 1679315147);
		assert_int_equal(checks[0].timestamp, 0);
		assert_int_equal(note_open(out, out_len, out_len, &pu, 1, &text_len, checks), TIP_ENOTFOUND);
	}
	key_wipe(&k1);
	key_wipe(&k2);
	key_wipe(&c);
	key_wipe(&unknown);
}

/* The cosignature's bytes, computed here from the tlog-cosignature spec's message form. */
static void test_cosignature_message(void **state)
{
	const char *text =
	        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
	const char *msg =
	        "cosignature/v1\ntime 1679315147\n"
	        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
	struct key c, pc;
	struct ed25519_key *sk;
	uint8_t want[4 + 8 + 64], got[sizeof(want) + 3];
	char out[CAP], *line;
	size_t out_len, n;

	(void)state;
	gen(KEY_COSIGN, "witness.example.com/w1", &c, &pc);
	assert_int_equal(note_sign(text, strlen(text), &c, 1, 1679315147, out, sizeof(out), &out_len),
	                 TIP_OK);
	memcpy(want, c.id, 4);
	memcpy(want + 4, "\x00\x00\x00\x00\x64\x18\x50\xcb", 8); /* 1679315147, big-endian */
	assert_non_null(sk = ed25519_key_new(c.secret));
	assert_int_equal(ed25519_sign(sk, (const uint8_t *)msg, strlen(msg), want + 12), TIP_OK);
	ed25519_key_free(sk);
	line = strstr(out, DASH " witness.example.com/w1 ");
	assert_non_null(line);
	line += strlen(DASH " witness.example.com/w1 ");
	assert_int_equal(b64_decode(line, strlen(line) - 1, got, sizeof(got), &n), TIP_OK);
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(got, want, sizeof(want));
	/* The spec's example line carries the same time in the same place. */
	assert_int_equal(b64_decode("jWbPPwAAAABkGFDL", 16, got, sizeof(got), &n), TIP_OK);
	assert_memory_equal(got + 4, "\x00\x00\x00\x00\x64\x18\x50\xcb", 8);
	/* Timestamps: the largest allowed and one above. */
	assert_int_equal(
	        note_sign(text, strlen(text), &c, 1, (uint64_t)INT64_MAX, out, sizeof(out), &out_len),
	        TIP_OK);
	assert_int_equal(open_rc(out, out_len, &pc, 1), TIP_OK);
	assert_int_equal(
	        note_sign(text, strlen(text), &c, 1, (uint64_t)INT64_MAX + 1, out, sizeof(out), &out_len),
	        TIP_EINVAL);
	key_wipe(&c);
}

/* A signature line for key k with arbitrary blob bytes after the id. */
static void craft_line(char *dst, size_t cap, const struct key *k, const uint8_t *rest, size_t rest_len)
{
	uint8_t blob[256];
	char b64[400];

	memcpy(blob, k->id, 4);
	memcpy(blob + 4, rest, rest_len);
	assert_int_equal(b64_encode(blob, 4 + rest_len, b64, sizeof(b64)), TIP_OK);
	snprintf(dst, cap, DASH " %s %s\n", k->name, b64);
}

static void test_bad_signatures(void **state)
{
	struct key k, pk, c, pc;
	char out[CAP], buf[2 * CAP], line[512];
	size_t out_len, text_len;
	uint8_t junk[80];

	(void)state;
	gen(KEY_ED25519, "log", &k, &pk);
	gen(KEY_COSIGN, "wit", &c, &pc);
	assert_int_equal(note_sign("hello\n", 6, &k, 1, 0, out, sizeof(out), &out_len), TIP_OK);
	/* Another text under the same line. */
	memcpy(buf, out, out_len + 1);
	buf[0] = 'j';
	assert_int_equal(open_str(buf, &pk, 1), TIP_EVERIFY);
	/* A known key's line of the wrong length, or with a broken signature, sinks the note even next to a
	 * good one. */
	memset(junk, 7, sizeof(junk));
	for (size_t n = 1; n <= 72; n += 71) {
		craft_line(line, sizeof(line), &c, junk, n);
		snprintf(buf, sizeof(buf), "%s%s", out, line);
		assert_int_equal(open_rc(buf, strlen(buf), (struct key[]){pk, pc}, 2), TIP_EVERIFY);
		assert_int_equal(open_rc(buf, strlen(buf), &pk, 1), TIP_OK); /* wit unknown: ignored */
	}
	craft_line(line, sizeof(line), &k, junk, 63);
	snprintf(buf, sizeof(buf), "hello\n\n%s", line);
	assert_int_equal(open_str(buf, &pk, 1), TIP_EVERIFY);
	craft_line(line, sizeof(line), &k, junk, 65);
	snprintf(buf, sizeof(buf), "hello\n\n%s", line);
	assert_int_equal(open_str(buf, &pk, 1), TIP_EVERIFY);
	/* A cosignature time above 2^63 - 1. */
	memset(junk, 0xff, 8);
	craft_line(line, sizeof(line), &c, junk, 72);
	snprintf(buf, sizeof(buf), "hello\n\n%s", line);
	assert_int_equal(open_str(buf, &pc, 1), TIP_EVERIFY);
	/* A cosignature whose time was changed. */
	assert_int_equal(note_sign("hello\n", 6, &c, 1, 1000, out, sizeof(out), &out_len), TIP_OK);
	assert_int_equal(open_rc(out, out_len, &pc, 1), TIP_OK);
	assert_int_equal(note_sign("hello\n", 6, &c, 1, 1001, buf, sizeof(buf), &out_len), TIP_OK);
	{
		/* Splice the time bytes of the second into the first: base64 chars 4..15 hold bytes 3..11. */
		char *a = strrchr(out, ' ') + 1, *b = strrchr(buf, ' ') + 1;

		memcpy(a + 4, b + 4, 12);
		assert_true(memcmp(a, b, 16) == 0);
		assert_int_equal(open_rc(out, strlen(out), &pc, 1), TIP_EVERIFY);
	}
	/* Every single-byte change of a signed note is refused, one way or another. */
	assert_int_equal(note_sign("a checkpoint\n42\n", 16, &k, 1, 0, out, sizeof(out), &out_len), TIP_OK);
	for (size_t i = 0; i < out_len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(buf, out, out_len);
			buf[i] = (char)(buf[i] ^ (1 << bit));
			assert_int_not_equal(note_open(buf, out_len, CAP, &pk, 1, &text_len, NULL), TIP_OK);
		}
	}
	key_wipe(&k);
	key_wipe(&c);
}

static void test_malformed(void **state)
{
	struct key k, pk;
	char out[CAP], buf[2 * CAP];
	size_t out_len;
	const char *line;

	(void)state;
	gen(KEY_ED25519, "log", &k, &pk);
	assert_int_equal(note_sign("text\n", 5, &k, 1, 0, out, sizeof(out), &out_len), TIP_OK);
	line = out + 6; /* the signature line */
	assert_int_equal(open_str(out, &pk, 1), TIP_OK);

	/* No final newline; no blank line; no signature line; text without its newline. */
	assert_int_equal(open_rc(out, out_len - 1, &pk, 1), TIP_EFORMAT);
	snprintf(buf, sizeof(buf), "text\n%s", line);
	assert_int_equal(open_str(buf, &pk, 1), TIP_EFORMAT);
	assert_int_equal(open_str("text\n\n", &pk, 1), TIP_EFORMAT);
	assert_int_equal(open_str("text\n\n\n", &pk, 1), TIP_EFORMAT);
	assert_int_equal(open_str("", &pk, 1), TIP_EFORMAT);
	snprintf(buf, sizeof(buf), "\n%s", line);
	assert_int_equal(open_str(buf, &pk, 1), TIP_EFORMAT);
	/* A blank line after the signatures, or between them. */
	snprintf(buf, sizeof(buf), "%s\n", out);
	assert_int_equal(open_str(buf, &pk, 1), TIP_EFORMAT);

	/* Bytes that are not clean UTF-8, in the text or in a signature line. */
	const char *bad_text[] = {"t\xc0\x80\n", "t\xed\xa0\x80\n", "t\xf4\x90\x80\x80\n",
	                          "t\xe2\x80\n", "t\x80\n",         "t\xff\n",
	                          "t\x01\n",     "t\tx\n",          "t\r\n",
	                          "t\x1b[0m\n",  "t\xc3\n"};
	for (size_t i = 0; i < sizeof(bad_text) / sizeof(bad_text[0]); i++) {
		snprintf(buf, sizeof(buf), "%s\n%s", bad_text[i], line);
		assert_int_equal(open_str(buf, &pk, 1), TIP_EFORMAT);
		assert_int_equal(note_text_ok(bad_text[i], strlen(bad_text[i])), 0);
		assert_int_equal(
		        note_sign(bad_text[i], strlen(bad_text[i]), &k, 1, 0, out, sizeof(out), &out_len),
		        TIP_EFORMAT);
	}
	{
		/* A NUL inside the note. */
		char nul[] = "te\0t\n\n";
		size_t n = sizeof(nul) - 1;

		memcpy(buf, nul, n);
		memcpy(buf + n, line, strlen(line));
		assert_int_equal(open_rc(buf, n + strlen(line), &pk, 1), TIP_EFORMAT);
	}
	assert_int_equal(note_sign("text\n", 5, &k, 1, 0, out, sizeof(out), &out_len), TIP_OK);

	/* Signature lines of the wrong form (keys unknown or known alike). */
	const char *bad_lines[] = {
	        "- log AAAAAAAA\n",      /* ASCII dash */
	        DASH "log AAAAAAAA\n",   /* no space after the dash */
	        DASH " log\n",           /* no signature */
	        DASH " log \n",          /* empty signature */
	        DASH "  AAAAAAAA\n",     /* empty name */
	        DASH " log  AAAAAAAA\n", /* two spaces */
	        DASH " log AAAAAAAA \n", /* trailing space */
	        DASH " a+b AAAAAAAA\n",  /* plus in the name */
	        DASH " a\xc2\xa0"
	             "b AAAAAAAA\n", /* NO-BREAK SPACE in the name */
	        DASH " a\xe3\x80\x80"
	             "b AAAAAAAA\n", /* IDEOGRAPHIC SPACE in the name */
	        DASH " a\xe2\x80\xa8"
	             "b AAAAAAAA\n",    /* LINE SEPARATOR in the name */
	        DASH " log AAAAAA==\n", /* 4 bytes: no signature after the id */
	        DASH " log AAAAAAA\n",  /* base64 without its padding */
	        DASH " log AAAAAAB=\n", /* non-canonical base64 (stray bits) */
	        DASH " log AAAA*AAA\n", /* not base64 */
	        DASH
	        " log "
	        "AAAAAAAA=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
	        DASH " log AAAA=AAA\n",
	        DASH
	        " log AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=AAAAAAAAAAAAAAAAAAAA\n",
	        DASH "\n",
	        "\n",
	};
	for (size_t i = 0; i < sizeof(bad_lines) / sizeof(bad_lines[0]); i++) {
		snprintf(buf, sizeof(buf), "%s%s", out, bad_lines[i]);
		if (open_str(buf, &pk, 1) != TIP_EFORMAT)
			fail_msg("bad line %zu accepted: %s", i, bad_lines[i]);
	}
	/* A well-formed unknown line is fine; a known key twice is not (even the very same line). */
	snprintf(buf, sizeof(buf), "%s" DASH " other AAAAAAAA\n" DASH " other AAAAAAAA\n", out);
	assert_int_equal(open_str(buf, &pk, 1), TIP_OK);
	snprintf(buf, sizeof(buf), "%s%s", out, line);
	assert_int_equal(open_str(buf, &pk, 1), TIP_EFORMAT);
	key_wipe(&k);
}

/* At least 16 signatures are accepted; at most NOTE_MAX_SIGS lines. */
static void test_many_signatures(void **state)
{
	struct key sk[16], pk[16];
	struct note_check checks[16];
	char *out = malloc(NOTE_MAX_LEN), *buf = malloc(NOTE_MAX_LEN);
	size_t out_len, text_len, len;

	(void)state;
	assert_non_null(out);
	assert_non_null(buf);
	for (int i = 0; i < 16; i++) {
		char name[32];

		snprintf(name, sizeof(name), "signer-%02d", i);
		gen(i % 2 ? KEY_COSIGN : KEY_ED25519, name, &sk[i], &pk[i]);
	}
	assert_int_equal(note_sign("sixteen\n", 8, sk, 16, 77, out, NOTE_MAX_LEN, &out_len), TIP_OK);
	assert_int_equal(note_open(out, out_len, NOTE_MAX_LEN, pk, 16, &text_len, checks), TIP_OK);
	for (int i = 0; i < 16; i++)
		assert_int_equal(checks[i].verified, 1);
	/* Up to 100 lines: 84 unknown ones added. */
	memcpy(buf, out, out_len);
	len = out_len;
	for (int i = 0; i < NOTE_MAX_SIGS - 16; i++)
		len += (size_t)snprintf(buf + len, NOTE_MAX_LEN - len, DASH " unknown-%d AAAAAAAA\n", i);
	assert_int_equal(note_open(buf, len, NOTE_MAX_LEN, pk, 16, &text_len, checks), TIP_OK);
	len += (size_t)snprintf(buf + len, NOTE_MAX_LEN - len, DASH " one-too-many AAAAAAAA\n");
	assert_int_equal(note_open(buf, len, NOTE_MAX_LEN, pk, 16, &text_len, checks), TIP_EOVERSIZE);
	/* Adding to a note that has 100 lines. */
	len -= strlen(DASH " one-too-many AAAAAAAA\n");
	assert_int_equal(note_add_signature(buf, len, &sk[0], 0, out, NOTE_MAX_LEN, &out_len), TIP_EOVERSIZE);
	/* The whole-note cap. */
	memset(buf, 'x', NOTE_MAX_LEN);
	assert_int_equal(note_open(buf, NOTE_MAX_LEN + 1, (size_t)NOTE_MAX_LEN * 2, pk, 1, &text_len, NULL),
	                 TIP_EOVERSIZE);
	/* Same name and id twice among the known keys, or among the signers. */
	assert_int_equal(
	        note_open(out, out_len, NOTE_MAX_LEN, (struct key[]){pk[0], pk[0]}, 2, &text_len, NULL),
	        TIP_EINVAL);
	assert_int_equal(note_sign("x\n", 2, (struct key[]){sk[0], sk[0]}, 2, 0, out, NOTE_MAX_LEN, &out_len),
	                 TIP_EINVAL);
	for (int i = 0; i < 16; i++)
		key_wipe(&sk[i]);
	free(out);
	free(buf);
}

static void test_add_signature(void **state)
{
	struct key k, pk, c, pc;
	struct note_check checks[2];
	char out[CAP], out2[CAP];
	size_t out_len, out2_len, text_len;

	(void)state;
	gen(KEY_ED25519, "log", &k, &pk);
	gen(KEY_COSIGN, "wit", &c, &pc);
	assert_int_equal(note_sign("body\n\nwith a blank line\n", 24, &k, 1, 0, out, sizeof(out), &out_len),
	                 TIP_OK);
	assert_int_equal(note_add_signature(out, out_len, &c, 99, out2, sizeof(out2), &out2_len), TIP_OK);
	assert_int_equal(note_open(out2, out2_len, CAP, (struct key[]){pk, pc}, 2, &text_len, checks),
	                 TIP_OK);
	assert_int_equal(text_len, 24);
	assert_true(checks[0].verified && checks[1].verified);
	assert_int_equal(checks[1].timestamp, 99);
	/* The same as signing with both at once. */
	assert_int_equal(note_sign("body\n\nwith a blank line\n", 24, (struct key[]){k, c}, 2, 99, out,
	                           sizeof(out), &out_len),
	                 TIP_OK);
	assert_int_equal(out_len, out2_len);
	assert_memory_equal(out, out2, out_len);
	/* A second line for a key already there; a malformed input; too small a buffer. */
	assert_int_equal(note_add_signature(out2, out2_len, &c, 100, out, sizeof(out), &out_len), TIP_EINVAL);
	assert_int_equal(out[0], '\0');
	assert_int_equal(note_add_signature(out2, out2_len - 1, &k, 0, out, sizeof(out), &out_len),
	                 TIP_EFORMAT);
	assert_int_equal(note_add_signature(out2, out2_len, &pk, 0, out, sizeof(out), &out_len), TIP_EINVAL);
	{
		struct key k3, p3;

		gen(KEY_ED25519, "third", &k3, &p3);
		for (size_t cap = 1; cap <= out2_len + 100; cap++) {
			int rc = note_add_signature(out2, out2_len, &k3, 0, out, cap, &out_len);

			if (rc == TIP_OK) {
				assert_int_equal(out_len + 1,
				                 cap); /* the first size that fits, NUL included */
				break;
			}
			assert_int_equal(rc, TIP_EOVERSIZE);
			assert_int_equal(out_len, 0);
		}
		key_wipe(&k3);
	}
	key_wipe(&k);
	key_wipe(&c);
}

static void test_sign_arguments(void **state)
{
	struct key k, pk, x;
	char out[CAP];
	size_t out_len, need;

	(void)state;
	gen(KEY_ED25519, "log", &k, &pk);
	assert_int_equal(note_sign("t\n", 2, &k, 1, 0, out, sizeof(out), &out_len), TIP_OK);
	need = out_len + 1;
	for (size_t cap = 1; cap < need; cap++) {
		assert_int_equal(note_sign("t\n", 2, &k, 1, 0, out, cap, &out_len), TIP_EOVERSIZE);
		assert_int_equal(out_len, 0);
		assert_int_equal(out[0], '\0');
	}
	assert_int_equal(note_sign("t\n", 2, &k, 1, 0, out, need, &out_len), TIP_OK);
	assert_int_equal(note_sign("t", 1, &k, 1, 0, out, sizeof(out), &out_len), TIP_EFORMAT);
	assert_int_equal(note_sign("", 0, &k, 1, 0, out, sizeof(out), &out_len), TIP_EFORMAT);
	assert_int_equal(note_sign("t\n", 2, &k, 0, 0, out, sizeof(out), &out_len), TIP_EINVAL);
	assert_int_equal(note_sign("t\n", 2, &pk, 1, 0, out, sizeof(out), &out_len), TIP_EINVAL);
	assert_int_equal(key_generate(KEY_X25519, "seal", &x), TIP_OK);
	assert_int_equal(note_sign("t\n", 2, &x, 1, 0, out, sizeof(out), &out_len), TIP_EINVAL);
	assert_int_equal(note_open(out, 0, CAP, &x, 1, &need, NULL), TIP_EINVAL);
	key_wipe(&x);
	/* A key name a note cannot carry (key files refuse it too; a struct can still hold it). */
	x = k;
	memcpy(x.name, "has space", 10);
	assert_int_equal(note_sign("t\n", 2, &x, 1, 0, out, sizeof(out), &out_len), TIP_EINVAL);
	assert_int_equal(note_open(out, 0, CAP, &x, 1, &need, NULL), TIP_EINVAL);
	key_wipe(&x);
	assert_int_equal(note_name_ok("example.com/log", 15), 1);
	assert_int_equal(note_name_ok("\xc3\xa9t\xc3\xa9", 5), 1);
	assert_int_equal(note_name_ok("", 0), 0);
	assert_int_equal(note_name_ok("a b", 3), 0);
	assert_int_equal(note_name_ok("a\xe2\x80\x83"
	                              "b",
	                              5),
	                 0);                              /* EM SPACE */
	assert_int_equal(note_name_ok("\xc2\x85", 2), 0); /* NEL */
	assert_int_equal(note_text_ok("x\n", 2), 1);
	assert_int_equal(note_text_ok("x\n", 1), 0);
	key_wipe(&k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_go_vector),           cmocka_unit_test(test_spec_vector),
	        cmocka_unit_test(test_sign_open_roundtrip), cmocka_unit_test(test_cosignature_message),
	        cmocka_unit_test(test_bad_signatures),      cmocka_unit_test(test_malformed),
	        cmocka_unit_test(test_many_signatures),     cmocka_unit_test(test_add_signature),
	        cmocka_unit_test(test_sign_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
