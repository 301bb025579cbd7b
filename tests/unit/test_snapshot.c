/* test_snapshot.c - lib/snapshot.c: what `cuslice status/top/metrics` show.
 *
 * The pure parts (wait percentiles, the 10 s share, rates) are checked on
 * hand-made histories; snapshot_take_at() on a real per-GPU file in a
 * temporary folder, with members that are separate open file descriptions
 * of it (each holds its own OFD lock, as separate processes would), and a
 * "dead" member made by closing its description. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "member.h"
#include "snapshot.h"

#define UUID "GPU-00112233-4455-6677-8899-aabbccddeeff"
#define S (UINT64_C(1000000000))
#define G (UINT64_C(1) << 30)

static char root[64];

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st, (void)type, (void)ftw;
	return remove(path);
}

static void setup(void)
{
	snprintf(root, sizeof(root), "/tmp/cuslice-test-snapshot-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(root));
}

static void teardown(void)
{
	nftw(root, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* ---- wait percentiles ---- */

START_TEST(quantile_of_empty_histogram_is_nodata)
{
	uint64_t hist[CS_WAIT_BUCKETS] = { 0 }, us = 7;
	ck_assert_int_eq(snapshot_quantile_us(hist, 0.5, &us), -ENODATA);
	ck_assert_uint_eq(us, 7);
}
END_TEST

START_TEST(quantile_is_upper_bound_of_its_bucket)
{
	uint64_t hist[CS_WAIT_BUCKETS] = { 0 }, us = 0;
	hist[3] = 50;  /* waits < 8 us */
	hist[10] = 49; /* < 1024 us */
	hist[15] = 1;  /* < 32768 us */
	ck_assert_int_eq(snapshot_quantile_us(hist, 0.50, &us), 0);
	ck_assert_uint_eq(us, 8);
	ck_assert_int_eq(snapshot_quantile_us(hist, 0.51, &us), 0);
	ck_assert_uint_eq(us, 1024);
	ck_assert_int_eq(snapshot_quantile_us(hist, 0.99, &us), 0);
	ck_assert_uint_eq(us, 1024);
	ck_assert_int_eq(snapshot_quantile_us(hist, 1.0, &us), 0);
	ck_assert_uint_eq(us, 32768);
}
END_TEST

START_TEST(quantile_in_last_bucket_has_no_upper_bound)
{
	uint64_t hist[CS_WAIT_BUCKETS] = { 0 }, us = 0;
	hist[0] = 1;
	hist[CS_WAIT_BUCKETS - 1] = 9;
	ck_assert_int_eq(snapshot_quantile_us(hist, 0.1, &us), 0);
	ck_assert_uint_eq(us, 1);
	ck_assert_int_eq(snapshot_quantile_us(hist, 0.5, &us), 0);
	ck_assert_uint_eq(us, UINT64_MAX);
}
END_TEST

/* ---- shares over a window ---- */

/* A history of n entries one second apart, ending at end_s, in which the
 * member holds the GPU `rate` of the time; pos is where the next goes. */
static unsigned fill_history(uint64_t *t, uint64_t *held, unsigned n, uint64_t end_s,
			     double rate, unsigned start_pos)
{
	memset(t, 0, CS_HIST * sizeof(*t));
	memset(held, 0, CS_HIST * sizeof(*held));
	unsigned pos = start_pos;
	for (unsigned i = 0; i < n; i++) {
		uint64_t at = (end_s - (n - 1 - i)) * S;
		t[pos] = at;
		held[pos] = (uint64_t)((double)at * rate);
		pos = (pos + 1) % CS_HIST;
	}
	return pos;
}

START_TEST(window_share_needs_two_entries)
{
	uint64_t t[CS_HIST], held[CS_HIST];
	double share = -1;
	uint64_t span = 1;
	unsigned pos = fill_history(t, held, 0, 100, 0.5, 0);
	ck_assert_int_eq(snapshot_window_share(t, held, pos, 100 * S, 10 * S, &share, &span),
			 -ENODATA);
	pos = fill_history(t, held, 1, 100, 0.5, 0);
	ck_assert_int_eq(snapshot_window_share(t, held, pos, 100 * S, 10 * S, &share, &span),
			 -ENODATA);
	ck_assert(share == -1 && span == 1);
}
END_TEST

START_TEST(window_share_spans_ten_seconds_across_the_wrap)
{
	uint64_t t[CS_HIST], held[CS_HIST];
	double share = 0;
	uint64_t span = 0;
	/* 12 entries starting at slot 5: the ring has wrapped. */
	unsigned pos = fill_history(t, held, CS_HIST, 100, 0.25, 5);
	ck_assert_int_eq(snapshot_window_share(t, held, pos, 100 * S + S / 2, 10 * S, &share,
					       &span), 0);
	ck_assert_uint_eq(span, 10 * S);
	ck_assert_double_eq_tol(share, 0.25, 1e-9);
}
END_TEST

START_TEST(window_share_of_young_member_uses_what_there_is)
{
	uint64_t t[CS_HIST], held[CS_HIST];
	double share = 0;
	uint64_t span = 0;
	unsigned pos = fill_history(t, held, 3, 50, 1.0, 0);
	ck_assert_int_eq(snapshot_window_share(t, held, pos, 50 * S, 10 * S, &share, &span), 0);
	ck_assert_uint_eq(span, 2 * S);
	ck_assert_double_eq_tol(share, 1.0, 1e-9);
}
END_TEST

START_TEST(window_share_is_zero_when_history_is_stale)
{
	uint64_t t[CS_HIST], held[CS_HIST];
	double share = 1;
	uint64_t span = 0;
	unsigned pos = fill_history(t, held, 5, 50, 0.5, 0);
	ck_assert_int_eq(snapshot_window_share(t, held, pos, 80 * S, 10 * S, &share, &span), 0);
	ck_assert(share == 0);
}
END_TEST

START_TEST(window_share_is_clamped)
{
	uint64_t t[CS_HIST] = { 0 }, held[CS_HIST] = { 0 };
	double share = -1;
	uint64_t span = 0;
	t[0] = 10 * S, held[0] = 5 * S;
	t[1] = 11 * S, held[1] = 9 * S; /* 4 s held in 1 s: garbage */
	ck_assert_int_eq(snapshot_window_share(t, held, 2, 11 * S, 10 * S, &share, &span), 0);
	ck_assert(share == 1.0);
	held[1] = 1 * S; /* went back */
	ck_assert_int_eq(snapshot_window_share(t, held, 2, 11 * S, 10 * S, &share, &span), 0);
	ck_assert(share == 0.0);
}
END_TEST

START_TEST(rates)
{
	ck_assert_double_eq_tol(snapshot_rate(10, 60, S / 2), 100.0, 1e-9);
	ck_assert(snapshot_rate(10, 60, 0) == 0);
	ck_assert(snapshot_rate(60, 10, S) == 0); /* the file was recreated */
}
END_TEST

START_TEST(names)
{
	ck_assert_str_eq(snapshot_state_name(SNAP_HOLDING), "holding");
	ck_assert_str_eq(snapshot_state_name(SNAP_DEAD), "dead");
	ck_assert_str_eq(snapshot_priority_name(0), "low");
	ck_assert_str_eq(snapshot_priority_name(2), "high");
	ck_assert_str_eq(snapshot_priority_name(77), "invalid");
}
END_TEST

/* ---- snapshots of a real file ---- */

static void open_member(struct gpufile *g, const char *group, uint64_t cap, uint32_t weight,
			unsigned *slot)
{
	char why[200] = "";
	int err = gpufile_open(g, root, UUID, 20, why, sizeof(why));
	ck_assert_msg(err == 0, "gpufile_open: %d %s", err, why);
	struct member_info info = { .weight = weight, .priority = 1, .ordinal = 0,
				    .declared_cap = cap, .group = group };
	ck_assert_int_eq(member_join(g, &info, NULL, NULL, slot), 0);
}

static void open_reader(struct gpufile *r)
{
	char path[320], why[200] = "";
	ck_assert_int_eq(gpufile_name(root, UUID, path, sizeof(path)), 0);
	ck_assert_msg(gpufile_open_readonly(r, path, why, sizeof(why)) == 0, "%s", why);
}

START_TEST(states_groups_and_caps)
{
	struct gpufile a, b, c, r;
	unsigned sa, sb, sc;
	open_member(&a, "train", 2 * G, 2, &sa);
	open_member(&b, "train", 1 * G, 1, &sb);
	open_member(&c, "", 0, 1, &sc);
	struct cs_file *f = a.map;
	atomic_store(&f->members[sa].charged, 300);
	atomic_store(&f->members[sb].charged, 200);
	atomic_store(&f->members[sc].charged, 50);
	atomic_store(&f->ring.token, TOKEN_MAKE(7, sb));
	atomic_store(&f->members[sc].ring_state, RING_WAITING);
	atomic_store(&f->members[sa].ring_state, RING_HOLDING); /* stale: not the holder */

	open_reader(&r);
	struct snap_gpu *s = malloc(sizeof(*s));
	ck_assert_int_eq(snapshot_take(&r, s), 0);
	ck_assert_str_eq(s->uuid, UUID);
	ck_assert_uint_eq(s->nmembers, 3);
	ck_assert_uint_eq(s->nalive, 3);
	ck_assert_int_eq(s->holder, (int)sb);
	ck_assert_uint_eq(s->generation, 7);
	ck_assert_int_eq(snapshot_member(s, sa)->state, SNAP_IDLE);
	ck_assert_int_eq(snapshot_member(s, sb)->state, SNAP_HOLDING);
	ck_assert_int_eq(snapshot_member(s, sc)->state, SNAP_WAITING);
	ck_assert_uint_eq(s->ngroups, 1);
	ck_assert_str_eq(s->groups[0].name, "train");
	ck_assert_uint_eq(s->groups[0].members, 2);
	ck_assert_uint_eq(s->groups[0].used, 500);
	ck_assert_uint_eq(s->groups[0].cap, 1 * G); /* the smallest declared */
	ck_assert_uint_eq(snapshot_member(s, sa)->group_cap, 1 * G);
	ck_assert_uint_eq(snapshot_member(s, sa)->group_used, 500);
	ck_assert_uint_eq(snapshot_member(s, sc)->group_cap, 0); /* alone, no cap */
	ck_assert_uint_eq(snapshot_member(s, sc)->group_used, 50);
	ck_assert_int_eq(snapshot_member(s, sc)->group_index, -1);
	ck_assert_uint_eq(s->nordinals, 1);
	ck_assert_int_eq(s->ordinals[0], 0);

	/* b dies: its lock goes with its open file description. */
	gpufile_close(&b);
	ck_assert_int_eq(snapshot_take(&r, s), 0);
	ck_assert_uint_eq(s->nmembers, 3);
	ck_assert_uint_eq(s->nalive, 2);
	ck_assert_uint_eq(s->ndead, 1);
	ck_assert_int_eq(snapshot_member(s, sb)->state, SNAP_DEAD);
	ck_assert_uint_eq(s->groups[0].members, 1);
	ck_assert_uint_eq(s->groups[0].used, 300);
	ck_assert_uint_eq(s->groups[0].cap, 2 * G);

	/* a leaves properly: its slot is no longer shown. */
	member_leave(&a, sa);
	ck_assert_int_eq(snapshot_take(&r, s), 0);
	ck_assert_ptr_null(snapshot_member(s, sa));
	ck_assert_uint_eq(s->ngroups, 0);
	free(s);
	gpufile_close(&a);
	gpufile_close(&c);
	gpufile_close(&r);
}
END_TEST

/* The node-policy fields: sources, card, pod, and the sum of caps a card
 * carries (each group's cap once, each lone member's own). */
START_TEST(card_memory_sum_of_caps_and_pods)
{
	struct gpufile a, b, c, r;
	unsigned sa, sb, sc;
	char why[200] = "";
	ck_assert_int_eq(gpufile_open(&a, root, UUID, 20, why, sizeof(why)), 0);
	ck_assert_int_eq(gpufile_open(&b, root, UUID, 20, why, sizeof(why)), 0);
	ck_assert_int_eq(gpufile_open(&c, root, UUID, 20, why, sizeof(why)), 0);
	struct member_info ia = { .weight = 1, .priority = 1, .declared_cap = 2 * G, .group = "pod-uid",
				  .card_total = 16 * G, .src_mem = 2, .src_weight = 1, .src_priority = 3,
				  .pod_name = "trainer-0", .pod_namespace = "ml" };
	struct member_info ib = ia;
	ib.declared_cap = 1 * G;
	ib.card_total = 0; /* its driver did not say */
	struct member_info ic = { .weight = 1, .priority = 1, .declared_cap = 4 * G, .group = "" };
	ck_assert_int_eq(member_join(&a, &ia, NULL, NULL, &sa), 0);
	ck_assert_int_eq(member_join(&b, &ib, NULL, NULL, &sb), 0);
	ck_assert_int_eq(member_join(&c, &ic, NULL, NULL, &sc), 0);
	open_reader(&r);
	struct snap_gpu *s = malloc(sizeof(*s));
	ck_assert_int_eq(snapshot_take(&r, s), 0);
	ck_assert_uint_eq(s->card_total, 16 * G);
	ck_assert_uint_eq(s->caps_sum, 1 * G + 4 * G);
	const struct snap_member *m = snapshot_member(s, sa);
	ck_assert_str_eq(m->pod_name, "trainer-0");
	ck_assert_str_eq(m->pod_namespace, "ml");
	ck_assert_uint_eq(m->src_mem, 2);
	ck_assert_uint_eq(m->src_weight, 1);
	ck_assert_uint_eq(m->src_priority, 3);
	ck_assert_uint_eq(snapshot_member(s, sc)->src_mem, 0); /* not recorded */
	ck_assert_str_eq(snapshot_member(s, sc)->pod_name, "");
	/* a pod name that fills its array is cut, never read past */
	memset(a.map->members[sa].pod_name, 'x', sizeof(a.map->members[sa].pod_name));
	ck_assert_int_eq(snapshot_take(&r, s), 0);
	ck_assert_uint_eq(strlen(snapshot_member(s, sa)->pod_name), CS_POD_NAME_MAX - 1);
	gpufile_close(&c); /* the lone member dies: its cap no longer counts */
	ck_assert_int_eq(snapshot_take(&r, s), 0);
	ck_assert_uint_eq(s->caps_sum, 1 * G);
	free(s);
	gpufile_close(&a);
	gpufile_close(&b);
	gpufile_close(&r);
}
END_TEST

START_TEST(shares_and_waits_of_a_member)
{
	struct gpufile a, r;
	unsigned sa;
	open_member(&a, "", 0, 1, &sa);
	struct cs_member *m = &a.map->members[sa];
	uint64_t now_mono = 1000 * S, now_unix = m->join_unix_ns + 20 * S;
	atomic_store(&m->held_ns, 4 * S);
	for (unsigned i = 0; i < CS_HIST; i++) { /* 30% busy lately, up to 1 s ago */
		uint64_t at = now_mono - (CS_HIST - i) * S;
		atomic_store(&m->hist_t_ns[i], at);
		atomic_store(&m->hist_held_ns[i], 5 * S + (uint64_t)(0.3 * (double)(at - 900 * S)));
	}
	atomic_store(&m->hist_pos, 0);
	atomic_store(&m->wait_hist[4], 3);
	atomic_store(&m->wait_hist[12], 1);

	open_reader(&r);
	struct snap_gpu *s = malloc(sizeof(*s));
	ck_assert_int_eq(snapshot_take_at(&r, now_mono, now_unix, s), 0);
	const struct snap_member *sm = snapshot_member(s, sa);
	ck_assert_ptr_nonnull(sm);
	ck_assert_double_eq_tol(sm->share_window, 0.3, 1e-6);
	ck_assert_uint_eq(sm->share_window_span_ns, 10 * S);
	/* The history's newest entry (5 s + 0.3 * 99 s) is more than held_ns. */
	ck_assert_uint_eq(sm->held_total_ns, 5 * S + (uint64_t)(0.3 * 99.0 * (double)S));
	ck_assert_double_eq_tol(sm->share_life, 1.0, 1e-9); /* clamped */
	ck_assert(sm->has_waits);
	ck_assert_uint_eq(sm->waits, 4);
	ck_assert_uint_eq(sm->wait_p50_us, 16);
	ck_assert_uint_eq(sm->wait_p99_us, 4096);
	free(s);
	gpufile_close(&a);
	gpufile_close(&r);
}
END_TEST

START_TEST(member_without_history_gets_share_since_joining)
{
	struct gpufile a, r;
	unsigned sa;
	open_member(&a, "", 0, 1, &sa);
	struct cs_member *m = &a.map->members[sa];
	atomic_store(&m->held_ns, 2 * S);
	open_reader(&r);
	struct snap_gpu *s = malloc(sizeof(*s));
	ck_assert_int_eq(snapshot_take_at(&r, 50 * S, m->join_unix_ns + 8 * S, s), 0);
	const struct snap_member *sm = snapshot_member(s, sa);
	ck_assert_double_eq_tol(sm->share_life, 0.25, 1e-9);
	ck_assert_double_eq_tol(sm->share_window, 0.25, 1e-9);
	ck_assert_uint_eq(sm->share_window_span_ns, 0);
	ck_assert(!sm->has_waits);
	free(s);
	gpufile_close(&a);
	gpufile_close(&r);
}
END_TEST

START_TEST(bad_values_in_the_file_are_contained)
{
	struct gpufile a, r;
	unsigned sa;
	open_member(&a, "", 0, 1, &sa);
	struct cs_member *m = &a.map->members[sa];
	memset(m->group, 'x', sizeof(m->group)); /* unterminated */
	m->priority = 9;
	atomic_store(&m->hist_pos, 1234567);
	atomic_store(&a.map->ring.token, TOKEN_MAKE(3, 200)); /* no such slot */
	open_reader(&r);
	struct snap_gpu *s = malloc(sizeof(*s));
	ck_assert_int_eq(snapshot_take(&r, s), 0);
	const struct snap_member *sm = snapshot_member(s, sa);
	ck_assert_uint_eq(strlen(sm->group), CS_NAME_MAX - 1);
	ck_assert_str_eq(snapshot_priority_name(sm->priority), "invalid");
	ck_assert_int_eq(s->holder, -1);
	ck_assert_int_eq(s->holder_invalid, 1);
	ck_assert_int_eq(sm->state, SNAP_IDLE);
	free(s);
	gpufile_close(&a);
	gpufile_close(&r);
}
END_TEST

START_TEST(unmapped_file_is_einval)
{
	struct gpufile g = { .fd = -1, .map = NULL };
	struct snap_gpu *s = malloc(sizeof(*s));
	ck_assert_int_eq(snapshot_take(&g, s), -EINVAL);
	ck_assert_uint_eq(s->nmembers, 0);
	free(s);
}
END_TEST

/* ---- the folder ---- */

static void touch(const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", root, name);
	int fd = open(path, O_WRONLY | O_CREAT, 0644);
	ck_assert_int_ge(fd, 0);
	close(fd);
}

START_TEST(list_finds_gpu_files_sorted)
{
	touch("gpu-B.shm");
	touch("gpu-A.shm");
	touch("gpu-C.shm.new.123"); /* being created */
	touch("other.shm");
	touch("gpu-.shm");
	struct snap_files f;
	ck_assert_int_eq(snapshot_list(root, &f), 0);
	ck_assert_uint_eq(f.n, 2);
	ck_assert(strstr(f.paths[0], "/gpu-A.shm") != NULL);
	ck_assert(strstr(f.paths[1], "/gpu-B.shm") != NULL);
	snapshot_files_free(&f);
	ck_assert_ptr_null(f.paths);
}
END_TEST

START_TEST(list_of_missing_folder_is_enoent)
{
	char missing[128];
	snprintf(missing, sizeof(missing), "%s/nope", root);
	struct snap_files f;
	ck_assert_int_eq(snapshot_list(missing, &f), -ENOENT);
	ck_assert_uint_eq(f.n, 0);
}
END_TEST

static Suite *snapshot_suite(void)
{
	Suite *s = suite_create("snapshot");
	TCase *tc = tcase_create("derived");
	tcase_add_test(tc, quantile_of_empty_histogram_is_nodata);
	tcase_add_test(tc, quantile_is_upper_bound_of_its_bucket);
	tcase_add_test(tc, quantile_in_last_bucket_has_no_upper_bound);
	tcase_add_test(tc, window_share_needs_two_entries);
	tcase_add_test(tc, window_share_spans_ten_seconds_across_the_wrap);
	tcase_add_test(tc, window_share_of_young_member_uses_what_there_is);
	tcase_add_test(tc, window_share_is_zero_when_history_is_stale);
	tcase_add_test(tc, window_share_is_clamped);
	tcase_add_test(tc, rates);
	tcase_add_test(tc, names);
	suite_add_tcase(s, tc);

	tc = tcase_create("file");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, states_groups_and_caps);
	tcase_add_test(tc, card_memory_sum_of_caps_and_pods);
	tcase_add_test(tc, shares_and_waits_of_a_member);
	tcase_add_test(tc, member_without_history_gets_share_since_joining);
	tcase_add_test(tc, bad_values_in_the_file_are_contained);
	tcase_add_test(tc, unmapped_file_is_einval);
	tcase_add_test(tc, list_finds_gpu_files_sorted);
	tcase_add_test(tc, list_of_missing_folder_is_enoent);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(snapshot_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
