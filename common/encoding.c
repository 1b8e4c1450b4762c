#include "common/encoding.h"

#include "common/err.h"

#include <string.h>

static const char hex_digits[] = "0123456789abcdef";
static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int hex_encode(const uint8_t *in, size_t len, char *out, size_t out_cap)
{
	if (out_cap < 2 * len + 1)
		return TIP_EOVERSIZE;
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hex_digits[in[i] >> 4];
		out[2 * i + 1] = hex_digits[in[i] & 15];
	}
	out[2 * len] = '\0';
	return TIP_OK;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int hex_decode(const char *hex, size_t hex_len, uint8_t *out, size_t out_cap, size_t *out_len)
{
	if (hex_len % 2 != 0)
		return TIP_EDECODE;
	if (out_cap < hex_len / 2)
		return TIP_EOVERSIZE;
	for (size_t i = 0; i < hex_len / 2; i++) {
		int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return TIP_EDECODE;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	*out_len = hex_len / 2;
	return TIP_OK;
}

int b64_encode(const uint8_t *in, size_t len, char *out, size_t out_cap)
{
	size_t o = 0;

	if (out_cap < (len + 2) / 3 * 4 + 1)
		return TIP_EOVERSIZE;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		size_t rest = len - i;

		if (rest > 1)
			v |= (uint32_t)in[i + 1] << 8;
		if (rest > 2)
			v |= in[i + 2];
		out[o++] = b64_alphabet[v >> 18 & 63];
		out[o++] = b64_alphabet[v >> 12 & 63];
		out[o++] = rest > 1 ? b64_alphabet[v >> 6 & 63] : '=';
		out[o++] = rest > 2 ? b64_alphabet[v & 63] : '=';
	}
	out[o] = '\0';
	return TIP_OK;
}

static int b64_value(char c)
{
	const char *p = c ? strchr(b64_alphabet, c) : NULL;

	return p ? (int)(p - b64_alphabet) : -1;
}

int b64_decode(const char *b64, size_t b64_len, uint8_t *out, size_t out_cap, size_t *out_len)
{
	size_t o = 0;

	if (b64_len % 4 != 0)
		return TIP_EDECODE;
	for (size_t i = 0; i < b64_len; i += 4) {
		int v[4];
		int pad = 0;
		int last = i + 4 == b64_len;

		for (int j = 0; j < 4; j++) {
			char c = b64[i + (size_t)j];

			if (c == '=' && last && j >= 2) {
				v[j] = 0;
				pad++;
				continue;
			}
			if (pad)
				return TIP_EDECODE; /* data after padding */
			v[j] = b64_value(c);
			if (v[j] < 0)
				return TIP_EDECODE;
		}
		uint32_t w =
		        (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
		/* Canonical form: the bits hidden by padding must be zero. */
		if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))
			return TIP_EDECODE;
		if (o + 3 - (size_t)pad > out_cap)
			return TIP_EOVERSIZE;
		out[o++] = (uint8_t)(w >> 16);
		if (pad < 2)
			out[o++] = (uint8_t)(w >> 8);
		if (pad < 1)
			out[o++] = (uint8_t)w;
	}
	*out_len = o;
	return TIP_OK;
}
