#include "proto/note.h"

#include "common/encoding.h"
#include "common/err.h"
#include "common/utf8.h"
#include "proto/ed25519.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The signature line prefix: U+2014 EM DASH in UTF-8, then a space. */
static const char sig_prefix[] = "\xe2\x80\x94 ";
#define SIG_PREFIX_LEN 4

#define COSIGN_HEADER "cosignature/v1\ntime "
/* "cosignature/v1\ntime " + up to 19 digits + "\n" */
#define COSIGN_PREFIX_MAX (sizeof(COSIGN_HEADER) - 1 + 19 + 1)
#define TIME_LEN          8
#define ED_SIG_BLOB       (KEY_ID_LEN + ED25519_SIG_LEN)
#define COSIGN_SIG_BLOB   (KEY_ID_LEN + TIME_LEN + ED25519_SIG_LEN)

/* Valid UTF-8 with no control character below U+0020 but newline. */
static int clean_utf8(const char *s, size_t len)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t i = 0;

	while (i < len) {
		uint32_t c;
		size_t n = utf8_next(p + i, len - i, &c);

		if (n == 0 || (c < 0x20 && c != '\n'))
			return 0;
		i += n;
	}
	return 1;
}

int note_text_ok(const char *text, size_t len)
{
	return text && len > 0 && len <= NOTE_MAX_LEN && text[len - 1] == '\n' && clean_utf8(text, len);
}

int note_name_ok(const char *name, size_t len)
{
	const uint8_t *p = (const uint8_t *)name;
	size_t i = 0;

	if (!name || len == 0)
		return 0;
	while (i < len) {
		uint32_t c;
		size_t n = utf8_next(p + i, len - i, &c);

		if (n == 0 || c < 0x20 || c == '+' || utf8_is_space(c))
			return 0;
		i += n;
	}
	return 1;
}

static int key_usable(const struct key *k, int need_secret)
{
	return (k->type == KEY_ED25519 || k->type == KEY_COSIGN) && (!need_secret || k->has_secret) &&
	       note_name_ok(k->name, strnlen(k->name, sizeof(k->name)));
}

static int same_key(const struct key *a, const struct key *b)
{
	return strcmp(a->name, b->name) == 0 && memcmp(a->id, b->id, KEY_ID_LEN) == 0;
}

/* "cosignature/v1\ntime <t>\n" into buf; its length, or 0 if t is out of range. */
static size_t cosign_prefix(uint64_t t, char buf[COSIGN_PREFIX_MAX + 1])
{
	int n;

	if (t > (uint64_t)NOTE_MAX_TIME)
		return 0;
	n = snprintf(buf, COSIGN_PREFIX_MAX + 1, COSIGN_HEADER "%llu\n", (unsigned long long)t);
	return n > 0 && (size_t)n <= COSIGN_PREFIX_MAX ? (size_t)n : 0;
}

/* The message a key of type k signs for the note text: the text itself, or the cosigned form. */
static int signed_message(enum key_type type, uint64_t t, const char *text, size_t text_len, uint8_t **msg,
                          size_t *msg_len)
{
	char prefix[COSIGN_PREFIX_MAX + 1];
	size_t plen = 0;

	*msg = NULL;
	if (type == KEY_COSIGN && (plen = cosign_prefix(t, prefix)) == 0)
		return TIP_EINVAL;
	if (!(*msg = malloc(plen + text_len + 1)))
		return TIP_ENOMEM;
	memcpy(*msg, prefix, plen);
	memcpy(*msg + plen, text, text_len);
	*msg_len = plen + text_len;
	return TIP_OK;
}

/* ---- parsing ---- */

struct sigline {
	const char *name;
	size_t name_len;
	const char *b64;
	size_t b64_len;
};

struct parsed {
	size_t text_len;
	size_t n;
	struct sigline line[NOTE_MAX_SIGS];
};

/* Splits and checks the form of a note; signatures are not looked at beyond their encoding. */
static int parse(const char *note, size_t len, size_t cap, struct parsed *p)
{
	uint8_t blob[96];
	size_t split = 0, pos;
	int found = 0;

	if (!note || len > cap || len > NOTE_MAX_LEN)
		return note ? TIP_EOVERSIZE : TIP_EINVAL;
	if (!clean_utf8(note, len))
		return TIP_EFORMAT;
	/* The text ends at the last blank line. */
	for (size_t i = len; i >= 2; i--) {
		if (note[i - 1] == '\n' && note[i - 2] == '\n') {
			split = i - 2;
			found = 1;
			break;
		}
	}
	if (!found || split + 2 >= len || note[len - 1] != '\n')
		return TIP_EFORMAT;
	p->text_len = split + 1;
	p->n = 0;
	for (pos = split + 2; pos < len;) {
		const char *line = note + pos, *eol = memchr(line, '\n', len - pos), *sp;
		size_t line_len = (size_t)(eol - line), dec;
		struct sigline *s;

		pos += line_len + 1;
		if (p->n == NOTE_MAX_SIGS)
			return TIP_EOVERSIZE;
		if (line_len < SIG_PREFIX_LEN || memcmp(line, sig_prefix, SIG_PREFIX_LEN) != 0)
			return TIP_EFORMAT;
		line += SIG_PREFIX_LEN;
		line_len -= SIG_PREFIX_LEN;
		if (!(sp = memchr(line, ' ', line_len)))
			return TIP_EFORMAT;
		s = &p->line[p->n++];
		s->name = line;
		s->name_len = (size_t)(sp - line);
		s->b64 = sp + 1;
		s->b64_len = line_len - s->name_len - 1;
		if (!note_name_ok(s->name, s->name_len) || s->b64_len == 0)
			return TIP_EFORMAT;
		/* Checks the encoding in pieces without keeping the bytes (signatures of unknown keys may be
		 * long); padding is allowed only in the last piece. */
		for (size_t off = 0; off < s->b64_len; off += 64) {
			size_t chunk = s->b64_len - off < 64 ? s->b64_len - off : 64;

			if ((off + chunk < s->b64_len && memchr(s->b64 + off, '=', chunk)) ||
			    b64_decode(s->b64 + off, chunk, blob, sizeof(blob), &dec) != TIP_OK)
				return TIP_EFORMAT;
		}
		/* At least the 4 key-id bytes and one signature byte. */
		dec = s->b64_len / 4 * 3 - (s->b64[s->b64_len - 1] == '=') - (s->b64[s->b64_len - 2] == '=');
		if (dec < KEY_ID_LEN + 1)
			return TIP_EFORMAT;
	}
	return TIP_OK;
}

/* The key id and the signature bytes of a line matching a known key; 0 if the line is too long to be one. */
static size_t line_blob(const struct sigline *s, uint8_t *out, size_t cap)
{
	size_t n;

	if (s->b64_len > (cap + 2) / 3 * 4 || b64_decode(s->b64, s->b64_len, out, cap, &n) != TIP_OK)
		return 0;
	return n;
}

static int line_id(const struct sigline *s, uint8_t id[KEY_ID_LEN])
{
	uint8_t head[3];
	size_t n;

	/* The first 8 base64 characters hold the 4 id bytes and 2 more. */
	if (b64_decode(s->b64, 4, id, 3, &n) != TIP_OK || n != 3)
		return TIP_EFORMAT;
	if (b64_decode(s->b64 + 4, 4, head, sizeof(head), &n) != TIP_OK || n < 1)
		return TIP_EFORMAT;
	id[3] = head[0];
	return TIP_OK;
}

static int verify_line(const struct key *k, const struct sigline *s, const char *text, size_t text_len,
                       uint64_t *time_out)
{
	uint8_t blob[COSIGN_SIG_BLOB + 3], *msg = NULL;
	const uint8_t *sig;
	struct ed25519_pub *pub = NULL;
	size_t n = line_blob(s, blob, sizeof(blob)), msg_len;
	uint64_t t = 0;
	int rc;

	if (k->type == KEY_COSIGN) {
		if (n != COSIGN_SIG_BLOB)
			return TIP_EVERIFY;
		for (int i = 0; i < TIME_LEN; i++)
			t = t << 8 | blob[KEY_ID_LEN + i];
		if (t > (uint64_t)NOTE_MAX_TIME)
			return TIP_EVERIFY;
		sig = blob + KEY_ID_LEN + TIME_LEN;
	} else {
		if (n != ED_SIG_BLOB)
			return TIP_EVERIFY;
		sig = blob + KEY_ID_LEN;
	}
	if ((rc = signed_message(k->type, t, text, text_len, &msg, &msg_len)) != TIP_OK)
		goto out;
	if (!(pub = ed25519_pub_new(k->pub))) {
		rc = TIP_EINVAL;
		goto out;
	}
	rc = ed25519_verify(pub, msg, msg_len, sig);
	*time_out = t;
out:
	ed25519_pub_free(pub);
	free(msg);
	return rc;
}

int note_open(const char *note, size_t len, size_t cap, const struct key *known, size_t nknown,
              size_t *text_len, struct note_check *checks)
{
	struct parsed *p = NULL;
	int *seen = NULL, rc, any = 0;

	if ((nknown && !known) || !text_len)
		return TIP_EINVAL;
	*text_len = 0;
	for (size_t i = 0; i < nknown; i++) {
		if (!key_usable(&known[i], 0))
			return TIP_EINVAL;
		for (size_t j = 0; j < i; j++)
			if (same_key(&known[i], &known[j]))
				return TIP_EINVAL;
	}
	if (checks)
		memset(checks, 0, nknown * sizeof(*checks));
	if (!(p = malloc(sizeof(*p))) || !(seen = calloc(nknown + 1, sizeof(*seen)))) {
		rc = TIP_ENOMEM;
		goto out;
	}
	if ((rc = parse(note, len, cap, p)) != TIP_OK)
		goto out;
	/* Every line is well formed: now the ones of known keys, each exactly once. */
	for (size_t i = 0; i < p->n; i++) {
		const struct sigline *s = &p->line[i];
		uint8_t id[KEY_ID_LEN];
		size_t k;
		uint64_t t = 0;

		if ((rc = line_id(s, id)) != TIP_OK)
			goto out;
		for (k = 0; k < nknown; k++)
			if (strlen(known[k].name) == s->name_len &&
			    memcmp(known[k].name, s->name, s->name_len) == 0 &&
			    memcmp(known[k].id, id, KEY_ID_LEN) == 0)
				break;
		if (k == nknown)
			continue;
		if (seen[k]) {
			rc = TIP_EFORMAT;
			goto out;
		}
		seen[k] = 1;
		if ((rc = verify_line(&known[k], s, note, p->text_len, &t)) != TIP_OK)
			goto out;
		if (checks) {
			checks[k].verified = 1;
			checks[k].timestamp = t;
		}
		any = 1;
	}
	rc = any ? TIP_OK : TIP_ENOTFOUND;
	if (rc == TIP_OK)
		*text_len = p->text_len;
out:
	if (rc != TIP_OK && checks)
		memset(checks, 0, nknown * sizeof(*checks));
	free(seen);
	free(p);
	return rc;
}

/* ---- signing ---- */

/* Appends "— <name> <base64(id || [time] || sig)>\n" for key k over text to out at *pos. */
static int append_line(const struct key *k, uint64_t t, const char *text, size_t text_len, char *out,
                       size_t cap, size_t *pos)
{
	uint8_t blob[COSIGN_SIG_BLOB], *msg = NULL, *sig;
	char b64[(COSIGN_SIG_BLOB + 2) / 3 * 4 + 1];
	struct ed25519_key *sk = NULL;
	size_t blob_len = KEY_ID_LEN, name_len = strlen(k->name), msg_len, b64_len, need;
	int rc;

	memcpy(blob, k->id, KEY_ID_LEN);
	if (k->type == KEY_COSIGN) {
		for (int i = 0; i < TIME_LEN; i++)
			blob[KEY_ID_LEN + i] = (uint8_t)(t >> (8 * (TIME_LEN - 1 - i)));
		blob_len += TIME_LEN;
	}
	sig = blob + blob_len;
	blob_len += ED25519_SIG_LEN;
	if ((rc = signed_message(k->type, t, text, text_len, &msg, &msg_len)) != TIP_OK)
		goto out;
	if (!(sk = ed25519_key_new(k->secret))) {
		rc = TIP_ECRYPTO;
		goto out;
	}
	if ((rc = ed25519_sign(sk, msg, msg_len, sig)) != TIP_OK ||
	    (rc = b64_encode(blob, blob_len, b64, sizeof(b64))) != TIP_OK)
		goto out;
	b64_len = strlen(b64);
	need = SIG_PREFIX_LEN + name_len + 1 + b64_len + 1;
	if (need > cap - *pos || *pos + need > NOTE_MAX_LEN) {
		rc = TIP_EOVERSIZE;
		goto out;
	}
	memcpy(out + *pos, sig_prefix, SIG_PREFIX_LEN);
	memcpy(out + *pos + SIG_PREFIX_LEN, k->name, name_len);
	out[*pos + SIG_PREFIX_LEN + name_len] = ' ';
	memcpy(out + *pos + SIG_PREFIX_LEN + name_len + 1, b64, b64_len);
	out[*pos + need - 1] = '\n';
	*pos += need;
out:
	ed25519_key_free(sk);
	free(msg);
	return rc;
}

static int signer_ok(const struct key *k, uint64_t t)
{
	return key_usable(k, 1) && (k->type != KEY_COSIGN || t <= (uint64_t)NOTE_MAX_TIME);
}

int note_sign(const char *text, size_t text_len, const struct key *signers, size_t nsigners,
              uint64_t timestamp, char *out, size_t cap, size_t *out_len)
{
	size_t pos;
	int rc = TIP_OK;

	if (!out || !out_len || cap == 0)
		return TIP_EINVAL;
	*out_len = 0;
	out[0] = '\0';
	if (!note_text_ok(text, text_len))
		return TIP_EFORMAT;
	if (nsigners == 0 || nsigners > NOTE_MAX_SIGS || !signers)
		return TIP_EINVAL;
	for (size_t i = 0; i < nsigners; i++) {
		if (!signer_ok(&signers[i], timestamp))
			return TIP_EINVAL;
		for (size_t j = 0; j < i; j++)
			if (same_key(&signers[i], &signers[j]))
				return TIP_EINVAL;
	}
	/* Room for the text, the blank line and (checked later) the NUL. */
	if (text_len + 1 >= cap)
		return TIP_EOVERSIZE;
	memcpy(out, text, text_len);
	out[text_len] = '\n';
	pos = text_len + 1;
	for (size_t i = 0; i < nsigners && rc == TIP_OK; i++)
		rc = append_line(&signers[i], timestamp, text, text_len, out, cap, &pos);
	if (rc == TIP_OK && pos >= cap)
		rc = TIP_EOVERSIZE;
	if (rc != TIP_OK) {
		out[0] = '\0';
		return rc;
	}
	out[pos] = '\0';
	*out_len = pos;
	return TIP_OK;
}

int note_add_signature(const char *note, size_t len, const struct key *signer, uint64_t timestamp, char *out,
                       size_t cap, size_t *out_len)
{
	struct parsed *p = NULL;
	size_t pos = len;
	int rc;

	if (!out || !out_len || cap == 0 || !signer || note == out)
		return TIP_EINVAL;
	*out_len = 0;
	out[0] = '\0';
	if (!signer_ok(signer, timestamp))
		return TIP_EINVAL;
	if (!(p = malloc(sizeof(*p))))
		return TIP_ENOMEM;
	if ((rc = parse(note, len, NOTE_MAX_LEN, p)) != TIP_OK)
		goto out;
	if (p->n == NOTE_MAX_SIGS) {
		rc = TIP_EOVERSIZE;
		goto out;
	}
	for (size_t i = 0; i < p->n; i++) {
		uint8_t id[KEY_ID_LEN];

		if ((rc = line_id(&p->line[i], id)) != TIP_OK)
			goto out;
		if (p->line[i].name_len == strlen(signer->name) &&
		    memcmp(p->line[i].name, signer->name, p->line[i].name_len) == 0 &&
		    memcmp(id, signer->id, KEY_ID_LEN) == 0) {
			rc = TIP_EINVAL;
			goto out;
		}
	}
	if (len >= cap) {
		rc = TIP_EOVERSIZE;
		goto out;
	}
	memcpy(out, note, len);
	if ((rc = append_line(signer, timestamp, note, p->text_len, out, cap, &pos)) == TIP_OK && pos >= cap)
		rc = TIP_EOVERSIZE;
	if (rc == TIP_OK) {
		out[pos] = '\0';
		*out_len = pos;
	}
out:
	if (rc != TIP_OK)
		out[0] = '\0';
	free(p);
	return rc;
}
