/*
 * A throwaway PostgreSQL for tests and benchmarks: a fresh data directory on loopback TCP, the
 * project's roles and database created (deploy/pg, the same script deploy/up uses). As root the
 * server runs as the postgres account, which PostgreSQL requires.
 */
#ifndef TIP_TESTS_PG_H
#define TIP_TESTS_PG_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/keyfile.h"
#include "proto/record.h"
#include "report.pb-c.h"

struct tpg {
	char dir[64]; /* a private folder under /tmp; the data directory is dir/data */
	int port;
};

/* Creates and starts a server on a free port. 0, or -1 (the server log is printed). */
int tpg_start(struct tpg *p);
/* A folder and a free port for a server that a deploy script makes (a restore, a standby), nothing
 * started; stopped and removed like any other. 0 or -1. */
int tpg_place(struct tpg *p);
/* Runs deploy/<script> with args (NULL-terminated): 0, or -1 (the log of a server that ran in a directory
 * given is printed). */
int tpg_deploy(const char *script, const char *const *args);
/* Stops it (fast shutdown) and starts it again on the same port and data: for restart tests. */
int tpg_stop(struct tpg *p);
int tpg_restart(struct tpg *p);
/* Stops the server if running and removes every file. */
void tpg_destroy(struct tpg *p);
/* "host=127.0.0.1 port=N dbname=tip user=ROLE" into out. */
void tpg_conninfo(const struct tpg *p, const char *role, char *out, size_t cap);

/* A connection as role to the database tip; aborts when it cannot connect. */
PGconn *tpg_connect(const struct tpg *p, const char *role);
/* The first column of the first row of a query as an integer; aborts on an error or no row. */
long long tpg_value(PGconn *c, const char *sql);
/* The first column of the first row as text (heap; "" for NULL); aborts on an error or no row. */
char *tpg_text(PGconn *c, const char *sql);
/* Runs a command: 0, or -1 when the server refused it (some tests expect that). */
int tpg_exec(PGconn *c, const char *sql);

/*
 * Everything a casemgrd test or benchmark needs: a server with the schema migrated, keys (an
 * origin's signing key, the internal sealing key), an inbox, and a settings file at conf (with the
 * case clocks off: a test that needs them turns them on).
 */
#define TCM_ORIGIN "intake-a"
struct tcm {
	struct tpg pg;
	char *dir;
	char conf[256], inbox[256], migrations[512];
	struct key origin_key, seal_key, audit_key, index_key;
	struct rec_chain chain; /* the origin's chain as written to the inbox so far */
	const char *region;     /* where tcm_record's reports happen (GB/T 2260; 110101 at first) */
	int metrics_port;       /* casemgrd's metrics listener */
};
/* Aborts on failure. migrate: also run `casemgrd migrate`. */
void tcm_setup(struct tcm *f, int migrate);
void tcm_teardown(struct tcm *f);
/*
 * The next record of the origin's chain carrying a report sealed to the internal key (the test
 * report of testutil.h with a query hash drawn from seq, in f->region), or with payload when payload is not
 * NULL. *out (heap) and *len; the chain is advanced. Aborts on failure.
 */
void tcm_record(struct tcm *f, const uint8_t *payload, size_t payload_len, uint8_t **out, size_t *len);
/* The next record of the chain carrying report r sealed to seal_to (the internal key when NULL); as
 * tcm_record. */
void tcm_seal(struct tcm *f, const Tip__Report *r, const struct key *seal_to, uint8_t **out, size_t *len);
/* Appends records to the origin's inbox spool and syncs it. */
void tcm_append(struct tcm *f, uint8_t *const *recs, const size_t *lens, size_t n);
/* n valid report records (tcm_record, tcm_append). */
void tcm_add_reports(struct tcm *f, size_t n);
/* The value of one series (e.g. "casemgr_logins_total{result=\"ok\"}") on casemgrd's metrics page; -1 if
 * absent. */
long long tcm_metric(const struct tcm *f, const char *series);

#endif
