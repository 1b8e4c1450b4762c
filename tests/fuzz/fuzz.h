/* The libFuzzer entry point every fuzz_<x>.c defines. */
#ifndef TIP_TESTS_FUZZ_H
#define TIP_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* For targets that read their input as a program: the bytes not yet taken. */
struct fuzz_cursor {
	const uint8_t *p;
	size_t n;
};

/* The next byte, 0 once the input is used up. */
static inline uint8_t fuzz_take(struct fuzz_cursor *c)
{
	uint8_t b = 0;

	if (c->n) {
		b = *c->p++;
		c->n--;
	}
	return b;
}

/* How many of want bytes are left to take. */
static inline size_t fuzz_avail(const struct fuzz_cursor *c, size_t want)
{
	return want < c->n ? want : c->n;
}

/* Steps over n bytes (n <= what is left). */
static inline void fuzz_skip(struct fuzz_cursor *c, size_t n)
{
	c->p += n;
	c->n -= n;
}

/* Reads every byte of a record a parser handed out: a bad pointer or length shows under the sanitizers. */
static inline void fuzz_read_all(const uint8_t *p, size_t len)
{
	volatile uint8_t sink = 0;

	for (size_t i = 0; i < len; i++)
		sink ^= p[i];
	(void)sink;
}

#endif
