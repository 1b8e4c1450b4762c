/*
 * The origins a high-side reader trusts: every "*.pub" file in one directory is an Ed25519 verifier
 * key (tipkey sign), and the key's name is the origin it signs for. Several files may name one origin:
 * its current key and the retired ones (up to REC_KEYS_MAX), told apart by key id, so that records
 * signed before a rotation still verify; removing a file revokes that key (docs/key-ceremony.md).
 * diode-recv and casemgrd read the same directory layout with this.
 *
 * Ownership: struct origins holds the keys and the verifier objects; list[i].name points into it.
 * origins_free releases them (safe on a zeroed struct).
 */
#ifndef TIP_DIODE_ORIGINS_H
#define TIP_DIODE_ORIGINS_H

#include <stddef.h>

#include "diode/deliver.h"
#include "proto/keyfile.h"

#define ORIGINS_MAX      256
#define ORIGINS_FILES    1024 /* key files in all */
#define ORIGINS_PATH_MAX 600

struct origins {
	struct key keys[ORIGINS_MAX]; /* per origin, its key first in file name order */
	struct ed25519_pub *pubs[ORIGINS_FILES];
	size_t n_pubs;
	struct deliver_origin list[ORIGINS_MAX];
	size_t n;
};

/*
 * Loads every *.pub of dir into *o (zeroed first). TIP_OK; TIP_EIO (the directory cannot be read,
 * errno set); TIP_EFULL (more than ORIGINS_MAX origins, ORIGINS_FILES files or REC_KEYS_MAX keys of
 * one origin); TIP_EFORMAT (a file that is not an Ed25519 verifier key with a valid origin name, or
 * a second file of the same key, named in bad); TIP_ENOTFOUND (no key at all); TIP_ENOMEM.
 * On failure o holds nothing to free.
 */
int origins_load(const char *dir, struct origins *o, char bad[ORIGINS_PATH_MAX]);
void origins_free(struct origins *o);
/* The index of origin name, or -1. */
int origins_find(const struct origins *o, const char *name);

#endif
