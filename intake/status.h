/*
 * What the intake knows about a report's progress: the status bulletins that
 * came back over the reverse link, read from the status spool. Every record is
 * checked (kind STATUS, the internal zone's origin and key, a valid signature,
 * the chain, a bulletin of known codes); anything that fails is counted, logged
 * by the caller and ignored. Applying the same record twice changes nothing.
 *
 * The index lives in memory and is rebuilt from the spool at start. Only
 * hashes of query codes are held, never the codes.
 */
#ifndef TIP_INTAKE_STATUS_H
#define TIP_INTAKE_STATUS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "diode/spool.h"
#include "proto/ed25519.h"
#include "proto/record.h"
#include "proto/taxonomy.h"

struct status_conf {
	const char *spool_dir;
	struct spool_opts spool;
	const char *origin;              /* the internal zone's status origin */
	const struct rec_keyring *keys;  /* the bulletin key and its retired keys (borrowed) */
	const struct taxonomy *taxonomy; /* borrowed */
	size_t max_history;              /* bulletins kept per report */
};

/* Why a record was not applied (index into status_stats.dropped). */
enum status_drop {
	STATUS_DROP_DECODE,    /* not a record, or not a bulletin */
	STATUS_DROP_KIND,      /* not a STATUS record */
	STATUS_DROP_ORIGIN,    /* another origin */
	STATUS_DROP_SIGNATURE, /* unknown key or bad signature */
	STATUS_DROP_DUPLICATE, /* seq already applied */
	STATUS_DROP_FORK,      /* right seq, wrong prev_hash */
	STATUS_DROP_COUNT
};

struct status_stats {
	uint64_t applied;
	uint64_t gaps; /* records accepted after a hole in the sequence */
	uint64_t dropped[STATUS_DROP_COUNT];
};

struct status_store;

/* Opens a reader on the status spool (creating the directory if needed) and reads everything there. */
struct status_store *status_new(const struct status_conf *conf, int *err);
void status_free(struct status_store *s);

/* Applies records that arrived since the last call. Returns how many were read, or a spool error. */
int status_poll(struct status_store *s);

/*
 * The report's status as the public sees it, or NULL if no bulletin names this hash:
 * {"stage": code, "result": code, "updated_at": "YYYY-MM-DD", "history": [{"stage", "result", "date"}, ...]}
 * The caller owns the returned reference.
 */
json_t *status_lookup(const struct status_store *s, const uint8_t query_hash[32]);

const struct status_stats *status_stats(const struct status_store *s);
const char *status_drop_name(enum status_drop d);

#endif
