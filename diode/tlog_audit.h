/*
 * Offline verification of a pair of transfer logs (diode-audit): with public keys
 * only, prove that what the sender logged is what the receiver holds, or name
 * every place where it is not. What is checked, and why each check is there:
 * docs/internals/transfer-log.md ("Auditing").
 */
#ifndef TIP_DIODE_TLOG_AUDIT_H
#define TIP_DIODE_TLOG_AUDIT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "proto/keyfile.h"
#include "proto/record.h"

/* Reads a file of verifier keys, one per line (blank lines and lines starting with '#' skipped). */
int tlog_audit_read_keys(const char *path, struct key **keys, size_t *n, char *err, size_t err_cap);

struct tlog_audit_opts {
	const char *sender;   /* the sender's log directory */
	const char *receiver; /* the receiver's log directory */
	const char *inbox;    /* the receiver's inbox directory (its records) */
	const struct key *keys;
	size_t n_keys;
	size_t threads; /* for signature checks; 0: one per CPU */
};

/* Sequence numbers [from, to] of an origin not delivered, with the receiver's explanation. */
struct tlog_audit_gap {
	uint64_t from, to;
	char why[200];
};

struct tlog_audit_origin {
	char name[REC_ORIGIN_MAX + 1];
	uint64_t sender_leaves;                /* in the sender's committed tree */
	uint64_t checkpoints;                  /* signed checkpoints of this origin */
	uint64_t checkpoint_size;              /* the latest */
	uint64_t receiver_records;             /* in the inbox, checked one by one */
	uint64_t delivered;                    /* inbox records that are the sender's, intact */
	int cosigned;                          /* the receiver cosigned ... */
	uint64_t cosigned_size, cosigned_time; /* ... this size, at this time */
	struct tlog_audit_gap *gaps;
	size_t n_gaps;
};

struct tlog_audit_report {
	struct tlog_audit_origin *origins;
	size_t n_origins;
	char **problems; /* discrepancies: each one makes the result 1 */
	size_t n_problems;
	char **notes; /* explained facts (records not yet covered by a checkpoint, unsigned events, ...) */
	size_t n_notes;
	uint64_t records_checked, leaves_checked, checkpoints_checked, events;
	double seconds;
};

/*
 * Verifies the pair. Returns TIP_OK with *out filled (out->n_problems says whether it is clean), or
 * an error when a directory cannot be read at all (err gets a message).
 */
int tlog_audit_verify(const struct tlog_audit_opts *o, struct tlog_audit_report *out, char *err,
                      size_t err_cap);
void tlog_audit_report_free(struct tlog_audit_report *r);
void tlog_audit_report_print(const struct tlog_audit_report *r, FILE *f);
json_t *tlog_audit_report_json(const struct tlog_audit_report *r);

#endif
