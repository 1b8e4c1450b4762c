#include "common/encoding.h"

#include "common/err.h"

#include <string.h>

static const char hex_digits[] = "0123456789abcdef";
static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

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

static size_t encoded_len(size_t len, int pad)
{
	return pad ? (len + 2) / 3 * 4 : len / 3 * 4 + (len % 3 ? len % 3 + 1 : 0);
}

static int encode(const uint8_t *in, size_t len, char *out, size_t out_cap, const char *alphabet, int pad)
{
	size_t o = 0;

	if (out_cap < encoded_len(len, pad) + 1)
		return TIP_EOVERSIZE;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		size_t rest = len - i;

		if (rest > 1)
			v |= (uint32_t)in[i + 1] << 8;
		if (rest > 2)
			v |= in[i + 2];
		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		if (rest > 1)
			out[o++] = alphabet[v >> 6 & 63];
		else if (pad)
			out[o++] = '=';
		if (rest > 2)
			out[o++] = alphabet[v & 63];
		else if (pad)
			out[o++] = '=';
	}
	out[o] = '\0';
	return TIP_OK;
}

static int value_in(const char *alphabet, char c)
{
	const char *p = c ? memchr(alphabet, c, 64) : NULL;

	return p ? (int)(p - alphabet) : -1;
}

/*
 * Strict decoding: only the alphabet's characters, padding exactly where the
 * padded form needs it (and nowhere in the unpadded form), and the bits a short
 * final group leaves over must be zero, so every byte string has one encoding.
 */
static int decode(const char *s, size_t len, uint8_t *out, size_t out_cap, size_t *out_len,
                  const char *alphabet, int pad)
{
	size_t o = 0, full = len / 4 * 4, tail = len - full;

	if ((pad && tail) || (!pad && tail == 1))
		return TIP_EDECODE;
	if (pad && len >= 4) {
		/* The padded form's last group may end in "=" or "==": decode it as a short unpadded group.
		 */
		size_t eq = s[len - 1] == '=' ? (s[len - 2] == '=' ? 2 : 1) : 0;

		full = len - 4;
		tail = 4 - eq;
		if (tail < 2)
			return TIP_EDECODE;
	}
	for (size_t i = 0; i < full + tail; i += 4) {
		size_t n = i < full ? 4 : tail;
		uint32_t v = 0;

		for (size_t j = 0; j < n; j++) {
			int d = value_in(alphabet, s[i + j]);

			if (d < 0)
				return TIP_EDECODE;
			v |= (uint32_t)d << (18 - 6 * j);
		}
		if ((n == 2 && (v & 0xffff)) || (n == 3 && (v & 0xff)))
			return TIP_EDECODE;
		if (o + n - 1 > out_cap)
			return TIP_EOVERSIZE;
		out[o++] = (uint8_t)(v >> 16);
		if (n > 2)
			out[o++] = (uint8_t)(v >> 8);
		if (n > 3)
			out[o++] = (uint8_t)v;
	}
	*out_len = o;
	return TIP_OK;
}

int b64_encode(const uint8_t *in, size_t len, char *out, size_t out_cap)
{
	return encode(in, len, out, out_cap, b64_std, 1);
}

int b64_decode(const char *b64, size_t b64_len, uint8_t *out, size_t out_cap, size_t *out_len)
{
	return decode(b64, b64_len, out, out_cap, out_len, b64_std, 1);
}

int b64url_encode(const uint8_t *in, size_t len, char *out, size_t out_cap)
{
	return encode(in, len, out, out_cap, b64_url, 0);
}

int b64url_decode(const char *s, size_t len, uint8_t *out, size_t out_cap, size_t *out_len)
{
	return decode(s, len, out, out_cap, out_len, b64_url, 0);
}

static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

int b32_encode(const uint8_t *in, size_t len, char *out, size_t out_cap)
{
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;

	if ((len * 8 + 4) / 5 + 1 > out_cap)
		return TIP_EOVERSIZE;
	for (size_t i = 0; i < len; i++) {
		acc = (acc << 8) | in[i];
		for (bits += 8; bits >= 5; bits -= 5)
			out[o++] = b32[(acc >> (bits - 5)) & 31];
	}
	if (bits)
		out[o++] = b32[(acc << (5 - bits)) & 31];
	out[o] = 0;
	return TIP_OK;
}

int b32_decode(const char *s, size_t len, uint8_t *out, size_t out_cap, size_t *out_len)
{
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;

	if (len * 5 / 8 > out_cap)
		return TIP_EOVERSIZE;
	for (size_t i = 0; i < len; i++) {
		const char *p = s[i] ? strchr(b32, s[i]) : NULL;
		if (!p)
			return TIP_EDECODE;
		acc = (acc << 5) | (uint32_t)(p - b32);
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	if (bits >= 5 || (acc & ((1u << bits) - 1)))
		return TIP_EDECODE;
	*out_len = o;
	return TIP_OK;
}
