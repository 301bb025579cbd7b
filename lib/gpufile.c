/* gpufile.c - the per-GPU shared file; see gpufile.h and layout.h. */
#include "gpufile.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

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

static int map_fd(struct gpufile *g, int fd, int writable, const char *uuid, char *why,
		  size_t whylen)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return fail(why, whylen, -errno, "cannot be examined: %s", strerror(errno));
	if ((uint64_t)st.st_size < sizeof(struct cs_header))
		return fail(why, whylen, -EPROTO, "is truncated (%lld bytes)",
			    (long long)st.st_size);
	struct cs_header head;
	if (pread(fd, &head, sizeof(head), 0) != (ssize_t)sizeof(head))
		return fail(why, whylen, -EIO, "cannot be read");
	int err = gpufile_check(&head, (uint64_t)st.st_size, uuid, why, whylen);
	if (err != 0)
		return err;
	int prot = PROT_READ | (writable ? PROT_WRITE : 0);
	void *map = mmap(NULL, sizeof(struct cs_file), prot, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return fail(why, whylen, -errno, "cannot be mapped: %s", strerror(errno));
	g->map = map;
	g->fd = fd;
	g->writable = writable;
	return 0;
}

/* Creates the file complete under a temporary name, then links it into
 * place. Returns 0 when this process's file won, -EEXIST when another's
 * did, or another negative errno. */
static int create_file(const char *path, const char *uuid, uint32_t slice_ms, char *why,
		       size_t whylen)
{
	char tmp[400];
	snprintf(tmp, sizeof(tmp), "%s.new.%d", path, (int)getpid());
	int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0)
		return fail(why, whylen, -errno, "cannot be created: %s", strerror(errno));
	int err = 0;
	fchmod(fd, 0666);
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
	if (link(tmp, path) != 0)
		err = errno == EEXIST ? -EEXIST
				      : fail(why, whylen, -errno, "cannot be linked: %s",
					     strerror(errno));
remove_tmp:
	unlink(tmp);
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
	return fail(why, whylen, -errno, "folder %s cannot be created: %s", dir, strerror(errno));
}

int gpufile_open(struct gpufile *g, const char *dir, const char *uuid, uint32_t slice_ms,
		 char *why, size_t whylen)
{
	g->fd = -1;
	g->own_slot = -1;
	g->map = NULL;
	if (gpufile_name(dir, uuid, g->path, sizeof(g->path)) != 0)
		return fail(why, whylen, -ENAMETOOLONG, "CUSLICE_DIR %s is too long", dir);
	int err = make_dir(dir, why, whylen);
	if (err != 0)
		return err;
	for (int attempt = 0; attempt < 3; attempt++) {
		int fd = open(g->path, O_RDWR | O_CLOEXEC);
		if (fd >= 0) {
			err = map_fd(g, fd, 1, uuid, why, whylen);
			if (err != 0)
				close(fd);
			return err;
		}
		if (errno != ENOENT)
			return fail(why, whylen, -errno, "cannot be opened: %s", strerror(errno));
		err = create_file(g->path, uuid, slice_ms, why, whylen);
		if (err != 0 && err != -EEXIST)
			return err;
	}
	return fail(why, whylen, -EAGAIN, "keeps disappearing while being opened");
}

int gpufile_open_readonly(struct gpufile *g, const char *path, char *why, size_t whylen)
{
	g->fd = -1;
	g->own_slot = -1;
	g->map = NULL;
	snprintf(g->path, sizeof(g->path), "%s", path);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(why, whylen, -errno, "cannot be opened: %s", strerror(errno));
	int err = map_fd(g, fd, 0, NULL, why, whylen);
	if (err != 0)
		close(fd);
	return err;
}

void gpufile_close(struct gpufile *g)
{
	if (g->map != NULL)
		munmap(g->map, sizeof(struct cs_file));
	if (g->fd >= 0)
		close(g->fd);
	g->map = NULL;
	g->fd = -1;
}
