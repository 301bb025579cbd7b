/* test_arraysize.c - lib/arraysize.c: the size estimates of pitched
 * allocations and CUDA arrays. */
#include <check.h>
#include <stdlib.h>

#include "arraysize.h"

enum { FLOAT = 0x20, HALF = 0x10, UINT8 = 0x01, UNKNOWN = 0x7e };

START_TEST(formats)
{
	ck_assert_uint_eq(array_format_bytes(UINT8), 1);
	ck_assert_uint_eq(array_format_bytes(HALF), 2);
	ck_assert_uint_eq(array_format_bytes(FLOAT), 4);
	ck_assert_uint_eq(array_format_bytes(0x9d), 1); /* BC7 */
	ck_assert_uint_eq(array_format_bytes(UNKNOWN), 0);
}
END_TEST

START_TEST(plain_arrays)
{
	struct array_shape a1 = { 1000, 0, 0, FLOAT, 1, 1, 0 };
	ck_assert_uint_eq(array_bytes(&a1), 4000);
	struct array_shape a2 = { 640, 480, 0, HALF, 4, 1, 0 };
	ck_assert_uint_eq(array_bytes(&a2), 640ull * 480 * 2 * 4);
	struct array_shape a3 = { 64, 64, 64, UINT8, 2, 1, 0 };
	ck_assert_uint_eq(array_bytes(&a3), 64ull * 64 * 64 * 2);
	struct array_shape unknown = { 10, 10, 0, UNKNOWN, 1, 1, 0 };
	ck_assert_uint_eq(array_bytes(&unknown), 400); /* 4 bytes a channel */
	struct array_shape no_channels = { 10, 0, 0, UINT8, 0, 0, 0 };
	ck_assert_uint_eq(array_bytes(&no_channels), 10);
}
END_TEST

START_TEST(mipmap_levels_halve)
{
	struct array_shape m = { 8, 8, 0, UINT8, 1, 4, 0 };
	ck_assert_uint_eq(array_bytes(&m), 64 + 16 + 4 + 1);
	struct array_shape deep = { 4, 4, 4, UINT8, 1, 3, 0 };
	ck_assert_uint_eq(array_bytes(&deep), 64 + 8 + 1);
	/* Layers stay: 6 faces of a cube at every level. */
	struct array_shape cube = { 4, 4, 6, UINT8, 1, 3, 1 };
	ck_assert_uint_eq(array_bytes(&cube), 6 * (16 + 4 + 1));
	/* Past the 1x1 level, every level counts one element. */
	struct array_shape many = { 2, 0, 0, UINT8, 1, 4, 0 };
	ck_assert_uint_eq(array_bytes(&many), 2 + 1 + 1 + 1);
}
END_TEST

START_TEST(sizes_saturate)
{
	struct array_shape huge = { UINT64_MAX / 2, 4, 0, FLOAT, 4, 1, 0 };
	ck_assert_uint_eq(array_bytes(&huge), UINT64_MAX);
	ck_assert_uint_eq(array_pitched_bytes(UINT64_MAX, 2), UINT64_MAX);
	ck_assert_uint_eq(array_pitch(UINT64_MAX), UINT64_MAX & ~(uint64_t)(ARRAY_PITCH_ALIGN - 1));
}
END_TEST

START_TEST(pitch_rounds_up)
{
	ck_assert_uint_eq(array_pitch(1), 512);
	ck_assert_uint_eq(array_pitch(512), 512);
	ck_assert_uint_eq(array_pitch(513), 1024);
	ck_assert_uint_eq(array_pitched_bytes(array_pitch(1000), 3), 3072);
}
END_TEST

static Suite *arraysize_suite(void)
{
	Suite *s = suite_create("arraysize");
	TCase *tc = tcase_create("estimates");
	tcase_add_test(tc, formats);
	tcase_add_test(tc, plain_arrays);
	tcase_add_test(tc, mipmap_levels_halve);
	tcase_add_test(tc, sizes_saturate);
	tcase_add_test(tc, pitch_rounds_up);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(arraysize_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
