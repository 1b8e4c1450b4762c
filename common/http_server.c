#include "common/http_server.h"

#include "common/err.h"
#include "common/net.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>

#define MAX_LISTENERS       8
#define MAX_DEFAULT_HEADERS 32

enum conn_state {
	ST_HEAD,    /* waiting for (the rest of) a request head */
	ST_BODY,    /* waiting for the body */
	ST_HANDLER, /* the handler holds the request; reading paused */
	ST_WRITING, /* a response is draining */
};

struct http_conn {
	struct http_server *srv;
	struct bufferevent *bev;
	struct event *timer;
	enum conn_state state;
	struct http_req *req;
	struct sockaddr_storage peer;
	int tls;
	int close_after_write;
	LIST_ENTRY(http_conn) link;
};

struct http_req {
	struct http_conn *conn; /* NULL once the client has gone */
	char *head_buf;
	struct http_head head;
	uint8_t *body;
	size_t body_len;
	struct sockaddr_storage peer;
	int tls;
};

struct http_server {
	struct event_base *base;
	struct http_limits lim;
	char *headers[MAX_DEFAULT_HEADERS + 1];
	http_handler handler;
	void *arg;
	struct evconnlistener *listeners[MAX_LISTENERS];
	SSL_CTX *tls[MAX_LISTENERS];
	size_t n_listeners;
	size_t n_conns;
	int paused;
	LIST_HEAD(, http_conn) conns;
};

struct http_limits http_limits_default(void)
{
	return (struct http_limits){
	        .max_head = 16 * 1024,
	        .max_target = 2048,
	        .max_body = 1 << 20,
	        .max_connections = 1024,
	        .max_per_address = 64,
	        .head_timeout_ms = 10000,
	        .body_timeout_ms = 30000,
	        .min_body_rate = 8 * 1024,
	        .idle_timeout_ms = 15000,
	        .write_timeout_ms = 30000,
	};
}

const char *http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	}
	return "Unknown";
}

static void set_timer(struct http_conn *c, long long ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

	evtimer_add(c->timer, &tv);
}

static void req_free(struct http_req *r)
{
	if (!r)
		return;
	free(r->head_buf);
	free(r->body);
	free(r);
}

static void conn_free(struct http_conn *c)
{
	struct http_server *s = c->srv;

	LIST_REMOVE(c, link);
	if (c->req) {
		if (c->state == ST_HANDLER)
			c->req->conn = NULL; /* the handler still owns it */
		else
			req_free(c->req);
	}
	event_free(c->timer);
	bufferevent_free(c->bev);
	free(c);
	s->n_conns--;
	if (s->paused && s->n_conns < s->lim.max_connections) {
		for (size_t i = 0; i < s->n_listeners; i++)
			evconnlistener_enable(s->listeners[i]);
		s->paused = 0;
	}
}

static void write_status_and_headers(struct evbuffer *out, struct http_server *s, int status, int keep_alive,
                                     const char *content_type, size_t len, const char *const *extra)
{
	char date[64];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Length: %zu\r\nConnection: %s\r\n",
	                    status, http_reason(status), date, len, keep_alive ? "keep-alive" : "close");
	if (content_type)
		evbuffer_add_printf(out, "Content-Type: %s\r\n", content_type);
	for (size_t i = 0; s->headers[i]; i++)
		evbuffer_add_printf(out, "%s\r\n", s->headers[i]);
	for (size_t i = 0; extra && extra[i]; i++)
		evbuffer_add_printf(out, "%s\r\n", extra[i]);
	evbuffer_add(out, "\r\n", 2);
}

static char *error_json(const char *code, const char *field, const char *message, size_t *len)
{
	json_t *o = json_pack("{s:s, s:s?, s:s}", "error", code, "field", field, "message", message);
	char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	*len = text ? strlen(text) : 0;
	return text;
}

/* Queues a response on a connection and arranges what happens once it drains. */
static void conn_respond(struct http_conn *c, int status, int keep_alive, int head_only,
                         const char *content_type, const void *body, size_t len, const char *const *extra)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	write_status_and_headers(out, c->srv, status, keep_alive, content_type, len, extra);
	if (!head_only && len)
		evbuffer_add(out, body, len);
	c->state = ST_WRITING;
	c->close_after_write = !keep_alive;
	bufferevent_enable(c->bev, EV_WRITE);
	set_timer(c, c->srv->lim.write_timeout_ms);
}

/* A failure found by the server itself: answer in JSON and close. */
static void conn_fail(struct http_conn *c, int status, const char *code, const char *message)
{
	size_t len;
	char *body = error_json(code, NULL, message, &len);

	if (c->req) {
		req_free(c->req);
		c->req = NULL;
	}
	conn_respond(c, status, 0, 0, "application/json", body, len, NULL);
	free(body);
}

static void fail_status(struct http_conn *c, int status)
{
	switch (status) {
	case 414: conn_fail(c, 414, "uri_too_long", "request target too long"); break;
	case 431: conn_fail(c, 431, "headers_too_large", "request head too large"); break;
	case 501:
		conn_fail(c, 501, "not_implemented", "Transfer-Encoding and expectations are not supported");
		break;
	case 505: conn_fail(c, 505, "http_version", "only HTTP/1.0 and HTTP/1.1 are supported"); break;
	default: conn_fail(c, 400, "bad_request", "malformed request"); break;
	}
}

static void dispatch(struct http_conn *c)
{
	struct http_req *r = c->req;

	/* Reading goes on, so a client that leaves is noticed, but what it pipelines meanwhile is capped. */
	c->state = ST_HANDLER;
	bufferevent_setwatermark(c->bev, EV_READ, 0, c->srv->lim.max_head);
	evtimer_del(c->timer);
	c->srv->handler(r, c->srv->arg);
}

static void read_body(struct http_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct http_req *r = c->req;

	if (evbuffer_get_length(in) < r->body_len)
		return;
	r->body = malloc(r->body_len + 1);
	if (!r->body) {
		conn_fail(c, 503, "unavailable", "out of memory");
		return;
	}
	evbuffer_remove(in, r->body, r->body_len);
	r->body[r->body_len] = 0;
	dispatch(c);
}

static void read_head(struct http_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	const struct http_limits *lim = &c->srv->lim;
	struct evbuffer_ptr end;
	struct http_req *r;
	size_t head_len;
	int status;

	/* RFC 9112 2.2: ignore empty lines before a request line. */
	while (evbuffer_get_length(in) >= 2) {
		unsigned char two[2];

		evbuffer_copyout(in, two, 2);
		if (two[0] != '\r' || two[1] != '\n')
			break;
		evbuffer_drain(in, 2);
	}
	end = evbuffer_search(in, "\r\n\r\n", 4, NULL);
	if (end.pos < 0) {
		if (evbuffer_get_length(in) > lim->max_head)
			fail_status(c, 431);
		return;
	}
	head_len = (size_t)end.pos + 4;
	if (head_len > lim->max_head) {
		fail_status(c, 431);
		return;
	}
	r = calloc(1, sizeof(*r));
	if (!r || !(r->head_buf = malloc(head_len + 1))) {
		free(r);
		conn_fail(c, 503, "unavailable", "out of memory");
		return;
	}
	c->req = r;
	r->conn = c;
	r->peer = c->peer;
	r->tls = c->tls;
	evbuffer_remove(in, r->head_buf, head_len);
	r->head_buf[head_len] = 0;
	if ((status = http_parse_head(r->head_buf, head_len, lim->max_target, &r->head)) != 0) {
		fail_status(c, status);
		return;
	}
	if (r->head.has_length && r->head.content_length > lim->max_body) {
		conn_fail(c, 413, "payload_too_large", "request body exceeds the limit");
		return;
	}
	if (!r->head.has_length && r->head.method == HTTP_POST) {
		conn_fail(c, 411, "length_required", "a Content-Length header is required");
		return;
	}
	r->body_len = (size_t)r->head.content_length;
	if (r->head.expect_continue && r->body_len > 0)
		evbuffer_add(bufferevent_get_output(c->bev), "HTTP/1.1 100 Continue\r\n\r\n", 25);
	c->state = ST_BODY;
	set_timer(c, lim->body_timeout_ms +
	                     (long long)(r->body_len * 1000 / (lim->min_body_rate ? lim->min_body_rate : 1)));
	read_body(c);
}

static void conn_read(struct http_conn *c)
{
	if (c->state == ST_HEAD)
		read_head(c);
	else if (c->state == ST_BODY)
		read_body(c);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	conn_read(arg);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct http_conn *c = arg;

	if (c->state != ST_WRITING || evbuffer_get_length(bufferevent_get_output(bev)) > 0)
		return;
	if (c->close_after_write) {
		conn_free(c);
		return;
	}
	c->state = ST_HEAD;
	set_timer(c, c->srv->lim.idle_timeout_ms);
	bufferevent_setwatermark(c->bev, EV_READ, 0, 0);
	if (evbuffer_get_length(bufferevent_get_input(bev)) > 0) {
		set_timer(c, c->srv->lim.head_timeout_ms);
		conn_read(c);
	}
}

static void on_event(struct bufferevent *bev, short events, void *arg)
{
	(void)bev;
	/* A TLS connection reports its finished handshake here too; anything else ends the connection. */
	if (events & BEV_EVENT_CONNECTED)
		return;
	conn_free(arg);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn *c = arg;
	(void)fd;
	(void)what;

	/* A request under way gets a 408; an idle keep-alive connection or a stuck write just closes. */
	if ((c->state == ST_HEAD && evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) ||
	    c->state == ST_BODY)
		conn_fail(c, 408, "timeout", "the request did not arrive in time");
	else
		conn_free(c);
}

/* Whether two peers share an address (the port aside). */
static int same_address(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
		              &((const struct sockaddr_in *)b)->sin_addr, sizeof(struct in_addr)) == 0;
	if (a->ss_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		              &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr)) == 0;
	return 0;
}

/* Whether the connection c, just accepted, is one too many from its address. */
static int over_address_limit(const struct http_conn *c)
{
	const struct http_conn *o;
	size_t n = 0;

	for (o = LIST_FIRST(&c->srv->conns); o; o = LIST_NEXT(o, link))
		if (o != c && same_address(&o->peer, &c->peer) && ++n >= c->srv->lim.max_per_address)
			return 1;
	return 0;
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	struct http_server *s = arg;
	SSL_CTX *tls = NULL;
	struct http_conn *c;

	for (size_t i = 0; i < s->n_listeners; i++)
		if (s->listeners[i] == l)
			tls = s->tls[i];
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->srv = s;
	memcpy(&c->peer, sa, (size_t)salen < sizeof(c->peer) ? (size_t)salen : sizeof(c->peer));
	if (tls) {
		SSL *ssl = SSL_new(tls);

		c->bev = ssl ? bufferevent_openssl_socket_new(s->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
		                                              BEV_OPT_CLOSE_ON_FREE)
		             : NULL;
		if (!c->bev)
			SSL_free(ssl);
		c->tls = 1;
	} else {
		c->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	}
	c->timer = evtimer_new(s->base, on_timer, c);
	if (!c->bev || !c->timer) {
		if (c->bev)
			bufferevent_free(c->bev);
		else
			close(fd);
		if (c->timer)
			event_free(c->timer);
		free(c);
		return;
	}
	LIST_INSERT_HEAD(&s->conns, c, link);
	s->n_conns++;
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_enable(c->bev, EV_READ);
	set_timer(c, s->lim.head_timeout_ms);
	/* One address cannot take every connection: the extra one is answered and closed at once. */
	if (over_address_limit(c))
		conn_fail(c, 429, "too_many_connections", "too many connections from this address");
	if (s->n_conns >= s->lim.max_connections && !s->paused) {
		for (size_t i = 0; i < s->n_listeners; i++)
			evconnlistener_disable(s->listeners[i]);
		s->paused = 1;
	}
}

struct http_server *http_server_new(struct event_base *base, const struct http_limits *lim,
                                    const char *const *default_headers, http_handler handler, void *arg)
{
	struct http_server *s = calloc(1, sizeof(*s));
	size_t i = 0;

	if (!s)
		return NULL;
	s->base = base;
	s->lim = *lim;
	s->handler = handler;
	s->arg = arg;
	LIST_INIT(&s->conns);
	for (; default_headers && default_headers[i] && i < MAX_DEFAULT_HEADERS; i++) {
		if (!(s->headers[i] = strdup(default_headers[i]))) {
			http_server_free(s);
			return NULL;
		}
	}
	return s;
}

static void add_listener(struct http_server *s, struct evconnlistener *l, SSL_CTX *tls)
{
	s->listeners[s->n_listeners] = l;
	s->tls[s->n_listeners] = tls;
	s->n_listeners++;
}

int http_server_listen(struct http_server *s, const char *addr, int port, SSL_CTX *tls, int *bound_port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct evconnlistener *l;

	if (s->n_listeners == MAX_LISTENERS)
		return TIP_EINVAL;
	if (net_addr(addr, port, &ss, &len) != TIP_OK)
		return TIP_EINVAL;
	l = evconnlistener_new_bind(s->base, on_accept, s,
	                            LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE |
	                                    (s->paused ? LEV_OPT_DISABLED : 0),
	                            1024, (struct sockaddr *)&ss, (int)len);
	if (!l)
		return TIP_EIO;
	if (bound_port) {
		len = sizeof(ss);
		getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&ss, &len);
		*bound_port = net_port(&ss);
	}
	add_listener(s, l, tls);
	return TIP_OK;
}

int http_server_adopt(struct http_server *s, int fd, SSL_CTX *tls)
{
	struct evconnlistener *l;

	if (s->n_listeners == MAX_LISTENERS)
		return TIP_EINVAL;
	/* Backlog 0: the socket is listening already. It is closed with the server. */
	l = evconnlistener_new(s->base, on_accept, s,
	                       LEV_OPT_CLOSE_ON_FREE | (s->paused ? LEV_OPT_DISABLED : 0), 0, fd);
	if (!l)
		return TIP_EIO;
	add_listener(s, l, tls);
	return TIP_OK;
}

void http_server_stop_listening(struct http_server *s)
{
	for (size_t i = 0; i < s->n_listeners; i++)
		evconnlistener_free(s->listeners[i]);
	s->n_listeners = 0;
}

void http_server_free(struct http_server *s)
{
	if (!s)
		return;
	http_server_stop_listening(s);
	while (!LIST_EMPTY(&s->conns))
		conn_free(LIST_FIRST(&s->conns));
	for (size_t i = 0; s->headers[i]; i++)
		free(s->headers[i]);
	free(s);
}

size_t http_server_connections(const struct http_server *s)
{
	return s->n_conns;
}

size_t http_server_busy(const struct http_server *s)
{
	size_t n = 0;
	struct http_conn *c;

	LIST_FOREACH(c, &s->conns, link)
	n += c->state == ST_HANDLER || c->state == ST_WRITING;
	return n;
}

const struct http_head *http_req_head(const struct http_req *r)
{
	return &r->head;
}

const uint8_t *http_req_body(const struct http_req *r, size_t *len)
{
	*len = r->body_len;
	return r->body ? r->body : (const uint8_t *)"";
}

const struct sockaddr *http_req_peer(const struct http_req *r)
{
	return (const struct sockaddr *)&r->peer;
}

int http_req_tls(const struct http_req *r)
{
	return r->tls;
}

int http_req_alive(const struct http_req *r)
{
	return r->conn != NULL;
}

void http_reply(struct http_req *r, int status, const char *content_type, const void *body, size_t len,
                const char *const *extra_headers)
{
	struct http_conn *c = r->conn;

	if (c) {
		c->req = NULL;
		conn_respond(c, status, r->head.keep_alive, r->head.method == HTTP_HEAD, content_type, body,
		             len, extra_headers);
	}
	req_free(r);
}

void http_reply_error(struct http_req *r, int status, const char *code, const char *field,
                      const char *message, const char *const *extra_headers)
{
	size_t len;
	char *body = error_json(code, field, message, &len);

	http_reply(r, status, "application/json", body, len, extra_headers);
	free(body);
}

void http_reply_json(struct http_req *r, int status, json_t *body, const char *const *extra_headers)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;

	if (text)
		http_reply(r, status, "application/json", text, strlen(text), extra_headers);
	else
		http_reply_error(r, 503, "unavailable", NULL, "out of memory", NULL);
	free(text);
	json_decref(body);
}
