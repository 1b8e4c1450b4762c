#include "diode/origins.h"

#include "common/err.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>

int origins_load(const char *dir, struct origins *o, char bad[ORIGINS_PATH_MAX])
{
	DIR *d;
	struct dirent *e;
	int rc = TIP_OK;

	memset(o, 0, sizeof(*o));
	bad[0] = 0;
	if (!(d = opendir(dir)))
		return TIP_EIO;
	while (rc == TIP_OK && (e = readdir(d))) {
		size_t n = strlen(e->d_name);
		struct key *k = &o->keys[o->n];

		if (n < 5 || strcmp(e->d_name + n - 4, ".pub") != 0)
			continue;
		if (o->n == ORIGINS_MAX) {
			rc = TIP_EFULL;
			break;
		}
		snprintf(bad, ORIGINS_PATH_MAX, "%s/%s", dir, e->d_name);
		if (key_read_public(bad, k) != TIP_OK || k->type != KEY_ED25519 || !rec_origin_ok(k->name)) {
			rc = TIP_EFORMAT;
			break;
		}
		if (!(o->pubs[o->n] = ed25519_pub_new(k->pub))) {
			rc = TIP_ENOMEM;
			break;
		}
		o->list[o->n].name = k->name;
		o->list[o->n].pub = o->pubs[o->n];
		memcpy(o->list[o->n].key_id, k->id, REC_KEY_ID_LEN);
		o->n++;
	}
	closedir(d);
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
	for (size_t i = 0; i < o->n; i++)
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
