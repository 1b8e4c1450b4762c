#include "proto/report.h"

#include "common/err.h"
#include "proto/codec.h"
#include "record.pb-c.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEALED_VERSION 1
#define INFO_LABEL     "tipline report v1"

static const char *const attachment_types[] = {
        "image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf", "audio/mpeg",
        "audio/mp4",  "audio/ogg", "audio/wav", "video/mp4",  "video/quicktime", "video/webm",
};

struct report_limits report_limits_default(void)
{
	return (struct report_limits){
	        .short_text = 200,
	        .long_text = 10000,
	        .max_persons = 20,
	        .max_officials = 20,
	        .max_list = 10,
	        .max_attachments = 10,
	        .attachment_bytes = 20u << 20,
	};
}

/* Validation context: the first failure wins and records its field path. */
struct vctx {
	const struct taxonomy *t;
	const struct report_limits *lim;
	char *field;
	int rc;
};

static int fail(struct vctx *v, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct vctx *v, int rc, const char *fmt, ...)
{
	va_list ap;

	if (v->rc == TIP_OK) {
		va_start(ap, fmt);
		vsnprintf(v->field, REPORT_FIELD_MAX, fmt, ap);
		va_end(ap);
		v->rc = rc;
	}
	return rc;
}

static size_t code_points(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* Free text: valid UTF-8, no control characters other than newline and tab, within max code points. */
static int text_ok(struct vctx *v, const char *s, size_t max, int required, const char *name)
{
	if (!codec_utf8_ok((const uint8_t *)s, strlen(s)))
		return fail(v, TIP_EINVAL, "%s", name);
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 && *p != '\n' && *p != '\t')
			return fail(v, TIP_EINVAL, "%s", name);
	if (required && !*s)
		return fail(v, TIP_EINVAL, "%s", name);
	if (code_points(s) > max)
		return fail(v, TIP_EOVERSIZE, "%s", name);
	return TIP_OK;
}

static int phone_ok(struct vctx *v, const char *s, const char *name)
{
	size_t digits = 0, n = strlen(s);

	for (size_t i = 0; i < n; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			digits++;
		else if (!(s[i] == '+' && i == 0) && s[i] != '-' && s[i] != ' ')
			return fail(v, TIP_EINVAL, "%s", name);
	}
	if (n > 20)
		return fail(v, TIP_EOVERSIZE, "%s", name);
	if (digits < 5)
		return fail(v, TIP_EINVAL, "%s", name);
	return TIP_OK;
}

/* Resident identity card number, GB 11643: 17 digits and an ISO 7064 MOD 11-2 check character. */
static int id_number_ok(struct vctx *v, const char *s)
{
	static const int weight[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
	static const char check[] = "10X98765432";
	int sum = 0;

	if (strlen(s) != 18)
		return fail(v, TIP_EINVAL, "reporter.id_number");
	for (int i = 0; i < 17; i++) {
		if (s[i] < '0' || s[i] > '9')
			return fail(v, TIP_EINVAL, "reporter.id_number");
		sum += (s[i] - '0') * weight[i];
	}
	if (s[17] != check[sum % 11] && !(check[sum % 11] == 'X' && s[17] == 'x'))
		return fail(v, TIP_EINVAL, "reporter.id_number");
	return TIP_OK;
}

static int code_ok(struct vctx *v, enum tax_list l, const char *code, int required, const char *name)
{
	if (!*code)
		return required ? fail(v, TIP_EINVAL, "%s", name) : TIP_OK;
	return tax_find(v->t, l, code) ? TIP_OK : fail(v, TIP_ERANGE, "%s", name);
}

static int region_ok(struct vctx *v, const char *code, int required, const char *name)
{
	if (!*code)
		return required ? fail(v, TIP_EINVAL, "%s", name) : TIP_OK;
	return tax_region(v->t, code) ? TIP_OK : fail(v, TIP_ERANGE, "%s", name);
}

static int count_ok(struct vctx *v, size_t n, size_t max, const char *name)
{
	return n > max ? fail(v, TIP_EOVERSIZE, "%s", name) : TIP_OK;
}

static void check_reporter(struct vctx *v, const Tip__Reporter *r)
{
	size_t s = v->lim->short_text;

	if (!r) {
		fail(v, TIP_EINVAL, "reporter");
		return;
	}
	if (r->anonymous) {
		if (*r->name || *r->id_number || *r->phone || *r->address)
			fail(v, TIP_EINVAL, "reporter.anonymous");
	} else {
		text_ok(v, r->name, s, 1, "reporter.name");
		if (*r->id_number)
			id_number_ok(v, r->id_number);
		if (!*r->phone)
			fail(v, TIP_EINVAL, "reporter.phone");
		else
			phone_ok(v, r->phone, "reporter.phone");
		text_ok(v, r->address, s, 0, "reporter.address");
	}
	code_ok(v, TAX_CHANNEL, r->channel, 0, "reporter.channel");
}

static void check_person(struct vctx *v, const Tip__ReportedPerson *p, size_t i)
{
	char name[REPORT_FIELD_MAX];
	size_t s = v->lim->short_text;

#define AT(fmt, ...) (snprintf(name, sizeof(name), fmt, __VA_ARGS__), name)
	if (!*p->name && !*p->description)
		fail(v, TIP_EINVAL, "persons[%zu].name", i);
	text_ok(v, p->name, s, 0, AT("persons[%zu].name", i));
	text_ok(v, p->description, v->lim->long_text, 0, AT("persons[%zu].description", i));
	count_ok(v, p->n_aliases, v->lim->max_list, AT("persons[%zu].aliases", i));
	for (size_t k = 0; k < p->n_aliases && v->rc == TIP_OK; k++)
		text_ok(v, p->aliases[k], s, 1, AT("persons[%zu].aliases[%zu]", i, k));
	count_ok(v, p->n_phones, v->lim->max_list, AT("persons[%zu].phones", i));
	for (size_t k = 0; k < p->n_phones && v->rc == TIP_OK; k++)
		phone_ok(v, p->phones[k], AT("persons[%zu].phones[%zu]", i, k));
	region_ok(v, p->region, 0, AT("persons[%zu].region", i));
}

static void check_attachment(struct vctx *v, const Tip__Attachment *a, size_t i, size_t *total)
{
	char name[REPORT_FIELD_MAX];
	uint8_t digest[SHA256_DIGEST_LENGTH];
	size_t t;

	text_ok(v, a->filename, 255, 0, AT("activity.attachments[%zu].filename", i));
	if (strchr(a->filename, '/') || strchr(a->filename, '\\'))
		fail(v, TIP_EINVAL, "activity.attachments[%zu].filename", i);
	for (t = 0; t < sizeof(attachment_types) / sizeof(attachment_types[0]); t++)
		if (strcmp(a->content_type, attachment_types[t]) == 0)
			break;
	if (t == sizeof(attachment_types) / sizeof(attachment_types[0]))
		fail(v, TIP_ERANGE, "activity.attachments[%zu].content_type", i);
	if (a->data.len == 0)
		fail(v, TIP_EINVAL, "activity.attachments[%zu].data", i);
	*total += a->data.len;
	if (*total > v->lim->attachment_bytes)
		fail(v, TIP_EOVERSIZE, "activity.attachments[%zu].data", i);
	SHA256(a->data.data, a->data.len, digest);
	if (a->sha256.len != sizeof(digest) || CRYPTO_memcmp(a->sha256.data, digest, sizeof(digest)) != 0)
		fail(v, TIP_EINVAL, "activity.attachments[%zu].sha256", i);
}

static void check_activity(struct vctx *v, const Tip__Activity *a)
{
	char name[REPORT_FIELD_MAX];
	size_t s = v->lim->short_text, total = 0;

	if (!a) {
		fail(v, TIP_EINVAL, "activity");
		return;
	}
	if (a->n_categories == 0)
		fail(v, TIP_EINVAL, "activity.categories");
	count_ok(v, a->n_categories, v->lim->max_list, "activity.categories");
	for (size_t i = 0; i < a->n_categories && v->rc == TIP_OK; i++) {
		code_ok(v, TAX_CRIME_CATEGORY, a->categories[i], 1, AT("activity.categories[%zu]", i));
		for (size_t k = 0; k < i; k++)
			if (strcmp(a->categories[k], a->categories[i]) == 0)
				fail(v, TIP_EINVAL, "activity.categories[%zu]", i);
	}
	code_ok(v, TAX_SECTOR, a->sector, 0, "activity.sector");
	region_ok(v, a->region, 1, "activity.region");
	text_ok(v, a->place, s, 0, "activity.place");
	text_ok(v, a->time, s, 0, "activity.time");
	text_ok(v, a->narrative, v->lim->long_text, 0, "activity.narrative");
	count_ok(v, a->n_attachments, v->lim->max_attachments, "activity.attachments");
	for (size_t i = 0; i < a->n_attachments && v->rc == TIP_OK; i++)
		check_attachment(v, a->attachments[i], i, &total);
}

static void check_official(struct vctx *v, const Tip__Official *o, size_t i)
{
	char name[REPORT_FIELD_MAX];
	size_t s = v->lim->short_text;

	if (!*o->name && !*o->unit && !*o->position)
		fail(v, TIP_EINVAL, "umbrella.officials[%zu].name", i);
	text_ok(v, o->name, s, 0, AT("umbrella.officials[%zu].name", i));
	text_ok(v, o->position, s, 0, AT("umbrella.officials[%zu].position", i));
	text_ok(v, o->unit, s, 0, AT("umbrella.officials[%zu].unit", i));
	region_ok(v, o->region, 0, AT("umbrella.officials[%zu].region", i));
	text_ok(v, o->description, v->lim->long_text, 0, AT("umbrella.officials[%zu].description", i));
}
#undef AT

int report_validate(const Tip__Report *r, const struct taxonomy *t, const struct report_limits *lim,
                    char field[REPORT_FIELD_MAX])
{
	struct vctx v = {t, lim, field, TIP_OK};

	field[0] = '\0';
	if (r->version != REPORT_VERSION)
		return fail(&v, TIP_EVERSION, "version");
	if (strcmp(r->taxonomy_version, tax_version(t)) != 0)
		return fail(&v, TIP_ERANGE, "taxonomy_version");
	if (r->query_hash.len != REPORT_QUERY_HASH_LEN)
		return fail(&v, TIP_EINVAL, "query_hash");
	if (*r->locale && strcmp(r->locale, "zh-CN") != 0 && strcmp(r->locale, "en") != 0)
		return fail(&v, TIP_ERANGE, "locale");
	check_reporter(&v, r->reporter);
	count_ok(&v, r->n_persons, lim->max_persons, "persons");
	for (size_t i = 0; i < r->n_persons && v.rc == TIP_OK; i++)
		check_person(&v, r->persons[i], i);
	check_activity(&v, r->activity);
	if (r->umbrella) {
		count_ok(&v, r->umbrella->n_officials, lim->max_officials, "umbrella.officials");
		for (size_t i = 0; i < r->umbrella->n_officials && v.rc == TIP_OK; i++)
			check_official(&v, r->umbrella->officials[i], i);
	}
	return v.rc;
}

/* info = label || 0x00 || origin || 0x00 || seq (8 bytes, big-endian). */
static size_t build_info(const char *origin, uint64_t seq, uint8_t *info, size_t cap)
{
	size_t label = sizeof(INFO_LABEL), o = strlen(origin);

	if (label + o + 1 + 8 > cap)
		return 0;
	memcpy(info, INFO_LABEL, label);
	memcpy(info + label, origin, o);
	info[label + o] = 0;
	for (int i = 0; i < 8; i++)
		info[label + o + 1 + (size_t)i] = (uint8_t)(seq >> (56 - 8 * i));
	return label + o + 9;
}

int report_seal(const Tip__Report *r, enum hpke_aead aead, const uint8_t pk[HPKE_KEY_LEN],
                const uint8_t key_id[4], const char *origin, uint64_t seq, size_t cap, uint8_t **out,
                size_t *out_len)
{
	Tip__SealedReport s = TIP__SEALED_REPORT__INIT;
	uint8_t info[sizeof(INFO_LABEL) + 64 + 9], enc[HPKE_KEY_LEN];
	uint8_t *pt = NULL, *ct = NULL;
	size_t pt_len = 0, info_len = build_info(origin, seq, info, sizeof(info));
	struct hpke_ctx ctx;
	int rc;

	*out = NULL;
	memset(&ctx, 0, sizeof(ctx));
	if (!info_len)
		return TIP_EINVAL;
	if ((rc = codec_pack(&r->base, cap, &pt, &pt_len)) != TIP_OK)
		goto out;
	ct = malloc(pt_len + HPKE_TAG_LEN);
	if (!ct) {
		rc = TIP_ENOMEM;
		goto out;
	}
	if ((rc = hpke_setup_base_s(aead, pk, info, info_len, enc, &ctx)) != TIP_OK ||
	    (rc = hpke_seal(&ctx, NULL, 0, pt, pt_len, ct)) != TIP_OK)
		goto out;
	s.version = SEALED_VERSION;
	s.recipient_key_id.data = (uint8_t *)key_id;
	s.recipient_key_id.len = 4;
	s.aead = (uint32_t)aead;
	s.enc.data = enc;
	s.enc.len = HPKE_KEY_LEN;
	s.ciphertext.data = ct;
	s.ciphertext.len = pt_len + HPKE_TAG_LEN;
	rc = codec_pack(&s.base, cap, out, out_len);
out:
	hpke_ctx_wipe(&ctx);
	if (pt)
		OPENSSL_cleanse(pt, pt_len);
	free(pt);
	free(ct);
	return rc;
}

int report_open(const uint8_t *sealed, size_t len, size_t cap, const uint8_t sk[HPKE_KEY_LEN],
                const uint8_t key_id[4], const char *origin, uint64_t seq, Tip__Report **out)
{
	Tip__SealedReport *s = NULL;
	uint8_t info[sizeof(INFO_LABEL) + 64 + 9];
	uint8_t *pt = NULL;
	size_t pt_len = 0, info_len = build_info(origin, seq, info, sizeof(info));
	struct hpke_ctx ctx;
	int rc;

	*out = NULL;
	memset(&ctx, 0, sizeof(ctx));
	if (!info_len)
		return TIP_EINVAL;
	if ((rc = codec_unpack(&tip__sealed_report__descriptor, sealed, len, cap, (ProtobufCMessage **)&s)) !=
	    TIP_OK)
		goto out;
	if (s->version != SEALED_VERSION) {
		rc = TIP_EVERSION;
		goto out;
	}
	if (s->recipient_key_id.len != 4 || s->enc.len != HPKE_KEY_LEN ||
	    (s->aead != HPKE_AEAD_AES_128_GCM && s->aead != HPKE_AEAD_CHACHA20_POLY1305)) {
		rc = TIP_EDECODE;
		goto out;
	}
	if (memcmp(s->recipient_key_id.data, key_id, 4) != 0) {
		rc = TIP_ENOTFOUND;
		goto out;
	}
	if (s->ciphertext.len < HPKE_TAG_LEN) {
		rc = TIP_ETRUNCATED;
		goto out;
	}
	pt_len = s->ciphertext.len - HPKE_TAG_LEN;
	pt = malloc(pt_len ? pt_len : 1);
	if (!pt) {
		rc = TIP_ENOMEM;
		goto out;
	}
	if ((rc = hpke_setup_base_r((enum hpke_aead)s->aead, s->enc.data, sk, info, info_len, &ctx)) !=
	            TIP_OK ||
	    (rc = hpke_open(&ctx, NULL, 0, s->ciphertext.data, s->ciphertext.len, pt)) != TIP_OK)
		goto out;
	if ((rc = codec_unpack(&tip__report__descriptor, pt, pt_len, cap, (ProtobufCMessage **)out)) !=
	    TIP_OK)
		goto out;
	if ((*out)->version != REPORT_VERSION) {
		codec_free(&(*out)->base);
		*out = NULL;
		rc = TIP_EVERSION;
	}
out:
	hpke_ctx_wipe(&ctx);
	if (pt)
		OPENSSL_cleanse(pt, pt_len);
	free(pt);
	codec_free(s ? &s->base : NULL);
	return rc;
}
