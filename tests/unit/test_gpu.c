/* test_gpu.c - lib/gpu.c: the per-device records and their lifecycle
 * (join, reap, leave, after fork), driven through a fake driver table. */
#include <check.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fakegpu.h"
#include "ledger.h"
#include "log.h"
#include "member.h"

static void setup(void)
{
	fake_make_dir();
}

static void teardown(void)
{
	fake_remove_dir();
}

static struct cs_member *slot_of(struct gpu *g)
{
	return &g->file.map->members[g->slot];
}

START_TEST(join_takes_a_member_slot)
{
	fake_setup(NULL);
	ck_assert_ptr_null(gpu_peek(1));
	struct gpu *g = gpu_join(1);
	ck_assert_ptr_nonnull(g);
	ck_assert_int_eq(atomic_load(&g->status), GPU_SHARED);
	ck_assert(gpu_shared(g));
	ck_assert_int_eq(g->ordinal, 1);
	ck_assert_str_eq(g->uuid, "GPU-00000000-0000-0000-0000-0000000000A1");
	ck_assert_uint_eq(g->card_total, 16 * GiB);
	struct cs_member *m = slot_of(g);
	ck_assert_uint_eq(atomic_load(&m->state), MEMBER_ACTIVE);
	ck_assert_uint_eq(m->pid, (uint32_t)getpid());
	ck_assert_int_eq(m->ordinal, 1);
	ck_assert_int_eq(member_alive(&g->file, g->slot), 1);
	/* Joined once: the same record, no second slot. */
	ck_assert_ptr_eq(gpu_join(1), g);
	ck_assert_ptr_eq(gpu_peek(1), g);
	ck_assert_ptr_null(gpu_peek(0));
	ck_assert_ptr_eq(gpu_by_uuid("gpu-00000000-0000-0000-0000-0000000000a1"), g);
	ck_assert_ptr_null(gpu_by_uuid("GPU-00000000-0000-0000-0000-0000000000A0"));
}
END_TEST

START_TEST(current_follows_the_driver)
{
	fake_setup(NULL);
	fake.current = -1;
	ck_assert_ptr_null(gpu_current());
	fake.current = 0;
	struct gpu *g = gpu_current();
	ck_assert_ptr_nonnull(g);
	ck_assert_int_eq(g->ordinal, 0);
}
END_TEST

START_TEST(out_of_range_ordinals)
{
	fake_setup(NULL);
	ck_assert_ptr_null(gpu_join(-1));
	ck_assert_ptr_null(gpu_join(GPU_MAX));
	ck_assert_ptr_null(gpu_peek(-1));
	ck_assert_ptr_null(gpu_peek(GPU_MAX));
}
END_TEST

START_TEST(cap_is_declared_and_clamped_to_the_card)
{
	const char *pairs[] = { "CUSLICE_MEM_LIMIT", "0=4G,1=64G", NULL };
	fake_setup(pairs);
	struct gpu *g0 = gpu_join(0), *g1 = gpu_join(1);
	ck_assert_uint_eq(g0->cap, 4 * GiB);
	ck_assert_uint_eq(slot_of(g0)->declared_cap, 4 * GiB);
	ck_assert_uint_eq(g1->cap, 16 * GiB); /* the card's size */
	ck_assert_uint_eq(slot_of(g1)->declared_cap, 16 * GiB);
}
END_TEST

START_TEST(unreadable_cap_refuses_the_group)
{
	const char *pairs[] = { "CUSLICE_MEM_LIMIT", "lots", NULL };
	fake_setup(pairs);
	struct gpu *g = gpu_join(0);
	ck_assert_int_eq(g->cap_unusable, 1);
	ck_assert_uint_eq(slot_of(g)->declared_cap, LEDGER_CAP_REFUSE_ALL);
	/* The bad variable is published with the slot, and the error too. */
	ck_assert_uint_ne(slot_of(g)->bad_vars & config_var_bit("CUSLICE_MEM_LIMIT"), 0);
	ck_assert_ptr_nonnull(strstr(slot_of(g)->note, "CUSLICE_MEM_LIMIT"));
}
END_TEST

START_TEST(no_uuid_runs_local)
{
	fake_setup(NULL);
	fake.no_uuid = 1;
	struct gpu *g = gpu_join(0);
	ck_assert_ptr_nonnull(g);
	ck_assert_int_eq(atomic_load(&g->status), GPU_LOCAL);
	ck_assert(!gpu_shared(g));
	ck_assert_ptr_nonnull(strstr(g->problem, "no UUID"));
	ck_assert_int_eq(gpu_reap(g), 0);
	gpu_leave_all(); /* nothing to leave, nothing breaks */
}
END_TEST

START_TEST(unusable_folder_runs_local)
{
	char file[128];
	snprintf(file, sizeof(file), "%s/not-a-folder", fake_dir);
	FILE *f = fopen(file, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	const char *pairs[] = { "CUSLICE_DIR", file, NULL };
	fake_setup(pairs);
	struct gpu *g = gpu_join(0);
	ck_assert_int_eq(atomic_load(&g->status), GPU_LOCAL);
	ck_assert_ptr_nonnull(strstr(g->problem, file));
}
END_TEST

/* A child process that joins GPU 0's file on its own, charges bytes and
 * dies without leaving. */
static void dead_member(uint64_t bytes)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		gpu_after_fork();
		struct gpu *g = gpu_join(0);
		if (g == NULL || !gpu_shared(g) || ledger_reserve(g->file.map, g->slot, bytes,
								   NULL, NULL, NULL) != 0)
			_exit(1);
		_exit(0);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static uint64_t file_charged(struct gpu *g)
{
	uint64_t sum = 0;
	for (unsigned i = 0; i < CS_MEMBERS_MAX; i++)
		sum += atomic_load(&g->file.map->members[i].charged);
	return sum;
}

START_TEST(reap_returns_a_dead_members_bytes)
{
	fake_setup(NULL);
	struct gpu *g = gpu_join(0);
	dead_member(3 * GiB);
	ck_assert_uint_eq(file_charged(g), 3 * GiB); /* still counted */
	ck_assert_int_eq(gpu_reap(g), 1);
	ck_assert_uint_eq(file_charged(g), 0);
	ck_assert_int_eq(gpu_reap(g), 0); /* reaped once */
	ck_assert_uint_eq(atomic_load(&slot_of(g)->state), MEMBER_ACTIVE); /* not us */
}
END_TEST

START_TEST(leave_frees_the_slot_and_its_bytes)
{
	fake_setup(NULL);
	struct gpu *g = gpu_join(0);
	unsigned slot = g->slot;
	struct cs_file *map = g->file.map;
	ck_assert_int_eq(ledger_reserve(map, slot, GiB, NULL, NULL, NULL), 0);
	/* A second view of the file, to look at it after we leave. */
	struct gpufile other;
	char why[200];
	ck_assert_int_eq(gpufile_open(&other, fake_dir, g->uuid, 20, why, sizeof(why)), 0);
	gpu_leave_all();
	ck_assert_uint_eq(atomic_load(&other.map->members[slot].state), MEMBER_FREE);
	ck_assert_uint_eq(atomic_load(&other.map->members[slot].charged), 0);
	ck_assert_int_eq(member_alive(&other, slot), 0);
	gpufile_close(&other);
}
END_TEST

START_TEST(child_after_fork_joins_its_own_slot)
{
	fake_setup(NULL);
	struct gpu *g = gpu_join(0);
	unsigned parent_slot = g->slot;
	int pipefd[2];
	ck_assert_int_eq(pipe(pipefd), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		gpu_after_fork();
		int code = 0;
		if (gpu_peek(0) != NULL)
			code = 2; /* the parent's record survived */
		struct gpu *c = gpu_join(0);
		if (code == 0 && (c == NULL || !gpu_shared(c) || c->slot == parent_slot))
			code = 3;
		unsigned slot = c != NULL ? c->slot : 0;
		if (write(pipefd[1], &slot, sizeof(slot)) != sizeof(slot))
			code = 4;
		gpu_leave_all();
		_exit(code);
	}
	unsigned child_slot = 0;
	ck_assert_int_eq(read(pipefd[0], &child_slot, sizeof(child_slot)), sizeof(child_slot));
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child exit %d",
		      WEXITSTATUS(status));
	ck_assert_uint_ne(child_slot, parent_slot);
	/* The parent is still a live member after the child left. */
	ck_assert_uint_eq(atomic_load(&slot_of(g)->state), MEMBER_ACTIVE);
	ck_assert_int_eq(member_alive(&g->file, g->slot), 1);
}
END_TEST

static Suite *gpu_suite(void)
{
	Suite *s = suite_create("gpu");
	TCase *tc = tcase_create("lifecycle");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, join_takes_a_member_slot);
	tcase_add_test(tc, current_follows_the_driver);
	tcase_add_test(tc, out_of_range_ordinals);
	tcase_add_test(tc, cap_is_declared_and_clamped_to_the_card);
	tcase_add_test(tc, unreadable_cap_refuses_the_group);
	tcase_add_test(tc, no_uuid_runs_local);
	tcase_add_test(tc, unusable_folder_runs_local);
	tcase_add_test(tc, reap_returns_a_dead_members_bytes);
	tcase_add_test(tc, leave_frees_the_slot_and_its_bytes);
	tcase_add_test(tc, child_after_fork_joins_its_own_slot);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(gpu_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
