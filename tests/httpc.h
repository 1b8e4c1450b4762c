/* A minimal blocking HTTP/1.1 client for integration tests, plain or TLS (no certificate check: test certs).
 */
#ifndef TIP_TESTS_HTTPC_H
#define TIP_TESTS_HTTPC_H

#include <stddef.h>

struct httpc_response {
	int status;    /* 0 if no response could be read */
	char *headers; /* the raw head, NUL-terminated */
	char *body;    /* NUL-terminated */
	size_t body_len;
};

/*
 * Sends one request on a new connection (Connection: close) and reads the answer.
 * extra_headers: NULL or "Name: value\r\n" lines concatenated. Returns 0 or -1.
 */
int httpc_request(const char *host, int port, int tls, const char *method, const char *path,
                  const char *extra_headers, const void *body, size_t body_len, struct httpc_response *out);
/* The value of a response header (case-insensitive), copied into buf; NULL if absent. */
const char *httpc_header(const struct httpc_response *r, const char *name, char *buf, size_t cap);
void httpc_free(struct httpc_response *r);
/*
 * A fresh challenge from the intake at host:port (GET /api/v1/challenge), solved for its bits, as an
 * "X-Proof-Of-Work: challenge:nonce\r\n" header line into out. Returns 0 or -1.
 */
int httpc_pow_header(const char *host, int port, int tls, char *out, size_t cap);
/*
 * POST of a body of content_type (JSON, or a multipart type) to an intake's path (/api/v1/reports,
 * /api/v1/status) with a solved challenge. 0 with the answer in *out, or -1 when no answer came.
 */
int httpc_intake_post(const char *host, int port, int tls, const char *path, const char *content_type,
                      const void *body, size_t len, struct httpc_response *out);
/* For an answer 201 carrying a valid query code, the code's hash (qc_hash, 32 bytes) and 0; else -1. */
int httpc_accepted_hash(const struct httpc_response *r, unsigned char hash[32]);

#endif
