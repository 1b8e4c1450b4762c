/*
 * casemgrd: the internal zone's case manager. It ingests the inbox spools into PostgreSQL, serves the
 * staff API, runs the case clocks and the SMS gateway's pass, publishes the status outbox into the
 * status spool, and applies the schema's migrations.
 *
 *   casemgrd -c FILE [-n]                 run (ingest, staff API); -n checks settings, keys, taxonomy, TLS
 *   casemgrd migrate -c FILE [--to N]     apply the migrations (as db_owner), then exit
 *   casemgrd hash-password -c FILE        read a password on stdin, print its Argon2id hash
 *   casemgrd audit verify -c FILE         check the audit trail's chain and signed heads
 *   casemgrd audit export -c FILE --dir D write every signed head to D/<size>.note
 *   casemgrd sample -c FILE --month M --seed HEX [--share S | --count N]
 *                                         re-run a callback draw read-only, compare it with the stored one
 *   casemgrd -s                           print the settings table
 *
 * Exit codes (sysexits.h): 0 clean stop; 64 usage; 78 configuration, keys or taxonomy unusable;
 * 71 cannot start threads, listen or drop privileges; 65 an inbox spool or the status spool is damaged
 * (or the status spool's last record is not the status key's), or a migration is refused, or audit
 * verify found the trail altered, or sample found the stored draw different; 69 migrate, audit or
 * sample cannot reach the database; 74 audit export cannot write; 70 a stored cursor is past the end of
 * an inbox or of the status spool.
 */
#include "common/daemon.h"
#include "common/err.h"
#include "common/log.h"
#include "common/metrics.h"
#include "internal/audit.h"
#include "internal/clocks.h"
#include "internal/callback.h"
#include "internal/conf.h"
#include "internal/ingest.h"
#include "internal/migrate.h"
#include "internal/publish.h"
#include "internal/staff.h"
#include "proto/keyfile.h"
#include "proto/taxonomy.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/err.h>
#include <event2/thread.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

struct casemgr {
	struct casemgr_conf conf;
	struct event_base *base;
	struct ingest *ingest;
	struct publish *publish; /* NULL: no status spool */
	struct staff *staff;
	struct pgq *clocks_db; /* the clock timer's connection, as the ingest role */
	struct clocks *clocks;
	struct clocks_metrics clocks_m;
	struct callback *callback; /* NULL unless sms is on */
	int sms_down;              /* failed SMS passes in a row */
	struct key audit_key;
	struct ed25519_pub *retired_status_pubs[REC_KEYS_MAX];
	size_t n_retired_status;
	struct rec_keyring retired_status; /* retired bulletin keys */
	PGconn *heads_db;                  /* the background thread's connection for signing audit heads */
	pthread_t thread, publish_thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop, exit_code;
	struct {
		struct metric *reports, *replayed, *quarantined[INGEST_REASON_COUNT], *passed_over, *batches,
		        *db_errors, *connected, *api_db_open, *api_db_waiting, *bulletins_published,
		        *bulletins_refused, *bulletins_reconciled, *bulletins_pending, *compared,
		        *compare_errors, *hashes_busy;
		struct metric *sms_received[CALLBACK_OUTCOME_COUNT], *sms_sent, *sms_failed, *draws, *queued;
	} m;
};

/* Waits ms milliseconds, or less if asked to stop. 1 when stopping. */
static int pause_ms(struct casemgr *c, long long ms)
{
	struct timespec until;
	int stop;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)(ms / 1000);
	until.tv_nsec += (long)(ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&c->mu);
	while (!c->stop && pthread_cond_timedwait(&c->cv, &c->mu, &until) != ETIMEDOUT)
		;
	stop = c->stop;
	pthread_mutex_unlock(&c->mu);
	return stop;
}

/* A thread's fatal error: the daemon stops with code (the first one reported wins). */
static void stop_with(struct casemgr *c, int code)
{
	pthread_mutex_lock(&c->mu);
	if (!c->exit_code)
		c->exit_code = code;
	pthread_mutex_unlock(&c->mu);
	event_base_loopbreak(c->base);
}

/* Signs an audit head when one is due; a failure is logged and retried on the next call. */
static void sign_heads(struct casemgr *c)
{
	char msg[DB_MSG_MAX];

	if (!c->heads_db && !(c->heads_db = db_connect(c->conf.db_ingest, msg)))
		return;
	if (audit_sign_due(c->heads_db, &c->audit_key, c->conf.audit_head_events, c->conf.audit_head_interval,
	                   msg) != TIP_OK) {
		log_err("audit heads: %s", msg);
		PQfinish(c->heads_db);
		c->heads_db = NULL;
	}
}

/* The SMS gateway's pass when due; a failure is logged once until a pass succeeds again. */
static void sms_pass(struct casemgr *c)
{
	char msg[DB_MSG_MAX];
	int rc;

	if (!c->callback)
		return;
	rc = callback_step(c->callback, msg);
	if (rc < 0 && !c->sms_down++) {
		log_err("sms: %s; retrying every %lld ms", msg, c->conf.sms_poll);
	} else if (rc > 0 && c->sms_down) {
		log_info("sms: working again after %d attempts", c->sms_down);
		c->sms_down = 0;
	}
}

static void *ingest_main(void *arg)
{
	struct casemgr *c = arg;
	char msg[DB_MSG_MAX];
	int down = 0;

	for (;;) {
		int rc = ingest_step(c->ingest, msg);

		sign_heads(c);
		sms_pass(c);
		if (rc == TIP_EIO) {
			/* One line when the database goes away and one when it is back, not one per retry. */
			if (!down++)
				log_err("database: %s; retrying every %lld ms", msg, c->conf.db_retry);
			if (pause_ms(c, c->conf.db_retry))
				break;
			continue;
		}
		if (rc < 0) {
			log_err("ingest: %s", msg);
			stop_with(c, rc == TIP_ERANGE ? EX_SOFTWARE : EX_DATAERR);
			break;
		}
		if (down) {
			log_info("database: connected again after %d attempts", down);
			down = 0;
		}
		if (rc == 0 && pause_ms(c, c->conf.ingest_poll))
			break;
		if (rc > 0 && pause_ms(c, 0))
			break;
	}
	return NULL;
}

/* The status publisher's own thread and connection, so a slow spool sync never holds up ingest. */
static void *publish_main(void *arg)
{
	struct casemgr *c = arg;
	char msg[DB_MSG_MAX];
	int down = 0;

	for (;;) {
		int rc = publish_step(c->publish, msg);

		if (rc == TIP_ERANGE || rc == TIP_ECORRUPT || rc == TIP_EVERSION || rc == TIP_EOVERSIZE) {
			log_err("status publisher: %s", msg);
			stop_with(c, rc == TIP_ERANGE ? EX_SOFTWARE : EX_DATAERR);
			break;
		}
		if (rc < 0) {
			/* The database or the spool's disk is away: one line now, one when it is back. */
			if (!down++)
				log_err("status publisher: %s; retrying every %lld ms", msg,
				        c->conf.db_retry);
			if (pause_ms(c, c->conf.db_retry))
				break;
			continue;
		}
		if (down) {
			log_info("status publisher: working again after %d attempts", down);
			down = 0;
		}
		/* A full batch means more may be waiting. */
		if (pause_ms(c, rc < c->conf.status_batch ? c->conf.status_poll : 0))
			break;
	}
	return NULL;
}

static void refresh_metrics(void *arg)
{
	struct casemgr *c = arg;
	const struct ingest_stats *s = ingest_stats(c->ingest);

	metric_set(c->m.reports, (int64_t)atomic_load(&s->reports));
	metric_set(c->m.replayed, (int64_t)atomic_load(&s->replayed));
	for (int i = 0; i < INGEST_REASON_COUNT; i++)
		metric_set(c->m.quarantined[i], (int64_t)atomic_load(&s->quarantined[i]));
	metric_set(c->m.passed_over, (int64_t)atomic_load(&s->passed_over));
	metric_set(c->m.batches, (int64_t)atomic_load(&s->batches));
	metric_set(c->m.db_errors,
	           (int64_t)(atomic_load(&s->db_errors) +
	                     (c->publish ? atomic_load(&publish_stats(c->publish)->db_errors) : 0)));
	if (c->publish) {
		const struct publish_stats *p = publish_stats(c->publish);

		metric_set(c->m.bulletins_published, (int64_t)atomic_load(&p->published));
		metric_set(c->m.bulletins_refused, (int64_t)atomic_load(&p->refused));
		metric_set(c->m.bulletins_reconciled, (int64_t)atomic_load(&p->reconciled));
		metric_set(c->m.bulletins_pending, (int64_t)atomic_load(&p->pending));
	}
	metric_set(c->m.connected, (int64_t)atomic_load(&s->connected));
	if (c->callback) {
		const struct callback_stats *cs = callback_stats(c->callback);

		for (int i = 0; i < CALLBACK_OUTCOME_COUNT; i++)
			metric_set(c->m.sms_received[i], (int64_t)atomic_load(&cs->received[i]));
		metric_set(c->m.sms_sent, (int64_t)atomic_load(&cs->sent));
		metric_set(c->m.sms_failed, (int64_t)atomic_load(&cs->failed));
		metric_set(c->m.draws, (int64_t)atomic_load(&cs->draws));
		metric_set(c->m.queued, (int64_t)atomic_load(&cs->queued));
	}
	metric_set(c->m.compared, (int64_t)atomic_load(&s->compared));
	metric_set(c->m.compare_errors, (int64_t)atomic_load(&s->compare_errors));
	if (c->staff->db) {
		metric_set(c->m.api_db_open, (int64_t)pgq_open(c->staff->db));
		metric_set(c->m.api_db_waiting, (int64_t)pgq_waiting(c->staff->db));
	}
	if (c->staff->hasher)
		metric_set(c->m.hashes_busy, (int64_t)hasher_busy(c->staff->hasher));
}

static int register_metrics(struct casemgr *c)
{
	/* The registry keeps the label strings: they live as long as the process. */
	static char quarantine_labels[INGEST_REASON_COUNT][48], login_labels[STAFF_LOGIN_COUNT][48],
	        notice_labels[CLOCKS_KIND_COUNT][48], sms_labels[CALLBACK_OUTCOME_COUNT][48];

	for (int i = 0; i < INGEST_REASON_COUNT; i++) {
		snprintf(quarantine_labels[i], sizeof(quarantine_labels[i]), "reason=\"%s\"",
		         ingest_reason_name((enum ingest_reason)i));
		if (!(c->m.quarantined[i] = metric_counter("casemgr_quarantined_total", quarantine_labels[i],
		                                           "records quarantined (alert on any increase)")))
			return -1;
	}
	for (int i = 0; i < STAFF_LOGIN_COUNT; i++) {
		snprintf(login_labels[i], sizeof(login_labels[i]), "result=\"%s\"",
		         staff_login_name((enum staff_login)i));
		if (!(c->staff->logins[i] = metric_counter("casemgr_logins_total", login_labels[i],
		                                           "staff login attempts")))
			return -1;
	}
	for (int i = 0; i < CLOCKS_KIND_COUNT; i++) {
		snprintf(notice_labels[i], sizeof(notice_labels[i]), "kind=\"%s\"",
		         clocks_kind_name((enum clocks_kind)i));
		if (!(c->clocks_m.fired[i] = metric_counter("casemgr_notices_total", notice_labels[i],
		                                            "case clock notices fired")))
			return -1;
	}
	c->clocks_m.overdue =
	        metric_gauge("casemgr_overdue_cases", NULL,
	                     "cases with an overdue clock (contact or handling) at the last run");
	c->clocks_m.runs =
	        metric_counter("casemgr_clock_runs_total", NULL, "runs of the case clocks committed");
	c->clocks_m.failures =
	        metric_counter("casemgr_clock_failures_total", NULL, "runs of the case clocks failed");
	c->clocks_m.calendar_next_year = metric_gauge(
	        "casemgr_calendar_next_year", NULL, "1 when the holiday calendar has entries for next year");
	if (!c->clocks_m.overdue || !c->clocks_m.runs || !c->clocks_m.failures ||
	    !c->clocks_m.calendar_next_year)
		return -1;
	for (int i = 0; i < CALLBACK_OUTCOME_COUNT; i++) {
		snprintf(sms_labels[i], sizeof(sms_labels[i]), "outcome=\"%s\"",
		         callback_outcome_name((enum callback_outcome)i));
		if (!(c->m.sms_received[i] = metric_counter("casemgr_sms_received_total", sms_labels[i],
		                                            "SMS read from gammu-smsd's inbox")))
			return -1;
	}
	c->m.sms_sent =
	        metric_counter("casemgr_sms_sent_total", NULL, "callback SMS gammu-smsd reported sent");
	c->m.sms_failed =
	        metric_counter("casemgr_sms_failed_total", NULL, "callback SMS gammu-smsd gave up on");
	c->m.draws = metric_counter("casemgr_callback_draws_total", NULL, "monthly callback draws made");
	c->m.queued = metric_counter("casemgr_callbacks_queued_total", NULL, "callback SMS queued by draws");
	c->m.reports = metric_counter("casemgr_reports_total", NULL, "reports stored");
	c->m.replayed = metric_counter("casemgr_replayed_total", NULL, "records found already stored");
	c->m.passed_over =
	        metric_counter("casemgr_passed_over_total", NULL, "records of another kind than report");
	c->m.batches = metric_counter("casemgr_ingest_batches_total", NULL, "ingest transactions committed");
	c->m.db_errors =
	        metric_counter("casemgr_db_errors_total", NULL, "failed connections and transactions");
	c->m.connected =
	        metric_gauge("casemgr_db_connected", NULL, "1 while ingest is connected to PostgreSQL");
	c->m.api_db_open =
	        metric_gauge("casemgr_api_db_connections", NULL, "open connections of the staff API");
	c->m.api_db_waiting =
	        metric_gauge("casemgr_api_db_waiting", NULL, "staff requests waiting for a connection");
	c->staff->replica_answers = metric_counter("casemgr_replica_answers_total", NULL,
	                                           "staff requests answered from the replica (db_replica)");
	c->staff->replica_fallbacks =
	        metric_counter("casemgr_replica_fallbacks_total", NULL,
	                       "staff requests for the replica answered by the primary instead");
	if (!c->staff->replica_answers || !c->staff->replica_fallbacks)
		return -1;
	c->m.hashes_busy = metric_gauge("casemgr_password_hashes", NULL,
	                                "password hashes and checks waiting or running on the hash threads");
	c->m.bulletins_published =
	        metric_counter("casemgr_bulletins_published_total", NULL,
	                       "status bulletins appended to the status spool and marked sent");
	c->m.bulletins_refused = metric_counter("casemgr_bulletins_refused_total", NULL,
	                                        "status outbox rows refused (alert on any increase)");
	c->m.bulletins_reconciled = metric_counter("casemgr_bulletins_reconciled_total", NULL,
	                                           "status spool records marked sent after a crash");
	c->m.bulletins_pending =
	        metric_gauge("casemgr_bulletins_pending", NULL, "status outbox rows waiting to be published");
	c->m.compared =
	        metric_counter("casemgr_compared_total", NULL, "cases compared inside their province");
	c->m.compare_errors = metric_counter("casemgr_compare_errors_total", NULL,
	                                     "comparison runs that failed (alert on any increase)");
	return c->m.reports && c->m.replayed && c->m.passed_over && c->m.batches && c->m.db_errors &&
	                       c->m.connected && c->m.api_db_open && c->m.api_db_waiting &&
	                       c->m.hashes_busy && c->m.sms_sent && c->m.sms_failed && c->m.draws &&
	                       c->m.queued && c->m.bulletins_published && c->m.bulletins_refused &&
	                       c->m.bulletins_reconciled && c->m.bulletins_pending && c->m.compared &&
	                       c->m.compare_errors
	               ? 0
	               : -1;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct casemgr *c = arg;
	(void)what;

	log_info("signal %d: stopping", (int)sig);
	event_base_loopbreak(c->base);
}

static struct casemgr_conf sub_conf;

/* An option of a subcommand with a value: "--name VALUE" puts VALUE in *value. */
struct sub_opt {
	const char *name;
	char **value;
};

/*
 * A subcommand's command line: "-c FILE" and the options of opts (ending with a NULL name; opts may
 * be NULL). Loads the settings into sub_conf (exiting as daemon_settings does on a bad file). 0, or
 * -1 for a bad command line.
 */
static int sub_settings(int argc, char **argv, const struct sub_opt *opts)
{
	char *conf_args[4] = {argv[0], NULL, NULL, NULL};

	for (int i = 2; i < argc; i++) {
		const struct sub_opt *o = opts;

		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			conf_args[1] = argv[i];
			conf_args[2] = argv[++i];
			continue;
		}
		while (o && o->name && strcmp(argv[i], o->name) != 0)
			o++;
		if (!o || !o->name || i + 1 >= argc)
			return -1;
		*o->value = argv[++i];
	}
	if (!conf_args[1])
		return -1;
	optind = 1;
	daemon_settings(3, conf_args, "casemgrd", casemgr_conf_table, casemgr_conf_entries, &sub_conf,
	                casemgr_conf_check);
	log_init("casemgrd", sub_conf.syslog, sub_conf.debug ? LOG_DEBUG : LOG_INFO);
	return 0;
}

/* casemgrd hash-password -c FILE: one line on stdin, its hash at the configured cost on stdout. */
static int run_hash_password(int argc, char **argv)
{
	char line[AUTH_PASSWORD_MAX + 2], hash[AUTH_HASH_MAX];
	size_t n;
	int rc;

	if (sub_settings(argc, argv, NULL) != 0) {
		fprintf(stderr, "usage: casemgrd hash-password -c FILE < password\n");
		return EX_USAGE;
	}
	struct auth_cost cost = {(uint32_t)sub_conf.argon2_time, (uint32_t)(sub_conf.argon2_memory / 1024),
	                         1};
	if (!fgets(line, sizeof(line), stdin))
		line[0] = 0;
	n = strcspn(line, "\n");
	line[n] = 0;
	rc = auth_hash_password(line, n, &cost, hash);
	OPENSSL_cleanse(line, sizeof(line));
	if (rc != TIP_OK) {
		log_err("hash-password: %s (a password is 1 to %d bytes)", tip_strerror(rc),
		        AUTH_PASSWORD_MAX);
		return EX_DATAERR;
	}
	printf("%s\n", hash);
	return 0;
}

/*
 * casemgrd audit verify -c FILE: the whole trail against the heads, with the audit key's public half.
 * casemgrd audit export -c FILE --dir DIR: every signed head into DIR/<size>.note, for safekeeping elsewhere.
 */
static int run_audit(int argc, char **argv)
{
	char path[CASEMGR_PATH_MAX + 8], msg[DB_MSG_MAX], *dir = NULL;
	int export = argc >= 3 && strcmp(argv[2], "export") == 0;
	const struct sub_opt opts[] = {{"--dir", &dir}, {NULL, NULL}};
	struct key pub;
	long long events, heads;
	PGconn *db;
	int rc;

	if (argc < 3 || (!export && strcmp(argv[2], "verify") != 0) ||
	    sub_settings(argc - 1, argv + 1, export ? opts : NULL) != 0 || (export && !dir)) {
		fprintf(stderr,
		        "usage: casemgrd audit verify -c FILE | casemgrd audit export -c FILE --dir DIR\n");
		return EX_USAGE;
	}
	snprintf(path, sizeof(path), "%s.pub", sub_conf.audit_key);
	if (!export && ((rc = key_read_public(path, &pub)) != TIP_OK || pub.type != KEY_ED25519)) {
		log_err("%s: not a signing public key (%s)", path, rc ? tip_strerror(rc) : "wrong type");
		return EX_CONFIG;
	}
	if (!sub_conf.db_owner[0] || !(db = db_connect(sub_conf.db_owner, msg))) {
		log_err("audit: %s", sub_conf.db_owner[0] ? msg : "db_owner is not set");
		return EX_UNAVAILABLE;
	}
	rc = export ? audit_export(db, dir, &heads, msg) : audit_verify(db, &pub, &events, &heads, msg);
	PQfinish(db);
	if (rc != TIP_OK) {
		log_err("audit %s: %s", argv[2], msg);
		return rc == TIP_ECORRUPT ? EX_DATAERR : rc == TIP_EIO && export ? EX_IOERR : EX_UNAVAILABLE;
	}
	if (export)
		printf("%lld signed heads in %s\n", heads, dir);
	else
		printf("audit trail ok: %lld events, %lld signed heads\n", events, heads);
	return 0;
}

/* casemgrd migrate -c FILE [--to N] */
static int run_migrate(int argc, char **argv)
{
	struct casemgr_conf *conf = &sub_conf;
	char msg[DB_MSG_MAX], *to_text = NULL, *end = NULL;
	const struct sub_opt opts[] = {{"--to", &to_text}, {NULL, NULL}};
	long to = 0;
	int applied, version, rc;
	PGconn *db;

	if (sub_settings(argc, argv, opts) != 0 ||
	    (to_text && ((to = strtol(to_text, &end, 10)) < 1 || to > MIGRATE_MAX || *end))) {
		fprintf(stderr, "usage: casemgrd migrate -c FILE [--to VERSION]\n");
		return EX_USAGE;
	}
	if (!conf->db_owner[0]) {
		log_err("migrate: db_owner is not set");
		return EX_CONFIG;
	}
	if (!(db = db_connect(conf->db_owner, msg))) {
		log_err("migrate: %s", msg);
		return EX_UNAVAILABLE;
	}
	rc = migrate_run(db, conf->migrations, (int)to, &applied, &version, msg);
	PQfinish(db);
	if (rc != TIP_OK) {
		log_err("migrate: %s", msg);
		return rc == TIP_EIO && !strstr(msg, ".sql") ? EX_UNAVAILABLE : EX_DATAERR;
	}
	printf("schema at version %d (%d applied now)\n", version, applied);
	return 0;
}

/* casemgrd sample -c FILE --month YYYY-MM --seed HEX [--share S | --count N] */
static int run_sample(int argc, char **argv)
{
	char msg[DB_MSG_MAX], *month = NULL, *seed = NULL, *share = NULL, *count_text = NULL, *end = NULL;
	const struct sub_opt opts[] = {{"--month", &month},
	                               {"--seed", &seed},
	                               {"--share", &share},
	                               {"--count", &count_text},
	                               {NULL, NULL}};
	long long count = 0;
	PGconn *db;
	int rc;

	if (sub_settings(argc, argv, opts) != 0 || !month || !seed ||
	    (count_text && ((count = strtoll(count_text, &end, 10)) < 1 || *end))) {
		fprintf(stderr, "usage: casemgrd sample -c FILE --month YYYY-MM --seed HEX [--share S | "
		                "--count N]\n");
		return EX_USAGE;
	}
	if (!sub_conf.db_owner[0]) {
		log_err("sample: db_owner is not set");
		return EX_CONFIG;
	}
	if (!(db = db_connect(sub_conf.db_owner, msg))) {
		log_err("sample: %s", msg);
		return EX_UNAVAILABLE;
	}
	rc = callback_sample(db, month, seed, share, count, stdout, msg);
	PQfinish(db);
	if (rc != TIP_OK) {
		log_err("sample: %s", msg);
		return rc == TIP_EINVAL ? EX_USAGE : rc == TIP_ECORRUPT ? EX_DATAERR : EX_UNAVAILABLE;
	}
	return 0;
}

/* The current sealing key, then the retired ones. */
static int load_seal_keys(const struct casemgr_conf *conf, struct ingest_conf *ic)
{
	struct key k[INGEST_SEAL_KEYS_MAX];
	char bad[KEY_PATH_MAX];
	size_t n = 0;
	int rc = key_read_private(conf->seal_key, &k[0]);

	if (rc != TIP_OK || k[0].type != KEY_X25519) {
		log_err("%s: not an HPKE private key (%s)", conf->seal_key,
		        rc ? tip_strerror(rc) : "wrong type");
		key_wipe(&k[0]);
		return -1;
	}
	if ((rc = key_read_list(conf->retired_seal_keys, 1, KEY_X25519, k + 1, INGEST_SEAL_KEYS_MAX - 1, &n,
	                        bad)) != TIP_OK) {
		log_err("retired_seal_keys: %s: %s", bad[0] ? bad : "(list)",
		        rc == TIP_EFORMAT ? "not an HPKE private key, or a key listed twice"
		                          : tip_strerror(rc));
		key_wipe(&k[0]);
		return -1;
	}
	ic->n_seal_keys = n + 1;
	for (size_t i = 0; i < ic->n_seal_keys; i++) {
		memcpy(ic->seal_sk[i], k[i].secret, HPKE_KEY_LEN);
		memcpy(ic->seal_key_id[i], k[i].id, 4);
		key_wipe(&k[i]);
	}
	return 0;
}

static int load_index_key(const struct casemgr_conf *conf, struct ingest_conf *ic)
{
	struct key k;
	int rc = key_read_private(conf->index_key, &k);

	if (rc != TIP_OK || k.type != KEY_INDEX) {
		log_err("%s: not an index key (%s)", conf->index_key, rc ? tip_strerror(rc) : "wrong type");
		key_wipe(&k);
		return -1;
	}
	memcpy(ic->index_key, k.secret, MATCH_KEY_LEN);
	key_wipe(&k);
	return 0;
}

/* The taxonomy's labels for the staff pages (the document intaked's form gets), or NULL. */
static char *taxonomy_document(const struct taxonomy *tax, size_t *len)
{
	json_t *doc = json_pack("{s:o}", "taxonomy", tax_to_json(tax));
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;

	json_decref(doc);
	*len = text ? strlen(text) : 0;
	return text;
}

int main(int argc, char **argv)
{
	static struct casemgr c = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
	static struct origins origins;
	struct taxonomy *tax = NULL;
	static struct staff staff;
	struct http_server *metrics = NULL, *api = NULL;
	struct event *ev_term = NULL, *ev_int = NULL;
	struct ingest_conf ic = {0};
	struct key status_key = {0};
	SSL_CTX *tls = NULL;
	char bad[ORIGINS_PATH_MAX];
	int check, rc, started = 0, publishing = 0, port = 0;

	log_init("casemgrd", 0, LOG_INFO);
	if (argc > 1 && strcmp(argv[1], "migrate") == 0)
		return run_migrate(argc, argv);
	if (argc > 1 && strcmp(argv[1], "hash-password") == 0)
		return run_hash_password(argc, argv);
	if (argc > 1 && strcmp(argv[1], "audit") == 0)
		return run_audit(argc, argv);
	if (argc > 1 && strcmp(argv[1], "sample") == 0)
		return run_sample(argc, argv);
	check = daemon_settings(argc, argv, "casemgrd", casemgr_conf_table, casemgr_conf_entries, &c.conf,
	                        casemgr_conf_check);
	log_init("casemgrd", c.conf.syslog, c.conf.debug ? LOG_DEBUG : LOG_INFO);
	c.exit_code = EX_CONFIG;
	if ((rc = origins_load(c.conf.origin_keys, &origins, bad)) != TIP_OK) {
		log_err("%s: %s", rc == TIP_EFORMAT ? bad : c.conf.origin_keys,
		        rc == TIP_EFORMAT ? "not a usable origin signing key" : tip_strerror(rc));
		goto out;
	}
	if (!(tax = tax_load(c.conf.taxonomy, &rc))) {
		log_err("%s: taxonomy: %s", c.conf.taxonomy, tip_strerror(rc));
		goto out;
	}
	if (load_seal_keys(&c.conf, &ic) != 0 || load_index_key(&c.conf, &ic) != 0)
		goto out;
	if (!(staff.taxonomy_json = taxonomy_document(tax, &staff.taxonomy_len)) ||
	    !(staff.web_gz = web_gzip_table(&web_staff))) {
		log_err("out of memory");
		goto out;
	}
	if ((rc = key_read_private(c.conf.audit_key, &c.audit_key)) != TIP_OK ||
	    c.audit_key.type != KEY_ED25519) {
		log_err("%s: not a signing key (%s)", c.conf.audit_key, rc ? tip_strerror(rc) : "wrong type");
		goto out;
	}
	if (c.conf.status_spool[0] && ((rc = key_read_private(c.conf.status_key, &status_key)) != TIP_OK ||
	                               status_key.type != KEY_ED25519)) {
		log_err("%s: not a signing key (%s)", c.conf.status_key,
		        rc ? tip_strerror(rc) : "wrong type");
		goto out;
	}
	if ((rc = rec_keyring_load(&c.retired_status, c.conf.retired_status_keys, c.retired_status_pubs,
	                           REC_KEYS_MAX, &c.n_retired_status, bad)) != TIP_OK) {
		log_err("retired_status_keys: %s: %s", bad[0] ? bad : "(list)",
		        rc == TIP_EFORMAT || rc == TIP_EINVAL
		                ? "not a signing verifier key, or a key listed twice"
		                : tip_strerror(rc));
		goto out;
	}
	if (!c.conf.plain_http && !(tls = daemon_tls_context(c.conf.tls_cert, c.conf.tls_key))) {
		log_err("TLS certificate %s / key %s unusable", c.conf.tls_cert, c.conf.tls_key);
		ERR_print_errors_fp(stderr);
		goto out;
	}
	if (check) {
		printf("configuration ok: %zu origins; %s%s\n", origins.n,
		       c.conf.status_spool[0] ? "status bulletins to " : "no status bulletins",
		       c.conf.status_spool);
		c.exit_code = 0;
		goto out;
	}
	c.exit_code = EX_OSERR;
	signal(SIGPIPE, SIG_IGN);
	c.staff = &staff;
	if (evthread_use_pthreads() != 0 || !(c.base = event_base_new()) || register_metrics(&c) != 0)
		goto out;
	if (c.conf.metrics_port &&
	    !(metrics = daemon_metrics_server(c.base, c.conf.metrics_listen, (int)c.conf.metrics_port,
	                                      refresh_metrics, &c)))
		goto out;
	struct http_limits lim = DAEMON_HTTP_LIMITS(c.conf);
	const char *headers[] = {
	        "Content-Security-Policy: default-src 'self'; img-src 'self' data:; object-src 'none'; "
	        "base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
	        "X-Content-Type-Options: nosniff",
	        "X-Frame-Options: DENY",
	        "Referrer-Policy: no-referrer",
	        "Cross-Origin-Opener-Policy: same-origin",
	        "Cross-Origin-Resource-Policy: same-origin",
	        "Cache-Control: no-store",
	        tls ? "Strict-Transport-Security: max-age=63072000; includeSubDomains" : NULL,
	        NULL,
	};
	staff.conf = (struct staff_conf){
	        .session_ttl_s = c.conf.session_ttl / 1000,
	        .login_failures = c.conf.login_failures,
	        .lockout_s = c.conf.lockout / 1000,
	        .cost = {(uint32_t)c.conf.argon2_time, (uint32_t)(c.conf.argon2_memory / 1024), 1},
	        .pledge_version = c.conf.pledge_version,
	        .replica_rest_ms = c.conf.db_retry,
	};
	staff.tax = tax;
	if (!(staff.db = pgq_new(c.base, c.conf.db_app, (size_t)c.conf.db_connections,
	                         (size_t)c.conf.db_queue)) ||
	    (c.conf.db_replica[0] &&
	     !(staff.replica = pgq_new(c.base, c.conf.db_replica, (size_t)c.conf.db_connections,
	                               (size_t)c.conf.db_queue))) ||
	    !(staff.hasher = hasher_new(c.base, (size_t)c.conf.hash_threads, (size_t)c.conf.db_queue)) ||
	    !(staff.rl_login =
	              rl_new((double)c.conf.rate_login / 3600, (double)c.conf.burst_login, 65536, 24, 48)))
		goto out;
	if (!(api = http_server_new(c.base, &lim, headers, staff_handle, &staff)) ||
	    http_server_listen(api, c.conf.listen, (int)c.conf.port, tls, &port) != TIP_OK) {
		log_err("cannot listen on %s port %lld: %s", c.conf.listen, c.conf.port, strerror(errno));
		goto out;
	}
	if (daemon_drop_privileges(c.conf.user) != 0)
		goto out;
	ic.conninfo = c.conf.db_ingest;
	ic.inbox_dir = c.conf.inbox;
	ic.origins = &origins;
	ic.taxonomy = tax;
	ic.batch = (size_t)c.conf.ingest_batch;
	ic.threads = (size_t)c.conf.ingest_threads;
	ic.max_record = c.conf.max_record;
	struct clocks_conf clk = {c.conf.clock_max_wait, c.conf.db_retry};
	if (c.conf.clocks && (!(c.clocks_db = pgq_new(c.base, c.conf.db_ingest, 1, 1)) ||
	                      !(c.clocks = clocks_new(c.base, c.clocks_db, &clk, &c.clocks_m))))
		goto out;
	ev_term = evsignal_new(c.base, SIGTERM, on_signal, &c);
	ev_int = evsignal_new(c.base, SIGINT, on_signal, &c);
	struct callback_conf cc = {
	        .conninfo = c.conf.db_ingest,
	        .share = c.conf.callback_share,
	        .count = c.conf.callback_count,
	        .text = c.conf.callback_text,
	        .open_ms = c.conf.callback_open,
	        .poll_ms = c.conf.sms_poll,
	        .batch = 100,
	};
	callback_parse_hours(c.conf.sms_hours, cc.send_after, cc.send_before); /* checked with the settings */
	struct publish_conf pc = {
	        .conninfo = c.conf.db_ingest,
	        .spool_dir = c.conf.status_spool,
	        .origin = c.conf.status_origin,
	        .taxonomy = tax,
	        .batch = (size_t)c.conf.status_batch,
	        .retired = &c.retired_status,
	};
	if ((c.conf.sms && !(c.callback = callback_new(&cc))) || !(c.ingest = ingest_new(&ic)) || !ev_term ||
	    !ev_int || evsignal_add(ev_term, NULL) || evsignal_add(ev_int, NULL) ||
	    (c.conf.status_spool[0] && !(c.publish = publish_new(&pc, &status_key))))
		goto out;
	key_wipe(&status_key);
	/* From here on a thread's fatal error sets the exit code (stop_with). */
	c.exit_code = 0;
	if (pthread_create(&c.thread, NULL, ingest_main, &c) != 0) {
		c.exit_code = EX_OSERR;
		goto out;
	}
	started = 1;
	if (c.publish) {
		if (pthread_create(&c.publish_thread, NULL, publish_main, &c) != 0) {
			stop_with(&c, EX_OSERR);
			goto out;
		}
		publishing = 1;
	}
	log_info("staff API listening on %s:%d (%s); ingest of %zu origins from %s; %s%s", c.conf.listen,
	         port, tls ? "https" : "http", origins.n, c.conf.inbox,
	         publishing ? "status bulletins to " : "no status bulletins", c.conf.status_spool);
	if (staff.replica)
		log_info("the dashboard reads from the replica (db_replica), the primary when it cannot");
	if (c.callback && c.conf.callback_share[0])
		log_info("sms: every %lld ms; callback draws of a %s share per province", c.conf.sms_poll,
		         c.conf.callback_share);
	else if (c.callback)
		log_info("sms: every %lld ms; callback draws of %lld per province (0: none)", c.conf.sms_poll,
		         c.conf.callback_count);
	event_base_dispatch(c.base);
out:
	if (started) {
		pthread_mutex_lock(&c.mu);
		c.stop = 1;
		pthread_cond_broadcast(&c.cv);
		pthread_mutex_unlock(&c.mu);
		pthread_join(c.thread, NULL);
		if (publishing)
			pthread_join(c.publish_thread, NULL);
	}
	key_wipe(&status_key);
	publish_free(c.publish);
	for (size_t i = 0; i < c.n_retired_status; i++)
		ed25519_pub_free(c.retired_status_pubs[i]);
	OPENSSL_cleanse(ic.seal_sk, sizeof(ic.seal_sk));
	OPENSSL_cleanse(ic.index_key, sizeof(ic.index_key));
	ingest_free(c.ingest);
	clocks_free(c.clocks);
	pgq_free(c.clocks_db);
	callback_free(c.callback);
	PQfinish(c.heads_db);
	key_wipe(&c.audit_key);
	http_server_free(api);
	http_server_free(metrics);
	pgq_free(staff.db);
	pgq_free(staff.replica);
	hasher_free(staff.hasher);
	rl_free(staff.rl_login);
	SSL_CTX_free(tls);
	if (ev_term)
		event_free(ev_term);
	if (ev_int)
		event_free(ev_int);
	if (c.base)
		event_base_free(c.base);
	tax_free(tax);
	free((char *)staff.taxonomy_json);
	web_gzip_free(staff.web_gz, web_staff.count);
	origins_free(&origins);
	return c.exit_code;
}
