/*
 * intaked: the internet-facing intake service.
 *
 * Exit codes (sysexits.h): 0 clean stop; 64 usage; 78 configuration, keys or
 * taxonomy unusable; 71 cannot listen or drop privileges; 74 the outbox spool
 * cannot be opened or a write/sync failed; 65 the outbox spool is corrupt.
 */
#include "common/daemon.h"
#include "common/err.h"
#include "common/http_server.h"
#include "common/log.h"
#include "intake/api.h"
#include "intake/conf.h"
#include "proto/keyfile.h"
#include "proto/record.h"

#include <errno.h>
#include <grp.h>
#include <openssl/err.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

struct keys {
	struct key sign, seal, status;
	struct ed25519_key *sign_key;
	struct ed25519_pub *sign_pub, *status_pub;
	/* retired signing keys (to resume an outbox whose last record one of them signed); the bulletin
	 * key's ring: status_pub, then its retired keys */
	struct ed25519_pub *ring_pubs[2 * REC_KEYS_MAX];
	size_t n_ring_pubs;
	struct rec_keyring retired, status_ring;
};

static int load_ring(const char *setting, const char *list, struct keys *k, struct rec_keyring *ring)
{
	char bad[KEY_PATH_MAX];
	int rc = rec_keyring_load(ring, list, k->ring_pubs, 2 * REC_KEYS_MAX, &k->n_ring_pubs, bad);

	if (rc != TIP_OK)
		log_err("%s: %s: %s", setting, bad[0] ? bad : "(list)",
		        rc == TIP_EFORMAT || rc == TIP_EINVAL
		                ? "not a signing verifier key, or a key listed twice"
		                : tip_strerror(rc));
	return rc == TIP_OK ? 0 : -1;
}

static int load_keys(const struct intake_conf *c, struct keys *k)
{
	int rc;

	if ((rc = key_read_private(c->signing_key, &k->sign)) != TIP_OK || k->sign.type != KEY_ED25519) {
		log_err("%s: not a usable signing key (%s)", c->signing_key,
		        rc ? tip_strerror(rc) : "wrong type");
		return -1;
	}
	if ((rc = key_read_public(c->seal_key, &k->seal)) != TIP_OK || k->seal.type != KEY_X25519) {
		log_err("%s: not an HPKE public key (%s)", c->seal_key, rc ? tip_strerror(rc) : "wrong type");
		return -1;
	}
	if ((rc = key_read_public(c->status_key, &k->status)) != TIP_OK || k->status.type != KEY_ED25519) {
		log_err("%s: not a signing public key (%s)", c->status_key,
		        rc ? tip_strerror(rc) : "wrong type");
		return -1;
	}
	k->sign_key = ed25519_key_new(k->sign.secret);
	k->sign_pub = ed25519_pub_new(k->sign.pub);
	k->status_pub = ed25519_pub_new(k->status.pub);
	if (!k->sign_key || !k->sign_pub || !k->status_pub) {
		log_err("cannot load keys");
		return -1;
	}
	rec_keyring_add(&k->status_ring, k->status_pub, k->status.id);
	return load_ring("retired_signing_keys", c->retired_signing_keys, k, &k->retired) ||
	       load_ring("retired_status_keys", c->retired_status_keys, k, &k->status_ring);
}

static void keys_free(struct keys *k)
{
	ed25519_key_free(k->sign_key);
	ed25519_pub_free(k->sign_pub);
	ed25519_pub_free(k->status_pub);
	for (size_t i = 0; i < k->n_ring_pubs; i++)
		ed25519_pub_free(k->ring_pubs[i]);
	key_wipe(&k->sign);
}

static struct http_server *public_srv, *metrics_srv;

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	log_info("signal %d: stopping", (int)sig);
	api_stop(arg, 0);
}

static void on_status_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	api_poll_status(arg);
}

int main(int argc, char **argv)
{
	static struct intake_conf conf;
	struct intake in = {0};
	struct keys keys = {0};
	int check, rc, port, exit_code = EX_CONFIG;
	SSL_CTX *tls = NULL;
	struct event_base *base = NULL;
	struct event *sigterm = NULL, *sigint = NULL, *status_timer = NULL;
	struct taxonomy *tax = NULL;

	log_init("intaked", 0, LOG_INFO);
	check = daemon_settings(argc, argv, "intaked", intake_conf_table, intake_conf_entries, &conf,
	                        intake_conf_check);
	log_init("intaked", conf.syslog, conf.debug ? LOG_DEBUG : LOG_INFO);
	if (load_keys(&conf, &keys) != 0)
		goto out;
	if (!(tax = tax_load(conf.taxonomy, &rc))) {
		log_err("%s: taxonomy: %s", conf.taxonomy, tip_strerror(rc));
		goto out;
	}
	if (!conf.plain_http && !(tls = daemon_tls_context(conf.tls_cert, conf.tls_key))) {
		log_err("TLS certificate %s / key %s unusable", conf.tls_cert, conf.tls_key);
		ERR_print_errors_fp(stderr);
		goto out;
	}
	if (check) {
		printf("configuration ok\n");
		exit_code = 0;
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	/* A precise clock: status answers are held for a minimum time, which a coarse clock would cut short.
	 */
	struct event_config *ecfg = event_config_new();
	if (ecfg) {
		event_config_set_flag(ecfg, EVENT_BASE_FLAG_PRECISE_TIMER);
		base = event_base_new_with_config(ecfg);
		event_config_free(ecfg);
	}
	in.conf = &conf;
	in.base = base;
	in.taxonomy = tax;
	in.limits = report_limits_default();
	in.pow = pow_new((unsigned)conf.pow_bits, (unsigned)(conf.pow_ttl / 1000), (size_t)conf.pow_spent,
	                 NULL);
	in.rl_reports =
	        rl_new((double)conf.rate_reports / 3600, (double)conf.burst_reports, (size_t)conf.rate_table,
	               (unsigned)conf.rate_v4_prefix, (unsigned)conf.rate_v6_prefix);
	in.rl_status =
	        rl_new((double)conf.rate_status / 3600, (double)conf.burst_status, (size_t)conf.rate_table,
	               (unsigned)conf.rate_v4_prefix, (unsigned)conf.rate_v6_prefix);
	in.rl_challenge =
	        rl_new((double)conf.rate_challenge / 3600, (double)conf.burst_challenge,
	               (size_t)conf.rate_table, (unsigned)conf.rate_v4_prefix, (unsigned)conf.rate_v6_prefix);
	if (!base || !in.pow || !in.rl_reports || !in.rl_status || !in.rl_challenge ||
	    api_init(&in) != TIP_OK) {
		log_err("out of memory");
		exit_code = EX_OSERR;
		goto out;
	}

	struct http_limits lim = http_limits_default();
	lim.max_head = conf.max_head;
	lim.max_body = conf.max_body;
	lim.max_connections = (size_t)conf.max_connections;
	lim.head_timeout_ms = conf.head_timeout;
	lim.body_timeout_ms = conf.body_timeout;
	lim.min_body_rate = conf.min_body_rate;
	lim.idle_timeout_ms = conf.idle_timeout;
	lim.write_timeout_ms = conf.write_timeout;
	const char *headers[] = {
	        "Content-Security-Policy: default-src 'self'; img-src 'self' data: blob:; media-src 'self' "
	        "blob:; "
	        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
	        "X-Content-Type-Options: nosniff",
	        "X-Frame-Options: DENY",
	        "Referrer-Policy: no-referrer",
	        "Cross-Origin-Opener-Policy: same-origin",
	        "Cross-Origin-Resource-Policy: same-origin",
	        "Permissions-Policy: geolocation=(), microphone=(), camera=(), interest-cohort=()",
	        "Cache-Control: no-store",
	        tls ? "Strict-Transport-Security: max-age=63072000; includeSubDomains" : NULL,
	        NULL,
	};
	exit_code = EX_OSERR;
	if (!(in.public_srv = public_srv = http_server_new(base, &lim, headers, api_handle, &in)) ||
	    http_server_listen(public_srv, conf.listen, (int)conf.port, tls, &port) != TIP_OK) {
		log_err("cannot listen on %s port %lld: %s", conf.listen, conf.port, strerror(errno));
		goto out;
	}
	if (conf.metrics_port &&
	    !(metrics_srv = daemon_metrics_server(base, conf.metrics_listen, (int)conf.metrics_port,
	                                          api_refresh_metrics, &in)))
		goto out;

	/* Spools are opened as the user the daemon runs as, so every file in them belongs to it. */
	if (daemon_drop_privileges(conf.user) != 0)
		goto out;

	struct outbox_conf oc = {
	        .spool_dir = conf.outbox,
	        .spool = spool_opts_default(),
	        .origin = conf.origin,
	        .sign_key = keys.sign_key,
	        .verify_key = keys.sign_pub,
	        .retired = &keys.retired,
	        .aead = strcmp(conf.aead, "chacha20poly1305") == 0 ? HPKE_AEAD_CHACHA20_POLY1305
	                                                           : HPKE_AEAD_AES_128_GCM,
	        .max_pending = (size_t)conf.max_pending,
	        .max_record = conf.max_body + 64 * 1024,
	};
	oc.spool.segment_bytes = conf.segment_bytes;
	oc.spool.max_record = oc.max_record;
	memcpy(oc.sign_key_id, keys.sign.id, 4);
	memcpy(oc.seal_pub, keys.seal.pub, HPKE_KEY_LEN);
	memcpy(oc.seal_key_id, keys.seal.id, 4);
	if (!(in.outbox = outbox_new(base, &oc, &rc))) {
		log_err("outbox %s: %s", conf.outbox, tip_strerror(rc));
		exit_code = rc == TIP_ECORRUPT ? EX_DATAERR : EX_IOERR;
		goto out;
	}
	struct status_conf sc = {
	        .spool_dir = conf.status_spool,
	        .spool = spool_opts_default(),
	        .origin = conf.status_origin,
	        .keys = &keys.status_ring,
	        .taxonomy = tax,
	        .max_history = (size_t)conf.status_history,
	};
	if (!(in.status = status_new(&sc, &rc))) {
		log_err("status spool %s: %s", conf.status_spool, tip_strerror(rc));
		exit_code = EX_IOERR;
		goto out;
	}

	sigterm = evsignal_new(base, SIGTERM, on_signal, &in);
	sigint = evsignal_new(base, SIGINT, on_signal, &in);
	status_timer = event_new(base, -1, EV_PERSIST, on_status_timer, &in);
	struct timeval poll_tv = {(time_t)(conf.status_poll / 1000),
	                          (suseconds_t)(conf.status_poll % 1000) * 1000};
	if (!sigterm || !sigint || !status_timer || evsignal_add(sigterm, NULL) ||
	    evsignal_add(sigint, NULL) || event_add(status_timer, &poll_tv)) {
		log_err("cannot set up events");
		goto out;
	}
	log_info("origin %s listening on %s:%d (%s); outbox at record %llu", conf.origin, conf.listen, port,
	         tls ? "https" : "http", (unsigned long long)outbox_durable(in.outbox));
	event_base_dispatch(base);
	exit_code = in.exit_code;
out:
	http_server_free(public_srv);
	http_server_free(metrics_srv);
	outbox_free(in.outbox);
	status_free(in.status);
	api_free(&in);
	pow_free(in.pow);
	rl_free(in.rl_reports);
	rl_free(in.rl_status);
	rl_free(in.rl_challenge);
	if (sigterm)
		event_free(sigterm);
	if (sigint)
		event_free(sigint);
	if (status_timer)
		event_free(status_timer);
	if (base)
		event_base_free(base);
	SSL_CTX_free(tls);
	tax_free(tax);
	keys_free(&keys);
	return exit_code;
}
