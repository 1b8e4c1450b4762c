/*
 * Batched UDP I/O for the link sockets: sendmmsg with UDP segmentation offload (one send
 * carries many equal datagrams, cut by the kernel or the NIC) and recvmmsg with UDP receive
 * offload (many datagrams of a flow arrive as one buffer, split here). On the wire nothing
 * changes: every datagram still has the configured size. Either offload falls back to one
 * datagram per message where the kernel refuses it.
 */
#ifndef TIP_DIODE_UDP_BATCH_H
#define TIP_DIODE_UDP_BATCH_H

#include <stddef.h>
#include <stdint.h>

/*
 * Asks the kernel to cut sends on fd into datagrams of d bytes. Returns how many datagrams one
 * message may then carry (1: no offload, every message is one datagram).
 */
size_t udpb_gso_enable(int fd, size_t d);
/* Turns the segmentation off again, after a send failed with EIO (the device cannot do it) or EINVAL
 * (datagrams larger than the path's MTU, which only plain sends may fragment). */
void udpb_gso_disable(int fd);
/*
 * Sends the n datagrams of d bytes at buf, up to per in one message, with as few sendmmsg
 * calls as one. Returns the datagrams sent (a prefix of the n, whole messages only), or -1 with
 * errno when none went.
 */
int udpb_send(int fd, const uint8_t *buf, size_t n, size_t d, size_t per);

struct udpb_rx;

/* Receive buffers for batch messages; turns receive offload on for fd. NULL without memory. */
struct udpb_rx *udpb_rx_new(int fd, size_t batch);
void udpb_rx_free(struct udpb_rx *b); /* NULL is safe */
/*
 * One recvmmsg (non-blocking) on fd; calls each() for every datagram in what arrived, with its
 * length as sent. Returns how many datagrams that was (0 when none was waiting, or on error); *more
 * is 1 when every buffer was filled, so more may be waiting.
 */
size_t udpb_recv(struct udpb_rx *b, int fd, void (*each)(void *arg, const uint8_t *dg, size_t len), void *arg,
                 int *more);

#endif
