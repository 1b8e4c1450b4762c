/* What every daemon does the same way: dropping root, serving its metrics, reading its settings. */
#ifndef TIP_COMMON_DAEMON_H
#define TIP_COMMON_DAEMON_H

#include <event2/event.h>

#include "common/config.h"
#include "common/http_server.h"

/*
 * When running as root: become user (no supplementary groups) and make sure
 * root cannot be regained. An empty user keeps root, with a warning. 0 or -1 (logged).
 */
int daemon_drop_privileges(const char *user);

/*
 * A plain-HTTP listener on addr:port answering GET /metrics with every
 * registered metric; before each answer refresh(arg) may update gauges.
 * NULL (logged) if it cannot listen.
 */
struct http_server *daemon_metrics_server(struct event_base *base, const char *addr, int port,
                                          void (*refresh)(void *arg), void *arg);
/* The same on a socket from daemon_listen (owned from then on, closed on failure). */
struct http_server *daemon_metrics_adopt(struct event_base *base, int fd, void (*refresh)(void *arg),
                                         void *arg);

/*
 * A listening TCP socket on addr:port (numeric address; port 0 picks one, put in *bound_port when not
 * NULL), non-blocking and close-on-exec, for a process that binds before it forks the one that serves.
 * The descriptor, or -1 (logged).
 */
int daemon_listen(const char *addr, int port, int *bound_port);

/* The HTTP limits of settings conf (a struct with the fields of CFG_HTTP_LIMIT_ENTRIES, max_body and
 * max_connections). */
#define DAEMON_HTTP_LIMITS(conf)                                                                             \
	((struct http_limits){.max_head = (conf).max_head,                                                   \
	                      .max_target = http_limits_default().max_target,                                \
	                      .max_body = (conf).max_body,                                                   \
	                      .max_connections = (size_t)(conf).max_connections,                             \
	                      .max_per_address = (size_t)(conf).max_connections_per_address,                 \
	                      .head_timeout_ms = (conf).head_timeout,                                        \
	                      .body_timeout_ms = (conf).body_timeout,                                        \
	                      .min_body_rate = (conf).min_body_rate,                                         \
	                      .idle_timeout_ms = (conf).idle_timeout,                                        \
	                      .write_timeout_ms = (conf).write_timeout})

/*
 * The common command line: -c FILE (settings), -n (check and exit), -s (print
 * the settings table and exit). Loads the table; on a bad command line prints
 * usage and exits 64; on a bad file logs and exits 78; for -s prints and exits 0.
 * Returns 1 if -n was given.
 */
int daemon_settings(int argc, char **argv, const char *name, const struct cfg_entry *table, size_t n,
                    void *conf, int (*check_conf)(void *conf, const char *path, char err[CFG_ERR_MAX]));

/*
 * The listener's transport settings: plain HTTP only on a loopback address and without certificate
 * files; otherwise both files are required. TIP_OK, or TIP_EINVAL with err ("path: ...").
 */
int daemon_check_transport(int plain_http, const char *listen, const char *cert, const char *key,
                           const char *path, char err[CFG_ERR_MAX]);

/*
 * A server TLS context for the certificate chain and key files: TLS 1.2 and 1.3, ECDHE with AES-GCM or
 * ChaCha20-Poly1305, no renegotiation, compression or tickets. NULL when they are unusable.
 */
SSL_CTX *daemon_tls_context(const char *cert, const char *key);

#endif
