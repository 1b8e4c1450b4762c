#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "proto/keyfile.h"
#include "common/encoding.h"
#include "common/err.h"
#include "proto/ed25519.h"
#include "proto/record.h"
#include "testutil.h"

#include <openssl/evp.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const enum key_type all_types[] = {KEY_ED25519, KEY_COSIGN, KEY_X25519, KEY_LINK, KEY_INDEX};

static char *join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);

	assert_non_null(p);
	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

static void write_raw(const char *path, const char *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

static mode_t file_mode(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static void assert_same_key(const struct key *a, const struct key *b, int compare_secret)
{
	assert_int_equal(a->type, b->type);
	assert_string_equal(a->name, b->name);
	assert_memory_equal(a->id, b->id, KEY_ID_LEN);
	assert_memory_equal(a->pub, b->pub, KEY_LEN);
	if (compare_secret) {
		assert_int_equal(a->has_secret, 1);
		assert_int_equal(b->has_secret, 1);
		assert_memory_equal(a->secret, b->secret, KEY_LEN);
	}
}

static void test_roundtrip_all_types(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();

	for (size_t i = 0; i < sizeof(all_types) / sizeof(all_types[0]); i++) {
		struct key k, back, pub;
		char name[32], line[KEY_LINE_MAX + 1];
		char *priv_path, *pub_path;
		static const uint8_t zero[KEY_LEN];

		snprintf(name, sizeof(name), "intake-%zu.example/%s", i, key_type_name(all_types[i]));
		priv_path = join(dir, key_type_name(all_types[i]));
		pub_path = join(dir, "x.pub");
		unlink(pub_path);
		assert_int_equal(key_generate(all_types[i], name, &k), TIP_OK);
		assert_int_equal(k.type, all_types[i]);
		assert_int_equal(k.has_secret, 1);
		assert_memory_not_equal(k.secret, zero, KEY_LEN);
		assert_int_equal(key_write_private(priv_path, &k), TIP_OK);
		assert_int_equal(file_mode(priv_path), 0600);
		assert_int_equal(key_read_private(priv_path, &back), TIP_OK);
		assert_same_key(&k, &back, 1);
		if (key_is_symmetric(all_types[i])) {
			assert_memory_equal(k.pub, zero, KEY_LEN);
			assert_int_equal(key_format_public(&k, line, sizeof(line)), TIP_EINVAL);
			assert_int_equal(key_write_public(pub_path, &k), TIP_EINVAL);
			assert_int_equal(access(pub_path, F_OK), -1);
		} else {
			assert_int_equal(key_format_public(&k, line, sizeof(line)), TIP_OK);
			assert_int_equal(key_parse_public(line, strlen(line), &pub), TIP_OK);
			assert_same_key(&k, &pub, 0);
			assert_int_equal(pub.has_secret, 0);
			assert_int_equal(key_format_public(&k, line, strlen(line)), TIP_EOVERSIZE);
			assert_int_equal(key_write_public(pub_path, &k), TIP_OK);
			assert_int_equal(file_mode(pub_path), 0644);
			assert_int_equal(key_read_public(pub_path, &pub), TIP_OK);
			assert_same_key(&k, &pub, 0);
			/* A verifier file is not a private key file, and the other way round. */
			assert_int_equal(chmod(pub_path, 0600), 0);
			assert_int_equal(key_read_private(pub_path, &back), TIP_EFORMAT);
			assert_int_equal(key_read_public(priv_path, &back), TIP_EFORMAT);
		}
		key_wipe(&k);
		key_wipe(&back);
		free(priv_path);
		free(pub_path);
	}
	tu_rmtree(dir);
	free(dir);
}

/* Keys and notes of the C2SP signed-note vectors: the format and key id rule are the C2SP ones. */
static void test_signed_note_vectors(void **state)
{
	(void)state;
	char *path = tu_vector_path("signed-note/keys.txt");
	char *text = tu_read_file(path, NULL), *save = NULL;
	struct key signer = {0}, verifiers[4];
	int n_signer = 0, n_verifier = 0;

	assert_non_null(text);
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *value;

		if (line[0] == '#')
			continue;
		value = strchr(line, ' ');
		assert_non_null(value);
		*value++ = '\0';
		while (*value == ' ')
			value++;
		if (strcmp(line, "signer") == 0) {
			assert_int_equal(key_parse_private(value, strlen(value), &signer), TIP_OK);
			n_signer++;
		} else {
			struct key *v = &verifiers[n_verifier];
			char idhex[9], again[KEY_LINE_MAX + 1];

			assert_string_equal(line, "verifier");
			assert_true(n_verifier < 4);
			assert_int_equal(key_parse_public(value, strlen(value), v), TIP_OK);
			assert_int_equal(v->type, KEY_ED25519);
			/* The id given in the string is the one recomputed by the C2SP rule. */
			assert_int_equal(hex_encode(v->id, KEY_ID_LEN, idhex, sizeof(idhex)), TIP_OK);
			assert_non_null(strstr(value, idhex));
			assert_int_equal(key_format_public(v, again, sizeof(again)), TIP_OK);
			assert_string_equal(again, value);
			/* Any other name changes the id. */
			value[0] ^= 0x20;
			assert_int_equal(key_parse_public(value, strlen(value), v), TIP_EFORMAT);
			value[0] ^= 0x20;
			assert_int_equal(key_parse_public(value, strlen(value), v), TIP_OK);
			n_verifier++;
		}
	}
	assert_int_equal(n_signer, 1);
	assert_int_equal(n_verifier, 2);
	/* The Go signer key string is our private format; its public half is the first verifier. */
	assert_int_equal(signer.type, KEY_ED25519);
	assert_same_key(&signer, &verifiers[0], 0);
	assert_string_equal(verifiers[1].name, "example.com/foo");

	/*
	 * The notes: text, a blank line, then "— <name> base64(key id || signature)". Re-signing
	 * the first note with the signer reproduces it; the second verifies with its key.
	 */
	static const char *notes[] = {"signed-note/go-peterneumann.note", "signed-note/spec-example.note"};
	for (int i = 0; i < 2; i++) {
		char *np = tu_vector_path(notes[i]);
		size_t len, got;
		char *note = tu_read_file(np, &len);
		char *sep, *sigline, *b64;
		uint8_t blob[4 + ED25519_SIG_LEN + 2], sig[ED25519_SIG_LEN];
		struct ed25519_pub *p;

		assert_non_null(note);
		sep = strstr(note, "\n\n");
		assert_non_null(sep);
		sigline = sep + 2;
		assert_int_equal(strncmp(sigline, "\xe2\x80\x94 ", 4), 0);
		assert_int_equal(strncmp(sigline + 4, verifiers[i].name, strlen(verifiers[i].name)), 0);
		b64 = sigline + 4 + strlen(verifiers[i].name) + 1;
		assert_int_equal(b64_decode(b64, strcspn(b64, "\n"), blob, sizeof(blob), &got), TIP_OK);
		assert_int_equal(got, 4 + ED25519_SIG_LEN);
		assert_memory_equal(blob, verifiers[i].id, KEY_ID_LEN);
		p = ed25519_pub_new(verifiers[i].pub);
		assert_non_null(p);
		assert_int_equal(ed25519_verify(p, (uint8_t *)note, (size_t)(sep + 1 - note), blob + 4),
		                 TIP_OK);
		if (i == 0) {
			struct ed25519_key *k = ed25519_key_new(signer.secret);

			assert_non_null(k);
			assert_int_equal(ed25519_sign(k, (uint8_t *)note, (size_t)(sep + 1 - note), sig),
			                 TIP_OK);
			assert_memory_equal(sig, blob + 4, ED25519_SIG_LEN);
			ed25519_key_free(k);
		}
		ed25519_pub_free(p);
		free(note);
		free(np);
	}
	key_wipe(&signer);
	free(text);
	free(path);
}

/*
 * Builds a line from parts, computing the C2SP key id over id_key (the public key of a
 * private line; NULL: the line's own key bytes) or using id_override, so that
 * each malformed variant below differs from a valid line in exactly one respect.
 */
static void make_line(char *out, size_t cap, int private, const char *name, size_t name_len, uint8_t type,
                      const uint8_t *bytes, size_t bytes_len, const uint8_t *id_key, const char *id_override)
{
	uint8_t buf[256], md[32], raw[64];
	char idhex[9], b64[128];
	size_t n = 0;

	memcpy(buf, name, name_len);
	n = name_len;
	buf[n++] = '\n';
	buf[n++] = type;
	memcpy(buf + n, id_key ? id_key : bytes, id_key ? KEY_LEN : bytes_len);
	n += id_key ? KEY_LEN : bytes_len;
	assert_int_equal(EVP_Digest(buf, n, md, NULL, EVP_sha256(), NULL), 1);
	assert_int_equal(hex_encode(md, 4, idhex, sizeof(idhex)), TIP_OK);
	raw[0] = type;
	memcpy(raw + 1, bytes, bytes_len);
	assert_int_equal(b64_encode(raw, bytes_len + 1, b64, sizeof(b64)), TIP_OK);
	assert_true(snprintf(out, cap, "%s%.*s+%s+%s", private ? "PRIVATE+KEY+" : "", (int)name_len, name,
	                     id_override ? id_override : idhex, b64) < (int)cap);
}

static void test_reject_malformed(void **state)
{
	(void)state;
	struct key k, out;
	char good[256], line[300], longname[80];
	uint8_t pub[KEY_LEN], seed[KEY_LEN], y2[KEY_LEN] = {2};

	assert_int_equal(key_generate(KEY_ED25519, "log.example/a", &k), TIP_OK);
	memcpy(pub, k.pub, KEY_LEN);
	memcpy(seed, k.secret, KEY_LEN);

	/* The baselines parse. */
	make_line(good, sizeof(good), 0, "log.example/a", 13, 0x01, pub, 32, NULL, NULL);
	assert_int_equal(key_parse_public(good, strlen(good), &out), TIP_OK);
	assert_memory_equal(out.id, k.id, KEY_ID_LEN);
	make_line(line, sizeof(line), 1, "log.example/a", 13, 0x01, seed, 32, pub, NULL);
	assert_int_equal(key_parse_private(line, strlen(line), &out), TIP_OK);
	assert_same_key(&k, &out, 1);
	/* A private line's id is that of the derived public key, not of the seed. */
	make_line(line, sizeof(line), 1, "log.example/a", 13, 0x01, seed, 32, NULL, NULL);
	assert_int_equal(key_parse_private(line, strlen(line), &out), TIP_EFORMAT);

	/* Bad base64: a character outside the alphabet, one too few or too many characters. */
	snprintf(line, sizeof(line), "%s", good);
	line[strlen(line) - 3] = '*';
	assert_int_equal(key_parse_public(line, strlen(line), &out), TIP_EFORMAT);
	assert_int_equal(key_parse_public(good, strlen(good) - 1, &out), TIP_EFORMAT);
	snprintf(line, sizeof(line), "%sA", good);
	assert_int_equal(key_parse_public(line, strlen(line), &out), TIP_EFORMAT);
	snprintf(line, sizeof(line), "%sAAAA", good);
	assert_int_equal(key_parse_public(line, strlen(line), &out), TIP_EFORMAT);

	/* Wrong payload lengths with a correct id: 31, 32 key bytes (the latter is 44 chars with '='), 33. */
	uint8_t big[40] = {0};
	memcpy(big, pub, 32);
	for (size_t len = 30; len <= 34; len++) {
		if (len == 32)
			continue;
		make_line(line, sizeof(line), 0, "log.example/a", 13, 0x01, big, len, NULL, NULL);
		assert_int_equal(key_parse_public(line, strlen(line), &out), TIP_EFORMAT);
	}

	/* Unknown or misplaced type bytes, with ids computed for them. */
	static const uint8_t bad_types[] = {0x00, 0x02, 0x03, 0x05, 0x7f, 0x81, 0x82, 0xff};
	for (size_t i = 0; i < sizeof(bad_types); i++) {
		make_line(line, sizeof(line), 0, "log.example/a", 13, bad_types[i], pub, 32, NULL, NULL);
		assert_int_equal(key_parse_public(line, strlen(line), &out), TIP_EFORMAT);
		if (bad_types[i] != 0x81) {
			make_line(line, sizeof(line), 1, "log.example/a", 13, bad_types[i], seed, 32, pub,
			          NULL);
			assert_int_equal(key_parse_private(line, strlen(line), &out), TIP_EFORMAT);
		}
	}
	/* The type is part of the id: the same key bytes as a cosignature key parse too. */
	make_line(line, sizeof(line), 0, "log.example/a", 13, 0x04, pub, 32, NULL, NULL);
	assert_int_equal(key_parse_public(line, strlen(line), &out), TIP_OK);
	assert_int_equal(out.type, KEY_COSIGN);
	assert_memory_not_equal(out.id, k.id, KEY_ID_LEN);

	/* Names: empty, 65 bytes, a space, a control byte, DEL, non-ASCII. 64 bytes is fine. */
	memset(longname, 'n', sizeof(longname));
	make_line(line, sizeof(line), 0, longname, 64, 0x01, pub, 32, NULL, NULL);
	assert_int_equal(key_parse_public(line, strlen(line), &out), TIP_OK);
	assert_int_equal(strlen(out.name), 64);
	make_line(line, sizeof(line), 0, longname, 65, 0x01, pub, 32, NULL, NULL);
	assert_int_equal(key_parse_public(line, strlen(line), &out), TIP_EFORMAT);
	static const char *bad_names[] = {"", "a b", "a\tb", "a\x01", "a\x7f", "caf\xc3\xa9"};
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		make_line(line, sizeof(line), 0, bad_names[i], strlen(bad_names[i]), 0x01, pub, 32, NULL,
		          NULL);
		assert_int_equal(key_parse_public(line, strlen(line), &out), TIP_EFORMAT);
		assert_int_equal(key_generate(KEY_ED25519, bad_names[i], &out), TIP_EINVAL);
	}
	assert_int_equal(key_generate(KEY_ED25519, "a+b", &out), TIP_EINVAL);
	longname[65] = '\0';
	assert_int_equal(key_generate(KEY_ED25519, longname, &out), TIP_EINVAL);
	assert_int_equal(key_generate((enum key_type)0x02, "ok", &out), TIP_EINVAL);
	assert_int_equal(key_generate(KEY_ED25519, NULL, &out), TIP_EINVAL);

	/* Key ids: wrong value, upper case, wrong length, not hex. */
	static const char *bad_ids[] = {"00000000", "0000000", "000000000", "0000000g", "+0000000"};
	for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
		make_line(line, sizeof(line), 0, "log.example/a", 13, 0x01, pub, 32, NULL, bad_ids[i]);
		assert_int_equal(key_parse_public(line, strlen(line), &out), TIP_EFORMAT);
	}
	{
		char upper[9];

		memcpy(upper, good + 14, 8);
		upper[8] = '\0';
		for (int i = 0; i < 8; i++)
			if (upper[i] >= 'a' && upper[i] <= 'f')
				upper[i] = (char)(upper[i] - 'a' + 'A');
		if (strncmp(upper, good + 14, 8) != 0) { /* the id had a letter */
			make_line(line, sizeof(line), 0, "log.example/a", 13, 0x01, pub, 32, NULL, upper);
			assert_int_equal(key_parse_public(line, strlen(line), &out), TIP_EFORMAT);
		}
	}
	/* Every single-character change of the line is refused. */
	for (size_t i = 0; i < strlen(good); i++) {
		snprintf(line, sizeof(line), "%s", good);
		line[i] = line[i] == 'A' ? 'B' : 'A';
		assert_int_equal(key_parse_public(line, strlen(line), &out), TIP_EFORMAT);
	}

	/* Trailing and leading junk, an LF inside the parsed length, a second field separator. */
	static const char *suffixes[] = {" ", "\n", "\r", "+", "x", "\r\n", "=", "\0"};
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		size_t n = strlen(good);

		snprintf(line, sizeof(line), "%s%s", good, suffixes[i]);
		assert_int_equal(key_parse_public(line, n + (suffixes[i][0] ? strlen(suffixes[i]) : 1), &out),
		                 TIP_EFORMAT);
	}
	snprintf(line, sizeof(line), " %s", good);
	assert_int_equal(key_parse_public(line, strlen(line), &out), TIP_EFORMAT);

	/* An Ed25519 public key that is not a curve point, with its correct id. */
	make_line(line, sizeof(line), 0, "log.example/a", 13, 0x01, y2, 32, NULL, NULL);
	assert_int_equal(key_parse_public(line, strlen(line), &out), TIP_EFORMAT);
	/* The same bytes are a valid X25519 public key. */
	make_line(line, sizeof(line), 0, "log.example/a", 13, 0x80, y2, 32, NULL, NULL);
	assert_int_equal(key_parse_public(line, strlen(line), &out), TIP_OK);

	/* Private lines: the prefix exactly, and the id of the derived public key. */
	char priv[256];
	assert_int_equal(key_generate(KEY_X25519, "zone.example/seal", &out), TIP_OK);
	{
		char dir_line[512];
		char *dir = tu_mkdtemp(), *p = join(dir, "k");
		char *text;
		size_t len;
		int ignored_bits = 0;

		assert_int_equal(key_write_private(p, &out), TIP_OK);
		text = tu_read_file(p, &len);
		assert_non_null(text);
		assert_true(len < sizeof(priv));
		memcpy(priv, text, len - 1);
		priv[len - 1] = '\0';
		free(text);
		assert_int_equal(key_parse_private(priv, strlen(priv), &k), TIP_OK);
		snprintf(dir_line, sizeof(dir_line), "private+key+%s", priv + 12);
		assert_int_equal(key_parse_private(dir_line, strlen(dir_line), &k), TIP_EFORMAT);
		snprintf(dir_line, sizeof(dir_line), "PRIVATE+KEY+PRIVATE+KEY+%s", priv + 12);
		assert_int_equal(key_parse_private(dir_line, strlen(dir_line), &k), TIP_EFORMAT);
		assert_int_equal(key_parse_private(priv + 12, strlen(priv) - 12, &k), TIP_EFORMAT);
		assert_int_equal(key_parse_public(priv, strlen(priv), &k), TIP_EFORMAT);
		/*
		 * Every single-character change is refused, except one that touches only the bits
		 * X25519 ignores (RFC 7748 clamping): that is the same key, so its id still matches.
		 */
		for (size_t i = 12; i < strlen(priv); i++) {
			int rc;

			snprintf(dir_line, sizeof(dir_line), "%s", priv);
			dir_line[i] = dir_line[i] == 'A' ? 'B' : 'A';
			rc = key_parse_private(dir_line, strlen(dir_line), &k);
			if (rc == TIP_OK) {
				assert_memory_equal(k.pub, out.pub, KEY_LEN);
				assert_memory_not_equal(k.secret, out.secret, KEY_LEN);
				ignored_bits++;
				continue;
			}
			assert_int_equal(rc, TIP_EFORMAT);
		}
		assert_true(ignored_bits <= 2); /* only the characters holding byte 0 and byte 31 */
		tu_rmtree(dir);
		free(p);
		free(dir);
	}
	/*
	 * A link key's id is its check value SHA-256("tipline link key" || LF || secret)[0..4),
	 * whatever the name; the C2SP rule does not apply to it.
	 */
	assert_int_equal(key_generate(KEY_LINK, "link.example/a", &out), TIP_OK);
	{
		uint8_t buf[17 + KEY_LEN], md[32];
		char idhex[9];

		memcpy(buf, "tipline link key\n", 17);
		memcpy(buf + 17, out.secret, KEY_LEN);
		assert_int_equal(EVP_Digest(buf, sizeof(buf), md, NULL, EVP_sha256(), NULL), 1);
		assert_memory_equal(out.id, md, KEY_ID_LEN);
		assert_int_equal(hex_encode(md, KEY_ID_LEN, idhex, sizeof(idhex)), TIP_OK);
		make_line(line, sizeof(line), 1, "other-name", 10, 0x81, out.secret, 32, NULL, idhex);
		assert_int_equal(key_parse_private(line, strlen(line), &k), TIP_OK);
		assert_memory_equal(k.secret, out.secret, KEY_LEN);
		make_line(line, sizeof(line), 1, "link.example/a", 14, 0x81, out.secret, 32, NULL, NULL);
		assert_int_equal(key_parse_private(line, strlen(line), &k), TIP_EFORMAT);
		out.secret[0] ^= 1; /* a changed secret no longer matches its check value */
		make_line(line, sizeof(line), 1, "link.example/a", 14, 0x81, out.secret, 32, NULL, idhex);
		assert_int_equal(key_parse_private(line, strlen(line), &k), TIP_EFORMAT);
	}
	/* An index key's check value has its own label: a link key's bytes are not an index key. */
	assert_int_equal(key_generate(KEY_INDEX, "casemgr-index", &out), TIP_OK);
	{
		uint8_t buf[18 + KEY_LEN], md[32];
		char idhex[9];

		memcpy(buf, "tipline index key\n", 18);
		memcpy(buf + 18, out.secret, KEY_LEN);
		assert_int_equal(EVP_Digest(buf, sizeof(buf), md, NULL, EVP_sha256(), NULL), 1);
		assert_memory_equal(out.id, md, KEY_ID_LEN);
		assert_int_equal(hex_encode(md, KEY_ID_LEN, idhex, sizeof(idhex)), TIP_OK);
		make_line(line, sizeof(line), 1, "casemgr-index", 13, 0x82, out.secret, 32, NULL, idhex);
		assert_int_equal(key_parse_private(line, strlen(line), &k), TIP_OK);
		assert_int_equal(k.type, KEY_INDEX);
		make_line(line, sizeof(line), 1, "casemgr-index", 13, 0x81, out.secret, 32, NULL, idhex);
		assert_int_equal(key_parse_private(line, strlen(line), &k), TIP_EFORMAT);
		make_line(line, sizeof(line), 0, "casemgr-index", 13, 0x82, out.secret, 32, NULL, idhex);
		assert_int_equal(key_parse_public(line, strlen(line), &k), TIP_EFORMAT);
	}
	key_wipe(&k);
	key_wipe(&out);
	key_wipe(&k);
}

/* File-level rules: one line, LF-terminated, nothing else; mode checks; no overwrite. */
static void test_files(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	char *priv_path = join(dir, "sign"), *pub_path = join(dir, "sign.pub"), *tmp = join(dir, "tmp");
	char line[KEY_LINE_MAX + 1], buf[512];
	struct key k, out;
	size_t n;

	assert_int_equal(key_generate(KEY_ED25519, "intake-1.example", &k), TIP_OK);
	assert_int_equal(key_write_private(priv_path, &k), TIP_OK);
	assert_int_equal(key_write_public(pub_path, &k), TIP_OK);

	/* Never overwritten: O_EXCL, errno EEXIST, and the old content stays. */
	{
		struct key other;
		char *before = tu_read_file(priv_path, NULL), *after;

		assert_int_equal(key_generate(KEY_ED25519, "intake-1.example", &other), TIP_OK);
		errno = 0;
		assert_int_equal(key_write_private(priv_path, &other), TIP_EIO);
		assert_int_equal(errno, EEXIST);
		assert_int_equal(key_write_public(pub_path, &other), TIP_EIO);
		assert_int_equal(errno, EEXIST);
		after = tu_read_file(priv_path, NULL);
		assert_string_equal(before, after);
		free(before);
		free(after);
		key_wipe(&other);
	}

	/* Permissions: any group or other bit refuses a private key; public files may be 0644. */
	static const mode_t refused[] = {0644, 0640, 0604, 0620, 0602, 0610, 0601, 0660};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		assert_int_equal(chmod(priv_path, refused[i]), 0);
		assert_int_equal(key_read_private(priv_path, &out), TIP_EINVAL);
	}
	assert_int_equal(chmod(priv_path, 0400), 0);
	assert_int_equal(key_read_private(priv_path, &out), TIP_OK);
	assert_same_key(&k, &out, 1);
	assert_int_equal(key_read_public(pub_path, &out), TIP_OK);

	/* Not found, a directory. */
	assert_int_equal(key_read_private(tmp, &out), TIP_ENOTFOUND);
	assert_int_equal(key_read_public(tmp, &out), TIP_ENOTFOUND);
	assert_int_equal(key_read_public(dir, &out), TIP_EFORMAT);

	/*
	 * Decided: the final LF is required (the writer always puts it there); no CR, no
	 * second line, no blank line, nothing after the LF.
	 */
	assert_int_equal(key_format_public(&k, line, sizeof(line)), TIP_OK);
	n = strlen(line);
	struct {
		const char *suffix;
		int want;
	} cases[] = {{"\n", TIP_OK},        {"", TIP_EFORMAT},    {"\r\n", TIP_EFORMAT},
	             {"\n\n", TIP_EFORMAT}, {"\nx", TIP_EFORMAT}, {"\nx\n", TIP_EFORMAT},
	             {" \n", TIP_EFORMAT}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(buf, sizeof(buf), "%s%s", line, cases[i].suffix);
		unlink(tmp);
		write_raw(tmp, buf, strlen(buf), 0600);
		assert_int_equal(key_read_public(tmp, &out), cases[i].want);
	}
	/* Two good lines, an empty file, a NUL byte, an oversize file. */
	snprintf(buf, sizeof(buf), "%s\n%s\n", line, line);
	write_raw(tmp, buf, strlen(buf), 0600);
	assert_int_equal(key_read_public(tmp, &out), TIP_EFORMAT);
	write_raw(tmp, "", 0, 0600);
	assert_int_equal(key_read_public(tmp, &out), TIP_EFORMAT);
	assert_int_equal(key_read_private(tmp, &out), TIP_EFORMAT);
	snprintf(buf, sizeof(buf), "%s\n", line);
	buf[3] = '\0';
	write_raw(tmp, buf, n + 1, 0600);
	assert_int_equal(key_read_public(tmp, &out), TIP_EFORMAT);
	memset(buf, 'A', sizeof(buf));
	buf[sizeof(buf) - 1] = '\n';
	write_raw(tmp, buf, sizeof(buf), 0600);
	assert_int_equal(key_read_public(tmp, &out), TIP_EFORMAT);
	assert_int_equal(key_read_private(tmp, &out), TIP_EFORMAT);
	/* The same rules for a private file. */
	{
		char *text = tu_read_file(priv_path, &n);

		assert_non_null(text);
		write_raw(tmp, text, n - 1, 0600); /* without the LF */
		assert_int_equal(key_read_private(tmp, &out), TIP_EFORMAT);
		write_raw(tmp, text, n, 0600);
		assert_int_equal(key_read_private(tmp, &out), TIP_OK);
		free(text);
	}

	/* The writer refuses a struct whose derived fields do not match its secret. */
	out = k;
	out.id[0] ^= 1;
	assert_int_equal(key_write_private(tmp, &out), TIP_EINVAL);
	assert_int_equal(key_write_public(tmp, &out), TIP_EINVAL);
	assert_int_equal(key_format_public(&out, line, sizeof(line)), TIP_EINVAL);
	out = k;
	out.pub[0] ^= 1;
	assert_int_equal(key_write_private(tmp, &out), TIP_EINVAL);
	out = k;
	out.has_secret = 0;
	assert_int_equal(key_write_private(tmp, &out), TIP_EINVAL);
	assert_int_equal(key_format_public(&out, line, sizeof(line)),
	                 TIP_OK); /* public fields alone suffice */
	out = k;
	out.name[0] = ' ';
	assert_int_equal(key_write_private(tmp, &out), TIP_EINVAL);
	out = k;
	memset(out.name, 'a', sizeof(out.name)); /* not terminated */
	assert_int_equal(key_format_public(&out, line, sizeof(line)), TIP_EINVAL);
	out = k;
	out.type = (enum key_type)0x02;
	assert_int_equal(key_write_private(tmp, &out), TIP_EINVAL);
	/* The failed writes left no file behind (tmp still holds the private line from above). */
	unlink(tmp);
	out = k;
	out.id[0] ^= 1;
	assert_int_equal(key_write_private(tmp, &out), TIP_EINVAL);
	assert_int_equal(access(tmp, F_OK), -1);

	key_wipe(&k);
	key_wipe(&out);
	key_wipe(NULL);
	tu_rmtree(dir);
	free(priv_path);
	free(pub_path);
	free(tmp);
	free(dir);
}

/* Runs tipkey with argv, stdout captured into out (NUL-terminated), stderr discarded; returns the exit
 * status. */
static int run_tipkey(char *const args[], char *out, size_t cap)
{
	const char *bin_dir = getenv("TIP_BINARY_DIR");
	char bin[4096];
	char *argv[10];
	int fds[2], status;
	size_t n = 0;
	pid_t pid;

	assert_non_null(bin_dir);
	snprintf(bin, sizeof(bin), "%s/tipkey", bin_dir);
	argv[0] = bin;
	for (int i = 0;; i++) {
		assert_true(i + 1 < (int)(sizeof(argv) / sizeof(argv[0])));
		argv[i + 1] = args[i];
		if (!args[i])
			break;
	}
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);

		dup2(fds[1], 1);
		dup2(devnull, 2);
		close(fds[0]);
		execv(bin, argv);
		_exit(127);
	}
	close(fds[1]);
	for (;;) {
		ssize_t r = read(fds[0], out + n, cap - 1 - n);

		if (r <= 0)
			break;
		n += (size_t)r;
	}
	out[n] = '\0';
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void test_tipkey_binary(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	char *sign = join(dir, "sign"), *sign_pub = join(dir, "sign.pub"), *link = join(dir, "link");
	char *link_pub = join(dir, "link.pub"), *index = join(dir, "index"),
	     *index_pub = join(dir, "index.pub");
	char out[4096], hex[2 * KEY_LEN + 1], b64[64], idhex[9];
	struct key k, pub;

	{
		char *a[] = {"generate", "--type", "sign", "--name", "intake-1.example", "--out", sign, NULL};
		assert_int_equal(run_tipkey(a, out, sizeof(out)), 0);
	}
	assert_int_equal(file_mode(sign), 0600);
	assert_int_equal(file_mode(sign_pub), 0644);
	assert_int_equal(key_read_private(sign, &k), TIP_OK);
	assert_int_equal(k.type, KEY_ED25519);
	assert_string_equal(k.name, "intake-1.example");
	assert_int_equal(key_read_public(sign_pub, &pub), TIP_OK);
	assert_same_key(&k, &pub, 0);
	{
		char *a[] = {"public", sign, NULL};
		char *text = tu_read_file(sign_pub, NULL);

		assert_int_equal(run_tipkey(a, out, sizeof(out)), 0);
		assert_string_equal(out, text);
		free(text);
	}
	{
		char *a[] = {"inspect", sign, NULL};
		uint8_t raw[1 + KEY_LEN];

		assert_int_equal(run_tipkey(a, out, sizeof(out)), 0);
		assert_int_equal(hex_encode(k.id, KEY_ID_LEN, idhex, sizeof(idhex)), TIP_OK);
		assert_non_null(strstr(out, idhex));
		assert_non_null(strstr(out, "intake-1.example"));
		assert_non_null(strstr(out, "sign"));
		assert_int_equal(hex_encode(k.pub, KEY_LEN, hex, sizeof(hex)), TIP_OK);
		assert_non_null(strstr(out, hex));
		/* No form of the secret appears. */
		assert_int_equal(hex_encode(k.secret, KEY_LEN, hex, sizeof(hex)), TIP_OK);
		assert_null(strstr(out, hex));
		raw[0] = KEY_ED25519;
		memcpy(raw + 1, k.secret, KEY_LEN);
		assert_int_equal(b64_encode(raw, sizeof(raw), b64, sizeof(b64)), TIP_OK);
		assert_null(strstr(out, b64 + 4));
	}
	{
		char *a[] = {"inspect", sign_pub, NULL};
		assert_int_equal(run_tipkey(a, out, sizeof(out)), 0);
		assert_non_null(strstr(out, idhex));
	}
	/* A link key: no .pub file, and no public half to print. */
	{
		char *a[] = {"generate", "--type", "link", "--name", "link-a", "--out", link, NULL};
		char *b[] = {"public", link, NULL};
		char *c[] = {"inspect", link, NULL};
		struct key lk;

		assert_int_equal(run_tipkey(a, out, sizeof(out)), 0);
		assert_int_equal(access(link_pub, F_OK), -1);
		assert_int_equal(key_read_private(link, &lk), TIP_OK);
		assert_int_equal(lk.type, KEY_LINK);
		assert_int_equal(run_tipkey(b, out, sizeof(out)), 1);
		assert_int_equal(run_tipkey(c, out, sizeof(out)), 0);
		assert_int_equal(hex_encode(lk.secret, KEY_LEN, hex, sizeof(hex)), TIP_OK);
		assert_null(strstr(out, hex));
		key_wipe(&lk);
	}
	/* An index key: the same, under its own type name. */
	{
		char *a[] = {"generate", "--type", "index", "--name", "casemgr-index", "--out", index, NULL};
		char *b[] = {"public", index, NULL};
		char *c[] = {"inspect", index, NULL};
		struct key ik;

		assert_int_equal(run_tipkey(a, out, sizeof(out)), 0);
		assert_int_equal(access(index_pub, F_OK), -1);
		assert_int_equal(file_mode(index), 0600);
		assert_int_equal(key_read_private(index, &ik), TIP_OK);
		assert_int_equal(ik.type, KEY_INDEX);
		assert_int_equal(run_tipkey(b, out, sizeof(out)), 1);
		assert_int_equal(run_tipkey(c, out, sizeof(out)), 0);
		assert_non_null(strstr(out, "comparison index HMAC key"));
		assert_int_equal(hex_encode(ik.secret, KEY_LEN, hex, sizeof(hex)), TIP_OK);
		assert_null(strstr(out, hex));
		key_wipe(&ik);
	}
	/* Failures: overwriting, an unreadable private key, a bad name. */
	{
		char *a[] = {"generate", "--type", "seal", "--name", "x", "--out", sign, NULL};
		char *b[] = {"public", sign, NULL};
		char *c[] = {"generate", "--type", "seal", "--name", "bad name", "--out", link_pub, NULL};
		char *text = tu_read_file(sign, NULL), *after;

		assert_int_equal(run_tipkey(a, out, sizeof(out)), 1);
		after = tu_read_file(sign, NULL);
		assert_string_equal(text, after);
		free(text);
		free(after);
		assert_int_equal(chmod(sign, 0644), 0);
		assert_int_equal(run_tipkey(b, out, sizeof(out)), 1);
		assert_int_equal(run_tipkey(c, out, sizeof(out)), 1);
		assert_int_equal(access(link_pub, F_OK), -1);
	}
	/* The private file exists but its .pub does not: nothing is left behind. */
	{
		char *a[] = {"generate", "--type", "cosign", "--name", "x", "--out", link, NULL};
		struct key lk;

		assert_int_equal(run_tipkey(a, out, sizeof(out)), 1);
		assert_int_equal(access(link_pub, F_OK), -1);
		assert_int_equal(key_read_private(link, &lk), TIP_OK);
		assert_int_equal(lk.type, KEY_LINK);
		key_wipe(&lk);
	}
	/* Usage errors exit 2. */
	{
		char *a0[] = {NULL};
		char *a1[] = {"frobnicate", NULL};
		char *a2[] = {"generate", "--type", "sign", "--out", link_pub, NULL};
		char *a3[] = {"generate", "--type", "rsa", "--name", "x", "--out", link_pub, NULL};
		char *a4[] = {"public", NULL};
		char *a5[] = {"inspect", sign, sign, NULL};
		char *a6[] = {"generate", "--type", "sign", "--name", "x", "--out", NULL};
		char **all[] = {a0, a1, a2, a3, a4, a5, a6};

		for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
			assert_int_equal(run_tipkey(all[i], out, sizeof(out)), 2);
		assert_int_equal(access(link_pub, F_OK), -1);
	}
	key_wipe(&k);
	tu_rmtree(dir);
	free(sign);
	free(sign_pub);
	free(link);
	free(link_pub);
	free(index);
	free(index_pub);
	free(dir);
}

/* A list of key files (a retired-keys setting): read in order; a repeated key, a key of another type, a
 * missing file or too many refused with the path named; an empty list gives no key. Then a key ring built
 * from it picks a record's key by its id. */
static void test_key_list(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp(), list[1024], bad[KEY_PATH_MAX];
	struct key k[3], got[4], seal;
	size_t n = 9;

	for (int i = 0; i < 3; i++) {
		char name[32], *p;

		snprintf(name, sizeof(name), "k%d.pub", i);
		p = join(dir, name);
		assert_int_equal(key_generate(KEY_ED25519, "intake-1", &k[i]), TIP_OK);
		assert_int_equal(key_write_public(p, &k[i]), TIP_OK);
		free(p);
	}
	assert_int_equal(key_generate(KEY_X25519, "seal", &seal), TIP_OK);
	char *sp = join(dir, "seal.pub");
	assert_int_equal(key_write_public(sp, &seal), TIP_OK);

	assert_int_equal(key_read_list("  ", 0, KEY_ED25519, got, 4, &n, bad), TIP_OK);
	assert_int_equal(n, 0);
	snprintf(list, sizeof(list), " %s/k0.pub\t%s/k2.pub ", dir, dir);
	assert_int_equal(key_read_list(list, 0, KEY_ED25519, got, 4, &n, bad), TIP_OK);
	assert_int_equal(n, 2);
	assert_memory_equal(got[0].id, k[0].id, KEY_ID_LEN);
	assert_memory_equal(got[1].id, k[2].id, KEY_ID_LEN);
	assert_string_equal(bad, "");
	snprintf(list, sizeof(list), "%s/k0.pub %s/k1.pub %s/k0.pub", dir, dir, dir);
	assert_int_equal(key_read_list(list, 0, KEY_ED25519, got, 4, &n, bad), TIP_EFORMAT);
	assert_int_equal(n, 0);
	assert_non_null(strstr(bad, "k0.pub"));
	snprintf(list, sizeof(list), "%s/k0.pub %s", dir, sp);
	assert_int_equal(key_read_list(list, 0, KEY_ED25519, got, 4, &n, bad), TIP_EFORMAT);
	assert_string_equal(bad, sp);
	snprintf(list, sizeof(list), "%s/k0.pub %s/none.pub", dir, dir);
	assert_int_equal(key_read_list(list, 0, KEY_ED25519, got, 4, &n, bad), TIP_ENOTFOUND);
	snprintf(list, sizeof(list), "%s/k0.pub %s/k1.pub %s/k2.pub", dir, dir, dir);
	assert_int_equal(key_read_list(list, 0, KEY_ED25519, got, 2, &n, bad), TIP_EFULL);
	/* A private key list checks the file's mode like any private read. */
	assert_int_equal(key_read_list(list, 1, KEY_ED25519, got, 4, &n, bad), TIP_EINVAL);

	/* The ring: the right key by id, none for an unknown id; a key id twice refused. */
	struct rec_keyring ring = {0};
	struct ed25519_pub *pubs[REC_KEYS_MAX];
	size_t np = 0;
	snprintf(list, sizeof(list), "%s/k0.pub %s/k1.pub", dir, dir);
	assert_int_equal(rec_keyring_load(&ring, list, pubs, REC_KEYS_MAX, &np, bad), TIP_OK);
	assert_int_equal(ring.n, 2);
	assert_ptr_equal(rec_keyring_find(&ring, k[1].id), pubs[1]);
	assert_null(rec_keyring_find(&ring, k[2].id));
	assert_int_equal(rec_keyring_add(&ring, pubs[0], k[0].id), TIP_EINVAL);
	for (size_t i = 0; i < np; i++)
		ed25519_pub_free(pubs[i]);
	free(sp);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_roundtrip_all_types), cmocka_unit_test(test_signed_note_vectors),
	        cmocka_unit_test(test_reject_malformed),    cmocka_unit_test(test_files),
	        cmocka_unit_test(test_tipkey_binary),       cmocka_unit_test(test_key_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
