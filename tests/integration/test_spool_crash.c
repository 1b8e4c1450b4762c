/*
 * Crash test for the durable spool. A child appends records whose contents are a function of
 * their index, syncs in batches of random size and reports each durable count on a pipe; the
 * parent SIGKILLs it at a random moment, reopens the spool itself and checks that every
 * acknowledged record is there, intact and in order, and that recovery left a clean tail. Then
 * the next child continues from the spool's count. TIP_CRASH_SEED reproduces a run.
 *
 * A SIGKILL loses nothing from the page cache, so every other kill also simulates a power loss:
 * the last segment is cut at a random byte after the last acknowledged record, sometimes with
 * zeros appended (as a file system may leave after a crash), and the head file is set back to the
 * acknowledged count.
 */
#include "common/err.h"
#include "diode/crc32c.h"
#include "diode/spool.h"
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KILLS       60
#define SEG_BYTES   (64 * 1024)
#define MAX_LEN     4096
#define MAX_BATCH   64
#define MAX_DELAYUS 30000
#define CHILD_CAP   400000 /* records; keeps the directory bounded if kills come late */

#define CHECK(cond)                                                                                          \
	do {                                                                                                 \
		if (!(cond)) {                                                                               \
			fprintf(stderr, "test_spool_crash: %s:%d: check failed: %s (seed %" PRIu64 ")\n",    \
			        __FILE__, __LINE__, #cond, g_seed);                                          \
			exit(1);                                                                             \
		}                                                                                            \
	} while (0)

static uint64_t g_seed;

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15u;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
	return x ^ (x >> 31);
}

static size_t rec_len(uint64_t i)
{
	return 1 + (size_t)(mix(i) % MAX_LEN);
}

/* Pseudo-random bytes seeded by the index (xorshift64*, one word per 8 bytes). */
static void rec_fill(uint64_t i, uint8_t *buf, size_t len)
{
	uint64_t x = mix(i ^ 0x5eed) | 1;

	for (size_t j = 0; j < len; j += 8) {
		uint64_t w;

		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		w = x * 0x2545f4914f6cdd1du;
		for (size_t b = 0; b < 8 && j + b < len; b++)
			buf[j + b] = (uint8_t)(w >> (8 * b));
	}
}

static struct spool_opts opts(void)
{
	struct spool_opts o = spool_opts_default();

	o.segment_bytes = SEG_BYTES;
	o.max_record = MAX_LEN;
	return o;
}

static void child_run(const char *dir, int out, uint64_t seed)
{
	struct spool_opts o = opts();
	uint8_t buf[MAX_LEN];
	uint64_t rng = seed, n;
	int err;
	struct spool *s = spool_open(dir, &o, NULL, NULL, &err);

	if (!s)
		_exit(3);
	n = spool_count(s);
	for (;;) {
		uint64_t batch, d;

		rng = mix(rng);
		batch = 1 + rng % MAX_BATCH;
		if (n >= CHILD_CAP)
			pause();
		for (uint64_t b = 0; b < batch; b++) {
			uint64_t idx;
			size_t len = rec_len(n);

			rec_fill(n, buf, len);
			if (spool_append(s, buf, len, &idx) != TIP_OK || idx != n)
				_exit(4);
			n++;
		}
		if (spool_sync(s, &d) != TIP_OK || d != n)
			_exit(5);
		if (write(out, &d, sizeof(d)) != (ssize_t)sizeof(d))
			_exit(6);
	}
}

static uint64_t last_segment(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	uint64_t best = 0;
	int found = 0;

	CHECK(d != NULL);
	while ((e = readdir(d)) != NULL) {
		char *end;
		uint64_t v;

		if (strlen(e->d_name) != 24 || strcmp(e->d_name + 20, ".seg") != 0)
			continue;
		v = strtoull(e->d_name, &end, 10);
		if (end != e->d_name + 20)
			continue;
		if (!found || v > best)
			best = v;
		found = 1;
	}
	closedir(d);
	CHECK(found);
	return best;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Loses everything after the acknowledged records at a random byte, as a power cut might. */
static void simulate_power_loss(const char *dir, uint64_t acked, uint64_t *rng)
{
	char path[4200];
	uint8_t head[12];
	struct stat st;
	uint64_t first = last_segment(dir), keep = 0, cut;
	int fd;

	CHECK(snprintf(path, sizeof(path), "%s/%020" PRIu64 ".seg", dir, first) < (int)sizeof(path));
	CHECK(stat(path, &st) == 0);
	/* A segment whose first record is not acknowledged may not even have its header yet. */
	if (acked > first) {
		keep = 20;
		for (uint64_t i = first; i < acked; i++)
			keep += 8 + rec_len(i);
	}
	CHECK(keep <= (uint64_t)st.st_size);
	*rng = mix(*rng);
	cut = keep + *rng % ((uint64_t)st.st_size - keep + 1);
	CHECK(truncate(path, (off_t)cut) == 0);
	*rng = mix(*rng);
	if (*rng % 3 == 0) {
		static const uint8_t zeros[4096];
		size_t nz = 1 + (size_t)(*rng >> 8) % sizeof(zeros);

		fd = open(path, O_WRONLY | O_APPEND);
		CHECK(fd >= 0);
		CHECK(write(fd, zeros, nz) == (ssize_t)nz);
		close(fd);
	}
	put_le(head, acked, 8);
	put_le(head + 8, crc32c(head, 8), 4);
	CHECK(snprintf(path, sizeof(path), "%s/head", dir) < (int)sizeof(path));
	fd = open(path, O_WRONLY);
	CHECK(fd >= 0);
	CHECK(pwrite(fd, head, sizeof(head), 0) == (ssize_t)sizeof(head));
	close(fd);
}

/* Reopens as the writer, checks recovery, reads every record back. Returns the record count. */
static uint64_t verify(const char *dir, uint64_t acked, uint64_t *bytes_cut, int *cuts)
{
	struct spool_opts o = opts();
	struct spool_recovery rec;
	struct spool_fault f;
	uint8_t want[MAX_LEN];
	int err;
	struct spool *s = spool_open(dir, &o, &rec, &f, &err);

	if (!s)
		fprintf(stderr, "open: %s at %s+%" PRIu64 "\n", tip_strerror(err), f.file, f.offset);
	CHECK(s != NULL);
	CHECK(rec.count >= acked);
	CHECK(rec.head_before <= rec.count);
	*bytes_cut += rec.bytes_cut;
	if (rec.bytes_cut > 0 || rec.segment_reset)
		(*cuts)++;
	CHECK(spool_close(s) == TIP_OK);

	/* A second recovery must find nothing left to repair. */
	s = spool_open(dir, &o, &rec, &f, &err);
	CHECK(s != NULL);
	CHECK(rec.bytes_cut == 0 && !rec.segment_reset);

	struct spool_reader *r = spool_reader_open(dir, "verify", &o, &f, &err);
	CHECK(r != NULL);
	for (uint64_t i = 0; i < rec.count; i++) {
		const uint8_t *p;
		size_t len;
		uint64_t idx;
		int rc = spool_reader_next(r, &p, &len, &idx, &f);

		if (rc != 1)
			fprintf(stderr, "read %" PRIu64 ": %d at %s+%" PRIu64 "\n", i, rc, f.file, f.offset);
		CHECK(rc == 1);
		CHECK(idx == i);
		CHECK(len == rec_len(i));
		rec_fill(i, want, len);
		CHECK(memcmp(p, want, len) == 0);
	}
	{
		const uint8_t *p;
		size_t len;

		CHECK(spool_reader_next(r, &p, &len, NULL, &f) == 0);
	}
	spool_reader_close(r);
	CHECK(spool_close(s) == TIP_OK);
	return rec.count;
}

int main(void)
{
	const char *env = getenv("TIP_CRASH_SEED");
	char *root = tu_mkdtemp();
	char dir[4096];
	uint64_t rng, acked = 0, count = 0, bytes_cut = 0, acks = 0;
	int cuts = 0, exits = 0, losses = 0;
	struct timespec t0, t1;

	g_seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	rng = g_seed;
	CHECK(snprintf(dir, sizeof(dir), "%s/spool", root) < (int)sizeof(dir));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int k = 0; k < KILLS; k++) {
		int fds[2], status;
		pid_t pid;
		uint64_t d;
		ssize_t got;

		CHECK(pipe(fds) == 0);
		rng = mix(rng);
		pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			child_run(dir, fds[1], rng);
		}
		close(fds[1]);
		rng = mix(rng);
		usleep((useconds_t)(rng % (MAX_DELAYUS + 1)));
		CHECK(kill(pid, SIGKILL) == 0);
		CHECK(waitpid(pid, &status, 0) == pid);
		if (!WIFSIGNALED(status)) {
			fprintf(stderr, "child exited with %d\n", WEXITSTATUS(status));
			exits++;
		}
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		/* Every count the child reported was durable when it reported it. */
		while ((got = read(fds[0], &d, sizeof(d))) == (ssize_t)sizeof(d)) {
			CHECK(d >= acked);
			acked = d;
			acks++;
		}
		CHECK(got == 0);
		close(fds[0]);
		if (k % 2 == 1) {
			simulate_power_loss(dir, acked, &rng);
			losses++;
			count = acked;
		}
		uint64_t n = verify(dir, acked, &bytes_cut, &cuts);
		CHECK(n >= count);
		count = n;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("spool crash test: seed=%" PRIu64 " kills=%d records=%" PRIu64 " acked=%" PRIu64
	       " syncs_acked=%" PRIu64 " power_losses=%d tails_repaired=%d bytes_cut=%" PRIu64
	       " seconds=%.1f\n",
	       g_seed, KILLS, count, acked, acks, losses, cuts, bytes_cut,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	CHECK(exits == 0);
	CHECK(acked > 0);
	tu_rmtree(root);
	free(root);
	return 0;
}
