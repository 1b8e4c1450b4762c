/*
 * What the sender's and the receiver's transfer logs share: the layout of a log
 * directory, and a Merkle tree kept together with the signer of its
 * checkpoints. Layout and file formats: docs/formats/transfer-log.md §7.
 *
 * A tree's signer state is created only together with its tree: a log signer
 * opening a fresh tree signs the empty tree at once, so a state can never be
 * missing beside a tree that has leaves (that is refused, TIP_ENOTFOUND: a
 * deleted state must not become a fresh start that could sign a fork).
 */
#ifndef TIP_DIODE_TLOG_H
#define TIP_DIODE_TLOG_H

#include <stddef.h>
#include <stdint.h>

#include "diode/merkle.h"
#include "diode/spool.h"
#include "proto/checkpoint.h"
#include "proto/keyfile.h"

#define TLOG_PATH_MAX   512
#define TLOG_READ_BATCH 4096     /* records a log thread takes from one spool before looking at the others */
#define TLOG_IDLE_NS    20000000 /* a log thread with nothing to do looks again after this */

/* Parts of a log directory. */
#define TLOG_TREES       "trees"         /* trees/<origin>/: one Merkle tree (tiles) per origin */
#define TLOG_SIGNERS     "signers"       /* signers/<origin>: the sender's last signed checkpoint */
#define TLOG_CHECKPOINTS "checkpoints"   /* the sender's spool of CHECKPOINT records */
#define TLOG_COSIGNED    "cosigned"      /* cosigned/<origin>: the receiver's last cosigned checkpoint */
#define TLOG_RECEIVED    "received"      /* received/<origin>: the last checkpoint the receiver got */
#define TLOG_EVENTS      "events"        /* the receiver's spool of event lines */
#define TLOG_EVENT_TREE  "events.tree"   /* their Merkle tree */
#define TLOG_EVENT_STATE "events.signed" /* its last signed checkpoint */

/* <dir>/<part> or <dir>/<part>/<origin> (origin may be NULL). TIP_EOVERSIZE if too long. */
int tlog_path(char out[TLOG_PATH_MAX], const char *dir, const char *part, const char *origin);
/* Creates <dir> and <dir>/<part> (one level each) if missing. */
int tlog_mkdirs(const char *dir, const char *part);

/* A tree and its signer: a log signer (KEY_ED25519) or a cosigner (KEY_COSIGN). */
struct tlog_tree {
	struct merkle *tree;
	struct ckpt_signer *signer;
	char origin[CKPT_ORIGIN_MAX + 1];
	uint64_t signed_size; /* the last checkpoint signed (log signer) or cosigned */
	uint8_t signed_root[MERKLE_HASH_LEN];
	int has_signed;
	uint64_t signed_ms; /* when it was signed, on the caller's clock */
	int confirmed;      /* signed since it was opened: the signer has seen this tree agree */
};

/*
 * Opens (creating if needed) the tree in tree_dir and the signer state at state_path for origin.
 * A log signer on an empty tree signs the empty checkpoint at once. Returns TIP_OK; TIP_ENOTFOUND
 * if the tree has leaves but the state is missing (log signer); the errors of merkle_open and
 * ckpt_signer_open otherwise.
 */
int tlog_tree_open(struct tlog_tree *t, const char *tree_dir, const char *state_path, const char *origin,
                   const struct key *key, uint64_t now_ms);

/*
 * 1 if a log signer should sign now: every_records leaves since the last checkpoint, or every_ms
 * passed and there is at least one; and, once after opening, as soon as the tree has as many leaves
 * as the last checkpoint signed (a tree rebuilt differently is refused then, not later).
 */
int tlog_tree_due(const struct tlog_tree *t, uint64_t every_records, uint64_t every_ms, uint64_t now_ms);

/* How many leaves may be added before the next checkpoint is due (at least 1). */
uint64_t tlog_tree_room(const struct tlog_tree *t, uint64_t every_records);

/* Commits the tree and signs a checkpoint of its size; out gets the note, NUL-terminated. */
int tlog_tree_sign(struct tlog_tree *t, uint64_t now_ms, char *out, size_t cap, size_t *len);

/*
 * A reader (named name) of the spool in dir, positioned at the record after tree's last leaf:
 * the spool's record i is the tree's leaf i. NULL with *err: TIP_ECORRUPT if the tree has more
 * leaves than the spool has records; spool_reader_open's errors.
 */
struct spool_reader *tlog_reader_open(const char *dir, const char *name, const struct spool_opts *o,
                                      const struct merkle *tree, int *err);

/*
 * Appends the leaves of up to max records r holds past the tree, calling each (if not NULL) with
 * every record first. Returns the number taken, or an error (< 0) with *fault set.
 */
int tlog_follow(struct merkle *tree, struct spool_reader *r, size_t max,
                void (*each)(void *arg, const uint8_t *rec, size_t len), void *arg,
                struct spool_fault *fault);

/* Syncs and closes; the struct is zeroed. Returns the result of the last sync. */
int tlog_tree_close(struct tlog_tree *t);

#endif
