#include "proto/keyfile.h"

#include "common/encoding.h"
#include "common/file.h"
#include "common/err.h"
#include "proto/ed25519.h"
#include "proto/hpke.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char private_prefix[] = "PRIVATE+KEY+";
static const char link_id_label[] = "tipline link key\n";
static const char index_id_label[] = "tipline index key\n";

#define PRIVATE_PREFIX_LEN (sizeof(private_prefix) - 1)
#define B64_LEN            44 /* base64 of type byte + 32 key bytes, no padding */
#define RAW_LEN            (1 + KEY_LEN)

static int type_known(int t)
{
	return t == KEY_ED25519 || t == KEY_COSIGN || t == KEY_X25519 || key_is_symmetric(t);
}

int key_is_symmetric(enum key_type type)
{
	return type == KEY_LINK || type == KEY_INDEX;
}

/* C2SP signed-note names: non-empty, no spaces, no '+'; here also printable ASCII only and at most 64 bytes.
 */
static int name_valid(const char *s, size_t n)
{
	if (n == 0 || n > KEY_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x21 || s[i] > 0x7e || s[i] == '+')
			return 0;
	return 1;
}

static int key_id(const struct key *k, uint8_t id[KEY_ID_LEN])
{
	uint8_t buf[KEY_NAME_MAX + 2 + KEY_LEN], md[32];
	const char *label = k->type == KEY_INDEX ? index_id_label : link_id_label;
	size_t n = 0, name_len = strnlen(k->name, sizeof(k->name));
	int rc = TIP_ECRYPTO;

	if (key_is_symmetric(k->type)) {
		n = strlen(label);
		memcpy(buf, label, n);
		memcpy(buf + n, k->secret, KEY_LEN);
	} else {
		memcpy(buf, k->name, name_len);
		n = name_len;
		buf[n++] = '\n';
		buf[n++] = (uint8_t)k->type;
		memcpy(buf + n, k->pub, KEY_LEN);
	}
	n += KEY_LEN;
	if (EVP_Digest(buf, n, md, NULL, EVP_sha256(), NULL) == 1) {
		memcpy(id, md, KEY_ID_LEN);
		rc = TIP_OK;
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	OPENSSL_cleanse(md, sizeof(md));
	return rc;
}

/* Fills pub and id from type, name and secret. */
static int complete(struct key *k)
{
	struct ed25519_key *ek;

	switch (k->type) {
	case KEY_ED25519:
	case KEY_COSIGN:
		ek = ed25519_key_new(k->secret);
		if (!ek)
			return TIP_ECRYPTO;
		ed25519_key_public(ek, k->pub);
		ed25519_key_free(ek);
		break;
	case KEY_X25519:
		if (hpke_public_from_private(k->secret, k->pub) != TIP_OK)
			return TIP_ECRYPTO;
		break;
	case KEY_LINK:
	case KEY_INDEX: memset(k->pub, 0, sizeof(k->pub)); break;
	default: return TIP_EINVAL;
	}
	k->has_secret = 1;
	return key_id(k, k->id);
}

/* Checks the caller's struct before it is written out: every derived field must match. */
static int check_consistent(const struct key *k, int need_secret)
{
	struct key c;
	int rc = TIP_EINVAL;

	if (!type_known(k->type) || !name_valid(k->name, strnlen(k->name, sizeof(k->name))))
		return TIP_EINVAL;
	if (need_secret && !k->has_secret)
		return TIP_EINVAL;
	c = *k;
	if (k->has_secret) {
		rc = complete(&c);
		if (rc != TIP_OK)
			goto out;
		rc = TIP_EINVAL;
		if (CRYPTO_memcmp(c.pub, k->pub, KEY_LEN) != 0)
			goto out;
	} else if ((rc = key_id(&c, c.id)) != TIP_OK) {
		goto out;
	}
	rc = CRYPTO_memcmp(c.id, k->id, KEY_ID_LEN) == 0 ? TIP_OK : TIP_EINVAL;
out:
	key_wipe(&c);
	return rc;
}

const char *key_type_name(enum key_type type)
{
	switch (type) {
	case KEY_ED25519: return "sign";
	case KEY_COSIGN: return "cosign";
	case KEY_X25519: return "seal";
	case KEY_LINK: return "link";
	case KEY_INDEX: return "index";
	}
	return NULL;
}

int key_generate(enum key_type type, const char *name, struct key *out)
{
	size_t name_len;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!type_known(type) || !name)
		return TIP_EINVAL;
	name_len = strnlen(name, KEY_NAME_MAX + 1);
	if (!name_valid(name, name_len))
		return TIP_EINVAL;
	out->type = type;
	memcpy(out->name, name, name_len);
	if (RAND_priv_bytes(out->secret, KEY_LEN) != 1)
		return TIP_ECRYPTO;
	rc = complete(out);
	if (rc != TIP_OK)
		key_wipe(out);
	return rc;
}

/* <name>+<8 hex>+<44 base64> into out (type, name, id, and the 32 key bytes in dst). */
static int parse_tail(const char *s, size_t n, struct key *out, uint8_t key_bytes[KEY_LEN], uint8_t *type)
{
	uint8_t raw[RAW_LEN + 1];
	const char *plus = memchr(s, '+', n);
	size_t name_len, rest, got;
	int rc = TIP_EFORMAT;

	if (!plus)
		return TIP_EFORMAT;
	name_len = (size_t)(plus - s);
	if (!name_valid(s, name_len))
		return TIP_EFORMAT;
	memcpy(out->name, s, name_len);
	out->name[name_len] = '\0';
	rest = n - name_len - 1;
	s = plus + 1;
	/* The key id must be written as the writer writes it: 8 lower-case hex digits. */
	if (rest != 8 + 1 + B64_LEN || s[8] != '+')
		return TIP_EFORMAT;
	for (size_t i = 0; i < 8; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return TIP_EFORMAT;
	if (hex_decode(s, 8, out->id, KEY_ID_LEN, &got) != TIP_OK || got != KEY_ID_LEN)
		return TIP_EFORMAT;
	if (b64_decode(s + 9, B64_LEN, raw, sizeof(raw), &got) != TIP_OK || got != RAW_LEN)
		goto out;
	*type = raw[0];
	memcpy(key_bytes, raw + 1, KEY_LEN);
	rc = TIP_OK;
out:
	OPENSSL_cleanse(raw, sizeof(raw));
	return rc;
}

int key_parse_private(const char *line, size_t len, struct key *out)
{
	uint8_t id[KEY_ID_LEN], type = 0;
	int rc = TIP_EFORMAT;

	memset(out, 0, sizeof(*out));
	if (len > KEY_LINE_MAX || len < PRIVATE_PREFIX_LEN ||
	    memcmp(line, private_prefix, PRIVATE_PREFIX_LEN) != 0)
		return TIP_EFORMAT;
	rc = parse_tail(line + PRIVATE_PREFIX_LEN, len - PRIVATE_PREFIX_LEN, out, out->secret, &type);
	if (rc != TIP_OK)
		goto out;
	rc = TIP_EFORMAT;
	if (!type_known(type))
		goto out;
	out->type = (enum key_type)type;
	memcpy(id, out->id, KEY_ID_LEN);
	rc = complete(out);
	if (rc == TIP_OK && CRYPTO_memcmp(id, out->id, KEY_ID_LEN) != 0)
		rc = TIP_EFORMAT;
out:
	if (rc != TIP_OK)
		key_wipe(out);
	return rc;
}

int key_parse_public(const char *line, size_t len, struct key *out)
{
	uint8_t id[KEY_ID_LEN], type = 0;
	struct ed25519_pub *p;
	int rc;

	memset(out, 0, sizeof(*out));
	if (len > KEY_LINE_MAX)
		return TIP_EFORMAT;
	rc = parse_tail(line, len, out, out->pub, &type);
	if (rc != TIP_OK)
		goto out;
	rc = TIP_EFORMAT;
	if (type != KEY_ED25519 && type != KEY_COSIGN && type != KEY_X25519)
		goto out;
	out->type = (enum key_type)type;
	if (type != KEY_X25519) {
		p = ed25519_pub_new(out->pub);
		if (!p)
			goto out;
		ed25519_pub_free(p);
	}
	memcpy(id, out->id, KEY_ID_LEN);
	rc = key_id(out, out->id);
	if (rc == TIP_OK && memcmp(id, out->id, KEY_ID_LEN) != 0)
		rc = TIP_EFORMAT;
out:
	if (rc != TIP_OK)
		key_wipe(out);
	return rc;
}

/* [prefix]<name>+<id>+<base64(type || bytes)> into out, NUL-terminated; *len excludes the NUL. */
static int format_line(const struct key *k, int private, char *out, size_t cap, size_t *len)
{
	uint8_t raw[RAW_LEN];
	size_t name_len = strlen(k->name), n = 0;
	int rc = TIP_EOVERSIZE;

	if ((private ? PRIVATE_PREFIX_LEN : 0) + name_len + 1 + 8 + 1 + B64_LEN + 1 > cap)
		return TIP_EOVERSIZE;
	if (private) {
		memcpy(out, private_prefix, PRIVATE_PREFIX_LEN);
		n = PRIVATE_PREFIX_LEN;
	}
	memcpy(out + n, k->name, name_len);
	n += name_len;
	out[n++] = '+';
	if (hex_encode(k->id, KEY_ID_LEN, out + n, cap - n) != TIP_OK)
		goto out;
	n += 8;
	out[n++] = '+';
	raw[0] = (uint8_t)k->type;
	memcpy(raw + 1, private ? k->secret : k->pub, KEY_LEN);
	if (b64_encode(raw, sizeof(raw), out + n, cap - n) != TIP_OK)
		goto out;
	n += B64_LEN;
	*len = n;
	rc = TIP_OK;
out:
	OPENSSL_cleanse(raw, sizeof(raw));
	return rc;
}

int key_format_public(const struct key *k, char *out, size_t cap)
{
	size_t len;
	int rc;

	if (key_is_symmetric(k->type))
		return TIP_EINVAL;
	rc = check_consistent(k, 0);
	if (rc != TIP_OK)
		return rc;
	return format_line(k, 0, out, cap, &len);
}

/*
 * Reads a key file: one line and its LF, nothing else. *line is a heap buffer
 * (wipe and free it); *len excludes the LF.
 */
static int read_line_file(const char *path, int private, char **line, size_t *len)
{
	struct stat st;
	int fd = file_open_regular(path, &st), rc;

	*line = NULL;
	if (fd < 0)
		return fd;
	/* Like ssh: a secret others could read is refused before it is used. */
	if (private && (st.st_mode & (S_IRWXG | S_IRWXO))) {
		close(fd);
		return TIP_EINVAL;
	}
	rc = file_read_fd(fd, KEY_LINE_MAX + 1, line, len);
	close(fd);
	if (rc == TIP_EOVERSIZE)
		return TIP_EFORMAT;
	if (rc != TIP_OK)
		return rc;
	if (*len == 0 || (*line)[*len - 1] != '\n' || memchr(*line, '\n', *len - 1))
		return TIP_EFORMAT;
	(*len)--;
	return TIP_OK;
}

int key_read_private(const char *path, struct key *out)
{
	char *line;
	size_t len = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = read_line_file(path, 1, &line, &len);
	if (rc == TIP_OK)
		rc = key_parse_private(line, len, out);
	if (line)
		OPENSSL_cleanse(line, len);
	free(line);
	return rc;
}

int key_read_public(const char *path, struct key *out)
{
	char *line;
	size_t len = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = read_line_file(path, 0, &line, &len);
	if (rc == TIP_OK)
		rc = key_parse_public(line, len, out);
	free(line);
	return rc;
}

int key_read_list(const char *list, int private, enum key_type type, struct key *out, size_t cap, size_t *n,
                  char bad[KEY_PATH_MAX])
{
	const char *p = list;
	int rc = TIP_OK;

	*n = 0;
	bad[0] = 0;
	while (rc == TIP_OK) {
		size_t len;

		p += strspn(p, " \t");
		if (!*p)
			break;
		len = strcspn(p, " \t");
		if (len >= KEY_PATH_MAX) {
			rc = TIP_EINVAL;
			break;
		}
		memcpy(bad, p, len);
		bad[len] = 0;
		p += len;
		if (*n == cap) {
			rc = TIP_EFULL;
			break;
		}
		rc = private ? key_read_private(bad, &out[*n]) : key_read_public(bad, &out[*n]);
		if (rc == TIP_OK && out[*n].type != type)
			rc = TIP_EFORMAT;
		for (size_t i = 0; rc == TIP_OK && i < *n; i++)
			if (memcmp(out[i].id, out[*n].id, KEY_ID_LEN) == 0)
				rc = TIP_EFORMAT;
		if (rc == TIP_OK)
			(*n)++;
		else
			key_wipe(&out[*n]);
	}
	if (rc != TIP_OK) {
		for (size_t i = 0; i < *n; i++)
			key_wipe(&out[i]);
		*n = 0;
	} else {
		bad[0] = 0;
	}
	return rc;
}

static int write_new_file(const char *path, const char *data, size_t len, mode_t mode)
{
	size_t done = 0;
	int fd, saved, rc = TIP_EIO;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, mode);
	if (fd < 0)
		return TIP_EIO; /* errno is EEXIST when the file is already there */
	/* The umask may have removed bits; set exactly the mode asked for. */
	if (fchmod(fd, mode) != 0)
		goto out;
	while (done < len) {
		ssize_t w = write(fd, data + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto out;
		done += (size_t)w;
	}
	if (fsync(fd) != 0)
		goto out;
	rc = TIP_OK;
out:
	saved = errno;
	if (close(fd) != 0 && rc == TIP_OK) {
		rc = TIP_EIO;
		saved = errno;
	}
	if (rc == TIP_OK && (rc = file_fsync_parent(path)) != TIP_OK)
		saved = errno;
	if (rc != TIP_OK)
		unlink(path); /* ours: O_EXCL created it */
	errno = saved;
	return rc;
}

static int write_key(const char *path, const struct key *k, int private)
{
	char line[KEY_LINE_MAX + 2];
	size_t len = 0;
	int rc;

	if (!path)
		return TIP_EINVAL;
	if (!private && key_is_symmetric(k->type))
		return TIP_EINVAL;
	rc = check_consistent(k, private);
	if (rc == TIP_OK)
		rc = format_line(k, private, line, sizeof(line), &len);
	if (rc == TIP_OK) {
		line[len++] = '\n';
		rc = write_new_file(path, line, len, private ? 0600 : 0644);
	}
	OPENSSL_cleanse(line, sizeof(line));
	return rc;
}

int key_write_private(const char *path, const struct key *k)
{
	return write_key(path, k, 1);
}

int key_write_public(const char *path, const struct key *k)
{
	return write_key(path, k, 0);
}

void key_wipe(struct key *k)
{
	if (k)
		OPENSSL_cleanse(k, sizeof(*k));
}
