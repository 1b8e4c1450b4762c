#include "proto/checkpoint.h"

#include "common/encoding.h"
#include "common/err.h"
#include "common/file.h"

#include <openssl/crypto.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define ROOT_B64_LEN 44 /* base64 of 32 bytes, one '=' of padding */

/* ---- bodies ---- */

/* Extension text: non-empty lines, each ending in a newline, clean UTF-8 (or nothing at all). */
static int ext_ok(const char *ext, size_t len)
{
	if (len == 0)
		return 1;
	if (!note_text_ok(ext, len) || ext[0] == '\n')
		return 0;
	for (size_t i = 1; i < len; i++)
		if (ext[i] == '\n' && ext[i - 1] == '\n')
			return 0;
	return 1;
}

static int origin_ok(const char *origin, size_t len)
{
	char line[CKPT_ORIGIN_MAX + 1];

	if (len == 0 || len > CKPT_ORIGIN_MAX)
		return 0;
	memcpy(line, origin, len);
	line[len] = '\n';
	return note_text_ok(line, len + 1) && !memchr(origin, '\n', len);
}

int ckpt_body_format(const struct ckpt *c, char *out, size_t cap, size_t *len)
{
	char root[ROOT_B64_LEN + 1];
	size_t olen, elen;
	int n;

	if (!c || !out || !len || cap == 0)
		return TIP_EINVAL;
	*len = 0;
	out[0] = '\0';
	olen = strnlen(c->origin, sizeof(c->origin));
	elen = strnlen(c->ext, sizeof(c->ext));
	if (olen > CKPT_ORIGIN_MAX || elen > CKPT_EXT_MAX || !origin_ok(c->origin, olen) ||
	    !ext_ok(c->ext, elen))
		return TIP_EINVAL;
	if (b64_encode(c->root, CKPT_HASH_LEN, root, sizeof(root)) != TIP_OK)
		return TIP_EINVAL;
	n = snprintf(out, cap, "%s\n%llu\n%s\n%s", c->origin, (unsigned long long)c->size, root, c->ext);
	if (n < 0 || (size_t)n >= cap) {
		out[0] = '\0';
		return TIP_EOVERSIZE;
	}
	*len = (size_t)n;
	return TIP_OK;
}

/* A tree size: "0" or a decimal number without a leading zero that fits 64 bits. */
static int parse_size(const char *s, size_t len, uint64_t *v)
{
	uint64_t x = 0;

	if (len == 0 || len > 20 || (len > 1 && s[0] == '0'))
		return TIP_EFORMAT;
	for (size_t i = 0; i < len; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return TIP_EFORMAT;
		d = (unsigned)(s[i] - '0');
		if (x > (UINT64_MAX - d) / 10)
			return TIP_EFORMAT;
		x = x * 10 + d;
	}
	*v = x;
	return TIP_OK;
}

int ckpt_body_parse(const char *text, size_t len, struct ckpt *out)
{
	const char *line[3];
	size_t line_len[3], pos = 0, n;
	int rc;

	if (!text || !out)
		return TIP_EINVAL;
	memset(out, 0, sizeof(*out));
	if (len > CKPT_BODY_MAX)
		return TIP_EOVERSIZE;
	if (!note_text_ok(text, len))
		return TIP_EFORMAT;
	for (int i = 0; i < 3; i++) {
		const char *eol = pos < len ? memchr(text + pos, '\n', len - pos) : NULL;

		if (!eol)
			return TIP_EFORMAT;
		line[i] = text + pos;
		line_len[i] = (size_t)(eol - line[i]);
		if (line_len[i] == 0)
			return TIP_EFORMAT;
		pos += line_len[i] + 1;
	}
	if (line_len[0] > CKPT_ORIGIN_MAX || len - pos > CKPT_EXT_MAX)
		return TIP_EOVERSIZE;
	if (!ext_ok(text + pos, len - pos))
		return TIP_EFORMAT;
	if ((rc = parse_size(line[1], line_len[1], &out->size)) != TIP_OK)
		goto fail;
	if (line_len[2] != ROOT_B64_LEN ||
	    b64_decode(line[2], ROOT_B64_LEN, out->root, CKPT_HASH_LEN, &n) != TIP_OK || n != CKPT_HASH_LEN) {
		rc = TIP_EFORMAT;
		goto fail;
	}
	memcpy(out->origin, line[0], line_len[0]);
	memcpy(out->ext, text + pos, len - pos);
	return TIP_OK;
fail:
	memset(out, 0, sizeof(*out));
	return rc;
}

/* ---- signing and opening ---- */

int ckpt_sign(const struct ckpt *c, const struct key *log_key, char *out, size_t cap, size_t *out_len)
{
	char body[CKPT_BODY_MAX + 1];
	size_t len;
	int rc;

	if (!out || !out_len || cap == 0 || !log_key)
		return TIP_EINVAL;
	*out_len = 0;
	out[0] = '\0';
	if (log_key->type != KEY_ED25519)
		return TIP_EINVAL;
	if ((rc = ckpt_body_format(c, body, sizeof(body), &len)) != TIP_OK)
		return rc;
	return note_sign(body, len, log_key, 1, 0, out, cap, out_len);
}

int ckpt_open(const char *note, size_t len, size_t cap, const struct key *known, size_t nknown,
              struct ckpt *out, struct note_check *checks)
{
	size_t text_len;
	int rc;

	if (!out)
		return TIP_EINVAL;
	memset(out, 0, sizeof(*out));
	if ((rc = note_open(note, len, cap, known, nknown, &text_len, checks)) != TIP_OK)
		return rc;
	if ((rc = ckpt_body_parse(note, text_len, out)) != TIP_OK) {
		if (checks)
			memset(checks, 0, nknown * sizeof(*checks));
		return rc == TIP_EOVERSIZE ? rc : TIP_EFORMAT;
	}
	return TIP_OK;
}

/* A public copy of k, the form note_open wants. */
static void public_of(const struct key *k, struct key *pub)
{
	memset(pub, 0, sizeof(*pub));
	pub->type = k->type;
	memcpy(pub->name, k->name, sizeof(pub->name));
	memcpy(pub->id, k->id, KEY_ID_LEN);
	memcpy(pub->pub, k->pub, KEY_LEN);
}

int ckpt_cosign(const char *note, size_t len, const struct key *log_key, const struct key *cosigner,
                uint64_t timestamp, uint64_t size, const uint8_t root[CKPT_HASH_LEN], char *out, size_t cap,
                size_t *out_len)
{
	struct ckpt c;
	struct key log_pub;
	int rc;

	if (!out || !out_len || cap == 0 || !log_key || !cosigner || !root)
		return TIP_EINVAL;
	*out_len = 0;
	out[0] = '\0';
	if (log_key->type != KEY_ED25519 || cosigner->type != KEY_COSIGN)
		return TIP_EINVAL;
	public_of(log_key, &log_pub);
	if ((rc = ckpt_open(note, len, CKPT_NOTE_MAX, &log_pub, 1, &c, NULL)) != TIP_OK)
		return rc;
	if (c.size != size || CRYPTO_memcmp(c.root, root, CKPT_HASH_LEN) != 0)
		return TIP_EVERIFY;
	return note_add_signature(note, len, cosigner, timestamp, out, cap, out_len);
}

/* ---- the signer ---- */

struct ckpt_signer {
	char *state_path;
	int lockfd;
	struct key key;
	char origin[CKPT_ORIGIN_MAX + 1];
	int has_last;
	uint64_t last_size, last_time;
	uint8_t last_root[CKPT_HASH_LEN];
	char note[CKPT_NOTE_MAX + 1]; /* the note being made */
};

void ckpt_signer_free(struct ckpt_signer *s)
{
	if (!s)
		return;
	if (s->lockfd >= 0)
		close(s->lockfd);
	key_wipe(&s->key);
	free(s->state_path);
	free(s);
}

/* Reads and verifies the state file: the last note this key produced. */
static int load_state(struct ckpt_signer *s)
{
	struct key pub;
	struct ckpt c;
	struct note_check check;
	char *buf = NULL;
	size_t len;
	int rc;

	rc = file_read(s->state_path, CKPT_NOTE_MAX, &buf, &len);
	if (rc == TIP_EOVERSIZE || rc == TIP_EFORMAT)
		rc = TIP_ECORRUPT;
	if (rc != TIP_OK)
		goto out;
	public_of(&s->key, &pub);
	if (ckpt_open(buf, len, CKPT_NOTE_MAX, &pub, 1, &c, &check) != TIP_OK || !check.verified) {
		rc = TIP_ECORRUPT;
		goto out;
	}
	if (strcmp(c.origin, s->origin) != 0) {
		rc = TIP_EINVAL;
		goto out;
	}
	if (c.size == 0) {
		uint8_t empty[CKPT_HASH_LEN];

		merkle_empty_root(empty);
		if (memcmp(c.root, empty, CKPT_HASH_LEN) != 0) {
			rc = TIP_ECORRUPT;
			goto out;
		}
	}
	s->has_last = 1;
	s->last_size = c.size;
	s->last_time = check.timestamp;
	memcpy(s->last_root, c.root, CKPT_HASH_LEN);
out:
	free(buf);
	return rc;
}

struct ckpt_signer *ckpt_signer_open(const char *state_path, const struct key *key, const char *origin,
                                     int flags, int *err)
{
	struct ckpt_signer *s = NULL;
	char *lock_path = NULL;
	size_t n;
	int rc = TIP_OK;

	if (!state_path || !key || !origin || (flags & ~CKPT_SIGNER_CREATE) || !key->has_secret ||
	    (key->type != KEY_ED25519 && key->type != KEY_COSIGN) ||
	    !note_name_ok(key->name, strnlen(key->name, sizeof(key->name))) ||
	    !origin_ok(origin, strnlen(origin, CKPT_ORIGIN_MAX + 1))) {
		rc = TIP_EINVAL;
		goto out;
	}
	n = strlen(state_path);
	if (!(s = calloc(1, sizeof(*s))) || !(s->state_path = strdup(state_path)) ||
	    !(lock_path = malloc(n + 6))) {
		rc = TIP_ENOMEM;
		goto out;
	}
	s->lockfd = -1;
	s->key = *key;
	memcpy(s->origin, origin, strlen(origin) + 1);
	memcpy(lock_path, state_path, n);
	memcpy(lock_path + n, ".lock", 6);
	if ((s->lockfd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0) {
		rc = errno == ENOENT ? TIP_ENOTFOUND : TIP_EIO;
		goto out;
	}
	if (flock(s->lockfd, LOCK_EX | LOCK_NB) != 0) {
		rc = errno == EWOULDBLOCK ? TIP_EBUSY : TIP_EIO;
		goto out;
	}
	rc = load_state(s);
	if (rc == TIP_ENOTFOUND && (flags & CKPT_SIGNER_CREATE))
		rc = TIP_OK;
out:
	free(lock_path);
	if (rc != TIP_OK) {
		ckpt_signer_free(s);
		s = NULL;
	}
	if (err)
		*err = rc;
	return s;
}

int ckpt_signer_last(const struct ckpt_signer *s, uint64_t *size, uint8_t root[CKPT_HASH_LEN])
{
	if (!s->has_last)
		return TIP_ENOTFOUND;
	*size = s->last_size;
	memcpy(root, s->last_root, CKPT_HASH_LEN);
	return TIP_OK;
}

/* The rules of ckpt_signer_sign for a new (size, root). */
static int admit(struct ckpt_signer *s, uint64_t size, const uint8_t root[CKPT_HASH_LEN], struct merkle *tree,
                 const uint8_t *proof, size_t proof_len)
{
	uint8_t h[CKPT_HASH_LEN], made[MERKLE_PROOF_MAX * MERKLE_HASH_LEN];
	size_t made_len;
	int rc;

	if (size == 0) {
		merkle_empty_root(h);
		if (memcmp(h, root, CKPT_HASH_LEN) != 0)
			return TIP_EVERIFY;
	}
	if (tree) {
		if ((rc = merkle_root_at(tree, size, h)) != TIP_OK)
			return rc;
		if (memcmp(h, root, CKPT_HASH_LEN) != 0)
			return TIP_EVERIFY;
	}
	if (!s->has_last)
		return TIP_OK;
	if (size < s->last_size)
		return TIP_ERANGE;
	if (size == s->last_size)
		return memcmp(root, s->last_root, CKPT_HASH_LEN) == 0 ? TIP_OK : TIP_EVERIFY;
	if (s->last_size == 0)
		return TIP_OK;
	if (tree) {
		/* Made from the tree, then checked like any other proof: the tree may not be the one signed.
		 */
		if ((rc = merkle_consistency_proof(tree, s->last_size, size, made, sizeof(made),
		                                   &made_len)) != TIP_OK)
			return rc;
		proof = made;
		proof_len = made_len;
	}
	rc = merkle_verify_consistency(s->last_size, size, s->last_root, CKPT_HASH_LEN, root, CKPT_HASH_LEN,
	                               proof, proof_len);
	return rc == TIP_ERANGE ? TIP_EVERIFY : rc;
}

/* Makes s->note[0..len) the state, then hands it out. */
static int commit(struct ckpt_signer *s, size_t len, uint64_t size, const uint8_t root[CKPT_HASH_LEN],
                  uint64_t time, char *out, size_t cap, size_t *out_len)
{
	if (len >= cap)
		return TIP_EOVERSIZE;
	if (file_write_atomic(s->state_path, s->note, len, 0644) != TIP_OK)
		return TIP_EIO;
	s->has_last = 1;
	s->last_size = size;
	s->last_time = time;
	memcpy(s->last_root, root, CKPT_HASH_LEN);
	memcpy(out, s->note, len);
	out[len] = '\0';
	*out_len = len;
	return TIP_OK;
}

int ckpt_signer_sign(struct ckpt_signer *s, const struct ckpt *c, struct merkle *tree, const uint8_t *proof,
                     size_t proof_len, char *out, size_t cap, size_t *out_len)
{
	size_t len;
	int rc;

	if (!s || !c || !out || !out_len || cap == 0)
		return TIP_EINVAL;
	*out_len = 0;
	out[0] = '\0';
	if (s->key.type != KEY_ED25519 || strncmp(c->origin, s->origin, sizeof(c->origin)) != 0)
		return TIP_EINVAL;
	if ((rc = admit(s, c->size, c->root, tree, proof, proof_len)) != TIP_OK)
		return rc;
	if ((rc = ckpt_sign(c, &s->key, s->note, sizeof(s->note), &len)) != TIP_OK)
		return rc;
	return commit(s, len, c->size, c->root, 0, out, cap, out_len);
}

int ckpt_signer_cosign(struct ckpt_signer *s, const char *note, size_t len, const struct key *log_key,
                       uint64_t timestamp, struct merkle *tree, const uint8_t *proof, size_t proof_len,
                       char *out, size_t cap, size_t *out_len)
{
	struct key log_pub;
	struct ckpt c;
	size_t n;
	int rc;

	if (!s || !log_key || !out || !out_len || cap == 0)
		return TIP_EINVAL;
	*out_len = 0;
	out[0] = '\0';
	if (s->key.type != KEY_COSIGN || log_key->type != KEY_ED25519)
		return TIP_EINVAL;
	public_of(log_key, &log_pub);
	if ((rc = ckpt_open(note, len, CKPT_NOTE_MAX, &log_pub, 1, &c, NULL)) != TIP_OK)
		return rc;
	if (strcmp(c.origin, s->origin) != 0)
		return TIP_EINVAL;
	if (s->has_last && timestamp < s->last_time)
		return TIP_ERANGE;
	if ((rc = admit(s, c.size, c.root, tree, proof, proof_len)) != TIP_OK)
		return rc;
	if ((rc = note_add_signature(note, len, &s->key, timestamp, s->note, sizeof(s->note), &n)) != TIP_OK)
		return rc;
	return commit(s, n, c.size, c.root, timestamp, out, cap, out_len);
}
