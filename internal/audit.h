/*
 * The audit trail's checks and signatures. Events are appended by PostgreSQL, which chains them
 * (internal/sql/0003_audit.sql); this module computes the same hashes, signs chain heads as C2SP
 * signed notes and verifies a whole trail. Layouts: docs/formats/casemgr-schema.md.
 *
 * Head note text (three lines):
 *   tipline audit v1
 *   <number of events, decimal>
 *   <base64 of the last event's hash>
 */
#ifndef TIP_INTERNAL_AUDIT_H
#define TIP_INTERNAL_AUDIT_H

#include <libpq-fe.h>
#include <stdint.h>

#include "internal/db.h"
#include "proto/keyfile.h"

#define AUDIT_HASH_LEN 32
#define AUDIT_NOTE_MAX 1024

/* One event's hash from the one before and its fields (before/after may be NULL). */
void audit_event_hash(const uint8_t prev[AUDIT_HASH_LEN], int64_t seq, int64_t at_us, int64_t actor,
                      const char *action, const char *object, const uint8_t *before, const uint8_t *after,
                      uint8_t out[AUDIT_HASH_LEN]);

/*
 * Signs a head when due: at least every_events events since the last head, or any event at all and
 * every_ms since it. c is connected as the ingest role. TIP_OK (signed or not due) or TIP_EIO.
 */
int audit_sign_due(PGconn *c, const struct key *signer, long long every_events, long long every_ms,
                   char msg[DB_MSG_MAX]);

/*
 * Reads every event and head (c connected as the schema owner) and checks: seq 0, 1, 2, ... without
 * a gap; each prev_hash names the event before; each hash is the hash of its row; each head's note
 * verifies with pub and names the chain as it is at that size. TIP_OK with *events and *heads;
 * TIP_ECORRUPT with msg naming the first event or head that fails; TIP_EIO.
 */
int audit_verify(PGconn *c, const struct key *pub, long long *events, long long *heads, char msg[DB_MSG_MAX]);

/*
 * Writes every signed head to dir/<size>.note (c connected as the schema owner; files replaced
 * atomically, mode 0644). TIP_OK with *heads; TIP_EIO with msg (a database or file error).
 */
int audit_export(PGconn *c, const char *dir, long long *heads, char msg[DB_MSG_MAX]);

#endif
