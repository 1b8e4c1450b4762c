/*
 * Ingest: the inbox spools (<inbox>/<origin>/, written by diode-recv) into PostgreSQL.
 *
 * Nothing from the diode is trusted, so every record is checked again: it decodes, it is the
 * origin's, its key id and Ed25519 signature are the origin's, it continues the origin's hash chain,
 * its sealed report opens with the internal zone's HPKE key and the report is valid against the
 * taxonomy. A record that passes becomes a report (every field of the four blocks), a case and the
 * case's comparison keys (keyed digests of its names, ID number, phones and place: internal/match.h); one
 * that fails is quarantined with its reason; records of other kinds are passed over. Either way the
 * origin's cursor (next seq, previous record hash) moves past it in the same transaction
 * (ingest_batch in internal/sql), so after a crash or a lost connection ingest resumes exactly where
 * the database says, and a record stored twice is a no-op (unique on origin and seq). When ingest
 * keeps up, the same statement then compares the new cases with the cases of their province
 * (compare_pending in internal/sql); behind a backlog, and for cases left by a failed comparison,
 * comparison runs once the inbox is drained.
 *
 * One thread uses a struct ingest (it runs threads of its own to check a batch's records in
 * parallel; the chain is then judged in order); ingest_stats may be read from any thread.
 * Blocking libpq: see docs/internals/casemgr.md for why this path does not use the event loop.
 */
#ifndef TIP_INTERNAL_INGEST_H
#define TIP_INTERNAL_INGEST_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "diode/origins.h"
#include "internal/db.h"
#include "internal/match.h"
#include "proto/hpke.h"
#include "proto/taxonomy.h"

enum ingest_reason {
	INGEST_DECODE,    /* not a well-formed record */
	INGEST_ORIGIN,    /* a record of another origin in this origin's inbox */
	INGEST_SIGNATURE, /* another key id, or the signature does not verify */
	INGEST_CHAIN,     /* seq or prev_hash does not continue the chain */
	INGEST_OPEN,      /* the sealed report does not open (or is sealed to another key) */
	INGEST_INVALID,   /* the report breaks the taxonomy or a limit */
	INGEST_REASON_COUNT
};

#define INGEST_SEAL_KEYS_MAX 8

struct ingest_conf {
	const char *conninfo; /* the ingest role */
	const char *inbox_dir;
	const struct origins *origins;
	const struct taxonomy *taxonomy;
	/* the sealing keys, current first, then the retired ones: a report opens with the one of its key id
	 */
	uint8_t seal_sk[INGEST_SEAL_KEYS_MAX][HPKE_KEY_LEN];
	uint8_t seal_key_id[INGEST_SEAL_KEYS_MAX][4];
	size_t n_seal_keys;
	uint8_t index_key[MATCH_KEY_LEN]; /* the comparison indexes' HMAC key */
	size_t batch;                     /* records per transaction; also cases compared per statement */
	size_t threads;                   /* threads checking and opening records, 1 .. INGEST_THREADS_MAX */
	size_t max_record;                /* longest record read */
};

#define INGEST_THREADS_MAX 64

struct ingest_stats {
	_Atomic uint64_t reports;  /* reports stored */
	_Atomic uint64_t replayed; /* records already stored (a replay after a lost commit answer) */
	_Atomic uint64_t quarantined[INGEST_REASON_COUNT];
	_Atomic uint64_t passed_over; /* records of another kind than REPORT */
	_Atomic uint64_t batches, db_errors;
	_Atomic uint64_t compared;       /* cases compared with their province's cases */
	_Atomic uint64_t compare_errors; /* comparison runs that failed (logged; ingest goes on) */
	_Atomic uint64_t connected;      /* 1 while connected */
};

struct ingest;

/* A new ingest (the configuration is copied; origins and taxonomy are borrowed). NULL: out of memory. */
struct ingest *ingest_new(const struct ingest_conf *conf);
/* Wipes the keys, closes readers and the connection. NULL is safe. */
void ingest_free(struct ingest *in);
/*
 * One pass over every origin: up to batch records each, one transaction each. Connects first when
 * needed. Returns the records passed, or when there were none the cases compared that were still
 * waiting for comparison (0: nothing to do), or TIP_EIO when the database failed (msg says
 * why; the connection is dropped and the next call reconnects and resumes from the stored cursors),
 * or a spool error (TIP_ECORRUPT, TIP_EOVERSIZE, TIP_EVERSION, with msg naming file and offset) when an
 * inbox is damaged, or TIP_ERANGE when a stored cursor is beyond an inbox's end.
 */
int ingest_step(struct ingest *in, char msg[DB_MSG_MAX]);
const struct ingest_stats *ingest_stats(const struct ingest *in);
const char *ingest_reason_name(enum ingest_reason r);

#endif
