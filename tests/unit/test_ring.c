/* test_ring.c - the token ring, with threads (and a forked process) as members.
 *
 * Each member opens the per-GPU file on its own file descriptor, so the
 * kernel sees separate lock owners, exactly as separate processes would.
 * "Submitting" work appends an interval to a simulated GPU queue per member
 * (start = max(now, busy_until), 1 ms long); the drain waits for the queue.
 * The ring is correct when intervals of different members never overlap.
 * Run under ThreadSanitizer in CI (scripts/test.sh builds a tsan tree).
 *
 * Only what no scheduler delay can blur is asserted: overlap, counted
 * events (grants, hand-offs), who holds the token, and weights in the
 * ring's own accounting (weight * vtime_ns, the charged turn time). Where a
 * wait must be bounded, the slice is made 10 s (the largest) and the bound
 * is far below it: a hang detector, not a latency target. Timing figures
 * are printed as "figure ..." lines (meson test --benchmark collects them).
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
	_Atomic int stop;             /* ends the worker early */
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
	while (ring_now_ns() < stop && !atomic_load(&t->stop)) {
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

/* Prints a timing figure with its verdict; never asserted. */
static void figure(const char *name, double value, const char *unit, const char *target,
		   int meets)
{
	printf("figure unit.ring.%s = %.3f %s (target %s): %s\n", name, value, unit, target,
	       meets ? "meets" : "MISSES");
	fflush(stdout);
}

/* Each member's share of the ring's charged turn time, weight * vtime. */
static double charged_share(struct tmember *m, int n, int i)
{
	double total = 0, mine = 0;
	for (int j = 0; j < n; j++) {
		struct cs_member *c = &m[j].g.map->members[m[j].slot];
		double charged = (double)c->weight * (double)atomic_load(&c->vtime_ns);
		total += charged;
		if (j == i)
			mine = charged;
	}
	return total > 0 ? mine / total : 0;
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
	ck_assert_uint_gt(a, 0);
	ck_assert_uint_gt(b, 0);
	ck_assert_uint_eq(overlap_ns(&m[0], &m[1]), 0);
	/* 1 s of 5 ms slices is about 200 turns; 10 is a floor, not a rate. */
	ck_assert_uint_gt(atomic_load(&m[0].g.map->ring.handoffs), 10);
	/* Equal charges within one turn, whatever a turn lasted: 0.35..0.65
	 * leaves 150 ms of a 1 s run for one turn's overshoot. */
	double share = charged_share(m, 2, 0);
	ck_assert_msg(share > 0.35 && share < 0.65, "charged share %.3f", share);
	double gpu = (double)a / (double)(a + b);
	figure("two_members.share", gpu, "of GPU time", "0.35..0.65", gpu > 0.35 && gpu < 0.65);
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
	ck_assert_uint_eq(overlap_ns(&m[0], &m[1]), 0);
	/* A ring that ignored weights would charge 0.5 each. */
	double share = charged_share(m, 2, 0);
	ck_assert_msg(share > 0.65 && share < 0.85, "weight-3 charged share %.3f", share);
	double a = (double)busy_ns(&m[0]), b = (double)busy_ns(&m[1]);
	figure("weights_3_1.share", a / (a + b), "of GPU time", "0.65..0.85",
	       a / (a + b) > 0.65 && a / (a + b) < 0.85);
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
	/* Granted once, never handed off: the idle member never waited. */
	ck_assert_uint_eq(atomic_load(&m[0].g.map->members[m[0].slot].grants), 1);
	ck_assert_uint_eq(atomic_load(&m[1].g.map->members[m[1].slot].grants), 0);
	ck_assert_uint_le(atomic_load(&m[0].g.map->ring.handoffs), 1);
	ck_assert_uint_eq(TOKEN_HOLDER(atomic_load(&m[0].g.map->ring.token)), m[0].slot);
	double busy = (double)busy_ns(&m[0]) / MS;
	figure("lone_busy.busy", busy, "ms of 500", "> 400", busy > 400);
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

/* 10 s, the largest slice: a wait bounded far below it did not wait for a
 * slice to end. */
#define LONG_SLICE_MS 10000
#define HANG_NS (5000 * MS)

START_TEST(high_member_preempts_at_once)
{
	make_dir();
	struct tmember m[2];
	member_open(&m[0], 1, PRIORITY_NORMAL, LONG_SLICE_MS);
	member_open(&m[1], 1, PRIORITY_HIGH, LONG_SLICE_MS);
	m[0].run_ns = 8000 * MS; /* busy for the whole test; stopped below */
	ck_assert_int_eq(pthread_create(&m[0].worker, NULL, worker, &m[0]), 0);
	while (atomic_load(&m[0].nspans) == 0)
		usleep(1000);
	uint64_t t0 = ring_now_ns();
	launch(&m[1]);
	uint64_t waited = ring_now_ns() - t0;
	/* The normal member's slice lasts 10 s; half of it is a hang detector. */
	ck_assert_msg(waited < HANG_NS, "high member waited %llu ns", (unsigned long long)waited);
	figure("high_preempts.waited", (double)waited / MS, "ms", "< 20", waited < 20 * MS);
	atomic_store(&m[0].stop, 1);
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
		member_open(&c, 1, PRIORITY_NORMAL, LONG_SLICE_MS);
		launch(&c); /* hold the token */
		char x = 1;
		if (write(ready[1], &x, 1) != 1)
			_exit(1);
		for (;;)
			launch(&c);
	}
	close(ready[1]); /* a child that dies early then reads as end of file */
	char x;
	ck_assert_int_eq(read(ready[0], &x, 1), 1);
	struct tmember m;
	member_open(&m, 1, PRIORITY_NORMAL, LONG_SLICE_MS);
	unsigned dead = TOKEN_HOLDER(atomic_load(&m.g.map->ring.token));
	ck_assert_uint_ne(dead, m.slot);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	uint64_t t0 = ring_now_ns();
	launch(&m);
	uint64_t waited = ring_now_ns() - t0;
	/* The dead holder's slice would last 10 s: the token came back as an
	 * event (its lock is gone), not at a deadline. */
	ck_assert_msg(waited < HANG_NS, "took the token after %llu ns", (unsigned long long)waited);
	ck_assert_uint_eq(TOKEN_HOLDER(atomic_load(&m.g.map->ring.token)), m.slot);
	/* A waiter checks the holder every quarter slice, at most 50 ms. */
	figure("killed_holder.waited", (double)waited / MS, "ms", "< 100", waited < 100 * MS);
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
