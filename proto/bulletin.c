#include "proto/bulletin.h"

#include "common/err.h"
#include "proto/codec.h"
#include "record.pb-c.h"

#include <string.h>

int bulletin_date_ok(const char *s)
{
	static const int days[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y = 0, m, d;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return 0;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return 0;
	for (int i = 0; i < 4; i++)
		y = y * 10 + (s[i] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (y < 2000 || y > 2999 || m < 1 || m > 12 || d < 1 || d > days[m - 1])
		return 0;
	return !(m == 2 && d == 29 && (y % 4 != 0 || (y % 100 == 0 && y % 400 != 0)));
}

static int check(const char *stage, const char *result, const char *date, const struct taxonomy *t)
{
	if (!tax_find(t, TAX_STAGE, stage) || !tax_find(t, TAX_RESULT, result))
		return TIP_ERANGE;
	return bulletin_date_ok(date) ? TIP_OK : TIP_EINVAL;
}

int bulletin_encode(const struct bulletin *b, const struct taxonomy *t, uint8_t **out, size_t *out_len)
{
	Tip__StatusBulletin m = TIP__STATUS_BULLETIN__INIT;
	int rc;

	*out = NULL;
	if ((rc = check(b->stage, b->result, b->date, t)) != TIP_OK)
		return rc;
	m.version = BULLETIN_VERSION;
	m.query_hash.data = (uint8_t *)b->query_hash;
	m.query_hash.len = BULLETIN_HASH_LEN;
	m.stage = (char *)b->stage;
	m.result = (char *)b->result;
	m.date = (char *)b->date;
	return codec_pack(&m.base, BULLETIN_MAX_SIZE, out, out_len);
}

int bulletin_decode(const uint8_t *buf, size_t len, const struct taxonomy *t, struct bulletin *out)
{
	Tip__StatusBulletin *m = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = codec_unpack(&tip__status_bulletin__descriptor, buf, len, BULLETIN_MAX_SIZE,
	                  (ProtobufCMessage **)&m);
	if (rc != TIP_OK)
		return rc;
	if (m->version != BULLETIN_VERSION) {
		rc = TIP_EVERSION;
		goto out;
	}
	if (m->query_hash.len != BULLETIN_HASH_LEN || strlen(m->stage) > BULLETIN_CODE_MAX ||
	    strlen(m->result) > BULLETIN_CODE_MAX || strlen(m->date) >= sizeof(out->date)) {
		rc = TIP_EDECODE;
		goto out;
	}
	if ((rc = check(m->stage, m->result, m->date, t)) != TIP_OK)
		goto out;
	memcpy(out->query_hash, m->query_hash.data, BULLETIN_HASH_LEN);
	memcpy(out->stage, m->stage, strlen(m->stage) + 1);
	memcpy(out->result, m->result, strlen(m->result) + 1);
	memcpy(out->date, m->date, strlen(m->date) + 1);
out:
	codec_free(&m->base);
	return rc;
}
