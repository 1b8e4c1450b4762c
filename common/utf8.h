/*
 * UTF-8 one code point at a time (RFC 3629), for the code that must look inside text: validators,
 * note names, the comparison keys' normalisation. Strict: overlong forms, surrogates and values
 * past U+10FFFF are not UTF-8.
 */
#ifndef TIP_COMMON_UTF8_H
#define TIP_COMMON_UTF8_H

#include <stddef.h>
#include <stdint.h>

#define UTF8_MAX 4 /* bytes of the longest code point */

/* The code point at s[0..len) into *cp: its length in bytes (1..4), or 0 if the bytes there are not UTF-8. */
size_t utf8_next(const uint8_t *s, size_t len, uint32_t *cp);
/* cp (at most U+10FFFF, not a surrogate) encoded into out: its length in bytes, or 0 for no such code point.
 */
size_t utf8_put(uint32_t cp, uint8_t out[UTF8_MAX]);
/* 1 for a Unicode White_Space code point (tab to carriage return, space, U+0085, U+00A0, U+3000, ...). */
int utf8_is_space(uint32_t cp);

#endif
