#include "diode/chain_resume.h"

#include "common/err.h"

#include <string.h>

int chain_resume(struct spool *s, const char *dir, const struct spool_opts *o, const char *reader_name,
                 const char *origin, const struct rec_keyring *keys, size_t max_record,
                 struct rec_chain *chain)
{
	uint64_t count = spool_count(s);
	struct spool_reader *r;
	struct spool_fault fault;
	const uint8_t *buf;
	size_t len;
	struct rec rec;
	int rc;

	if ((rc = rec_chain_init(chain, origin)) != TIP_OK || count == 0)
		return rc;
	if (!(r = spool_reader_open(dir, reader_name, o, &fault, &rc)))
		return rc;
	if ((rc = spool_reader_seek(r, count - 1)) != TIP_OK)
		goto out;
	if ((rc = spool_reader_next(r, &buf, &len, NULL, &fault)) != 1) {
		rc = rc < 0 ? rc : TIP_ECORRUPT; /* recovery made every record durable: it must be there */
		goto out;
	}
	if (rec_decode(buf, len, max_record, &rec) != TIP_OK) {
		rc = TIP_ECORRUPT;
		goto out;
	}
	/* The spool index is the sequence number: a spool holds one origin from its first record. */
	rc = TIP_ECORRUPT;
	if (strcmp(rec.origin, origin) == 0 && rec.seq == count - 1 &&
	    rec_verify_ring(&rec, keys) == TIP_OK) {
		chain->next_seq = rec.seq;
		rec_chain_advance(chain, rec.hash);
		rc = TIP_OK;
	}
	rec_release(&rec);
out:
	spool_reader_close(r);
	return rc;
}
