/*
 * A spool directory made from hostile bytes, read and recovered through the spool API. Input byte
 * 0: bit 0 writes a head file (valid CRC) claiming byte 1 records, bit 1 cuts the rest in two
 * segment files at 4 * byte 2 (the second named by the first index its header claims), else the
 * rest is segment 0. Then:
 *   a reader reads everything it can, seeking past each bad record (at most a few times): every
 *   answer is documented, a fault names a file, the position never moves on an error;
 *   the writer opens the spool (recovery): it refuses only with a fault, or else appends one
 *   record, and a fresh reader then reads every record below the new head without an error but
 *   for those read_all() allows, and when there were none, the last one is the record appended.
 * The files live in memory when the system allows (tu_mkdtemp_mem).
 */
#include "fuzz.h"
#include "testutil.h"

#include "common/err.h"
#include "diode/crc32c.h"
#include "diode/spool.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_RECORD 4096
#define MAX_READS  256

static char *dir;

static void remove_dir(void)
{
	tu_rmtree(dir);
	free(dir);
}

static void put_segment(const uint8_t *data, size_t len, uint64_t first)
{
	char name[32];

	snprintf(name, sizeof(name), "%020" PRIu64 ".seg", first);
	tu_write_bytes(dir, name, data, len);
}

static void fault_ok(int rc, const struct spool_fault *f)
{
	if ((rc == TIP_ECORRUPT || rc == TIP_EVERSION || rc == TIP_EOVERSIZE || rc == TIP_ENOTFOUND) &&
	    (!f->file[0] || strnlen(f->file, sizeof(f->file)) == sizeof(f->file)))
		abort();
}

/*
 * Reads everything a reader can; returns the records passed (read, or bad and skipped) and counts
 * the skipped ones in *skips. In a spool just recovered (clean) only the last segment (named after
 * last_first) is known whole: recovery checks the other segments' headers, not their frames
 * (readers check every frame); and any segment may keep a whole record longer than max_record.
 */
static uint64_t read_all(const struct spool_opts *o, int clean, uint64_t last_first, int *skips,
                         uint64_t *last_len, const uint8_t **last)
{
	struct spool_fault fault;
	struct spool_reader *r;
	char last_name[32];
	uint64_t n = 0;
	int err, rc;

	*skips = 0;
	snprintf(last_name, sizeof(last_name), "%020" PRIu64 ".seg", last_first);
	memset(&fault, 0, sizeof(fault));
	if (!(r = spool_reader_open(dir, "fuzz", o, &fault, &err))) {
		if (clean || (err != TIP_ECORRUPT && err != TIP_EIO))
			abort();
		return 0;
	}
	for (int i = 0; i < MAX_READS; i++) {
		const uint8_t *rec;
		size_t len;
		uint64_t index, at = spool_reader_position(r);

		memset(&fault, 0, sizeof(fault));
		rc = spool_reader_next(r, &rec, &len, &index, &fault);
		if (rc == 0)
			break;
		if (rc == 1) {
			if (index != at || len > o->max_record || spool_reader_position(r) != at + 1)
				abort();
			n++;
			if (last) {
				*last = rec;
				*last_len = len;
			}
			continue;
		}
		if ((clean && rc != TIP_EOVERSIZE && strcmp(fault.file, last_name) == 0) ||
		    spool_reader_position(r) != at)
			abort();
		if (rc != TIP_ECORRUPT && rc != TIP_EVERSION && rc != TIP_EOVERSIZE && rc != TIP_ENOTFOUND &&
		    rc != TIP_EIO)
			abort();
		fault_ok(rc, &fault);
		if ((!clean && *skips >= 3) || spool_reader_seek(r, at + 1) != TIP_OK)
			break;
		++*skips;
		n += clean;
	}
	if (last && *last) {
		/* The record points into the reader: keep a copy past its close. */
		static uint8_t copy[MAX_RECORD];

		memcpy(copy, *last, *last_len);
		*last = copy;
	}
	spool_reader_close(r);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t mark[] = "appended after recovery";
	struct spool_opts o = {.segment_bytes = 256, .max_record = MAX_RECORD};
	struct spool_recovery rec;
	struct spool_fault fault;
	struct spool *s;
	const uint8_t *last = NULL;
	uint64_t last_len = 0, n, index, last_first = 0;
	int err, skips;

	if (size < 3)
		return 0;
	if (!dir) {
		dir = tu_mkdtemp_mem();
		atexit(remove_dir);
	}
	tu_rmtree(dir);
	if (mkdir(dir, 0700) != 0)
		abort();
	if (data[0] & 1) {
		uint8_t head[12] = {data[1]};
		uint32_t crc = crc32c(head, 8);

		for (int i = 0; i < 4; i++)
			head[8 + i] = (uint8_t)(crc >> (8 * i));
		tu_write_bytes(dir, "head", head, sizeof(head));
	}
	{
		const uint8_t *seg = data + 3;
		size_t len = size - 3, cut = (size_t)data[2] * 4;

		if ((data[0] & 2) && cut < len) {
			uint64_t first = 0;

			put_segment(seg, cut, 0);
			if (len - cut >= 16)
				for (int i = 0; i < 8; i++)
					first |= (uint64_t)seg[cut + 8 + i] << (8 * i);
			put_segment(seg + cut, len - cut, first);
			last_first = first;
		} else {
			put_segment(seg, len, 0);
		}
	}

	read_all(&o, 0, 0, &skips, NULL, NULL);

	memset(&fault, 0, sizeof(fault));
	if (!(s = spool_open(dir, &o, &rec, &fault, &err))) {
		if (err != TIP_ECORRUPT && err != TIP_EVERSION && err != TIP_EIO && err != TIP_ENOMEM)
			abort();
		fault_ok(err, &fault);
		return 0;
	}
	if (spool_count(s) != rec.count || spool_durable(s) != rec.count ||
	    spool_append(s, mark, sizeof(mark), &index) != TIP_OK || index != rec.count ||
	    spool_close(s) != TIP_OK)
		abort();
	n = read_all(&o, 1, last_first, &skips, &last_len, &last);
	/* With two segments the first is not scanned at open: a skipped bad frame, or a whole frame too
	 * many, may stand where the second one's records begin (the reader does not check that
	 * segments are contiguous), so the appended record is looked for only in a single segment. */
	if (rec.count < MAX_READS && !skips && !last_first &&
	    (n != rec.count + 1 || last_len != sizeof(mark) || memcmp(last, mark, sizeof(mark)) != 0))
		abort();
	return 0;
}
