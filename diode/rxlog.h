/*
 * The receiver's transfer log. For each origin, a Merkle tree of the records in
 * its inbox spool, fed by a reader that follows the inbox (so the tree only ever
 * holds what is durably delivered, and a restart simply reads on from the
 * tree's size). A CHECKPOINT record (from a sender's log chain, signed by that
 * log's key) names an origin, a size N and a root: once the receiver's tree of
 * that origin has N leaves with that root, the receiver cosigns it ("I hold
 * exactly records [0, N)"); the checkpoint waits in received/<origin> until then.
 *
 * Beside the trees, a signed event log: one line per event (gaps alerted and
 * closed, records rejected with the reason, duplicates, checkpoints cosigned or
 * refused), in a spool of its own with its own tree and checkpoints signed by
 * the event key every every_events events or every_ms.
 *
 * All of it runs on a thread of its own; rxlog_event may be called from any
 * thread. Layout and the event line format: docs/formats/transfer-log.md §7.
 */
#ifndef TIP_DIODE_RXLOG_H
#define TIP_DIODE_RXLOG_H

#include <stddef.h>
#include <stdint.h>

#include "diode/spool.h"
#include "proto/keyfile.h"

struct rxlog_conf {
	const char *dir;               /* the log directory */
	const char *inbox_dir;         /* <inbox_dir>/<origin>/ are the inbox spools */
	const struct key *cosign_key;  /* KEY_COSIGN with its secret */
	const struct key *event_key;   /* KEY_ED25519 with its secret; its name names the event log */
	const struct key *origin_keys; /* every origin's public key (KEY_ED25519, named as the origin) */
	size_t n_origins;
	uint64_t every_events, every_ms;
	struct spool_opts spool;
};

struct rxlog;

/* Opens (creating if needed) every tree, cosigner and the event log. NULL with *err. */
struct rxlog *rxlog_open(const struct rxlog_conf *conf, int *err);

/* Starts the thread. TIP_OK or TIP_ENOMEM. */
int rxlog_start(struct rxlog *l);

/* TIP_OK while the thread works; the error that stopped it otherwise (it has logged it). */
int rxlog_status(struct rxlog *l);

/* Queues one event: the words after the timestamp, e.g. "gap-open intake-a 10 19". */
void rxlog_event(struct rxlog *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Stops the thread, takes in what is queued and delivered, signs the event log, closes. NULL is safe. */
void rxlog_free(struct rxlog *l);

#endif
