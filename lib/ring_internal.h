/* ring_internal.h - what lib/ring.c (the protocol and the waiter's side) and
 * lib/agent.c (the holder's agent and the drainer) share. Not installed;
 * nothing outside lib/ring*.c and lib/agent.c includes it. */
#ifndef CUSLICE_RING_INTERNAL_H
#define CUSLICE_RING_INTERNAL_H

#include <stdint.h>

#include "ring.h"

#define MS (UINT64_C(1000000))
#define US (UINT64_C(1000))
#define NO_TOKEN UINT64_MAX

#define HIGH_WINDOW_NS CS_HIGH_WINDOW_NS /* layout.h */
/* A high member granted the token this recently is active: normal and low
 * members keep their queues bounded (ring_config.high_queue) until it has
 * been away this long. */
#define HIGH_ACTIVE_NS (1000 * MS)
/* ... and while the high member launches at most this many kernels between
 * its synchronizes (on average): a request that is a CUDA graph or a few
 * kernels waits behind the queue ahead of it. One of many launches is
 * CPU-bound: the other member's queue runs while it launches, and a bound
 * would cost that member its throughput for no gain in latency. */
#define HIGH_FEW_LAUNCHES 8

/* Sleeps on a futex word in the shared file while it still holds seen. */
void ring_futex_wait(_Atomic uint32_t *word, uint32_t seen, uint64_t timeout_ns);

/* Bumps a futex word and wakes everyone sleeping on it. */
void ring_futex_bump(_Atomic uint32_t *word);

void ring_sleep_ns(uint64_t ns);

/* Histogram bucket of a wait: b counts waits < 2^b µs. */
unsigned ring_bucket_of(uint64_t ns);

/* A member's priority class, NORMAL for a value that is not a class. */
int ring_class_of(const struct cs_member *c);

/* Nonzero while high members have used more than their share of the
 * current window; extra_ns is a hold not yet accounted. */
int ring_high_over_budget(struct cs_ring *r, const struct ring_config *cfg, uint64_t now,
			  uint64_t extra_ns);

/* Nonzero while this member must bound its queue (cfg.high_queue > 0): a
 * high member is active (HIGH_ACTIVE_NS) and makes few launches between
 * its synchronizes (HIGH_FEW_LAUNCHES). */
int ring_queue_bounded(const struct ring_member *m, uint64_t now);

/* A high member synchronized after `launches` launches. */
void ring_high_launches(struct cs_ring *r, uint64_t launches);

/* Adds a high member's finished hold to the window. */
void ring_high_account(struct cs_ring *r, uint64_t now, uint64_t held_ns);

/* A member's class as the scheduler sees it now (a high member over its
 * budget counts as low). */
int ring_effective_class(const struct ring_member *m, const struct cs_member *c, uint64_t now);

/* The waiting member that should hold the token next, or -1; its class and
 * vtime in *cls and *vtime (may be NULL). skip_mask: slots to pass over. */
int ring_pick_next(const struct ring_member *m, uint64_t now, int *cls, uint64_t *vtime,
		   uint64_t skip_mask);

/* Moves the token from `from` to `next` (frees it when next < 0); lender
 * is the slot + 1 of a holder lending it (0: an ordinary hand-off). Returns
 * nonzero on success. */
int ring_pass_token(struct ring_member *m, uint64_t from, int next, uint64_t now,
		    unsigned lender);

/* Raises the ring's virtual time (ring.vclock_ns, the largest vtime a
 * member was granted the token or charged at) to vt. */
void ring_vclock_raise(struct cs_ring *r, uint64_t vt);

/* The smallest vtime of the other members that wait or hold (UINT64_MAX
 * when none does). */
uint64_t ring_busy_floor(const struct ring_member *m);

/* Credit a member may keep across an idle period, in vtime ns. */
uint64_t ring_lag_cap(const struct ring_member *m);

/* The drainer thread's body (drainer.c). */
void *ring_drainer_main(void *arg);

/* Asks the drainer to drain and waits at most timeout_ns. Returns 0 or the
 * drain's negative errno, -ETIMEDOUT (the drain goes on in the drainer),
 * or -ECANCELED (the member is stopping). Agent thread only. */
int ring_drain_bounded(struct ring_member *m, uint64_t timeout_ns);

/* A loan was taken back at once: counts toward the lender's backoff. */
void ring_lend_missed(struct ring_member *m, uint64_t now);

/* Hands the token to the best live waiter (or ourselves, or nobody). */
void ring_hand_off(struct ring_member *m, uint64_t token, uint64_t now);

#endif
