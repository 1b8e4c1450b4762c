#include "common/textbuf.h"

#include <stdarg.h>
#include <stdio.h>

void textbuf_printf(struct textbuf *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(t->len < t->cap ? t->buf + t->len : NULL, t->len < t->cap ? t->cap - t->len : 0, fmt,
	              ap);
	va_end(ap);
	if (n > 0)
		t->len += (size_t)n;
}
