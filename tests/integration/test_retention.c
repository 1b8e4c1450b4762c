/*
 * Retention (docs/operations.md, "Retention") through the commands operators run: `diode-send prune`
 * and `diode-recv prune` remove a spool segment only when its consumer is done with it, the auditors'
 * marker (`diode-audit mark`) has passed it, and it is older than the configured minimum age; the
 * last segment, records not yet sent or consumed, and the transfer logs stay.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "daemon.h"
#include "testutil.h"

#include "common/err.h"
#include "diode/spool.h"
#include "proto/keyfile.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RECORDS 100

static char *dir;

/* RECORDS records of 1000 bytes, in segments of about four records. */
static void fill(const char *path)
{
	struct spool_opts o = spool_opts_default();
	struct spool *s;
	uint8_t rec[1000];
	int err;

	o.segment_bytes = 4096;
	assert_non_null(s = spool_open(path, &o, NULL, NULL, &err));
	for (int i = 0; i < RECORDS; i++) {
		memset(rec, i, sizeof(rec));
		assert_int_equal(spool_append(s, rec, sizeof(rec), NULL), TIP_OK);
	}
	assert_int_equal(spool_close(s), TIP_OK);
}

static void set_cursor(const char *path, const char *reader, uint64_t at)
{
	struct spool_fault fault;
	struct spool_reader *r;
	int err;

	assert_non_null(r = spool_reader_open(path, reader, NULL, &fault, &err));
	assert_int_equal(spool_reader_commit(r, at), TIP_OK);
	spool_reader_close(r);
}

static int count_segments(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += strlen(e->d_name) == 24 && strcmp(e->d_name + 20, ".seg") == 0;
	closedir(d);
	return n;
}

/* Every segment file of the spool written `hours` ago. */
static void age_segments(const char *path, int hours)
{
	struct timespec t[2];
	DIR *d = opendir(path);
	struct dirent *e;

	clock_gettime(CLOCK_REALTIME, &t[0]);
	t[0].tv_sec -= hours * 3600;
	t[1] = t[0];
	assert_non_null(d);
	while ((e = readdir(d)))
		if (strlen(e->d_name) == 24 && strcmp(e->d_name + 20, ".seg") == 0)
			assert_int_equal(utimensat(dirfd(d), e->d_name, t, 0), 0);
	closedir(d);
}

/* The records from `from` on are all there and intact. */
static void check_from(const char *path, uint64_t from)
{
	struct spool_fault fault;
	struct spool_reader *r;
	const uint8_t *rec;
	size_t len;
	uint64_t index;
	int err;

	assert_non_null(r = spool_reader_open(path, "check", NULL, &fault, &err));
	assert_int_equal(spool_reader_seek(r, from), TIP_OK);
	for (uint64_t i = from; i < RECORDS; i++) {
		assert_int_equal(spool_reader_next(r, &rec, &len, &index, &fault), 1);
		assert_int_equal(index, i);
		assert_int_equal(len, 1000);
		assert_int_equal(rec[0], (uint8_t)i);
	}
	spool_reader_close(r);
}

static int prune(const char *program, const char *conf)
{
	char log[600];
	const char *args[] = {"prune", "-c", conf, NULL};

	snprintf(log, sizeof(log), "%s/%s-prune.log", dir, program);
	return trun_log(program, args, log);
}

static int mark(const char *spool, const char *upto)
{
	const char *args[] = {"mark", "--spool", spool, "--upto", upto, NULL};

	return trun("diode-audit", args);
}

static void test_sender(void **state)
{
	char outbox[600], spools[700], conf[600];
	struct key origin;
	(void)state;

	dir = tu_mkdtemp();
	tu_diode_keys(dir, "intake-a", &origin);
	snprintf(outbox, sizeof(outbox), "%s/outbox", dir);
	snprintf(spools, sizeof(spools), "intake-a=%s", outbox);
	tu_diode_send_conf(conf, dir, 7700, spools, "keep_sent 1h\n");
	fill(outbox);
	int all = count_segments(outbox);
	assert_true(all >= 20);
	age_segments(outbox, 2);

	/* Not sent: nothing goes, however old and audited. */
	assert_int_equal(mark(outbox, "60"), 0);
	assert_int_equal(prune("diode-send", conf), 0);
	assert_int_equal(count_segments(outbox), all);

	/* Sent up to 60 but audited only up to 40: only what lies below 40 goes. */
	set_cursor(outbox, "diode-send", 60);
	assert_int_equal(mark(outbox, "40"), 0);
	assert_int_equal(prune("diode-send", conf), 0);
	int left = count_segments(outbox);
	assert_true(left < all && left > all - 11);
	check_from(outbox, 40);

	/* Sent and audited up to 90, but the segments are younger than keep_sent: they stay. */
	set_cursor(outbox, "diode-send", 90);
	assert_int_equal(mark(outbox, "90"), 0);
	age_segments(outbox, 0);
	assert_int_equal(prune("diode-send", conf), 0);
	assert_int_equal(count_segments(outbox), left);

	/* Old enough now: everything below 90 goes; the segment holding 90 and the last one stay. */
	age_segments(outbox, 2);
	assert_int_equal(prune("diode-send", conf), 0);
	assert_true(count_segments(outbox) <= 4);
	check_from(outbox, 90);

	/* Everything sent and audited: the last segment, the writer's, still stays. */
	set_cursor(outbox, "diode-send", RECORDS);
	assert_int_equal(mark(outbox, "100"), 0);
	assert_int_equal(prune("diode-send", conf), 0);
	assert_int_equal(count_segments(outbox), 1);

	/* A marker past the spool's end is refused. */
	assert_int_equal(mark(outbox, "101"), 2);

	/* The writer reopens a pruned spool (recovery needs no earlier segment) and goes on. */
	struct spool_recovery rec;
	struct spool *sp;
	uint64_t index;
	int err;
	assert_non_null(sp = spool_open(outbox, NULL, &rec, NULL, &err));
	assert_int_equal(rec.count, RECORDS);
	assert_int_equal(spool_append(sp, "x", 1, &index), TIP_OK);
	assert_int_equal(index, RECORDS);
	assert_int_equal(spool_close(sp), TIP_OK);
	key_wipe(&origin);
	tu_rmtree(dir);
	free(dir);
}

/* The receiver: an inbox goes once casemgrd (its cursor) and the auditors are past it; the quarantine by
 * age and the auditors' marker alone; with prune_audited no, the minimum age and the consumer suffice. */
static void test_receiver(void **state)
{
	char inbox[600], quarantine[600], conf[600], log_dir[600], marker[700];
	struct key origin;
	struct stat sb;
	(void)state;

	dir = tu_mkdtemp();
	tu_diode_keys(dir, "intake-a", &origin);
	snprintf(inbox, sizeof(inbox), "%s/inbox/intake-a", dir);
	snprintf(quarantine, sizeof(quarantine), "%s/quarantine", dir);
	snprintf(log_dir, sizeof(log_dir), "%s/recv-log", dir);
	assert_int_equal(mkdir(log_dir, 0700), 0);
	tu_diode_recv_conf(conf, dir, "127.0.0.1", 7700, "keep_delivered 1h\nkeep_quarantine 24h\n");
	snprintf(marker, sizeof(marker), "%s/inbox", dir);
	assert_int_equal(mkdir(marker, 0700), 0);
	fill(inbox);
	fill(quarantine);
	int all = count_segments(inbox);
	age_segments(inbox, 2);
	age_segments(quarantine, 2);

	/* Audited, but casemgrd has consumed nothing: the inbox stays; the quarantine is too young. */
	assert_int_equal(mark(inbox, "100"), 0);
	assert_int_equal(mark(quarantine, "100"), 0);
	assert_int_equal(prune("diode-recv", conf), 0);
	assert_int_equal(count_segments(inbox), all);
	assert_int_equal(count_segments(quarantine), all);

	set_cursor(inbox, "casemgrd", 50);
	age_segments(quarantine, 25);
	assert_int_equal(prune("diode-recv", conf), 0);
	assert_true(count_segments(inbox) < all);
	check_from(inbox, 50);
	assert_int_equal(count_segments(quarantine), 1);
	/* The transfer log is never pruned. */
	assert_int_equal(stat(log_dir, &sb), 0);

	/* Without the auditors' marker required, consumer and age decide. */
	FILE *f = fopen(conf, "a");
	assert_non_null(f);
	fputs("prune_audited no\n", f);
	fclose(f);
	set_cursor(inbox, "casemgrd", RECORDS);
	snprintf(marker, sizeof(marker), "%s/cursor.audited", inbox);
	assert_int_equal(unlink(marker), 0);
	assert_int_equal(prune("diode-recv", conf), 0);
	assert_int_equal(count_segments(inbox), 1);
	key_wipe(&origin);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_sender),
	        cmocka_unit_test(test_receiver),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
