/*
 * lossy-relay: a UDP relay that damages traffic on purpose, for tests and
 * benchmarks of the diode (this kernel may lack netem). Receives datagrams on
 * one address and forwards them to another, dropping, duplicating, reordering,
 * corrupting or truncating some, from a seeded PRNG so runs repeat.
 *
 *   lossy-relay -l ADDR:PORT -f ADDR:PORT [-o ADDR:PORT] [-p loss] [-b every:length]
 *               [-d dup] [-r reorder] [-x flip] [-t truncate] [-s seed]
 *
 * Probabilities are fractions (0.05 = 5%). -b 1000:50 drops 50 datagrams in a
 * row once every 1000. -o sends from the given address, for receivers that
 * check where datagrams come from (udpcast's takes only its own two ports).
 * On SIGTERM or SIGINT it prints its counters as one line
 * "relay: received=N forwarded=N dropped=N duplicated=N reordered=N flipped=N truncated=N"
 * and exits 0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH     64
#define MAX_DGRAM 65536

static volatile sig_atomic_t stop;
/* What one received batch becomes: each datagram at most three times (itself, a duplicate, a held one). */
static struct mmsghdr out_msgs[3 * BATCH];
static struct iovec out_iov[3 * BATCH];
static unsigned out_n;
static uint64_t rng_state = 0x853c49e6748fea9bULL;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static int chance(double p)
{
	return p > 0 && (double)(rng() >> 11) / 9007199254740992.0 < p;
}

static int parse_addr(const char *s, struct sockaddr_in *a)
{
	char host[64];
	const char *colon = strrchr(s, ':');

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = 0;
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)atoi(colon + 1));
	return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
}

static void queue(const uint8_t *d, size_t len)
{
	out_iov[out_n].iov_base = (void *)d;
	out_iov[out_n].iov_len = len;
	memset(&out_msgs[out_n], 0, sizeof(out_msgs[out_n]));
	out_msgs[out_n].msg_hdr.msg_iov = &out_iov[out_n];
	out_msgs[out_n].msg_hdr.msg_iovlen = 1;
	out_n++;
}

/* Sends what the batch queued, in order; a datagram the kernel refuses is lost, as on a link. */
static void flush(int out)
{
	for (unsigned at = 0; at < out_n;) {
		int rc = sendmmsg(out, out_msgs + at, out_n - at, 0);

		at += rc > 0 ? (unsigned)rc : 1;
	}
	out_n = 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in listen_addr, fwd, from;
	double loss = 0, dup = 0, reorder = 0, flip = 0, truncate = 0;
	unsigned long burst_every = 0, burst_len = 0, burst_left = 0, count = 0;
	uint64_t received = 0, forwarded = 0, dropped = 0, duplicated = 0, reordered = 0, flipped = 0,
	         truncated = 0;
	static uint8_t bufs[BATCH][MAX_DGRAM], held[MAX_DGRAM];
	size_t held_len = 0;
	int held_queued = 0;
	int have_listen = 0, have_fwd = 0, have_from = 0, opt, in, out;

	while ((opt = getopt(argc, argv, "l:f:o:p:b:d:r:x:t:s:")) != -1) {
		switch (opt) {
		case 'l': have_listen = parse_addr(optarg, &listen_addr) == 0; break;
		case 'f': have_fwd = parse_addr(optarg, &fwd) == 0; break;
		case 'o':
			if (parse_addr(optarg, &from) != 0)
				return 2;
			have_from = 1;
			break;
		case 'p': loss = atof(optarg); break;
		case 'b': sscanf(optarg, "%lu:%lu", &burst_every, &burst_len); break;
		case 'd': dup = atof(optarg); break;
		case 'r': reorder = atof(optarg); break;
		case 'x': flip = atof(optarg); break;
		case 't': truncate = atof(optarg); break;
		case 's': rng_state = strtoull(optarg, NULL, 0) | 1; break;
		default: fprintf(stderr, "usage: see the comment at the top of lossy_relay.c\n"); return 2;
		}
	}
	if (!have_listen || !have_fwd)
		return 2;
	in = socket(AF_INET, SOCK_DGRAM, 0);
	out = socket(AF_INET, SOCK_DGRAM, 0);
	int size = 64 << 20;
	setsockopt(in, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
	setsockopt(out, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size));
	if (bind(in, (struct sockaddr *)&listen_addr, sizeof(listen_addr)) != 0 ||
	    (have_from && bind(out, (struct sockaddr *)&from, sizeof(from)) != 0) ||
	    connect(out, (struct sockaddr *)&fwd, sizeof(fwd)) != 0) {
		perror("lossy-relay");
		return 1;
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	printf("relay: listening\n");
	fflush(stdout);

	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	while (!stop) {
		for (int i = 0; i < BATCH; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = MAX_DGRAM;
			memset(&msgs[i], 0, sizeof(msgs[i]));
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		int n = recvmmsg(in, msgs, BATCH, MSG_WAITFORONE, NULL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("recvmmsg");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			uint8_t *d = bufs[i];
			size_t len = msgs[i].msg_len;

			received++;
			count++;
			if (burst_every && count % burst_every == 0)
				burst_left = burst_len;
			if (burst_left) {
				burst_left--;
				dropped++;
				continue;
			}
			if (chance(loss)) {
				dropped++;
				continue;
			}
			if (len && chance(flip)) {
				d[rng() % len] ^= (uint8_t)(1u << (rng() % 8));
				flipped++;
			}
			if (len > 1 && chance(truncate)) {
				len = 1 + rng() % (len - 1);
				truncated++;
			}
			/* A datagram held back goes out after the next one; the buffer is reused only after
			 * the batch that sends it. */
			if (!held_len && !held_queued && chance(reorder)) {
				memcpy(held, d, len);
				held_len = len;
				reordered++;
				continue;
			}
			queue(d, len);
			forwarded++;
			if (chance(dup)) {
				queue(d, len);
				duplicated++;
			}
			if (held_len) {
				queue(held, held_len);
				forwarded++;
				held_len = 0;
				held_queued = 1;
			}
		}
		flush(out);
		held_queued = 0;
	}
	if (held_len) {
		send(out, held, held_len, 0);
		forwarded++;
	}
	printf("relay: received=%llu forwarded=%llu dropped=%llu duplicated=%llu reordered=%llu flipped=%llu "
	       "truncated=%llu\n",
	       (unsigned long long)received, (unsigned long long)forwarded, (unsigned long long)dropped,
	       (unsigned long long)duplicated, (unsigned long long)reordered, (unsigned long long)flipped,
	       (unsigned long long)truncated);
	return 0;
}
