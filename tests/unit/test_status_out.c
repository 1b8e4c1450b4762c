/*
 * diode/status_out: bulletins become the chain's next STATUS records, which verify and decode back; a
 * refused bulletin or a spool holding another chain changes neither the spool nor the chain; a writer
 * resumes after the last record only when it is its own.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/err.h"
#include "diode/status_out.h"
#include "proto/keyfile.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct taxonomy *tax;
static struct key key;
static struct ed25519_key *signing;
static struct ed25519_pub *pub;
static char *dir;

static int setup(void **state)
{
	(void)state;
	tax = tu_taxonomy();
	dir = tu_mkdtemp();
	if (key_generate(KEY_ED25519, "internal", &key) != TIP_OK ||
	    !(signing = ed25519_key_new(key.secret)) || !(pub = ed25519_pub_new(key.pub)))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ed25519_key_free(signing);
	ed25519_pub_free(pub);
	key_wipe(&key);
	tax_free(tax);
	tu_rmtree(dir);
	free(dir);
	return 0;
}

static struct bulletin sample(const char *stage, const char *date)
{
	struct bulletin b;

	memset(&b, 0, sizeof(b));
	memset(b.query_hash, 0x5c, sizeof(b.query_hash));
	snprintf(b.stage, sizeof(b.stage), "%s", stage);
	memcpy(b.result, "pending", sizeof("pending"));
	snprintf(b.date, sizeof(b.date), "%s", date);
	return b;
}

/* The spool's records, checked: STATUS of "internal", seq = index, chained, signed; bulletins into out. */
static size_t read_back(const char *path, struct bulletin *out, size_t cap)
{
	struct spool_opts o = status_out_opts();
	struct spool_fault fault;
	struct spool_reader *r;
	struct rec_chain chain;
	const uint8_t *buf;
	size_t len, n = 0;
	uint64_t index;
	int err;

	assert_non_null(r = spool_reader_open(path, "test", &o, &fault, &err));
	rec_chain_init(&chain, "internal");
	while (spool_reader_next(r, &buf, &len, &index, &fault) == 1) {
		struct rec rec;

		assert_true(n < cap);
		assert_int_equal(rec_decode(buf, len, BULLETIN_RECORD_MAX, &rec), TIP_OK);
		assert_int_equal(rec.kind, REC_STATUS);
		assert_int_equal(rec.seq, index);
		assert_int_equal(rec.created_at, 1800000000000 + (int64_t)index);
		assert_int_equal(rec_chain_check(&chain, &rec), REC_CHAIN_NEXT);
		assert_memory_equal(rec.key_id, key.id, REC_KEY_ID_LEN);
		assert_int_equal(rec_verify(&rec, pub), TIP_OK);
		assert_int_equal(bulletin_decode(rec.payload, rec.payload_len, tax, &out[n++]), TIP_OK);
		rec_chain_advance(&chain, rec.hash);
		rec_release(&rec);
	}
	spool_reader_close(r);
	return n;
}

static void test_append_resume(void **state)
{
	(void)state;
	struct status_out_signer signer = {signing, {0}};
	struct spool_opts o = status_out_opts();
	struct bulletin b[3] = {sample("received", "2026-01-31"), sample("accepted", "2026-02-01"),
	                        sample("closed", "2028-02-29")},
	                back[4];
	struct rec_chain chain, saved;
	char path[600];
	struct spool *s;
	uint64_t seq;
	int err;

	memcpy(signer.key_id, key.id, REC_KEY_ID_LEN);
	snprintf(path, sizeof(path), "%s/status", dir);
	assert_non_null(s = spool_open(path, &o, NULL, NULL, &err));
	assert_int_equal(status_out_resume(s, path, "internal", pub, key.id, NULL, &chain), TIP_OK);
	assert_int_equal(chain.next_seq, 0);
	for (uint64_t i = 0; i < 2; i++) {
		assert_int_equal(
		        status_out_append(s, &chain, &signer, tax, &b[i], 1800000000000 + (int64_t)i, &seq),
		        TIP_OK);
		assert_int_equal(seq, i);
	}
	/* Refused: an unknown code, a date outside the calendar; nothing written, the chain unmoved. */
	saved = chain;
	struct bulletin bad = sample("no_such_stage", "2026-01-01");
	assert_int_equal(status_out_append(s, &chain, &signer, tax, &bad, 1, NULL), TIP_ERANGE);
	bad = sample("closed", "2026-02-29");
	assert_int_equal(status_out_append(s, &chain, &signer, tax, &bad, 1, NULL), TIP_EINVAL);
	bad = sample("closed", "1999-12-31");
	assert_int_equal(status_out_append(s, &chain, &signer, tax, &bad, 1, NULL), TIP_EINVAL);
	/* A chain that is not the spool's (here: one record behind) is refused before anything is written. */
	struct rec_chain behind = saved;
	behind.next_seq--;
	assert_int_equal(status_out_append(s, &behind, &signer, tax, &b[2], 1, NULL), TIP_ECORRUPT);
	assert_memory_equal(&chain, &saved, sizeof(chain));
	assert_int_equal(spool_count(s), 2);
	assert_int_equal(spool_close(s), TIP_OK);

	/* Reopened: the writer continues after its last record. */
	assert_non_null(s = spool_open(path, &o, NULL, NULL, &err));
	assert_int_equal(status_out_resume(s, path, "internal", pub, key.id, NULL, &chain), TIP_OK);
	assert_memory_equal(&chain, &saved, sizeof(chain));
	assert_int_equal(status_out_append(s, &chain, &signer, tax, &b[2], 1800000000002, &seq), TIP_OK);
	assert_int_equal(seq, 2);
	assert_int_equal(spool_close(s), TIP_OK);
	assert_int_equal(read_back(path, back, 4), 3);
	assert_memory_equal(back, b, sizeof(b));

	/* Not its own: another origin's name, or another key, finds the last record foreign. */
	struct key other;
	struct ed25519_pub *other_pub;
	assert_int_equal(key_generate(KEY_ED25519, "internal", &other), TIP_OK);
	assert_non_null(other_pub = ed25519_pub_new(other.pub));
	assert_non_null(s = spool_open(path, &o, NULL, NULL, &err));
	assert_int_equal(status_out_resume(s, path, "internal-b", pub, key.id, NULL, &chain), TIP_ECORRUPT);
	assert_int_equal(status_out_resume(s, path, "internal", other_pub, other.id, NULL, &chain),
	                 TIP_ECORRUPT);
	/* A rotated bulletin key: with the old one among the retired keys, the chain goes on. */
	struct rec_keyring retired = {0};
	assert_int_equal(rec_keyring_add(&retired, pub, key.id), TIP_OK);
	assert_int_equal(status_out_resume(s, path, "internal", other_pub, other.id, &retired, &chain),
	                 TIP_OK);
	assert_int_equal(chain.next_seq, 3);
	assert_int_equal(spool_close(s), TIP_OK);
	ed25519_pub_free(other_pub);
	key_wipe(&other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_append_resume),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
