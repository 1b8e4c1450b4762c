/*
 * The status publisher: rows of status_outbox (queued by the workflow when a case changes stage) out to
 * the status spool, which the reverse link's diode-send reads, as signed STATUS records of the internal
 * zone's chain (diode/status_out.h).
 *
 * Exactly once, in this order: unsent rows are read in id order, appended to the spool and made durable
 * with one fdatasync per batch, and only then marked sent (sent_seq) in one transaction that also moves
 * the database's cursor of the chain (status_sent in internal/sql/0008_status_publish.sql). After a crash
 * or a lost connection between the two, the records past the database's cursor are matched to their rows
 * by content (status_reconcile) before anything new is published: nothing is sent twice, no sequence
 * number is skipped. A row whose codes the taxonomy does not know is refused (status_refused), logged and
 * counted; it never holds up the rows after it.
 *
 * One thread uses a struct publish; publish_stats may be read from any thread. Blocking libpq, like
 * ingest (see docs/internals/casemgr.md).
 */
#ifndef TIP_INTERNAL_PUBLISH_H
#define TIP_INTERNAL_PUBLISH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "internal/db.h"
#include "proto/keyfile.h"
#include "proto/record.h"
#include "proto/taxonomy.h"

struct publish_conf {
	const char *conninfo;  /* a role allowed the status_* functions of 0008 (tip_ingest) */
	const char *spool_dir; /* the status spool; created when missing */
	const char *origin;    /* the chain's origin name */
	const struct taxonomy *taxonomy;
	size_t batch;                      /* rows per spool sync and transaction */
	const struct rec_keyring *retired; /* the bulletin key's retired keys (may be NULL): the spool may end
	                                      in a record one signed */
};

struct publish_stats {
	_Atomic uint64_t published;  /* records appended and marked sent */
	_Atomic uint64_t refused;    /* rows refused (unknown code or a date a bulletin cannot carry) */
	_Atomic uint64_t reconciled; /* records found in the spool after a crash and matched to their rows */
	_Atomic uint64_t pending;    /* rows waiting at the last look */
	_Atomic uint64_t db_errors;  /* failed connections and transactions */
};

struct publish;

/*
 * A publisher signing with key (an Ed25519 private key; copied, the caller may wipe it). The
 * configuration is copied; its strings and the taxonomy are borrowed. NULL: out of memory or a key
 * OpenSSL refuses.
 */
struct publish *publish_new(const struct publish_conf *conf, const struct key *key);
/* Closes the spool and the connection. NULL is safe. */
void publish_free(struct publish *p);

/*
 * One pass: opens the spool and connects when needed (reconciling the spool with the database each
 * time), then publishes up to batch rows. Returns the rows handled (published or refused; 0: none
 * waiting), or:
 *   TIP_EIO      the database, or writing the spool, failed (msg says which); the next call reopens and
 *                reconciles; retry after a pause.
 *   TIP_EBUSY    another process writes the spool; retry after a pause.
 *   TIP_ECORRUPT the spool is damaged, or its last record is not this origin's or key's (msg says how);
 *                also TIP_EVERSION, TIP_EOVERSIZE from the spool.
 *   TIP_ERANGE   the database's cursor is past the spool's end (the spool was replaced or rolled back).
 */
int publish_step(struct publish *p, char msg[DB_MSG_MAX]);

const struct publish_stats *publish_stats(const struct publish *p);

#endif
