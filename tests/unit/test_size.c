/* test_size.c - lib/size.c: sizes and bounded integers as users write them. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "size.h"

#define SENTINEL UINT64_C(0xdeadbeefcafef00d)

/* Parses text, expecting success and want. */
static void expect_size(const char *text, uint64_t want)
{
	uint64_t out = SENTINEL;
	int err = size_parse(text, &out);
	ck_assert_msg(err == 0, "size_parse(\"%s\") returned %d", text, err);
	ck_assert_msg(out == want, "size_parse(\"%s\") gave %llu, want %llu", text,
		      (unsigned long long)out, (unsigned long long)want);
}

/* Parses text, expecting error want_err and *out left alone. */
static void expect_size_error(const char *text, int want_err)
{
	uint64_t out = SENTINEL;
	int err = size_parse(text, &out);
	ck_assert_msg(err == want_err, "size_parse(\"%s\") returned %d, want %d", text, err,
		      want_err);
	ck_assert_msg(out == SENTINEL, "size_parse(\"%s\") changed *out on error", text);
}

START_TEST(plain_numbers)
{
	expect_size("0", 0);
	expect_size("1", 1);
	expect_size("1048576", 1048576);
	expect_size("18446744073709551615", UINT64_MAX);
}
END_TEST

START_TEST(binary_suffixes)
{
	expect_size("1K", 1024);
	expect_size("1k", 1024);
	expect_size("512M", UINT64_C(512) << 20);
	expect_size("512m", UINT64_C(512) << 20);
	expect_size("4G", UINT64_C(4) << 30);
	expect_size("2T", UINT64_C(2) << 40);
	expect_size("100B", 100);
	expect_size("100b", 100);
}
END_TEST

START_TEST(suffix_spellings)
{
	uint64_t four_g = UINT64_C(4) << 30;
	expect_size("4Gi", four_g);
	expect_size("4GiB", four_g);
	expect_size("4gib", four_g);
	expect_size("4GB", four_g);
	expect_size("8Ki", 8192);
	expect_size("8KiB", 8192);
	expect_size("3MiB", UINT64_C(3) << 20);
	expect_size("1TiB", UINT64_C(1) << 40);
}
END_TEST

START_TEST(fractions)
{
	expect_size("1.5G", (UINT64_C(3) << 30) / 2);
	expect_size("0.5K", 512);
	expect_size("1.25M", 1310720);
	expect_size("0.1K", 102); /* 102.4 rounds down */
	expect_size("2.0G", UINT64_C(2) << 30);
	expect_size("1.5", 1);    /* no suffix: bytes, fraction dropped */
	expect_size("0.75T", (UINT64_C(3) << 40) / 4);
}
END_TEST

START_TEST(surrounding_blanks)
{
	expect_size(" 4G", UINT64_C(4) << 30);
	expect_size("4G ", UINT64_C(4) << 30);
	expect_size("\t512M\n", UINT64_C(512) << 20);
}
END_TEST

START_TEST(garbage_is_einval)
{
	static const char *const bad[] = {
		"", " ", "abc", "G", "-1", "+1", "4X", "4GG", "4Gx", "4GiBB", "4 G", "1.",
		".5G", "1.5.2G", "0x10", "4G4", "1e6", "4Q", "12345678M trailing",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_size_error(bad[i], -EINVAL);
	uint64_t out = SENTINEL;
	ck_assert_int_eq(size_parse(NULL, &out), -EINVAL);
	ck_assert(out == SENTINEL);
}
END_TEST

START_TEST(overflow_is_erange)
{
	expect_size_error("18446744073709551616", -ERANGE);
	expect_size_error("99999999999999999999999", -ERANGE);
	expect_size_error("16777216T", -ERANGE);       /* 2^24 << 40 = 2^64 */
	expect_size_error("17179869184G", -ERANGE);    /* 2^34 << 30 = 2^64 */
	expect_size_error("18014398509481984K", -ERANGE); /* 2^54 << 10 */
	/* The largest that fits are accepted. */
	expect_size("16777215T", UINT64_C(16777215) << 40);
	expect_size("18014398509481983K", UINT64_C(18014398509481983) << 10);
	/* A fraction never lifts the largest fitting value past 2^64 - 1. */
	expect_size("18014398509481983.99999K", UINT64_MAX);
	expect_size_error("18446744073709551615.5K", -ERANGE);
}
END_TEST

START_TEST(uint_bounds)
{
	uint64_t out = SENTINEL;
	ck_assert_int_eq(uint_parse("5", 1, 10, &out), 0);
	ck_assert_uint_eq(out, 5);
	ck_assert_int_eq(uint_parse("1", 1, 10, &out), 0);
	ck_assert_uint_eq(out, 1);
	ck_assert_int_eq(uint_parse("10", 1, 10, &out), 0);
	ck_assert_uint_eq(out, 10);
	ck_assert_int_eq(uint_parse(" 7 ", 1, 10, &out), 0);
	ck_assert_uint_eq(out, 7);
	ck_assert_int_eq(uint_parse("18446744073709551615", 0, UINT64_MAX, &out), 0);
	ck_assert(out == UINT64_MAX);

	out = SENTINEL;
	ck_assert_int_eq(uint_parse("0", 1, 10, &out), -ERANGE);
	ck_assert_int_eq(uint_parse("11", 1, 10, &out), -ERANGE);
	ck_assert_int_eq(uint_parse("18446744073709551616", 0, UINT64_MAX, &out), -ERANGE);
	ck_assert(out == SENTINEL);
}
END_TEST

START_TEST(uint_garbage)
{
	static const char *const bad[] = { "", " ", "abc", "-1", "+3", "5x", "5 5", "1.0", "0x5",
					   "5K" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t out = SENTINEL;
		ck_assert_msg(uint_parse(bad[i], 0, 100, &out) == -EINVAL,
			      "uint_parse(\"%s\") accepted", bad[i]);
		ck_assert(out == SENTINEL);
	}
	uint64_t out = SENTINEL;
	ck_assert_int_eq(uint_parse(NULL, 0, 100, &out), -EINVAL);
	ck_assert(out == SENTINEL);
}
END_TEST

START_TEST(format_sizes)
{
	char buf[32];
	ck_assert_str_eq(size_format(0, buf, sizeof(buf)), "0B");
	ck_assert_str_eq(size_format(100, buf, sizeof(buf)), "100B");
	ck_assert_str_eq(size_format(1023, buf, sizeof(buf)), "1023B");
	ck_assert_str_eq(size_format(1024, buf, sizeof(buf)), "1K");
	ck_assert_str_eq(size_format(1536, buf, sizeof(buf)), "1.5K");
	ck_assert_str_eq(size_format(UINT64_C(512) << 20, buf, sizeof(buf)), "512M");
	ck_assert_str_eq(size_format((UINT64_C(3) << 30) / 2, buf, sizeof(buf)), "1.5G");
	ck_assert_str_eq(size_format(UINT64_C(2) << 40, buf, sizeof(buf)), "2T");
	ck_assert_str_eq(size_format(UINT64_C(4096) << 40, buf, sizeof(buf)), "4096T");
	/* What it prints parses back to the same size when exact. */
	uint64_t back = 0;
	ck_assert_int_eq(size_parse(size_format(UINT64_C(80) << 30, buf, sizeof(buf)), &back), 0);
	ck_assert(back == UINT64_C(80) << 30);
	/* A short buffer is truncated, never overrun. */
	char small[4] = { 'x', 'x', 'x', 'x' };
	size_format(123456, small, 3);
	ck_assert_int_eq(small[2], '\0');
	ck_assert_int_eq(small[3], 'x');
}
END_TEST

static Suite *size_suite(void)
{
	Suite *s = suite_create("size");
	TCase *tc = tcase_create("size_parse");
	tcase_add_test(tc, plain_numbers);
	tcase_add_test(tc, binary_suffixes);
	tcase_add_test(tc, suffix_spellings);
	tcase_add_test(tc, fractions);
	tcase_add_test(tc, surrounding_blanks);
	tcase_add_test(tc, garbage_is_einval);
	tcase_add_test(tc, overflow_is_erange);
	suite_add_tcase(s, tc);
	tc = tcase_create("uint_parse");
	tcase_add_test(tc, uint_bounds);
	tcase_add_test(tc, uint_garbage);
	suite_add_tcase(s, tc);
	tc = tcase_create("size_format");
	tcase_add_test(tc, format_sizes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(size_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
