/*
 * casemgrd ingest rate: records verified (signature, chain), opened (HPKE), validated and stored as
 * report + case + comparison keys + cursor, against a plain COPY of the same rows into the same
 * tables, same run, same server; then the comparison of every case with its province's cases (a
 * backlog is stored first and compared after: internal/ingest.c). Records: the test report of
 * testutil.c (every block, one small attachment), about 1.3 KiB. Every report is the same, so every
 * case matches every other one of its province: the comparison's worst case (10 proposals for every
 * case). A second run ingests reports that differ as real ones do (add_varied).
 */
#include "pg.h"
#include "testutil.h"

#include "common/err.h"
#include "internal/ingest.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RECORDS 20000

static const char *const tables[] = {"reports", "report_persons", "report_officials", "report_attachments",
                                     "cases",   "case_keys"};
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

/* Seconds to store RECORDS reports, and (*compare) to compare them all after that. */
static double run_ingest(struct tcm *f, const struct taxonomy *tax, double *compare)
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
	memcpy(ic.seal_sk[0], f->seal_key.secret, HPKE_KEY_LEN);
	memcpy(ic.seal_key_id[0], f->seal_key.id, 4);
	ic.n_seal_keys = 1;
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
	/* A backlog is stored first; comparison follows once the inbox is drained. */
	t0 = now_s();
	while (atomic_load(&ingest_stats(in)->compared) < RECORDS) {
		int rc = ingest_step(in, msg);

		if (rc < 0)
			fprintf(stderr, "ingest: %s\n", msg);
		must(rc > 0, "ingest_step comparing");
	}
	*compare = now_s() - t0;
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

/* A deterministic pseudo-random number below n (the same reports on every run). */
static unsigned pick(uint64_t *state, unsigned n)
{
	*state = *state * 6364136223846793005ull + 1442695040888963407ull;
	return (unsigned)(*state >> 33) % n;
}

/*
 * n reports each with its own reporter, person, phones and place, in six provinces, drawn from pools
 * small enough that some recur as in real reports: a name out of 20 surnames x 50 given names, one
 * person's phone in 50 from a pool of 200, a place out of 40 x 40 x 12 (one in 10 with something
 * added, a similar spelling), an official in 3 reports out of 10 from a pool of 100; half real-name
 * with their own ID number and phone.
 */
static void add_varied(struct tcm *f, size_t n)
{
	static const char *const regions[] = {"110101", "310101", "330102", "420102", "440103", "510104"};
	static const char *const suffixes[] = {"码头", "采砂场", "村",   "镇",     "工地",   "小区",
	                                       "市场", "酒店",   "会所", "砂石厂", "物流园", "洗浴中心"};
	static const char *const added[] = {"旁", "东门", "北侧"};
	static const char weights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
	uint64_t state = 7;
	uint8_t **recs = calloc(n, sizeof(*recs));
	size_t *lens = calloc(n, sizeof(*lens));

	must(recs && lens, "calloc");
	for (size_t i = 0; i < n; i++) {
		struct tu_report r;
		char id[19], phone[16], pphone[16], person[16], official[16], place[64];
		int sum = 0;

		tu_report_init(&r);
		memcpy(r.query_hash, &i, sizeof(i));
		r.activity.region = (char *)regions[pick(&state, 6)];
		if (pick(&state, 2)) {
			snprintf(id, sizeof(id), "110105%04u0101%03u", 1950 + (unsigned)(i / 1000 % 50),
			         (unsigned)(i % 1000));
			for (int k = 0; k < 17; k++)
				sum += (id[k] - '0') * weights[k];
			id[17] = "10X98765432"[sum % 11];
			id[18] = 0;
			snprintf(phone, sizeof(phone), "139%08zu", i);
			r.reporter.id_number = id;
			r.reporter.phone = phone;
		} else {
			r.reporter.anonymous = 1;
			r.reporter.name = r.reporter.id_number = r.reporter.phone = r.reporter.address = "";
			r.reporter.contact_allowed = 0;
			r.reporter.channel = "";
		}
		/* Surnames and given names as code points of the CJK block, three bytes each. */
		uint8_t *p = (uint8_t *)person;
		unsigned cps[3] = {0x5f20 + pick(&state, 20), 0x4e00 + 300 + pick(&state, 50),
		                   0x4e00 + 400 + pick(&state, 50)};
		size_t len = 0;
		for (int k = 0; k < 3; k++) {
			p[len++] = (uint8_t)(0xe0 | cps[k] >> 12);
			p[len++] = (uint8_t)(0x80 | (cps[k] >> 6 & 0x3f));
			p[len++] = (uint8_t)(0x80 | (cps[k] & 0x3f));
		}
		person[len] = 0;
		r.person.name = person;
		r.person.n_aliases = 0;
		r.person.region = "";
		if (pick(&state, 50) == 0)
			snprintf(pphone, sizeof(pphone), "1370000%04u", pick(&state, 200));
		else
			snprintf(pphone, sizeof(pphone), "136%08zu", i);
		r.phones[0] = pphone;
		unsigned a = 0x6e00 + pick(&state, 40), b = 0x6c00 + pick(&state, 40);
		snprintf(place, sizeof(place), "%c%c%c%c%c%c%s%s", (char)(0xe0 | a >> 12),
		         (char)(0x80 | (a >> 6 & 0x3f)), (char)(0x80 | (a & 0x3f)), (char)(0xe0 | b >> 12),
		         (char)(0x80 | (b >> 6 & 0x3f)), (char)(0x80 | (b & 0x3f)),
		         suffixes[pick(&state, 12)], pick(&state, 10) == 0 ? added[pick(&state, 3)] : "");
		r.activity.place = place;
		if (pick(&state, 10) < 3) {
			unsigned o = pick(&state, 100);
			snprintf(official, sizeof(official), "官员%c%c%c", (char)0xe4, (char)(0xb8 + o / 64),
			         (char)(0x80 + o % 64));
			r.official.name = official;
			r.official.region = "";
		} else {
			r.umbrella.n_officials = 0;
		}
		tcm_seal(f, &r.r, NULL, &recs[i], &lens[i]);
	}
	tcm_append(f, recs, lens, n);
	for (size_t i = 0; i < n; i++)
		free(recs[i]);
	free(recs);
	free(lens);
}

int main(void)
{
	struct tcm f;
	struct taxonomy *tax = tu_taxonomy();
	double t0, gen, ingest, copy, compare, varied_compare;

	tcm_setup(&f, 1);
	t0 = now_s();
	tcm_add_reports(&f, RECORDS);
	gen = now_s() - t0;
	ingest = run_ingest(&f, tax, &compare);
	PGconn *owner = tpg_connect(&f.pg, "tip_owner");
	long long links = tpg_value(owner, "SELECT count(*) FROM case_links");
	must(tpg_value(owner, "SELECT count(*) FROM cases WHERE compared_at IS NULL") == 0,
	     "every case compared");
	copy = run_copy(owner);
	must(tpg_value(owner, "SELECT count(*) FROM cases") == RECORDS, "rows copied back");
	PQfinish(owner);
	tcm_teardown(&f);

	tcm_setup(&f, 1);
	add_varied(&f, RECORDS);
	double varied = run_ingest(&f, tax, &varied_compare);
	owner = tpg_connect(&f.pg, "tip_owner");
	long long varied_links = tpg_value(owner, "SELECT count(*) FROM case_links");
	must(tpg_value(owner, "SELECT count(*) FROM cases WHERE compared_at IS NULL") == 0,
	     "every case compared");
	PQfinish(owner);
	tcm_teardown(&f);
	printf("bench casemgr: records=%d ingest_per_s=%.0f copy_per_s=%.0f copy_over_ingest=%.1f "
	       "make_records_per_s=%.0f compare_per_s=%.0f links_proposed=%lld varied_ingest_per_s=%.0f "
	       "varied_compare_per_s=%.0f varied_links_proposed=%lld\n",
	       RECORDS, RECORDS / ingest, RECORDS / copy, ingest / copy, RECORDS / gen, RECORDS / compare,
	       links, RECORDS / varied, RECORDS / varied_compare, varied_links);
	tax_free(tax);
	return 0;
}
