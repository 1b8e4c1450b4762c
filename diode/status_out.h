/*
 * Writing status bulletins into a status spool: each bulletin becomes the next signed STATUS record of
 * the internal zone's chain (proto/record.h), appended to the spool (diode/spool.h). casemgrd's
 * publisher and the test tools write through this one path, so what they write is exactly what the
 * intake reads back (intake/status.c). Record layout: docs/formats/records.md.
 *
 * The caller owns the spool (as its only writer) and the chain; nothing here syncs: records are durable
 * only once the caller's spool_sync() returns.
 */
#ifndef TIP_DIODE_STATUS_OUT_H
#define TIP_DIODE_STATUS_OUT_H

#include <stdint.h>

#include "diode/spool.h"
#include "proto/bulletin.h"
#include "proto/ed25519.h"
#include "proto/record.h"
#include "proto/taxonomy.h"

/* The signer of a chain's records: the private key and its key id. */
struct status_out_signer {
	const struct ed25519_key *key;
	uint8_t key_id[REC_KEY_ID_LEN];
};

/* The spool options of a status spool: records of at most BULLETIN_RECORD_MAX bytes. */
struct spool_opts status_out_opts(void);

/*
 * Puts *chain after the last record of the status spool s (opened as writer on dir with
 * status_out_opts()), or at the start of origin's chain when the spool is empty. TIP_ECORRUPT when that
 * record is not origin's, does not carry seq == its index, or is signed neither by pub with key_id nor
 * by a key of retired (may be NULL: the bulletin key's retired keys; another key or origin wrote the
 * spool); spool reader errors otherwise.
 */
int status_out_resume(struct spool *s, const char *dir, const char *origin, const struct ed25519_pub *pub,
                      const uint8_t key_id[REC_KEY_ID_LEN], const struct rec_keyring *retired,
                      struct rec_chain *chain);

/*
 * Encodes b (checked against tax: TIP_ERANGE for a stage or result code it does not know, TIP_EINVAL for
 * a date outside the calendar of 2000-2999), signs it as chain's next STATUS record created at
 * created_ms (Unix milliseconds), appends it to s and moves chain past it; *seq (may be NULL) is the
 * record's sequence number. TIP_ECORRUPT when the spool's record count is not the chain's next seq (the
 * spool holds another chain). On any error (also TIP_ECRYPTO, TIP_ENOMEM, or spool_append's) neither s
 * nor chain has changed, unless spool_append made the spool unusable.
 */
int status_out_append(struct spool *s, struct rec_chain *chain, const struct status_out_signer *signer,
                      const struct taxonomy *tax, const struct bulletin *b, int64_t created_ms,
                      uint64_t *seq);

#endif
