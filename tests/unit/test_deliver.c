/* The receiver's delivery into inbox spools: exactly once, in order, forgeries quarantined. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/err.h"
#include "diode/deliver.h"
#include "proto/keyfile.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 10

struct source {
	struct key key;
	struct ed25519_key *sk;
	struct ed25519_pub *pk;
	uint8_t *rec[N];
	size_t len[N];
};

static void make_source(struct source *s, const char *origin, const char *payload_tag)
{
	struct rec_chain c;
	uint8_t hash[REC_HASH_LEN];
	char payload[64];

	assert_int_equal(key_generate(KEY_ED25519, origin, &s->key), TIP_OK);
	s->sk = ed25519_key_new(s->key.secret);
	s->pk = ed25519_pub_new(s->key.pub);
	rec_chain_init(&c, origin);
	for (int i = 0; i < N; i++) {
		snprintf(payload, sizeof(payload), "%s %d", payload_tag, i);
		assert_int_equal(rec_sign(&c, s->sk, s->key.id, REC_REPORT, 1, (const uint8_t *)payload,
		                          strlen(payload), 4096, &s->rec[i], &s->len[i], hash),
		                 TIP_OK);
		rec_chain_advance(&c, hash);
	}
}

static void free_source(struct source *s)
{
	for (int i = 0; i < N; i++)
		free(s->rec[i]);
	ed25519_key_free(s->sk);
	ed25519_pub_free(s->pk);
}

/* Two origins, intake-a and intake-b, with their sources. */
static void make_origins(struct source *a, struct source *b, struct deliver_origin origins[2])
{
	make_source(a, "intake-a", "a");
	make_source(b, "intake-b", "b");
	origins[0] = (struct deliver_origin){.name = "intake-a"};
	origins[1] = (struct deliver_origin){.name = "intake-b"};
	assert_int_equal(rec_keyring_add(&origins[0].keys, a->pk, a->key.id), TIP_OK);
	assert_int_equal(rec_keyring_add(&origins[1].keys, b->pk, b->key.id), TIP_OK);
}

/* A record signed with a's key at seq but with another history than a's chain: quarantined as a fork. */
static void deliver_fork(struct deliver *d, struct source *a, uint64_t seq)
{
	struct rec_chain fc;
	uint8_t h[REC_HASH_LEN], *forked;
	size_t flen;
	enum deliver_reason why;

	rec_chain_init(&fc, "intake-a");
	fc.next_seq = seq;
	memset(fc.prev_hash, 7, sizeof(fc.prev_hash));
	assert_int_equal(rec_sign(&fc, a->sk, a->key.id, REC_REPORT, 1, (const uint8_t *)"x", 1, 4096,
	                          &forked, &flen, h),
	                 TIP_OK);
	assert_int_equal(deliver_record(d, forked, flen, &why), DELIVER_REJECTED);
	assert_int_equal(why, REJECT_FORK);
	free(forked);
}

static struct deliver *open_deliver(const char *dir, struct deliver_origin *o, size_t held)
{
	char inbox[512], quarantine[512];
	struct deliver_conf c = {.inbox_dir = inbox,
	                         .quarantine_dir = quarantine,
	                         .spool = spool_opts_default(),
	                         .origins = o,
	                         .n_origins = 2,
	                         .max_record = 4096,
	                         .max_held_bytes = held};
	int err;
	struct deliver *d;

	snprintf(inbox, sizeof(inbox), "%s/inbox", dir);
	snprintf(quarantine, sizeof(quarantine), "%s/quarantine", dir);
	d = deliver_new(&c, &err);
	if (!d)
		fail_msg("deliver_new: %s", tip_strerror(err));
	return d;
}

static uint64_t count_spool(const char *dir, const char *sub, int check_order)
{
	char path[512];
	struct spool_fault f;
	int err;
	const uint8_t *buf;
	size_t len;
	uint64_t n = 0, index;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	struct spool_reader *r = spool_reader_open(path, "check", NULL, &f, &err);
	assert_non_null(r);
	while (spool_reader_next(r, &buf, &len, &index, &f) == 1) {
		if (check_order) {
			struct rec rec;

			assert_int_equal(rec_decode(buf, len, 4096, &rec), TIP_OK);
			assert_int_equal(rec.seq, n);
			rec_release(&rec);
		}
		n++;
	}
	spool_reader_close(r);
	return n;
}

static void test_exactly_once_in_order(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	struct source a, b, forger;
	enum deliver_reason why;

	struct deliver_origin origins[2];
	make_origins(&a, &b, origins);
	make_source(&forger, "intake-a", "forged"); /* another key claiming origin intake-a */

	struct deliver *d = open_deliver(dir, origins, 1 << 20);
	assert_int_equal(deliver_record(d, a.rec[0], a.len[0], &why), DELIVER_NEXT);
	assert_int_equal(deliver_record(d, a.rec[0], a.len[0], &why), DELIVER_DUPLICATE);
	/* Out of order: 3 and 2 wait for 1. */
	assert_int_equal(deliver_record(d, a.rec[3], a.len[3], &why), DELIVER_HELD);
	assert_int_equal(deliver_record(d, a.rec[2], a.len[2], &why), DELIVER_HELD);
	assert_int_equal(deliver_record(d, a.rec[2], a.len[2], &why), DELIVER_DUPLICATE);
	uint64_t next, highest;
	int known;
	assert_int_equal(deliver_position(d, "intake-a", &next, &highest, &known), TIP_OK);
	assert_int_equal(next, 1);
	assert_int_equal(highest, 3);
	assert_int_equal(deliver_record(d, a.rec[1], a.len[1], &why), DELIVER_NEXT);
	assert_int_equal(deliver_position(d, "intake-a", &next, &highest, &known), TIP_OK);
	assert_int_equal(next, 4);
	/* Another origin goes its own way. */
	assert_int_equal(deliver_record(d, b.rec[0], b.len[0], &why), DELIVER_NEXT);

	/* Forgeries and garbage go to quarantine, each with its reason. */
	assert_int_equal(deliver_record(d, forger.rec[4], forger.len[4], &why), DELIVER_REJECTED);
	assert_int_equal(why, REJECT_KEY);
	uint8_t *bad = malloc(a.len[4]);
	memcpy(bad, a.rec[4], a.len[4]);
	bad[a.len[4] - 1] ^= 1; /* the signature's last byte */
	assert_int_equal(deliver_record(d, bad, a.len[4], &why), DELIVER_REJECTED);
	assert_int_equal(why, REJECT_SIGNATURE);
	free(bad);
	assert_int_equal(deliver_record(d, (const uint8_t *)"junk", 4, &why), DELIVER_REJECTED);
	assert_int_equal(why, REJECT_DECODE);
	struct source c;
	make_source(&c, "intake-c", "c");
	assert_int_equal(deliver_record(d, c.rec[0], c.len[0], &why), DELIVER_REJECTED);
	assert_int_equal(why, REJECT_ORIGIN);
	free_source(&c);
	/* A record with intake-a's key and the right seq but another history: a fork. */
	deliver_fork(d, &a, 4);
	assert_int_equal(deliver_sync(d), TIP_OK);
	deliver_free(d);

	/* After a restart, a full replay delivers only what is new. */
	d = open_deliver(dir, origins, 1 << 20);
	size_t fresh = 0;
	for (int i = N - 1; i >= 0; i--) /* replayed backwards, the worst order */
		fresh += deliver_record(d, a.rec[i], a.len[i], &why) != DELIVER_DUPLICATE;
	assert_int_equal(deliver_position(d, "intake-a", &next, &highest, &known), TIP_OK);
	assert_int_equal(next, N);
	assert_int_equal(deliver_stats(d)->delivered, N - 4);
	assert_int_equal(fresh, N - 4);
	assert_int_equal(deliver_sync(d), TIP_OK);
	deliver_free(d);
	assert_int_equal(count_spool(dir, "inbox/intake-a", 1), N);
	assert_int_equal(count_spool(dir, "inbox/intake-b", 1), 1);
	assert_int_equal(count_spool(dir, "quarantine", 0), 5);

	free_source(&a);
	free_source(&b);
	free_source(&forger);
	tu_rmtree(dir);
	free(dir);
}

static void test_holding_is_capped(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	struct source a, b;
	enum deliver_reason why;

	struct deliver_origin origins[2];
	make_origins(&a, &b, origins);
	/* Room for about two held records. */
	struct deliver *d = open_deliver(dir, origins, a.len[1] * 2 + 10);
	assert_int_equal(deliver_record(d, a.rec[1], a.len[1], &why), DELIVER_HELD);
	assert_int_equal(deliver_record(d, a.rec[2], a.len[2], &why), DELIVER_HELD);
	assert_int_equal(deliver_record(d, a.rec[3], a.len[3], &why), DELIVER_DROPPED);
	assert_int_equal(deliver_record(d, a.rec[0], a.len[0], &why), DELIVER_NEXT);
	assert_int_equal(deliver_stats(d)->held_bytes, 0);
	assert_int_equal(deliver_record(d, a.rec[3], a.len[3], &why), DELIVER_NEXT);
	deliver_free(d);
	free_source(&a);
	free_source(&b);
	tu_rmtree(dir);
	free(dir);
}

/* A replay that arrives while the first copy waits for delivery is not checked again, unless that copy
 * turns out bad or is dropped. */
static void test_copies_checked_once(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	struct source a, b;
	struct deliver_check first, again, bad_check;
	enum deliver_reason why;

	struct deliver_origin origins[2];
	make_origins(&a, &b, origins);
	struct deliver *d = open_deliver(dir, origins, a.len[2] + 10);

	deliver_check(d, a.rec[0], a.len[0], &first);
	deliver_check(d, a.rec[0], a.len[0], &again);
	assert_int_equal(first.verdict, TIP_OK);
	assert_int_equal(again.verdict, DELIVER_DUPLICATE);
	assert_int_equal(deliver_checked(d, a.rec[0], a.len[0], &first, &why), DELIVER_NEXT);
	assert_int_equal(deliver_checked(d, a.rec[0], a.len[0], &again, &why), DELIVER_DUPLICATE);

	/* A copy whose signature fails leaves the next copy to be checked. */
	uint8_t *bad = malloc(a.len[1]);
	memcpy(bad, a.rec[1], a.len[1]);
	bad[a.len[1] - 1] ^= 1;
	deliver_check(d, bad, a.len[1], &bad_check);
	assert_int_equal(bad_check.verdict, DELIVER_REJECTED);
	free(bad);
	deliver_check(d, a.rec[1], a.len[1], &first);
	assert_int_equal(first.verdict, TIP_OK);
	assert_int_equal(deliver_checked(d, a.rec[1], a.len[1], &first, &why), DELIVER_NEXT);

	/* A copy dropped for want of holding memory leaves the next copy to be checked too. */
	assert_int_equal(deliver_record(d, a.rec[3], a.len[3], &why), DELIVER_HELD);
	assert_int_equal(deliver_record(d, a.rec[4], a.len[4], &why), DELIVER_DROPPED);
	assert_int_equal(deliver_record(d, a.rec[2], a.len[2], &why), DELIVER_NEXT);
	assert_int_equal(deliver_record(d, a.rec[4], a.len[4], &why), DELIVER_NEXT);

	/* So does a fork: the record with the right history still gets in. */
	deliver_fork(d, &a, 5);
	assert_int_equal(deliver_record(d, a.rec[5], a.len[5], &why), DELIVER_NEXT);
	deliver_free(d);
	free_source(&a);
	free_source(&b);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_copies_checked_once),
	        cmocka_unit_test(test_exactly_once_in_order),
	        cmocka_unit_test(test_holding_is_capped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
