/* gpufile.c - the per-GPU shared file; see gpufile.h and layout.h. */
#include "gpufile.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "mapguard.h"

static int fail(char *why, size_t whylen, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *why, size_t whylen, int err, const char *fmt, ...)
{
	if (why != NULL && whylen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return err;
}

int gpufile_name(const char *dir, const char *uuid, char *out, size_t len)
{
	char safe[CS_UUID_MAX];
	size_t n = 0;
	for (; uuid[n] != '\0' && n < sizeof(safe) - 1; n++) {
		char c = uuid[n];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || c == '-';
		safe[n] = ok ? c : '_';
	}
	safe[n] = '\0';
	int w = snprintf(out, len, "%s/gpu-%s.shm", dir, safe);
	return (w < 0 || (size_t)w >= len) ? -ENAMETOOLONG : 0;
}

/* The header of ABI x.0: later minors only append to it. */
#define HEADER_MIN_SIZE (offsetof(struct cs_header, reserved) + sizeof(uint32_t))

int gpufile_check(const struct cs_header *h, uint64_t file_size, const char *uuid, char *why,
		  size_t whylen)
{
	if (file_size < sizeof(struct cs_header))
		return fail(why, whylen, -EPROTO, "is truncated (%llu bytes)",
			    (unsigned long long)file_size);
	if (h->magic != CS_MAGIC)
		return fail(why, whylen, -EPROTO, "is not a cuslice file (bad magic)");
	if (h->abi != CS_ABI_VERSION)
		return fail(why, whylen, -EPROTO,
			    "was written by cuslice ABI %u, this library speaks ABI %u: processes "
			    "of the two versions are not fenced against each other",
			    h->abi, CS_ABI_VERSION);
	if (h->header_size < HEADER_MIN_SIZE || h->header_size > CS_SECTION ||
	    h->file_size != sizeof(struct cs_file) || h->members_max != CS_MEMBERS_MAX ||
	    h->member_size != CS_MEMBER_STRIDE || h->ring_offset != offsetof(struct cs_file, ring) ||
	    h->members_offset != offsetof(struct cs_file, members))
		return fail(why, whylen, -EPROTO, "has an inconsistent layout header");
	if (file_size < sizeof(struct cs_file))
		return fail(why, whylen, -EPROTO, "has size %llu, expected %zu",
			    (unsigned long long)file_size, sizeof(struct cs_file));
	if (memchr(h->uuid, '\0', sizeof(h->uuid)) == NULL)
		return fail(why, whylen, -EPROTO, "has an unterminated GPU UUID");
	if (uuid != NULL && strcmp(h->uuid, uuid) != 0)
		return fail(why, whylen, -EPROTO, "belongs to GPU %s, not %s", h->uuid, uuid);
	return 0;
}

static void init_file(struct cs_file *f, const char *uuid, uint32_t slice_ms)
{
	f->header.abi = CS_ABI_VERSION;
	f->header.header_size = sizeof(struct cs_header);
	f->header.file_size = sizeof(struct cs_file);
	f->header.members_max = CS_MEMBERS_MAX;
	f->header.member_size = CS_MEMBER_STRIDE;
	f->header.ring_offset = offsetof(struct cs_file, ring);
	f->header.members_offset = offsetof(struct cs_file, members);
	snprintf(f->header.uuid, sizeof(f->header.uuid), "%s", uuid);
	f->header.created_unix_ns = clock_ns(CLOCK_REALTIME);
	f->header.abi_minor = CS_ABI_MINOR;
	atomic_store(&f->ring.token, TOKEN_MAKE(0, CS_NO_HOLDER));
	f->ring.slice_ms = slice_ms;
	f->header.magic = CS_MAGIC;
}

/* Refuses anything but a regular file: a FIFO, device or folder named like
 * a ring file must not block or confuse its opener. */
static int check_type(const struct stat *st, char *why, size_t whylen)
{
	if (S_ISREG(st->st_mode))
		return 0;
	const char *kind = S_ISFIFO(st->st_mode)  ? "a FIFO"
			   : S_ISDIR(st->st_mode) ? "a folder"
			   : S_ISSOCK(st->st_mode) ? "a socket"
			   : S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode) ? "a device"
									  : "not a plain file";
	return fail(why, whylen, -EPROTO, "is %s, not a regular file: something other than "
		    "cuslice put it there", kind);
}

/* Checks fd's type, size and header; fills *head. */
static int check_fd(int fd, const char *uuid, struct cs_header *head, char *why, size_t whylen)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return fail(why, whylen, -errno, "cannot be examined: %s", strerror(errno));
	int err = check_type(&st, why, whylen);
	if (err != 0)
		return err;
	if ((uint64_t)st.st_size < sizeof(*head))
		return fail(why, whylen, -EPROTO, "is truncated (%lld bytes)",
			    (long long)st.st_size);
	if (pread(fd, head, sizeof(*head), 0) != (ssize_t)sizeof(*head))
		return fail(why, whylen, -EIO, "cannot be read");
	return gpufile_check(head, (uint64_t)st.st_size, uuid, why, whylen);
}

static int map_fd(struct gpufile *g, int fd, const char *uuid, char *why, size_t whylen)
{
	struct cs_header head;
	int err = check_fd(fd, uuid, &head, why, whylen);
	if (err != 0)
		return err;
	void *map = mmap(NULL, sizeof(struct cs_file), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return fail(why, whylen, -errno, "cannot be mapped: %s", strerror(errno));
	/* Without the guard (no free entry: more files than devices) the
	 * process still works; only a truncation would then kill it. */
	mapguard_add(map, sizeof(struct cs_file), fd, &head);
	g->map = map;
	g->fd = fd;
	g->writable = 1;
	return 0;
}

/* The mode of a new file: writable by whoever may write the folder, so that
 * the folder's permissions say who is a member. */
static mode_t file_mode(const struct stat *dir)
{
	if (dir->st_mode & S_IWOTH)
		return 0666;
	return (dir->st_mode & S_IWGRP) ? 0660 : 0600;
}

/* Creates the file complete under a temporary name, then links it into
 * place. Returns 0 when this process's file won, -EEXIST when another's
 * did, or another negative errno. */
static int create_file(int dfd, const char *name, const struct stat *dst, const char *uuid,
		       uint32_t slice_ms, char *why, size_t whylen)
{
	mode_t mode = file_mode(dst);
	char tmp[400];
	snprintf(tmp, sizeof(tmp), "%s.new.%d", name, (int)getpid());
	int fd = openat(dfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return fail(why, whylen, -errno, "cannot be created: %s", strerror(errno));
	int err = 0;
	fchmod(fd, mode); /* open's mode is filtered by the umask */
	if (mode == 0660 && fchown(fd, (uid_t)-1, dst->st_gid) != 0) {
		/* Not in the folder's group: its members could not write it. */
		err = fail(why, whylen, -EPERM, "cannot be created for the group of its folder "
			   "(gid %u), which this process is not in", (unsigned)dst->st_gid);
		goto remove_tmp;
	}
	if (ftruncate(fd, sizeof(struct cs_file)) != 0) {
		err = fail(why, whylen, -errno, "cannot be sized: %s", strerror(errno));
		goto remove_tmp;
	}
	void *map = mmap(NULL, sizeof(struct cs_file), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		err = fail(why, whylen, -errno, "cannot be mapped: %s", strerror(errno));
		goto remove_tmp;
	}
	init_file(map, uuid, slice_ms);
	munmap(map, sizeof(struct cs_file));
	if (linkat(dfd, tmp, dfd, name, 0) != 0)
		err = errno == EEXIST ? -EEXIST
				      : fail(why, whylen, -errno, "cannot be linked: %s",
					     strerror(errno));
remove_tmp:
	unlinkat(dfd, tmp, 0);
	close(fd);
	return err;
}

static int make_dir(const char *dir, char *why, size_t whylen)
{
	if (mkdir(dir, 01777) == 0) {
		chmod(dir, 01777); /* mkdir's mode is filtered by the umask */
		return 0;
	}
	if (errno == EEXIST)
		return 0;
	return fail(why, whylen, -errno, "cannot be used: its folder %s cannot be created: %s",
		    dir, strerror(errno));
}

/* Why the folder that open(O_NOFOLLOW | O_DIRECTORY) refused is unusable. */
static int dir_open_failed(const char *dir, int err, char *why, size_t whylen)
{
	struct stat st;
	if (lstat(dir, &st) == 0 && S_ISLNK(st.st_mode))
		return fail(why, whylen, -ELOOP, "cannot be used: its folder %s is a symbolic link, "
			    "which cuslice does not follow (whoever made it could point it at "
			    "another ring): set CUSLICE_DIR to the real folder", dir);
	if (err == ENOTDIR)
		return fail(why, whylen, -ENOTDIR, "cannot be used: %s is not a folder", dir);
	return fail(why, whylen, -err, "cannot be used: its folder %s cannot be opened: %s", dir,
		    strerror(err));
}

int gpufile_open_dir(const char *dir, struct stat *st, char *why, size_t whylen)
{
	int dfd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return dir_open_failed(dir, errno, why, whylen);
	int err = 0;
	if (fstat(dfd, st) != 0)
		err = dir_open_failed(dir, errno, why, whylen);
	else if (!S_ISDIR(st->st_mode))
		err = dir_open_failed(dir, ENOTDIR, why, whylen);
	else if (st->st_uid != 0 && st->st_uid != geteuid())
		err = fail(why, whylen, -EPERM, "cannot be used: its folder %s belongs to uid %u, "
			   "neither root nor this process's user (uid %u), and that user could "
			   "replace the files in it: create the folder as root (mkdir -m 1777 %s) "
			   "or use a folder of your own", dir, (unsigned)st->st_uid,
			   (unsigned)geteuid(), dir);
	else if ((st->st_mode & S_IWOTH) && !(st->st_mode & S_ISVTX))
		err = fail(why, whylen, -EPERM, "cannot be used: its folder %s is writable by every "
			   "user but has no sticky bit, so anyone can delete or replace the files "
			   "in it: chmod 1777 %s", dir, dir);
	if (err != 0) {
		close(dfd);
		return err;
	}
	return dfd;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash != NULL ? slash + 1 : path;
}

static int open_in(struct gpufile *g, int dfd, const struct stat *dst, const char *uuid,
		   uint32_t slice_ms, char *why, size_t whylen)
{
	const char *name = base_name(g->path);
	for (int attempt = 0; attempt < 3; attempt++) {
		int fd = openat(dfd, name, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd >= 0) {
			int err = map_fd(g, fd, uuid, why, whylen);
			if (err != 0)
				close(fd);
			return err;
		}
		if (errno == ELOOP)
			return fail(why, whylen, -ELOOP, "is a symbolic link, which cuslice does not "
				    "follow (it could lead to another ring)");
		if (errno != ENOENT)
			return fail(why, whylen, -errno, "cannot be opened: %s", strerror(errno));
		int err = create_file(dfd, name, dst, uuid, slice_ms, why, whylen);
		if (err != 0 && err != -EEXIST)
			return err;
	}
	return fail(why, whylen, -EAGAIN, "keeps disappearing while being opened");
}

int gpufile_open(struct gpufile *g, const char *dir, const char *uuid, uint32_t slice_ms,
		 char *why, size_t whylen)
{
	memset(g, 0, sizeof(*g));
	g->fd = -1;
	g->own_slot = -1;
	if (gpufile_name(dir, uuid, g->path, sizeof(g->path)) != 0)
		return fail(why, whylen, -ENAMETOOLONG, "CUSLICE_DIR %s is too long", dir);
	int err = make_dir(dir, why, whylen);
	if (err != 0)
		return err;
	struct stat dst;
	int dfd = gpufile_open_dir(dir, &dst, why, whylen);
	if (dfd < 0)
		return dfd;
	err = open_in(g, dfd, &dst, uuid, slice_ms, why, whylen);
	close(dfd);
	return err;
}

int gpufile_open_readonly(struct gpufile *g, const char *path, char *why, size_t whylen)
{
	memset(g, 0, sizeof(*g));
	g->fd = -1;
	g->own_slot = -1;
	snprintf(g->path, sizeof(g->path), "%s", path);
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 && errno == ELOOP)
		return fail(why, whylen, -ELOOP, "is a symbolic link, which cuslice does not follow");
	if (fd < 0)
		return fail(why, whylen, -errno, "cannot be opened: %s", strerror(errno));
	struct cs_header head;
	int err = check_fd(fd, NULL, &head, why, whylen);
	g->map = err == 0 ? aligned_alloc(alignof(struct cs_file), sizeof(struct cs_file)) : NULL;
	if (err == 0 && g->map == NULL)
		err = fail(why, whylen, -ENOMEM, "cannot be read: out of memory");
	g->fd = fd;
	g->copy = 1;
	if (err == 0)
		err = gpufile_refresh(g, why, whylen);
	if (err != 0)
		gpufile_close(g);
	return err;
}

int gpufile_refresh(const struct gpufile *g, char *why, size_t whylen)
{
	if (!g->copy)
		return 0;
	size_t got = 0;
	while (got < sizeof(struct cs_file)) {
		ssize_t n = pread(g->fd, (char *)g->map + got, sizeof(struct cs_file) - got,
				  (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got < sizeof(struct cs_file)) {
		memset((char *)g->map + got, 0, sizeof(struct cs_file) - got);
		return fail(why, whylen, -EPROTO, "shrank to %zu bytes while being read", got);
	}
	return gpufile_check(&g->map->header, got, NULL, why, whylen);
}

void gpufile_close(struct gpufile *g)
{
	if (g->map != NULL && g->copy) {
		free(g->map);
	} else if (g->map != NULL) {
		mapguard_remove(g->map);
		munmap(g->map, sizeof(struct cs_file));
	}
	g->copy = 0;
	if (g->fd >= 0)
		close(g->fd);
	g->map = NULL;
	g->fd = -1;
}
