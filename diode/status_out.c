#include "diode/status_out.h"

#include "common/err.h"
#include "diode/chain_resume.h"

#include <stdlib.h>

struct spool_opts status_out_opts(void)
{
	struct spool_opts o = spool_opts_default();

	o.max_record = BULLETIN_RECORD_MAX;
	return o;
}

int status_out_resume(struct spool *s, const char *dir, const char *origin, const struct ed25519_pub *pub,
                      const uint8_t key_id[REC_KEY_ID_LEN], const struct rec_keyring *retired,
                      struct rec_chain *chain)
{
	struct spool_opts o = status_out_opts();
	struct rec_keyring keys = {0};
	int rc;

	if (retired)
		keys = *retired;
	if ((rc = rec_keyring_add(&keys, pub, key_id)) != TIP_OK)
		return rc;
	return chain_resume(s, dir, &o, "status-writer", origin, &keys, BULLETIN_RECORD_MAX, chain);
}

int status_out_append(struct spool *s, struct rec_chain *chain, const struct status_out_signer *signer,
                      const struct taxonomy *tax, const struct bulletin *b, int64_t created_ms, uint64_t *seq)
{
	uint8_t *payload = NULL, *rec = NULL, hash[REC_HASH_LEN];
	size_t payload_len, rec_len;
	int rc;

	/* A spool holds one chain from its first record: the index is the sequence number. */
	if (spool_count(s) != chain->next_seq)
		return TIP_ECORRUPT;
	if ((rc = bulletin_encode(b, tax, &payload, &payload_len)) != TIP_OK ||
	    (rc = rec_sign(chain, signer->key, signer->key_id, REC_STATUS, created_ms, payload, payload_len,
	                   BULLETIN_RECORD_MAX, &rec, &rec_len, hash)) != TIP_OK ||
	    (rc = spool_append(s, rec, rec_len, NULL)) != TIP_OK)
		goto out;
	if (seq)
		*seq = chain->next_seq;
	rec_chain_advance(chain, hash);
out:
	free(payload);
	free(rec);
	return rc;
}
