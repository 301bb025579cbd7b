/* qbound.h - a bound on how much work this process keeps queued on a GPU.
 *
 * While a high member is active (ring.h, RING_OPEN_BOUNDED) a normal or low
 * member launches through here: before a launch, it waits until fewer than
 * K of its earlier launches are still queued or running; after it, the
 * launch's end is marked with an event (struct gpu_driver's event
 * callbacks). A high member that preempts this one then finds at most K of
 * its launches ahead of its own on the GPU, instead of a whole step.
 *
 * The marks are a FIFO of events of one context (the one current at the
 * first bounded launch); a launch from another context, a driver without
 * events, or one that refuses them passes unbounded. The first bounded
 * launch after unbounded ones first waits for everything queued before it
 * on its stream (a mark recorded there), since those carried no marks.
 * Marks are checked oldest first, so work on several streams is bounded
 * conservatively (a later mark may finish first and still be counted).
 *
 * Locking: qbound_admit() returning QB_MARK leaves q->lock held until
 * qbound_mark(), so K holds across the process's threads; qbound_wait()
 * polls with the lock released. Never called on the launch fast path.
 */
#ifndef CUSLICE_QBOUND_H
#define CUSLICE_QBOUND_H

#include <pthread.h>
#include <stdint.h>

enum { QBOUND_MAX = 20 }; /* CUSLICE_HIGH_QUEUE (at most 16) plus a first mark */

struct qbound {
	pthread_mutex_t lock;
	void *ctx;                   /* the context of the events */
	void *events[QBOUND_MAX];    /* made on first use, then reused */
	unsigned head, count;        /* marks not yet seen finished */
	uint64_t marked_launches;    /* the member's launch count at our last mark */
	int drain_first;             /* the oldest mark must finish before any launch */
	int broken;                  /* the driver has no events or refused them:
	                              * bound nothing */
};

enum qbound_verdict {
	QB_PASS,  /* launch, unbounded */
	QB_MARK,  /* launch, then qbound_mark() (q->lock is held until then) */
	QB_WAIT,  /* qbound_wait(), then ask again */
};

void qbound_init(struct qbound *q);

/* Before a bounded launch into stream: launches is the member's launch
 * count now (to see unbounded launches since our last mark). */
enum qbound_verdict qbound_admit(struct qbound *q, unsigned k, uint64_t launches, void *stream,
				 int ptsz);

/* After a QB_MARK launch: marks its end; launches is the count with it. */
void qbound_mark(struct qbound *q, void *stream, int ptsz, uint64_t launches);

/* After QB_WAIT: returns once fewer than k marks are unfinished (none, for
 * a first mark), or after timeout_ns (the marks are then forgotten). */
void qbound_wait(struct qbound *q, unsigned k, uint64_t timeout_ns);

#endif
