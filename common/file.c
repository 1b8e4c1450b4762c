#include "common/file.h"

#include "common/err.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int file_open_regular(const char *path, struct stat *st)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return errno == ENOENT ? TIP_ENOTFOUND : TIP_EIO;
	if (fstat(fd, st) != 0) {
		close(fd);
		return TIP_EIO;
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return TIP_EFORMAT;
	}
	return fd;
}

int file_read_fd(int fd, size_t cap, char **out, size_t *len)
{
	size_t have = 0, size = cap < 4096 ? cap + 1 : 4096;
	char *buf = malloc(size + 1);

	*out = NULL;
	if (!buf)
		return TIP_ENOMEM;
	for (;;) {
		ssize_t r;

		if (have == size) {
			size_t bigger = size * 2 > cap + 1 ? cap + 1 : size * 2;
			char *nb;

			if (bigger == size)
				break; /* read cap + 1 bytes: too long */
			if (!(nb = realloc(buf, bigger + 1))) {
				free(buf);
				return TIP_ENOMEM;
			}
			buf = nb;
			size = bigger;
		}
		r = read(fd, buf + have, size - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			return TIP_EIO;
		}
		if (r == 0)
			break;
		have += (size_t)r;
	}
	if (have > cap) {
		free(buf);
		return TIP_EOVERSIZE;
	}
	buf[have] = '\0';
	*out = buf;
	*len = have;
	return TIP_OK;
}

int file_read(const char *path, size_t cap, char **out, size_t *len)
{
	struct stat st;
	int fd = file_open_regular(path, &st), rc;

	*out = NULL;
	if (fd < 0)
		return fd;
	rc = (uint64_t)st.st_size > cap ? TIP_EOVERSIZE : file_read_fd(fd, cap, out, len);
	close(fd);
	return rc;
}

int file_fsync_parent(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 1;
	int fd, rc = TIP_OK;

	if (n >= sizeof(dir))
		return TIP_EINVAL;
	if (!slash)
		dir[0] = '.';
	else if (n == 0)
		dir[n++] = '/';
	else
		memcpy(dir, path, n);
	dir[n] = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return TIP_EIO;
	if (fsync(fd) != 0)
		rc = TIP_EIO;
	close(fd);
	return rc;
}

int file_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[PATH_MAX];
	const char *p = data;
	int fd, n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);

	if (n < 0 || (size_t)n >= sizeof(tmp))
		return TIP_EINVAL;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return TIP_EIO;
	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		p += w;
		len -= (size_t)w;
	}
	if (fsync(fd) != 0)
		goto fail;
	close(fd);
	fd = -1;
	if (rename(tmp, path) != 0)
		goto fail;
	return file_fsync_parent(path);
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return TIP_EIO;
}
