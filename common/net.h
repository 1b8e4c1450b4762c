/* Socket addresses from the numeric forms the settings use. */
#ifndef TIP_COMMON_NET_H
#define TIP_COMMON_NET_H

#include <sys/socket.h>

/* A numeric IPv4 or IPv6 address and a port into *ss and *len. TIP_OK or TIP_EINVAL. */
int net_addr(const char *addr, int port, struct sockaddr_storage *ss, socklen_t *len);
/* 1 if addr is a numeric IPv4 address in 127/8 or the IPv6 loopback address. */
int net_is_loopback(const char *addr);
/* The port of a socket address (host order). */
int net_port(const struct sockaddr_storage *ss);

#endif
