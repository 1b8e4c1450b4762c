/*
 * casemgrd ingest rate: records verified (signature, chain), opened (HPKE), validated and stored as
 * report + case + comparison keys + cursor, each case compared with its province's cases in the same
 * statement, against a plain COPY of the same rows (proposed links included) into the same tables,
 * same run, same server. Records: the test report of testutil.c (every block, one small attachment),
 * about 1.3 KiB. Every report is the same, so every case matches every other one of its province: the
 * comparison's worst case (it proposes the 10 best per case).
 */
#include "pg.h"
#include "testutil.h"

#include "common/err.h"
#include "internal/ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RECORDS 20000

static const char *const tables[] = {"reports",   "report_persons", "report_officials", "report_attachments",
                                     "cases",     "case_keys",      "case_links"};
#define N_TABLES (sizeof(tables) / sizeof(tables[0]))

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void must(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "bench_casemgr: %s failed\n", what);
		exit(1);
	}
}

static double run_ingest(struct tcm *f, const struct taxonomy *tax)
{
	char conninfo[128], bad[ORIGINS_PATH_MAX], dir[300], msg[DB_MSG_MAX];
	static struct origins origins;
	struct ingest_conf ic = {0};
	struct ingest *in;
	double t0;

	snprintf(dir, sizeof(dir), "%s/origins", f->dir);
	must(origins_load(dir, &origins, bad) == TIP_OK, "origins_load");
	tpg_conninfo(&f->pg, "tip_ingest", conninfo, sizeof(conninfo));
	ic.conninfo = conninfo;
	ic.inbox_dir = f->inbox;
	ic.origins = &origins;
	ic.taxonomy = tax;
	ic.batch = 500;
	ic.threads = 2;
	ic.max_record = 32 << 20;
	memcpy(ic.seal_sk, f->seal_key.secret, HPKE_KEY_LEN);
	memcpy(ic.seal_key_id, f->seal_key.id, 4);
	memcpy(ic.index_key, f->index_key.secret, MATCH_KEY_LEN);
	must((in = ingest_new(&ic)) != NULL, "ingest_new");
	t0 = now_s();
	while (atomic_load(&ingest_stats(in)->reports) < RECORDS) {
		int rc = ingest_step(in, msg);

		if (rc < 0)
			fprintf(stderr, "ingest: %s\n", msg);
		must(rc > 0, "ingest_step");
	}
	double t = now_s() - t0;
	ingest_free(in);
	origins_free(&origins);
	return t;
}

/* Exports the ingested rows, empties the tables, and times COPY of the rows back in one transaction. */
static double run_copy(PGconn *c)
{
	char sql[128], *data[N_TABLES] = {0};
	size_t len[N_TABLES] = {0};
	double t0;

	for (size_t i = 0; i < N_TABLES; i++) {
		char *buf;
		int n;

		snprintf(sql, sizeof(sql), "COPY %s TO STDOUT (FORMAT binary)", tables[i]);
		PGresult *r = PQexec(c, sql);
		must(PQresultStatus(r) == PGRES_COPY_OUT, "COPY TO");
		PQclear(r);
		while ((n = PQgetCopyData(c, &buf, 0)) > 0) {
			must((data[i] = realloc(data[i], len[i] + (size_t)n)) != NULL, "realloc");
			memcpy(data[i] + len[i], buf, (size_t)n);
			len[i] += (size_t)n;
			PQfreemem(buf);
		}
		PQclear(PQgetResult(c));
	}
	must(tpg_exec(c, "TRUNCATE reports, report_persons, report_officials, report_attachments, cases, "
	                 "case_keys, case_links, status_outbox CASCADE") == 0,
	     "TRUNCATE");
	t0 = now_s();
	must(tpg_exec(c, "BEGIN") == 0, "BEGIN");
	for (size_t i = 0; i < N_TABLES; i++) {
		snprintf(sql, sizeof(sql), "COPY %s FROM STDIN (FORMAT binary)", tables[i]);
		PGresult *r = PQexec(c, sql);
		must(PQresultStatus(r) == PGRES_COPY_IN, "COPY FROM");
		PQclear(r);
		must(PQputCopyData(c, data[i], (int)len[i]) == 1 && PQputCopyEnd(c, NULL) == 1, "copy data");
		r = PQgetResult(c);
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			fprintf(stderr, "%s: %s", tables[i], PQresultErrorMessage(r));
		must(PQresultStatus(r) == PGRES_COMMAND_OK, "COPY end");
		PQclear(r);
		free(data[i]);
	}
	must(tpg_exec(c, "COMMIT") == 0, "COMMIT");
	return now_s() - t0;
}

int main(void)
{
	struct tcm f;
	struct taxonomy *tax = tu_taxonomy();
	double t0, gen, ingest, copy;

	tcm_setup(&f, 1);
	t0 = now_s();
	tcm_add_reports(&f, RECORDS);
	gen = now_s() - t0;
	ingest = run_ingest(&f, tax);
	PGconn *owner = tpg_connect(&f.pg, "tip_owner");
	long long links = tpg_value(owner, "SELECT count(*) FROM case_links");
	must(tpg_value(owner, "SELECT count(*) FROM cases WHERE compared_at IS NULL") == 0, "every case compared");
	copy = run_copy(owner);
	must(tpg_value(owner, "SELECT count(*) FROM cases") == RECORDS, "rows copied back");
	PQfinish(owner);
	printf("bench casemgr: records=%d ingest_per_s=%.0f copy_per_s=%.0f copy_over_ingest=%.1f "
	       "make_records_per_s=%.0f links_proposed=%lld\n",
	       RECORDS, RECORDS / ingest, RECORDS / copy, ingest / copy, RECORDS / gen, links);
	tcm_teardown(&f);
	tax_free(tax);
	return 0;
}
