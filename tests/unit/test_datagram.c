#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/err.h"
#include "diode/crc32c.h"
#include "diode/datagram.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdlib.h>
#include <string.h>

static const uint8_t key_a[DG_KEY_LEN] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
                                          0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
                                          0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f};

/* OpenSSL allocations, counted from the first one of the process (set up in main). */
static long openssl_allocs;
static int mem_hooked;

static void *count_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	openssl_allocs++;
	return malloc(n);
}

static void *count_realloc(void *p, size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	openssl_allocs++;
	return realloc(p, n);
}

static void count_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	free(p);
}

static struct dg_header symbol_header(size_t size)
{
	return (struct dg_header){
	        .type = DG_SYMBOL,
	        .session = 0xa1b2c3d4u,
	        .block = 0x0102030405060708u,
	        .packet = 0xfffffffeu,
	        .sent_at = 123456789u,
	        .index = 11,
	        .k = 10,
	        .m = 3,
	        .symbol_size = (uint16_t)(size - DG_OVERHEAD),
	};
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 131u + seed * 7u + (i >> 8));
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Recomputes CRC and MAC over whatever header and payload bytes buf holds, with OpenSSL's own
 * HMAC: a datagram the checks before decoding accept, whatever its fields say. */
static void reseal(uint8_t *buf, size_t size, const uint8_t *key)
{
	size_t body = size - DG_OVERHEAD;
	uint8_t mac[32];
	unsigned int mac_len = 0;

	put_be32(buf + DG_HEADER_LEN + body, crc32c(buf, DG_HEADER_LEN + body));
	assert_non_null(
	        HMAC(EVP_sha256(), key, DG_KEY_LEN, buf, DG_HEADER_LEN + body + DG_CRC_LEN, mac, &mac_len));
	memcpy(buf + DG_HEADER_LEN + body + DG_CRC_LEN, mac, DG_MAC_LEN);
}

static void test_round_trip(void **state)
{
	static const size_t sizes[] = {DG_SIZE_MIN, 512, DG_SIZE_DEFAULT, 9000, DG_SIZE_MAX};
	struct dg_key *key = dg_key_new(key_a);

	(void)state;
	assert_non_null(key);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t size = sizes[i], body = size - DG_OVERHEAD;
		uint8_t *payload = malloc(body), *out = malloc(size);
		struct dg_header h = symbol_header(size), got;
		const uint8_t *p = NULL;

		fill(payload, body, (unsigned)i);
		assert_int_equal(dg_seal(key, &h, payload, body, out, size), TIP_OK);
		assert_int_equal(dg_open(key, out, size, size, &got, &p), TIP_OK);
		assert_int_equal(got.type, DG_SYMBOL);
		assert_int_equal(got.session, h.session);
		assert_true(got.block == h.block);
		assert_int_equal(got.packet, h.packet);
		assert_int_equal(got.sent_at, h.sent_at);
		assert_int_equal(got.index, h.index);
		assert_int_equal(got.k, h.k);
		assert_int_equal(got.m, h.m);
		assert_int_equal(got.symbol_size, body);
		assert_ptr_equal(p, out + DG_HEADER_LEN);
		assert_memory_equal(p, payload, body);
		free(payload);
		free(out);
	}
	dg_key_free(key);
}

/* The byte layout of docs/formats/diode.md, and the trailer against OpenSSL's HMAC(). */
static void test_layout(void **state)
{
	static const uint8_t header[DG_HEADER_LEN] = {
	        'T',  'D',  0x01, 0x01, 0xa1, 0xb2, 0xc3, 0xd4, 0x01, 0x02, 0x03,
	        0x04, 0x05, 0x06, 0x07, 0x08, 0xff, 0xff, 0xff, 0xfe, 0x07, 0x5b,
	        0xcd, 0x15, 0x00, 0x0b, 0x0a, 0x03, 0x00, 0xcc, 0x00, 0x00,
	};
	size_t size = DG_SIZE_MIN, body = size - DG_OVERHEAD;
	struct dg_key *key = dg_key_new(key_a);
	struct dg_header h = symbol_header(size);
	uint8_t payload[DG_SIZE_MIN], out[DG_SIZE_MIN], mac[32];
	unsigned int mac_len = 0;

	(void)state;
	fill(payload, body, 1);
	assert_int_equal(dg_seal(key, &h, payload, body, out, size), TIP_OK);
	assert_memory_equal(out, header, DG_HEADER_LEN);
	assert_int_equal(
	        crc32c(out, DG_HEADER_LEN + body),
	        (uint32_t)out[DG_HEADER_LEN + body] << 24 | (uint32_t)out[DG_HEADER_LEN + body + 1] << 16 |
	                (uint32_t)out[DG_HEADER_LEN + body + 2] << 8 | out[DG_HEADER_LEN + body + 3]);
	HMAC(EVP_sha256(), key_a, DG_KEY_LEN, out, size - DG_MAC_LEN, mac, &mac_len);
	assert_int_equal(mac_len, 32);
	assert_memory_equal(out + size - DG_MAC_LEN, mac, DG_MAC_LEN);
	dg_key_free(key);
}

/* The example of docs/formats/diode.md: an empty heartbeat, D = 256, key 00 01 .. 1f. The trailer
 * was computed independently (Python's hmac and a bitwise CRC32C). */
static void test_doc_example(void **state)
{
	static const uint8_t header[DG_HEADER_LEN] = {
	        0x54, 0x44, 0x01, 0x02, 0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00,
	        0x00, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00,
	        0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0xcc, 0x00, 0x00,
	};
	static const uint8_t trailer[DG_TRAILER_LEN] = {
	        0x6a, 0xc5, 0xfa, 0xf1, 0xaa, 0xfb, 0x0a, 0xf6, 0x1a, 0xd2,
	        0xba, 0x59, 0x90, 0x44, 0x84, 0x72, 0x4d, 0x44, 0xdf, 0xb4,
	};
	uint8_t key[DG_KEY_LEN], out[256], count = 0;
	struct dg_key *k;
	struct dg_header h = {.type = DG_HEARTBEAT,
	                      .session = 0x01020304,
	                      .block = 5,
	                      .packet = 6,
	                      .sent_at = 7,
	                      .symbol_size = 204};

	(void)state;
	for (int i = 0; i < DG_KEY_LEN; i++)
		key[i] = (uint8_t)i;
	k = dg_key_new(key);
	assert_int_equal(dg_seal(k, &h, &count, 1, out, sizeof(out)), TIP_OK);
	assert_memory_equal(out, header, sizeof(header));
	for (size_t i = DG_HEADER_LEN; i < sizeof(out) - DG_TRAILER_LEN; i++)
		assert_int_equal(out[i], 0);
	assert_memory_equal(out + sizeof(out) - DG_TRAILER_LEN, trailer, sizeof(trailer));
	dg_key_free(k);
}

static void test_heartbeat_padding(void **state)
{
	size_t size = 300, body = size - DG_OVERHEAD;
	struct dg_key *key = dg_key_new(key_a);
	struct dg_header h = {.type = DG_HEARTBEAT, .session = 7, .block = 3, .symbol_size = (uint16_t)body},
	                 got;
	uint8_t out[300];
	const uint8_t *p;
	static const uint8_t msg[5] = {1, 2, 3, 4, 5};

	(void)state;
	memset(out, 0xee, sizeof(out));
	assert_int_equal(dg_seal(key, &h, msg, sizeof(msg), out, size), TIP_OK);
	assert_int_equal(dg_open(key, out, size, size, &got, &p), TIP_OK);
	assert_int_equal(got.type, DG_HEARTBEAT);
	assert_memory_equal(p, msg, sizeof(msg));
	for (size_t i = sizeof(msg); i < body; i++)
		assert_int_equal(p[i], 0);
	/* In place: the payload already sits after the header. */
	memset(out, 0, sizeof(out));
	memcpy(out + DG_HEADER_LEN, msg, sizeof(msg));
	assert_int_equal(dg_seal(key, &h, out + DG_HEADER_LEN, body, out, size), TIP_OK);
	assert_int_equal(dg_open(key, out, size, size, &got, &p), TIP_OK);
	assert_memory_equal(p, msg, sizeof(msg));
	dg_key_free(key);
}

static void flips(size_t size)
{
	size_t body = size - DG_OVERHEAD;
	struct dg_key *key = dg_key_new(key_a);
	struct dg_header h = symbol_header(size), got;
	uint8_t *payload = malloc(body), *out = malloc(size);
	const uint8_t *p;

	fill(payload, body, 3);
	assert_int_equal(dg_seal(key, &h, payload, body, out, size), TIP_OK);
	for (size_t i = 0; i < size; i++) {
		for (int bit = 0; bit < 8; bit++) {
			int rc, want;

			out[i] ^= (uint8_t)(1u << bit);
			rc = dg_open(key, out, size, size, &got, &p);
			out[i] ^= (uint8_t)(1u << bit);
			if (i < 2)
				want = TIP_EFORMAT;
			else if (i == 2)
				want = TIP_EVERSION;
			else if (i < size - DG_MAC_LEN)
				want = TIP_ECORRUPT; /* header, payload or the CRC itself */
			else
				want = TIP_EVERIFY;
			if (rc != want)
				fail_msg("flip of bit %d of byte %zu: got %d, want %d", bit, i, rc, want);
		}
	}
	assert_int_equal(dg_open(key, out, size, size, &got, &p), TIP_OK);
	free(payload);
	free(out);
	dg_key_free(key);
}

static void test_every_bit_flip(void **state)
{
	(void)state;
	flips(DG_SIZE_MIN);
	flips(DG_SIZE_DEFAULT);
}

/* A flipped bit with the CRC recomputed (a forger who knows CRC32C) still fails the MAC. */
static void test_flip_with_fixed_crc(void **state)
{
	size_t size = DG_SIZE_MIN, body = size - DG_OVERHEAD;
	struct dg_key *key = dg_key_new(key_a);
	struct dg_header h = symbol_header(size), got;
	uint8_t payload[DG_SIZE_MIN], out[DG_SIZE_MIN];
	const uint8_t *p;

	(void)state;
	fill(payload, body, 4);
	assert_int_equal(dg_seal(key, &h, payload, body, out, size), TIP_OK);
	for (size_t i = 3; i < DG_HEADER_LEN + body; i++) {
		out[i] ^= 0x10;
		put_be32(out + DG_HEADER_LEN + body, crc32c(out, DG_HEADER_LEN + body));
		assert_int_equal(dg_open(key, out, size, size, &got, &p), TIP_EVERIFY);
		out[i] ^= 0x10;
		put_be32(out + DG_HEADER_LEN + body, crc32c(out, DG_HEADER_LEN + body));
	}
	assert_int_equal(dg_open(key, out, size, size, &got, &p), TIP_OK);
	dg_key_free(key);
}

static void test_wrong_key(void **state)
{
	uint8_t other[DG_KEY_LEN];
	size_t size = DG_SIZE_DEFAULT, body = size - DG_OVERHEAD;
	struct dg_key *a = dg_key_new(key_a), *b;
	struct dg_header h = symbol_header(size), got;
	uint8_t payload[DG_SIZE_DEFAULT], out[DG_SIZE_DEFAULT];
	const uint8_t *p;

	(void)state;
	memcpy(other, key_a, sizeof(other));
	other[31] ^= 1;
	b = dg_key_new(other);
	fill(payload, body, 5);
	assert_int_equal(dg_seal(a, &h, payload, body, out, size), TIP_OK);
	assert_int_equal(dg_open(b, out, size, size, &got, &p), TIP_EVERIFY);
	assert_int_equal(dg_open(a, out, size, size, &got, &p), TIP_OK);
	dg_key_free(a);
	dg_key_free(b);
}

static void test_lengths(void **state)
{
	size_t size = DG_SIZE_DEFAULT, body = size - DG_OVERHEAD;
	struct dg_key *key = dg_key_new(key_a);
	struct dg_header h = symbol_header(size), got = {0};
	uint8_t payload[DG_SIZE_DEFAULT], out[DG_SIZE_DEFAULT + 1];
	const uint8_t *p = NULL;

	(void)state;
	fill(payload, body, 6);
	assert_int_equal(dg_seal(key, &h, payload, body, out, size), TIP_OK);
	out[size] = 0;
	assert_int_equal(dg_open(key, out, 0, size, &got, &p), TIP_ETRUNCATED);
	assert_int_equal(dg_open(key, out, 1, size, &got, &p), TIP_ETRUNCATED);
	assert_int_equal(dg_open(key, out, DG_HEADER_LEN, size, &got, &p), TIP_ETRUNCATED);
	assert_int_equal(dg_open(key, out, size - 1, size, &got, &p), TIP_ETRUNCATED);
	assert_int_equal(dg_open(key, out, size + 1, size, &got, &p), TIP_EOVERSIZE);
	/* The same bytes read as a datagram of another configured size. */
	assert_int_equal(dg_open(key, out, size - 1, size - 1, &got, &p), TIP_ECORRUPT);
	assert_int_equal(dg_open(key, out, size, DG_SIZE_MIN - 1, &got, &p), TIP_EINVAL);
	assert_int_equal(dg_open(key, out, size, DG_SIZE_MAX + 1, &got, &p), TIP_EINVAL);
	/* Nothing is written on failure. */
	assert_null(p);
	assert_int_equal(got.session, 0);
	dg_key_free(key);
}

static void test_magic_version_type(void **state)
{
	size_t size = DG_SIZE_MIN, body = size - DG_OVERHEAD;
	struct dg_key *key = dg_key_new(key_a);
	struct dg_header h = symbol_header(size), got;
	uint8_t payload[DG_SIZE_MIN], good[DG_SIZE_MIN], out[DG_SIZE_MIN];
	const uint8_t *p;

	(void)state;
	fill(payload, body, 7);
	assert_int_equal(dg_seal(key, &h, payload, body, good, size), TIP_OK);
	/* Even with a valid CRC and MAC, magic and version are refused by name. */
	memcpy(out, good, size);
	out[0] = 'X';
	reseal(out, size, key_a);
	assert_int_equal(dg_open(key, out, size, size, &got, &p), TIP_EFORMAT);
	memcpy(out, good, size);
	out[1] = 'd';
	reseal(out, size, key_a);
	assert_int_equal(dg_open(key, out, size, size, &got, &p), TIP_EFORMAT);
	memcpy(out, good, size);
	out[2] = 2;
	reseal(out, size, key_a);
	assert_int_equal(dg_open(key, out, size, size, &got, &p), TIP_EVERSION);
	memcpy(out, good, size);
	out[2] = 0;
	reseal(out, size, key_a);
	assert_int_equal(dg_open(key, out, size, size, &got, &p), TIP_EVERSION);
	for (unsigned t = 0; t < 256; t++) {
		memcpy(out, good, size);
		out[3] = (uint8_t)t;
		reseal(out, size, key_a);
		if (t == DG_SYMBOL)
			assert_int_equal(dg_open(key, out, size, size, &got, &p), TIP_OK);
		else
			assert_int_equal(dg_open(key, out, size, size, &got, &p), TIP_ERANGE);
	}
	/* reseal() itself is right: the untouched datagram passes after it. */
	memcpy(out, good, size);
	reseal(out, size, key_a);
	assert_memory_equal(out, good, size);
	dg_key_free(key);
}

/* Header fields out of range, authenticated: refused only after the MAC, as TIP_ERANGE. */
static void test_geometry(void **state)
{
	struct case_ {
		uint8_t type, k, m;
		uint16_t index, symbol_size, reserved;
		int want;
	};
	size_t size = DG_SIZE_MIN, body = size - DG_OVERHEAD;
	const uint16_t S = (uint16_t)body;
	const struct case_ cases[] = {
	        {DG_SYMBOL, 10, 3, 12, S, 0, TIP_OK},         {DG_SYMBOL, 1, 0, 0, S, 0, TIP_OK},
	        {DG_SYMBOL, 1, 254, 254, S, 0, TIP_OK},       {DG_SYMBOL, 254, 1, 254, S, 0, TIP_OK},
	        {DG_SYMBOL, 0, 3, 0, S, 0, TIP_ERANGE},      /* k = 0 */
	        {DG_SYMBOL, 200, 56, 0, S, 0, TIP_ERANGE},   /* k + m = 256 */
	        {DG_SYMBOL, 255, 255, 0, S, 0, TIP_ERANGE},  /* k + m = 510 */
	        {DG_SYMBOL, 10, 3, 13, S, 0, TIP_ERANGE},    /* index = k + m */
	        {DG_SYMBOL, 10, 3, 300, S, 0, TIP_ERANGE},   /* index far out */
	        {DG_SYMBOL, 10, 3, 0, S - 1, 0, TIP_ERANGE}, /* symbol_size != D - 52 */
	        {DG_SYMBOL, 10, 3, 0, S + 1, 0, TIP_ERANGE},  {DG_SYMBOL, 10, 3, 0, 0, 0, TIP_ERANGE},
	        {DG_SYMBOL, 10, 3, 0, S, 1, TIP_ERANGE}, /* reserved != 0 */
	        {DG_SYMBOL, 10, 3, 0, S, 0x8000, TIP_ERANGE}, {DG_HEARTBEAT, 0, 0, 0, S, 0, TIP_OK},
	        {DG_HEARTBEAT, 1, 0, 0, S, 0, TIP_ERANGE},    {DG_HEARTBEAT, 0, 1, 0, S, 0, TIP_ERANGE},
	        {DG_HEARTBEAT, 0, 0, 1, S, 0, TIP_ERANGE},    {DG_HEARTBEAT, 0, 0, 0, S - 1, 0, TIP_ERANGE},
	};
	struct dg_key *key = dg_key_new(key_a);
	struct dg_header h = symbol_header(size), got;
	uint8_t payload[DG_SIZE_MIN], out[DG_SIZE_MIN];
	const uint8_t *p;

	(void)state;
	fill(payload, body, 8);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct case_ *c = &cases[i];
		struct dg_header want = {
		        .type = (enum dg_type)c->type,
		        .session = 1,
		        .block = 2,
		        .index = c->index,
		        .k = c->k,
		        .m = c->m,
		        .symbol_size = c->symbol_size,
		};

		assert_int_equal(dg_seal(key, &h, payload, body, out, size), TIP_OK);
		out[3] = c->type;
		out[24] = (uint8_t)(c->index >> 8);
		out[25] = (uint8_t)c->index;
		out[26] = c->k;
		out[27] = c->m;
		out[28] = (uint8_t)(c->symbol_size >> 8);
		out[29] = (uint8_t)c->symbol_size;
		out[30] = (uint8_t)(c->reserved >> 8);
		out[31] = (uint8_t)c->reserved;
		reseal(out, size, key_a);
		if (dg_open(key, out, size, size, &got, &p) != c->want)
			fail_msg("case %zu: want %d", i, c->want);
		/* dg_seal refuses exactly the headers dg_open refuses (the reserved field is not in the
		 * struct). */
		if (c->reserved == 0)
			assert_int_equal(
			        dg_seal(key, &want, payload, c->type == DG_SYMBOL ? body : 0, out, size),
			        c->want == TIP_OK ? TIP_OK : TIP_EINVAL);
	}
	dg_key_free(key);
}

static void test_seal_refuses(void **state)
{
	size_t size = DG_SIZE_MIN, body = size - DG_OVERHEAD;
	struct dg_key *key = dg_key_new(key_a);
	struct dg_header h = symbol_header(size);
	uint8_t payload[DG_SIZE_MIN + 1], out[DG_SIZE_MIN + 1];

	(void)state;
	fill(payload, sizeof(payload), 9);
	assert_int_equal(dg_seal(key, &h, payload, body - 1, out, size), TIP_EINVAL); /* a symbol is whole */
	assert_int_equal(dg_seal(key, &h, payload, body + 1, out, size), TIP_EINVAL);
	assert_int_equal(dg_seal(key, &h, payload, body, out, size + 1), TIP_EINVAL); /* symbol_size */
	h.type = DG_HEARTBEAT;
	h.k = h.m = 0;
	h.index = 0;
	assert_int_equal(dg_seal(key, &h, payload, body + 1, out, size), TIP_EINVAL);
	assert_int_equal(dg_seal(key, &h, payload, 0, out, size), TIP_OK);
	h.type = (enum dg_type)3;
	assert_int_equal(dg_seal(key, &h, payload, 0, out, size), TIP_EINVAL);
	h.type = DG_HEARTBEAT;
	h.symbol_size = (uint16_t)(DG_SIZE_MIN - 1 - DG_OVERHEAD);
	assert_int_equal(dg_seal(key, &h, payload, 0, out, DG_SIZE_MIN - 1), TIP_EINVAL);
	assert_false(dg_size_ok(DG_SIZE_MIN - 1));
	assert_true(dg_size_ok(DG_SIZE_MIN));
	assert_true(dg_size_ok(DG_SIZE_MAX));
	assert_false(dg_size_ok(DG_SIZE_MAX + 1));
	dg_key_free(key);
}

static void test_reason_names(void **state)
{
	(void)state;
	assert_string_equal(dg_reason(TIP_OK), "ok");
	assert_string_equal(dg_reason(TIP_ETRUNCATED), "short");
	assert_string_equal(dg_reason(TIP_EOVERSIZE), "long");
	assert_string_equal(dg_reason(TIP_EFORMAT), "magic");
	assert_string_equal(dg_reason(TIP_EVERSION), "version");
	assert_string_equal(dg_reason(TIP_ECORRUPT), "crc");
	assert_string_equal(dg_reason(TIP_EVERIFY), "mac");
	assert_string_equal(dg_reason(TIP_ERANGE), "header");
	assert_string_equal(dg_reason(TIP_EINVAL), "invalid");
	dg_key_free(NULL);
}

/* Sealing and opening make no OpenSSL allocation (EVP would make one or two per datagram). */
static void test_no_allocation(void **state)
{
	size_t size = DG_SIZE_DEFAULT, body = size - DG_OVERHEAD;
	struct dg_key *key = dg_key_new(key_a);
	struct dg_header h = symbol_header(size), got;
	uint8_t payload[DG_SIZE_DEFAULT], out[DG_SIZE_DEFAULT];
	const uint8_t *p;
	long before;

	(void)state;
	if (!mem_hooked)
		skip();
	fill(payload, body, 10);
	/* The first use may initialise CPU capability tables. */
	assert_int_equal(dg_seal(key, &h, payload, body, out, size), TIP_OK);
	assert_int_equal(dg_open(key, out, size, size, &got, &p), TIP_OK);
	before = openssl_allocs;
	for (int i = 0; i < 1000; i++) {
		h.packet = (uint32_t)i;
		assert_int_equal(dg_seal(key, &h, payload, body, out, size), TIP_OK);
		assert_int_equal(dg_open(key, out, size, size, &got, &p), TIP_OK);
		out[100] ^= 1;
		assert_int_equal(dg_open(key, out, size, size, &got, &p), TIP_ECORRUPT);
	}
	assert_int_equal(openssl_allocs, before);
	/* The counter works: a real OpenSSL allocation moves it. */
	OPENSSL_free(OPENSSL_malloc(16));
	assert_int_equal(openssl_allocs, before + 1);
	dg_key_free(key);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_no_allocation),
	        cmocka_unit_test(test_round_trip),
	        cmocka_unit_test(test_layout),
	        cmocka_unit_test(test_doc_example),
	        cmocka_unit_test(test_heartbeat_padding),
	        cmocka_unit_test(test_every_bit_flip),
	        cmocka_unit_test(test_flip_with_fixed_crc),
	        cmocka_unit_test(test_wrong_key),
	        cmocka_unit_test(test_lengths),
	        cmocka_unit_test(test_magic_version_type),
	        cmocka_unit_test(test_geometry),
	        cmocka_unit_test(test_seal_refuses),
	        cmocka_unit_test(test_reason_names),
	};

	/* Must come before OpenSSL's first allocation. */
	mem_hooked = CRYPTO_set_mem_functions(count_malloc, count_realloc, count_free);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
