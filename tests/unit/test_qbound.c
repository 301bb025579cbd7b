/* test_qbound.c - lib/qbound.c: the queue bound beside a high member, over
 * a fake driver whose events finish when the test says the work before
 * them has (a counter of finished launches). */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "gpu.h"
#include "qbound.h"

enum { EVENTS_MAX = 32 };

static struct {
	int ctx;                /* the current context: 1 or 2, 0 = none */
	unsigned queued;        /* work submitted (launches and marks) */
	unsigned finished;      /* work the fake GPU has done */
	unsigned until[EVENTS_MAX]; /* an event is done once finished >= until */
	int made, refuse_new, refuse_record;
	int records;
} g;

static void *ctx_of(void) { return g.ctx ? (void *)(intptr_t)g.ctx : NULL; }

static void *ev_new(void)
{
	if (g.refuse_new || g.made == EVENTS_MAX)
		return NULL;
	return (void *)(intptr_t)(++g.made);
}

static int ev_record(void *ev, void *stream, int ptsz)
{
	(void)stream;
	(void)ptsz;
	if (g.refuse_record)
		return -5;
	g.records++;
	g.until[(intptr_t)ev - 1] = g.queued;
	return 0;
}

static int ev_done(void *ev) { return g.finished >= g.until[(intptr_t)ev - 1]; }
static void ev_free(void *ev) { (void)ev; }

static const struct gpu_driver with_events = {
	.context = ctx_of, .event_new = ev_new, .event_record = ev_record,
	.event_done = ev_done, .event_free = ev_free,
};
static const struct gpu_driver without_events = { .context = ctx_of };

static struct qbound q;
static uint64_t launches;

static void use(const struct gpu_driver *d)
{
	struct cs_config cfg = { 0 };
	gpu_setup(&cfg, d);
	memset(&g, 0, sizeof(g));
	g.ctx = 1;
	launches = 0;
	qbound_init(&q);
}

/* One bounded launch: admitted, submitted, marked. */
static void launch(void)
{
	ck_assert_int_eq(qbound_admit(&q, 2, launches, NULL, 0), QB_MARK);
	g.queued++;
	launches++;
	qbound_mark(&q, NULL, 0, launches);
}

START_TEST(keeps_at_most_k_queued)
{
	use(&with_events);
	launch();
	launch();
	ck_assert_int_eq(qbound_admit(&q, 2, launches, NULL, 0), QB_WAIT);
	g.finished = 1; /* the first launch is done: room for one */
	launch();
	ck_assert_int_eq(qbound_admit(&q, 2, launches, NULL, 0), QB_WAIT);
	ck_assert_int_eq(qbound_admit(&q, 3, launches, NULL, 0), QB_MARK);
	qbound_mark(&q, NULL, 0, ++launches);
	ck_assert_int_eq(g.records, 4);
}
END_TEST

START_TEST(unmarked_launches_are_waited_for_first)
{
	use(&with_events);
	g.queued = launches = 7; /* launched before a high member came */
	ck_assert_int_eq(qbound_admit(&q, 2, launches, NULL, 0), QB_WAIT);
	ck_assert_int_eq(g.records, 1); /* a mark after the seven */
	g.finished = 6;
	ck_assert_int_eq(qbound_admit(&q, 2, launches, NULL, 0), QB_WAIT);
	ck_assert_int_eq(g.records, 1); /* the same mark, not another */
	g.finished = 7;
	launch();
	launch();
	ck_assert_int_eq(qbound_admit(&q, 2, launches, NULL, 0), QB_WAIT);
}
END_TEST

START_TEST(wait_returns_when_there_is_room)
{
	use(&with_events);
	launch();
	launch();
	g.finished = 1;
	qbound_wait(&q, 2, UINT64_C(60) * 1000000000u); /* room already: no wait */
	launch();
}
END_TEST

START_TEST(wait_gives_up_after_the_timeout)
{
	use(&with_events);
	launch();
	launch(); /* never finish */
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	qbound_wait(&q, 2, 20 * 1000000u);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ck_assert_int_ge((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec), 20000000L);
	launch(); /* the marks were forgotten */
}
END_TEST

START_TEST(other_context_and_k_zero_pass)
{
	use(&with_events);
	launch();
	g.ctx = 2;
	ck_assert_int_eq(qbound_admit(&q, 2, launches, NULL, 0), QB_PASS);
	g.ctx = 0;
	ck_assert_int_eq(qbound_admit(&q, 2, launches, NULL, 0), QB_PASS);
	g.ctx = 1;
	ck_assert_int_eq(qbound_admit(&q, 0, launches, NULL, 0), QB_PASS);
}
END_TEST

START_TEST(a_driver_without_events_passes)
{
	use(&without_events);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(qbound_admit(&q, 1, (uint64_t)i, NULL, 0), QB_PASS);
}
END_TEST

START_TEST(refused_events_stop_the_bound)
{
	use(&with_events);
	g.refuse_new = 1;
	ck_assert_int_eq(qbound_admit(&q, 2, 3, NULL, 0), QB_PASS); /* the first mark failed */
	g.refuse_new = 0;
	ck_assert_int_eq(qbound_admit(&q, 2, 3, NULL, 0), QB_PASS); /* and for good */

	use(&with_events);
	launch();
	g.refuse_record = 1;
	ck_assert_int_eq(qbound_admit(&q, 2, launches, NULL, 0), QB_MARK);
	qbound_mark(&q, NULL, 0, ++launches); /* the record fails */
	ck_assert_int_eq(qbound_admit(&q, 2, launches, NULL, 0), QB_PASS);
}
END_TEST

static Suite *qbound_suite(void)
{
	Suite *s = suite_create("qbound");
	TCase *tc = tcase_create("qbound");
	tcase_add_test(tc, keeps_at_most_k_queued);
	tcase_add_test(tc, unmarked_launches_are_waited_for_first);
	tcase_add_test(tc, wait_returns_when_there_is_room);
	tcase_add_test(tc, wait_gives_up_after_the_timeout);
	tcase_add_test(tc, other_context_and_k_zero_pass);
	tcase_add_test(tc, a_driver_without_events_passes);
	tcase_add_test(tc, refused_events_stop_the_bound);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(qbound_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
