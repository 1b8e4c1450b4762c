/*
 * Callbacks by SMS: the monthly draw of closed real-name cases, the SMS that asks each drawn reporter
 * how satisfied they are, and their replies. The SMS gateway is gammu-smsd on its PostgreSQL
 * backend (schema sms, internal/sql/0007_sms.sql): the daemon queues messages in its outbox and reads
 * its inbox, never a modem. All the work is the SQL function sms_tick, called here on the daemon's
 * background thread every sms_poll with a fresh seed from the CSPRNG (used only when last month's
 * draw is due). `casemgrd sample` re-runs a draw from its seed, read-only (callback_sample).
 *
 * One thread uses a struct callback; callback_stats may be read from any thread.
 */
#ifndef TIP_INTERNAL_CALLBACK_H
#define TIP_INTERNAL_CALLBACK_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "internal/db.h"

#define CALLBACK_SEED_LEN   32 /* bytes the daemon draws; a seed may be 16 to 64 */
#define CALLBACK_SHARE_MAX  16 /* "0.000001" .. "1": the settings' text, with its NUL */
#define CALLBACK_TEXT_CHARS 70 /* one Unicode SMS part */

/* What became of a message read from the inbox (sms_received.outcome). */
enum callback_outcome {
	CALLBACK_ANSWER,   /* an understood reply to an open callback */
	CALLBACK_UNPARSED, /* a reply to an open callback, not understood: kept raw */
	CALLBACK_LATE,     /* from a number whose callbacks are answered or past their time */
	CALLBACK_UNKNOWN,  /* from a number no callback went to */
	CALLBACK_OUTCOME_COUNT
};

struct callback_conf {
	const char *conninfo; /* the background thread's role (db_ingest) */
	const char *share;    /* each province's share drawn, as decimal text; "" when count is used */
	long long count;      /* cases drawn per province; 0 when share is used; neither: no draws */
	const char *text;     /* the callback SMS */
	char send_after[6], send_before[6]; /* "HH:MM", China time */
	long long open_ms;                  /* how long after its draw a callback takes replies */
	long long poll_ms;
	long long batch; /* inbox messages per pass */
};

struct callback_stats {
	_Atomic uint64_t received[CALLBACK_OUTCOME_COUNT];
	_Atomic uint64_t sent, failed; /* SMS gammu-smsd reported sent, or gave up on */
	_Atomic uint64_t draws, queued;
};

struct callback;

/* Copies conf (its strings are borrowed). NULL: out of memory. */
struct callback *callback_new(const struct callback_conf *conf);
/* Closes the connection. NULL is safe. */
void callback_free(struct callback *cb);
/*
 * One pass of sms_tick when poll_ms has passed since the last (0 otherwise): a due draw, send results,
 * up to batch replies, in one transaction. 1 after a pass, or TIP_EIO with msg (the connection is
 * dropped; the next call reconnects). A new draw is logged with its seed.
 */
int callback_step(struct callback *cb, char msg[DB_MSG_MAX]);
const struct callback_stats *callback_stats(const struct callback *cb);
/* "answer", "unparsed", "late", "unknown": the label of each received counter. */
const char *callback_outcome_name(enum callback_outcome o);

/* Settings checks shared by the daemon and `casemgrd sample`. TIP_OK or TIP_EINVAL. */
/* A share: a decimal in (0, 1] with at most 6 decimals ("0.05", "1"). */
int callback_check_share(const char *share);
/* "HH:MM-HH:MM", the first before the second: into after and before ("HH:MM"). */
int callback_parse_hours(const char *hours, char after[6], char before[6]);
/* UTF-8, 1 to CALLBACK_TEXT_CHARS characters of the basic multilingual plane, no control characters. */
int callback_check_text(const char *text);

/*
 * casemgrd sample: the draw of month ("YYYY-MM") from seed (hex), under share (decimal text) or count
 * (both unset: the stored draw's rule), read-only, connected as the schema owner. Prints to out:
 *   month YYYY-MM / seed HEX / share S or count N
 *   province P eligible N drawn K        (per province)
 *   case P RANK CASE_ID                  (per drawn case, by province and rank)
 *   digest HEX                           (SHA-256 of the case lines, newline included)
 *   stored none | stored other <seed> <rule> | stored identical | stored differs[ (eligible changed)]
 * TIP_OK; TIP_ECORRUPT when the stored draw of this seed and rule differs from the one recomputed
 * (printed first); TIP_EINVAL with msg for a bad argument or no rule; TIP_EIO with msg.
 */
int callback_sample(PGconn *c, const char *month, const char *seed_hex, const char *share, long long count,
                    FILE *out, char msg[DB_MSG_MAX]);

#endif
