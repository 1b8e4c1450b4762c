/* intaked's settings: one typed table, defaults and bounds in intake/conf.c, documented in
 * docs/operations.md. */
#ifndef TIP_INTAKE_CONF_H
#define TIP_INTAKE_CONF_H

#include <stddef.h>

#include "common/config.h"
#include "common/qr.h"

#define INTAKE_PATH_MAX 256

struct intake_conf {
	char origin[65];
	char listen[64];
	long long port;
	char tls_cert[INTAKE_PATH_MAX], tls_key[INTAKE_PATH_MAX];
	int plain_http;
	char metrics_listen[64];
	long long metrics_port;

	char signing_key[INTAKE_PATH_MAX]; /* this intake's Ed25519 private key (tipkey sign) */
	char seal_key[INTAKE_PATH_MAX];    /* the internal zone's HPKE public key (tipkey seal, .pub) */
	/* .pub files of this intake's retired signing keys: the outbox's chain may end in one */
	char retired_signing_keys[4 * INTAKE_PATH_MAX];
	char status_key[INTAKE_PATH_MAX]; /* the internal zone's Ed25519 public key for bulletins */
	/* .pub files of its retired bulletin keys: bulletins signed with them still apply */
	char retired_status_keys[4 * INTAKE_PATH_MAX];
	char status_origin[65];
	char aead[24];

	char outbox[INTAKE_PATH_MAX];
	char status_spool[INTAKE_PATH_MAX];
	char taxonomy[INTAKE_PATH_MAX];
	char user[64];
	char public_url[QR_URL_MAX + 1];

	size_t max_head, max_body, min_body_rate, segment_bytes, max_attachment_bytes;
	long long max_connections, max_connections_per_address, head_timeout, body_timeout, idle_timeout,
	        write_timeout;
	long long max_attachments, max_pending, seal_threads;

	long long pow_bits, pow_ttl, pow_spent;
	long long rate_reports, burst_reports, rate_status, burst_status, rate_challenge, burst_challenge;
	long long rate_table, rate_v4_prefix, rate_v6_prefix;

	long long status_min_latency, status_poll, status_history;
	int syslog;
	int debug;
};

extern const struct cfg_entry intake_conf_table[];
extern const size_t intake_conf_entries;

/*
 * Checks what the table cannot (conf is a struct intake_conf): TLS unless plain
 * HTTP on loopback was asked for, a known AEAD, a usable public address. TIP_OK, or TIP_EINVAL with err
 * filled.
 */
int intake_conf_check(void *conf, const char *path, char err[CFG_ERR_MAX]);

#endif
