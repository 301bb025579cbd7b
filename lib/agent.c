/* agent.c - a ring member's own threads: the agent that owns the slice
 * clock on the holder's side (close the gate, drain, charge, hand on), and
 * the drainer that runs the blocking drain so the agent can give up on it.
 * The protocol they follow is the DESIGN comment of ring.c.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "config.h"
#include "member.h"
#include "reap.h"
#include "ring.h"
#include "ring_internal.h"

enum {
	/* Idle detection: quiet + poll + grace stay under 1 ms, so a holder
	 * whose work is done yields within 1 ms of its last work finishing,
	 * while the grace still covers a framework's CPU time between steps. */
	QUIET_NS = 250 * 1000,        /* no launch for this long: maybe idle */
	GRACE_NS = 500 * 1000,        /* after a probe, wait this long for a launch */
	POLL_NS = 200 * 1000,         /* agent step while someone waits */
	HIGH_QUIET_NS = 20 * 1000,    /* the same for a high member, which */
	HIGH_POLL_NS = 25 * 1000,     /* preempted someone and gives the GPU
				       * back as soon as it is done (no grace:
				       * it can take the token again at once) */
	PERIODIC_NS = 200 * 1000 * 1000,
	HIST_PERIOD_NS = 1000 * 1000 * 1000,
};

/* ------------------------------------------------------------------ */
/* The drainer: runs ops.drain on its own thread, so that the agent can give
 * up after CUSLICE_DRAIN_TIMEOUT_MS (a stream waiting on another process's
 * event would otherwise deadlock the ring). */

static void *drainer_main(void *arg)
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

static int drain_bounded(struct ring_member *m, uint64_t timeout_ns)
{
	struct timespec deadline = clock_deadline(CLOCK_MONOTONIC, timeout_ns);

	pthread_mutex_lock(&m->drain_lock);
	uint64_t target = ++m->drain_requested;
	pthread_cond_broadcast(&m->drain_cond);
	int r = 0;
	while (m->drain_done < target && r == 0) {
		if (atomic_load(&m->stop))
			r = -ECANCELED;
		else if (pthread_cond_timedwait(&m->drain_cond, &m->drain_lock, &deadline) == ETIMEDOUT)
			r = -ETIMEDOUT;
	}
	if (r == 0)
		r = m->drain_result;
	pthread_mutex_unlock(&m->drain_lock);
	return r;
}

/* ------------------------------------------------------------------ */
/* The holder's side, run by the agent thread. */

static void wait_inflight(struct ring_member *m)
{
	while (atomic_load(&m->inflight) > 0)
		ring_sleep_ns(20 * US);
}

/* Charges the hold that ends now. */
static void account_hold(struct ring_member *m, uint64_t now)
{
	struct cs_member *me = m->me;
	if (m->hold_start_ns == 0)
		return;
	uint64_t held = now - m->hold_start_ns;
	uint64_t charged = now > m->charge_from_ns ? now - m->charge_from_ns : 0;
	atomic_fetch_add(&me->held_ns, held);
	atomic_fetch_add(&me->vtime_ns, charged / (m->cfg.weight ? m->cfg.weight : 1));
	if (m->cfg.priority == PRIORITY_HIGH)
		ring_high_account(m->ring, now, held);
	m->hold_start_ns = 0;
}

/* The token was taken from us (preempted, or declared stuck). */
static void lose_token(struct ring_member *m, uint64_t now)
{
	atomic_store(&m->open, 0);
	atomic_store(&m->my_token, NO_TOKEN);
	wait_inflight(m);
	account_hold(m, now);
	uint32_t holding = RING_HOLDING;
	atomic_compare_exchange_strong(&m->me->ring_state, &holding, RING_IDLE);
}

/* Ends our slice: close the gate, drain (unless an idle probe just found
 * nothing to drain), charge, hand the token on. */
static void yield_token(struct ring_member *m, int probed)
{
	uint64_t token = atomic_load(&m->my_token);
	atomic_store(&m->open, 0);
	wait_inflight(m);
	/* After an idle probe nothing needs draining, unless a launch slipped
	 * in between the probe and the closing of the gate. */
	int drained = probed && atomic_load(&m->launches) == m->last_launches;
	if (!drained && drain_bounded(m, m->cfg.drain_timeout_ns) == -ETIMEDOUT) {
		atomic_fetch_add(&m->me->overruns, 1);
		atomic_fetch_add(&m->ring->overruns, 1);
	}
	uint64_t now = ring_now_ns();
	account_hold(m, now);
	atomic_store(&m->my_token, NO_TOKEN);
	uint32_t holding = RING_HOLDING;
	atomic_compare_exchange_strong(&m->me->ring_state, &holding, RING_IDLE);
	ring_hand_off(m, token, now);
}

/* True when nothing has been launched for a while and the GPU has finished
 * all our work: a probe drain, then a short grace for a launch to follow. */
static int holder_idle(struct ring_member *m, uint64_t now, uint64_t slice_end)
{
	uint64_t launches = atomic_load_explicit(&m->launches, memory_order_relaxed);
	if (launches != m->last_launches) {
		m->last_launches = launches;
		m->quiet_since_ns = now;
		return 0;
	}
	int high = m->cfg.priority == PRIORITY_HIGH;
	if (atomic_load(&m->inflight) > 0 || (high && launches == m->open_launches))
		return 0; /* a high member has not launched yet in this hold */
	/* The program synchronized after its last launch: its work is done.
	 * A high member can take the token back at once, so it waits no
	 * longer. */
	if (high && atomic_load(&m->synced_launches) == launches)
		return 1;
	if (now - m->quiet_since_ns < (high ? HIGH_QUIET_NS : QUIET_NS))
		return 0;
	/* The probe: wait for our work, but not past the slice's end. A probe
	 * that does not finish, or that ends after the slice, proves nothing:
	 * the slice's end decides then (and charges and weighs the turn). */
	uint64_t left = slice_end > now ? slice_end - now : 0;
	if (drain_bounded(m, left > MS ? left : MS) != 0)
		return 0;
	if (high)
		return atomic_load_explicit(&m->launches, memory_order_relaxed) == launches;
	ring_sleep_ns(GRACE_NS);
	uint64_t after = ring_now_ns();
	if (atomic_load_explicit(&m->launches, memory_order_relaxed) != launches) {
		m->quiet_since_ns = after;
		return 0;
	}
	return after < slice_end;
}

/* Nonzero when, with this slice charged, our vtime is still below the best
 * waiter's: the waiter would not be chosen over us. */
static int keeps_turn(const struct ring_member *m, uint64_t now, uint64_t waiter_vtime)
{
	uint64_t charged = now > m->charge_from_ns ? now - m->charge_from_ns : 0;
	uint64_t mine = atomic_load(&m->me->vtime_ns) + charged / (m->cfg.weight ? m->cfg.weight : 1);
	return mine < waiter_vtime;
}

/* One step of a holder's agent. Returns how long to sleep (0: step again).
 * Runs with yield_lock held, so an acquirer of this process never sees a
 * half-finished hand-off. */
static uint64_t hold_step(struct ring_member *m, uint64_t now)
{
	uint64_t token = atomic_load(&m->ring->token);
	if (token != atomic_load(&m->my_token)) {
		lose_token(m, now);
		return 0;
	}
	int best_cls;
	uint64_t best_vt;
	int best = ring_pick_next(m, now, &best_cls, &best_vt, 0);
	int my_cls = ring_effective_class(m, m->me, now);
	if (my_cls == PRIORITY_HIGH &&
	    ring_high_over_budget(m->ring, &m->cfg, now, now - m->hold_start_ns))
		my_cls = PRIORITY_LOW;
	uint64_t poll = m->cfg.priority == PRIORITY_HIGH ? HIGH_POLL_NS : POLL_NS;
	uint64_t slice_end = m->hold_start_ns + m->cfg.slice_ns;
	if (best < 0 || best_cls < my_cls) {
		/* Uncontested, or only lower classes wait: nothing is charged;
		 * a lower class gets the GPU only when we are idle. */
		m->charge_from_ns = now;
		m->contested = 0;
		if (best >= 0 && holder_idle(m, now, now + m->cfg.slice_ns)) {
			yield_token(m, 1);
			return 0;
		}
		return best < 0 ? 100 * MS : poll;
	}
	if (!m->contested) {
		/* Charging starts when the first waiter started waiting. */
		uint64_t since = atomic_load(&m->g->map->members[best].wait_since_ns);
		if (since > m->charge_from_ns && since <= now)
			m->charge_from_ns = since;
		m->contested = 1;
	}
	if (now >= slice_end && best_cls == my_cls && keeps_turn(m, now, best_vt)) {
		/* Still owed time (a heavier weight): charge this slice, start
		 * another without a hand-off. */
		account_hold(m, now);
		m->hold_start_ns = now;
		m->charge_from_ns = now;
		return 0;
	}
	if (best_cls > my_cls || now >= slice_end) {
		yield_token(m, 0);
		return 0;
	}
	if (holder_idle(m, now, slice_end)) {
		yield_token(m, 1);
		return 0;
	}
	uint64_t left = slice_end - now;
	return left < poll ? left : poll;
}

static void publish_stats(struct ring_member *m, uint64_t now, uint64_t *next_hist)
{
	struct cs_member *me = m->me;
	atomic_store_explicit(&me->launches, atomic_load(&m->launches), memory_order_relaxed);
	if (now < *next_hist)
		return;
	*next_hist = now + HIST_PERIOD_NS;
	uint64_t held = atomic_load(&me->held_ns);
	if (m->hold_start_ns != 0 && now > m->hold_start_ns)
		held += now - m->hold_start_ns; /* an acquirer may have set it after now */
	uint32_t pos = atomic_load(&me->hist_pos) % CS_HIST;
	atomic_store(&me->hist_t_ns[pos], now);
	atomic_store(&me->hist_held_ns[pos], held);
	atomic_store(&me->hist_pos, (pos + 1) % CS_HIST);
}

static void *agent_main(void *arg)
{
	struct ring_member *m = arg;
	if (m->ops.thread_init != NULL)
		m->ops.thread_init(m->ops.arg);
	uint64_t next_periodic = 0, next_hist = 0;
	while (!atomic_load(&m->stop)) {
		uint32_t seen = atomic_load(&m->me->agent_seq);
		uint64_t now = ring_now_ns();
		if (now >= next_periodic) {
			next_periodic = now + PERIODIC_NS;
			reap_dead(m->g);
			member_repair(m->g, m->slot); /* after a truncation or overwrite */
		}
		uint64_t pause = 100 * MS;
		pthread_mutex_lock(&m->yield_lock);
		publish_stats(m, now, &next_hist); /* hold_start_ns: yield_lock */
		if (atomic_load(&m->open))
			pause = hold_step(m, now);
		pthread_mutex_unlock(&m->yield_lock);
		if (pause > 0) {
			uint64_t until_periodic = next_periodic > now ? next_periodic - now : 0;
			ring_futex_wait(&m->me->agent_seq, seen, pause < until_periodic ? pause : until_periodic);
		}
	}
	return NULL;
}

/* ------------------------------------------------------------------ */

static int start_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
	/* The ring's threads take no signals meant for the program. SIGBUS
	 * stays open: a blocked fault kills the process, and mapguard.c must
	 * be able to repair a shrunk file under these threads too. */
	sigset_t all, old;
	sigfillset(&all);
	sigdelset(&all, SIGBUS);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int err = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -err;
}

int ring_member_start(struct ring_member *m, struct gpufile *g, unsigned slot,
		      const struct ring_config *cfg, const struct ring_ops *ops)
{
	memset(m, 0, sizeof(*m));
	m->g = g;
	m->slot = slot;
	m->me = &g->map->members[slot];
	m->ring = &g->map->ring;
	m->cfg = *cfg;
	m->ops = *ops;
	atomic_store(&m->my_token, NO_TOKEN);
	pthread_mutex_init(&m->acquire_lock, NULL);
	pthread_mutex_init(&m->yield_lock, NULL);
	pthread_mutex_init(&m->drain_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->drain_cond, &ca);
	pthread_condattr_destroy(&ca);

	int err = start_thread(&m->drainer, drainer_main, m);
	if (err != 0)
		return err;
	err = start_thread(&m->agent, agent_main, m);
	if (err != 0)
		goto stop_drainer;
	m->started = 1;
	return 0;
stop_drainer:
	pthread_mutex_lock(&m->drain_lock);
	atomic_store(&m->stop, 1);
	pthread_cond_broadcast(&m->drain_cond);
	pthread_mutex_unlock(&m->drain_lock);
	pthread_join(m->drainer, NULL);
	return err;
}

void ring_member_stop(struct ring_member *m)
{
	if (!m->started)
		return;
	m->started = 0;
	/* Stop the agent first: a drain it is waiting for is abandoned. */
	pthread_mutex_lock(&m->drain_lock);
	atomic_store(&m->stop, 1);
	pthread_cond_broadcast(&m->drain_cond);
	pthread_mutex_unlock(&m->drain_lock);
	ring_futex_bump(&m->me->agent_seq);
	ring_futex_bump(&m->me->grant_seq);
	pthread_join(m->agent, NULL);
	/* The process is exiting: the driver may already be shutting down, so
	 * the token moves on without a drain. */
	pthread_mutex_lock(&m->yield_lock);
	uint64_t token = atomic_load(&m->my_token);
	if (atomic_load(&m->open) && ring_holding(m)) {
		atomic_store(&m->open, 0);
		atomic_store(&m->my_token, NO_TOKEN);
		wait_inflight(m);
		uint64_t now = ring_now_ns();
		account_hold(m, now);
		ring_hand_off(m, token, now);
	}
	atomic_store(&m->open, 0);
	pthread_mutex_unlock(&m->yield_lock);
	/* The drainer may be blocked in the driver: wait a little, then let
	 * it go. */
	struct timespec deadline = clock_deadline(CLOCK_REALTIME, 200 * MS);
	if (pthread_timedjoin_np(m->drainer, NULL, &deadline) != 0)
		pthread_detach(m->drainer);
}
