/*
 * intaked: the internet-facing intake service.
 *
 * Three processes (docs/internals/intake.md, "Privilege separation"): the monitor reads the settings
 * and keys, binds the listeners, forks the signer (the only holder of the signing key), wipes its own
 * copy of the key, drops root and forks the worker, which parses HTTP inside a seccomp filter and asks
 * the signer for every record's signature. The monitor starts a new worker when one is killed by a
 * signal (SIGSYS from the filter, say), after a growing pause.
 *
 * Exit codes (sysexits.h): 0 clean stop; 64 usage; 78 configuration, keys or
 * taxonomy unusable; 71 cannot listen, fork, drop privileges or enter the sandbox;
 * 74 the outbox spool cannot be opened or a write/sync failed; 65 the outbox spool
 * is corrupt; 70 the signer died.
 */
#include "common/daemon.h"
#include "common/err.h"
#include "common/http_server.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/sandbox.h"
#include "intake/api.h"
#include "intake/conf.h"
#include "intake/signer.h"
#include "proto/keyfile.h"
#include "proto/record.h"

#include <errno.h>
#include <grp.h>
#include <openssl/err.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
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

/* What the monitor prepares once for every worker it starts. */
struct startup {
	struct intake_conf conf;
	struct keys keys;
	uint8_t sign_key_id[KEY_ID_LEN];
	struct taxonomy *tax;
	SSL_CTX *tls;
	int public_fd, metrics_fd, port;
	uint64_t restarts;
	sigset_t mask; /* the signal mask children start with */
};

#define RESTART_PAUSE_MS     250
#define RESTART_PAUSE_MAX_MS 30000
#define RESTART_CALM_MS      60000 /* a worker that lived this long starts the pauses over */
#define SIGNER_SKEW_MS       600000

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

/* The worker: serves HTTP on the monitor's listeners until told to stop. Returns its exit code. */
static int worker_main(struct startup *st, int signer_fd)
{
	const struct intake_conf *conf = &st->conf;
	struct intake in = {0};
	struct http_server *public_srv = NULL, *metrics_srv = NULL;
	int rc, exit_code = EX_OSERR;
	struct event_base *base = NULL;
	struct event *sigterm = NULL, *sigint = NULL, *status_timer = NULL;
	struct sandbox *sandbox = sandbox_init(SANDBOX_INTAKE_WORKER);
	struct metric *restarts = metric_counter("intake_worker_restarts_total", NULL,
	                                         "Workers the monitor started again after one was killed.");

	if (!sandbox || !restarts)
		goto out;
	metric_add(restarts, st->restarts);
	/* A precise clock: status answers are held for a minimum time, which a coarse clock would cut short.
	 */
	struct event_config *ecfg = event_config_new();
	if (ecfg) {
		event_config_set_flag(ecfg, EVENT_BASE_FLAG_PRECISE_TIMER);
		base = event_base_new_with_config(ecfg);
		event_config_free(ecfg);
	}
	in.conf = conf;
	in.base = base;
	in.taxonomy = st->tax;
	in.limits = report_limits_default();
	in.pow = pow_new((unsigned)conf->pow_bits, (unsigned)(conf->pow_ttl / 1000), (size_t)conf->pow_spent,
	                 NULL);
	in.rl_reports = rl_new((double)conf->rate_reports / 3600, (double)conf->burst_reports,
	                       (size_t)conf->rate_table, (unsigned)conf->rate_v4_prefix,
	                       (unsigned)conf->rate_v6_prefix);
	in.rl_status =
	        rl_new((double)conf->rate_status / 3600, (double)conf->burst_status, (size_t)conf->rate_table,
	               (unsigned)conf->rate_v4_prefix, (unsigned)conf->rate_v6_prefix);
	in.rl_challenge = rl_new((double)conf->rate_challenge / 3600, (double)conf->burst_challenge,
	                         (size_t)conf->rate_table, (unsigned)conf->rate_v4_prefix,
	                         (unsigned)conf->rate_v6_prefix);
	if (!base || !in.pow || !in.rl_reports || !in.rl_status || !in.rl_challenge ||
	    api_init(&in) != TIP_OK) {
		log_err("out of memory");
		goto out;
	}

	struct http_limits lim = DAEMON_HTTP_LIMITS(*conf);
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
	        st->tls ? "Strict-Transport-Security: max-age=63072000; includeSubDomains" : NULL,
	        NULL,
	};
	/* The listeners stay the monitor's too (dup): the next worker serves the same sockets. */
	if (!(in.public_srv = public_srv = http_server_new(base, &lim, headers, api_handle, &in)) ||
	    http_server_adopt(public_srv, dup(st->public_fd), st->tls) != TIP_OK) {
		log_err("cannot serve the public listener: %s", strerror(errno));
		goto out;
	}
	if (st->metrics_fd >= 0 &&
	    !(metrics_srv = daemon_metrics_adopt(base, dup(st->metrics_fd), api_refresh_metrics, &in)))
		goto out;

	struct outbox_conf oc = {
	        .spool_dir = conf->outbox,
	        .spool = spool_opts_default(),
	        .origin = conf->origin,
	        .sign = signer_request,
	        .sign_arg = &signer_fd,
	        .verify_key = st->keys.sign_pub,
	        .retired = &st->keys.retired,
	        .aead = strcmp(conf->aead, "chacha20poly1305") == 0 ? HPKE_AEAD_CHACHA20_POLY1305
	                                                            : HPKE_AEAD_AES_128_GCM,
	        .max_pending = (size_t)conf->max_pending,
	        .max_record = conf->max_body + 64 * 1024,
	};
	oc.spool.segment_bytes = conf->segment_bytes;
	oc.spool.max_record = oc.max_record;
	memcpy(oc.sign_key_id, st->sign_key_id, 4);
	memcpy(oc.seal_pub, st->keys.seal.pub, HPKE_KEY_LEN);
	memcpy(oc.seal_key_id, st->keys.seal.id, 4);
	if (!(in.outbox = outbox_new(base, &oc, &rc))) {
		log_err("outbox %s: %s", conf->outbox, tip_strerror(rc));
		exit_code = rc == TIP_ECORRUPT ? EX_DATAERR : EX_IOERR;
		goto out;
	}
	struct status_conf sc = {
	        .spool_dir = conf->status_spool,
	        .spool = spool_opts_default(),
	        .origin = conf->status_origin,
	        .keys = &st->keys.status_ring,
	        .taxonomy = st->tax,
	        .max_history = (size_t)conf->status_history,
	};
	if (!(in.status = status_new(&sc, &rc))) {
		log_err("status spool %s: %s", conf->status_spool, tip_strerror(rc));
		exit_code = EX_IOERR;
		goto out;
	}

	sigterm = evsignal_new(base, SIGTERM, on_signal, &in);
	sigint = evsignal_new(base, SIGINT, on_signal, &in);
	status_timer = event_new(base, -1, EV_PERSIST, on_status_timer, &in);
	struct timeval poll_tv = {(time_t)(conf->status_poll / 1000),
	                          (suseconds_t)(conf->status_poll % 1000) * 1000};
	if (!sigterm || !sigint || !status_timer || evsignal_add(sigterm, NULL) ||
	    evsignal_add(sigint, NULL) || event_add(status_timer, &poll_tv)) {
		log_err("cannot set up events");
		goto out;
	}
	log_info("origin %s listening on %s:%d (%s); outbox at record %llu", conf->origin, conf->listen,
	         st->port, st->tls ? "https" : "http", (unsigned long long)outbox_durable(in.outbox));
	rc = sandbox_apply(sandbox);
	sandbox = NULL;
	if (rc != TIP_OK)
		goto out;
	event_base_dispatch(base);
	exit_code = in.exit_code;
out:
	sandbox_free(sandbox);
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
	return exit_code;
}

/* In a child: the monitor's blocked signals unblocked, and death with the monitor. */
static int child_setup(const struct startup *st, pid_t monitor)
{
	sigprocmask(SIG_SETMASK, &st->mask, NULL);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != monitor)
		return -1;
	return 0;
}

/* The signer process: keeps the key, drops root, enters its filter and answers workers. Never returns. */
static void signer_main(struct startup *st, int ctl, pid_t monitor)
{
	struct signer_policy p = {
	        .origin = st->conf.origin,
	        .max_body = st->conf.max_body + 64 * 1024,
	        .max_skew_ms = SIGNER_SKEW_MS,
	};
	struct signer *s = NULL;
	struct sandbox *sandbox = NULL;
	int exit_code = EX_OSERR;

	/* Stopping is the monitor's: the signer ends when the monitor closes ctl, after the last worker. */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	if (child_setup(st, monitor) != 0)
		goto out;
	/* Nothing network-facing stays here. */
	close(st->public_fd);
	if (st->metrics_fd >= 0)
		close(st->metrics_fd);
	SSL_CTX_free(st->tls);
	st->tls = NULL;
	memcpy(p.seal_key_id, st->keys.seal.id, REC_KEY_ID_LEN);
	/* Not dumpable: a process of the same user (a compromised worker) cannot read its memory through
	 * /proc/PID/mem or attach to it; no core file holds the key. */
	if (daemon_drop_privileges(st->conf.user) != 0 || prctl(PR_SET_DUMPABLE, 0) != 0)
		goto out;
	if (!(s = signer_new(st->keys.sign_key, &p)))
		goto out;
	st->keys.sign_key = NULL;
	key_wipe(&st->keys.sign);
	if (!(sandbox = sandbox_init(SANDBOX_INTAKE_SIGNER)) || sandbox_apply(sandbox) != TIP_OK)
		goto out;
	signer_run(s, ctl);
	exit_code = 0;
out:
	signer_free(s);
	exit(exit_code);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Starts a worker with its own socket to the signer. Its pid, or -1 (logged). */
static pid_t start_worker(struct startup *st, int ctl, pid_t monitor)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 ||
	    signer_pass(ctl, sv[0]) != TIP_OK) {
		log_err("cannot connect a worker to the signer: %s", strerror(errno));
		return -1;
	}
	close(sv[0]);
	if ((pid = fork()) == 0) {
		close(ctl);
		exit(child_setup(st, monitor) == 0 ? worker_main(st, sv[1]) : EX_OSERR);
	}
	close(sv[1]);
	if (pid < 0)
		log_err("cannot start a worker: %s", strerror(errno));
	return pid;
}

/*
 * The monitor: starts workers, restarts one killed by a signal after a pause that doubles with each
 * quick death, forwards SIGTERM and SIGINT, and ends with the worker's exit code; the signer's death
 * ends everything (its key is gone from every other process).
 */
static int monitor_main(struct startup *st, int ctl, pid_t signer)
{
	pid_t worker = 0, monitor = getpid();
	int stopping = 0, exit_code = 0, quick = 0;
	int64_t restart_at = 0, started = 0;
	sigset_t wait_set;

	sigemptyset(&wait_set);
	sigaddset(&wait_set, SIGTERM);
	sigaddset(&wait_set, SIGINT);
	sigaddset(&wait_set, SIGCHLD);
	for (;;) {
		siginfo_t info;
		int sig, status;
		pid_t pid;

		if (!stopping && !worker && mono_ms() >= restart_at) {
			started = mono_ms();
			if ((worker = start_worker(st, ctl, monitor)) < 0) {
				worker = 0;
				exit_code = EX_OSERR;
				stopping = 1;
			}
		}
		if (stopping && !worker)
			break;
		if (worker) {
			sig = sigwaitinfo(&wait_set, &info);
		} else {
			int64_t wait = restart_at - mono_ms();
			struct timespec ts = {(time_t)(wait / 1000), (long)(wait % 1000) * 1000000};

			sig = wait > 0 ? sigtimedwait(&wait_set, &info, &ts) : -1;
		}
		if (sig == SIGTERM || sig == SIGINT) {
			log_info("signal %d: stopping", sig);
			stopping = 1;
			if (worker)
				kill(worker, SIGTERM);
		}
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if (pid == signer) {
				log_err("the signer ended (%s %d): stopping",
				        WIFSIGNALED(status) ? "signal" : "exit code",
				        WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
				signer = 0;
				exit_code = EX_SOFTWARE;
				stopping = 1;
				if (worker)
					kill(worker, SIGTERM);
			} else if (pid == worker) {
				worker = 0;
				if (WIFEXITED(status)) {
					if (!exit_code)
						exit_code = WEXITSTATUS(status);
					stopping = 1;
				} else if (!stopping) {
					int64_t pause;

					/* No pause after a long life; then 250 ms, doubling up to the cap. */
					quick = mono_ms() - started >= RESTART_CALM_MS ? 0 : quick + 1;
					pause = quick == 0  ? 0
					        : quick > 8 ? RESTART_PAUSE_MAX_MS
					                    : (int64_t)RESTART_PAUSE_MS << (quick - 1);
					if (pause > RESTART_PAUSE_MAX_MS)
						pause = RESTART_PAUSE_MAX_MS;
					st->restarts++;
					restart_at = mono_ms() + pause;
					log_err("worker killed by signal %d%s; starting another in %lld ms "
					        "(restart %llu)",
					        WTERMSIG(status),
					        WTERMSIG(status) == SIGSYS
					                ? " (a system call outside its sandbox)"
					                : "",
					        (long long)pause, (unsigned long long)st->restarts);
				}
			}
		}
	}
	/* The last worker is gone: closing ctl ends the signer. */
	close(ctl);
	if (signer)
		waitpid(signer, NULL, 0);
	return exit_code;
}

int main(int argc, char **argv)
{
	static struct startup st = {.public_fd = -1, .metrics_fd = -1};
	int check, rc, ctl[2] = {-1, -1}, exit_code = EX_CONFIG;
	pid_t signer, monitor = getpid();
	sigset_t block;

	log_init("intaked", 0, LOG_INFO);
	check = daemon_settings(argc, argv, "intaked", intake_conf_table, intake_conf_entries, &st.conf,
	                        intake_conf_check);
	log_init("intaked", st.conf.syslog, st.conf.debug ? LOG_DEBUG : LOG_INFO);
	if (load_keys(&st.conf, &st.keys) != 0)
		goto out;
	if (!(st.tax = tax_load(st.conf.taxonomy, &rc))) {
		log_err("%s: taxonomy: %s", st.conf.taxonomy, tip_strerror(rc));
		goto out;
	}
	if (!st.conf.plain_http && !(st.tls = daemon_tls_context(st.conf.tls_cert, st.conf.tls_key))) {
		log_err("TLS certificate %s / key %s unusable", st.conf.tls_cert, st.conf.tls_key);
		ERR_print_errors_fp(stderr);
		goto out;
	}
	if (check) {
		printf("configuration ok\n");
		exit_code = 0;
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	exit_code = EX_OSERR;
	if ((st.public_fd = daemon_listen(st.conf.listen, (int)st.conf.port, &st.port)) < 0 ||
	    (st.conf.metrics_port &&
	     (st.metrics_fd = daemon_listen(st.conf.metrics_listen, (int)st.conf.metrics_port, NULL)) < 0))
		goto out;

	/* The monitor takes its signals with sigwaitinfo; children start with the mask as it was. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, &st.mask);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) != 0 || (signer = fork()) < 0) {
		log_err("cannot start the signer: %s", strerror(errno));
		goto out;
	}
	if (signer == 0) {
		close(ctl[0]);
		signer_main(&st, ctl[1], monitor);
	}
	close(ctl[1]);
	ctl[1] = -1;
	/* The signing key lives in the signer only. */
	memcpy(st.sign_key_id, st.keys.sign.id, KEY_ID_LEN);
	ed25519_key_free(st.keys.sign_key);
	st.keys.sign_key = NULL;
	key_wipe(&st.keys.sign);
	/* Spools are opened by workers as the user the daemon runs as, so every file in them belongs to it.
	 */
	if (daemon_drop_privileges(st.conf.user) != 0) {
		kill(signer, SIGKILL);
		goto out;
	}
	exit_code = monitor_main(&st, ctl[0], signer);
	ctl[0] = -1;
out:
	if (ctl[0] >= 0)
		close(ctl[0]);
	if (ctl[1] >= 0)
		close(ctl[1]);
	if (st.public_fd >= 0)
		close(st.public_fd);
	if (st.metrics_fd >= 0)
		close(st.metrics_fd);
	SSL_CTX_free(st.tls);
	tax_free(st.tax);
	keys_free(&st.keys);
	return exit_code;
}
