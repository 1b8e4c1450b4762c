/*
 * The sender's transfer log. For each origin it sends, a Merkle tree whose
 * leaves are that origin's SignedRecord bytes in spool order (leaf i is the
 * record of seq i: the outbox spool holds seq i at index i), fed by a reader of
 * its own that follows the spool, whatever the sending does. Every every_records
 * leaves, or every_ms when there is something new, the tree is committed and a
 * checkpoint signed (never one inconsistent with an earlier one: proto/checkpoint).
 * Each checkpoint is wrapped in a CHECKPOINT record of the log's own chain
 * (origin: the log key's name, signed by that key) and appended to the log's
 * checkpoint spool, which diode-send sends like any other origin's spool.
 *
 * The work (reading, hashing, fsyncs, signing) runs on a thread of its own so the
 * paced sending never waits for it. Layout: docs/formats/transfer-log.md §7.
 */
#ifndef TIP_DIODE_TXLOG_H
#define TIP_DIODE_TXLOG_H

#include <stddef.h>
#include <stdint.h>

#include "diode/spool.h"
#include "proto/keyfile.h"

struct txlog_conf {
	const char *dir;        /* the log directory */
	const struct key *key;  /* KEY_ED25519 with its secret; its name is the checkpoint chain's origin */
	uint64_t every_records; /* a checkpoint after this many new leaves */
	uint64_t every_ms;      /* or after this long, if there is at least one */
	struct spool_opts spool;
};

struct txlog_source {
	const char *origin;
	const char *spool_dir;
};

struct txlog;

/*
 * Opens (creating if needed) the log for sources[0..n) and catches nothing up yet. Returns NULL
 * with *err: TIP_EINVAL (a bad key or origin), TIP_ENOTFOUND (a tree with leaves but no signer
 * state), TIP_ECORRUPT (a tree longer than its spool, damaged files), TIP_EBUSY, TIP_EIO.
 */
struct txlog *txlog_open(const struct txlog_conf *conf, const struct txlog_source *sources, size_t n,
                         int *err);

/* Starts the thread. TIP_OK or TIP_ENOMEM. */
int txlog_start(struct txlog *l);

/* TIP_OK while the thread works; the error that stopped it otherwise (it has logged it). */
int txlog_status(struct txlog *l);

/* The latest checkpoint of source i: TIP_OK with size and root. Safe from any thread. */
int txlog_latest(struct txlog *l, size_t i, uint64_t *size, uint8_t root[32]);

/* Stops the thread, signs what is new, syncs and closes. NULL is safe. */
void txlog_free(struct txlog *l);

#endif
