/* qbound.c - the queue bound beside a high member; see qbound.h. */
#include "qbound.h"

#include <sched.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "gpu.h"
#include "log.h"

enum {
	SPIN_NS = 100 * 1000, /* yield this long before sleeping between polls */
	POLL_NS = 20 * 1000,
};

void qbound_init(struct qbound *q)
{
	memset(q, 0, sizeof(*q));
	pthread_mutex_init(&q->lock, NULL);
	const struct gpu_driver *d = gpu_driver();
	/* A driver table without events bounds nothing, from the start. */
	q->broken = d->event_new == NULL || d->event_record == NULL || d->event_done == NULL ||
		    d->event_free == NULL;
}

/* Lock held. Stops bounding for good: a driver that refuses events once
 * would refuse them again. */
static void give_up(struct qbound *q, const char *what)
{
	log_warn("cannot %s an event: this process's queue is not bounded beside high "
		 "members (CUSLICE_HIGH_QUEUE)", what);
	q->broken = 1;
	q->count = 0;
	q->drain_first = 0;
}

/* Lock held. Drops the marks that have finished, oldest first. */
static void prune(struct qbound *q)
{
	while (q->count > 0 && !q->broken) {
		int done = gpu_driver()->event_done(q->events[q->head]);
		if (done < 0) {
			give_up(q, "query");
			return;
		}
		if (done == 0)
			return;
		q->head = (q->head + 1) % QBOUND_MAX;
		q->count--;
	}
	if (q->count == 0)
		q->drain_first = 0;
}

/* Lock held. Records a mark on stream; 0 or -1 (bounding was given up). */
static int push(struct qbound *q, void *stream, int ptsz)
{
	unsigned i = (q->head + q->count) % QBOUND_MAX;
	if (q->events[i] == NULL && (q->events[i] = gpu_driver()->event_new()) == NULL) {
		give_up(q, "create");
		return -1;
	}
	if (gpu_driver()->event_record(q->events[i], stream, ptsz) != 0) {
		give_up(q, "record");
		return -1;
	}
	q->count++;
	return 0;
}

enum qbound_verdict qbound_admit(struct qbound *q, unsigned k, uint64_t launches, void *stream,
				 int ptsz)
{
	if (k == 0 || q->broken)
		return QB_PASS;
	void *ctx = gpu_driver()->context();
	pthread_mutex_lock(&q->lock);
	if (q->ctx == NULL)
		q->ctx = ctx;
	if (q->broken || ctx == NULL || ctx != q->ctx) {
		pthread_mutex_unlock(&q->lock);
		return QB_PASS;
	}
	prune(q);
	if (!q->broken && launches != q->marked_launches && !q->drain_first) {
		/* Launches without marks since our last one: wait for them. */
		q->marked_launches = launches;
		if (q->count < QBOUND_MAX && push(q, stream, ptsz) == 0)
			q->drain_first = 1;
	}
	if (q->broken) {
		pthread_mutex_unlock(&q->lock);
		return QB_PASS;
	}
	if (q->drain_first || q->count >= k) {
		pthread_mutex_unlock(&q->lock);
		return QB_WAIT;
	}
	return QB_MARK;
}

void qbound_mark(struct qbound *q, void *stream, int ptsz, uint64_t launches)
{
	push(q, stream, ptsz);
	q->marked_launches = launches;
	pthread_mutex_unlock(&q->lock);
}

void qbound_wait(struct qbound *q, unsigned k, uint64_t timeout_ns)
{
	uint64_t start = clock_ns(CLOCK_MONOTONIC);
	for (;;) {
		pthread_mutex_lock(&q->lock);
		prune(q);
		int ready = q->broken || (!q->drain_first && q->count < k);
		uint64_t waited = clock_ns(CLOCK_MONOTONIC) - start;
		if (!ready && waited >= timeout_ns) {
			log_debug("queued work did not finish in %llu ms: launching anyway",
				  (unsigned long long)(timeout_ns / 1000000u));
			q->count = 0;
			q->drain_first = 0;
			ready = 1;
		}
		pthread_mutex_unlock(&q->lock);
		if (ready)
			return;
		if (waited < SPIN_NS) {
			sched_yield();
		} else {
			struct timespec ts = { 0, POLL_NS };
			nanosleep(&ts, NULL);
		}
	}
}
