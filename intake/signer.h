/*
 * intaked's signer: the only process that holds the intake's Ed25519 signing key.
 *
 * The monitor forks it at start-up, before any worker exists; it keeps the key and nothing that faces
 * the network. Each worker gets its own stream socket to it (passed by the monitor with SCM_RIGHTS)
 * and asks for one signature at a time (docs/formats/signer.md). The signer signs only the body of
 * the next report record of this intake's chain: a canonical RecordBody of version 1, this origin, kind
 * REPORT, a payload that is a SealedReport to the internal zone's key, a seq not below the last one it
 * signed and a time close to its own clock. Anything else is refused, counted and logged. So a
 * compromised worker can at worst get signatures over well-formed report records, never the key.
 */
#ifndef TIP_INTAKE_SIGNER_H
#define TIP_INTAKE_SIGNER_H

#include <stddef.h>
#include <stdint.h>

#include "proto/ed25519.h"
#include "proto/record.h"

/* Answers: one status byte, then 64 signature bytes (zeros when refused). */
#define SIGNER_SIGNED    0
#define SIGNER_REFUSED   1
#define SIGNER_REPLY_LEN (1 + ED25519_SIG_LEN)

struct signer_policy {
	const char *origin;                  /* the chain's origin */
	uint8_t seal_key_id[REC_KEY_ID_LEN]; /* the internal zone's HPKE key: SealedReport.recipient_key_id */
	size_t max_body;                     /* the longest RecordBody accepted */
	int64_t max_skew_ms;                 /* |created_at - now| allowed */
};

struct signer;

/* Takes ownership of key (only on success) and signs once to load the library. NULL on allocation or
 * library failure or a bad origin. */
struct signer *signer_new(struct ed25519_key *key, const struct signer_policy *p);
void signer_free(struct signer *s);

/*
 * Checks one request's RecordBody and signs it. TIP_OK with sig; TIP_EOVERSIZE, TIP_EDECODE
 * (not a canonical RecordBody or SealedReport), TIP_EVERSION, TIP_ERANGE (another origin, kind or
 * key, a seq before the last signed, a time too far off) without; every refusal is counted and logged.
 */
int signer_sign(struct signer *s, const uint8_t *body, size_t len, uint8_t sig[ED25519_SIG_LEN]);
/* Requests refused so far. */
uint64_t signer_refusals(const struct signer *s);

/*
 * The signer process: receives a worker's socket on ctl, answers its requests until it closes or breaks
 * the framing, then waits for the next. Returns when ctl closes (the monitor is gone).
 */
void signer_run(struct signer *s, int ctl);

/* The monitor's half: hands fd to the signer over ctl. TIP_OK or TIP_EIO. */
int signer_pass(int ctl, int fd);

/*
 * The worker's half, a rec_signer: fd points at the int of the worker's socket. TIP_OK with sig;
 * TIP_ERANGE if refused; TIP_EIO if the signer is gone (the outbox then stops taking reports).
 */
int signer_request(void *fd, const uint8_t *msg, size_t len, uint8_t sig[ED25519_SIG_LEN]);

#endif
