/*
 * Typed configuration tables (after Redis's config.c): each daemon describes its
 * settings once — name, type, bounds, default, help — and gets parsing, range
 * checks and `-n` checking from here.
 *
 * File format: one "name value" per line; '#' starts a comment; blank lines are
 * ignored; a value runs to the end of the line (surrounding blanks trimmed).
 * Sizes take K, M, G suffixes (powers of 1024); durations take ms, s, m, h.
 */
#ifndef TIP_COMMON_CONFIG_H
#define TIP_COMMON_CONFIG_H

#include <stddef.h>
#include <stdio.h>

enum cfg_type {
	CFG_STRING,   /* char array of `max` bytes inside the struct; min = 1 makes it required */
	CFG_INT,      /* long long in [min, max] */
	CFG_SIZE,     /* size_t in [min, max] bytes */
	CFG_DURATION, /* long long milliseconds in [min, max] */
	CFG_BOOL,     /* int 0 or 1: yes/no, true/false, on/off, 1/0 */
};

struct cfg_entry {
	const char *name;
	enum cfg_type type;
	size_t offset; /* offsetof the field in the daemon's config struct */
	long long min, max;
	const char *def; /* default in file syntax; NULL means none (strings: empty) */
	const char *help;
};

#define CFG_ERR_MAX 256

/*
 * Table rows daemons share, for a settings struct with the fields named here. A listener: listen,
 * port, tls_cert, tls_key, plain_http ("address of the <what> listener"). The process: the metrics
 * listener, the account to run as, logging (metrics_listen, metrics_port, user, syslog, debug).
 */
// clang-format off
#define CFG_LISTENER_ENTRIES(type, what, default_port) \
	{"listen", CFG_STRING, offsetof(type, listen), 1, 64, "127.0.0.1", "address of the " what " listener"}, \
	{"port", CFG_INT, offsetof(type, port), 0, 65535, default_port, "port of the " what " listener"}, \
	{"tls_cert", CFG_STRING, offsetof(type, tls_cert), 0, sizeof(((type *)0)->tls_cert), NULL, \
	 "PEM certificate chain"}, \
	{"tls_key", CFG_STRING, offsetof(type, tls_key), 0, sizeof(((type *)0)->tls_key), NULL, \
	 "PEM private key of the certificate"}, \
	{"plain_http", CFG_BOOL, offsetof(type, plain_http), 0, 1, "no", \
	 "serve plain HTTP (loopback only, behind a proxy)"}
/* A listener's HTTP limits besides the body and connection caps (fields of the same names in type). */
#define CFG_HTTP_LIMIT_ENTRIES(type) \
	{"max_head", CFG_SIZE, offsetof(type, max_head), 1024, 1 << 20, "16K", "request line and headers"}, \
	{"min_body_rate", CFG_SIZE, offsetof(type, min_body_rate), 1, 1LL << 30, "8K", \
	 "slowest acceptable upload, bytes/s"}, \
	{"max_connections_per_address", CFG_INT, offsetof(type, max_connections_per_address), 1, 1000000, "64", \
	 "open client connections from one address"}, \
	{"head_timeout", CFG_DURATION, offsetof(type, head_timeout), 100, 3600000LL, "10s", \
	 "time to send the request head (and the TLS handshake)"}, \
	{"body_timeout", CFG_DURATION, offsetof(type, body_timeout), 100, 3600000LL, "60s", \
	 "time to send a body, plus size/rate"}, \
	{"idle_timeout", CFG_DURATION, offsetof(type, idle_timeout), 100, 3600000LL, "15s", "keep-alive wait"}, \
	{"write_timeout", CFG_DURATION, offsetof(type, write_timeout), 100, 3600000LL, "30s", \
	 "time for a response to drain"}
#define CFG_PROCESS_ENTRIES(type, default_metrics_port) \
	{"metrics_listen", CFG_STRING, offsetof(type, metrics_listen), 1, 64, "127.0.0.1", \
	 "address of the metrics listener"}, \
	{"metrics_port", CFG_INT, offsetof(type, metrics_port), 0, 65535, default_metrics_port, \
	 "metrics port; 0 turns metrics off"}, \
	{"user", CFG_STRING, offsetof(type, user), 0, 64, NULL, "user to run as after start (when started as root)"}, \
	{"syslog", CFG_BOOL, offsetof(type, syslog), 0, 1, "no", "log to syslog instead of stderr"}, \
	{"debug", CFG_BOOL, offsetof(type, debug), 0, 1, "no", "log debug messages"}
// clang-format on

/* Applies every default. TIP_OK, or TIP_EINVAL with a message naming the entry. */
int cfg_defaults(const struct cfg_entry *table, size_t n, void *obj, char err[CFG_ERR_MAX]);

/*
 * Defaults, then the file at path. TIP_EIO if it cannot be read; TIP_EINVAL
 * with "path:line: name: reason" for an unknown name, a repeated name, a bad
 * value, a value out of range, or a required string left empty.
 */
int cfg_load(const struct cfg_entry *table, size_t n, void *obj, const char *path, char err[CFG_ERR_MAX]);

/*
 * Writes the table as a Markdown table (setting, type, default, range, meaning)
 * for docs/operations.md; a test keeps the docs equal to it.
 */
void cfg_markdown(const struct cfg_entry *table, size_t n, FILE *out);

/* Parses one value of the given type (used by cfg_load and by tests). */
int cfg_parse_value(const struct cfg_entry *e, const char *value, void *obj, char err[CFG_ERR_MAX]);

#endif
