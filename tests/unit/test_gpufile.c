/* test_gpufile.c - lib/gpufile.c: creating, checking and mapping the
 * per-GPU shared file. Every test works in its own temporary folder. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gpufile.h"

#define UUID "GPU-8f3a1234-5678-9abc-def0-123456789abc"
#define OTHER_UUID "GPU-00000000-1111-2222-3333-444444444444"

static char root[64];   /* the test's temporary folder */
static char dir[128];   /* CUSLICE_DIR inside it, not created yet */

static void make_root(void)
{
	snprintf(root, sizeof(root), "/tmp/cuslice-test-gpufile-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(root));
	snprintf(dir, sizeof(dir), "%s/shm", root);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st, (void)type, (void)ftw;
	return remove(path);
}

static void remove_root(void)
{
	if (root[0] != '\0') {
		chmod(root, 0755);
		nftw(root, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	}
}

static int dir_entries(const char *d)
{
	DIR *h = opendir(d);
	ck_assert_ptr_nonnull(h);
	int n = 0;
	for (struct dirent *e; (e = readdir(h)) != NULL;)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(h);
	return n;
}

static void file_path(const char *uuid, char *out, size_t len)
{
	ck_assert_int_eq(gpufile_name(dir, uuid, out, len), 0);
}

/* A whole file's bytes and times, to show a file was left alone. */
struct snapshot {
	char *bytes;
	size_t size;
	struct stat st;
};

static void snap(const char *path, struct snapshot *s)
{
	ck_assert_int_eq(stat(path, &s->st), 0);
	s->size = (size_t)s->st.st_size;
	s->bytes = malloc(s->size + 1);
	int fd = open(path, O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(read(fd, s->bytes, s->size), (ssize_t)s->size);
	close(fd);
}

static void expect_unchanged(const char *path, const struct snapshot *before)
{
	struct snapshot after;
	snap(path, &after);
	ck_assert_uint_eq(after.size, before->size);
	ck_assert_msg(memcmp(after.bytes, before->bytes, after.size) == 0, "%s was modified",
		      path);
	ck_assert_int_eq(after.st.st_ino, before->st.st_ino);
	ck_assert_int_eq(after.st.st_mtim.tv_sec, before->st.st_mtim.tv_sec);
	ck_assert_int_eq(after.st.st_mtim.tv_nsec, before->st.st_mtim.tv_nsec);
	free(after.bytes);
}

static void write_bytes(const char *path, const void *bytes, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, bytes, n), (ssize_t)n);
	close(fd);
}

/* Creates a good file for UUID, then patches n bytes at offset. */
static void make_patched(const char *path, size_t offset, const void *bytes, size_t n)
{
	struct gpufile g;
	char why[200];
	ck_assert_int_eq(gpufile_open(&g, dir, UUID, 20, why, sizeof(why)), 0);
	gpufile_close(&g);
	int fd = open(path, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, bytes, n, (off_t)offset), (ssize_t)n);
	close(fd);
}

/* Opening must fail with -EPROTO, a reason containing want, *g closed, and
 * the file exactly as it was. */
static void expect_rejected(const char *uuid, const char *want)
{
	char path[256], why[200] = "";
	file_path(uuid, path, sizeof(path));
	struct snapshot before;
	snap(path, &before);
	struct gpufile g;
	memset(&g, 0x5a, sizeof(g));
	int err = gpufile_open(&g, dir, uuid, 20, why, sizeof(why));
	ck_assert_msg(err == -EPROTO, "err %d (%s), want -EPROTO", err, why);
	ck_assert_msg(strstr(why, want) != NULL, "reason \"%s\" lacks \"%s\"", why, want);
	ck_assert_int_eq(g.fd, -1);
	ck_assert_ptr_null(g.map);
	expect_unchanged(path, &before);
	ck_assert_int_eq(dir_entries(dir), 1);

	/* The read-only open used by the CLI refuses it the same way. */
	err = gpufile_open_readonly(&g, path, why, sizeof(why));
	ck_assert_int_eq(err, -EPROTO);
	ck_assert_int_eq(g.fd, -1);
	expect_unchanged(path, &before);
	free(before.bytes);
}

/* ---- creating and reopening ---- */

START_TEST(create_new_file)
{
	make_root();
	struct gpufile g;
	char why[200] = "";
	ck_assert_int_eq(gpufile_open(&g, dir, UUID, 33, why, sizeof(why)), 0);
	ck_assert_int_ge(g.fd, 0);
	ck_assert_int_eq(g.writable, 1);
	ck_assert_int_eq(g.own_slot, -1);
	ck_assert_ptr_nonnull(g.map);

	char path[256];
	file_path(UUID, path, sizeof(path));
	ck_assert_str_eq(g.path, path);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq((uint64_t)st.st_size, sizeof(struct cs_file));
	ck_assert_int_eq(st.st_mode & 0777, 0666);
	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 01777);

	const struct cs_header *h = &g.map->header;
	ck_assert(h->magic == CS_MAGIC);
	ck_assert_uint_eq(h->abi, CS_ABI_VERSION);
	ck_assert_uint_eq(h->header_size, sizeof(struct cs_header));
	ck_assert_uint_eq(h->file_size, sizeof(struct cs_file));
	ck_assert_uint_eq(h->members_max, CS_MEMBERS_MAX);
	ck_assert_uint_eq(h->member_size, sizeof(struct cs_member));
	ck_assert_uint_eq(h->ring_offset, offsetof(struct cs_file, ring));
	ck_assert_uint_eq(h->members_offset, offsetof(struct cs_file, members));
	ck_assert_str_eq(h->uuid, UUID);
	ck_assert(h->created_unix_ns > UINT64_C(1600000000) * 1000000000u);
	ck_assert(atomic_load(&g.map->ring.token) == TOKEN_MAKE(0, CS_NO_HOLDER));
	ck_assert_uint_eq(g.map->ring.slice_ms, 33);
	for (unsigned i = 0; i < CS_MEMBERS_MAX; i++)
		ck_assert_uint_eq(atomic_load(&g.map->members[i].state), MEMBER_FREE);
	ck_assert_int_eq(gpufile_check(h, sizeof(struct cs_file), UUID, why, sizeof(why)), 0);
	ck_assert_int_eq(dir_entries(dir), 1); /* no temporary left behind */

	gpufile_close(&g);
	ck_assert_int_eq(g.fd, -1);
	ck_assert_ptr_null(g.map);
	gpufile_close(&g); /* twice is harmless */
}
END_TEST

START_TEST(reopen_existing_file)
{
	make_root();
	struct gpufile a, b;
	char why[200];
	ck_assert_int_eq(gpufile_open(&a, dir, UUID, 20, why, sizeof(why)), 0);
	ck_assert_int_eq(gpufile_open(&b, dir, UUID, 99, why, sizeof(why)), 0);
	struct stat sa, sb;
	ck_assert_int_eq(fstat(a.fd, &sa), 0);
	ck_assert_int_eq(fstat(b.fd, &sb), 0);
	ck_assert_int_eq(sa.st_ino, sb.st_ino);
	ck_assert(a.map != b.map);
	/* The creator's settings stay; the file is not rewritten. */
	ck_assert_uint_eq(b.map->ring.slice_ms, 20);
	ck_assert(a.map->header.created_unix_ns == b.map->header.created_unix_ns);
	/* Both maps are the same shared memory. */
	atomic_store(&a.map->ring.handoffs, 12345);
	ck_assert(atomic_load(&b.map->ring.handoffs) == 12345);
	gpufile_close(&a);
	gpufile_close(&b);
}
END_TEST

START_TEST(one_file_per_gpu)
{
	make_root();
	struct gpufile a, b;
	char why[200];
	ck_assert_int_eq(gpufile_open(&a, dir, UUID, 20, why, sizeof(why)), 0);
	ck_assert_int_eq(gpufile_open(&b, dir, OTHER_UUID, 20, why, sizeof(why)), 0);
	ck_assert_str_ne(a.path, b.path);
	ck_assert_str_eq(b.map->header.uuid, OTHER_UUID);
	ck_assert_int_eq(dir_entries(dir), 2);
	gpufile_close(&a);
	gpufile_close(&b);
}
END_TEST

START_TEST(stale_temporary_is_ignored)
{
	/* A creator that died between creating and linking its temporary. */
	make_root();
	ck_assert_int_eq(mkdir(dir, 01777), 0);
	char path[256], stale[300];
	file_path(UUID, path, sizeof(path));
	snprintf(stale, sizeof(stale), "%s.new.%d", path, 999999);
	write_bytes(stale, "half", 4);
	struct gpufile g;
	char why[200];
	ck_assert_int_eq(gpufile_open(&g, dir, UUID, 20, why, sizeof(why)), 0);
	ck_assert_str_eq(g.map->header.uuid, UUID);
	gpufile_close(&g);
}
END_TEST

enum { RACERS = 16 };

struct race_result {
	int err;
	ino_t ino;
	uint64_t created_ns;
};

START_TEST(concurrent_create_race)
{
	make_root();
	int start[2], results[2];
	ck_assert_int_eq(pipe(start), 0);
	ck_assert_int_eq(pipe(results), 0);
	pid_t pids[RACERS];
	for (int i = 0; i < RACERS; i++) {
		pids[i] = fork();
		ck_assert_int_ge(pids[i], 0);
		if (pids[i] == 0) {
			close(start[1]);
			char c;
			while (read(start[0], &c, 1) > 0) {
			} /* every child wakes when the parent closes the pipe */
			struct race_result r = { 0 };
			struct gpufile g;
			char why[200];
			r.err = gpufile_open(&g, dir, UUID, 20, why, sizeof(why));
			if (r.err == 0) {
				struct stat st;
				fstat(g.fd, &st);
				r.ino = st.st_ino;
				r.created_ns = g.map->header.created_unix_ns;
			}
			if (write(results[1], &r, sizeof(r)) != (ssize_t)sizeof(r))
				_exit(2);
			_exit(0);
		}
	}
	close(start[0]);
	close(start[1]);
	close(results[1]);
	struct race_result r[RACERS];
	for (int i = 0; i < RACERS; i++) {
		ck_assert_int_eq(read(results[0], &r[i], sizeof(r[i])), (ssize_t)sizeof(r[i]));
		ck_assert_msg(r[i].err == 0, "racer %d failed: %d", i, r[i].err);
	}
	for (int i = 0; i < RACERS; i++) {
		int status;
		ck_assert_int_eq(waitpid(pids[i], &status, 0), pids[i]);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	close(results[0]);
	char path[256];
	file_path(UUID, path, sizeof(path));
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	for (int i = 0; i < RACERS; i++) {
		ck_assert_int_eq(r[i].ino, st.st_ino);
		ck_assert(r[i].created_ns == r[0].created_ns);
	}
	ck_assert_int_eq(dir_entries(dir), 1);
	struct gpufile g;
	char why[200];
	ck_assert_int_eq(gpufile_open_readonly(&g, path, why, sizeof(why)), 0);
	ck_assert_str_eq(g.map->header.uuid, UUID);
	gpufile_close(&g);
}
END_TEST

/* ---- files that are refused ---- */

START_TEST(garbage_file)
{
	make_root();
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	char path[256];
	file_path(UUID, path, sizeof(path));
	size_t n = sizeof(struct cs_file);
	char *junk = malloc(n);
	for (size_t i = 0; i < n; i++)
		junk[i] = (char)(i * 7 + 3);
	write_bytes(path, junk, n);
	free(junk);
	expect_rejected(UUID, "bad magic");
}
END_TEST

START_TEST(truncated_file)
{
	make_root();
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	char path[256];
	file_path(UUID, path, sizeof(path));
	write_bytes(path, "CUSLICE1", 8);
	expect_rejected(UUID, "truncated");
}
END_TEST

START_TEST(empty_file)
{
	make_root();
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	char path[256];
	file_path(UUID, path, sizeof(path));
	write_bytes(path, "", 0);
	expect_rejected(UUID, "truncated (0 bytes)");
}
END_TEST

START_TEST(header_only_file)
{
	/* A good header whose body was cut off. */
	make_root();
	char path[256];
	file_path(UUID, path, sizeof(path));
	make_patched(path, 0, "", 0);
	ck_assert_int_eq(truncate(path, 4096), 0);
	expect_rejected(UUID, "has size 4096");
}
END_TEST

START_TEST(wrong_magic)
{
	make_root();
	char path[256];
	file_path(UUID, path, sizeof(path));
	uint64_t magic = CS_MAGIC ^ 1;
	make_patched(path, offsetof(struct cs_header, magic), &magic, sizeof(magic));
	expect_rejected(UUID, "bad magic");
}
END_TEST

START_TEST(wrong_abi)
{
	make_root();
	char path[256];
	file_path(UUID, path, sizeof(path));
	uint32_t abi = CS_ABI_VERSION + 1;
	make_patched(path, offsetof(struct cs_header, abi), &abi, sizeof(abi));
	char want[64];
	snprintf(want, sizeof(want), "ABI %u, this library speaks ABI %u", CS_ABI_VERSION + 1,
		 CS_ABI_VERSION);
	expect_rejected(UUID, want);
}
END_TEST

START_TEST(wrong_layout)
{
	make_root();
	char path[256];
	file_path(UUID, path, sizeof(path));
	uint32_t member_size = sizeof(struct cs_member) + 64;
	make_patched(path, offsetof(struct cs_header, member_size), &member_size,
		     sizeof(member_size));
	expect_rejected(UUID, "inconsistent layout");
}
END_TEST

START_TEST(grown_file)
{
	/* A file grown past its size (by `truncate` or a newer tool): the tail
	 * is never mapped, so the file stays usable. */
	make_root();
	char path[256], why[200] = "";
	file_path(UUID, path, sizeof(path));
	make_patched(path, 0, "", 0);
	ck_assert_int_eq(truncate(path, (off_t)sizeof(struct cs_file) + 4096), 0);
	struct gpufile g;
	ck_assert_msg(gpufile_open(&g, dir, UUID, 20, why, sizeof(why)) == 0, "%s", why);
	gpufile_close(&g);
}
END_TEST

START_TEST(newer_minor_is_accepted)
{
	/* A file created by a later minor of this ABI: a longer header and a
	 * higher minor. Libraries of one major share it. */
	make_root();
	char path[256], why[200] = "";
	file_path(UUID, path, sizeof(path));
	uint32_t grown[2] = { (uint32_t)sizeof(struct cs_header) + 64, 0 };
	make_patched(path, offsetof(struct cs_header, header_size), &grown[0], sizeof(grown[0]));
	uint32_t minor = CS_ABI_MINOR + 3;
	int fd = open(path, O_WRONLY);
	ck_assert_int_eq(pwrite(fd, &minor, sizeof(minor), offsetof(struct cs_header, abi_minor)),
			 (ssize_t)sizeof(minor));
	close(fd);
	struct gpufile g;
	ck_assert_msg(gpufile_open(&g, dir, UUID, 20, why, sizeof(why)) == 0, "%s", why);
	ck_assert_uint_eq(g.map->header.abi_minor, CS_ABI_MINOR + 3);
	gpufile_close(&g);
}
END_TEST

START_TEST(short_header_is_refused)
{
	make_root();
	char path[256];
	file_path(UUID, path, sizeof(path));
	uint32_t size = 64; /* shorter than ABI x.0's header */
	make_patched(path, offsetof(struct cs_header, header_size), &size, sizeof(size));
	expect_rejected(UUID, "inconsistent layout");
}
END_TEST

START_TEST(unterminated_uuid)
{
	make_root();
	char path[256];
	file_path(UUID, path, sizeof(path));
	char fill[CS_UUID_MAX];
	memset(fill, 'F', sizeof(fill));
	make_patched(path, offsetof(struct cs_header, uuid), fill, sizeof(fill));
	expect_rejected(UUID, "unterminated");
}
END_TEST

START_TEST(other_gpus_file)
{
	/* A file for another GPU copied (or linked) under this GPU's name. */
	make_root();
	struct gpufile g;
	char why[200];
	ck_assert_int_eq(gpufile_open(&g, dir, OTHER_UUID, 20, why, sizeof(why)), 0);
	char mine[256];
	file_path(UUID, mine, sizeof(mine));
	ck_assert_int_eq(link(g.path, mine), 0);
	gpufile_close(&g);
	struct snapshot before;
	snap(mine, &before);
	memset(&g, 0, sizeof(g));
	int err = gpufile_open(&g, dir, UUID, 20, why, sizeof(why));
	ck_assert_int_eq(err, -EPROTO);
	ck_assert_ptr_nonnull(strstr(why, "belongs to GPU " OTHER_UUID));
	ck_assert_ptr_nonnull(strstr(why, "not " UUID));
	ck_assert_int_eq(g.fd, -1);
	expect_unchanged(mine, &before);
	free(before.bytes);
	/* Read-only opening accepts any GPU (the CLI lists every file). */
	ck_assert_int_eq(gpufile_open_readonly(&g, mine, why, sizeof(why)), 0);
	ck_assert_str_eq(g.map->header.uuid, OTHER_UUID);
	gpufile_close(&g);
}
END_TEST

START_TEST(check_header_directly)
{
	struct cs_header h;
	memset(&h, 0, sizeof(h));
	char why[200] = "";
	ck_assert_int_eq(gpufile_check(&h, 16, NULL, why, sizeof(why)), -EPROTO);
	ck_assert_ptr_nonnull(strstr(why, "truncated (16 bytes)"));
	ck_assert_int_eq(gpufile_check(&h, sizeof(struct cs_file), NULL, why, sizeof(why)),
			 -EPROTO);
	ck_assert_ptr_nonnull(strstr(why, "bad magic"));
	/* A NULL reason buffer is allowed. */
	ck_assert_int_eq(gpufile_check(&h, sizeof(struct cs_file), NULL, NULL, 0), -EPROTO);
}
END_TEST

/* ---- folders and names ---- */

START_TEST(folder_cannot_be_created)
{
	make_root();
	char blocker[128];
	snprintf(blocker, sizeof(blocker), "%s/plainfile", root);
	write_bytes(blocker, "x", 1);
	snprintf(dir, sizeof(dir), "%s/plainfile/shm", root);
	struct gpufile g;
	char why[300] = "";
	int err = gpufile_open(&g, dir, UUID, 20, why, sizeof(why));
	ck_assert_int_eq(err, -ENOTDIR);
	ck_assert_ptr_nonnull(strstr(why, "cannot be created"));
	ck_assert_ptr_nonnull(strstr(why, dir));
	ck_assert_int_eq(g.fd, -1);
	ck_assert_ptr_null(g.map);
}
END_TEST

START_TEST(folder_not_writable)
{
	if (geteuid() == 0)
		return; /* root writes anywhere; folder_cannot_be_created covers it */
	make_root();
	ck_assert_int_eq(mkdir(dir, 0555), 0);
	struct gpufile g;
	char why[300] = "";
	ck_assert_int_eq(gpufile_open(&g, dir, UUID, 20, why, sizeof(why)), -EACCES);
	ck_assert_ptr_nonnull(strstr(why, "cannot be created"));
	ck_assert_int_eq(g.fd, -1);
	chmod(dir, 0755);
}
END_TEST

START_TEST(file_name_is_a_folder)
{
	make_root();
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	char path[256];
	file_path(UUID, path, sizeof(path));
	ck_assert_int_eq(mkdir(path, 0755), 0);
	struct gpufile g;
	char why[300] = "";
	ck_assert_int_eq(gpufile_open(&g, dir, UUID, 20, why, sizeof(why)), -EISDIR);
	ck_assert_ptr_nonnull(strstr(why, "cannot be opened"));
	ck_assert_int_eq(g.fd, -1);
}
END_TEST

START_TEST(names)
{
	char out[128];
	ck_assert_int_eq(gpufile_name("/d", UUID, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/d/gpu-" UUID ".shm");
	ck_assert_int_eq(gpufile_name("/d", "../../etc/x y", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/d/gpu-______etc_x_y.shm");
	ck_assert_int_eq(gpufile_name("/d", "MIG-1/2", out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/d/gpu-MIG-1_2.shm");
	/* "/d/gpu-GPU-1.shm" is 16 characters: it needs 17 bytes. */
	ck_assert_int_eq(gpufile_name("/d", "GPU-1", out, 16), -ENAMETOOLONG);
	ck_assert_int_eq(gpufile_name("/d", "GPU-1", out, 17), 0);
	ck_assert_str_eq(out, "/d/gpu-GPU-1.shm");
}
END_TEST

START_TEST(folder_name_too_long)
{
	char longdir[400];
	memset(longdir, 'd', sizeof(longdir));
	longdir[0] = '/';
	longdir[sizeof(longdir) - 1] = '\0';
	struct gpufile g;
	char why[600] = "";
	ck_assert_int_eq(gpufile_open(&g, longdir, UUID, 20, why, sizeof(why)), -ENAMETOOLONG);
	ck_assert_ptr_nonnull(strstr(why, "CUSLICE_DIR"));
	ck_assert_int_eq(g.fd, -1);
}
END_TEST

/* ---- read-only opening ---- */

START_TEST(readonly_missing)
{
	make_root();
	struct gpufile g;
	char why[300] = "";
	char path[200];
	snprintf(path, sizeof(path), "%s/gpu-none.shm", root);
	ck_assert_int_eq(gpufile_open_readonly(&g, path, why, sizeof(why)), -ENOENT);
	ck_assert_ptr_nonnull(strstr(why, "cannot be opened"));
	ck_assert_int_eq(g.fd, -1);
	ck_assert_ptr_null(g.map);
}
END_TEST

START_TEST(readonly_copy_never_writes_the_file)
{
	/* A read-only opening reads a private copy: writing to it (a bug in a
	 * reader) cannot reach the file, and refreshing brings the file back. */
	make_root();
	struct gpufile g;
	char why[200];
	ck_assert_int_eq(gpufile_open(&g, dir, UUID, 20, why, sizeof(why)), 0);
	char path[sizeof(g.path)];
	memcpy(path, g.path, sizeof(path));
	gpufile_close(&g);
	struct snapshot before;
	snap(path, &before);
	ck_assert_int_eq(gpufile_open_readonly(&g, path, why, sizeof(why)), 0);
	ck_assert_int_eq(g.writable, 0);
	ck_assert_int_eq(g.copy, 1);
	ck_assert_str_eq(g.map->header.uuid, UUID);
	atomic_store(&g.map->ring.handoffs, 1);
	expect_unchanged(path, &before);
	ck_assert_int_eq(gpufile_refresh(&g, why, sizeof(why)), 0);
	ck_assert_uint_eq(atomic_load(&g.map->ring.handoffs), 0);
	gpufile_close(&g);
	free(before.bytes);
}
END_TEST

static Suite *gpufile_suite(void)
{
	Suite *s = suite_create("gpufile");
	TCase *tc = tcase_create("create");
	tcase_add_checked_fixture(tc, NULL, remove_root);
	tcase_add_test(tc, create_new_file);
	tcase_add_test(tc, reopen_existing_file);
	tcase_add_test(tc, one_file_per_gpu);
	tcase_add_test(tc, stale_temporary_is_ignored);
	tcase_add_test(tc, concurrent_create_race);
	suite_add_tcase(s, tc);

	tc = tcase_create("refuse");
	tcase_add_checked_fixture(tc, NULL, remove_root);
	tcase_add_test(tc, garbage_file);
	tcase_add_test(tc, truncated_file);
	tcase_add_test(tc, empty_file);
	tcase_add_test(tc, header_only_file);
	tcase_add_test(tc, wrong_magic);
	tcase_add_test(tc, wrong_abi);
	tcase_add_test(tc, wrong_layout);
	tcase_add_test(tc, grown_file);
	tcase_add_test(tc, newer_minor_is_accepted);
	tcase_add_test(tc, short_header_is_refused);
	tcase_add_test(tc, unterminated_uuid);
	tcase_add_test(tc, other_gpus_file);
	tcase_add_test(tc, check_header_directly);
	suite_add_tcase(s, tc);

	tc = tcase_create("folders");
	tcase_add_checked_fixture(tc, NULL, remove_root);
	tcase_add_test(tc, folder_cannot_be_created);
	tcase_add_test(tc, folder_not_writable);
	tcase_add_test(tc, file_name_is_a_folder);
	tcase_add_test(tc, names);
	tcase_add_test(tc, folder_name_too_long);
	tcase_add_test(tc, readonly_missing);
	tcase_add_test(tc, readonly_copy_never_writes_the_file);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(gpufile_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
