/* test_fileguard.c - lib/gpufile.c and lib/mapguard.c against a hostile
 * folder: FIFOs and links named like ring files, folders of other users or
 * without a sticky bit, and a file shrunk under its members (issue 14,
 * findings 1, 4, 5). Each test works in its own temporary folder; anything
 * that could block runs under alarm(), so a regression fails instead of
 * hanging. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gpufile.h"
#include "mapguard.h"
#include "member.h"

#define UUID "GPU-8f3a1234-5678-9abc-def0-123456789abc"
#define OTHER_UUID "GPU-00000000-1111-2222-3333-444444444444"

static char root[64];
static char dir[128];
static char path[256];

static void make_root(void)
{
	snprintf(root, sizeof(root), "/tmp/cuslice-test-guard-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(root));
	snprintf(dir, sizeof(dir), "%s/shm", root);
	ck_assert_int_eq(gpufile_name(dir, UUID, path, sizeof(path)), 0);
}

static int remove_entry(const char *p, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st, (void)type, (void)ftw;
	return remove(p);
}

static void remove_root(void)
{
	if (root[0] != '\0')
		nftw(root, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void make_dir(mode_t mode)
{
	ck_assert_int_eq(mkdir(dir, mode), 0);
	ck_assert_int_eq(chmod(dir, mode), 0);
}

/* gpufile_open must fail with err and a reason containing want. */
static void expect_open_fails(int err, const char *want)
{
	struct gpufile g;
	char why[400] = "";
	alarm(10);
	int got = gpufile_open(&g, dir, UUID, 20, why, sizeof(why));
	alarm(0);
	ck_assert_msg(got == err, "err %d (%s), want %d", got, why, err);
	ck_assert_msg(strstr(why, want) != NULL, "reason \"%s\" lacks \"%s\"", why, want);
	ck_assert_int_eq(g.fd, -1);
	ck_assert_ptr_null(g.map);
}

/* ---- what is in the folder ---- */

START_TEST(fifo_is_refused_without_blocking)
{
	make_root();
	make_dir(01777);
	ck_assert_int_eq(mkfifo(path, 0666), 0);
	expect_open_fails(-EPROTO, "is a FIFO, not a regular file");
	struct gpufile g;
	char why[200] = "";
	alarm(10);
	ck_assert_int_eq(gpufile_open_readonly(&g, path, why, sizeof(why)), -EPROTO);
	alarm(0);
	ck_assert_ptr_nonnull(strstr(why, "is a FIFO"));
}
END_TEST

START_TEST(linked_file_is_not_followed)
{
	/* Another user's symlink to a private ring: joining it would put this
	 * process in that ring. */
	make_root();
	char private_dir[160], target[sizeof(((struct gpufile *)0)->path)];
	snprintf(private_dir, sizeof(private_dir), "%s/private", root);
	struct gpufile g;
	char why[300] = "";
	ck_assert_int_eq(gpufile_open(&g, private_dir, UUID, 20, why, sizeof(why)), 0);
	snprintf(target, sizeof(target), "%s", g.path);
	gpufile_close(&g);
	make_dir(01777);
	ck_assert_int_eq(symlink(target, path), 0);
	expect_open_fails(-ELOOP, "is a symbolic link");
	ck_assert_int_eq(gpufile_open_readonly(&g, path, why, sizeof(why)), -ELOOP);
	ck_assert_ptr_nonnull(strstr(why, "symbolic link"));
}
END_TEST

START_TEST(linked_folder_is_not_followed)
{
	make_root();
	char real[160];
	snprintf(real, sizeof(real), "%s/real", root);
	ck_assert_int_eq(mkdir(real, 01777), 0);
	ck_assert_int_eq(symlink(real, dir), 0);
	expect_open_fails(-ELOOP, "is a symbolic link");
	struct stat st;
	ck_assert_int_eq(lstat(real, &st), 0);
	char inside[300];
	snprintf(inside, sizeof(inside), "%s/gpu-%s.shm", real, UUID);
	ck_assert_int_eq(access(inside, F_OK), -1); /* nothing was created there */
}
END_TEST

START_TEST(folder_without_sticky_bit_is_refused)
{
	make_root();
	make_dir(0777);
	expect_open_fails(-EPERM, "has no sticky bit");
}
END_TEST

START_TEST(folder_of_another_user_is_refused)
{
	make_root();
	make_dir(01777);
	struct stat st;
	char why[400] = "";
	if (geteuid() != 0) {
		/* Only root can give a folder away; without root, check that a
		 * folder of root's (/tmp) passes and that ours does. */
		int fd = gpufile_open_dir("/tmp", &st, why, sizeof(why));
		ck_assert_msg(fd >= 0, "%s", why);
		close(fd);
		fd = gpufile_open_dir(dir, &st, why, sizeof(why));
		ck_assert_msg(fd >= 0, "%s", why);
		close(fd);
		return;
	}
	ck_assert_int_eq(chown(dir, 4242, 4242), 0);
	expect_open_fails(-EPERM, "belongs to uid 4242");
	ck_assert_int_eq(gpufile_open_dir(dir, &st, why, sizeof(why)), -EPERM);
}
END_TEST

START_TEST(file_mode_follows_the_folder)
{
	static const struct { mode_t folder, file; } cases[] = {
		{ 01777, 0666 }, { 0770, 0660 }, { 02770, 0660 }, { 0700, 0600 },
	};
	make_root();
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(dir, sizeof(dir), "%s/d%u", root, i);
		make_dir(cases[i].folder);
		struct gpufile g;
		char why[300] = "";
		ck_assert_msg(gpufile_open(&g, dir, UUID, 20, why, sizeof(why)) == 0, "%s", why);
		struct stat st;
		ck_assert_int_eq(fstat(g.fd, &st), 0);
		ck_assert_msg((st.st_mode & 07777) == cases[i].file, "folder %o gave file %o",
			      (unsigned)cases[i].folder, (unsigned)(st.st_mode & 07777));
		gpufile_close(&g);
	}
}
END_TEST

START_TEST(file_takes_the_folders_group)
{
	/* A group folder without the setgid bit: the file still gets the
	 * folder's group, or the group's other members could not write it. */
	make_root();
	make_dir(0770);
	gid_t group = geteuid() == 0 ? 4243 : getegid();
	ck_assert_int_eq(chown(dir, (uid_t)-1, group), 0);
	ck_assert_int_eq(chmod(dir, 0770), 0);
	struct gpufile g;
	char why[300] = "";
	ck_assert_msg(gpufile_open(&g, dir, UUID, 20, why, sizeof(why)) == 0, "%s", why);
	struct stat st;
	ck_assert_int_eq(fstat(g.fd, &st), 0);
	ck_assert_uint_eq(st.st_gid, group);
	ck_assert_uint_eq(st.st_mode & 07777, 0660);
	gpufile_close(&g);
}
END_TEST

/* ---- a file shrunk under its member ---- */

/* In a child (so that a SIGBUS fails the test instead of killing it): a
 * member maps the file, another opening shrinks it to `size`, the member
 * reads and writes the whole mapping. The child exits 0 when every page was
 * usable, the file is full-size again, its header checks and the token is
 * valid. */
static void shrink_under_member(off_t size)
{
	make_root();
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct gpufile g;
		char why[300] = "";
		if (gpufile_open(&g, dir, UUID, 20, why, sizeof(why)) != 0)
			_exit(10);
		if (truncate(path, size) != 0)
			_exit(11);
		volatile unsigned char *p = (volatile unsigned char *)g.map;
		unsigned sum = 0;
		for (size_t off = 0; off < sizeof(struct cs_file); off += 512)
			sum += p[off];
		atomic_fetch_add(&g.map->ring.handoffs, 1);
		atomic_store(&g.map->members[CS_MEMBERS_MAX - 1].launches, sum);
		struct stat st;
		if (stat(path, &st) != 0 || (size_t)st.st_size != sizeof(struct cs_file))
			_exit(12);
		if (gpufile_check(&g.map->header, sizeof(struct cs_file), UUID, why, sizeof(why)))
			_exit(13);
		uint64_t t = atomic_load(&g.map->ring.token);
		if (size == 0 && TOKEN_HOLDER(t) != CS_NO_HOLDER)
			_exit(14);
		if (mapguard_repairs() == 0 || mapguard_detached(g.map))
			_exit(15);
		gpufile_close(&g);
		_exit(0);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "member after truncate -s %lld: %s %d", (long long)size,
		      WIFSIGNALED(status) ? "killed by signal" : "exit",
		      WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
}

START_TEST(truncated_to_zero_under_member)
{
	shrink_under_member(0);
}
END_TEST

START_TEST(truncated_mid_members_under_member)
{
	shrink_under_member((off_t)offsetof(struct cs_file, members) + 5 * CS_MEMBER_STRIDE + 100);
}
END_TEST

START_TEST(truncated_mid_header_under_member)
{
	shrink_under_member(100);
}
END_TEST

START_TEST(member_goes_on_alone_when_the_file_cannot_grow)
{
	/* The file cannot be grown back (here: a file size limit; on a node,
	 * a full tmpfs): the guard gives the member private memory with the
	 * header and a free token, and member_watch says so once on stderr. */
	make_root();
	int err_pipe[2];
	ck_assert_int_eq(pipe(err_pipe), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(err_pipe[1], STDERR_FILENO);
		struct gpufile g;
		char why[300] = "";
		struct member_info info = { .weight = 1, .priority = 1 };
		unsigned slot;
		if (gpufile_open(&g, dir, UUID, 20, why, sizeof(why)) != 0 ||
		    member_join(&g, &info, NULL, NULL, &slot) != 0)
			_exit(10);
		signal(SIGXFSZ, SIG_IGN);
		struct rlimit lim = { 4096, 4096 };
		if (setrlimit(RLIMIT_FSIZE, &lim) != 0 || truncate(path, 0) != 0)
			_exit(11);
		uint64_t t = atomic_load(&g.map->ring.token); /* faults */
		if (!mapguard_detached(g.map) || TOKEN_HOLDER(t) != CS_NO_HOLDER ||
		    gpufile_check(&g.map->header, sizeof(struct cs_file), UUID, why, sizeof(why)))
			_exit(12);
		member_watch(&g, slot);
		member_watch(&g, slot); /* said once */
		if (atomic_load(&g.map->members[slot].state) != MEMBER_ACTIVE)
			_exit(13);
		_exit(0);
	}
	close(err_pipe[1]);
	char out[2048] = "";
	ssize_t n, got = 0;
	while ((n = read(err_pipe[0], out + got, sizeof(out) - 1 - (size_t)got)) > 0)
		got += n;
	close(err_pipe[0]);
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
	ck_assert_msg(strstr(out, "could not be grown back") != NULL, "stderr: %s", out);
	ck_assert_ptr_null(strstr(strchr(out, '\n') + 1, "cuslice"));
}
END_TEST

START_TEST(member_repairs_its_slot_after_a_cut)
{
	/* A cut through this member's slot: the guard grows the file back with
	 * the slot zeroed (FREE, no key); member_repair publishes the identity
	 * again, the way the member's agent does every 200 ms. */
	make_root();
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct gpufile g, other;
		char why[300] = "";
		struct member_info info = { .weight = 3, .priority = 2, .ordinal = 1,
					    .declared_cap = 1 << 30, .group = "train" };
		unsigned s0, s1;
		if (gpufile_open(&other, dir, UUID, 20, why, sizeof(why)) != 0 ||
		    gpufile_open(&g, dir, UUID, 20, why, sizeof(why)) != 0 ||
		    member_join(&other, &info, NULL, NULL, &s0) != 0 ||
		    member_join(&g, &info, NULL, NULL, &s1) != 0 || s1 != 1)
			_exit(10);
		struct cs_member *m = &g.map->members[s1];
		uint64_t key = m->key;
		if (member_repair(&g, s1) != 0)
			_exit(11); /* nothing to repair yet */
		if (truncate(path, (off_t)offsetof(struct cs_file, members) + CS_MEMBER_STRIDE) != 0)
			_exit(12);
		if (atomic_load(&m->state) != MEMBER_FREE) /* faults, the guard repairs */
			_exit(13);
		if (member_repair(&g, s1) != 1 || atomic_load(&m->state) != MEMBER_ACTIVE ||
		    m->key != key || m->weight != 3 || m->priority != 2 || m->ordinal != 1 ||
		    m->declared_cap != 1 << 30 || strcmp(m->group, "train") != 0 ||
		    m->abi_minor != CS_ABI_MINOR)
			_exit(14);
		if (member_repair(&g, s1) != 0 || g.map->members[s0].key == 0)
			_exit(15); /* repaired once; the slot before the cut kept */
		memset(m, 0xa5, 64); /* a hostile overwrite of the identity */
		if (member_repair(&g, s1) != 1 || m->key != key || m->pid != (uint32_t)getpid())
			_exit(16);
		/* A cut that kept state and key but not the group; the note the
		 * owner wrote after joining is its own business. */
		strcpy(m->note, "a later note");
		memset(m->group, 0, sizeof(m->group));
		if (member_repair(&g, s1) != 1 || strcmp(m->group, "train") != 0 ||
		    strcmp(m->note, "a later note") != 0 || member_repair(&g, s1) != 0)
			_exit(17);
		_exit(0);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
}
END_TEST

static void foreign_handler(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)si, (void)uc;
	_exit(42);
}

/* In a child with a guarded member mapping, and the workload's own SIGBUS
 * handler when own_handler: a fault on another shrunk mapping. Returns the
 * child's wait status. */
static int fault_elsewhere(int own_handler)
{
	make_root();
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* The handler before the guard's: the workload's own, or the
		 * default (set explicitly: a sanitizer may have its own). */
		struct sigaction sa = { .sa_sigaction = foreign_handler, .sa_flags = SA_SIGINFO };
		if (!own_handler)
			sa = (struct sigaction){ .sa_handler = SIG_DFL };
		sigaction(SIGBUS, &sa, NULL);
		struct gpufile g;
		char why[300] = "";
		if (gpufile_open(&g, dir, UUID, 20, why, sizeof(why)) != 0)
			_exit(10);
		char other[300];
		snprintf(other, sizeof(other), "%s/other", root);
		int fd = open(other, O_RDWR | O_CREAT, 0600);
		if (fd < 0 || ftruncate(fd, 4096) != 0)
			_exit(11);
		volatile char *q = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (q == MAP_FAILED || ftruncate(fd, 0) != 0)
			_exit(12);
		q[0] = 1; /* SIGBUS, not the guard's */
		_exit(13);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return status;
}

START_TEST(other_faults_reach_the_previous_handler)
{
	int status = fault_elsewhere(1);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 42, "status %#x", status);
}
END_TEST

START_TEST(other_faults_keep_the_default_action)
{
	int status = fault_elsewhere(0);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS, "status %#x", status);
}
END_TEST

static Suite *fileguard_suite(void)
{
	Suite *s = suite_create("fileguard");
	TCase *tc = tcase_create("folder");
	tcase_add_checked_fixture(tc, NULL, remove_root);
	tcase_add_test(tc, fifo_is_refused_without_blocking);
	tcase_add_test(tc, linked_file_is_not_followed);
	tcase_add_test(tc, linked_folder_is_not_followed);
	tcase_add_test(tc, folder_without_sticky_bit_is_refused);
	tcase_add_test(tc, folder_of_another_user_is_refused);
	tcase_add_test(tc, file_mode_follows_the_folder);
	tcase_add_test(tc, file_takes_the_folders_group);
	suite_add_tcase(s, tc);

	tc = tcase_create("shrink");
	tcase_add_checked_fixture(tc, NULL, remove_root);
	tcase_add_test(tc, truncated_to_zero_under_member);
	tcase_add_test(tc, truncated_mid_members_under_member);
	tcase_add_test(tc, truncated_mid_header_under_member);
	tcase_add_test(tc, member_repairs_its_slot_after_a_cut);
	tcase_add_test(tc, member_goes_on_alone_when_the_file_cannot_grow);
	tcase_add_test(tc, other_faults_reach_the_previous_handler);
	tcase_add_test(tc, other_faults_keep_the_default_action);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *r = srunner_create(fileguard_suite());
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
