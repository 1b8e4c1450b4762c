/*
 * A received datagram: dg_open() over hostile bytes answers only with its documented codes and in
 * the documented order (length first). Since a fuzzer cannot forge the MAC, each input is also
 * re-sealed as it stands (CRC and MAC recomputed with the test key) and opened again, so the
 * header checks and what reads an authenticated payload are reached: the reassembler for a
 * SYMBOL's payload (as a block of one symbol), the heartbeat decoder for a HEARTBEAT's.
 */
#include "fuzz.h"

#include "common/err.h"
#include "diode/crc32c.h"
#include "diode/datagram.h"
#include "diode/stream.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdlib.h>
#include <string.h>

/* The seeds in corpus/fuzz_datagram were sealed with key 00 01 .. 1f. */
static uint8_t key_bytes[DG_KEY_LEN];

static void on_record(void *arg, uint64_t tid, const uint8_t *rec, size_t len)
{
	(void)arg;
	(void)tid;
	if (len > 4096)
		abort();
	fuzz_read_all(rec, len);
}

static void use(const struct dg_header *h, const uint8_t *payload, size_t size)
{
	size_t body = size - DG_OVERHEAD;

	if (h->symbol_size != body)
		abort();
	if (h->type == DG_SYMBOL) {
		struct stream_rx_opts o = {.max_record = 4096, .mem_cap = 16384, .max_pending = 8};
		int err;
		struct stream_rx *rx = stream_rx_new(&o, on_record, NULL, &err);
		int rc;

		if (h->k < 1 || h->k + h->m > DG_N_MAX || h->index >= h->k + h->m)
			abort();
		if (!rx)
			abort();
		rc = stream_rx_block(rx, h->block, payload, body);
		if (rc != TIP_OK && rc != TIP_EDECODE)
			abort();
		stream_rx_settle(rx, h->block + 2);
		stream_rx_free(rx);
	} else if (h->type == DG_HEARTBEAT) {
		static struct stream_hb_origin o[STREAM_HB_MAX];
		size_t n;
		int rc = stream_hb_decode(payload, body, o, STREAM_HB_MAX, &n);

		if (rc != TIP_OK && rc != TIP_ETRUNCATED && rc != TIP_EDECODE)
			abort();
		if (rc == TIP_OK && (n > STREAM_HB_MAX || (n > 0 && o[0].origin[0] == '\0')))
			abort();
	} else {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dg_key *key;
	size_t d = dg_size_ok(size) ? size : DG_SIZE_MIN;
	struct dg_header h;
	const uint8_t *p;
	uint8_t *buf;
	int rc;

	if (!key) {
		for (int i = 0; i < DG_KEY_LEN; i++)
			key_bytes[i] = (uint8_t)i;
		if (!(key = dg_key_new(key_bytes)))
			abort();
	}
	rc = dg_open(key, data, size, d, &h, &p);
	if (size < d && rc != TIP_ETRUNCATED)
		abort();
	if (size > d && rc != TIP_EOVERSIZE)
		abort();
	switch (rc) {
	case TIP_OK: use(&h, p, d); break;
	case TIP_ETRUNCATED:
	case TIP_EOVERSIZE:
	case TIP_EFORMAT:
	case TIP_EVERSION:
	case TIP_ECORRUPT:
	case TIP_EVERIFY:
	case TIP_ERANGE: break;
	default: abort();
	}
	if (size != d)
		return 0;

	/* The same bytes with a valid CRC and MAC. */
	if (!(buf = malloc(size)))
		abort();
	memcpy(buf, data, size);
	{
		size_t body = size - DG_OVERHEAD;
		uint32_t crc = crc32c(buf, DG_HEADER_LEN + body);
		uint8_t mac[32];
		unsigned int mac_len = 0;

		buf[DG_HEADER_LEN + body] = (uint8_t)(crc >> 24);
		buf[DG_HEADER_LEN + body + 1] = (uint8_t)(crc >> 16);
		buf[DG_HEADER_LEN + body + 2] = (uint8_t)(crc >> 8);
		buf[DG_HEADER_LEN + body + 3] = (uint8_t)crc;
		if (!HMAC(EVP_sha256(), key_bytes, DG_KEY_LEN, buf, size - DG_MAC_LEN, mac, &mac_len))
			abort();
		memcpy(buf + size - DG_MAC_LEN, mac, DG_MAC_LEN);
	}
	rc = dg_open(key, buf, size, d, &h, &p);
	switch (rc) {
	case TIP_OK: use(&h, p, d); break;
	case TIP_EFORMAT:
	case TIP_EVERSION:
	case TIP_ERANGE: break;
	default: abort();
	}
	free(buf);
	return 0;
}
