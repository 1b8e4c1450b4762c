#include "diode/datagram.h"

#include "common/bytes.h"

#include "common/err.h"
#include "diode/crc32c.h"
#include "proto/hmac.h"

#include <openssl/crypto.h>

#include <stdlib.h>
#include <string.h>

/* Header offsets (docs/formats/diode.md). */
#define OFF_MAGIC       0
#define OFF_VERSION     2
#define OFF_TYPE        3
#define OFF_SESSION     4
#define OFF_BLOCK       8
#define OFF_PACKET      16
#define OFF_SENT_AT     20
#define OFF_INDEX       24
#define OFF_K           26
#define OFF_M           27
#define OFF_SYMBOL_SIZE 28
#define OFF_RESERVED    30

struct dg_key {
	struct hmac_key h;
};

struct dg_key *dg_key_new(const uint8_t secret[DG_KEY_LEN])
{
	struct dg_key *key = calloc(1, sizeof(*key));

	if (key)
		hmac_key_init(&key->h, secret, DG_KEY_LEN);
	return key;
}

void dg_key_free(struct dg_key *key)
{
	if (!key)
		return;
	hmac_key_wipe(&key->h);
	free(key);
}

int dg_size_ok(size_t size)
{
	return size >= DG_SIZE_MIN && size <= DG_SIZE_MAX;
}

/* The header rules of datagram.h, shared by both directions. */
static int header_ok(const struct dg_header *h, size_t size)
{
	if (h->symbol_size != size - DG_OVERHEAD)
		return 0;
	switch (h->type) {
	case DG_SYMBOL: return h->k >= 1 && h->k + h->m <= DG_N_MAX && h->index < h->k + h->m;
	case DG_HEARTBEAT: return h->k == 0 && h->m == 0 && h->index == 0;
	}
	return 0;
}

int dg_seal(const struct dg_key *key, const struct dg_header *h, const uint8_t *payload, size_t len,
            uint8_t *out, size_t size)
{
	uint8_t mac[HMAC_SHA256_LEN];
	size_t body;

	if (!dg_size_ok(size) || !header_ok(h, size))
		return TIP_EINVAL;
	body = size - DG_OVERHEAD;
	if (len > body || (h->type == DG_SYMBOL && len != body))
		return TIP_EINVAL;

	out[OFF_MAGIC] = 'T';
	out[OFF_MAGIC + 1] = 'D';
	out[OFF_VERSION] = DG_VERSION;
	out[OFF_TYPE] = (uint8_t)h->type;
	put32(out + OFF_SESSION, h->session);
	put64(out + OFF_BLOCK, h->block);
	put32(out + OFF_PACKET, h->packet);
	put32(out + OFF_SENT_AT, h->sent_at);
	put16(out + OFF_INDEX, h->index);
	out[OFF_K] = h->k;
	out[OFF_M] = h->m;
	put16(out + OFF_SYMBOL_SIZE, h->symbol_size);
	put16(out + OFF_RESERVED, 0);
	if (payload != out + DG_HEADER_LEN && len > 0)
		memcpy(out + DG_HEADER_LEN, payload, len);
	memset(out + DG_HEADER_LEN + len, 0, body - len);

	put32(out + DG_HEADER_LEN + body, crc32c(out, DG_HEADER_LEN + body));
	hmac_sha256(&key->h, out, DG_HEADER_LEN + body + DG_CRC_LEN, NULL, 0, mac);
	memcpy(out + DG_HEADER_LEN + body + DG_CRC_LEN, mac, DG_MAC_LEN);
	return TIP_OK;
}

int dg_open(const struct dg_key *key, const uint8_t *in, size_t len, size_t size, struct dg_header *h,
            const uint8_t **payload)
{
	uint8_t mac[HMAC_SHA256_LEN];
	struct dg_header d;
	size_t body;
	int ok;

	if (!dg_size_ok(size))
		return TIP_EINVAL;
	if (len < size)
		return TIP_ETRUNCATED;
	if (len > size)
		return TIP_EOVERSIZE;
	if (in[OFF_MAGIC] != 'T' || in[OFF_MAGIC + 1] != 'D')
		return TIP_EFORMAT;
	if (in[OFF_VERSION] != DG_VERSION)
		return TIP_EVERSION;
	body = size - DG_OVERHEAD;
	if (crc32c(in, DG_HEADER_LEN + body) != get32(in + DG_HEADER_LEN + body))
		return TIP_ECORRUPT;
	hmac_sha256(&key->h, in, DG_HEADER_LEN + body + DG_CRC_LEN, NULL, 0, mac);
	ok = CRYPTO_memcmp(mac, in + DG_HEADER_LEN + body + DG_CRC_LEN, DG_MAC_LEN) == 0;
	OPENSSL_cleanse(mac, sizeof(mac));
	if (!ok)
		return TIP_EVERIFY;

	if (in[OFF_TYPE] != DG_SYMBOL && in[OFF_TYPE] != DG_HEARTBEAT)
		return TIP_ERANGE;
	if (get16(in + OFF_RESERVED) != 0)
		return TIP_ERANGE;
	d.type = (enum dg_type)in[OFF_TYPE];
	d.session = get32(in + OFF_SESSION);
	d.block = get64(in + OFF_BLOCK);
	d.packet = get32(in + OFF_PACKET);
	d.sent_at = get32(in + OFF_SENT_AT);
	d.index = get16(in + OFF_INDEX);
	d.k = in[OFF_K];
	d.m = in[OFF_M];
	d.symbol_size = get16(in + OFF_SYMBOL_SIZE);
	if (!header_ok(&d, size))
		return TIP_ERANGE;
	*h = d;
	*payload = in + DG_HEADER_LEN;
	return TIP_OK;
}

const char *dg_reason(int rc)
{
	switch (rc) {
	case TIP_OK: return "ok";
	case TIP_ETRUNCATED: return "short";
	case TIP_EOVERSIZE: return "long";
	case TIP_EFORMAT: return "magic";
	case TIP_EVERSION: return "version";
	case TIP_ECORRUPT: return "crc";
	case TIP_EVERIFY: return "mac";
	case TIP_ERANGE: return "header";
	}
	return "invalid";
}
