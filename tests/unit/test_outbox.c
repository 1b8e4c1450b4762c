/*
 * The outbox pipeline: reports come back durable, in order, with a gapless
 * chain; a report that cannot be sealed fails alone and the ones after it are
 * re-sealed for the seq they really get; a restart continues the chain.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/err.h"
#include "intake/outbox.h"
#include "proto/codec.h"
#include "proto/keyfile.h"
#include "proto/record.h"
#include "proto/report.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#define MAX_DONE 64

struct result {
	int rc;
	uint64_t seq;
};

static struct result results[MAX_DONE];
static size_t n_done;
static struct event_base *base;

static void on_done(void *ctx, int rc, uint64_t seq, int64_t created_at)
{
	size_t i = (size_t)(uintptr_t)ctx;

	(void)created_at;
	results[i].rc = rc;
	results[i].seq = seq;
	n_done++;
}

static void wait_for(size_t n)
{
	while (n_done < n)
		event_base_loop(base, EVLOOP_ONCE);
}

struct keys {
	struct key sign, seal;
	struct ed25519_key *k;
	struct ed25519_pub *p;
};

static struct outbox *open_outbox_retired(const char *dir, struct keys *ks, size_t max_record,
                                          const struct rec_keyring *retired, int *err)
{
	struct outbox_conf c = {
	        .spool_dir = dir,
	        .spool = spool_opts_default(),
	        .origin = "intake-u",
	        .sign = rec_ed25519_signer,
	        .sign_arg = ks->k,
	        .verify_key = ks->p,
	        .aead = HPKE_AEAD_CHACHA20_POLY1305,
	        .max_pending = 100,
	        .seal_threads = 3,
	        .max_record = max_record,
	        .retired = retired,
	};

	memcpy(c.sign_key_id, ks->sign.id, 4);
	memcpy(c.seal_pub, ks->seal.pub, HPKE_KEY_LEN);
	memcpy(c.seal_key_id, ks->seal.id, 4);
	return outbox_new(base, &c, err);
}

static struct outbox *open_outbox(const char *dir, struct keys *ks, size_t max_record)
{
	int err;
	struct outbox *o = open_outbox_retired(dir, ks, max_record, NULL, &err);

	if (!o)
		fail_msg("outbox_new: %s", tip_strerror(err));
	return o;
}

static void keys_make(struct keys *ks)
{
	assert_int_equal(key_generate(KEY_ED25519, "intake-u", &ks->sign), TIP_OK);
	assert_int_equal(key_generate(KEY_X25519, "seal", &ks->seal), TIP_OK);
	ks->k = ed25519_key_new(ks->sign.secret);
	ks->p = ed25519_pub_new(ks->sign.pub);
}

static void keys_free(struct keys *ks)
{
	ed25519_key_free(ks->k);
	ed25519_pub_free(ks->p);
	key_wipe(&ks->sign);
}

static void test_pipeline(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	struct keys ks;
	struct tu_report small, big;
	static char huge[8000];
	struct outbox *o;

	base = event_base_new();
	keys_make(&ks);
	tu_report_init(&small);
	tu_report_init(&big);
	memset(huge, 'x', sizeof(huge) - 1);
	big.activity.narrative = huge; /* too large for the 4 KiB records of this outbox */

	o = open_outbox(dir, &ks, 4096);
	n_done = 0;
	/* 20 reports, every fifth one too large to seal. */
	for (size_t i = 0; i < 20; i++)
		assert_int_equal(
		        outbox_submit(o, i % 5 == 2 ? &big.r : &small.r, on_done, (void *)(uintptr_t)i),
		        TIP_OK);
	wait_for(20);
	uint64_t expect = 0;
	for (size_t i = 0; i < 20; i++) {
		if (i % 5 == 2) {
			assert_int_equal(results[i].rc, TIP_EOVERSIZE);
		} else {
			assert_int_equal(results[i].rc, TIP_OK);
			assert_int_equal(results[i].seq, expect++);
		}
	}
	assert_int_equal(outbox_durable(o), 16);
	assert_int_equal(outbox_pending(o), 0);
	outbox_free(o);

	/* A restart continues the chain where it stood. */
	o = open_outbox(dir, &ks, 4096);
	n_done = 0;
	assert_int_equal(outbox_submit(o, &small.r, on_done, (void *)(uintptr_t)0), TIP_OK);
	wait_for(1);
	assert_int_equal(results[0].rc, TIP_OK);
	assert_int_equal(results[0].seq, 16);
	outbox_free(o);

	/* Every record: the right seq, a continuous chain, a good signature, and a report that opens for it.
	 */
	struct spool_fault fault;
	int err;
	struct spool_reader *rd = spool_reader_open(dir, "check", NULL, &fault, &err);
	struct rec_chain chain;
	const uint8_t *buf;
	size_t len;
	uint64_t index;

	assert_non_null(rd);
	rec_chain_init(&chain, "intake-u");
	for (uint64_t i = 0; i < 17; i++) {
		struct rec rec;
		Tip__Report *r;

		assert_int_equal(spool_reader_next(rd, &buf, &len, &index, &fault), 1);
		assert_int_equal(rec_decode(buf, len, 4096, &rec), TIP_OK);
		assert_int_equal(rec.seq, i);
		assert_int_equal(rec_chain_check(&chain, &rec), REC_CHAIN_NEXT);
		rec_chain_advance(&chain, rec.hash);
		assert_int_equal(rec_verify(&rec, ks.p), TIP_OK);
		assert_int_equal(report_open(rec.payload, rec.payload_len, 4096, ks.seal.secret, ks.seal.id,
		                             "intake-u", i, &r),
		                 TIP_OK);
		assert_string_equal(r->activity->narrative, small.activity.narrative);
		codec_free(&r->base);
		rec_release(&rec);
	}
	assert_int_equal(spool_reader_next(rd, &buf, &len, &index, &fault), 0);
	spool_reader_close(rd);

	/* A spool written under another origin is refused. */
	struct outbox_conf c = {.spool_dir = dir,
	                        .spool = spool_opts_default(),
	                        .origin = "intake-other",
	                        .sign = rec_ed25519_signer,
	                        .sign_arg = ks.k,
	                        .verify_key = ks.p,
	                        .max_pending = 1,
	                        .max_record = 4096};
	assert_null(outbox_new(base, &c, &err));
	assert_int_equal(err, TIP_ECORRUPT);

	keys_free(&ks);
	event_base_free(base);
	tu_rmtree(dir);
	free(dir);
}

/*
 * A rotated signing key: the spool's last record is signed with the old key, so the outbox opens
 * only when the old key is among the retired keys; new records then carry the new key.
 */
static void test_rotation(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	struct keys old, cur;
	struct tu_report rep;
	struct rec_keyring retired = {0};
	struct outbox *o;
	int err;

	base = event_base_new();
	keys_make(&old);
	keys_make(&cur);
	cur.seal = old.seal;
	tu_report_init(&rep);
	o = open_outbox(dir, &old, 4096);
	n_done = 0;
	assert_int_equal(outbox_submit(o, &rep.r, on_done, (void *)(uintptr_t)0), TIP_OK);
	assert_int_equal(outbox_submit(o, &rep.r, on_done, (void *)(uintptr_t)1), TIP_OK);
	wait_for(2);
	outbox_free(o);

	assert_null(open_outbox_retired(dir, &cur, 4096, NULL, &err));
	assert_int_equal(err, TIP_ECORRUPT);
	assert_int_equal(rec_keyring_add(&retired, old.p, old.sign.id), TIP_OK);
	assert_non_null(o = open_outbox_retired(dir, &cur, 4096, &retired, &err));
	n_done = 0;
	assert_int_equal(outbox_submit(o, &rep.r, on_done, (void *)(uintptr_t)0), TIP_OK);
	wait_for(1);
	assert_int_equal(results[0].rc, TIP_OK);
	assert_int_equal(results[0].seq, 2);
	outbox_free(o);

	struct spool_fault fault;
	struct spool_reader *rd = spool_reader_open(dir, "check", NULL, &fault, &err);
	const uint8_t *buf;
	size_t len;
	struct rec rec;

	assert_non_null(rd);
	assert_int_equal(spool_reader_seek(rd, 2), TIP_OK);
	assert_int_equal(spool_reader_next(rd, &buf, &len, NULL, NULL), 1);
	assert_int_equal(rec_decode(buf, len, 4096, &rec), TIP_OK);
	assert_memory_equal(rec.key_id, cur.sign.id, 4);
	assert_int_equal(rec_verify(&rec, cur.p), TIP_OK);
	rec_release(&rec);
	spool_reader_close(rd);
	keys_free(&old);
	keys_free(&cur);
	event_base_free(base);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_pipeline),
	        cmocka_unit_test(test_rotation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
