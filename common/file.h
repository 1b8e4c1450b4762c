/*
 * Small file primitives every module needs the same way: bounded reads of a
 * whole file, and writes that a crash can never leave half done.
 */
#ifndef TIP_COMMON_FILE_H
#define TIP_COMMON_FILE_H

#include <stddef.h>
#include <sys/stat.h>

/* Opens path read-only; fills *st. Returns the fd, or TIP_ENOTFOUND, TIP_EIO, TIP_EFORMAT (not a regular
 * file). */
int file_open_regular(const char *path, struct stat *st);

/*
 * Reads the rest of fd into a new NUL-terminated heap buffer of *len bytes.
 * TIP_EOVERSIZE if there is more than cap, TIP_ENOMEM, TIP_EIO. The caller frees
 * (and wipes, for secrets) *out.
 */
int file_read_fd(int fd, size_t cap, char **out, size_t *len);

/* file_open_regular, then file_read_fd, then close. */
int file_read(const char *path, size_t cap, char **out, size_t *len);

/* fsyncs the directory holding path, so a name created or renamed there survives a crash. */
int file_fsync_parent(const char *path);

/*
 * Replaces path with data: a temporary file beside it, written, fsynced,
 * renamed over path, and the directory fsynced. Readers see the old or the new
 * content, never a mix. TIP_OK or TIP_EIO (the old file is left as it was).
 */
int file_write_atomic(const char *path, const void *data, size_t len, mode_t mode);

#endif
