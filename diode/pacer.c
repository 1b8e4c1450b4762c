#include "diode/pacer.h"

void pacer_init(struct pacer *p, double bytes_per_second, double burst_bytes, uint64_t now_ns)
{
	p->rate = bytes_per_second;
	p->burst = burst_bytes;
	p->tokens = 0;
	p->last_ns = now_ns;
}

static void refill(struct pacer *p, uint64_t now_ns)
{
	if (now_ns > p->last_ns) {
		p->tokens += p->rate * (double)(now_ns - p->last_ns) / 1e9;
		if (p->tokens > p->burst)
			p->tokens = p->burst;
		p->last_ns = now_ns;
	}
}

size_t pacer_take(struct pacer *p, size_t size, size_t max, uint64_t now_ns)
{
	size_t n;

	refill(p, now_ns);
	n = p->tokens >= (double)size ? (size_t)(p->tokens / (double)size) : 0;
	if (n > max)
		n = max;
	p->tokens -= (double)(n * size);
	return n;
}

uint64_t pacer_wait_ns(const struct pacer *p, size_t size)
{
	double missing = (double)size - p->tokens;

	return missing <= 0 ? 0 : (uint64_t)(missing / p->rate * 1e9) + 1;
}

void pacer_refund(struct pacer *p, size_t bytes)
{
	p->tokens += (double)bytes;
	if (p->tokens > p->burst)
		p->tokens = p->burst;
}

int pacer_has_credit(struct pacer *p, uint64_t now_ns)
{
	refill(p, now_ns);
	return p->tokens > 0;
}

void pacer_spend(struct pacer *p, size_t bytes)
{
	p->tokens -= (double)bytes;
}
