/* ring.h - the token ring: one process at a time submits GPU work.
 *
 * The protocol is in ring.c's DESIGN comment and docs/ring.md. A process
 * that uses a GPU is one member of that GPU's ring. Its launch hooks pass
 * through ring_enter_fast()/ring_leave(); when the fast check fails they
 * call ring_enter_slow(), which blocks until this member holds the token.
 * A per-member agent thread owns the slice clock: it closes the gate,
 * drains, and hands the token on.
 *
 * The ring knows nothing of CUDA: draining is a callback (struct ring_ops)
 * supplied by the launch gate (gate.c). The agent also reaps dead members
 * of the file (reap.h) about every 200 ms.
 */
#ifndef CUSLICE_RING_H
#define CUSLICE_RING_H

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>

#include "gpufile.h"
#include "layout.h"
#include "timeline.h"

struct ring_config {
	uint64_t slice_ns;
	uint64_t drain_timeout_ns;
	uint64_t hold_timeout_ns;
	uint32_t weight;          /* 1..100 */
	int priority;             /* enum priority_class */
	uint32_t high_max_share;  /* percent, 1..100 */
	uint64_t backfill_ns;     /* longest delay a loan adds to the lender's next
				   * launch (the borrower's drain bound); 0 = no loans */
	uint32_t high_queue;      /* launches a normal or low member may keep queued
				   * while a high member is active; 0 = no bound */
	const char *timeline;     /* CUSLICE_TIMELINE pattern, NULL = off */
	int ordinal;              /* the GPU's CUDA ordinal (timeline lane) */
	const char *uuid;         /* the GPU's UUID (timeline legend) */
};

struct ring_ops {
	/* Waits until every piece of work this member has submitted is done.
	 * Runs on the member's drainer thread; may block for long. 0 or a
	 * negative errno. */
	int (*drain)(void *arg);
	/* Called first on each thread the ring starts (agent, drainer). */
	void (*thread_init)(void *arg);
	void *arg;
};

/* ring_member.open: the gate's state. */
enum {
	RING_CLOSED = 0,
	RING_OPEN = 1,          /* we hold the token: launches take the fast path */
	RING_OPEN_BOUNDED = 2,  /* we hold the token, but a high member of few
				 * launches per request is active: each launch
				 * takes the slow path, which keeps at most
				 * cfg.high_queue of ours queued (gate.c) */
};

struct ring_member {
	/* Read by every launch. */
	alignas(64) _Atomic int open;      /* enum above */
	_Atomic uint64_t my_token;         /* the token value we opened the gate with */
	struct cs_ring *ring;
	/* Written by every launch. */
	alignas(64) _Atomic int64_t inflight; /* launches between gate check and submit */
	_Atomic uint64_t launches;
	_Atomic uint64_t synced_launches;  /* launches when the program last synchronized */
	/* Cold. */
	alignas(64) struct gpufile *g;
	unsigned slot;
	struct cs_member *me;
	struct ring_config cfg;
	struct ring_ops ops;
	pthread_mutex_t acquire_lock;      /* one acquirer per process */
	pthread_mutex_t yield_lock;        /* agent hand-off vs. acquirer claim */
	_Atomic int acquiring;
	_Atomic int stop;
	int started;
	pthread_t agent;
	/* Agent-private slice state. */
	uint64_t hold_start_ns;            /* token received */
	uint64_t slice_end_ns;             /* the current slice ends */
	uint64_t charge_from_ns;           /* start of contested holding */
	uint64_t seen_held_ns;             /* the agent last saw the token ours */
	int contested;                     /* someone was waiting at the last step */
	uint64_t last_launches;
	uint64_t open_launches;            /* launches when the gate opened */
	uint64_t quiet_since_ns;           /* launches unchanged since */
	_Atomic uint64_t lag_ns;           /* vtime we were owed when we last went idle */
	/* Loans (backfill): an idle holder lends the token to a waiter and
	 * takes it back at its next launch. */
	int borrowed_from;                 /* lender slot + 1 while our hold is a loan */
	int lending;                       /* we lent the token out */
	uint64_t lent_at_ns;
	uint64_t lend_slice_end_ns;        /* where our slice ended when we lent */
	_Atomic int lend_armed;            /* our synchronize wakes the agent */
	_Atomic uint64_t synced_ns;        /* when the program last synchronized */
	unsigned lend_misses;              /* gaps too short to lend in a row */
	uint64_t lend_gap_launches;        /* launch count of the gap being watched */
	uint64_t lend_rearm_ns;
	/* CUSLICE_TIMELINE (NULL when off). */
	struct timeline *tl;
	uint64_t wait_from_ns;             /* the acquirer started waiting */
	/* Drainer: a thread that runs ops.drain so the agent can time out. */
	pthread_t drainer;
	pthread_mutex_t drain_lock;
	pthread_cond_t drain_cond;
	uint64_t drain_requested, drain_done;
	int drain_result;
};

/* Makes this process a ring member through its already-joined slot and
 * starts its agent and drainer threads. Returns 0 or a negative errno
 * (threads could not be started); on error nothing is left running. */
int ring_member_start(struct ring_member *m, struct gpufile *g, unsigned slot,
		      const struct ring_config *cfg, const struct ring_ops *ops);

/* Stops the threads and gives the token away if held (at exit). */
void ring_member_stop(struct ring_member *m);

/* Fast path of a launch: nonzero when this member may submit now (and the
 * launch is counted in flight until ring_leave()); zero when the caller
 * must use ring_enter_slow() (nothing is held then). No syscall, no lock. */
static inline int ring_enter_fast(struct ring_member *m)
{
	atomic_fetch_add(&m->inflight, 1);
	if (__builtin_expect(atomic_load(&m->open) == RING_OPEN &&
			     atomic_load_explicit(&m->ring->token, memory_order_relaxed) ==
				     atomic_load_explicit(&m->my_token, memory_order_relaxed), 1))
		return 1;
	atomic_fetch_sub(&m->inflight, 1);
	return 0;
}

/* Nonzero once ring_member_stop() has begun: a drain should give up. */
static inline int ring_stopping(const struct ring_member *m)
{
	return atomic_load(&m->stop);
}

/* Slow path: waits until this member holds the token with its gate open,
 * then counts the launch in flight. Returns how the gate is open:
 * RING_OPEN, or RING_OPEN_BOUNDED when the caller must keep its queue
 * short (it may back out with ring_back_out() to wait for its queue). */
int ring_enter_slow(struct ring_member *m);

/* The launch has been submitted. */
static inline void ring_leave(struct ring_member *m)
{
	atomic_fetch_add_explicit(&m->launches, 1, memory_order_relaxed);
	atomic_fetch_sub_explicit(&m->inflight, 1, memory_order_release);
}

/* A launch that ring_enter_slow() let through will not be submitted now. */
static inline void ring_back_out(struct ring_member *m)
{
	atomic_fetch_sub_explicit(&m->inflight, 1, memory_order_release);
}

/* The program's own context synchronize returned: everything it launched
 * so far has finished. A high member holding the token gives it back now
 * (it can take it again at once); others use it as their idle probe. */
void ring_synced(struct ring_member *m);

/* Takes a member that died or left out of the ring: clears its waiting
 * state and, if it held the token, frees the token and wakes the waiters.
 * Called with the member's slot lock held (by a reaper) or by the member. */
void ring_forget(struct cs_file *f, unsigned slot);

/* Nonzero if this member is the holder of its ring's token now. */
int ring_holding(const struct ring_member *m);

/* Monotonic clock in nanoseconds (CLOCK_MONOTONIC is one clock per host,
 * shared by every container on it). */
uint64_t ring_now_ns(void);

#endif
