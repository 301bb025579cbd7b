/* test_ring.c - the token ring, with threads (and a forked process) as members.
 *
 * Each member opens the per-GPU file on its own file descriptor, so the
 * kernel sees separate lock owners, exactly as separate processes would.
 * "Submitting" work appends an interval to a simulated GPU queue per member
 * (start = max(now, busy_until), 1 ms long); the drain waits for the queue.
 * The ring is correct when intervals of different members never overlap.
 * Run under ThreadSanitizer in CI (.ci/run builds a tsan tree for this).
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "gpufile.h"
#include "member.h"
#include "ring.h"

#define MS 1000000ull
enum { MEMBERS_MAX = 4, SPANS_MAX = 20000 };

struct span {
	uint64_t start, end;
};

struct tmember {
	struct gpufile g;
	unsigned slot;
	struct ring_member rm;
	_Atomic uint64_t busy_until;
	uint64_t kernel_ns;
	struct span *spans;
	_Atomic size_t nspans;
	uint64_t run_ns;
	pthread_t worker;
};

static char dir[64];

static void sleep_until(uint64_t t)
{
	uint64_t now = ring_now_ns();
	if (t > now) {
		struct timespec ts = { (time_t)((t - now) / 1000000000u), (long)((t - now) % 1000000000u) };
		nanosleep(&ts, NULL);
	}
}

static int drain(void *arg)
{
	struct tmember *t = arg;
	sleep_until(atomic_load(&t->busy_until));
	return 0;
}

static void remove_dir(void)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/gpu-GPU-ring-test.shm", dir);
	unlink(path);
	rmdir(dir);
}

static void make_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/cuslice-ring-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	atexit(remove_dir); /* each test runs in its own forked process */
}

static void member_open(struct tmember *t, uint32_t weight, int priority, uint64_t slice_ms)
{
	memset(t, 0, sizeof(*t));
	char why[200];
	ck_assert_int_eq(gpufile_open(&t->g, dir, "GPU-ring-test", 5, why, sizeof(why)), 0);
	struct member_info info = { .weight = weight, .priority = (uint32_t)priority };
	ck_assert_int_eq(member_join(&t->g, &info, NULL, NULL, &t->slot), 0);
	struct ring_config cfg = {
		.slice_ns = slice_ms * MS,
		.drain_timeout_ns = 1000 * MS,
		.hold_timeout_ns = 200 * MS,
		.weight = weight,
		.priority = priority,
		.high_max_share = 50,
	};
	struct ring_ops ops = { .drain = drain, .arg = t };
	ck_assert_int_eq(ring_member_start(&t->rm, &t->g, t->slot, &cfg, &ops), 0);
	t->spans = calloc(SPANS_MAX, sizeof(struct span));
	t->kernel_ns = 1 * MS;
}

static void member_close(struct tmember *t)
{
	ring_member_stop(&t->rm);
	member_leave(&t->g, t->slot);
	gpufile_close(&t->g);
	free(t->spans);
}

/* One launch: through the gate, then queued on this member's "GPU". */
static void launch(struct tmember *t)
{
	if (!ring_enter_fast(&t->rm))
		ring_enter_slow(&t->rm);
	uint64_t now = ring_now_ns();
	uint64_t start = atomic_load(&t->busy_until) > now ? atomic_load(&t->busy_until) : now;
	uint64_t end = start + t->kernel_ns;
	atomic_store(&t->busy_until, end);
	size_t n = atomic_load(&t->nspans);
	if (n < SPANS_MAX) {
		t->spans[n] = (struct span){ start, end };
		atomic_store(&t->nspans, n + 1);
	}
	ring_leave(&t->rm);
}

static void *worker(void *arg)
{
	struct tmember *t = arg;
	uint64_t stop = ring_now_ns() + t->run_ns;
	while (ring_now_ns() < stop) {
		launch(t);
		sleep_until(atomic_load(&t->busy_until)); /* synchronize */
	}
	return NULL;
}

static uint64_t busy_ns(const struct tmember *t)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < atomic_load(&t->nspans); i++)
		sum += t->spans[i].end - t->spans[i].start;
	return sum;
}

static uint64_t overlap_ns(const struct tmember *a, const struct tmember *b)
{
	uint64_t sum = 0;
	size_t na = atomic_load(&a->nspans), nb = atomic_load(&b->nspans);
	for (size_t i = 0, j = 0; i < na && j < nb;) {
		uint64_t s = a->spans[i].start > b->spans[j].start ? a->spans[i].start : b->spans[j].start;
		uint64_t e = a->spans[i].end < b->spans[j].end ? a->spans[i].end : b->spans[j].end;
		if (e > s)
			sum += e - s;
		if (a->spans[i].end < b->spans[j].end)
			i++;
		else
			j++;
	}
	return sum;
}

static void run_all(struct tmember *m, int n, uint64_t run_ms)
{
	for (int i = 0; i < n; i++) {
		m[i].run_ns = run_ms * MS;
		ck_assert_int_eq(pthread_create(&m[i].worker, NULL, worker, &m[i]), 0);
	}
	for (int i = 0; i < n; i++)
		pthread_join(m[i].worker, NULL);
}

START_TEST(two_members_take_turns_without_overlap)
{
	make_dir();
	struct tmember m[2];
	member_open(&m[0], 1, PRIORITY_NORMAL, 5);
	member_open(&m[1], 1, PRIORITY_NORMAL, 5);
	run_all(m, 2, 1000);
	uint64_t a = busy_ns(&m[0]), b = busy_ns(&m[1]);
	ck_assert_uint_gt(a, 100 * MS);
	ck_assert_uint_gt(b, 100 * MS);
	ck_assert_uint_eq(overlap_ns(&m[0], &m[1]), 0);
	double share = (double)a / (double)(a + b);
	ck_assert_msg(share > 0.35 && share < 0.65, "share %.3f", share);
	ck_assert_uint_gt(atomic_load(&m[0].g.map->ring.handoffs), 10);
	member_close(&m[0]);
	member_close(&m[1]);
}
END_TEST

START_TEST(weights_three_to_one)
{
	make_dir();
	struct tmember m[2];
	member_open(&m[0], 3, PRIORITY_NORMAL, 5);
	member_open(&m[1], 1, PRIORITY_NORMAL, 5);
	run_all(m, 2, 1500);
	double a = (double)busy_ns(&m[0]), b = (double)busy_ns(&m[1]);
	double share = a / (a + b);
	ck_assert_msg(share > 0.65 && share < 0.85, "weight-3 share %.3f", share);
	ck_assert_uint_eq(overlap_ns(&m[0], &m[1]), 0);
	member_close(&m[0]);
	member_close(&m[1]);
}
END_TEST

START_TEST(lone_busy_member_keeps_the_token)
{
	make_dir();
	struct tmember m[2];
	member_open(&m[0], 1, PRIORITY_NORMAL, 5);
	member_open(&m[1], 1, PRIORITY_NORMAL, 5); /* joined, never launches */
	run_all(m, 1, 500);
	ck_assert_uint_gt(busy_ns(&m[0]), 400 * MS);
	ck_assert_uint_le(atomic_load(&m[0].g.map->ring.handoffs), 1);
	member_close(&m[0]);
	member_close(&m[1]);
}
END_TEST

START_TEST(forget_frees_a_held_token)
{
	make_dir();
	struct tmember m[1];
	member_open(&m[0], 1, PRIORITY_NORMAL, 5);
	launch(&m[0]);
	struct cs_ring *r = &m[0].g.map->ring;
	ck_assert_uint_eq(TOKEN_HOLDER(atomic_load(&r->token)), m[0].slot);
	uint64_t gen = TOKEN_GEN(atomic_load(&r->token));
	ring_forget(m[0].g.map, m[0].slot);
	ck_assert_uint_eq(TOKEN_HOLDER(atomic_load(&r->token)), CS_NO_HOLDER);
	ck_assert_uint_eq(TOKEN_GEN(atomic_load(&r->token)), gen + 1);
	/* The revoked member must re-acquire before it submits again. */
	ck_assert_int_eq(ring_enter_fast(&m[0].rm), 0);
	launch(&m[0]);
	ck_assert_uint_eq(TOKEN_HOLDER(atomic_load(&r->token)), m[0].slot);
	member_close(&m[0]);
}
END_TEST

START_TEST(high_member_preempts_at_once)
{
	make_dir();
	struct tmember m[2];
	member_open(&m[0], 1, PRIORITY_NORMAL, 200); /* long slices */
	member_open(&m[1], 1, PRIORITY_HIGH, 200);
	m[0].run_ns = 600 * MS;
	ck_assert_int_eq(pthread_create(&m[0].worker, NULL, worker, &m[0]), 0);
	usleep(50 * 1000);
	uint64_t t0 = ring_now_ns();
	launch(&m[1]);
	uint64_t waited = ring_now_ns() - t0;
	ck_assert_msg(waited < 20 * MS, "high member waited %llu ns",
		      (unsigned long long)waited);
	pthread_join(m[0].worker, NULL);
	member_close(&m[1]);
	member_close(&m[0]);
}
END_TEST

START_TEST(killed_holder_is_replaced)
{
	make_dir();
	int ready[2];
	ck_assert_int_eq(pipe(ready), 0);
	pid_t child = fork();
	if (child == 0) {
		struct tmember c;
		member_open(&c, 1, PRIORITY_NORMAL, 20);
		launch(&c); /* hold the token */
		char x = 1;
		if (write(ready[1], &x, 1) != 1)
			_exit(1);
		for (;;)
			launch(&c);
	}
	char x;
	ck_assert_int_eq(read(ready[0], &x, 1), 1);
	struct tmember m;
	member_open(&m, 1, PRIORITY_NORMAL, 20);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	uint64_t t0 = ring_now_ns();
	launch(&m);
	uint64_t waited = ring_now_ns() - t0;
	ck_assert_msg(waited < 2 * 20 * MS, "took the token after %llu ns",
		      (unsigned long long)waited);
	ck_assert_uint_eq(TOKEN_HOLDER(atomic_load(&m.g.map->ring.token)), m.slot);
	member_close(&m);
}
END_TEST

static Suite *ring_suite(void)
{
	Suite *s = suite_create("ring");
	TCase *tc = tcase_create("ring");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, two_members_take_turns_without_overlap);
	tcase_add_test(tc, weights_three_to_one);
	tcase_add_test(tc, lone_busy_member_keeps_the_token);
	tcase_add_test(tc, forget_frees_a_held_token);
	tcase_add_test(tc, high_member_preempts_at_once);
	tcase_add_test(tc, killed_holder_is_replaced);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(ring_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
