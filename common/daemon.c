#include "common/daemon.h"

#include "common/err.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/net.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <unistd.h>

int daemon_drop_privileges(const char *user)
{
	struct passwd *pw;

	if (getuid() != 0)
		return 0;
	if (!*user) {
		log_warn("running as root: set 'user' to drop privileges");
		return 0;
	}
	if (!(pw = getpwnam(user))) {
		log_err("user %s: no such user", user);
		return -1;
	}
	if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0 || setuid(0) == 0) {
		log_err("cannot drop privileges to %s: %s", user, strerror(errno));
		return -1;
	}
	return 0;
}

struct metrics_ctx {
	void (*refresh)(void *arg);
	void *arg;
};

static void metrics_handler(struct http_req *req, void *arg)
{
	struct metrics_ctx *m = arg;
	size_t need, len;
	char *buf;

	if (strcmp(http_req_head(req)->path, "/metrics") != 0) {
		http_reply_error(req, 404, "not_found", NULL, "no such resource", NULL);
		return;
	}
	if (m->refresh)
		m->refresh(m->arg);
	need = metrics_render(NULL, 0) + 1;
	if (!(buf = malloc(need))) {
		http_reply_error(req, 503, "unavailable", NULL, "out of memory", NULL);
		return;
	}
	len = metrics_render(buf, need);
	http_reply(req, 200, "text/plain; version=0.0.4", buf, len, NULL);
	free(buf);
}

struct http_server *daemon_metrics_server(struct event_base *base, const char *addr, int port,
                                          void (*refresh)(void *arg), void *arg)
{
	int fd = daemon_listen(addr, port, NULL);

	return fd < 0 ? NULL : daemon_metrics_adopt(base, fd, refresh, arg);
}

struct http_server *daemon_metrics_adopt(struct event_base *base, int fd, void (*refresh)(void *arg),
                                         void *arg)
{
	/* One metrics listener per process, alive as long as the process. */
	static struct metrics_ctx ctx;
	struct http_limits lim = http_limits_default();
	struct http_server *s;

	ctx.refresh = refresh;
	ctx.arg = arg;
	lim.max_connections = 16;
	s = http_server_new(base, &lim, NULL, metrics_handler, &ctx);
	if (!s || http_server_adopt(s, fd, NULL) != TIP_OK) {
		log_err("cannot serve metrics: %s", strerror(errno));
		http_server_free(s);
		close(fd);
		return NULL;
	}
	return s;
}

int daemon_listen(const char *addr, int port, int *bound_port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = -1, one = 1;

	if (net_addr(addr, port, &ss, &len) != TIP_OK) {
		errno = EINVAL;
		goto fail;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 1024) != 0)
		goto fail;
	if (bound_port) {
		len = sizeof(ss);
		getsockname(fd, (struct sockaddr *)&ss, &len);
		*bound_port = net_port(&ss);
	}
	return fd;
fail:
	log_err("cannot listen on %s port %d: %s", addr, port, strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

int daemon_settings(int argc, char **argv, const char *name, const struct cfg_entry *table, size_t n,
                    void *conf, int (*check_conf)(void *conf, const char *path, char err[CFG_ERR_MAX]))
{
	const char *path = NULL;
	char err[CFG_ERR_MAX];
	int check = 0, opt, bad = 0;

	while (!bad && (opt = getopt(argc, argv, "c:ns")) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 'n': check = 1; break;
		case 's': cfg_markdown(table, n, stdout); exit(0);
		default: bad = 1; break;
		}
	}
	if (bad || !path || optind != argc) {
		fprintf(stderr,
		        "usage: %s -c FILE [-n] | %s -s\n"
		        "  -c FILE  configuration file\n"
		        "  -n       check the configuration and what it names, then exit\n"
		        "  -s       print the settings table (Markdown) and exit\n",
		        name, name);
		exit(EX_USAGE);
	}
	if (cfg_load(table, n, conf, path, err) != TIP_OK ||
	    (check_conf && check_conf(conf, path, err) != TIP_OK)) {
		log_err("%s", err);
		exit(EX_CONFIG);
	}
	return check;
}

SSL_CTX *daemon_tls_context(const char *cert, const char *key)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx)
		return NULL;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
	                                 SSL_OP_NO_COMPRESSION | SSL_OP_NO_TICKET);
	if (SSL_CTX_set_cipher_list(ctx, "ECDHE+AESGCM:ECDHE+CHACHA20") != 1 ||
	    SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int daemon_check_transport(int plain_http, const char *listen, const char *cert, const char *key,
                           const char *path, char err[CFG_ERR_MAX])
{
	if (plain_http) {
		if (!net_is_loopback(listen)) {
			snprintf(err, CFG_ERR_MAX, "%s: plain_http needs a loopback listen address, not %s",
			         path, listen);
			return TIP_EINVAL;
		}
		if (cert[0] || key[0]) {
			snprintf(err, CFG_ERR_MAX, "%s: plain_http and tls_cert/tls_key exclude each other",
			         path);
			return TIP_EINVAL;
		}
	} else if (!cert[0] || !key[0]) {
		snprintf(err, CFG_ERR_MAX,
		         "%s: tls_cert and tls_key are required (or plain_http on loopback)", path);
		return TIP_EINVAL;
	}
	return TIP_OK;
}
