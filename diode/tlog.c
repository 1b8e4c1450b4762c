#include "diode/tlog.h"

#include "common/err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int tlog_path(char out[TLOG_PATH_MAX], const char *dir, const char *part, const char *origin)
{
	int n = origin ? snprintf(out, TLOG_PATH_MAX, "%s/%s/%s", dir, part, origin)
	               : snprintf(out, TLOG_PATH_MAX, "%s/%s", dir, part);

	return n > 0 && n < TLOG_PATH_MAX ? TIP_OK : TIP_EOVERSIZE;
}

int tlog_mkdirs(const char *dir, const char *part)
{
	char path[TLOG_PATH_MAX];

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return TIP_EIO;
	if (tlog_path(path, dir, part, NULL) != TIP_OK)
		return TIP_EOVERSIZE;
	return mkdir(path, 0700) == 0 || errno == EEXIST ? TIP_OK : TIP_EIO;
}

int tlog_tree_open(struct tlog_tree *t, const char *tree_dir, const char *state_path, const char *origin,
                   const struct key *key, uint64_t now_ms)
{
	char note[CKPT_NOTE_MAX];
	size_t len;
	int rc, fresh;

	memset(t, 0, sizeof(*t));
	if (strlen(origin) > CKPT_ORIGIN_MAX)
		return TIP_EINVAL;
	memcpy(t->origin, origin, strlen(origin) + 1);
	if (!(t->tree = merkle_open(tree_dir, MERKLE_CREATE, NULL, &rc)))
		return rc;
	fresh = merkle_size(t->tree) == 0;
	/* A receiver's tree is rebuilt from its inbox, so a cosigner may start over beside one. */
	if (!(t->signer = ckpt_signer_open(state_path, key, origin,
	                                   fresh || key->type == KEY_COSIGN ? CKPT_SIGNER_CREATE : 0, &rc)))
		goto fail;
	t->signed_ms = now_ms;
	if (ckpt_signer_last(t->signer, &t->signed_size, t->signed_root) == TIP_OK)
		t->has_signed = 1;
	else if (key->type == KEY_ED25519 &&
	         (rc = tlog_tree_sign(t, now_ms, note, sizeof(note), &len)) != TIP_OK)
		goto fail;
	return TIP_OK;
fail:
	tlog_tree_close(t);
	return rc;
}

int tlog_tree_due(const struct tlog_tree *t, uint64_t every_records, uint64_t every_ms, uint64_t now_ms)
{
	uint64_t size = merkle_size(t->tree);

	if (!t->confirmed)
		return size >= t->signed_size;
	if (size <= t->signed_size)
		return 0;
	return size - t->signed_size >= every_records || now_ms - t->signed_ms >= every_ms;
}

uint64_t tlog_tree_room(const struct tlog_tree *t, uint64_t every_records)
{
	uint64_t size = merkle_size(t->tree), next = t->signed_size + (t->confirmed ? every_records : 0);

	return next > size ? next - size : 1;
}

int tlog_tree_sign(struct tlog_tree *t, uint64_t now_ms, char *out, size_t cap, size_t *len)
{
	struct ckpt c;
	int rc;

	memset(&c, 0, sizeof(c));
	memcpy(c.origin, t->origin, sizeof(c.origin));
	c.size = merkle_size(t->tree);
	merkle_root(t->tree, c.root);
	if ((rc = merkle_sync(t->tree)) != TIP_OK ||
	    (rc = ckpt_signer_sign(t->signer, &c, t->tree, NULL, 0, out, cap, len)) != TIP_OK)
		return rc;
	t->signed_size = c.size;
	memcpy(t->signed_root, c.root, sizeof(c.root));
	t->has_signed = 1;
	t->confirmed = 1;
	t->signed_ms = now_ms;
	return TIP_OK;
}

int tlog_tree_close(struct tlog_tree *t)
{
	int rc = merkle_close(t->tree);

	ckpt_signer_free(t->signer);
	memset(t, 0, sizeof(*t));
	return rc;
}

struct spool_reader *tlog_reader_open(const char *dir, const char *name, const struct spool_opts *o,
                                      const struct merkle *tree, int *err)
{
	struct spool_fault fault;
	struct spool_reader *r = spool_reader_open(dir, name, o, &fault, err);
	uint64_t head = 0;

	if (!r)
		return NULL;
	if ((*err = spool_reader_head(r, &head, &fault)) == TIP_OK)
		*err = merkle_size(tree) > head ? TIP_ECORRUPT : spool_reader_seek(r, merkle_size(tree));
	if (*err != TIP_OK) {
		spool_reader_close(r);
		return NULL;
	}
	return r;
}

int tlog_follow(struct merkle *tree, struct spool_reader *r, size_t max,
                void (*each)(void *arg, const uint8_t *rec, size_t len), void *arg, struct spool_fault *fault)
{
	const uint8_t *rec;
	uint8_t leaf[MERKLE_HASH_LEN];
	size_t len;
	int n = 0, rc = 0;

	while ((size_t)n < max && (rc = spool_reader_next(r, &rec, &len, NULL, fault)) == 1) {
		if (each)
			each(arg, rec, len);
		merkle_leaf_hash(rec, len, leaf);
		if ((rc = merkle_append(tree, leaf, NULL)) != TIP_OK)
			return rc;
		n++;
	}
	return rc < 0 ? rc : n;
}
