/* textfile.c - replacing a small text file atomically; see textfile.h. */
#include "textfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_all(int fd, const char *text, size_t len)
{
	for (size_t done = 0; done < len;) {
		ssize_t w = write(fd, text + done, len - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		done += (size_t)w;
	}
	return 0;
}

/* Creates a fresh temporary file next to path: O_EXCL and O_NOFOLLOW, so a
 * name that someone else planted in a shared folder (a file or a link) is
 * never reused, only skipped. Returns the descriptor and fills tmp. */
static int open_fresh(const char *path, char *tmp, size_t size)
{
	for (int attempt = 0; attempt < 64; attempt++) {
		if (snprintf(tmp, size, "%s.tmp.%d.%d", path, (int)getpid(), attempt) >= (int)size)
			return -ENAMETOOLONG;
		int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd >= 0 || errno != EEXIST)
			return fd >= 0 ? fd : -errno;
	}
	return -EEXIST;
}

int textfile_write(const char *path, const char *text, size_t len)
{
	char tmp[4096];
	int fd = open_fresh(path, tmp, sizeof(tmp));
	if (fd < 0)
		return fd;
	fchmod(fd, 0644); /* whatever the umask */
	int err = write_all(fd, text, len);
	if (err == 0 && fsync(fd) != 0)
		err = -errno;
	if (close(fd) != 0 && err == 0)
		err = -errno;
	if (err == 0 && rename(tmp, path) != 0)
		err = -errno;
	if (err != 0)
		unlink(tmp);
	return err;
}
