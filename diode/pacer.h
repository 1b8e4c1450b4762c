/*
 * A token bucket that paces datagrams to the link rate: tokens are bytes,
 * refilled continuously at rate bytes/s up to burst bytes. The caller asks how
 * many datagrams it may send now and how long to wait for the next one.
 */
#ifndef TIP_DIODE_PACER_H
#define TIP_DIODE_PACER_H

#include <stddef.h>
#include <stdint.h>

struct pacer {
	double rate;   /* bytes per second */
	double burst;  /* bucket size, bytes */
	double tokens; /* bytes available now */
	uint64_t last_ns;
};

/* Starts with an empty bucket: the first sends wait for tokens, a gentle warm-up. */
void pacer_init(struct pacer *p, double bytes_per_second, double burst_bytes, uint64_t now_ns);
/* How many datagrams of size bytes may go now (at most max); their tokens are taken. */
size_t pacer_take(struct pacer *p, size_t size, size_t max, uint64_t now_ns);
/* Nanoseconds until one more datagram of size bytes may go (0: now). */
uint64_t pacer_wait_ns(const struct pacer *p, size_t size);
/* Gives back tokens for datagrams that were taken but could not be sent. */
void pacer_refund(struct pacer *p, size_t bytes);
/*
 * For items of any size (records): 1 if the bucket is not in debt, after refilling to now. The caller
 * then spends an item's bytes with pacer_spend(), which may leave the bucket in debt by up to one item;
 * the debt is paid back at the rate before the next item may go.
 */
int pacer_has_credit(struct pacer *p, uint64_t now_ns);
void pacer_spend(struct pacer *p, size_t bytes);

#endif
