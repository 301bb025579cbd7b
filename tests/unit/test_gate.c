/* test_gate.c - lib/gate.c: the launch gate over a real ring in a temporary
 * folder, driven through the fake driver table (no simulated libcuda). */
#include <check.h>

#include "fakegpu.h"
#include "gate.h"

static void setup(void)
{
	fake_make_dir();
}

static void teardown(void)
{
	fake_remove_dir();
}

static const char *const ring_on[] = { "CUSLICE_RING", "on", NULL };

static unsigned holder(struct gpu *g)
{
	return TOKEN_HOLDER(atomic_load(&g->file.map->ring.token));
}

START_TEST(ring_off_is_a_bypass)
{
	fake_setup(NULL);
	struct gate_pass pass;
	gate_enter(&pass, NULL, 0);
	ck_assert_ptr_null(pass.member);
	gate_leave(&pass);
	struct gpu *g = gpu_peek(0);
	ck_assert_ptr_nonnull(g); /* joined: its memory is still capped */
	ck_assert_int_eq(atomic_load(&g->gate.state), GATE_BYPASS);
	ck_assert_uint_eq(holder(g), CS_NO_HOLDER);
}
END_TEST

START_TEST(no_context_passes_without_joining)
{
	fake_setup(ring_on);
	fake.current = -1;
	struct gate_pass pass;
	gate_enter(&pass, NULL, 0);
	ck_assert_ptr_null(pass.member);
	ck_assert_ptr_null(gpu_peek(0));
}
END_TEST

START_TEST(launch_holds_the_token_and_shutdown_hands_it_on)
{
	fake_setup(ring_on);
	struct gate_pass pass;
	gate_enter(&pass, NULL, 0);
	ck_assert_ptr_nonnull(pass.member);
	struct gpu *g = gpu_peek(0);
	ck_assert_int_eq(atomic_load(&g->gate.state), GATE_RING);
	ck_assert_uint_eq(holder(g), g->slot);
	ck_assert_int_eq(atomic_load(&g->gate.nctx), 1); /* the context to drain */
	gate_leave(&pass);
	gate_enter(&pass, NULL, 0); /* the slice is ours: the fast path */
	ck_assert_ptr_nonnull(pass.member);
	gate_leave(&pass);
	ck_assert_int_eq(atomic_load(&g->gate.nctx), 1);
	gate_shutdown();
	ck_assert_uint_eq(holder(g), CS_NO_HOLDER);
	gpu_leave_all();
}
END_TEST

START_TEST(captured_launches_need_no_token)
{
	fake_setup(ring_on);
	int stream;
	gate_capture_begin();
	gate_capture_begun(&stream, 1, 1);
	struct gate_pass pass;
	gate_enter(&pass, &stream, 0);
	ck_assert_ptr_null(pass.member); /* it does not run: no token taken */
	struct gpu *g = gpu_peek(0);
	ck_assert_int_eq(atomic_load(&g->gate.state), GATE_RING);
	ck_assert_uint_eq(holder(g), CS_NO_HOLDER);
	gate_capture_end(&stream);
	gate_enter(&pass, &stream, 0);
	ck_assert_ptr_nonnull(pass.member);
	ck_assert_uint_eq(holder(g), g->slot);
	gate_leave(&pass);
	gate_shutdown();
	gpu_leave_all();
}
END_TEST

START_TEST(failed_capture_is_not_recorded)
{
	fake_setup(ring_on);
	int stream;
	gate_capture_begin();
	gate_capture_begun(&stream, 1, 0); /* the driver refused to start it */
	struct gate_pass pass;
	gate_enter(&pass, &stream, 0);
	ck_assert_ptr_nonnull(pass.member);
	gate_leave(&pass);
	gate_shutdown();
	gpu_leave_all();
}
END_TEST

static Suite *gate_suite(void)
{
	Suite *s = suite_create("gate");
	TCase *tc = tcase_create("gate");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, ring_off_is_a_bypass);
	tcase_add_test(tc, no_context_passes_without_joining);
	tcase_add_test(tc, launch_holds_the_token_and_shutdown_hands_it_on);
	tcase_add_test(tc, captured_launches_need_no_token);
	tcase_add_test(tc, failed_capture_is_not_recorded);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(gate_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
