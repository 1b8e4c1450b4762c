#include "diode/origins.h"

#include "common/err.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Adds the verifier key k (read from a file) to its origin, creating the origin on its first key. */
static int add_key(struct origins *o, const struct key *k)
{
	int i = origins_find(o, k->name);
	struct ed25519_pub *pub;
	int rc;

	if (i < 0) {
		if (o->n == ORIGINS_MAX)
			return TIP_EFULL;
		i = (int)o->n++;
		o->keys[i] = *k;
		o->list[i].name = o->keys[i].name;
	}
	if (o->n_pubs == ORIGINS_FILES)
		return TIP_EFULL;
	if (!(pub = ed25519_pub_new(k->pub)))
		return TIP_ENOMEM;
	o->pubs[o->n_pubs++] = pub;
	rc = rec_keyring_add(&o->list[i].keys, pub, k->id);
	return rc == TIP_EINVAL ? TIP_EFORMAT : rc; /* the same key in two files, or too many keys */
}

static int pub_file(const struct dirent *e)
{
	size_t n = strlen(e->d_name);

	return n >= 5 && strcmp(e->d_name + n - 4, ".pub") == 0;
}

int origins_load(const char *dir, struct origins *o, char bad[ORIGINS_PATH_MAX])
{
	struct dirent **names = NULL;
	int n, rc = TIP_OK;

	memset(o, 0, sizeof(*o));
	bad[0] = 0;
	/* In name order, so that an origin's first key (the one rxlog checks checkpoints with) is stable. */
	if ((n = scandir(dir, &names, pub_file, alphasort)) < 0)
		return TIP_EIO;
	for (int i = 0; i < n && rc == TIP_OK; i++) {
		struct key k;

		snprintf(bad, ORIGINS_PATH_MAX, "%s/%s", dir, names[i]->d_name);
		if (key_read_public(bad, &k) != TIP_OK || k.type != KEY_ED25519 || !rec_origin_ok(k.name))
			rc = TIP_EFORMAT;
		else
			rc = add_key(o, &k);
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (rc == TIP_OK && !o->n)
		rc = TIP_ENOTFOUND;
	if (rc != TIP_EFORMAT)
		bad[0] = 0;
	if (rc != TIP_OK)
		origins_free(o);
	return rc;
}

void origins_free(struct origins *o)
{
	for (size_t i = 0; i < o->n_pubs; i++)
		ed25519_pub_free(o->pubs[i]);
	memset(o, 0, sizeof(*o));
}

int origins_find(const struct origins *o, const char *name)
{
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->list[i].name, name) == 0)
			return (int)i;
	return -1;
}
