/* test_trace.c - lib/trace.c: the CUSLICE_TRACE path and file. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trace.h"

static char dir[64];

static void make_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/cuslice-test-trace-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st, (void)type, (void)ftw;
	return remove(path);
}

/* Checked teardown: removes the test's folder, whatever it holds. */
static void remove_dir(void)
{
	if (dir[0] != '\0') {
		chmod(dir, 0755);
		nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	}
}

/* dir/name into out. */
static void in_dir(const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", dir, name);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* The file's content (static buffer), or NULL if it cannot be read. */
static const char *read_file(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return NULL;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Number of entries in dir, "." and ".." excluded. */
static int dir_entries(void)
{
	DIR *d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	int n = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

static const char *const names[] = { "cuLaunchKernel", "cuLaunchKernel_ptsz", "cuMemAlloc_v2" };
static const uint64_t counts[] = { 3, 0, UINT64_MAX };

/* ---- trace_path ---- */

START_TEST(path_expands_pid)
{
	char out[128];
	ck_assert_int_eq(trace_path("/tmp/trace-%p.txt", 4242, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/tmp/trace-4242.txt");
	ck_assert_int_eq(trace_path("%p/%p", 7, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "7/7");
	ck_assert_int_eq(trace_path("/tmp/plain.txt", 7, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/tmp/plain.txt");
	ck_assert_int_eq(trace_path("/tmp/t-%p", INT_MAX, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/tmp/t-2147483647");
}
END_TEST

START_TEST(path_keeps_other_percents)
{
	char out[128];
	ck_assert_int_eq(trace_path("/tmp/100%-%d-%", 9, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "/tmp/100%-%d-%");
	ck_assert_int_eq(trace_path("", 9, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(path_too_long)
{
	char out[8];
	memset(out, 'z', sizeof(out));
	/* "abc-123" is 7 characters: fits in 8 with its NUL, not in 7. */
	ck_assert_int_eq(trace_path("abc-%p", 123, out, 8), 0);
	ck_assert_str_eq(out, "abc-123");
	ck_assert_int_eq(trace_path("abc-%p", 123, out, 7), -ENAMETOOLONG);
	ck_assert_int_eq(trace_path("abc-%p", 1234, out, 8), -ENAMETOOLONG);
	ck_assert_int_eq(trace_path("abcdefgh", 1, out, 8), -ENAMETOOLONG);
}
END_TEST

/* ---- trace_write ---- */

START_TEST(write_one_line_per_symbol)
{
	make_dir();
	char path[128];
	in_dir("trace.txt", path, sizeof(path));
	ck_assert_int_eq(trace_write(path, names, counts, 3), 0);
	ck_assert_str_eq(read_file(path),
			 "cuLaunchKernel 3\ncuLaunchKernel_ptsz 0\n"
			 "cuMemAlloc_v2 18446744073709551615\n");
	ck_assert_int_eq(dir_entries(), 1); /* no temporary left behind */
}
END_TEST

START_TEST(write_replaces_existing_file)
{
	make_dir();
	char path[128];
	in_dir("trace.txt", path, sizeof(path));
	write_file(path, "old content that is longer than the new one\n"
			 "and spans several lines\nand more\nand more\n");
	struct stat before;
	ck_assert_int_eq(stat(path, &before), 0);
	ck_assert_int_eq(trace_write(path, names, counts, 1), 0);
	ck_assert_str_eq(read_file(path), "cuLaunchKernel 3\n");
	/* A rename, not a rewrite in place: readers never see a mix. */
	struct stat after;
	ck_assert_int_eq(stat(path, &after), 0);
	ck_assert(before.st_ino != after.st_ino);
	ck_assert_int_eq(dir_entries(), 1);
}
END_TEST

START_TEST(write_empty_table)
{
	make_dir();
	char path[128];
	in_dir("empty.txt", path, sizeof(path));
	ck_assert_int_eq(trace_write(path, names, counts, 0), 0);
	ck_assert_str_eq(read_file(path), "");
}
END_TEST

START_TEST(write_expanded_path)
{
	make_dir();
	char pattern[128], path[160], want[160];
	in_dir("trace-%p.txt", pattern, sizeof(pattern));
	ck_assert_int_eq(trace_path(pattern, (int)getpid(), path, sizeof(path)), 0);
	snprintf(want, sizeof(want), "%s/trace-%d.txt", dir, (int)getpid());
	ck_assert_str_eq(path, want);
	ck_assert_int_eq(trace_write(path, names, counts, 2), 0);
	ck_assert_ptr_nonnull(read_file(want));
}
END_TEST

START_TEST(missing_folder_is_an_error)
{
	make_dir();
	char path[128];
	in_dir("no/such/folder/trace.txt", path, sizeof(path));
	ck_assert_int_eq(trace_write(path, names, counts, 3), -ENOENT);
	ck_assert_ptr_null(read_file(path));
	ck_assert_int_eq(dir_entries(), 0);
}
END_TEST

START_TEST(failed_write_leaves_file_untouched)
{
	/* Every temporary name is taken by a folder, so no temporary file can
	 * be created (this works as root too, unlike a read-only folder). */
	make_dir();
	char path[128], tmp[160];
	in_dir("trace.txt", path, sizeof(path));
	write_file(path, "previous run\n");
	for (int i = 0; i < 64; i++) {
		snprintf(tmp, sizeof(tmp), "%s.tmp.%d.%d", path, (int)getpid(), i);
		ck_assert_int_eq(mkdir(tmp, 0755), 0);
	}
	int err = trace_write(path, names, counts, 3);
	ck_assert_int_eq(err, -EEXIST);
	ck_assert_str_eq(read_file(path), "previous run\n");
	ck_assert_int_eq(dir_entries(), 65);
}
END_TEST

START_TEST(rename_onto_folder_is_an_error)
{
	/* The target is a folder: the rename fails, the temporary is removed
	 * and the folder is left as it was. */
	make_dir();
	char path[128], inner[160];
	in_dir("trace.txt", path, sizeof(path));
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(inner, sizeof(inner), "%s/keep", path);
	write_file(inner, "kept\n");
	int err = trace_write(path, names, counts, 3);
	ck_assert_msg(err == -EISDIR || err == -ENOTEMPTY || err == -EEXIST, "err %d", err);
	ck_assert_str_eq(read_file(inner), "kept\n");
	ck_assert_int_eq(dir_entries(), 1);
}
END_TEST

START_TEST(unwritable_folder_is_an_error)
{
	if (geteuid() == 0)
		return; /* root writes anywhere; the tests above cover the error path */
	make_dir();
	char path[128];
	in_dir("trace.txt", path, sizeof(path));
	write_file(path, "previous run\n");
	ck_assert_int_eq(chmod(dir, 0555), 0);
	ck_assert_int_eq(trace_write(path, names, counts, 3), -EACCES);
	chmod(dir, 0755);
	ck_assert_str_eq(read_file(path), "previous run\n");
}
END_TEST

START_TEST(path_too_long_for_temporary)
{
	char path[4100];
	memset(path, 'a', sizeof(path));
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	ck_assert_int_eq(trace_write(path, names, counts, 3), -ENAMETOOLONG);
}
END_TEST

START_TEST(planted_temporary_link_is_not_followed)
{
	/* Another user of a shared folder plants links where the temporary
	 * file will be created (the old name and the first new one). The write
	 * must skip them: the file they point to keeps its content, and path
	 * ends up a regular file with the new text. */
	make_dir();
	char path[128], victim[128], link1[192], link2[192];
	in_dir("trace.txt", path, sizeof(path));
	in_dir("victim", victim, sizeof(victim));
	write_file(victim, "not yours\n");
	snprintf(link1, sizeof(link1), "%s.tmp.%d", path, (int)getpid());
	snprintf(link2, sizeof(link2), "%s.tmp.%d.0", path, (int)getpid());
	ck_assert_int_eq(symlink(victim, link1), 0);
	ck_assert_int_eq(symlink(victim, link2), 0);
	ck_assert_int_eq(trace_write(path, names, counts, 3), 0);
	ck_assert_str_eq(read_file(victim), "not yours\n");
	struct stat st;
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_eq(lstat(link2, &st), 0);
	ck_assert(S_ISLNK(st.st_mode));
}
END_TEST

static Suite *trace_suite(void)
{
	Suite *s = suite_create("trace");
	TCase *tc = tcase_create("trace_path");
	tcase_add_test(tc, path_expands_pid);
	tcase_add_test(tc, path_keeps_other_percents);
	tcase_add_test(tc, path_too_long);
	suite_add_tcase(s, tc);
	tc = tcase_create("trace_write");
	tcase_add_checked_fixture(tc, NULL, remove_dir);
	tcase_add_test(tc, write_one_line_per_symbol);
	tcase_add_test(tc, write_replaces_existing_file);
	tcase_add_test(tc, write_empty_table);
	tcase_add_test(tc, write_expanded_path);
	tcase_add_test(tc, missing_folder_is_an_error);
	tcase_add_test(tc, failed_write_leaves_file_untouched);
	tcase_add_test(tc, rename_onto_folder_is_an_error);
	tcase_add_test(tc, unwritable_folder_is_an_error);
	tcase_add_test(tc, path_too_long_for_temporary);
	tcase_add_test(tc, planted_temporary_link_is_not_followed);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(trace_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
