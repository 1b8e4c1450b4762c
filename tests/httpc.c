#include "httpc.h"

#include "common/err.h"
#include "intake/pow.h"
#include "intake/querycode.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

struct conn {
	int fd;
	SSL_CTX *ctx;
	SSL *ssl;
};

static int conn_write(struct conn *c, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		long n = c->ssl ? SSL_write(c->ssl, p, (int)len) : send(c->fd, p, len, MSG_NOSIGNAL);

		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static long conn_read(struct conn *c, void *buf, size_t len)
{
	return c->ssl ? SSL_read(c->ssl, buf, (int)len) : recv(c->fd, buf, len, 0);
}

int httpc_request(const char *host, int port, int tls, const char *method, const char *path,
                  const char *extra_headers, const void *body, size_t body_len, struct httpc_response *out)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	struct timeval tv = {30, 0};
	struct conn c = {-1, NULL, NULL};
	char head[4096];
	char *buf = NULL, *sep;
	size_t len = 0, cap = 0;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, host, &a.sin_addr) != 1 || (c.fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -1;
	setsockopt(c.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(c.fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		goto out;
	if (tls) {
		c.ctx = SSL_CTX_new(TLS_client_method());
		c.ssl = c.ctx ? SSL_new(c.ctx) : NULL;
		if (!c.ssl || SSL_set_fd(c.ssl, c.fd) != 1 || SSL_connect(c.ssl) != 1)
			goto out;
	}
	int n = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n%s", method,
	                 path, host, extra_headers ? extra_headers : "");
	if (body)
		n += snprintf(head + n, sizeof(head) - (size_t)n, "Content-Length: %zu\r\n", body_len);
	n += snprintf(head + n, sizeof(head) - (size_t)n, "\r\n");
	if ((size_t)n >= sizeof(head) || conn_write(&c, head, (size_t)n) != 0 ||
	    (body_len && conn_write(&c, body, body_len) != 0))
		goto out;
	for (;;) {
		long got;

		if (cap - len < 65536) {
			cap = cap ? cap * 2 : 131072;
			if (!(buf = realloc(buf, cap)))
				goto out;
		}
		got = conn_read(&c, buf + len, cap - len - 1);
		if (got <= 0)
			break;
		len += (size_t)got;
	}
	if (!buf)
		goto out;
	buf[len] = 0;
	if (!(sep = strstr(buf, "\r\n\r\n")) || sscanf(buf, "HTTP/1.1 %d", &out->status) != 1)
		goto out;
	*sep = 0;
	out->headers = strdup(buf);
	out->body_len = len - (size_t)(sep + 4 - buf);
	out->body = malloc(out->body_len + 1);
	if (!out->headers || !out->body)
		goto out;
	memcpy(out->body, sep + 4, out->body_len);
	out->body[out->body_len] = 0;
	rc = 0;
out:
	free(buf);
	if (c.ssl)
		SSL_free(c.ssl);
	SSL_CTX_free(c.ctx);
	if (c.fd >= 0)
		close(c.fd);
	if (rc != 0)
		httpc_free(out);
	return rc;
}

const char *httpc_header(const struct httpc_response *r, const char *name, char *buf, size_t cap)
{
	size_t n = strlen(name);

	for (const char *p = r->headers; p && (p = strstr(p, "\r\n")); p += 2) {
		if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':') {
			const char *v = p + 3 + n, *end = strstr(v, "\r\n");
			size_t len;

			while (*v == ' ')
				v++;
			len = end ? (size_t)(end - v) : strlen(v);
			if (len >= cap)
				len = cap - 1;
			memcpy(buf, v, len);
			buf[len] = 0;
			return buf;
		}
	}
	return NULL;
}

void httpc_free(struct httpc_response *r)
{
	free(r->headers);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

int httpc_pow_header(const char *host, int port, int tls, char *out, size_t cap)
{
	struct httpc_response r;
	json_error_t e;
	json_t *j = NULL;
	char nonce[32];
	int rc = -1;

	if (httpc_request(host, port, tls, "GET", "/api/v1/challenge", NULL, NULL, 0, &r) != 0)
		return -1;
	if (r.status != 200 || !(j = json_loadb(r.body, r.body_len, 0, &e)))
		goto out;
	const char *challenge = json_string_value(json_object_get(j, "challenge"));
	json_int_t bits = json_integer_value(json_object_get(j, "bits"));
	if (!challenge || bits < 0 || bits > 32 ||
	    pow_solve(challenge, (unsigned)bits, nonce, sizeof(nonce)) != TIP_OK)
		goto out;
	int n = snprintf(out, cap, "X-Proof-Of-Work: %s:%s\r\n", challenge, nonce);
	rc = n > 0 && (size_t)n < cap ? 0 : -1;
out:
	json_decref(j);
	httpc_free(&r);
	return rc;
}

int httpc_intake_post(const char *host, int port, int tls, const char *path, const char *content_type,
                      const void *body, size_t len, struct httpc_response *out)
{
	char headers[512], pow[256];

	memset(out, 0, sizeof(*out));
	if (httpc_pow_header(host, port, tls, pow, sizeof(pow)) != 0)
		return -1;
	snprintf(headers, sizeof(headers), "%sContent-Type: %s\r\n", pow, content_type);
	return httpc_request(host, port, tls, "POST", path, headers, body, len, out);
}

int httpc_accepted_hash(const struct httpc_response *r, unsigned char hash[32])
{
	json_error_t e;
	json_t *j = r->status == 201 ? json_loadb(r->body, r->body_len, 0, &e) : NULL;
	const char *code = json_string_value(json_object_get(j, "query_code"));
	char digits[QC_DIGITS + 1];
	int rc = code && qc_normalize(code, strlen(code), digits) == TIP_OK && qc_hash(digits, hash) == TIP_OK
	                 ? 0
	                 : -1;

	json_decref(j);
	return rc;
}
