/*
 * A small HTTP/1.1 server on libevent bufferevents, plain or TLS.
 *
 * Why not evhttp: libevent 2.1's evhttp answers its own limit violations
 * (oversized bodies or headers, timeouts) with HTML error pages and gives no
 * hook to change them, and it frees a request whose client went away while a
 * handler still holds it. Every answer here is the daemon's JSON, limits are
 * checked from the head before a body byte is buffered, slow clients meet
 * absolute deadlines (not just inactivity timers), and a request outlives its
 * connection until the handler replies.
 *
 * Single-threaded: every function runs on the event loop's thread.
 * A handler must call exactly one http_reply* for every request, now or later.
 */
#ifndef TIP_COMMON_HTTP_SERVER_H
#define TIP_COMMON_HTTP_SERVER_H

#include <event2/event.h>
#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/http_parse.h"

struct http_limits {
	size_t max_head;            /* request line and headers, bytes: 431 beyond */
	size_t max_target;          /* request target, bytes: 414 beyond */
	size_t max_body;            /* bytes: 413 beyond, judged from Content-Length before reading */
	size_t max_connections;     /* accepting pauses at this many open connections */
	size_t max_per_address;     /* open connections from one client address: 429 and close beyond */
	long long head_timeout_ms;  /* the whole head must arrive within this: 408 */
	long long body_timeout_ms;  /* the body must arrive within this plus length / min_body_rate: 408 */
	size_t min_body_rate;       /* bytes per second a client must at least keep up */
	long long idle_timeout_ms;  /* keep-alive connections close after this long without a request */
	long long write_timeout_ms; /* a response must drain within this */
};

/* Safe defaults: 16 KiB head, 2 KiB target, 1 MiB body, 1024 connections, 64 per address, 10 s head, 30 s
 * body, 8 KiB/s, 15 s idle, 30 s write. */
struct http_limits http_limits_default(void);

struct http_server;
struct http_req;

typedef void (*http_handler)(struct http_req *req, void *arg);

/*
 * default_headers: NULL-terminated "Name: value" lines sent with every
 * response (security headers); copied. NULL on allocation failure.
 */
struct http_server *http_server_new(struct event_base *base, const struct http_limits *lim,
                                    const char *const *default_headers, http_handler handler, void *arg);
/*
 * Binds and listens on addr:port (numeric IPv4 or IPv6 address; port 0 picks
 * one, reported in *bound_port). tls: NULL for plain HTTP, or a server
 * SSL_CTX the caller keeps alive. TIP_OK, TIP_EINVAL, TIP_EIO (errno set).
 */
int http_server_listen(struct http_server *s, const char *addr, int port, SSL_CTX *tls, int *bound_port);
/*
 * Serves a socket that is bound and listening already (opened by a parent process and inherited):
 * the server owns and closes it. TIP_OK, TIP_EINVAL (too many listeners), TIP_EIO.
 */
int http_server_adopt(struct http_server *s, int fd, SSL_CTX *tls);
/* Closes the listeners: no new connections; open ones are served on. */
void http_server_stop_listening(struct http_server *s);
/* Closes listeners and connections. Requests still held by handlers stay valid; replying to them frees them.
 */
void http_server_free(struct http_server *s);
size_t http_server_connections(const struct http_server *s);
/* Connections with a request in a handler or a response still draining. */
size_t http_server_busy(const struct http_server *s);

const struct http_head *http_req_head(const struct http_req *r);
const uint8_t *http_req_body(const struct http_req *r, size_t *len); /* NUL-terminated for convenience */
const struct sockaddr *http_req_peer(const struct http_req *r);
int http_req_tls(const struct http_req *r);
/* 0 once the client has gone; a reply is then discarded. */
int http_req_alive(const struct http_req *r);

/*
 * Sends the response and frees r. extra_headers: NULL or NULL-terminated
 * "Name: value" lines. For HEAD requests the body is not sent.
 */
void http_reply(struct http_req *r, int status, const char *content_type, const void *body, size_t len,
                const char *const *extra_headers);
/* {"error": code, "field": field-or-null, "message": message} with the given status. */
void http_reply_error(struct http_req *r, int status, const char *code, const char *field,
                      const char *message, const char *const *extra_headers);
/* Sends body (a jansson value, whose reference this takes) as compact JSON; 503 when body is NULL. */
struct json_t;
void http_reply_json(struct http_req *r, int status, struct json_t *body, const char *const *extra_headers);
/* The standard reason phrase of a status code ("Unknown" if none). */
const char *http_reason(int status);

#endif
