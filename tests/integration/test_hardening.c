/*
 * The listeners of intaked and casemgrd against hostile clients, with short configured limits: a head
 * trickled a byte at a time and a stalled body get 408 within their timeouts, an oversize head 431, an
 * oversize Content-Length 413, a chunked body 501, one address past max_connections_per_address 429, an
 * idle keep-alive connection is closed, a TLS client that never starts its handshake too. And the TLS policy,
 * with openssl s_client: SSL 3, TLS 1.0 and 1.1 and weak TLS 1.2 ciphers fail; TLS 1.2 with ECDHE and
 * AES-GCM, and TLS 1.3, succeed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "daemon.h"
#include "httpc.h"
#include "pg.h"
#include "testutil.h"

#include "common/err.h"
#include "proto/keyfile.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The limits both daemons run with here. */
#define LIMITS                                                                                               \
	"head_timeout 500ms\nbody_timeout 500ms\nmin_body_rate 1M\nidle_timeout 500ms\nmax_head 2K\n"        \
	"max_body 64K\nmax_connections_per_address 4\n"

enum { INTAKE_PLAIN, INTAKE_TLS, CASEMGR_PLAIN, CASEMGR_TLS, SERVERS };
static const char *const server_names[SERVERS] = {"intaked", "intaked (TLS)", "casemgrd", "casemgrd (TLS)"};

static struct tcm f;
static struct tdaemon d[SERVERS];

/* Starts server i: intaked from its base settings, casemgrd from the fixture's, with the limits, plain or
 * TLS. */
static void start_server(int i)
{
	int intake = i == INTAKE_PLAIN || i == INTAKE_TLS, is_tls = i == INTAKE_TLS || i == CASEMGR_TLS;
	char base_path[600], extra[1600], spools[1400] = "", name[32], log[600];
	char *base;

	if (intake)
		snprintf(base_path, sizeof(base_path), "%s/intake-base.conf", f.dir);
	assert_non_null(base = tu_read_file(intake ? base_path : f.conf, NULL));
	/* The fixture's casemgrd serves plain HTTP; with TLS that line goes. */
	if (!intake && is_tls)
		strstr(base, "plain_http yes")[0] = '#';
	if (is_tls)
		snprintf(extra, sizeof(extra), "tls_cert %s/tls.crt\ntls_key %s/tls.key\n", f.dir, f.dir);
	else if (intake)
		snprintf(extra, sizeof(extra), "plain_http yes\n");
	else
		extra[0] = 0;
	snprintf(name, sizeof(name), "server%d", i);
	snprintf(base_path, sizeof(base_path), "%s/%s.conf", f.dir, name);
	/* Each intaked has spools of its own. */
	if (intake)
		snprintf(spools, sizeof(spools), "outbox %s/%s-outbox\nstatus_spool %s/%s-status\n", f.dir,
		         name, f.dir, name);
	tu_write_text(base_path, "%s%s%s%s", base, LIMITS, extra, spools);
	free(base);
	snprintf(log, sizeof(log), "%s/%s.log", f.dir, name);
	assert_int_equal(tdaemon_start(&d[i], intake ? "intaked" : "casemgrd", base_path, log), 0);
}

static int setup(void **state)
{
	(void)state;
	char path[600];
	struct key intake_key;

	tcm_setup(&f, 1);
	snprintf(path, sizeof(path),
	         "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "
	         "/CN=localhost "
	         "-keyout %s/tls.key -out %s/tls.crt 2>/dev/null",
	         f.dir, f.dir);
	if (system(path) != 0)
		return -1;
	/* intaked: its own signing key, the internal sealing key's public half. */
	snprintf(path, sizeof(path), "%s/intake.key", f.dir);
	if (key_generate(KEY_ED25519, "intake-h", &intake_key) != TIP_OK ||
	    key_write_private(path, &intake_key) != TIP_OK)
		return -1;
	key_wipe(&intake_key);
	snprintf(path, sizeof(path), "%s/seal.pub", f.dir);
	if (key_write_public(path, &f.seal_key) != TIP_OK)
		return -1;
	snprintf(path, sizeof(path), "%s/intake-base.conf", f.dir);
	tu_write_text(path,
	              "origin intake-h\nsigning_key %s/intake.key\nseal_key %s/seal.pub\nstatus_key "
	              "%s/keys/audit.key.pub\ntaxonomy %s/proto/taxonomy\nlisten 127.0.0.1\nport 0\n"
	              "metrics_port 0\npow_bits 0\n",
	              f.dir, f.dir, f.dir, getenv("TIP_SOURCE_DIR"));
	start_server(INTAKE_PLAIN);
	start_server(INTAKE_TLS);
	start_server(CASEMGR_PLAIN); /* one casemgrd at a time on the database: test_tls_policy swaps it */
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < SERVERS; i++)
		tdaemon_stop(&d[i], SIGTERM);
	tcm_teardown(&f);
	return 0;
}

static int dial(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static void send_str(int fd, const char *s)
{
	/* The server may have closed already: what it answered is what counts. */
	if (send(fd, s, strlen(s), MSG_NOSIGNAL) < 0)
		return;
}

/* Everything the server sends until it closes (at most 10 s, which no limit here comes near). */
static void read_to_close(int fd, char *buf, size_t cap)
{
	struct pollfd p = {fd, POLLIN, 0};
	size_t n = 0;

	buf[0] = 0;
	while (n + 1 < cap && poll(&p, 1, 10000) == 1) {
		ssize_t r = recv(fd, buf + n, cap - 1 - n, 0);

		if (r <= 0)
			return;
		n += (size_t)r;
		buf[n] = 0;
	}
	if (n + 1 < cap)
		fail_msg("the server kept the connection open for 10 s; it sent: %s", buf);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sends request on a new connection and expects the status and the JSON error code before the close. */
static void expect_cut(int port, const char *name, const char *request, const char *status, const char *code)
{
	char buf[8192];
	int fd = dial(port);

	send_str(fd, request);
	read_to_close(fd, buf, sizeof(buf));
	close(fd);
	if (strncmp(buf, status, strlen(status)) != 0 || !strstr(buf, code))
		fail_msg("%s: want %s %s, got: %.300s", name, status, code, buf);
}

static void test_slow_and_oversize_are_cut(void **state)
{
	(void)state;
	static char big_head[4096];
	char buf[8192];

	snprintf(big_head, sizeof(big_head), "GET / HTTP/1.1\r\nHost: x\r\nX-Pad: %03000d\r\n\r\n", 0);
	for (int i = 0; i < SERVERS; i += 2) { /* the plain listeners: the limits are the transport's */
		int port = d[i].port, fd;
		const char *name = server_names[i];
		double t0;

		/* Slowloris: the head a byte every 50 ms meets the 500 ms deadline of the whole head. */
		fd = dial(port);
		t0 = now_s();
		const char *part = "GET / HTTP/1.1\r\nHost: x\r\nX-A: b\r\n";
		for (size_t k = 0; k < strlen(part); k++) {
			if (send(fd, part + k, 1, MSG_NOSIGNAL) != 1)
				break;
			usleep(50000);
		}
		read_to_close(fd, buf, sizeof(buf));
		close(fd);
		if (strncmp(buf, "HTTP/1.1 408", 12) != 0 || !strstr(buf, "\"timeout\""))
			fail_msg("%s: a trickled head got %.200s", name, buf);
		print_message("%s: trickled head cut after %.2f s\n", name, now_s() - t0);
		/* A body that stalls after 10 of 1000 bytes. */
		expect_cut(
		        port, name,
		        "POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789",
		        "HTTP/1.1 408", "\"timeout\"");
		/* Too large: the head, the declared body, a chunked body of any size. */
		expect_cut(port, name, big_head, "HTTP/1.1 431", "\"headers_too_large\"");
		expect_cut(port, name,
		           "POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n",
		           "HTTP/1.1 413", "\"payload_too_large\"");
		expect_cut(port, name,
		           "POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
		           "100000\r\n",
		           "HTTP/1.1 501", "\"not_implemented\"");
		/* An idle keep-alive connection is closed after its answer. */
		fd = dial(port);
		send_str(fd, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
		read_to_close(fd, buf, sizeof(buf));
		close(fd);
		assert_non_null(strstr(buf, "HTTP/1.1 "));
		/* One address holds at most 4 connections: the fifth is answered 429 and closed. */
		int fds[4];
		for (int k = 0; k < 4; k++)
			fds[k] = dial(port);
		usleep(100000);
		expect_cut(port, name, "", "HTTP/1.1 429", "\"too_many_connections\"");
		for (int k = 0; k < 4; k++)
			close(fds[k]);
		/* Once they are gone the address is served again. */
		struct httpc_response r;
		int ok = 0;
		for (int k = 0; k < 100 && !ok; k++) {
			ok = httpc_request("127.0.0.1", port, 0, "GET", "/healthz", NULL, NULL, 0, &r) == 0 &&
			     r.status != 429;
			httpc_free(&r);
			if (!ok)
				usleep(50000);
		}
		assert_true(ok);
	}
}

/* openssl s_client against port with the options; 0 when the handshake succeeded. */
static int s_client(int port, const char *options)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd),
	         "openssl s_client -connect 127.0.0.1:%d %s </dev/null 2>&1 | grep -q 'Cipher is [A-Z]'",
	         port, options);
	int status = system(cmd);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void test_tls_policy(void **state)
{
	(void)state;
	/* SECLEVEL=0 on the client: what refuses is the server, not Debian's client defaults. */
	static const char *const refused[] = {
	        "-ssl3 -cipher 'DEFAULT@SECLEVEL=0'",
	        "-tls1 -cipher 'DEFAULT@SECLEVEL=0'",
	        "-tls1_1 -cipher 'DEFAULT@SECLEVEL=0'",
	        "-tls1_2 -cipher 'AES128-SHA@SECLEVEL=0'",
	        "-tls1_2 -cipher 'AES128-GCM-SHA256@SECLEVEL=0'",
	        "-tls1_2 -cipher 'DES-CBC3-SHA@SECLEVEL=0'",
	        "-tls1_2 -cipher 'RC4@SECLEVEL=0'",
	        "-tls1_2 -cipher 'ECDHE-ECDSA-AES128-SHA@SECLEVEL=0'",
	        "-tls1_2 -cipher 'ECDHE-ECDSA-AES128-SHA256@SECLEVEL=0'",
	        "-tls1_2 -cipher 'NULL:eNULL:EXPORT:aNULL@SECLEVEL=0'",
	};
	static const char *const accepted[] = {
	        "-tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256",
	        "-tls1_2 -cipher ECDHE-ECDSA-CHACHA20-POLY1305",
	        "-tls1_3",
	};

	tdaemon_stop(&d[CASEMGR_PLAIN], SIGTERM);
	start_server(CASEMGR_TLS);
	for (int i = INTAKE_TLS; i < SERVERS; i += 2) {
		/* A client that never starts its handshake is closed at the head's deadline, without a word.
		 */
		char buf[64];
		int fd = dial(d[i].port);
		read_to_close(fd, buf, sizeof(buf));
		close(fd);
		assert_string_equal(buf, "");
		/* The check that the check works: with a cipher the server has, the client says so. */
		for (size_t k = 0; k < sizeof(accepted) / sizeof(accepted[0]); k++)
			if (s_client(d[i].port, accepted[k]) != 0)
				fail_msg("%s refuses %s", server_names[i], accepted[k]);
		for (size_t k = 0; k < sizeof(refused) / sizeof(refused[0]); k++)
			if (s_client(d[i].port, refused[k]) == 0)
				fail_msg("%s accepts %s", server_names[i], refused[k]);
		/* No renegotiation offered, no compression. */
		char cmd[400];
		snprintf(cmd, sizeof(cmd),
		         "openssl s_client -connect 127.0.0.1:%d -tls1_2 </dev/null 2>&1 | grep -q "
		         "'^Compression: NONE'",
		         d[i].port);
		assert_int_equal(system(cmd), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_slow_and_oversize_are_cut),
	        cmocka_unit_test(test_tls_policy),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
