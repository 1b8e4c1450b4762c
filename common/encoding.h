/*
 * Hex, base64 and base32 codecs for keys, hashes, signed notes and TOTP secrets. Decoders are strict:
 * no whitespace, no missing padding, and the output must fit the caller's buffer.
 * Encoders write a NUL-terminated string and fail rather than truncate.
 */
#ifndef TIP_COMMON_ENCODING_H
#define TIP_COMMON_ENCODING_H

#include <stddef.h>
#include <stdint.h>

/* Lower-case hex of in[0..len) into out (2*len+1 bytes needed). Returns TIP_OK or TIP_EOVERSIZE. */
int hex_encode(const uint8_t *in, size_t len, char *out, size_t out_cap);
/* Decodes exactly hex_len characters; *out_len = hex_len/2. TIP_EDECODE on odd length or a non-hex digit. */
int hex_decode(const char *hex, size_t hex_len, uint8_t *out, size_t out_cap, size_t *out_len);

/* Standard padded base64 (RFC 4648 section 4). out needs 4*ceil(len/3)+1 bytes. */
int b64_encode(const uint8_t *in, size_t len, char *out, size_t out_cap);
/* Rejects anything that is not canonical padded base64. */
int b64_decode(const char *b64, size_t b64_len, uint8_t *out, size_t out_cap, size_t *out_len);

/* URL-safe base64 without padding (RFC 4648 section 5), as strict as b64_decode. */
int b64url_encode(const uint8_t *in, size_t len, char *out, size_t out_cap);
int b64url_decode(const char *s, size_t len, uint8_t *out, size_t out_cap, size_t *out_len);

/* Base32 without padding (RFC 4648 section 6; upper case), as TOTP apps take secrets. out needs
 * ceil(8*len/5)+1 bytes. */
int b32_encode(const uint8_t *in, size_t len, char *out, size_t out_cap);
/* Upper-case base32 without padding; TIP_EDECODE on any other character or leftover bits that are not 0. */
int b32_decode(const char *s, size_t len, uint8_t *out, size_t out_cap, size_t *out_len);

#endif
