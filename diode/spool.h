/*
 * Durable spool: an append-only, segmented log of opaque records in one directory. It is the
 * storage primitive for every hand-off between processes (intake -> outbox -> diode sender,
 * diode receiver -> inbox -> case manager, status bulletins). Byte layout: docs/formats/spool.md;
 * group commit, threading and crash semantics: docs/internals/spool.md.
 *
 * Records are numbered 0, 1, 2, ... (the spool index). One writer per spool, enforced with a
 * lock file; any number of readers in other processes, each keeping a durable cursor under its
 * own name.
 *
 * Durability contract: spool_append() only writes a frame into the page cache; spool_sync() makes
 * every record appended before it durable with one fdatasync and publishes the durable count.
 * Acknowledge record i to anyone only once spool_durable() > i. Readers never see a record
 * before it is durable.
 *
 * Threads: one thread calls spool_append(); one other thread (a committer) may call spool_sync(),
 * spool_durable() and spool_count() at the same time. spool_open() and spool_close() must not
 * race with anything. A reader is used by one thread at a time.
 *
 * Errors are the negative codes of common/err.h. When a call reports TIP_ECORRUPT (or
 * TIP_EVERSION, TIP_EOVERSIZE or TIP_ENOTFOUND on a record), the struct spool_fault it was given
 * names the file and byte offset; a damaged record is never skipped silently.
 */
#ifndef TIP_DIODE_SPOOL_H
#define TIP_DIODE_SPOOL_H

#include <stddef.h>
#include <stdint.h>

struct spool_opts {
	/* A segment rolls when the next frame would take it past this size (64 MiB by default). A
	 * record bigger than that gets a segment of its own. Range: 64 bytes .. 1 TiB. */
	size_t segment_bytes;
	/* Longest record accepted by spool_append() and returned by a reader (32 MiB by default).
	 * Range: 1 byte .. 1 GiB. A reader's buffer grows up to about this size. */
	size_t max_record;
};

/* The defaults above. */
struct spool_opts spool_opts_default(void);

/* Where stored data is bad: a file inside the spool directory and a byte offset in it. */
#define SPOOL_FAULT_FILE_MAX 48
#define SPOOL_NO_INDEX       UINT64_MAX
struct spool_fault {
	char file[SPOOL_FAULT_FILE_MAX]; /* e.g. "00000000000000000042.seg", "head", "cursor.sender" */
	uint64_t offset;                 /* start of the bad frame or header in that file */
	uint64_t index;                  /* spool index concerned, or SPOOL_NO_INDEX */
};

/* What spool_open() found and repaired. */
struct spool_recovery {
	int created;          /* 1 if the spool did not exist and was created */
	uint64_t head_before; /* durable count the head file held at open */
	uint64_t count;       /* records in the spool after recovery; all are durable */
	uint64_t bytes_cut;   /* bytes of torn tail removed from the last segment */
	int segment_reset;    /* 1 if a last segment with a torn header was rewritten empty */
};

struct spool;

/*
 * Opens dir as the spool's only writer, creating the directory (one level) and the spool if
 * needed, and recovers it: a torn tail is cut back to the last whole frame and everything found
 * whole is made durable. rec_out and fault may be NULL. Returns the spool (free with
 * spool_close()) or NULL with *err set: TIP_EBUSY if another writer holds the spool,
 * TIP_ECORRUPT (with *fault) if durable data is damaged, TIP_EVERSION for a segment of a newer
 * format, TIP_EINVAL for bad options, TIP_EIO or TIP_ENOMEM.
 */
struct spool *spool_open(const char *dir, const struct spool_opts *o, struct spool_recovery *rec_out,
                         struct spool_fault *fault, int *err);

/*
 * Appends one record (len may be 0) and stores its index in *index (may be NULL). Not durable
 * until a later spool_sync() returns. Returns TIP_OK, TIP_EOVERSIZE (len > max_record),
 * TIP_EINVAL, or TIP_EIO (the spool is unchanged unless it became unusable, see spool_sync()).
 */
int spool_append(struct spool *s, const void *rec, size_t len, uint64_t *index);

/*
 * Makes every record appended before the call durable (one fdatasync, plus a directory fsync
 * when a segment was created since the last sync), publishes the count to readers and stores it
 * in *durable (may be NULL). Returns TIP_OK or TIP_EIO. After a failed sync the spool refuses
 * all further appends and syncs with TIP_EIO: whether the data reached the disk is unknown, so
 * the process should close it and reopen it, which re-runs recovery.
 */
int spool_sync(struct spool *s, uint64_t *durable);

/* Records appended so far (the next index). */
uint64_t spool_count(const struct spool *s);
/* Records known to be durable: those with index < this value. */
uint64_t spool_durable(const struct spool *s);

/* Syncs, releases the lock and frees. Returns the result of the final sync; NULL is TIP_OK. */
int spool_close(struct spool *s);

struct spool_reader;

/*
 * Opens a reader of the spool in dir under name ([A-Za-z0-9_-]{1,32}). Its position starts at
 * the durable cursor in <dir>/cursor.<name> (0 if there is none). Only one process may hold a
 * given name (TIP_EBUSY). o may be NULL (defaults; only max_record matters). Returns NULL with
 * *err: TIP_EINVAL (bad name or options), TIP_ENOTFOUND (no such directory), TIP_ECORRUPT with
 * *fault (damaged cursor file), TIP_EIO, TIP_ENOMEM.
 */
struct spool_reader *spool_reader_open(const char *dir, const char *name, const struct spool_opts *o,
                                       struct spool_fault *fault, int *err);

/*
 * Reads the record at the reader's position and advances it. Returns 1 with *rec (valid until
 * the next call on this reader), *len and *index (may be NULL) set; 0 if no durable record is
 * there yet; or a negative error with *fault (may be NULL) set: TIP_ECORRUPT (damaged frame,
 * header or missing segment), TIP_EVERSION, TIP_EOVERSIZE (a whole record longer than this
 * reader's max_record), TIP_ENOTFOUND (the segment holding the position was removed), TIP_EIO.
 * After an error the position is unchanged; seeking past the record is the caller's decision.
 */
int spool_reader_next(struct spool_reader *r, const uint8_t **rec, size_t *len, uint64_t *index,
                      struct spool_fault *fault);

/* Moves the position to index (<= the durable count) for re-reading or skipping. TIP_ERANGE beyond it. */
int spool_reader_seek(struct spool_reader *r, uint64_t index);

/*
 * Durably records next_index (<= the durable count) as this reader's cursor: written to a
 * temporary file, fsynced, renamed over cursor.<name>, directory fsynced. Does not move the
 * position. Returns TIP_OK, TIP_ERANGE or TIP_EIO.
 */
int spool_reader_commit(struct spool_reader *r, uint64_t next_index);

/* The index the next spool_reader_next() will return. */
uint64_t spool_reader_position(const struct spool_reader *r);

/* Re-reads the published durable count into *head. TIP_OK, TIP_ECORRUPT (with *fault), TIP_EIO. */
int spool_reader_head(struct spool_reader *r, uint64_t *head, struct spool_fault *fault);

/* NULL is safe. */
void spool_reader_close(struct spool_reader *r);

/*
 * The durable cursor of reader name in the spool in dir, read without opening the reader (its owner
 * may hold it): *next is 0 when the reader never committed one. TIP_OK, TIP_EINVAL (bad name),
 * TIP_ENOTFOUND (no such directory), TIP_ECORRUPT with *fault (damaged cursor file), TIP_EIO.
 */
int spool_cursor(const char *dir, const char *reader, uint64_t *next, struct spool_fault *fault);

/*
 * Retention (docs/operations.md, "Retention"): removes the whole segments of the spool in dir whose
 * records all lie below `below` (the caller's proof that every consumer and the auditors are done
 * with records [0, below)) and whose file was last written at least min_age_ms before now_ms. The
 * last segment, which the writer appends to, is never removed, nor a segment holding a record at or
 * past below. Runs beside the writer and readers positioned at or past below: a segment file is
 * removed whole, and neither opens it again. *st counts the segment files removed and kept.
 * TIP_OK, TIP_ENOTFOUND (no such directory), TIP_EIO (with errno).
 */
struct spool_prune_stats {
	uint64_t removed_bytes, kept_bytes;
	uint64_t removed_segments, kept_segments;
};
int spool_prune(const char *dir, uint64_t below, int64_t min_age_ms, int64_t now_ms,
                struct spool_prune_stats *st);

#endif
