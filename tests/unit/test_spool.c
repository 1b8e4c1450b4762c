#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/err.h"
#include "diode/crc32c.h"
#include "diode/spool.h"
#include "testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SEG_HDR   20
#define FRAME_HDR 8
#define SEG_BYTES 1024
#define MAX_LEN   200

/* ---- deterministic records and an independent model of the segment layout ---- */

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

static void rec_fill(uint64_t i, uint8_t *buf, size_t len)
{
	for (size_t j = 0; j < len; j++)
		buf[j] = (uint8_t)mix(i * 1000003u + j);
}

/* Where record k lands under the roll rule, for records 0..k of rec_len() sizes. */
static void layout(uint64_t k, size_t seg_bytes, uint64_t *seg_first, uint64_t *off)
{
	uint64_t first = 0, size = SEG_HDR, frames = 0;

	for (uint64_t i = 0;; i++) {
		uint64_t f = FRAME_HDR + rec_len(i);

		if (frames > 0 && size + f > seg_bytes) {
			first = i;
			size = SEG_HDR;
			frames = 0;
		}
		if (i == k) {
			*seg_first = first;
			*off = size;
			return;
		}
		size += f;
		frames++;
	}
}

static struct spool_opts small_opts(void)
{
	struct spool_opts o = spool_opts_default();

	o.segment_bytes = SEG_BYTES;
	o.max_record = 4096;
	return o;
}

static char *path_in(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);

	assert_non_null(p);
	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

static char *seg_path(const char *dir, uint64_t first)
{
	char name[32];

	snprintf(name, sizeof(name), "%020" PRIu64 ".seg", first);
	return path_in(dir, name);
}

static void seg_file_name(char out[32], uint64_t first)
{
	snprintf(out, 32, "%020" PRIu64 ".seg", first);
}

static int count_segments(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);

		if (len == 24 && strcmp(e->d_name + 20, ".seg") == 0)
			n++;
	}
	closedir(d);
	return n;
}

static off_t file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

static void append_bytes(const char *path, const void *b, size_t n)
{
	int fd = open(path, O_WRONLY | O_APPEND);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, b, n), (ssize_t)n);
	close(fd);
}

static void write_file(const char *path, const void *b, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, b, n), (ssize_t)n);
	close(fd);
}

static void flip_byte(const char *path, uint64_t off)
{
	int fd = open(path, O_RDWR);
	uint8_t b;

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, (off_t)off), 1);
	b ^= 0x40;
	assert_int_equal(pwrite(fd, &b, 1, (off_t)off), 1);
	close(fd);
}

static void put_u32le(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void write_count_file(const char *path, uint64_t v)
{
	uint8_t b[12];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	put_u32le(b + 8, crc32c(b, 8));
	write_file(path, b, sizeof(b));
}

/* Writes records [from, to) with rec_len() contents and syncs. */
static void fill(struct spool *s, uint64_t from, uint64_t to)
{
	uint8_t buf[MAX_LEN];
	uint64_t idx, d;

	for (uint64_t i = from; i < to; i++) {
		rec_fill(i, buf, rec_len(i));
		assert_int_equal(spool_append(s, buf, rec_len(i), &idx), TIP_OK);
		assert_int_equal(idx, i);
	}
	assert_int_equal(spool_sync(s, &d), TIP_OK);
	assert_int_equal(d, to);
}

static struct spool *open_ok(const char *dir, struct spool_recovery *rec)
{
	struct spool_opts o = small_opts();
	struct spool_fault f;
	int err = 1;
	struct spool *s = spool_open(dir, &o, rec, &f, &err);

	assert_int_equal(err, TIP_OK);
	assert_non_null(s);
	return s;
}

static struct spool *make_spool(const char *dir, uint64_t n)
{
	struct spool *s = open_ok(dir, NULL);

	fill(s, 0, n);
	return s;
}

/* Reads records [from, to) in order through r and checks each. */
static void expect_records(struct spool_reader *r, uint64_t from, uint64_t to)
{
	uint8_t want[MAX_LEN];
	struct spool_fault f;

	for (uint64_t i = from; i < to; i++) {
		const uint8_t *rec;
		size_t len;
		uint64_t idx;

		assert_int_equal(spool_reader_next(r, &rec, &len, &idx, &f), 1);
		assert_int_equal(idx, i);
		assert_int_equal(len, rec_len(i));
		rec_fill(i, want, len);
		assert_memory_equal(rec, want, len);
	}
}

static void expect_empty(struct spool_reader *r)
{
	const uint8_t *rec;
	size_t len;

	assert_int_equal(spool_reader_next(r, &rec, &len, NULL, NULL), 0);
}

static struct spool_reader *reader_ok(const char *dir, const char *name)
{
	struct spool_opts o = small_opts();
	struct spool_fault f;
	int err = 1;
	struct spool_reader *r = spool_reader_open(dir, name, &o, &f, &err);

	assert_int_equal(err, TIP_OK);
	assert_non_null(r);
	return r;
}

static void verify_all(const char *dir, uint64_t n)
{
	struct spool_reader *r = reader_ok(dir, "verify");

	expect_records(r, 0, n);
	expect_empty(r);
	spool_reader_close(r);
}

/* ---- tests ---- */

static void test_crc32c(void **state)
{
	(void)state;
	const char *s = "123456789";

	assert_int_equal(crc32c(s, 9), 0xe3069283u);
	assert_int_equal(crc32c_extend(crc32c(s, 4), s + 4, 5), 0xe3069283u);
	assert_int_equal(crc32c_extend(0, s, 9), 0xe3069283u);
	assert_int_equal(crc32c(NULL, 0), 0);
	/* RFC 3720 B.4: 32 bytes of zeros. */
	uint8_t z[32] = {0};
	assert_int_equal(crc32c(z, sizeof(z)), 0x8a9136aau);
}

/* The exact bytes documented in docs/formats/spool.md. */
static void test_format_bytes(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	struct spool *s = open_ok(dir, NULL);
	size_t n, want_n;

	assert_int_equal(spool_append(s, "hi", 2, NULL), TIP_OK);
	assert_int_equal(spool_sync(s, NULL), TIP_OK);
	char *seg = seg_path(dir, 0), *head = path_in(dir, "head");
	char *got = tu_read_file(seg, &n);
	uint8_t *want = tu_hex("5453504c010000000000000000000000df2c57f3"
	                       "0200000059725a886869",
	                       &want_n);
	assert_non_null(got);
	assert_int_equal(n, want_n);
	assert_memory_equal(got, want, n);
	free(got);
	free(want);
	got = tu_read_file(head, &n);
	want = tu_hex("0100000000000000adcf14c5", &want_n);
	assert_non_null(got);
	assert_int_equal(n, want_n);
	assert_memory_equal(got, want, n);
	free(got);
	free(want);
	assert_int_equal(spool_close(s), TIP_OK);
	free(seg);
	free(head);
	tu_rmtree(dir);
	free(dir);
}

static void test_roundtrip_rolls(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	struct spool_recovery rec;
	struct spool *s = open_ok(dir, &rec);
	uint8_t big[3000];
	uint64_t idx;

	assert_int_equal(rec.created, 1);
	assert_int_equal(rec.count, 0);
	fill(s, 0, 300);
	assert_true(count_segments(dir) > 10);
	/* A record bigger than a segment gets one of its own; an empty one is a record too. */
	memset(big, 0xa5, sizeof(big));
	assert_int_equal(spool_append(s, big, sizeof(big), &idx), TIP_OK);
	assert_int_equal(idx, 300);
	assert_int_equal(spool_append(s, NULL, 0, &idx), TIP_OK);
	assert_int_equal(idx, 301);
	assert_int_equal(spool_count(s), 302);
	assert_int_equal(spool_close(s), TIP_OK);

	char *p300 = seg_path(dir, 300), *p301 = seg_path(dir, 301);
	assert_int_equal(file_size(p300), SEG_HDR + FRAME_HDR + 3000);
	assert_int_equal(file_size(p301), SEG_HDR + FRAME_HDR);

	struct spool_reader *r = reader_ok(dir, "rt");
	const uint8_t *p;
	size_t len;
	expect_records(r, 0, 300);
	assert_int_equal(spool_reader_next(r, &p, &len, &idx, NULL), 1);
	assert_int_equal(len, 3000);
	assert_memory_equal(p, big, 3000);
	assert_int_equal(spool_reader_next(r, &p, &len, &idx, NULL), 1);
	assert_int_equal(len, 0);
	assert_int_equal(idx, 301);
	expect_empty(r);
	spool_reader_close(r);

	/* Reopening finds everything and appends after it. */
	s = open_ok(dir, &rec);
	assert_int_equal(rec.count, 302);
	assert_int_equal(rec.head_before, 302);
	assert_int_equal(rec.bytes_cut, 0);
	assert_int_equal(rec.created, 0);
	assert_int_equal(spool_append(s, "x", 1, &idx), TIP_OK);
	assert_int_equal(idx, 302);
	assert_int_equal(spool_close(s), TIP_OK);
	free(p300);
	free(p301);
	tu_rmtree(dir);
	free(dir);
}

static void test_create_subdir_and_bad_opts(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	char *sub = path_in(dir, "outbox");
	struct spool_recovery rec;
	struct spool_opts o = small_opts();
	int err;

	struct spool *s = open_ok(sub, &rec);
	assert_int_equal(rec.created, 1);
	assert_int_equal(spool_close(s), TIP_OK);

	o.segment_bytes = 10;
	assert_null(spool_open(sub, &o, NULL, NULL, &err));
	assert_int_equal(err, TIP_EINVAL);
	o = small_opts();
	o.max_record = 0;
	assert_null(spool_open(sub, &o, NULL, NULL, &err));
	assert_int_equal(err, TIP_EINVAL);
	o.max_record = (size_t)2 << 30;
	assert_null(spool_open(sub, &o, NULL, NULL, &err));
	assert_int_equal(err, TIP_EINVAL);
	free(sub);
	tu_rmtree(dir);
	free(dir);
}

static void test_oversize(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	struct spool_opts o = small_opts();
	uint8_t buf[4097] = {0};
	uint64_t idx;
	int err;

	struct spool *s = spool_open(dir, &o, NULL, NULL, &err);
	assert_non_null(s);
	assert_int_equal(spool_append(s, buf, 4097, &idx), TIP_EOVERSIZE);
	assert_int_equal(spool_count(s), 0);
	assert_int_equal(spool_append(s, buf, 4096, &idx), TIP_OK);
	assert_int_equal(spool_append(s, "ok", 2, &idx), TIP_OK);
	assert_int_equal(spool_close(s), TIP_OK);

	/* A reader with a smaller cap reports the whole record as oversize and may skip it on purpose. */
	struct spool_opts ro = small_opts();
	ro.max_record = 100;
	struct spool_fault f;
	struct spool_reader *r = spool_reader_open(dir, "small", &ro, &f, &err);
	const uint8_t *p;
	size_t len;
	char name[32];
	assert_non_null(r);
	assert_int_equal(spool_reader_next(r, &p, &len, &idx, &f), TIP_EOVERSIZE);
	seg_file_name(name, 0);
	assert_string_equal(f.file, name);
	assert_int_equal(f.offset, SEG_HDR);
	assert_int_equal(f.index, 0);
	assert_int_equal(spool_reader_position(r), 0);
	assert_int_equal(spool_reader_seek(r, 1), TIP_OK);
	assert_int_equal(spool_reader_next(r, &p, &len, &idx, &f), 1);
	assert_int_equal(idx, 1);
	assert_memory_equal(p, "ok", 2);
	spool_reader_close(r);
	tu_rmtree(dir);
	free(dir);
}

/* A whole record over a writer's new, lower cap is kept at recovery: only a bad CRC makes a torn tail. */
static void test_recovery_keeps_record_over_new_cap(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	struct spool_opts o = small_opts();
	struct spool_recovery rec;
	uint8_t buf[4096];
	int err;

	memset(buf, 7, sizeof(buf));
	struct spool *s = spool_open(dir, &o, NULL, NULL, &err);
	assert_non_null(s);
	assert_int_equal(spool_append(s, "a", 1, NULL), TIP_OK);
	assert_int_equal(spool_append(s, buf, sizeof(buf), NULL),
	                 TIP_OK); /* rolls: alone in the last segment */
	assert_int_equal(spool_close(s), TIP_OK);
	o.max_record = 100;
	s = spool_open(dir, &o, &rec, NULL, &err);
	assert_non_null(s);
	assert_int_equal(rec.count, 2);
	assert_int_equal(rec.bytes_cut, 0);
	assert_int_equal(spool_append(s, buf, 101, NULL), TIP_EOVERSIZE);
	assert_int_equal(spool_append(s, buf, 100, NULL), TIP_OK);
	assert_int_equal(spool_close(s), TIP_OK);
	tu_rmtree(dir);
	free(dir);
}

static void test_second_writer_busy(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	struct spool *s = open_ok(dir, NULL);
	int err;

	assert_null(spool_open(dir, NULL, NULL, NULL, &err));
	assert_int_equal(err, TIP_EBUSY);
	assert_int_equal(spool_close(s), TIP_OK);
	s = open_ok(dir, NULL);
	assert_int_equal(spool_close(s), TIP_OK);
	tu_rmtree(dir);
	free(dir);
}

static void test_reader_cursor(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	struct spool *s = make_spool(dir, 50);
	struct spool_reader *r = reader_ok(dir, "sender");
	int err;

	assert_int_equal(spool_reader_position(r), 0);
	expect_records(r, 0, 20);
	assert_int_equal(spool_reader_commit(r, 20), TIP_OK);
	assert_int_equal(spool_reader_commit(r, 51), TIP_ERANGE);
	/* One process per reader name. */
	assert_null(spool_reader_open(dir, "sender", NULL, NULL, &err));
	assert_int_equal(err, TIP_EBUSY);
	expect_records(r, 20, 30); /* read further than committed */
	spool_reader_close(r);

	r = reader_ok(dir, "sender");
	assert_int_equal(spool_reader_position(r), 20);
	expect_records(r, 20, 50);
	expect_empty(r);
	assert_int_equal(spool_reader_commit(r, 50), TIP_OK);
	spool_reader_close(r);

	/* Another name has its own cursor. */
	r = reader_ok(dir, "audit");
	assert_int_equal(spool_reader_position(r), 0);
	spool_reader_close(r);
	r = reader_ok(dir, "sender");
	assert_int_equal(spool_reader_position(r), 50);
	spool_reader_close(r);
	assert_int_equal(spool_close(s), TIP_OK);
	tu_rmtree(dir);
	free(dir);
}

static void test_reader_stops_at_head(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	struct spool_reader *r;
	uint64_t head;
	uint8_t buf[MAX_LEN];

	/* A reader may start before any writer. */
	r = reader_ok(dir, "early");
	expect_empty(r);
	assert_int_equal(spool_reader_head(r, &head, NULL), TIP_OK);
	assert_int_equal(head, 0);

	struct spool *s = open_ok(dir, NULL);
	for (uint64_t i = 0; i < 5; i++) {
		rec_fill(i, buf, rec_len(i));
		assert_int_equal(spool_append(s, buf, rec_len(i), NULL), TIP_OK);
	}
	/* Appended but not synced: invisible. */
	expect_empty(r);
	assert_int_equal(spool_durable(s), 0);
	assert_int_equal(spool_sync(s, NULL), TIP_OK);
	assert_int_equal(spool_durable(s), 5);
	expect_records(r, 0, 5);
	for (uint64_t i = 5; i < 200; i++) {
		rec_fill(i, buf, rec_len(i));
		assert_int_equal(spool_append(s, buf, rec_len(i), NULL), TIP_OK);
	}
	expect_empty(r);
	assert_int_equal(spool_sync(s, NULL), TIP_OK);
	expect_records(r, 5, 200);
	expect_empty(r);
	assert_int_equal(spool_reader_head(r, &head, NULL), TIP_OK);
	assert_int_equal(head, 200);
	assert_int_equal(spool_close(s), TIP_OK);
	spool_reader_close(r);
	tu_rmtree(dir);
	free(dir);
}

static void test_seek(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	struct spool *s = make_spool(dir, 400);
	struct spool_reader *r = reader_ok(dir, "resend");

	expect_records(r, 0, 10);
	assert_int_equal(spool_reader_seek(r, 350), TIP_OK); /* forward, many segments */
	expect_records(r, 350, 360);
	assert_int_equal(spool_reader_seek(r, 3), TIP_OK); /* backward */
	expect_records(r, 3, 40);
	assert_int_equal(spool_reader_seek(r, 42), TIP_OK); /* forward within a segment */
	expect_records(r, 42, 45);
	assert_int_equal(spool_reader_seek(r, 400), TIP_OK);
	expect_empty(r);
	assert_int_equal(spool_reader_seek(r, 401), TIP_ERANGE);
	assert_int_equal(spool_reader_position(r), 400);
	assert_int_equal(spool_reader_seek(r, 399), TIP_OK);
	expect_records(r, 399, 400);
	expect_empty(r);
	assert_int_equal(spool_reader_seek(r, 0), TIP_OK);
	expect_records(r, 0, 400);
	spool_reader_close(r);
	assert_int_equal(spool_close(s), TIP_OK);
	tu_rmtree(dir);
	free(dir);
}

/* Appends junk after the last whole frame (beyond the head), reopens and checks the cut. */
static void torn_case(const uint8_t *junk, size_t n)
{
	char *dir = tu_mkdtemp();
	struct spool *s = make_spool(dir, 100);
	struct spool_recovery rec;
	uint64_t first, off;

	assert_int_equal(spool_close(s), TIP_OK);
	layout(100, SEG_BYTES, &first, &off);
	uint64_t last_first, last_off;
	layout(99, SEG_BYTES, &last_first, &last_off);
	char *p = seg_path(dir, last_first);
	off_t before = file_size(p);
	append_bytes(p, junk, n);

	/* Readers never look past the head, so junk there is invisible to them. */
	verify_all(dir, 100);

	s = open_ok(dir, &rec);
	assert_int_equal(rec.count, 100);
	assert_int_equal(rec.head_before, 100);
	assert_int_equal(rec.bytes_cut, n);
	assert_int_equal(file_size(p), before);
	fill(s, 100, 130);
	assert_int_equal(spool_close(s), TIP_OK);
	verify_all(dir, 130);
	s = open_ok(dir, &rec);
	assert_int_equal(rec.bytes_cut, 0);
	assert_int_equal(rec.count, 130);
	assert_int_equal(spool_close(s), TIP_OK);
	free(p);
	tu_rmtree(dir);
	free(dir);
}

static void test_torn_tails(void **state)
{
	(void)state;
	uint8_t frame[8 + 60];

	/* Half a length field. */
	torn_case((const uint8_t *)"\x3c\x00", 2);
	/* A length and CRC but only half the payload. */
	memset(frame, 0x11, sizeof(frame));
	put_u32le(frame, 60);
	put_u32le(frame + 4, crc32c(frame, 4));
	torn_case(frame, 8 + 30);
	/* A whole frame whose CRC does not match. */
	torn_case(frame, sizeof(frame));
	/* Zeros, as a file system can leave after a crash. */
	uint8_t zeros[300] = {0};
	torn_case(zeros, sizeof(zeros));
	/* A length beyond max_record (and the end of the file). */
	torn_case((const uint8_t *)"\xff\xff\xff\x7f\x01\x02\x03\x04", 8);
	/* Only a header. */
	torn_case(frame, 8);
}

/* Whole frames past a head file that lagged (a crash between the flush and the head update) are kept. */
static void test_lagging_head_keeps_whole_frames(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	struct spool *s = make_spool(dir, 100);
	struct spool_recovery rec;
	char *head = path_in(dir, "head");
	uint64_t first, off;

	assert_int_equal(spool_close(s), TIP_OK);
	layout(99, SEG_BYTES, &first, &off);
	write_count_file(head, first + 1);
	s = open_ok(dir, &rec);
	assert_int_equal(rec.head_before, first + 1);
	assert_int_equal(rec.count, 100);
	assert_int_equal(rec.bytes_cut, 0);
	assert_int_equal(spool_close(s), TIP_OK);
	verify_all(dir, 100);

	/* A damaged frame past a lagging head is indistinguishable from a torn one and is cut. */
	write_count_file(head, first);
	char *p = seg_path(dir, first);
	flip_byte(p, off + FRAME_HDR);
	s = open_ok(dir, &rec);
	assert_int_equal(rec.count, 99);
	assert_int_equal(rec.bytes_cut, FRAME_HDR + rec_len(99));
	assert_int_equal(spool_close(s), TIP_OK);
	verify_all(dir, 99);
	free(p);
	free(head);
	tu_rmtree(dir);
	free(dir);
}

static void test_flipped_byte_at_open(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	struct spool *s = make_spool(dir, 100);
	struct spool_fault f;
	uint64_t first, off, k;
	char name[32];
	int err;

	assert_int_equal(spool_close(s), TIP_OK);
	/* A record in the middle of the last segment. */
	layout(99, SEG_BYTES, &first, &off);
	k = first + 1;
	assert_true(k < 99);
	layout(k, SEG_BYTES, &first, &off);
	char *p = seg_path(dir, first);
	flip_byte(p, off + FRAME_HDR + rec_len(k) / 2);

	struct spool_opts o = small_opts();
	memset(&f, 0, sizeof(f));
	assert_null(spool_open(dir, &o, NULL, &f, &err));
	assert_int_equal(err, TIP_ECORRUPT);
	seg_file_name(name, first);
	assert_string_equal(f.file, name);
	assert_int_equal(f.offset, off);
	assert_int_equal(f.index, k);
	/* Nothing was cut: the file still ends after record 99. */
	uint64_t f99, o99;
	layout(99, SEG_BYTES, &f99, &o99);
	assert_int_equal(file_size(p), o99 + FRAME_HDR + rec_len(99));

	/* A damaged length field is found at the same place. */
	flip_byte(p, off + FRAME_HDR + rec_len(k) / 2);
	flip_byte(p, off + 1);
	assert_null(spool_open(dir, &o, NULL, &f, &err));
	assert_int_equal(err, TIP_ECORRUPT);
	assert_string_equal(f.file, name);
	assert_int_equal(f.offset, off);
	assert_int_equal(f.index, k);
	free(p);
	tu_rmtree(dir);
	free(dir);
}

static void test_flipped_byte_at_reader(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	struct spool *s = make_spool(dir, 100);
	struct spool_fault f;
	uint64_t first, off, k = 20;
	const uint8_t *p;
	size_t len;
	char name[32];

	layout(k, SEG_BYTES, &first, &off);
	uint64_t lf, lo;
	layout(99, SEG_BYTES, &lf, &lo);
	assert_true(first < lf); /* an earlier, sealed segment */
	char *path = seg_path(dir, first);
	flip_byte(path, off + FRAME_HDR);

	struct spool_reader *r = reader_ok(dir, "in");
	expect_records(r, 0, k);
	memset(&f, 0, sizeof(f));
	assert_int_equal(spool_reader_next(r, &p, &len, NULL, &f), TIP_ECORRUPT);
	seg_file_name(name, first);
	assert_string_equal(f.file, name);
	assert_int_equal(f.offset, off);
	assert_int_equal(f.index, k);
	/* The position does not move past the damage by itself. */
	assert_int_equal(spool_reader_position(r), k);
	assert_int_equal(spool_reader_next(r, &p, &len, NULL, &f), TIP_ECORRUPT);
	/* Reached by seeking rather than reading sequentially, it is found at the same place. */
	assert_int_equal(spool_reader_seek(r, 0), TIP_OK);
	assert_int_equal(spool_reader_seek(r, k), TIP_OK);
	memset(&f, 0, sizeof(f));
	assert_int_equal(spool_reader_next(r, &p, &len, NULL, &f), TIP_ECORRUPT);
	assert_int_equal(f.offset, off);
	assert_int_equal(spool_reader_seek(r, k + 1), TIP_OK);
	expect_records(r, k + 1, 60);

	/* With a damaged length the next frame cannot be found: seeking past says where the damage is. */
	uint64_t j = 40, jf, jo;
	layout(j, SEG_BYTES, &jf, &jo);
	char *jpath = seg_path(dir, jf);
	flip_byte(jpath, jo);
	assert_int_equal(spool_reader_seek(r, j + 1), TIP_OK);
	memset(&f, 0, sizeof(f));
	assert_int_equal(spool_reader_next(r, &p, &len, NULL, &f), TIP_ECORRUPT);
	seg_file_name(name, jf);
	assert_string_equal(f.file, name);
	assert_int_equal(f.offset, jo);
	assert_int_equal(f.index, j);
	flip_byte(jpath, jo);
	expect_records(r, j + 1, 100);
	free(jpath);
	spool_reader_close(r);
	/* The writer still appends: it only scans the last segment. */
	fill(s, 100, 110);
	assert_int_equal(spool_close(s), TIP_OK);
	free(path);
	tu_rmtree(dir);
	free(dir);
}

static void test_bad_segment_header(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	struct spool *s = make_spool(dir, 100);
	struct spool_fault f;
	struct spool_opts o = small_opts();
	char name[32];
	int err;

	assert_int_equal(spool_close(s), TIP_OK);
	uint64_t first, off;
	layout(30, SEG_BYTES, &first, &off);
	assert_true(first > 0);
	char *p = seg_path(dir, first);
	seg_file_name(name, first);

	flip_byte(p, 9); /* first-index field */
	memset(&f, 0, sizeof(f));
	assert_null(spool_open(dir, &o, NULL, &f, &err));
	assert_int_equal(err, TIP_ECORRUPT);
	assert_string_equal(f.file, name);
	assert_int_equal(f.offset, 0);
	assert_int_equal(f.index, first);

	/* A reader crossing into it says the same. */
	struct spool_reader *r = reader_ok(dir, "x");
	const uint8_t *rec;
	size_t len;
	expect_records(r, 0, first);
	memset(&f, 0, sizeof(f));
	assert_int_equal(spool_reader_next(r, &rec, &len, NULL, &f), TIP_ECORRUPT);
	assert_string_equal(f.file, name);
	assert_int_equal(f.offset, 0);
	spool_reader_close(r);
	flip_byte(p, 9);

	/* A version this build does not know, with a valid CRC. */
	uint8_t h[20];
	int fd = open(p, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, h, 20, 0), 20);
	h[4] = 2;
	put_u32le(h + 16, crc32c(h, 16));
	assert_int_equal(pwrite(fd, h, 20, 0), 20);
	close(fd);
	assert_null(spool_open(dir, &o, NULL, &f, &err));
	assert_int_equal(err, TIP_EVERSION);
	assert_string_equal(f.file, name);
	free(p);
	tu_rmtree(dir);
	free(dir);
}

static void test_last_segment_header(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	struct spool *s = make_spool(dir, 100);
	struct spool_recovery rec;
	struct spool_fault f;
	struct spool_opts o = small_opts();
	int err;

	assert_int_equal(spool_close(s), TIP_OK);
	/* A roll that died before writing the new segment's header: empty, then half a header. */
	char *p = seg_path(dir, 100);
	write_file(p, "", 0);
	s = open_ok(dir, &rec);
	assert_int_equal(rec.segment_reset, 1);
	assert_int_equal(rec.count, 100);
	assert_int_equal(file_size(p), SEG_HDR);
	fill(s, 100, 110);
	assert_int_equal(spool_close(s), TIP_OK);
	verify_all(dir, 110);

	char *p2 = seg_path(dir, 110);
	write_file(p2, "TSPL\x01", 5);
	s = open_ok(dir, &rec);
	assert_int_equal(rec.segment_reset, 1);
	assert_int_equal(rec.bytes_cut, 5);
	assert_int_equal(rec.count, 110);
	assert_int_equal(spool_close(s), TIP_OK);
	verify_all(dir, 110);

	/* The same damage to a last segment holding durable records is corruption. */
	s = open_ok(dir, &rec);
	fill(s, 110, 112);
	assert_int_equal(spool_close(s), TIP_OK);
	flip_byte(p2, 2);
	assert_null(spool_open(dir, &o, NULL, &f, &err));
	assert_int_equal(err, TIP_ECORRUPT);
	char name[32];
	seg_file_name(name, 110);
	assert_string_equal(f.file, name);
	assert_int_equal(f.offset, 0);

	/* A last segment named beyond any count (found by fuzz_spool) is damage, not a roll to reset:
	 * the count would jump there and appends wrap it. */
	flip_byte(p2, 2);
	char *p3 = seg_path(dir, UINT64_MAX);
	write_file(p3, "", 0);
	assert_null(spool_open(dir, &o, NULL, &f, &err));
	assert_int_equal(err, TIP_ECORRUPT);
	seg_file_name(name, UINT64_MAX);
	assert_string_equal(f.file, name);
	free(p);
	free(p2);
	free(p3);
	tu_rmtree(dir);
	free(dir);
}

/* The states a crash while creating a spool can leave behind all open as a fresh spool. */
static void test_interrupted_creation(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	char *head = path_in(dir, "head"), *seg0 = seg_path(dir, 0);
	struct spool_recovery rec;
	struct spool *s;

	write_file(head, "", 0); /* head created, nothing written, no segment yet */
	s = open_ok(dir, &rec);
	assert_int_equal(rec.created, 1);
	assert_int_equal(rec.count, 0);
	assert_int_equal(spool_close(s), TIP_OK);

	write_file(seg0, "", 0); /* head written, segment created, its header not yet */
	s = open_ok(dir, &rec);
	assert_int_equal(rec.segment_reset, 1);
	assert_int_equal(rec.count, 0);
	fill(s, 0, 3);
	assert_int_equal(spool_close(s), TIP_OK);
	verify_all(dir, 3);
	free(head);
	free(seg0);
	tu_rmtree(dir);
	free(dir);
}

static void test_head_file_damage(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	struct spool *s = make_spool(dir, 100);
	struct spool_fault f;
	struct spool_opts o = small_opts();
	char *head = path_in(dir, "head");
	int err;

	assert_int_equal(spool_close(s), TIP_OK);
	/* Garbage in the head file. */
	write_file(head, "garbagegarbage", 12);
	assert_null(spool_open(dir, &o, NULL, &f, &err));
	assert_int_equal(err, TIP_ECORRUPT);
	assert_string_equal(f.file, "head");
	struct spool_reader *r = spool_reader_open(dir, "r", &o, &f, &err);
	assert_null(r);
	assert_int_equal(err, TIP_ECORRUPT);
	assert_string_equal(f.file, "head");

	/* A head that promises records that are not there. */
	uint64_t first, off;
	layout(99, SEG_BYTES, &first, &off);
	write_count_file(head, 105);
	assert_null(spool_open(dir, &o, NULL, &f, &err));
	assert_int_equal(err, TIP_ECORRUPT);
	char name[32];
	seg_file_name(name, first);
	assert_string_equal(f.file, name);
	assert_int_equal(f.offset, off + FRAME_HDR + rec_len(99));
	assert_int_equal(f.index, 100);

	/* A missing head file with segments present. */
	unlink(head);
	assert_null(spool_open(dir, &o, NULL, &f, &err));
	assert_int_equal(err, TIP_ECORRUPT);
	assert_string_equal(f.file, "head");
	write_count_file(head, 100);
	s = open_ok(dir, NULL);
	assert_int_equal(spool_count(s), 100);
	assert_int_equal(spool_close(s), TIP_OK);
	free(head);
	tu_rmtree(dir);
	free(dir);
}

/*
 * A spool of 100 records whose segment holding record 50 is damaged by damage(path): a reader gets every
 * record before that segment, then TIP_ECORRUPT naming the segment and its first index. The fault's offset,
 * for the test.
 */
static uint64_t damaged_segment(const char *reader, int (*damage)(const char *path))
{
	char *dir = tu_mkdtemp();
	struct spool *s = make_spool(dir, 100);
	uint64_t first, off;
	struct spool_fault f;
	const uint8_t *rec;
	size_t len;
	char name[32];

	assert_int_equal(spool_close(s), TIP_OK);
	layout(50, SEG_BYTES, &first, &off);
	char *p = seg_path(dir, first);
	assert_int_equal(damage(p), 0);
	struct spool_reader *r = reader_ok(dir, reader);
	expect_records(r, 0, first);
	assert_int_equal(spool_reader_next(r, &rec, &len, NULL, &f), TIP_ECORRUPT);
	seg_file_name(name, first);
	assert_string_equal(f.file, name);
	assert_int_equal(f.index, first);
	spool_reader_close(r);
	free(p);
	tu_rmtree(dir);
	free(dir);
	return f.offset;
}

static int remove_file(const char *path)
{
	return unlink(path);
}

static int cut_to_header(const char *path)
{
	return truncate(path, SEG_HDR);
}

static void test_missing_segment(void **state)
{
	(void)state;
	damaged_segment("gap", remove_file);
}

/* A segment cut back to its header while the head still counts its records (found by fuzz_spool):
 * the reader used to reopen that empty segment forever; now it reports it. */
static void test_emptied_segment(void **state)
{
	(void)state;
	assert_int_equal(damaged_segment("emptied", cut_to_header), SEG_HDR);
}

static void test_bad_reader_name(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	static const char *bad[] = {
	        "", "a/b", "..", "a.b", "sp ace", "x\n", "abcdefghijabcdefghijabcdefghijabc"};
	int err;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = 0;
		assert_null(spool_reader_open(dir, bad[i], NULL, NULL, &err));
		assert_int_equal(err, TIP_EINVAL);
	}
	struct spool_reader *r = reader_ok(dir, "abcdefghijabcdefghijabcdefghij-_");
	spool_reader_close(r);
	char *missing = path_in(dir, "nope");
	assert_null(spool_reader_open(missing, "r", NULL, NULL, &err));
	assert_int_equal(err, TIP_ENOTFOUND);
	free(missing);
	tu_rmtree(dir);
	free(dir);
}

static void test_garbage_cursor(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	struct spool *s = make_spool(dir, 10);
	char *cur = path_in(dir, "cursor.sender");
	struct spool_fault f;
	int err;

	static const struct {
		const char *bytes;
		size_t n;
	} cases[] = {
	        {"", 0},
	        {"\x05\x00\x00\x00", 4},
	        {"\x05\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 12},
	        {"\x05\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 13},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_file(cur, cases[i].bytes, cases[i].n);
		memset(&f, 0, sizeof(f));
		assert_null(spool_reader_open(dir, "sender", NULL, &f, &err));
		assert_int_equal(err, TIP_ECORRUPT);
		assert_string_equal(f.file, "cursor.sender");
	}
	write_count_file(cur, 7);
	struct spool_reader *r = reader_ok(dir, "sender");
	assert_int_equal(spool_reader_position(r), 7);
	expect_records(r, 7, 10);
	spool_reader_close(r);
	assert_int_equal(spool_close(s), TIP_OK);
	free(cur);
	tu_rmtree(dir);
	free(dir);
}

struct committer {
	struct spool *s;
	atomic_int stop;
	uint64_t syncs;
	int bad;
};

static void *committer_run(void *arg)
{
	struct committer *c = arg;
	uint64_t last = 0;

	while (!atomic_load(&c->stop)) {
		uint64_t d;

		if (spool_sync(c->s, &d) != TIP_OK || d < last || d > spool_count(c->s))
			c->bad = 1;
		last = d;
		c->syncs++;
	}
	return NULL;
}

/* Appends on one thread while another commits, across many segment rolls. */
static void test_committer_thread(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	struct spool_opts o = small_opts();
	int err;

	o.segment_bytes = 16384; /* a roll costs two flushes; keep them few */
	struct spool *s = spool_open(dir, &o, NULL, NULL, &err);
	assert_non_null(s);
	struct committer c = {.s = s};
	pthread_t t;
	uint8_t buf[MAX_LEN];
	const uint64_t n = 5000;

	assert_int_equal(pthread_create(&t, NULL, committer_run, &c), 0);
	for (uint64_t i = 0; i < n; i++) {
		uint64_t idx;

		rec_fill(i, buf, rec_len(i));
		assert_int_equal(spool_append(s, buf, rec_len(i), &idx), TIP_OK);
		assert_int_equal(idx, i);
		assert_true(spool_durable(s) <= i + 1);
	}
	atomic_store(&c.stop, 1);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(c.bad, 0);
	assert_true(c.syncs > 0);
	assert_int_equal(spool_close(s), TIP_OK);
	verify_all(dir, n);
	tu_rmtree(dir);
	free(dir);
}

/* A reader in one process follows a writer in another across rolls, never seeing an unsynced record. */
static void test_live_reader(void **state)
{
	(void)state;
	char *dir = tu_mkdtemp();
	const uint64_t n = 10000;
	struct spool_reader *r = reader_ok(dir, "live");
	uint8_t want[MAX_LEN];
	int status, idle = 0;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct spool_opts o = small_opts();
		uint8_t buf[MAX_LEN];
		int err;

		o.segment_bytes = 16384;
		struct spool *s = spool_open(dir, &o, NULL, NULL, &err);

		if (!s)
			_exit(2);
		for (uint64_t i = 0; i < n; i++) {
			rec_fill(i, buf, rec_len(i));
			if (spool_append(s, buf, rec_len(i), NULL) != TIP_OK)
				_exit(3);
			if (mix(i) % 37 == 0 && spool_sync(s, NULL) != TIP_OK)
				_exit(4);
		}
		_exit(spool_close(s) == TIP_OK ? 0 : 5);
	}
	for (uint64_t i = 0; i < n;) {
		const uint8_t *p;
		size_t len;
		uint64_t idx, head;
		struct spool_fault f;
		int rc = spool_reader_next(r, &p, &len, &idx, &f);

		assert_true(rc >= 0);
		if (rc == 0) {
			assert_true(++idle < 200000); /* about 20 s without progress */
			usleep(100);
			continue;
		}
		idle = 0;
		assert_int_equal(spool_reader_head(r, &head, NULL), TIP_OK);
		assert_true(idx < head);
		assert_int_equal(idx, i);
		assert_int_equal(len, rec_len(i));
		rec_fill(i, want, len);
		assert_memory_equal(p, want, len);
		i++;
	}
	expect_empty(r);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	spool_reader_close(r);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_crc32c),
	        cmocka_unit_test(test_format_bytes),
	        cmocka_unit_test(test_roundtrip_rolls),
	        cmocka_unit_test(test_create_subdir_and_bad_opts),
	        cmocka_unit_test(test_oversize),
	        cmocka_unit_test(test_recovery_keeps_record_over_new_cap),
	        cmocka_unit_test(test_second_writer_busy),
	        cmocka_unit_test(test_reader_cursor),
	        cmocka_unit_test(test_reader_stops_at_head),
	        cmocka_unit_test(test_seek),
	        cmocka_unit_test(test_torn_tails),
	        cmocka_unit_test(test_lagging_head_keeps_whole_frames),
	        cmocka_unit_test(test_flipped_byte_at_open),
	        cmocka_unit_test(test_flipped_byte_at_reader),
	        cmocka_unit_test(test_bad_segment_header),
	        cmocka_unit_test(test_last_segment_header),
	        cmocka_unit_test(test_interrupted_creation),
	        cmocka_unit_test(test_head_file_damage),
	        cmocka_unit_test(test_missing_segment),
	        cmocka_unit_test(test_emptied_segment),
	        cmocka_unit_test(test_bad_reader_name),
	        cmocka_unit_test(test_garbage_cursor),
	        cmocka_unit_test(test_committer_thread),
	        cmocka_unit_test(test_live_reader),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
