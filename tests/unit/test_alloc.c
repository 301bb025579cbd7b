/* test_alloc.c - lib/alloc.c: the memory policy (ask, resize, settle, take,
 * return, the context reserve, the query views), driven through a fake
 * driver table; no simulated libcuda. */
#include <check.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "fakegpu.h"
#include "member.h"

static void setup(void)
{
	fake_make_dir();
}

static void teardown(void)
{
	fake_remove_dir();
}

/* What GPU ordinal's accounting holds now (shared slot or local ledger). */
static uint64_t held(int ordinal)
{
	struct gpu *g = gpu_peek(ordinal);
	ck_assert_ptr_nonnull(g);
	if (gpu_shared(g))
		return atomic_load(&g->file.map->members[g->slot].charged);
	return atomic_load(&g->local.charged);
}

/* An allocation of bytes on ordinal that the driver made, under key. */
static int allocate(int ordinal, uint64_t bytes, uint64_t key)
{
	struct alloc_ticket t;
	int err = alloc_ask(&t, ordinal, bytes);
	if (err == 0)
		alloc_settle(&t, 1, CHARGE_PTR, key);
	return err;
}

static void release(uint64_t key, int freed)
{
	struct alloc_hold h;
	alloc_take(&h, CHARGE_PTR, key);
	alloc_return(&h, freed);
}

static const char *const cap_4g[] = { "CUSLICE_MEM_LIMIT", "4G", NULL };

START_TEST(ask_within_the_cap_and_refuse_beyond)
{
	fake_setup(cap_4g);
	ck_assert_int_eq(allocate(0, 3 * GiB, 0x1000), 0);
	ck_assert_uint_eq(held(0), 3 * GiB);
	ck_assert_int_eq(allocate(0, GiB + 1, 0x2000), -ENOMEM);
	ck_assert_uint_eq(held(0), 3 * GiB); /* a refusal reserves nothing */
	ck_assert_int_eq(allocate(0, GiB, 0x2000), 0);
	ck_assert_uint_eq(held(0), 4 * GiB);
}
END_TEST

START_TEST(failed_driver_call_gives_the_bytes_back)
{
	fake_setup(cap_4g);
	struct alloc_ticket t;
	ck_assert_int_eq(alloc_ask(&t, 0, 2 * GiB), 0);
	ck_assert_uint_eq(held(0), 2 * GiB);
	alloc_settle(&t, 0, CHARGE_PTR, 0);
	ck_assert_uint_eq(held(0), 0);
}
END_TEST

START_TEST(release_gives_back_exactly_the_charge)
{
	fake_setup(cap_4g);
	ck_assert_int_eq(allocate(0, GiB, 0x1000), 0);
	ck_assert_int_eq(allocate(0, 2 * GiB, 0x2000), 0);
	release(0x1000, 1);
	ck_assert_uint_eq(held(0), 2 * GiB);
	release(0x1000, 1); /* not charged any more: ignored */
	release(0x3000, 1); /* never charged: ignored */
	ck_assert_uint_eq(held(0), 2 * GiB);
	release(0x2000, 1);
	ck_assert_uint_eq(held(0), 0);
}
END_TEST

START_TEST(failed_release_keeps_the_record)
{
	fake_setup(cap_4g);
	ck_assert_int_eq(allocate(0, GiB, 0x1000), 0);
	release(0x1000, 0); /* the driver refused to free */
	ck_assert_uint_eq(held(0), GiB);
	release(0x1000, 1); /* the record was put back: now it goes */
	ck_assert_uint_eq(held(0), 0);
}
END_TEST

START_TEST(kinds_keep_keys_apart)
{
	fake_setup(cap_4g);
	struct alloc_ticket t;
	ck_assert_int_eq(alloc_ask(&t, 0, GiB), 0);
	alloc_settle(&t, 1, CHARGE_HANDLE, 0x1000);
	release(0x1000, 1); /* a pointer with the handle's value */
	ck_assert_uint_eq(held(0), GiB);
	struct alloc_hold h;
	alloc_take(&h, CHARGE_HANDLE, 0x1000);
	ck_assert(h.found);
	alloc_return(&h, 1);
	ck_assert_uint_eq(held(0), 0);
}
END_TEST

START_TEST(reused_key_gives_back_the_old_charge)
{
	fake_setup(cap_4g);
	ck_assert_int_eq(allocate(0, GiB, 0x1000), 0);
	/* Freed by a route no hook saw; the driver hands the address out again. */
	ck_assert_int_eq(allocate(0, 2 * GiB, 0x1000), 0);
	ck_assert_uint_eq(held(0), 2 * GiB);
	release(0x1000, 1);
	ck_assert_uint_eq(held(0), 0);
}
END_TEST

START_TEST(resize_settles_to_the_drivers_size)
{
	fake_setup(cap_4g);
	struct alloc_ticket t;
	ck_assert_int_eq(alloc_ask(&t, 0, GiB), 0);
	ck_assert_int_eq(alloc_resize(&t, 512 * MiB), 0);
	ck_assert_uint_eq(held(0), 512 * MiB);
	ck_assert_int_eq(alloc_resize(&t, 3 * GiB), 0);
	ck_assert_uint_eq(held(0), 3 * GiB);
	ck_assert_int_eq(alloc_resize(&t, 5 * GiB), -ENOMEM);
	ck_assert_uint_eq(held(0), 3 * GiB); /* the reservation is kept */
	alloc_settle(&t, 0, CHARGE_PTR, 0);
	ck_assert_uint_eq(held(0), 0);
}
END_TEST

START_TEST(no_device_accounts_nothing)
{
	fake_setup(cap_4g);
	struct alloc_ticket t;
	ck_assert_int_eq(alloc_ask(&t, -1, 100 * GiB), 0);
	ck_assert_ptr_null(t.gpu);
	alloc_settle(&t, 1, CHARGE_PTR, 0x1000);
	ck_assert_ptr_null(gpu_peek(0));
	release(0x1000, 1);
}
END_TEST

START_TEST(managed_memory_follows_the_setting)
{
	const char *exclude[] = { "CUSLICE_MEM_LIMIT", "4G", "CUSLICE_MANAGED", "exclude", NULL };
	fake_setup(exclude);
	struct alloc_ticket t;
	ck_assert_int_eq(alloc_ask_managed(&t, 0, 8 * GiB), 0);
	ck_assert_ptr_null(t.gpu);
	fake_setup(cap_4g); /* count, the default */
	ck_assert_int_eq(alloc_ask_managed(&t, 0, 8 * GiB), -ENOMEM);
	ck_assert_int_eq(alloc_ask_managed(&t, 0, 2 * GiB), 0);
	ck_assert_uint_eq(held(0), 2 * GiB);
}
END_TEST

START_TEST(unreadable_cap_refuses_everything)
{
	const char *bad[] = { "CUSLICE_MEM_LIMIT", "4 gigs", NULL };
	fake_setup(bad);
	struct alloc_ticket t;
	ck_assert_int_eq(alloc_ask(&t, 0, 1), -ENOMEM);
	struct mem_view v;
	ck_assert_int_eq(alloc_view(gpu_peek(0)->uuid, 0, 16 * GiB, &v), 1);
	ck_assert_uint_eq(v.cap, 0); /* fail closed */
}
END_TEST

START_TEST(context_reserve_is_charged_once)
{
	const char *pairs[] = { "CUSLICE_MEM_LIMIT", "4G", "CUSLICE_CTX_RESERVE", "1G", NULL };
	fake_setup(pairs);
	ck_assert_int_eq(allocate(0, GiB, 0x1000), 0);
	ck_assert_uint_eq(held(0), 2 * GiB);
	ck_assert_int_eq(allocate(0, GiB, 0x2000), 0);
	ck_assert_uint_eq(held(0), 3 * GiB);
	ck_assert_int_eq(allocate(0, 2 * GiB, 0x3000), -ENOMEM);
}
END_TEST

START_TEST(reserve_that_does_not_fit_refuses_until_it_does)
{
	const char *pairs[] = { "CUSLICE_MEM_LIMIT", "1G", "CUSLICE_CTX_RESERVE", "2G", NULL };
	fake_setup(pairs);
	ck_assert_int_eq(allocate(0, 1, 0x1000), -ENOMEM);
	ck_assert_uint_eq(held(0), 0); /* not charged: it did not fit */
	ck_assert_int_eq(atomic_load(&gpu_peek(0)->reserve_pending), 1);
}
END_TEST

START_TEST(local_ledger_keeps_the_cap_without_a_file)
{
	fake_setup(cap_4g);
	fake.no_uuid = 1; /* no file can be joined */
	ck_assert_int_eq(allocate(0, 3 * GiB, 0x1000), 0);
	ck_assert(!gpu_shared(gpu_peek(0)));
	ck_assert_uint_eq(held(0), 3 * GiB);
	ck_assert_int_eq(allocate(0, 2 * GiB, 0x2000), -ENOMEM);
	release(0x1000, 1);
	ck_assert_uint_eq(held(0), 0);
}
END_TEST

START_TEST(report_info_rewrites_free_and_total)
{
	fake_setup(cap_4g);
	ck_assert_int_eq(allocate(0, 3 * GiB, 0x1000), 0);
	uint64_t free = 10 * GiB, total = 16 * GiB;
	alloc_report_info(0, &free, &total);
	ck_assert_uint_eq(total, 4 * GiB);
	ck_assert_uint_eq(free, GiB);
	free = 100 * MiB; /* the card has less than the cap leaves */
	total = 16 * GiB;
	alloc_report_info(0, &free, &total);
	ck_assert_uint_eq(free, 100 * MiB);
	free = 7;
	total = 9;
	alloc_report_info(-1, &free, &total); /* no context: untouched */
	ck_assert_uint_eq(free, 7);
	ck_assert_uint_eq(total, 9);
}
END_TEST

START_TEST(no_cap_reports_the_driver)
{
	fake_setup(NULL);
	ck_assert(!alloc_caps_configured());
	uint64_t free = 10 * GiB, total = 16 * GiB;
	alloc_report_info(0, &free, &total);
	ck_assert_uint_eq(free, 10 * GiB);
	ck_assert_uint_eq(total, 16 * GiB);
	alloc_report_total(0, &total);
	ck_assert_uint_eq(total, 16 * GiB);
}
END_TEST

START_TEST(report_total_does_not_join)
{
	const char *pairs[] = { "CUSLICE_MEM_LIMIT", "1=2G", NULL };
	fake_setup(pairs);
	uint64_t total = 16 * GiB;
	alloc_report_total(1, &total);
	ck_assert_uint_eq(total, 2 * GiB);
	total = 16 * GiB;
	alloc_report_total(0, &total); /* no cap on 0 */
	ck_assert_uint_eq(total, 16 * GiB);
	ck_assert_ptr_null(gpu_peek(1));
}
END_TEST

START_TEST(unjoined_view_reads_the_groups_usage)
{
	const char *pairs[] = { "CUSLICE_MEM_LIMIT", "8G", "CUSLICE_GROUP", "team", NULL };
	fake_setup(pairs);
	/* Another member of the group holds 3G in GPU 1's file. */
	char uuid[CS_UUID_MAX], why[200];
	fake_uuid(1, uuid, sizeof(uuid));
	struct gpufile other;
	ck_assert_int_eq(gpufile_open(&other, fake_dir, uuid, 20, why, sizeof(why)), 0);
	struct member_info info = { .weight = 1, .priority = 1, .declared_cap = 8 * GiB,
				    .group = "team" };
	unsigned slot;
	ck_assert_int_eq(member_join(&other, &info, NULL, NULL, &slot), 0);
	ck_assert_int_eq(ledger_reserve(other.map, slot, 3 * GiB, NULL, NULL, NULL), 0);
	uint64_t total = 16 * GiB, used = 0, free = 0;
	ck_assert_int_eq(alloc_report_usage(uuid, 1, &total, &used, &free), 1);
	ck_assert_uint_eq(total, 8 * GiB);
	ck_assert_uint_eq(used, 3 * GiB);
	ck_assert_uint_eq(free, 5 * GiB);
	ck_assert_ptr_null(gpu_peek(1)); /* looked at, not joined */
	member_leave(&other, slot);
	gpufile_close(&other);
}
END_TEST

START_TEST(forked_child_forgets_the_parents_charges)
{
	fake_setup(cap_4g);
	ck_assert_int_eq(allocate(0, 3 * GiB, 0x1000), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		alloc_after_fork();
		gpu_after_fork();
		struct alloc_hold h;
		alloc_take(&h, CHARGE_PTR, 0x1000);
		/* Its own slot: the parent's 3G count in the group, not in it. */
		int ok = !h.found && allocate(0, GiB, 0x2000) == 0 && held(0) == GiB;
		gpu_leave_all();
		_exit(ok ? 0 : 1);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_uint_eq(held(0), 3 * GiB);
}
END_TEST

static Suite *alloc_suite(void)
{
	Suite *s = suite_create("alloc");
	TCase *tc = tcase_create("policy");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ask_within_the_cap_and_refuse_beyond);
	tcase_add_test(tc, failed_driver_call_gives_the_bytes_back);
	tcase_add_test(tc, release_gives_back_exactly_the_charge);
	tcase_add_test(tc, failed_release_keeps_the_record);
	tcase_add_test(tc, kinds_keep_keys_apart);
	tcase_add_test(tc, reused_key_gives_back_the_old_charge);
	tcase_add_test(tc, resize_settles_to_the_drivers_size);
	tcase_add_test(tc, no_device_accounts_nothing);
	tcase_add_test(tc, managed_memory_follows_the_setting);
	tcase_add_test(tc, unreadable_cap_refuses_everything);
	tcase_add_test(tc, context_reserve_is_charged_once);
	tcase_add_test(tc, reserve_that_does_not_fit_refuses_until_it_does);
	tcase_add_test(tc, local_ledger_keeps_the_cap_without_a_file);
	tcase_add_test(tc, report_info_rewrites_free_and_total);
	tcase_add_test(tc, no_cap_reports_the_driver);
	tcase_add_test(tc, report_total_does_not_join);
	tcase_add_test(tc, unjoined_view_reads_the_groups_usage);
	tcase_add_test(tc, forked_child_forgets_the_parents_charges);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(alloc_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
