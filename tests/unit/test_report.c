#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/err.h"
#include "proto/codec.h"
#include "proto/report.h"
#include "record.pb-c.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct taxonomy *tax;
static struct report_limits lim;
static const uint8_t kid[4] = {1, 2, 3, 4};

static int setup(void **state)
{
	(void)state;
	tax = tu_taxonomy();
	lim = report_limits_default();
	return tax ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	tax_free(tax);
	return 0;
}

static void expect(struct tu_report *s, int want_rc, const char *want_field)
{
	char field[REPORT_FIELD_MAX];
	int rc = report_validate(&s->r, tax, &lim, field);

	if (rc != want_rc || strcmp(field, want_field) != 0)
		fail_msg("got %d \"%s\", want %d \"%s\"", rc, field, want_rc, want_field);
}

static void test_valid_reports(void **state)
{
	(void)state;
	struct tu_report s;

	tu_report_init(&s);
	expect(&s, TIP_OK, "");
	/* The smallest anonymous report: a category and a region (the narrative is optional). */
	tu_report_init(&s);
	s.reporter.anonymous = 1;
	s.reporter.name = s.reporter.id_number = s.reporter.phone = s.reporter.address = "";
	s.r.n_persons = 0;
	s.activity.n_categories = 1;
	s.activity.sector = s.activity.place = s.activity.time = s.activity.narrative = "";
	s.activity.n_attachments = 0;
	s.r.umbrella = NULL;
	s.activity.region = "440000";
	expect(&s, TIP_OK, "");
}

static void test_each_field_is_named(void **state)
{
	(void)state;
	struct tu_report s;
	char big[300 * 3 + 1];
	static uint8_t other[] = {1, 2, 3};

	memset(big, 0, sizeof(big));
	for (int i = 0; i < 300; i++)
		memcpy(big + 3 * i, "举", 3);

#define CASE(mutation, rc, field)                                                                            \
	do {                                                                                                 \
		tu_report_init(&s);                                                                          \
		mutation;                                                                                    \
		expect(&s, rc, field);                                                                       \
	} while (0)
	CASE(s.r.version = 2, TIP_EVERSION, "version");
	CASE(s.r.taxonomy_version = "1999.1", TIP_ERANGE, "taxonomy_version");
	CASE(s.r.query_hash.len = 31, TIP_EINVAL, "query_hash");
	CASE(s.r.locale = "fr", TIP_ERANGE, "locale");
	CASE(s.r.reporter = NULL, TIP_EINVAL, "reporter");
	CASE(s.reporter.anonymous = 1, TIP_EINVAL, "reporter.anonymous");
	CASE(s.reporter.name = "", TIP_EINVAL, "reporter.name");
	CASE(s.reporter.name = big, TIP_EOVERSIZE, "reporter.name");
	CASE(s.reporter.name = "a\x01b", TIP_EINVAL, "reporter.name");
	CASE(s.reporter.name = "\xc3\x28", TIP_EINVAL, "reporter.name");
	CASE(s.reporter.id_number = "110105194912310021", TIP_EINVAL, "reporter.id_number");
	CASE(s.reporter.id_number = "1101051949123100", TIP_EINVAL, "reporter.id_number");
	CASE(s.reporter.phone = "", TIP_EINVAL, "reporter.phone");
	CASE(s.reporter.phone = "12a45678", TIP_EINVAL, "reporter.phone");
	CASE(s.reporter.phone = "1234", TIP_EINVAL, "reporter.phone");
	CASE(s.reporter.phone = "123456789012345678901", TIP_EOVERSIZE, "reporter.phone");
	CASE(s.reporter.channel = "pigeon", TIP_ERANGE, "reporter.channel");
	CASE(s.r.n_persons = 21, TIP_EOVERSIZE, "persons");
	CASE((s.person.name = "", s.person.description = ""), TIP_EINVAL, "persons[0].name");
	CASE(s.person.n_aliases = 11, TIP_EOVERSIZE, "persons[0].aliases");
	CASE(s.aliases[0] = "", TIP_EINVAL, "persons[0].aliases[0]");
	CASE(s.phones[0] = "x", TIP_EINVAL, "persons[0].phones[0]");
	CASE(s.person.region = "999999", TIP_ERANGE, "persons[0].region");
	CASE(s.r.activity = NULL, TIP_EINVAL, "activity");
	CASE(s.activity.n_categories = 0, TIP_EINVAL, "activity.categories");
	CASE(s.activity.n_categories = 11, TIP_EOVERSIZE, "activity.categories");
	CASE(s.categories[1] = "jaywalking", TIP_ERANGE, "activity.categories[1]");
	CASE(s.categories[1] = s.categories[0], TIP_EINVAL, "activity.categories[1]");
	CASE(s.activity.sector = "space", TIP_ERANGE, "activity.sector");
	CASE(s.activity.region = "", TIP_EINVAL, "activity.region");
	CASE(s.activity.region = "11010", TIP_ERANGE, "activity.region");
	CASE(s.activity.narrative = "a\x01b", TIP_EINVAL, "activity.narrative");
	CASE(s.activity.n_attachments = 11, TIP_EOVERSIZE, "activity.attachments");
	CASE(s.attachment.content_type = "application/x-msdownload", TIP_ERANGE,
	     "activity.attachments[0].content_type");
	CASE(s.attachment.filename = "../etc/passwd", TIP_EINVAL, "activity.attachments[0].filename");
	CASE(s.attachment.data.len = 0, TIP_EINVAL, "activity.attachments[0].data");
	CASE((s.attachment.data.data = other, s.attachment.data.len = 3), TIP_EINVAL,
	     "activity.attachments[0].sha256");
	CASE(lim.attachment_bytes = 4, TIP_EOVERSIZE, "activity.attachments[0].data");
	lim = report_limits_default();
	CASE(s.umbrella.n_officials = 21, TIP_EOVERSIZE, "umbrella.officials");
	CASE((s.official.name = s.official.unit = s.official.position = ""), TIP_EINVAL,
	     "umbrella.officials[0].name");
	CASE(s.official.region = "12", TIP_ERANGE, "umbrella.officials[0].region");
	CASE(s.official.description = big, TIP_OK, "");
#undef CASE
}

static void test_seal_open(void **state)
{
	(void)state;
	static const enum hpke_aead aeads[] = {HPKE_AEAD_AES_128_GCM, HPKE_AEAD_CHACHA20_POLY1305};
	uint8_t sk[HPKE_KEY_LEN], pk[HPKE_KEY_LEN], sk2[HPKE_KEY_LEN], pk2[HPKE_KEY_LEN];
	struct tu_report s;

	assert_int_equal(hpke_generate_keypair(sk, pk), TIP_OK);
	assert_int_equal(hpke_generate_keypair(sk2, pk2), TIP_OK);
	tu_report_init(&s);
	for (size_t a = 0; a < 2; a++) {
		uint8_t *sealed;
		size_t len;
		Tip__Report *r;
		char field[REPORT_FIELD_MAX];
		static const uint8_t other_kid[4] = {9, 9, 9, 9};

		assert_int_equal(report_seal(&s.r, aeads[a], pk, kid, "intake-a", 41, 1 << 20, &sealed, &len),
		                 TIP_OK);
		assert_int_equal(report_open(sealed, len, 1 << 20, sk, kid, "intake-a", 41, &r), TIP_OK);
		assert_string_equal(r->activity->narrative, s.activity.narrative);
		assert_int_equal(r->activity->attachments[0]->data.len, s.attachment.data.len);
		assert_int_equal(report_validate(r, tax, &lim, field), TIP_OK);
		codec_free(&r->base);

		/* Bound to its record, its key and its bytes. */
		assert_int_equal(report_open(sealed, len, 1 << 20, sk, kid, "intake-a", 42, &r), TIP_EVERIFY);
		assert_int_equal(report_open(sealed, len, 1 << 20, sk, kid, "intake-b", 41, &r), TIP_EVERIFY);
		assert_int_equal(report_open(sealed, len, 1 << 20, sk2, kid, "intake-a", 41, &r),
		                 TIP_EVERIFY);
		assert_int_equal(report_open(sealed, len, 1 << 20, sk, other_kid, "intake-a", 41, &r),
		                 TIP_ENOTFOUND);
		assert_int_equal(report_open(sealed, len, len - 1, sk, kid, "intake-a", 41, &r),
		                 TIP_EOVERSIZE);
		sealed[len - 1] ^= 1; /* the tag, last in the ciphertext, last in the message */
		assert_int_equal(report_open(sealed, len, 1 << 20, sk, kid, "intake-a", 41, &r), TIP_EVERIFY);
		sealed[len - 1] ^= 1;
		for (size_t cut = 0; cut < len; cut += 7) {
			int rc = report_open(sealed, cut, 1 << 20, sk, kid, "intake-a", 41, &r);

			assert_int_not_equal(rc, TIP_OK);
			assert_null(r);
		}
		free(sealed);
	}
}

static void test_sealed_version_and_aead(void **state)
{
	(void)state;
	uint8_t sk[HPKE_KEY_LEN], pk[HPKE_KEY_LEN], *sealed, *again;
	size_t len, again_len;
	struct tu_report s;
	Tip__Report *r;
	ProtobufCMessage *m;

	hpke_generate_keypair(sk, pk);
	tu_report_init(&s);
	assert_int_equal(report_seal(&s.r, HPKE_AEAD_AES_128_GCM, pk, kid, "o", 1, 1 << 20, &sealed, &len),
	                 TIP_OK);
	assert_int_equal(codec_unpack(&tip__sealed_report__descriptor, sealed, len, 1 << 20, &m), TIP_OK);
	Tip__SealedReport *sr = (Tip__SealedReport *)m;
	sr->version = 2;
	assert_int_equal(codec_pack(m, 1 << 20, &again, &again_len), TIP_OK);
	assert_int_equal(report_open(again, again_len, 1 << 20, sk, kid, "o", 1, &r), TIP_EVERSION);
	free(again);
	sr->version = 1;
	sr->aead = 2; /* AES-256-GCM: not one of ours */
	assert_int_equal(codec_pack(m, 1 << 20, &again, &again_len), TIP_OK);
	assert_int_equal(report_open(again, again_len, 1 << 20, sk, kid, "o", 1, &r), TIP_EDECODE);
	free(again);
	sr->aead = 3; /* sealed with AES-GCM, labelled ChaCha20: does not open */
	assert_int_equal(codec_pack(m, 1 << 20, &again, &again_len), TIP_OK);
	assert_int_equal(report_open(again, again_len, 1 << 20, sk, kid, "o", 1, &r), TIP_EVERIFY);
	free(again);
	codec_free(m);
	free(sealed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_valid_reports),
	        cmocka_unit_test(test_each_field_is_named),
	        cmocka_unit_test(test_seal_open),
	        cmocka_unit_test(test_sealed_version_and_aead),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
