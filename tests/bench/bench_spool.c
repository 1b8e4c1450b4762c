/*
 * Spool throughput for 1 KiB records: group commit (one spool_sync per 64 or 512 appends)
 * against one spool_sync per record, plus appends with a committer thread (the daemon's pattern)
 * and a sequential reader. Each mode runs for a fixed time in a fresh spool under TMPDIR.
 * Output: one table row per mode, then a final line
 *   bench spool: group64=N/s group512=N/s per_record=N/s ratio=X
 * where ratio is group512 / per_record.
 */
#include "common/err.h"
#include "diode/spool.h"
#include "testutil.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RECORD_BYTES 1024
#define MODE_SECONDS 5.0
#define MAX_RECORDS  3000000 /* about 3 GiB: a cap on disk use whatever the machine's speed */

struct result {
	const char *mode;
	int batch;
	uint64_t records, syncs;
	double seconds;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "bench_spool: %s: %s\n", what, tip_strerror(rc));
	exit(1);
}

static struct spool *open_fresh(const char *dir)
{
	struct spool_opts o = spool_opts_default();
	int err;
	struct spool *s = spool_open(dir, &o, NULL, NULL, &err);

	if (!s)
		die("open", err);
	return s;
}

/* Appends batch records, syncs, repeats until the time is up; batch 1 is one sync per record. */
static struct result run_batches(const char *dir, const char *mode, int batch)
{
	struct result r = {.mode = mode, .batch = batch};
	uint8_t rec[RECORD_BYTES];
	struct spool *s = open_fresh(dir);
	double t0 = now(), t;
	int rc;

	memset(rec, 0x5a, sizeof(rec));
	do {
		for (int i = 0; i < batch; i++) {
			rec[0] = (uint8_t)r.records;
			rc = spool_append(s, rec, sizeof(rec), NULL);
			if (rc != TIP_OK)
				die("append", rc);
			r.records++;
		}
		if (batch > 0) {
			rc = spool_sync(s, NULL);
			if (rc != TIP_OK)
				die("sync", rc);
			r.syncs++;
		}
		t = now();
	} while (t - t0 < MODE_SECONDS && r.records < MAX_RECORDS);
	r.seconds = t - t0;
	rc = spool_close(s);
	if (rc != TIP_OK)
		die("close", rc);
	return r;
}

struct committer {
	struct spool *s;
	atomic_int stop;
	uint64_t syncs;
};

static void *committer_run(void *arg)
{
	struct committer *c = arg;

	uint64_t last = 0;

	/* A daemon would wait for work; spinning here just measures flushes back to back. */
	while (!atomic_load(&c->stop)) {
		uint64_t d;
		int rc = spool_sync(c->s, &d);

		if (rc != TIP_OK)
			die("sync", rc);
		if (d != last)
			c->syncs++; /* count flushes, not calls that found nothing new */
		last = d;
	}
	return NULL;
}

/* One thread appends as fast as it can while another syncs in a loop; counts durable records. */
static struct result run_threaded(const char *dir)
{
	struct result r = {.mode = "threaded", .batch = 0};
	uint8_t rec[RECORD_BYTES];
	struct committer c = {.s = open_fresh(dir)};
	pthread_t th;
	double t0, t;
	int rc;

	memset(rec, 0x5a, sizeof(rec));
	atomic_init(&c.stop, 0);
	if (pthread_create(&th, NULL, committer_run, &c) != 0)
		die("thread", TIP_ENOMEM);
	t0 = now();
	do {
		for (int i = 0; i < 64; i++) {
			rc = spool_append(c.s, rec, sizeof(rec), NULL);
			if (rc != TIP_OK)
				die("append", rc);
		}
		t = now();
	} while (t - t0 < MODE_SECONDS && spool_count(c.s) < MAX_RECORDS);
	atomic_store(&c.stop, 1);
	pthread_join(th, NULL);
	r.seconds = now() - t0;
	r.records = spool_durable(c.s);
	r.syncs = c.syncs;
	rc = spool_close(c.s);
	if (rc != TIP_OK)
		die("close", rc);
	return r;
}

/* Reads back every record of the spool in dir (page cache warm: this measures the reader's own cost). */
static struct result run_read(const char *dir)
{
	struct result r = {.mode = "read", .batch = 0};
	struct spool_fault f;
	int err;
	struct spool_reader *rd = spool_reader_open(dir, "bench", NULL, &f, &err);
	double t0 = now();

	if (!rd)
		die("reader", err);
	for (;;) {
		const uint8_t *p;
		size_t len;
		int rc = spool_reader_next(rd, &p, &len, NULL, &f);

		if (rc == 0)
			break;
		if (rc < 0 || len != RECORD_BYTES)
			die("read", rc < 0 ? rc : TIP_EFORMAT);
		r.records++;
	}
	r.seconds = now() - t0;
	spool_reader_close(rd);
	return r;
}

static double rate(const struct result *r)
{
	return r->seconds > 0 ? (double)r->records / r->seconds : 0;
}

static void row(const struct result *r)
{
	printf("%-12s %6d %10" PRIu64 " %8" PRIu64 " %8.2f %12.0f %10.1f\n", r->mode, r->batch, r->records,
	       r->syncs, r->seconds, rate(r), rate(r) * RECORD_BYTES / (1024.0 * 1024.0));
}

static char *subdir(const char *root, const char *name)
{
	size_t n = strlen(root) + strlen(name) + 2;
	char *p = malloc(n);

	if (!p)
		die("malloc", TIP_ENOMEM);
	snprintf(p, n, "%s/%s", root, name);
	return p;
}

int main(void)
{
	char *root = tu_mkdtemp();
	char *d;
	struct result g64, g512, per, thr, rd;

	printf("bench spool: record_bytes=%d segment_bytes=%d seconds_per_mode=%.0f\n", RECORD_BYTES,
	       64 << 20, MODE_SECONDS);
	printf("%-12s %6s %10s %8s %8s %12s %10s\n", "mode", "batch", "records", "syncs", "seconds",
	       "rate_per_s", "MiB_per_s");

	d = subdir(root, "per_record");
	per = run_batches(d, "per_record", 1);
	row(&per);
	tu_rmtree(d);
	free(d);

	d = subdir(root, "group64");
	g64 = run_batches(d, "group64", 64);
	row(&g64);
	tu_rmtree(d);
	free(d);

	d = subdir(root, "threaded");
	thr = run_threaded(d);
	row(&thr);
	tu_rmtree(d);
	free(d);

	d = subdir(root, "group512");
	g512 = run_batches(d, "group512", 512);
	row(&g512);
	rd = run_read(d);
	row(&rd);
	tu_rmtree(d);
	free(d);

	printf("bench spool: group64=%.0f/s group512=%.0f/s per_record=%.0f/s ratio=%.1f\n", rate(&g64),
	       rate(&g512), rate(&per), rate(&per) > 0 ? rate(&g512) / rate(&per) : 0);
	tu_rmtree(root);
	free(root);
	return 0;
}
