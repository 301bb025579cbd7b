/* drainer.c - a ring member's drainer thread: it runs ops.drain (which may
 * block in the driver for long) so that the agent can give up after a
 * bound: a stream waiting on another process's event would otherwise
 * deadlock the ring. While the agent waits for a drain it notes, every
 * SEEN_STEP_NS, that the token is still its own (charging runs only while
 * it is: docs/ring.md, "Charging").
 */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "clock.h"
#include "ring.h"
#include "ring_internal.h"

enum { SEEN_STEP_NS = 10 * 1000 * 1000 };

void *ring_drainer_main(void *arg)
{
	struct ring_member *m = arg;
	if (m->ops.thread_init != NULL)
		m->ops.thread_init(m->ops.arg);
	pthread_mutex_lock(&m->drain_lock);
	for (;;) {
		while (m->drain_done == m->drain_requested && !atomic_load(&m->stop))
			pthread_cond_wait(&m->drain_cond, &m->drain_lock);
		if (atomic_load(&m->stop))
			break;
		uint64_t req = m->drain_requested;
		pthread_mutex_unlock(&m->drain_lock);
		int r = m->ops.drain != NULL ? m->ops.drain(m->ops.arg) : 0;
		pthread_mutex_lock(&m->drain_lock);
		m->drain_result = r;
		m->drain_done = req;
		pthread_cond_broadcast(&m->drain_cond);
	}
	pthread_mutex_unlock(&m->drain_lock);
	return NULL;
}

int ring_drain_bounded(struct ring_member *m, uint64_t timeout_ns)
{
	uint64_t end = clock_ns(CLOCK_MONOTONIC) + timeout_ns;

	pthread_mutex_lock(&m->drain_lock);
	uint64_t target = ++m->drain_requested;
	pthread_cond_broadcast(&m->drain_cond);
	int r = 0;
	while (m->drain_done < target && r == 0) {
		/* Wake every SEEN_STEP_NS to note that the token is still
		 * ours: charging runs only while it is (see charge_end). */
		uint64_t step = clock_ns(CLOCK_MONOTONIC) + SEEN_STEP_NS;
		int last = step >= end;
		struct timespec until = clock_ts(last ? end : step);
		if (atomic_load(&m->stop))
			r = -ECANCELED;
		else if (pthread_cond_timedwait(&m->drain_cond, &m->drain_lock, &until) ==
				 ETIMEDOUT && last)
			r = -ETIMEDOUT;
		else if (ring_holding(m))
			m->seen_held_ns = ring_now_ns();
	}
	if (r == 0)
		r = m->drain_result;
	pthread_mutex_unlock(&m->drain_lock);
	return r;
}

