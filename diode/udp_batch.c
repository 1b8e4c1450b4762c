#include "diode/udp_batch.h"

#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

/* The kernel's limits on one segmented send: 64 segments (older kernels) and an IP packet's length. */
#define GSO_SEGMENTS_MAX 64
#define GSO_BYTES_MAX    (65535 - 40 - 8)
#define MSG_MAX          1024
/* A received buffer holds up to a whole IP packet's payload, coalesced or not. */
#define RX_BUF 65536

size_t udpb_gso_enable(int fd, size_t d)
{
	int size = (int)d;
	size_t per = GSO_BYTES_MAX / d;

	if (per < 2 || setsockopt(fd, IPPROTO_UDP, UDP_SEGMENT, &size, sizeof(size)) != 0)
		return 1;
	return per < GSO_SEGMENTS_MAX ? per : GSO_SEGMENTS_MAX;
}

void udpb_gso_disable(int fd)
{
	int off = 0;

	setsockopt(fd, IPPROTO_UDP, UDP_SEGMENT, &off, sizeof(off));
}

int udpb_send(int fd, const uint8_t *buf, size_t n, size_t d, size_t per)
{
	struct mmsghdr msgs[MSG_MAX];
	struct iovec iov[MSG_MAX];
	size_t count = 0;
	int rc;

	for (size_t at = 0; at < n && count < MSG_MAX; at += per, count++) {
		size_t take = n - at < per ? n - at : per;

		iov[count].iov_base = (void *)(buf + at * d);
		iov[count].iov_len = take * d;
		memset(&msgs[count], 0, sizeof(msgs[count]));
		msgs[count].msg_hdr.msg_iov = &iov[count];
		msgs[count].msg_hdr.msg_iovlen = 1;
	}
	rc = sendmmsg(fd, msgs, (unsigned)count, 0);
	if (rc <= 0)
		return rc < 0 ? -1 : 0;
	size_t sent = 0;

	for (int i = 0; i < rc; i++)
		sent += iov[i].iov_len / d;
	return (int)sent;
}

struct udpb_rx {
	size_t batch;
	uint8_t *bufs;
	struct mmsghdr *msgs;
	struct iovec *iov;
	uint8_t (*ctl)[CMSG_SPACE(sizeof(int))];
};

struct udpb_rx *udpb_rx_new(int fd, size_t batch)
{
	struct udpb_rx *b = calloc(1, sizeof(*b));
	int on = 1;

	if (!b)
		return NULL;
	b->batch = batch;
	b->bufs = malloc(batch * RX_BUF);
	b->msgs = calloc(batch, sizeof(*b->msgs));
	b->iov = calloc(batch, sizeof(*b->iov));
	b->ctl = calloc(batch, sizeof(*b->ctl));
	if (!b->bufs || !b->msgs || !b->iov || !b->ctl) {
		udpb_rx_free(b);
		return NULL;
	}
	/* Without it every datagram is a message of its own, which is correct, only slower. */
	setsockopt(fd, IPPROTO_UDP, UDP_GRO, &on, sizeof(on));
	return b;
}

void udpb_rx_free(struct udpb_rx *b)
{
	if (!b)
		return;
	free(b->bufs);
	free(b->msgs);
	free(b->iov);
	free(b->ctl);
	free(b);
}

/* The size of the datagrams coalesced into a message, or 0 if it is a single one. */
static size_t segment_size(struct msghdr *h)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c))
		if (c->cmsg_level == IPPROTO_UDP && c->cmsg_type == UDP_GRO) {
			int size;

			memcpy(&size, CMSG_DATA(c), sizeof(size));
			return size > 0 ? (size_t)size : 0;
		}
	return 0;
}

size_t udpb_recv(struct udpb_rx *b, int fd, void (*each)(void *arg, const uint8_t *dg, size_t len), void *arg,
                 int *more)
{
	size_t datagrams = 0;

	for (size_t i = 0; i < b->batch; i++) {
		b->iov[i].iov_base = b->bufs + i * RX_BUF;
		b->iov[i].iov_len = RX_BUF;
		memset(&b->msgs[i].msg_hdr, 0, sizeof(b->msgs[i].msg_hdr));
		b->msgs[i].msg_hdr.msg_iov = &b->iov[i];
		b->msgs[i].msg_hdr.msg_iovlen = 1;
		b->msgs[i].msg_hdr.msg_control = b->ctl[i];
		b->msgs[i].msg_hdr.msg_controllen = sizeof(b->ctl[i]);
	}
	int n = recvmmsg(fd, b->msgs, (unsigned)b->batch, MSG_DONTWAIT, NULL);

	for (int i = 0; i < n; i++) {
		const uint8_t *p = b->iov[i].iov_base;
		size_t len = b->msgs[i].msg_len, seg = segment_size(&b->msgs[i].msg_hdr);

		if (!seg || seg > len)
			seg = len;
		/* Coalesced datagrams all have the first one's size, except perhaps the last. */
		for (size_t at = 0; at < len; at += seg, datagrams++)
			each(arg, p + at, len - at < seg ? len - at : seg);
		if (!len) {
			each(arg, p, 0);
			datagrams++;
		}
	}
	*more = n == (int)b->batch;
	return datagrams;
}
