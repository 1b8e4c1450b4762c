#include "diode/spool.h"

#include "common/err.h"
#include "diode/crc32c.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define SEG_VERSION       1
#define SEG_HDR           20
#define FRAME_HDR         8
#define COUNT_FILE_LEN    12 /* head and cursor files: u64 LE value, CRC32C u32 LE */
#define SEG_NAME_DIGITS   20
#define SEG_NAME_LEN      (SEG_NAME_DIGITS + 4)
#define HEAD_FILE         "head"
#define LOCK_FILE         "lock"
#define READ_CHUNK        ((size_t)256 * 1024)
#define MAX_SEGMENTS      ((size_t)1 << 24)
#define MAX_FIRST_INDEX   (UINT64_MAX / 2) /* no spool gets near; a segment named above is damage */
#define MIN_SEGMENT_BYTES 64
#define MAX_SEGMENT_BYTES ((size_t)1 << 40)
#define MAX_RECORD_LIMIT  ((size_t)1 << 30)
#define READER_NAME_MAX   32
#define HEAD_READ_TRIES   5

/* ---- little-endian fields and the small files ---- */

static const uint8_t seg_magic[4] = {'T', 'S', 'P', 'L'};

static void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p)
{
	return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static void count_encode(uint8_t out[COUNT_FILE_LEN], uint64_t v)
{
	put_u64(out, v);
	put_u32(out + 8, crc32c(out, 8));
}

static bool count_decode(const uint8_t *in, size_t len, uint64_t *v)
{
	if (len != COUNT_FILE_LEN || get_u32(in + 8) != crc32c(in, 8))
		return false;
	*v = get_u64(in);
	return true;
}

static void seg_header_encode(uint8_t out[SEG_HDR], uint64_t first)
{
	memcpy(out, seg_magic, sizeof(seg_magic));
	put_u16(out + 4, SEG_VERSION);
	put_u16(out + 6, 0);
	put_u64(out + 8, first);
	put_u32(out + 16, crc32c(out, 16));
}

/* A header that fails its CRC is damage; one that passes it with another version is a newer format. */
static int seg_header_check(const uint8_t h[SEG_HDR], uint64_t first)
{
	if (memcmp(h, seg_magic, sizeof(seg_magic)) != 0 || get_u32(h + 16) != crc32c(h, 16))
		return TIP_ECORRUPT;
	if (get_u16(h + 4) != SEG_VERSION)
		return TIP_EVERSION;
	if (get_u16(h + 6) != 0 || get_u64(h + 8) != first)
		return TIP_ECORRUPT;
	return TIP_OK;
}

static void seg_name(char out[SEG_NAME_LEN + 1], uint64_t first)
{
	snprintf(out, SEG_NAME_LEN + 1, "%020" PRIu64 ".seg", first);
}

static bool seg_name_parse(const char *name, uint64_t *first)
{
	uint64_t v = 0;

	if (strlen(name) != SEG_NAME_LEN || strcmp(name + SEG_NAME_DIGITS, ".seg") != 0)
		return false;
	for (int i = 0; i < SEG_NAME_DIGITS; i++) {
		unsigned d;

		if (name[i] < '0' || name[i] > '9')
			return false;
		d = (unsigned)(name[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*first = v;
	return true;
}

static void fault_set(struct spool_fault *f, const char *file, uint64_t offset, uint64_t index)
{
	if (!f)
		return;
	snprintf(f->file, sizeof(f->file), "%s", file);
	f->offset = offset;
	f->index = index;
}

static void fault_seg(struct spool_fault *f, uint64_t first, uint64_t offset, uint64_t index)
{
	char name[SEG_NAME_LEN + 1];

	seg_name(name, first);
	fault_set(f, name, offset, index);
}

/* ---- plain I/O ---- */

/* Reads up to n bytes at off; returns how many (short only at end of file) or -1. */
static ssize_t pread_full(int fd, void *buf, size_t n, uint64_t off)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = pread(fd, (uint8_t *)buf + got, n - got, (off_t)(off + got));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

static int pwrite_full(int fd, const void *buf, size_t n, uint64_t off)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = pwrite(fd, (const uint8_t *)buf + done, n - done, (off_t)(off + done));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return TIP_EIO;
		done += (size_t)r;
	}
	return TIP_OK;
}

static int pwritev_full(int fd, struct iovec *iov, int cnt, uint64_t off)
{
	while (cnt > 0) {
		ssize_t r = pwritev(fd, iov, cnt, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return TIP_EIO;
		off += (uint64_t)r;
		while (cnt > 0 && (size_t)r >= iov->iov_len) {
			r -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + r;
			iov->iov_len -= (size_t)r;
		}
	}
	return TIP_OK;
}

static int fdatasync_retry(int fd)
{
	/* Not retried on EIO: after a failed flush the kernel may have dropped the dirty pages. */
	int r;

	do
		r = fdatasync(fd);
	while (r != 0 && errno == EINTR);
	return r == 0 ? TIP_OK : TIP_EIO;
}

static int fsync_retry(int fd)
{
	int r;

	do
		r = fsync(fd);
	while (r != 0 && errno == EINTR);
	return r == 0 ? TIP_OK : TIP_EIO;
}

/* ---- buffered sequential reading of one file ---- */

/* Holds bytes [off, off + len) of fd. Grows up to cap_max so a whole frame fits. */
struct rbuf {
	int fd;
	uint8_t *buf;
	size_t cap, cap_max, len;
	uint64_t off;
};

/*
 * Makes bytes [pos, pos + need) resident as far as the file has them and points *p at pos.
 * *avail is how many of the needed bytes exist (less than need only at end of file). Reads
 * ahead to fill the buffer, which is what makes sequential reading cheap.
 */
static int rbuf_get(struct rbuf *rb, uint64_t pos, size_t need, const uint8_t **p, size_t *avail)
{
	bool inside = pos >= rb->off && pos - rb->off <= rb->len;
	size_t keep_from = inside ? (size_t)(pos - rb->off) : 0;

	if (inside && rb->len - keep_from >= need) {
		*p = rb->buf + keep_from;
		*avail = need;
		return TIP_OK;
	}
	if (need > rb->cap || !rb->buf) {
		size_t ncap = rb->cap ? rb->cap : READ_CHUNK;
		uint8_t *nb;

		if (need > rb->cap_max)
			return TIP_EOVERSIZE;
		while (ncap < need)
			ncap *= 2;
		if (ncap > rb->cap_max)
			ncap = rb->cap_max;
		nb = realloc(rb->buf, ncap);
		if (!nb)
			return TIP_ENOMEM;
		rb->buf = nb;
		rb->cap = ncap;
	}
	if (inside) {
		memmove(rb->buf, rb->buf + keep_from, rb->len - keep_from);
		rb->len -= keep_from;
	} else {
		rb->len = 0;
	}
	rb->off = pos;
	while (rb->len < need) {
		ssize_t r = pread(rb->fd, rb->buf + rb->len, rb->cap - rb->len, (off_t)(rb->off + rb->len));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return TIP_EIO;
		if (r == 0)
			break;
		rb->len += (size_t)r;
	}
	*p = rb->buf;
	*avail = rb->len < need ? rb->len : need;
	return TIP_OK;
}

static void rbuf_reset(struct rbuf *rb, int fd)
{
	rb->fd = fd;
	rb->len = 0;
	rb->off = 0;
}

/*
 * CRC32C continued over len bytes of the file at off, in slices through the rbuf's memory (the
 * rbuf's contents are discarded). TIP_ETRUNCATED if the file ends first.
 */
static int crc_file_range(struct rbuf *rb, uint64_t off, uint64_t len, uint32_t *crc)
{
	while (len > 0) {
		size_t n = len < rb->cap ? (size_t)len : rb->cap;
		ssize_t got = pread_full(rb->fd, rb->buf, n, off);

		rb->len = 0;
		if (got < 0)
			return TIP_EIO;
		if ((size_t)got < n)
			return TIP_ETRUNCATED;
		*crc = crc32c_extend(*crc, rb->buf, n);
		off += n;
		len -= n;
	}
	return TIP_OK;
}

enum frame_status {
	FRAME_OK,    /* a whole frame; *payload points at it */
	FRAME_BIG,   /* a whole frame with a good CRC, longer than the in-memory cap */
	FRAME_END,   /* the file ends exactly here */
	FRAME_SHORT, /* the file ends inside the frame's header or payload */
	FRAME_BAD,   /* the whole frame is there but its CRC does not match (*len is set) */
};

/* Examines the frame at pos. Returns TIP_OK with *status, or an I/O or memory error. */
static int frame_at(struct rbuf *rb, uint64_t pos, size_t max_record, enum frame_status *status,
                    uint32_t *len, const uint8_t **payload)
{
	const uint8_t *p;
	size_t avail;
	uint32_t want;
	int rc;

	rc = rbuf_get(rb, pos, FRAME_HDR, &p, &avail);
	if (rc != TIP_OK)
		return rc;
	if (avail == 0) {
		*status = FRAME_END;
		return TIP_OK;
	}
	if (avail < FRAME_HDR) {
		*status = FRAME_SHORT;
		return TIP_OK;
	}
	*len = get_u32(p);
	want = get_u32(p + 4);
	if (*len > max_record) {
		/* Stream the CRC rather than allocate: a garbage length must not cost memory. */
		uint32_t crc = crc32c(p, 4);

		rc = crc_file_range(rb, pos + FRAME_HDR, *len, &crc);
		if (rc == TIP_ETRUNCATED) {
			*status = FRAME_SHORT;
			return TIP_OK;
		}
		if (rc != TIP_OK)
			return rc;
		*status = crc == want ? FRAME_BIG : FRAME_BAD;
		return TIP_OK;
	}
	rc = rbuf_get(rb, pos, FRAME_HDR + (size_t)*len, &p, &avail);
	if (rc != TIP_OK)
		return rc;
	if (avail < FRAME_HDR + (size_t)*len) {
		*status = FRAME_SHORT;
		return TIP_OK;
	}
	if (crc32c_extend(crc32c(p, 4), p + FRAME_HDR, *len) != want) {
		*status = FRAME_BAD;
		return TIP_OK;
	}
	*payload = p + FRAME_HDR;
	*status = FRAME_OK;
	return TIP_OK;
}

/* ---- directory listing ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The first indices of every segment file in dir, ascending. */
static int list_segments(int dirfd, uint64_t **out, size_t *n_out)
{
	/* Through the descriptor, so a later chdir or rename of the path does not matter. */
	int fd = dup(dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *e;
	uint64_t *v = NULL;
	size_t n = 0, cap = 0;
	int rc = TIP_OK;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return TIP_EIO;
	}
	rewinddir(d); /* the dup shares its position with dirfd */
	for (;;) {
		uint64_t first;

		errno = 0;
		e = readdir(d);
		if (!e) {
			if (errno != 0)
				rc = TIP_EIO;
			break;
		}
		if (!seg_name_parse(e->d_name, &first))
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			uint64_t *nv;

			if (ncap > MAX_SEGMENTS) {
				rc = TIP_EFULL;
				break;
			}
			nv = realloc(v, ncap * sizeof(*v));
			if (!nv) {
				rc = TIP_ENOMEM;
				break;
			}
			v = nv;
			cap = ncap;
		}
		v[n++] = first;
	}
	closedir(d);
	if (rc != TIP_OK) {
		free(v);
		return rc;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_u64);
	*out = v;
	*n_out = n;
	return TIP_OK;
}

static bool opts_valid(const struct spool_opts *o)
{
	return o->segment_bytes >= MIN_SEGMENT_BYTES && o->segment_bytes <= MAX_SEGMENT_BYTES &&
	       o->max_record >= 1 && o->max_record <= MAX_RECORD_LIMIT;
}

struct spool_opts spool_opts_default(void)
{
	struct spool_opts o = {.segment_bytes = (size_t)64 << 20, .max_record = (size_t)32 << 20};

	return o;
}

/* ---- writer ---- */

struct spool {
	int dirfd, lockfd, headfd, segfd;
	struct spool_opts o;
	/* Touched only by the appending thread (and by roll() under mu). */
	uint64_t seg_first, seg_size, seg_frames;
	_Atomic uint64_t count;
	_Atomic uint64_t durable;
	_Atomic int broken; /* sticky: a flush failed or a bad frame could not be removed */
	/* Serialises syncs against segment rolls (so a sync never flushes a closed descriptor) and head
	 * writes. */
	pthread_mutex_t mu;
	bool mu_ready;
	bool dir_dirty; /* under mu: a segment was created since the directory was last fsynced */
};

static int head_write(struct spool *s, uint64_t count)
{
	uint8_t b[COUNT_FILE_LEN];

	count_encode(b, count);
	return pwrite_full(s->headfd, b, sizeof(b), 0);
}

/* Creates segment <first>.seg holding just its header; returns the descriptor or a negative error. */
static int seg_create(struct spool *s, uint64_t first)
{
	char name[SEG_NAME_LEN + 1];
	uint8_t h[SEG_HDR];
	int fd;

	seg_name(name, first);
	fd = openat(s->dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return TIP_EIO;
	seg_header_encode(h, first);
	if (pwrite_full(fd, h, sizeof(h), 0) != TIP_OK) {
		close(fd);
		unlinkat(s->dirfd, name, 0);
		return TIP_EIO;
	}
	return fd;
}

/*
 * Finishes the current segment durably before the next one exists, so recovery only ever has to
 * scan the last segment: whatever precedes it was complete and on disk before it was created.
 */
static int roll(struct spool *s)
{
	uint64_t first = atomic_load_explicit(&s->count, memory_order_relaxed);
	int rc = TIP_OK, fd;

	pthread_mutex_lock(&s->mu);
	if (fdatasync_retry(s->segfd) != TIP_OK || (s->dir_dirty && fsync_retry(s->dirfd) != TIP_OK)) {
		atomic_store(&s->broken, 1);
		rc = TIP_EIO;
		goto out;
	}
	s->dir_dirty = false;
	fd = seg_create(s, first);
	if (fd < 0) {
		rc = fd;
		goto out;
	}
	close(s->segfd);
	s->segfd = fd;
	s->seg_first = first;
	s->seg_size = SEG_HDR;
	s->seg_frames = 0;
	s->dir_dirty = true;
out:
	pthread_mutex_unlock(&s->mu);
	return rc;
}

int spool_append(struct spool *s, const void *rec, size_t len, uint64_t *index)
{
	uint8_t hdr[FRAME_HDR];
	struct iovec iov[2];
	uint64_t frame, i;
	int rc;

	if (!s || (!rec && len > 0))
		return TIP_EINVAL;
	if (atomic_load(&s->broken))
		return TIP_EIO;
	if (len > s->o.max_record)
		return TIP_EOVERSIZE;
	frame = FRAME_HDR + (uint64_t)len;
	if (s->seg_frames > 0 && s->seg_size + frame > s->o.segment_bytes) {
		rc = roll(s);
		if (rc != TIP_OK)
			return rc;
	}
	put_u32(hdr, (uint32_t)len);
	put_u32(hdr + 4, crc32c_extend(crc32c(hdr, 4), rec, len));
	iov[0].iov_base = hdr;
	iov[0].iov_len = sizeof(hdr);
	iov[1].iov_base = (void *)(uintptr_t)rec;
	iov[1].iov_len = len;
	if (pwritev_full(s->segfd, iov, len > 0 ? 2 : 1, s->seg_size) != TIP_OK) {
		/* A partial frame left in place would sit in front of every later record. */
		if (ftruncate(s->segfd, (off_t)s->seg_size) != 0)
			atomic_store(&s->broken, 1);
		return TIP_EIO;
	}
	s->seg_size += frame;
	s->seg_frames++;
	i = atomic_load_explicit(&s->count, memory_order_relaxed);
	/* Release: a committer that sees the new count also sees the frame's write as done. */
	atomic_store_explicit(&s->count, i + 1, memory_order_release);
	if (index)
		*index = i;
	return TIP_OK;
}

int spool_sync(struct spool *s, uint64_t *durable)
{
	uint64_t n;
	int rc = TIP_OK;

	if (!s)
		return TIP_EINVAL;
	pthread_mutex_lock(&s->mu);
	if (atomic_load(&s->broken)) {
		rc = TIP_EIO;
		goto out;
	}
	/* Every frame counted in n is in segfd or in a segment roll() already flushed. */
	n = atomic_load_explicit(&s->count, memory_order_acquire);
	if (n == atomic_load(&s->durable) && !s->dir_dirty)
		goto out;
	if (fdatasync_retry(s->segfd) != TIP_OK || (s->dir_dirty && fsync_retry(s->dirfd) != TIP_OK)) {
		atomic_store(&s->broken, 1);
		rc = TIP_EIO;
		goto out;
	}
	s->dir_dirty = false;
	atomic_store(&s->durable, n);
	/* The head file is a hint for readers, deliberately not flushed: it may lag, never lead. */
	if (head_write(s, n) != TIP_OK) {
		atomic_store(&s->broken, 1);
		rc = TIP_EIO;
	}
out:
	if (durable)
		*durable = atomic_load(&s->durable);
	pthread_mutex_unlock(&s->mu);
	return rc;
}

uint64_t spool_count(const struct spool *s)
{
	return atomic_load(&s->count);
}

uint64_t spool_durable(const struct spool *s)
{
	return atomic_load(&s->durable);
}

static void spool_free(struct spool *s)
{
	if (!s)
		return;
	if (s->segfd >= 0)
		close(s->segfd);
	if (s->headfd >= 0)
		close(s->headfd);
	if (s->lockfd >= 0)
		close(s->lockfd); /* releases the flock */
	if (s->dirfd >= 0)
		close(s->dirfd);
	if (s->mu_ready)
		pthread_mutex_destroy(&s->mu);
	free(s);
}

int spool_close(struct spool *s)
{
	int rc;

	if (!s)
		return TIP_OK;
	rc = spool_sync(s, NULL);
	spool_free(s);
	return rc;
}

/* Creates dir if missing and makes its entry durable in the parent. */
static int ensure_dir(const char *dir, int *created)
{
	char *copy;
	int pfd, rc = TIP_OK;

	*created = 0;
	if (mkdir(dir, 0700) != 0)
		return errno == EEXIST ? TIP_OK : TIP_EIO;
	*created = 1;
	copy = strdup(dir);
	if (!copy)
		return TIP_ENOMEM;
	pfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0 || fsync_retry(pfd) != TIP_OK)
		rc = TIP_EIO;
	if (pfd >= 0)
		close(pfd);
	free(copy);
	return rc;
}

/* Headers of segments before the last must be intact: they hold durable records. */
static int check_sealed_segments(struct spool *s, const uint64_t *segs, size_t n, struct spool_fault *fault)
{
	for (size_t i = 0; i + 1 < n; i++) {
		char name[SEG_NAME_LEN + 1];
		uint8_t h[SEG_HDR];
		ssize_t got;
		int fd, rc;

		seg_name(name, segs[i]);
		fd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return TIP_EIO;
		got = pread_full(fd, h, sizeof(h), 0);
		close(fd);
		if (got < 0)
			return TIP_EIO;
		rc = (size_t)got < sizeof(h) ? TIP_ECORRUPT : seg_header_check(h, segs[i]);
		if (rc != TIP_OK) {
			fault_set(fault, name, 0, segs[i]);
			return rc;
		}
	}
	return TIP_OK;
}

/*
 * Scans the last segment and cuts a torn tail. A bad frame at an index the head file calls
 * durable is damage, not a torn write, and stops the open.
 */
static int recover_last(struct spool *s, uint64_t first, uint64_t head, struct spool_recovery *r,
                        struct spool_fault *fault)
{
	char name[SEG_NAME_LEN + 1];
	struct rbuf rb = {.fd = -1, .cap_max = s->o.max_record + FRAME_HDR};
	uint8_t h[SEG_HDR];
	struct stat st;
	uint64_t pos, i;
	ssize_t got;
	int fd, rc = TIP_OK;

	if (rb.cap_max < READ_CHUNK)
		rb.cap_max = READ_CHUNK;
	seg_name(name, first);
	fd = openat(s->dirfd, name, O_RDWR | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		rc = TIP_EIO;
		goto out;
	}
	got = pread_full(fd, h, sizeof(h), 0);
	if (got < 0) {
		rc = TIP_EIO;
		goto out;
	}
	rc = (size_t)got < sizeof(h) ? TIP_ECORRUPT : seg_header_check(h, first);
	if (rc != TIP_OK) {
		/* A newer format is never overwritten, whatever the head says. */
		if (first < head || rc == TIP_EVERSION) {
			fault_set(fault, name, 0, first);
			goto out;
		}
		/* Created by a roll that never reached a sync: nothing in it was acknowledged. */
		seg_header_encode(h, first);
		if (ftruncate(fd, 0) != 0 || pwrite_full(fd, h, sizeof(h), 0) != TIP_OK) {
			rc = TIP_EIO;
			goto out;
		}
		r->bytes_cut = (uint64_t)st.st_size;
		r->segment_reset = 1;
		rc = TIP_OK;
		pos = SEG_HDR;
		i = first;
	} else {
		rbuf_reset(&rb, fd);
		pos = SEG_HDR;
		i = first;
		for (;;) {
			enum frame_status fs;
			const uint8_t *payload;
			uint32_t len;

			rc = frame_at(&rb, pos, s->o.max_record, &fs, &len, &payload);
			if (rc != TIP_OK)
				goto out;
			if (fs == FRAME_END)
				break;
			if (fs == FRAME_SHORT || fs == FRAME_BAD) {
				if (i < head) {
					fault_set(fault, name, pos, i);
					rc = TIP_ECORRUPT;
					goto out;
				}
				if (ftruncate(fd, (off_t)pos) != 0 || fsync_retry(fd) != TIP_OK) {
					rc = TIP_EIO;
					goto out;
				}
				r->bytes_cut = (uint64_t)st.st_size - pos;
				break;
			}
			pos += FRAME_HDR + (uint64_t)len;
			i++;
		}
	}
	if (i < head) {
		/* The head file promises records that are not there. */
		fault_set(fault, name, pos, i);
		rc = TIP_ECORRUPT;
		goto out;
	}
	/* Frames that survived a process crash may exist only in the page cache; make them durable. */
	if (fdatasync_retry(fd) != TIP_OK) {
		rc = TIP_EIO;
		goto out;
	}
	s->segfd = fd;
	fd = -1;
	s->seg_first = first;
	s->seg_size = pos;
	s->seg_frames = i - first;
	atomic_store(&s->count, i);
out:
	if (fd >= 0)
		close(fd);
	free(rb.buf);
	return rc;
}

struct spool *spool_open(const char *dir, const struct spool_opts *o, struct spool_recovery *rec_out,
                         struct spool_fault *fault, int *err)
{
	struct spool_recovery r = {0};
	struct spool *s = NULL;
	uint64_t *segs = NULL, head = 0, count;
	size_t nseg = 0;
	uint8_t hb[COUNT_FILE_LEN + 1];
	bool head_ok;
	ssize_t got;
	int rc;

	if (!dir || !err) {
		rc = TIP_EINVAL;
		goto out;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		rc = TIP_ENOMEM;
		goto out;
	}
	s->dirfd = s->lockfd = s->headfd = s->segfd = -1;
	s->o = o ? *o : spool_opts_default();
	if (!opts_valid(&s->o)) {
		rc = TIP_EINVAL;
		goto out;
	}
	if (pthread_mutex_init(&s->mu, NULL) != 0) {
		rc = TIP_ENOMEM;
		goto out;
	}
	s->mu_ready = true;
	rc = ensure_dir(dir, &r.created);
	if (rc != TIP_OK)
		goto out;
	s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		rc = TIP_EIO;
		goto out;
	}
	s->lockfd = openat(s->dirfd, LOCK_FILE, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lockfd < 0) {
		rc = TIP_EIO;
		goto out;
	}
	if (flock(s->lockfd, LOCK_EX | LOCK_NB) != 0) {
		rc = errno == EWOULDBLOCK ? TIP_EBUSY : TIP_EIO;
		goto out;
	}
	rc = list_segments(s->dirfd, &segs, &nseg);
	if (rc != TIP_OK)
		goto out;
	s->headfd = openat(s->dirfd, HEAD_FILE, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->headfd < 0) {
		rc = TIP_EIO;
		goto out;
	}
	got = pread_full(s->headfd, hb, sizeof(hb), 0);
	if (got < 0) {
		rc = TIP_EIO;
		goto out;
	}
	head_ok = count_decode(hb, (size_t)got, &head);
	if (nseg == 0) {
		/* A head from an interrupted creation is fine; one promising lost records is not. */
		if (head_ok && head > 0) {
			fault_seg(fault, 0, 0, 0);
			rc = TIP_ECORRUPT;
			goto out;
		}
		head = 0;
		r.created = 1;
		/* The head goes to disk before any segment exists: a crash in between is not damage. */
		if (head_write(s, 0) != TIP_OK || ftruncate(s->headfd, COUNT_FILE_LEN) != 0 ||
		    fsync_retry(s->headfd) != TIP_OK || fsync_retry(s->dirfd) != TIP_OK) {
			rc = TIP_EIO;
			goto out;
		}
		s->segfd = seg_create(s, 0);
		if (s->segfd < 0) {
			rc = s->segfd;
			goto out;
		}
		s->seg_size = SEG_HDR;
		if (fdatasync_retry(s->segfd) != TIP_OK) {
			rc = TIP_EIO;
			goto out;
		}
	} else {
		if (!head_ok) {
			/* Without it a damaged durable frame would look like a torn tail and be cut. */
			fault_set(fault, HEAD_FILE, 0, SPOOL_NO_INDEX);
			rc = TIP_ECORRUPT;
			goto out;
		}
		/* Else a reset last segment would move the count there, and appends would wrap it. */
		if (segs[nseg - 1] > MAX_FIRST_INDEX) {
			fault_seg(fault, segs[nseg - 1], 0, segs[nseg - 1]);
			rc = TIP_ECORRUPT;
			goto out;
		}
		rc = check_sealed_segments(s, segs, nseg, fault);
		if (rc != TIP_OK)
			goto out;
		rc = recover_last(s, segs[nseg - 1], head, &r, fault);
		if (rc != TIP_OK)
			goto out;
	}
	count = atomic_load(&s->count);
	if (head_write(s, count) != TIP_OK || ftruncate(s->headfd, COUNT_FILE_LEN) != 0 ||
	    fsync_retry(s->headfd) != TIP_OK || fsync_retry(s->dirfd) != TIP_OK) {
		rc = TIP_EIO;
		goto out;
	}
	atomic_store(&s->durable, count);
	r.head_before = head;
	r.count = count;
	if (rec_out)
		*rec_out = r;
out:
	free(segs);
	if (rc != TIP_OK) {
		spool_free(s);
		s = NULL;
	}
	if (err)
		*err = rc;
	return s;
}

/* ---- readers ---- */

struct spool_reader {
	char name[READER_NAME_MAX + 1];
	int dirfd, headfd, lockfd;
	size_t max_record;
	struct rbuf rb; /* rb.fd is the open segment, or -1 */
	uint64_t seg_first;
	uint64_t at;     /* index of the frame at off in the open segment */
	uint64_t off;    /* byte offset of that frame */
	bool positioned; /* at/off are valid for the open segment */
	bool sought;     /* next was moved by a seek: find its segment instead of walking to it */
	uint64_t next;   /* index spool_reader_next() returns */
	uint64_t head;   /* durable count last read from the head file */
	uint64_t *segs;  /* scratch for positioning */
};

static bool reader_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n < 1 || n > READER_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

static void cursor_file(char out[SPOOL_FAULT_FILE_MAX], const char *name, const char *suffix)
{
	snprintf(out, SPOOL_FAULT_FILE_MAX, "cursor.%s%s", name, suffix);
}

static int reader_refresh_head(struct spool_reader *r, struct spool_fault *fault)
{
	uint8_t b[COUNT_FILE_LEN + 1];
	uint64_t v = 0;
	int tries;

	if (r->headfd < 0) {
		r->headfd = openat(r->dirfd, HEAD_FILE, O_RDONLY | O_CLOEXEC);
		if (r->headfd < 0)
			return errno == ENOENT ? TIP_OK : TIP_EIO; /* no writer has run yet */
	}
	/* The writer rewrites the head in place, so a read may see half of an update: retry briefly. */
	for (tries = 0; tries < HEAD_READ_TRIES; tries++) {
		ssize_t got = pread_full(r->headfd, b, sizeof(b), 0);
		struct timespec ts = {0, 1000000};

		if (got < 0)
			return TIP_EIO;
		if (got == 0 || count_decode(b, (size_t)got, &v))
			break;
		nanosleep(&ts, NULL);
	}
	if (tries == HEAD_READ_TRIES) {
		fault_set(fault, HEAD_FILE, 0, SPOOL_NO_INDEX);
		return TIP_ECORRUPT;
	}
	if (v != r->head) {
		/* Bytes buffered past the old head may have been pre-sync and since rewritten by recovery. */
		r->rb.len = 0;
		r->head = v;
	}
	return TIP_OK;
}

/* Opens segment <first>.seg and checks its header. TIP_ENOTFOUND if the file does not exist. */
static int reader_open_seg(struct spool_reader *r, uint64_t first, struct spool_fault *fault)
{
	char name[SEG_NAME_LEN + 1];
	const uint8_t *h;
	size_t avail;
	int fd, rc;

	seg_name(name, first);
	fd = openat(r->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fault_set(fault, name, 0, first);
		return errno == ENOENT ? TIP_ENOTFOUND : TIP_EIO;
	}
	if (r->rb.fd >= 0)
		close(r->rb.fd);
	rbuf_reset(&r->rb, fd);
	r->positioned = false;
	rc = rbuf_get(&r->rb, 0, SEG_HDR, &h, &avail);
	if (rc != TIP_OK)
		return rc;
	rc = avail < SEG_HDR ? TIP_ECORRUPT : seg_header_check(h, first);
	if (rc != TIP_OK) {
		fault_set(fault, name, 0, first);
		return rc;
	}
	r->seg_first = first;
	r->at = first;
	r->off = SEG_HDR;
	r->positioned = true;
	return TIP_OK;
}

/* Opens the segment holding index t (< head) unless walking forward in the open one gets there. */
static int reader_position(struct spool_reader *r, uint64_t t, struct spool_fault *fault)
{
	size_t n = 0, k;
	uint64_t first;
	int rc;

	free(r->segs);
	r->segs = NULL;
	rc = list_segments(r->dirfd, &r->segs, &n);
	if (rc != TIP_OK)
		return rc;
	for (k = n; k > 0 && r->segs[k - 1] > t; k--)
		;
	if (k == 0) {
		/* Records below the head exist by definition; their segment was removed. */
		fault_seg(fault, t, 0, t);
		return TIP_ENOTFOUND;
	}
	first = r->segs[k - 1];
	if (r->positioned && r->seg_first == first && r->at <= t)
		return TIP_OK;
	return reader_open_seg(r, first, fault);
}

/*
 * Steps over the damaged frame at r->off on the way to a later position. Its CRC cannot say
 * whether the length field is the damaged part, so the length is trusted only if a valid frame
 * (or the end of the segment) follows it; otherwise the damage is reported where it is.
 */
static int reader_skip_bad(struct spool_reader *r, uint32_t len, struct spool_fault *fault)
{
	uint64_t after = r->off + FRAME_HDR + (uint64_t)len;
	enum frame_status fs;
	const uint8_t *payload;
	uint32_t next_len;
	int rc;

	if (r->at + 1 < r->head) {
		rc = frame_at(&r->rb, after, r->max_record, &fs, &next_len, &payload);
		if (rc != TIP_OK)
			return rc;
		if (fs != FRAME_OK && fs != FRAME_BIG && fs != FRAME_END) {
			fault_seg(fault, r->seg_first, r->off, r->at);
			return TIP_ECORRUPT;
		}
	}
	r->off = after;
	r->at++;
	return TIP_OK;
}

int spool_reader_next(struct spool_reader *r, const uint8_t **rec, size_t *len, uint64_t *index,
                      struct spool_fault *fault)
{
	int rc;

	if (!r || !rec || !len)
		return TIP_EINVAL;
	if (r->next >= r->head) {
		rc = reader_refresh_head(r, fault);
		if (rc != TIP_OK)
			return rc;
		if (r->next >= r->head)
			return 0;
	}
	if (!r->positioned || r->at > r->next || r->sought) {
		rc = reader_position(r, r->next, fault);
		if (rc != TIP_OK)
			return rc;
		r->sought = false;
	}
	/* Every frame visited here has an index below the head, so it must be whole. */
	for (;;) {
		enum frame_status fs;
		const uint8_t *payload = NULL;
		uint32_t flen = 0;

		rc = frame_at(&r->rb, r->off, r->max_record, &fs, &flen, &payload);
		if (rc != TIP_OK)
			return rc;
		if (fs == FRAME_END) {
			/* A finished segment: the record must open the next one. A segment that ends
			 * before its first frame holds none of the durable records it should (the next
			 * one would be itself again). */
			if (r->at == r->seg_first) {
				fault_seg(fault, r->seg_first, r->off, r->at);
				return TIP_ECORRUPT;
			}
			rc = reader_open_seg(r, r->at, fault);
			if (rc == TIP_ENOTFOUND)
				rc = TIP_ECORRUPT;
			if (rc != TIP_OK)
				return rc;
			continue;
		}
		if (fs == FRAME_BAD && r->at < r->next) {
			/* The caller sought past this record on purpose. */
			rc = reader_skip_bad(r, flen, fault);
			if (rc != TIP_OK)
				return rc;
			continue;
		}
		if (fs == FRAME_SHORT || fs == FRAME_BAD || (fs == FRAME_BIG && r->at == r->next)) {
			fault_seg(fault, r->seg_first, r->off, r->at);
			return fs == FRAME_BIG ? TIP_EOVERSIZE : TIP_ECORRUPT;
		}
		r->off += FRAME_HDR + (uint64_t)flen;
		r->at++;
		if (r->at - 1 == r->next) {
			*rec = payload;
			*len = flen;
			if (index)
				*index = r->next;
			r->next++;
			return 1;
		}
	}
}

int spool_reader_seek(struct spool_reader *r, uint64_t index)
{
	int rc;

	if (!r)
		return TIP_EINVAL;
	rc = reader_refresh_head(r, NULL);
	if (rc != TIP_OK)
		return rc;
	if (index > r->head)
		return TIP_ERANGE;
	if (index != r->next)
		r->sought = true;
	r->next = index;
	return TIP_OK;
}

int spool_reader_commit(struct spool_reader *r, uint64_t next_index)
{
	char tmp[SPOOL_FAULT_FILE_MAX], dst[SPOOL_FAULT_FILE_MAX];
	uint8_t b[COUNT_FILE_LEN];
	int fd, rc;

	if (!r)
		return TIP_EINVAL;
	rc = reader_refresh_head(r, NULL);
	if (rc != TIP_OK)
		return rc;
	if (next_index > r->head)
		return TIP_ERANGE;
	cursor_file(tmp, r->name, ".tmp");
	cursor_file(dst, r->name, "");
	count_encode(b, next_index);
	fd = openat(r->dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return TIP_EIO;
	rc = pwrite_full(fd, b, sizeof(b), 0);
	if (rc == TIP_OK)
		rc = fsync_retry(fd);
	close(fd);
	if (rc == TIP_OK && renameat(r->dirfd, tmp, r->dirfd, dst) != 0)
		rc = TIP_EIO;
	if (rc == TIP_OK)
		rc = fsync_retry(r->dirfd);
	return rc;
}

uint64_t spool_reader_position(const struct spool_reader *r)
{
	return r->next;
}

int spool_reader_head(struct spool_reader *r, uint64_t *head, struct spool_fault *fault)
{
	int rc;

	if (!r || !head)
		return TIP_EINVAL;
	rc = reader_refresh_head(r, fault);
	*head = r->head;
	return rc;
}

void spool_reader_close(struct spool_reader *r)
{
	if (!r)
		return;
	if (r->rb.fd >= 0)
		close(r->rb.fd);
	if (r->headfd >= 0)
		close(r->headfd);
	if (r->lockfd >= 0)
		close(r->lockfd);
	if (r->dirfd >= 0)
		close(r->dirfd);
	free(r->rb.buf);
	free(r->segs);
	free(r);
}

/* The durable cursor of reader name into *next (0 when it has none). */
static int cursor_load(int dirfd, const char *reader, uint64_t *next, struct spool_fault *fault)
{
	char name[SPOOL_FAULT_FILE_MAX];
	uint8_t b[COUNT_FILE_LEN + 1];
	ssize_t got;
	int fd;

	*next = 0;
	cursor_file(name, reader, "");
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? TIP_OK : TIP_EIO;
	got = pread_full(fd, b, sizeof(b), 0);
	close(fd);
	if (got < 0)
		return TIP_EIO;
	/* Cursors are replaced by rename, so a bad one was damaged after the fact: refuse to guess. */
	if (!count_decode(b, (size_t)got, next)) {
		fault_set(fault, name, 0, SPOOL_NO_INDEX);
		return TIP_ECORRUPT;
	}
	return TIP_OK;
}

static int reader_load_cursor(struct spool_reader *r, struct spool_fault *fault)
{
	return cursor_load(r->dirfd, r->name, &r->next, fault);
}

int spool_cursor(const char *dir, const char *reader, uint64_t *next, struct spool_fault *fault)
{
	int dirfd, rc;

	*next = 0;
	if (!reader_name_valid(reader))
		return TIP_EINVAL;
	if ((dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? TIP_ENOTFOUND : TIP_EIO;
	rc = cursor_load(dirfd, reader, next, fault);
	close(dirfd);
	return rc;
}

int spool_prune(const char *dir, uint64_t below, int64_t min_age_ms, int64_t now_ms,
                struct spool_prune_stats *st)
{
	uint64_t *segs = NULL;
	size_t n = 0;
	int dirfd, rc, keep = 0;

	memset(st, 0, sizeof(*st));
	if ((dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? TIP_ENOTFOUND : TIP_EIO;
	if ((rc = list_segments(dirfd, &segs, &n)) != TIP_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		char name[SEG_NAME_LEN + 1];
		struct stat sb;
		int64_t mtime_ms;

		seg_name(name, segs[i]);
		if (fstatat(dirfd, name, &sb, 0) != 0) {
			rc = TIP_EIO;
			goto out;
		}
		mtime_ms = (int64_t)sb.st_mtim.tv_sec * 1000 + sb.st_mtim.tv_nsec / 1000000;
		/* Segment i holds [segs[i], segs[i + 1]); the last one is the writer's and never goes.
		 * Only a prefix goes, so the segments left stay contiguous. */
		keep = keep || i + 1 == n || segs[i + 1] > below || now_ms - mtime_ms < min_age_ms;
		if (!keep) {
			if (unlinkat(dirfd, name, 0) != 0) {
				rc = TIP_EIO;
				goto out;
			}
			st->removed_bytes += (uint64_t)sb.st_size;
			st->removed_segments++;
		} else {
			st->kept_bytes += (uint64_t)sb.st_size;
			st->kept_segments++;
		}
	}
	if (st->removed_segments && fsync(dirfd) != 0)
		rc = TIP_EIO;
out:
	free(segs);
	close(dirfd);
	return rc;
}

struct spool_reader *spool_reader_open(const char *dir, const char *name, const struct spool_opts *o,
                                       struct spool_fault *fault, int *err)
{
	struct spool_opts opts = o ? *o : spool_opts_default();
	char lock[SPOOL_FAULT_FILE_MAX];
	struct spool_reader *r = NULL;
	int rc;

	if (!dir || !name || !err || !reader_name_valid(name) || !opts_valid(&opts)) {
		rc = TIP_EINVAL;
		goto out;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		rc = TIP_ENOMEM;
		goto out;
	}
	r->dirfd = r->headfd = r->lockfd = r->rb.fd = -1;
	memcpy(r->name, name, strlen(name) + 1);
	r->max_record = opts.max_record;
	r->rb.cap_max = opts.max_record + FRAME_HDR < READ_CHUNK ? READ_CHUNK : opts.max_record + FRAME_HDR;
	r->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->dirfd < 0) {
		rc = errno == ENOENT ? TIP_ENOTFOUND : TIP_EIO;
		goto out;
	}
	/* Two processes sharing a cursor would overwrite each other's progress. */
	cursor_file(lock, name, ".lock");
	r->lockfd = openat(r->dirfd, lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (r->lockfd < 0) {
		rc = TIP_EIO;
		goto out;
	}
	if (flock(r->lockfd, LOCK_EX | LOCK_NB) != 0) {
		rc = errno == EWOULDBLOCK ? TIP_EBUSY : TIP_EIO;
		goto out;
	}
	rc = reader_load_cursor(r, fault);
	if (rc != TIP_OK)
		goto out;
	/* The cursor may be ahead of a head file that lags after a power loss: positioning waits for it. */
	rc = reader_refresh_head(r, fault);
out:
	if (rc != TIP_OK) {
		spool_reader_close(r);
		r = NULL;
	}
	if (err)
		*err = rc;
	return r;
}
