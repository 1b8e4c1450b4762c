/*
 * Formatted text appended to a caller's fixed buffer. The length keeps counting
 * past the capacity (nothing is written there), so a first pass with no buffer
 * measures and a second fills a buffer of exactly that size.
 */
#ifndef TIP_COMMON_TEXTBUF_H
#define TIP_COMMON_TEXTBUF_H

#include <stddef.h>

struct textbuf {
	char *buf; /* may be NULL when cap is 0 */
	size_t cap, len;
};

/* Appends printf-style text; t->len grows by its full length even when it does not fit. */
void textbuf_printf(struct textbuf *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
