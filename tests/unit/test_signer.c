/*
 * intaked's signer: what it signs (the next report record of its origin, canonically encoded, sealed to
 * the internal zone's key, in time, never behind the last seq) and what it refuses and counts; its
 * socket protocol (docs/formats/signer.md), including a length out of bounds that ends the connection.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/err.h"
#include "intake/signer.h"
#include "proto/keyfile.h"
#include "proto/record.h"
#include "proto/report.h"
#include "testutil.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct fixture {
	struct key sign, seal;
	struct signer *s;
	struct ed25519_pub *pub;
	uint8_t *sealed;
	size_t sealed_len;
};

static int64_t now_ms(void)
{
	return (int64_t)time(NULL) * 1000;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct tu_report r;
	struct signer_policy p = {.origin = "intake-s", .max_body = 1 << 16, .max_skew_ms = 600000};

	if (!f || key_generate(KEY_ED25519, "intake-s", &f->sign) != TIP_OK ||
	    key_generate(KEY_X25519, "seal", &f->seal) != TIP_OK)
		return -1;
	memcpy(p.seal_key_id, f->seal.id, REC_KEY_ID_LEN);
	tu_report_init(&r);
	if (report_seal(&r.r, HPKE_AEAD_AES_128_GCM, f->seal.pub, f->seal.id, "intake-s", 0, 1 << 16,
	                &f->sealed, &f->sealed_len) != TIP_OK)
		return -1;
	f->s = signer_new(ed25519_key_new(f->sign.secret), &p);
	f->pub = ed25519_pub_new(f->sign.pub);
	*state = f;
	return f->s && f->pub ? 0 : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	signer_free(f->s);
	ed25519_pub_free(f->pub);
	key_wipe(&f->sign);
	key_wipe(&f->seal);
	free(f->sealed);
	free(f);
	return 0;
}

/* A rec_signer that asks the signer object directly. */
static int via_signer(void *s, const uint8_t *msg, size_t len, uint8_t sig[ED25519_SIG_LEN])
{
	return signer_sign(s, msg, len, sig);
}

/* Signs the record of chain at seq with kind, time and payload through sign(arg); checks a success. */
static int sign_record(struct fixture *f, rec_signer sign, void *arg, const char *origin, uint64_t seq,
                       enum rec_kind kind, int64_t created, const uint8_t *payload, size_t len)
{
	struct rec_chain c;
	uint8_t *out = NULL, hash[REC_HASH_LEN];
	size_t out_len;
	int rc;

	assert_int_equal(rec_chain_init(&c, origin), TIP_OK);
	c.next_seq = seq;
	rc = rec_sign_by(&c, sign, arg, f->sign.id, kind, created, payload, len, 1 << 16, &out, &out_len,
	                 hash);
	if (rc == TIP_OK) {
		struct rec rec;

		assert_int_equal(rec_decode(out, out_len, 1 << 16, &rec), TIP_OK);
		assert_int_equal(rec_verify(&rec, f->pub), TIP_OK);
		rec_release(&rec);
	}
	free(out);
	return rc;
}

static void test_signs_reports_refuses_the_rest(void **state)
{
	struct fixture *f = *state;
	int64_t t = now_ms();

	assert_int_equal(
	        sign_record(f, via_signer, f->s, "intake-s", 5, REC_REPORT, t, f->sealed, f->sealed_len),
	        TIP_OK);
	/* The same position again (a record that was not stored) and the next ones are signed. */
	assert_int_equal(
	        sign_record(f, via_signer, f->s, "intake-s", 5, REC_REPORT, t, f->sealed, f->sealed_len),
	        TIP_OK);
	assert_int_equal(
	        sign_record(f, via_signer, f->s, "intake-s", 6, REC_REPORT, t, f->sealed, f->sealed_len),
	        TIP_OK);
	assert_int_equal(signer_refusals(f->s), 0);
	/* Behind the last seq, another origin, another kind, another time, a payload that is not sealed. */
	assert_int_equal(
	        sign_record(f, via_signer, f->s, "intake-s", 4, REC_REPORT, t, f->sealed, f->sealed_len),
	        TIP_ERANGE);
	assert_int_equal(
	        sign_record(f, via_signer, f->s, "intake-x", 7, REC_REPORT, t, f->sealed, f->sealed_len),
	        TIP_ERANGE);
	assert_int_equal(
	        sign_record(f, via_signer, f->s, "intake-s", 7, REC_CHECKPOINT, t, f->sealed, f->sealed_len),
	        TIP_ERANGE);
	assert_int_equal(sign_record(f, via_signer, f->s, "intake-s", 7, REC_REPORT, t - 3600000, f->sealed,
	                             f->sealed_len),
	                 TIP_ERANGE);
	assert_int_equal(
	        sign_record(f, via_signer, f->s, "intake-s", 7, REC_REPORT, t, (const uint8_t *)"note", 4),
	        TIP_EDECODE);
	/* Sealed to another key: the key id in the SealedReport is checked. */
	f->sealed[4] ^= 1; /* inside recipient_key_id: tag 0x08 0x01, then 0x12 0x04 and the id */
	assert_int_equal(
	        sign_record(f, via_signer, f->s, "intake-s", 7, REC_REPORT, t, f->sealed, f->sealed_len),
	        TIP_ERANGE);
	f->sealed[4] ^= 1;
	assert_int_equal(signer_refusals(f->s), 6);
}

/* Captures the body a record signing produces (and signs it with the key itself). */
struct capture {
	struct ed25519_key *key;
	uint8_t buf[4096];
	size_t len;
};

static int capture_body(void *arg, const uint8_t *msg, size_t len, uint8_t sig[ED25519_SIG_LEN])
{
	struct capture *c = arg;

	assert_true(len <= sizeof(c->buf));
	memcpy(c->buf, msg, len);
	c->len = len;
	return ed25519_sign(c->key, msg, len, sig);
}

static void test_refuses_what_is_not_canonical(void **state)
{
	struct fixture *f = *state;
	struct capture c;
	uint8_t sig[ED25519_SIG_LEN];
	uint64_t before = signer_refusals(f->s);

	assert_non_null(c.key = ed25519_key_new(f->sign.secret));

	assert_int_equal(sign_record(f, capture_body, &c, "intake-s", 9, REC_REPORT, now_ms(), f->sealed,
	                             f->sealed_len),
	                 TIP_OK);
	assert_int_equal(signer_sign(f->s, c.buf, c.len, sig), TIP_OK);
	/* The version field once more at the end: the same message, another encoding. */
	c.buf[c.len++] = 0x08;
	c.buf[c.len++] = 0x01;
	assert_int_equal(signer_sign(f->s, c.buf, c.len, sig), TIP_EDECODE);
	assert_int_equal(signer_sign(f->s, (const uint8_t *)"\xff\xff\xff", 3, sig), TIP_EDECODE);
	assert_int_equal(signer_sign(f->s, c.buf, 0, sig), TIP_EOVERSIZE);
	assert_int_equal(signer_refusals(f->s), before + 3);
	ed25519_key_free(c.key);
}

struct runner {
	struct signer *s;
	int ctl;
};

static void *run_signer(void *arg)
{
	struct runner *r = arg;

	signer_run(r->s, r->ctl);
	return NULL;
}

static void test_protocol(void **state)
{
	struct fixture *f = *state;
	struct runner run;
	int ctl[2], sv[2];
	pthread_t th;
	uint8_t reply[SIGNER_REPLY_LEN];

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, ctl), 0);
	run.s = f->s;
	run.ctl = ctl[1];
	assert_int_equal(pthread_create(&th, NULL, run_signer, &run), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(signer_pass(ctl[0], sv[0]), TIP_OK);
	close(sv[0]);
	assert_int_equal(sign_record(f, signer_request, &sv[1], "intake-s", 20, REC_REPORT, now_ms(),
	                             f->sealed, f->sealed_len),
	                 TIP_OK);
	/* A refusal comes back as one: status 1, and the connection stays. */
	assert_int_equal(sign_record(f, signer_request, &sv[1], "intake-x", 21, REC_REPORT, now_ms(),
	                             f->sealed, f->sealed_len),
	                 TIP_ERANGE);
	/* A length beyond max_body: refused, then the signer hangs up. */
	assert_int_equal(write(sv[1], "\x7f\xff\xff\xff", 4), 4);
	assert_int_equal(read(sv[1], reply, sizeof(reply)), SIGNER_REPLY_LEN);
	assert_int_equal(reply[0], SIGNER_REFUSED);
	assert_int_equal(read(sv[1], reply, sizeof(reply)), 0);
	close(sv[1]);
	/* The monitor gone: the signer returns. */
	close(ctl[0]);
	assert_int_equal(pthread_join(th, NULL), 0);
	close(ctl[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_signs_reports_refuses_the_rest),
	        cmocka_unit_test(test_refuses_what_is_not_canonical),
	        cmocka_unit_test(test_protocol),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
