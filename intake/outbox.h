/*
 * The outbox: where accepted reports become durable records. Each report is
 * sealed to the internal zone's HPKE key (info bound to origin and seq),
 * wrapped in a RecordBody, signed, and appended to the outbox spool; a report
 * is acknowledged only after the fdatasync that covers its record.
 *
 * A pipeline of threads shares the work so that nothing waits for the disk:
 *   the event-loop thread submits reports and gets completions;
 *   seal workers (seal_threads of them) seal reports in parallel, each for the
 *   seq it is expected to get;
 *   the signer signs and appends in submission order; a report sealed for a
 *   seq it did not get (one before it failed) is sealed again;
 *   the syncer makes batches durable (group commit) while signing goes on.
 * Completions come back on the event-loop thread, through an eventfd.
 *
 * The chain (seq, prev_hash) continues from the last record in the spool, so
 * it is gapless and unforked across restarts and crashes: spool recovery cuts
 * a torn tail, and the chain resumes after the last whole record.
 */
#ifndef TIP_INTAKE_OUTBOX_H
#define TIP_INTAKE_OUTBOX_H

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>

#include "diode/spool.h"
#include "proto/ed25519.h"
#include "proto/hpke.h"
#include "proto/record.h"
#include "report.pb-c.h"

struct outbox_conf {
	const char *spool_dir;
	struct spool_opts spool;
	const char *origin;
	/*
	 * Signs record bodies, one at a time, from the outbox's signing thread: rec_ed25519_signer with a
	 * key, or intaked's signer process (intake/signer.h). A failure other than TIP_EIO fails that
	 * report only; TIP_EIO breaks the outbox. sign_arg is borrowed and outlives the outbox.
	 */
	rec_signer sign;
	void *sign_arg;
	uint8_t sign_key_id[4];
	const struct ed25519_pub
	        *verify_key; /* the same key's public half, to check the spool's last record */
	/* this intake's retired signing keys (may be NULL): the spool's last record may be signed with
	 * one of them after a rotation */
	const struct rec_keyring *retired;
	uint8_t seal_pub[HPKE_KEY_LEN];
	uint8_t seal_key_id[4];
	enum hpke_aead aead;
	size_t max_pending;  /* reports submitted but not yet durable */
	size_t seal_threads; /* parallel sealing; 0 means 1 */
	size_t max_record;   /* cap on one record's encoding */
};

/* Called on the event-loop thread: rc TIP_OK with the record's seq and time, or the failure. */
typedef void (*outbox_done)(void *ctx, int rc, uint64_t seq, int64_t created_at_ms);

struct outbox;

/*
 * Opens (and recovers) the spool, finds where the chain stands and starts the
 * threads. NULL with *err: the spool's errors, TIP_ECORRUPT if its last record
 * is not a record of this origin signed by this key at the right index,
 * TIP_ENOMEM, TIP_EIO.
 */
struct outbox *outbox_new(struct event_base *base, const struct outbox_conf *conf, int *err);

/*
 * Queues a report. r must stay valid and unchanged until done is called.
 * TIP_EFULL when max_pending reports are waiting, TIP_EIO once the outbox is
 * broken (a failed fdatasync: nothing more can be promised durable).
 */
int outbox_submit(struct outbox *o, const Tip__Report *r, outbox_done done, void *ctx);

/* 1 after a failed write or sync: the daemon should stop taking reports and exit. */
int outbox_broken(const struct outbox *o);
/* Records durable in the spool. */
uint64_t outbox_durable(const struct outbox *o);
/* Reports queued and not yet answered. */
size_t outbox_pending(const struct outbox *o);

/* Finishes every queued report (their callbacks run), stops the threads, closes the spool. */
void outbox_free(struct outbox *o);

#endif
