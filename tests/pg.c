#include "pg.h"

#include "daemon.h"
#include "httpc.h"
#include "testutil.h"

#include "common/err.h"
#include "diode/spool.h"
#include "proto/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int tpg_deploy(const char *script, const char *const *args)
{
	const char *src = getenv("TIP_SOURCE_DIR");
	char path[512];
	const char *argv[16];
	size_t n = 0;
	pid_t pid;
	int status;

	snprintf(path, sizeof(path), "%s/deploy/%s", src ? src : TIP_DATA_DIR, script);
	argv[n++] = script;
	while (args[n - 1] && n < sizeof(argv) / sizeof(argv[0]) - 1) {
		argv[n] = args[n - 1];
		n++;
	}
	argv[n] = NULL;
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		execv(path, (char *const *)argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	/* The log of each data directory a server ran in (a base backup has a copy of its origin's). */
	for (size_t i = 1; i < n; i++) {
		char opts[600], log[600];
		char *text;

		snprintf(opts, sizeof(opts), "%s/postmaster.opts", argv[i]);
		snprintf(log, sizeof(log), "%s/server.log", argv[i]);
		if (access(opts, F_OK) == 0 && (text = tu_read_file(log, NULL))) {
			fprintf(stderr, "deploy/%s failed; %s:\n%s\n", script, log, text);
			free(text);
		}
	}
	return -1;
}

/* deploy/pg CMD DIR/data [PORT]: 0 or -1. */
static int pg_script(const struct tpg *p, const char *cmd)
{
	char data[96], port[16];
	const char *args[] = {cmd, data, strcmp(cmd, "start") == 0 ? port : NULL, NULL};

	snprintf(data, sizeof(data), "%s/data", p->dir);
	snprintf(port, sizeof(port), "%d", p->port);
	return tpg_deploy("pg", args);
}

/*
 * Servers started and not yet destroyed, stopped at exit: a test whose set-up fails returns without
 * its teardown, and its server must not outlive it.
 */
#define TPG_MAX 8
static struct tpg started[TPG_MAX];

static void stop_leftovers(void)
{
	for (int i = 0; i < TPG_MAX; i++) {
		struct tpg p = started[i]; /* tpg_destroy forgets the slot it is given */

		tpg_destroy(&p);
	}
}

static void remember(const struct tpg *p, int on)
{
	static int registered;

	if (!registered)
		registered = atexit(stop_leftovers) == 0;
	for (int i = 0; i < TPG_MAX; i++)
		if (on ? !started[i].dir[0] : strcmp(started[i].dir, p->dir) == 0) {
			if (on)
				started[i] = *p;
			else
				started[i].dir[0] = 0;
			return;
		}
}

int tpg_place(struct tpg *p)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->dir, sizeof(p->dir), "/tmp/tip-pg-XXXXXX");
	/* Searchable by the postgres account, which owns only the data directory inside. */
	if (!mkdtemp(p->dir) || chmod(p->dir, 0755) != 0)
		return -1;
	p->port = tfree_port();
	remember(p, 1);
	return 0;
}

int tpg_start(struct tpg *p)
{
	return tpg_place(p) == 0 ? pg_script(p, "start") : -1;
}

int tpg_stop(struct tpg *p)
{
	return pg_script(p, "stop");
}

int tpg_restart(struct tpg *p)
{
	return pg_script(p, "start");
}

void tpg_destroy(struct tpg *p)
{
	if (!p->dir[0])
		return;
	remember(p, 0);
	pg_script(p, "stop");
	tu_rmtree(p->dir);
	p->dir[0] = 0;
}

void tpg_conninfo(const struct tpg *p, const char *role, char *out, size_t cap)
{
	snprintf(out, cap, "host=127.0.0.1 port=%d dbname=tip user=%s", p->port, role);
}

PGconn *tpg_connect(const struct tpg *p, const char *role)
{
	char conninfo[128];
	PGconn *c;

	tpg_conninfo(p, role, conninfo, sizeof(conninfo));
	if (PQstatus(c = PQconnectdb(conninfo)) != CONNECTION_OK) {
		fprintf(stderr, "connect %s: %s", conninfo, PQerrorMessage(c));
		abort();
	}
	return c;
}

long long tpg_value(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	long long v;

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1) {
		fprintf(stderr, "%s: %s", sql, PQresultErrorMessage(r));
		abort();
	}
	v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return v;
}

char *tpg_text(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	char *v;

	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1) {
		fprintf(stderr, "%s: %s", sql, PQresultErrorMessage(r));
		abort();
	}
	if (!(v = strdup(PQgetvalue(r, 0, 0))))
		abort();
	PQclear(r);
	return v;
}

int tpg_exec(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;

	if (!ok && getenv("TIP_SHOW_LOG"))
		fprintf(stderr, "%s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	return ok ? 0 : -1;
}

static void write_key(const char *dir, const char *file, enum key_type type, const char *name, struct key *k)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (key_generate(type, name, k) != TIP_OK || key_write_private(path, k) != TIP_OK)
		abort();
}

void tcm_setup(struct tcm *f, int migrate)
{
	const char *src = getenv("TIP_SOURCE_DIR");
	char keys[300], origins[300], path[600], owner[128], ingest[128], app[128];

	memset(f, 0, sizeof(*f));
	f->region = "110101";
	f->metrics_port = tfree_port();
	if (tpg_start(&f->pg) != 0 || !(f->dir = tu_mkdtemp()))
		abort();
	snprintf(keys, sizeof(keys), "%s/keys", f->dir);
	snprintf(origins, sizeof(origins), "%s/origins", f->dir);
	snprintf(f->inbox, sizeof(f->inbox), "%s/inbox", f->dir);
	snprintf(f->conf, sizeof(f->conf), "%s/casemgrd.conf", f->dir);
	snprintf(f->migrations, sizeof(f->migrations), "%s/internal/sql", src ? src : TIP_DATA_DIR);
	if (mkdir(keys, 0700) != 0 || mkdir(origins, 0700) != 0 || mkdir(f->inbox, 0700) != 0)
		abort();
	write_key(keys, "seal.key", KEY_X25519, "internal-seal", &f->seal_key);
	write_key(keys, "origin.key", KEY_ED25519, TCM_ORIGIN, &f->origin_key);
	write_key(keys, "audit.key", KEY_ED25519, "internal-audit", &f->audit_key);
	write_key(keys, "index.key", KEY_INDEX, "internal-index", &f->index_key);
	snprintf(path, sizeof(path), "%s/audit.key.pub", keys);
	if (key_write_public(path, &f->audit_key) != TIP_OK)
		abort();
	snprintf(path, sizeof(path), "%s/%s.pub", origins, TCM_ORIGIN);
	if (key_write_public(path, &f->origin_key) != TIP_OK ||
	    rec_chain_init(&f->chain, TCM_ORIGIN) != TIP_OK)
		abort();
	tpg_conninfo(&f->pg, "tip_owner", owner, sizeof(owner));
	tpg_conninfo(&f->pg, "tip_ingest", ingest, sizeof(ingest));
	tpg_conninfo(&f->pg, "tip_app", app, sizeof(app));
	/* The case clocks fire notices at the real time, which would add events to every test's cases at
	 * moments the test does not choose; test_casemgr_clocks turns them on. */
	tu_write_text(f->conf,
	              "plain_http yes\nport 0\ndb_app %s\nargon2_time 1\nargon2_memory 1M\n"
	              "db_owner %s\ndb_ingest %s\nmigrations %s\ninbox %s\norigin_keys %s\n"
	              "seal_key %s/seal.key\naudit_key %s/audit.key\nindex_key %s/index.key\ntaxonomy "
	              "%s/proto/taxonomy\nmetrics_port %d\ningest_poll 20ms\n"
	              "db_retry 100ms\nclocks no\n",
	              app, owner, ingest, f->migrations, f->inbox, origins, keys, keys, keys,
	              src ? src : TIP_DATA_DIR, f->metrics_port);
	const char *args[] = {"migrate", "-c", f->conf, NULL};
	if (migrate && trun("casemgrd", args) != 0)
		abort();
}

void tcm_teardown(struct tcm *f)
{
	tpg_destroy(&f->pg);
	tu_rmtree(f->dir);
	free(f->dir);
	key_wipe(&f->origin_key);
	key_wipe(&f->seal_key);
	key_wipe(&f->audit_key);
	key_wipe(&f->index_key);
}

void tcm_record(struct tcm *f, const uint8_t *payload, size_t payload_len, uint8_t **out, size_t *len)
{
	struct ed25519_key *k = ed25519_key_new(f->origin_key.secret);
	uint8_t *sealed = NULL, hash[REC_HASH_LEN];
	size_t sealed_len = 0;

	if (!k)
		abort();
	if (!payload) {
		struct tu_report r;

		tu_report_init(&r);
		memcpy(r.query_hash, &f->chain.next_seq, sizeof(f->chain.next_seq));
		r.activity.region = (char *)f->region;
		if (report_seal(&r.r, HPKE_AEAD_AES_128_GCM, f->seal_key.pub, f->seal_key.id, TCM_ORIGIN,
		                f->chain.next_seq, 1 << 20, &sealed, &sealed_len) != TIP_OK)
			abort();
		payload = sealed;
		payload_len = sealed_len;
	}
	if (rec_sign(&f->chain, k, f->origin_key.id, REC_REPORT, 1700000000000 + (int64_t)f->chain.next_seq,
	             payload, payload_len, 1 << 20, out, len, hash) != TIP_OK)
		abort();
	rec_chain_advance(&f->chain, hash);
	free(sealed);
	ed25519_key_free(k);
}

void tcm_seal(struct tcm *f, const Tip__Report *r, const struct key *seal_to, uint8_t **out, size_t *len)
{
	uint8_t *sealed;
	size_t sealed_len;

	if (!seal_to)
		seal_to = &f->seal_key;
	if (report_seal(r, HPKE_AEAD_CHACHA20_POLY1305, seal_to->pub, seal_to->id, TCM_ORIGIN,
	                f->chain.next_seq, 1 << 20, &sealed, &sealed_len) != TIP_OK)
		abort();
	tcm_record(f, sealed, sealed_len, out, len);
	free(sealed);
}

void tcm_append(struct tcm *f, uint8_t *const *recs, const size_t *lens, size_t n)
{
	char dir[300];
	struct spool *sp;
	int err;

	snprintf(dir, sizeof(dir), "%s/%s", f->inbox, TCM_ORIGIN);
	if (!(sp = spool_open(dir, NULL, NULL, NULL, &err)))
		abort();
	for (size_t i = 0; i < n; i++)
		if (spool_append(sp, recs[i], lens[i], NULL) != TIP_OK)
			abort();
	if (spool_close(sp) != TIP_OK)
		abort();
}

void tcm_add_reports(struct tcm *f, size_t n)
{
	uint8_t **recs = calloc(n, sizeof(*recs));
	size_t *lens = calloc(n, sizeof(*lens));

	if (!recs || !lens)
		abort();
	for (size_t i = 0; i < n; i++)
		tcm_record(f, NULL, 0, &recs[i], &lens[i]);
	tcm_append(f, recs, lens, n);
	for (size_t i = 0; i < n; i++)
		free(recs[i]);
	free(recs);
	free(lens);
}

long long tcm_metric(const struct tcm *f, const char *series)
{
	struct httpc_response r;
	long long v = -1;
	const char *p;

	if (httpc_request("127.0.0.1", f->metrics_port, 0, "GET", "/metrics", NULL, NULL, 0, &r) != 0)
		return -1;
	for (p = r.body; p && (p = strstr(p, series)); p++)
		if ((p == r.body || p[-1] == '\n') && p[strlen(series)] == ' ') {
			v = strtoll(p + strlen(series) + 1, NULL, 10);
			break;
		}
	httpc_free(&r);
	return v;
}
