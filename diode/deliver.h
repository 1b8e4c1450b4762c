/*
 * The receiver's last step: each complete record that crossed the diode is
 * checked (it decodes; its origin is configured; its key id and signature are
 * that origin's) and written exactly once, in sequence order, to that origin's
 * inbox spool (<inbox_dir>/<origin>/). A record ahead of a gap waits in memory
 * (capped) until the gap fills; a duplicate is dropped; a record that fails a
 * check, or that forks the chain, goes to the quarantine spool with its reason.
 *
 * Exactly once across restarts: each origin's chain position is read back from
 * its inbox spool at start (chain_resume), so whatever the sender replays is
 * recognised as a duplicate or accepted as next.
 *
 * One thread delivers (deliver_record, deliver_checked, deliver_sync); deliver_check
 * may run on any number of other threads at the same time.
 */
#ifndef TIP_DIODE_DELIVER_H
#define TIP_DIODE_DELIVER_H

#include <stddef.h>
#include <stdint.h>

#include "diode/spool.h"
#include "proto/ed25519.h"
#include "proto/record.h"

struct deliver_origin {
	const char *name;
	struct rec_keyring keys; /* the origin's current and retired keys */
};

struct deliver_conf {
	const char *inbox_dir;
	const char *quarantine_dir;
	struct spool_opts spool;
	const struct deliver_origin *origins;
	size_t n_origins;
	size_t max_record;
	size_t max_held_bytes; /* out-of-order records waiting, all origins together */
};

enum deliver_outcome {
	DELIVER_NEXT,      /* appended to the inbox (durable after deliver_sync) */
	DELIVER_DUPLICATE, /* already delivered */
	DELIVER_HELD,      /* ahead of a gap; kept until the gap fills */
	DELIVER_DROPPED,   /* ahead of a gap, but the holding memory is full: a replay will bring it */
	DELIVER_REJECTED,  /* quarantined; see the reason */
};

enum deliver_reason {
	REJECT_DECODE,    /* not a well-formed record */
	REJECT_ORIGIN,    /* an origin not configured */
	REJECT_KEY,       /* signed with a key id that is none of the origin's keys (unknown or revoked) */
	REJECT_SIGNATURE, /* the signature does not verify */
	REJECT_FORK,      /* right seq, wrong prev_hash: the sender's chain forked */
	REJECT_COUNT
};

struct deliver_stats {
	uint64_t delivered, duplicates, held, dropped, rejected[REJECT_COUNT];
	uint64_t held_bytes;
};

struct deliver;

/* Opens (creating if needed) every origin's inbox spool and the quarantine spool. NULL with *err. */
struct deliver *deliver_new(const struct deliver_conf *conf, int *err);
/* Syncs and closes everything. */
void deliver_free(struct deliver *d);

/*
 * Handles one record. Returns an outcome (>= 0) or a spool error (< 0: the
 * inbox could not be written; the daemon should stop). *why is set for
 * DELIVER_REJECTED.
 */
int deliver_record(struct deliver *d, const uint8_t *buf, size_t len, enum deliver_reason *why);

/*
 * The same in two steps, so that signature checks can run on other threads:
 * deliver_check decodes and verifies (safe on any thread, concurrently with
 * everything here), deliver_checked then delivers on the delivering thread, in
 * any order.
 */
struct deliver_check {
	int verdict;             /* TIP_OK (signed by its origin), DELIVER_DUPLICATE or DELIVER_REJECTED */
	enum deliver_reason why; /* for DELIVER_REJECTED */
	size_t origin;
	uint64_t seq;
	uint8_t prev_hash[REC_HASH_LEN], hash[REC_HASH_LEN];
};
void deliver_check(const struct deliver *d, const uint8_t *buf, size_t len, struct deliver_check *c);
int deliver_checked(struct deliver *d, const uint8_t *buf, size_t len, const struct deliver_check *c,
                    enum deliver_reason *why);

/* Makes everything delivered so far durable (one fdatasync per spool written). */
int deliver_sync(struct deliver *d);

/* The next seq expected from origin, and the highest seq known to exist (held records, heartbeats). */
int deliver_position(const struct deliver *d, const char *origin, uint64_t *next_seq, uint64_t *highest_known,
                     int *known);
/* A heartbeat says origin has records up to highest_seq. */
void deliver_note_highest(struct deliver *d, const char *origin, uint64_t highest_seq);

const struct deliver_stats *deliver_stats(const struct deliver *d);
const char *deliver_reason_name(enum deliver_reason r);

#endif
