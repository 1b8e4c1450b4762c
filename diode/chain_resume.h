/*
 * Where a spool's hash chain stands: the last record of a single-origin spool,
 * checked, gives the seq and prev_hash its next record must carry. Used by every
 * writer of signed records (the intake's outbox, the receiver's inboxes) when it
 * opens its spool, so a chain continues across restarts without a gap or a fork.
 */
#ifndef TIP_DIODE_CHAIN_RESUME_H
#define TIP_DIODE_CHAIN_RESUME_H

#include <stddef.h>
#include <stdint.h>

#include "diode/spool.h"
#include "proto/ed25519.h"
#include "proto/record.h"

/*
 * s is the spool opened (as writer) on dir. Fills *chain for origin: at the
 * start if the spool is empty, else after its last record, which must decode,
 * belong to origin, carry seq == index and verify with the key of keys that has its key id
 * (TIP_ECORRUPT otherwise): after a rotation the ring holds the retired key that signed it.
 * reader_name names the reader used to look.
 */
int chain_resume(struct spool *s, const char *dir, const struct spool_opts *o, const char *reader_name,
                 const char *origin, const struct rec_keyring *keys, size_t max_record,
                 struct rec_chain *chain);

#endif
