/*
 * The HTTP server on a real loopback socket: the event loop runs in a thread,
 * the test speaks raw HTTP over blocking sockets.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/http_server.h"

#include <arpa/inet.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct event_base *base;
static struct http_server *srv;
static int port;
static pthread_t loop_thread;
static struct http_req *held; /* a request the /hold route keeps unanswered */
static int held_was_alive = -1;
static int held_ticks; /* timer ticks since the request was held */

static void on_release(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (held && ++held_ticks >= 5) {
		held_was_alive = http_req_alive(held);
		http_reply(held, 200, "text/plain", "late", 4, NULL);
		held = NULL;
	}
}

static void handler(struct http_req *r, void *arg)
{
	(void)arg;
	const struct http_head *h = http_req_head(r);
	char body[256];
	size_t len;

	http_req_body(r, &len);
	if (strcmp(h->path, "/hold") == 0) {
		held = r;
		held_ticks = 0;
		return;
	}
	if (strcmp(h->path, "/err") == 0) {
		static const char *const extra[] = {"Retry-After: 7", NULL};

		http_reply_error(r, 429, "rate_limited", "query_code", "slow down", extra);
		return;
	}
	int n = snprintf(body, sizeof(body), "%s %s %s %zu", h->method_name, h->path, h->query, len);
	http_reply(r, 200, "text/plain", body, (size_t)n, NULL);
}

static void *loop_main(void *arg)
{
	(void)arg;
	event_base_dispatch(base);
	return NULL;
}

static int setup(void **state)
{
	(void)state;
	static const char *const headers[] = {"X-Content-Type-Options: nosniff", NULL};
	struct http_limits lim = http_limits_default();

	lim.max_head = 1024;
	lim.max_target = 256;
	lim.max_body = 4096;
	lim.max_connections = 4;
	lim.head_timeout_ms = 400;
	lim.body_timeout_ms = 400;
	lim.idle_timeout_ms = 400;
	evthread_use_pthreads();
	base = event_base_new();
	srv = http_server_new(base, &lim, headers, handler, NULL);
	if (!srv || http_server_listen(srv, "127.0.0.1", 0, NULL, &port) != 0)
		return -1;
	/* Keeps the loop alive when no connection is open. */
	struct event *keep = event_new(base, -1, EV_PERSIST, on_release, NULL);
	struct timeval tv = {0, 100000};
	event_add(keep, &tv);
	return pthread_create(&loop_thread, NULL, loop_main, NULL);
}

static int teardown(void **state)
{
	(void)state;
	event_base_loopbreak(base);
	pthread_join(loop_thread, NULL);
	http_server_free(srv);
	return 0;
}

static int dial(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static void send_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);

		if (w <= 0)
			return; /* the server may have closed already: what it answered is what counts */
		s += w;
		n -= (size_t)w;
	}
}

static void send_str(int fd, const char *s)
{
	send_all(fd, s, strlen(s));
}

/* Reads until the peer closes, `want` bytes of text appear, or the timeout passes. */
static size_t recv_until(int fd, char *buf, size_t cap, const char *want, int timeout_ms)
{
	size_t n = 0;
	struct pollfd p = {fd, POLLIN, 0};

	buf[0] = 0;
	while (n + 1 < cap && poll(&p, 1, timeout_ms) == 1) {
		ssize_t r = recv(fd, buf + n, cap - 1 - n, 0);

		if (r <= 0)
			break;
		n += (size_t)r;
		buf[n] = 0;
		if (want && strstr(buf, want))
			break;
	}
	return n;
}

static int closed_by_peer(int fd, int timeout_ms)
{
	char c;
	struct pollfd p = {fd, POLLIN, 0};

	return poll(&p, 1, timeout_ms) == 1 && recv(fd, &c, 1, 0) == 0;
}

static void test_get_and_keep_alive(void **state)
{
	(void)state;
	char buf[4096];
	int fd = dial();

	send_str(fd, "GET /a?q=1 HTTP/1.1\r\nHost: x\r\n\r\n");
	recv_until(fd, buf, sizeof(buf), "GET /a q=1 0", 2000);
	assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(buf, "Connection: keep-alive\r\n"));
	assert_non_null(strstr(buf, "X-Content-Type-Options: nosniff\r\n"));
	assert_non_null(strstr(buf, "Content-Length: 12\r\n"));
	/* Same connection, then two pipelined requests in one write. */
	const char *post = "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc";
	send_all(fd, post, strlen(post));
	recv_until(fd, buf, sizeof(buf), "POST /b  3", 2000);
	assert_non_null(strstr(buf, "POST /b  3"));
	const char *two =
	        "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	send_all(fd, two, strlen(two));
	recv_until(fd, buf, sizeof(buf), NULL, 2000);
	assert_non_null(strstr(buf, "GET /1  0"));
	assert_non_null(strstr(buf, "GET /2  0"));
	assert_non_null(strstr(buf, "Connection: close\r\n"));
	close(fd);
}

static void test_head_has_no_body(void **state)
{
	(void)state;
	char buf[4096];
	int fd = dial();

	send_str(fd, "HEAD /h HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	recv_until(fd, buf, sizeof(buf), NULL, 2000);
	assert_non_null(strstr(buf, "Content-Length: 10\r\n")); /* "HEAD /h  0" */
	assert_true(strstr(buf, "\r\n\r\n")[4] == 0);
	close(fd);
}

struct bad_case {
	const char *request;
	const char *status_line;
	const char *code;
};

static void test_errors_are_json(void **state)
{
	(void)state;
	char big_target[400], big_head[1200], buf[4096];
	static struct bad_case cases[] = {
	        {"GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request", "\"error\":\"bad_request\""},
	        {"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n",
	         "HTTP/1.1 413 Content Too Large", "\"error\":\"payload_too_large\""},
	        {"POST /p HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 411 Length Required",
	         "\"error\":\"length_required\""},
	        {"POST /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
	         "HTTP/1.1 501 Not Implemented", "\"error\":\"not_implemented\""},
	        {"GET / HTTP/3.0\r\nHost: x\r\n\r\n", "HTTP/1.1 505", "\"error\":\"http_version\""},
	        {NULL, "HTTP/1.1 414 URI Too Long", "\"error\":\"uri_too_long\""},
	        {NULL, "HTTP/1.1 431 Request Header Fields Too Large", "\"error\":\"headers_too_large\""},
	};

	memset(big_target, 'a', sizeof(big_target));
	memcpy(big_target, "GET /", 5);
	snprintf(big_target + 300, sizeof(big_target) - 300, " HTTP/1.1\r\nHost: x\r\n\r\n");
	cases[5].request = big_target;
	memset(big_head, 'b', sizeof(big_head) - 1);
	big_head[sizeof(big_head) - 1] = 0;
	memcpy(big_head, "GET / HTTP/1.1\r\nX: ", 19);
	cases[6].request = big_head;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int fd = dial();

		send_all(fd, cases[i].request, strlen(cases[i].request));
		recv_until(fd, buf, sizeof(buf), NULL, 2000);
		if (!strstr(buf, cases[i].status_line) || !strstr(buf, cases[i].code) ||
		    !strstr(buf, "Content-Type: application/json") || !strstr(buf, "Connection: close"))
			fail_msg("case %zu: %s", i, buf);
		close(fd);
	}
	/* A handler's error with extra headers, and a field named. */
	int fd = dial();
	send_str(fd, "GET /err HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	recv_until(fd, buf, sizeof(buf), NULL, 2000);
	assert_non_null(strstr(buf, "HTTP/1.1 429 Too Many Requests\r\n"));
	assert_non_null(strstr(buf, "Retry-After: 7\r\n"));
	assert_non_null(strstr(
	        buf, "{\"error\":\"rate_limited\",\"field\":\"query_code\",\"message\":\"slow down\"}"));
	close(fd);
}

static void test_expect_continue(void **state)
{
	(void)state;
	char buf[4096];
	int fd = dial();

	send_str(fd, "POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
	recv_until(fd, buf, sizeof(buf), "\r\n\r\n", 2000);
	assert_string_equal(buf, "HTTP/1.1 100 Continue\r\n\r\n");
	send_str(fd, "body");
	recv_until(fd, buf, sizeof(buf), "POST /c  4", 2000);
	assert_non_null(strstr(buf, "HTTP/1.1 200 OK"));
	close(fd);
	/* Too large: the final answer comes at once, without a 100. */
	fd = dial();
	send_str(fd, "POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 99999\r\nExpect: 100-continue\r\n\r\n");
	recv_until(fd, buf, sizeof(buf), NULL, 2000);
	assert_null(strstr(buf, "100 Continue"));
	assert_non_null(strstr(buf, "413"));
	close(fd);
}

static void test_slow_clients_are_cut_off(void **state)
{
	(void)state;
	char buf[4096];
	int fd = dial();

	/* Slowloris: a byte at a time keeps an inactivity timer alive, not an absolute deadline. */
	const char *part = "GET / HTTP/1.1\r\nHost: x\r\n";
	for (size_t i = 0; i < strlen(part); i++) {
		send_all(fd, part + i, 1);
		usleep(30000);
	}
	recv_until(fd, buf, sizeof(buf), NULL, 3000);
	assert_non_null(strstr(buf, "HTTP/1.1 408 Request Timeout"));
	assert_non_null(strstr(buf, "\"error\":\"timeout\""));
	close(fd);
	/* A body that stalls. */
	fd = dial();
	send_str(fd, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly ten..");
	recv_until(fd, buf, sizeof(buf), NULL, 3000);
	assert_non_null(strstr(buf, "408"));
	close(fd);
	/* An idle keep-alive connection closes quietly. */
	fd = dial();
	send_str(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
	recv_until(fd, buf, sizeof(buf), "GET /  0", 2000);
	assert_true(closed_by_peer(fd, 3000));
	close(fd);
	/* A connection that never sends anything closes quietly too. */
	fd = dial();
	assert_true(closed_by_peer(fd, 3000));
	close(fd);
}

static void test_connection_cap(void **state)
{
	(void)state;
	char buf[4096];
	int fds[4], extra;

	for (int i = 0; i < 4; i++)
		fds[i] = dial();
	usleep(100000);
	extra = dial(); /* the kernel accepts it; the server does not serve it yet */
	send_str(extra, "GET /late HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	assert_int_equal(recv_until(extra, buf, sizeof(buf), NULL, 200), 0);
	close(fds[0]);
	recv_until(extra, buf, sizeof(buf), NULL, 2000);
	assert_non_null(strstr(buf, "GET /late  0"));
	close(extra);
	for (int i = 1; i < 4; i++)
		close(fds[i]);
}

static void test_request_outlives_its_client(void **state)
{
	(void)state;
	int fd = dial();

	held_was_alive = -1;
	send_str(fd, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
	usleep(50000);
	close(fd);
	/* The periodic event replies to the held request after the client left. */
	for (int i = 0; i < 50 && held_was_alive == -1; i++)
		usleep(20000);
	assert_int_equal(held_was_alive, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_get_and_keep_alive),
	        cmocka_unit_test(test_head_has_no_body),
	        cmocka_unit_test(test_errors_are_json),
	        cmocka_unit_test(test_expect_continue),
	        cmocka_unit_test(test_slow_clients_are_cut_off),
	        cmocka_unit_test(test_connection_cap),
	        cmocka_unit_test(test_request_outlives_its_client),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
