#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/err.h"
#include "proto/codec.h"
#include "proto/record.h"
#include "record.pb-c.h"

#include <stdlib.h>
#include <string.h>

static const uint8_t key_id[4] = {0xde, 0xad, 0xbe, 0xef};

struct fixture {
	struct ed25519_key *key;
	struct ed25519_pub *pub;
	struct ed25519_pub *other;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	uint8_t seed[ED25519_SEED_LEN], pub[ED25519_PUB_LEN];

	memset(seed, 7, sizeof(seed));
	f->key = ed25519_key_new(seed);
	ed25519_key_public(f->key, pub);
	f->pub = ed25519_pub_new(pub);
	memset(seed, 8, sizeof(seed));
	struct ed25519_key *k2 = ed25519_key_new(seed);
	ed25519_key_public(k2, pub);
	ed25519_key_free(k2);
	f->other = ed25519_pub_new(pub);
	*state = f;
	return f->key && f->pub && f->other ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	ed25519_key_free(f->key);
	ed25519_pub_free(f->pub);
	ed25519_pub_free(f->other);
	free(f);
	return 0;
}

static void sign_next(struct fixture *f, struct rec_chain *c, const char *payload, uint8_t **out, size_t *len)
{
	uint8_t hash[REC_HASH_LEN];

	assert_int_equal(rec_sign(c, f->key, key_id, REC_REPORT, 1700000000000, (const uint8_t *)payload,
	                          strlen(payload), 1 << 20, out, len, hash),
	                 TIP_OK);
	rec_chain_advance(c, hash);
}

static void test_sign_decode_verify_chain(void **state)
{
	struct fixture *f = *state;
	struct rec_chain w, r;
	uint8_t *buf[3];
	size_t len[3];
	struct rec rec;

	assert_int_equal(rec_chain_init(&w, "intake-a"), TIP_OK);
	assert_int_equal(rec_chain_init(&r, "intake-a"), TIP_OK);
	for (int i = 0; i < 3; i++)
		sign_next(f, &w, i == 1 ? "" : "payload", &buf[i], &len[i]);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(rec_decode(buf[i], len[i], 1 << 20, &rec), TIP_OK);
		assert_int_equal(rec.seq, (uint64_t)i);
		assert_string_equal(rec.origin, "intake-a");
		assert_int_equal(rec.kind, REC_REPORT);
		assert_int_equal(rec.created_at, 1700000000000);
		assert_memory_equal(rec.key_id, key_id, 4);
		assert_int_equal(rec.payload_len, i == 1 ? 0 : 7);
		assert_int_equal(rec_verify(&rec, f->pub), TIP_OK);
		assert_int_equal(rec_verify(&rec, f->other), TIP_EVERIFY);
		assert_int_equal(rec_chain_check(&r, &rec), REC_CHAIN_NEXT);
		rec_chain_advance(&r, rec.hash);
		assert_int_equal(rec_chain_check(&r, &rec), REC_CHAIN_DUPLICATE);
		rec_release(&rec);
	}
	assert_memory_equal(r.prev_hash, w.prev_hash, REC_HASH_LEN);
	for (int i = 0; i < 3; i++)
		free(buf[i]);
}

static void test_chain_verdicts(void **state)
{
	struct fixture *f = *state;
	struct rec_chain w, r, other;
	uint8_t *a, *b, *forked;
	size_t alen, blen, flen;
	struct rec rec;

	rec_chain_init(&w, "intake-a");
	rec_chain_init(&r, "intake-a");
	rec_chain_init(&other, "intake-b");
	sign_next(f, &w, "zero", &a, &alen);
	struct rec_chain fork = w;
	sign_next(f, &w, "one", &b, &blen);
	fork.prev_hash[0] ^= 1;
	sign_next(f, &fork, "one'", &forked, &flen);

	assert_int_equal(rec_decode(b, blen, 1 << 20, &rec), TIP_OK);
	assert_int_equal(rec_chain_check(&r, &rec), REC_CHAIN_GAP);
	assert_int_equal(rec_chain_check(&other, &rec), REC_CHAIN_FOREIGN);
	rec_release(&rec);
	assert_int_equal(rec_decode(a, alen, 1 << 20, &rec), TIP_OK);
	rec_chain_advance(&r, rec.hash);
	rec_release(&rec);
	assert_int_equal(rec_decode(forked, flen, 1 << 20, &rec), TIP_OK);
	assert_int_equal(rec_verify(&rec, f->pub), TIP_OK); /* well signed, yet it does not follow */
	assert_int_equal(rec_chain_check(&r, &rec), REC_CHAIN_FORK);
	rec_release(&rec);
	free(a);
	free(b);
	free(forked);
}

static void test_every_flipped_bit_is_caught(void **state)
{
	struct fixture *f = *state;
	struct rec_chain w;
	uint8_t *buf;
	size_t len;
	struct rec rec;

	rec_chain_init(&w, "intake-a");
	sign_next(f, &w, "a sealed report would be here", &buf, &len);
	for (size_t i = 0; i < len * 8; i++) {
		buf[i / 8] ^= (uint8_t)(1u << (i % 8));
		int rc = rec_decode(buf, len, 1 << 20, &rec);

		if (rc == TIP_OK) {
			/* It still parses: then the signature (or key id) must give it away. */
			int verified =
			        rec_verify(&rec, f->pub) == TIP_OK && memcmp(rec.key_id, key_id, 4) == 0;

			assert_false(verified);
			rec_release(&rec);
		}
		buf[i / 8] ^= (uint8_t)(1u << (i % 8));
	}
	free(buf);
}

static void test_decode_rejects(void **state)
{
	struct fixture *f = *state;
	struct rec_chain w;
	uint8_t *buf, *bad;
	size_t len, blen;
	struct rec rec;
	uint8_t sig[ED25519_SIG_LEN] = {0}, prev[REC_HASH_LEN] = {0};

	rec_chain_init(&w, "intake-a");
	sign_next(f, &w, "payload", &buf, &len);
	assert_int_equal(rec_decode(buf, len, len - 1, &rec), TIP_EOVERSIZE);
	for (size_t cut = 0; cut < len; cut++) {
		int rc = rec_decode(buf, cut, 1 << 20, &rec);

		assert_true(rc == TIP_ETRUNCATED || rc == TIP_EDECODE);
	}
	free(buf);

	/* A body with an unknown version, a bad origin, a bad kind, a short prev_hash. */
	struct {
		uint32_t version;
		const char *origin;
		int kind;
		size_t prev_len;
		int want;
	} cases[] = {
	        {2, "intake-a", REC_REPORT, 32, TIP_EVERSION}, {0, "intake-a", REC_REPORT, 32, TIP_EVERSION},
	        {1, "intake a", REC_REPORT, 32, TIP_EDECODE},  {1, "", REC_REPORT, 32, TIP_EDECODE},
	        {1, "intake-a", 0, 32, TIP_EDECODE},           {1, "intake-a", 9, 32, TIP_EDECODE},
	        {1, "intake-a", REC_REPORT, 31, TIP_EDECODE},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		Tip__RecordBody b = TIP__RECORD_BODY__INIT;
		Tip__SignedRecord s = TIP__SIGNED_RECORD__INIT;
		uint8_t *body;
		size_t body_len;

		b.version = cases[i].version;
		b.origin = (char *)cases[i].origin;
		b.kind = (Tip__RecordKind)cases[i].kind;
		b.prev_hash.data = prev;
		b.prev_hash.len = cases[i].prev_len;
		assert_int_equal(codec_pack(&b.base, 1 << 20, &body, &body_len), TIP_OK);
		s.body.data = body;
		s.body.len = body_len;
		s.key_id.data = (uint8_t *)key_id;
		s.key_id.len = 4;
		s.signature.data = sig;
		s.signature.len = sizeof(sig);
		assert_int_equal(codec_pack(&s.base, 1 << 20, &bad, &blen), TIP_OK);
		assert_int_equal(rec_decode(bad, blen, 1 << 20, &rec), cases[i].want);
		free(body);
		free(bad);
	}
}

static void test_origin_names(void **state)
{
	(void)state;
	struct rec_chain c;

	assert_true(rec_origin_ok("intake-a.example_1"));
	assert_false(rec_origin_ok(""));
	assert_false(rec_origin_ok("a/b"));
	assert_false(rec_origin_ok("."));
	assert_false(rec_origin_ok(".."));
	assert_false(rec_origin_ok("-rf"));
	assert_false(rec_origin_ok("名字"));
	assert_true(rec_origin_ok("0123456789012345678901234567890123456789012345678901234567890123"));
	assert_false(rec_origin_ok("01234567890123456789012345678901234567890123456789012345678901234"));
	assert_int_equal(rec_chain_init(&c, "bad origin"), TIP_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_sign_decode_verify_chain),
	        cmocka_unit_test(test_chain_verdicts),
	        cmocka_unit_test(test_every_flipped_bit_is_caught),
	        cmocka_unit_test(test_decode_rejects),
	        cmocka_unit_test(test_origin_names),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
