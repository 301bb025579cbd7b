/* agent.c - a ring member's agent thread: it owns the slice clock on the
 * holder's side (close the gate, drain, charge, hand on, lend), and starts
 * and stops the member's threads (the drainer is in drainer.c). The
 * protocol they follow is the DESIGN comment of ring.c; the charging rule is
 * docs/ring.md's "Charging".
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "config.h"
#include "log.h"
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
	/* Loans: the queue has been empty (the program synchronized and has
	 * not launched since) for LEND_QUIET_NS: lend. A gap that ends sooner,
	 * or a loan taken back within LEND_MIN_NS, is a miss; LEND_MISSES in a
	 * row stop the synchronize from waking the agent for LEND_BACKOFF_NS
	 * (the agent's own polling can still find long gaps). */
	LEND_QUIET_NS = 50 * 1000,
	LEND_MIN_NS = 300 * 1000,
	LEND_MISSES = 16,
	LEND_BACKOFF_NS = 1000 * 1000 * 1000,
	STOP_SLACK_NS = 50 * 1000 * 1000, /* the agent woke this late: we were stopped */
};

/* ------------------------------------------------------------------ */
/* The holder's side, run by the agent thread. */

static void wait_inflight(struct ring_member *m)
{
	while (atomic_load(&m->inflight) > 0)
		ring_sleep_ns(20 * US);
}

/* The end of what a hold may be charged: now while the token is still
 * ours; once it was taken (we were stopped, traced or frozen past the hold
 * timeout) the last moment we saw it ours, so a pause is never charged. */
static uint64_t charge_end(const struct ring_member *m, uint64_t now)
{
	if (ring_holding(m))
		return now;
	uint64_t seen = m->seen_held_ns + POLL_NS;
	return seen < now ? seen : now;
}

/* Charges the hold that ends at `end`; returns what was charged. */
static uint64_t account_hold(struct ring_member *m, uint64_t end)
{
	struct cs_member *me = m->me;
	if (m->hold_start_ns == 0)
		return 0;
	uint64_t held = end > m->hold_start_ns ? end - m->hold_start_ns : 0;
	uint64_t charged = end > m->charge_from_ns ? end - m->charge_from_ns : 0;
	atomic_fetch_add(&me->held_ns, held);
	uint64_t vt = atomic_fetch_add(&me->vtime_ns, charged / (m->cfg.weight ? m->cfg.weight : 1)) +
		      charged / (m->cfg.weight ? m->cfg.weight : 1);
	ring_vclock_raise(m->ring, vt);
	if (m->cfg.priority == PRIORITY_HIGH)
		ring_high_account(m->ring, end, held);
	timeline_add(m->tl, m->cfg.ordinal, m->borrowed_from ? TL_BACKFILL : TL_HOLD,
		     m->hold_start_ns, end, charged,
		     m->borrowed_from ? (uint64_t)(m->borrowed_from - 1) : vt);
	m->hold_start_ns = 0;
	return charged;
}

/* Remembers what we are owed as we go idle: the vtime between ours and
 * the smallest of the members still busy, at most ring_lag_cap(). */
static void note_lag(struct ring_member *m)
{
	uint64_t floor = ring_busy_floor(m);
	uint64_t mine = atomic_load(&m->me->vtime_ns);
	uint64_t lag = floor != UINT64_MAX && floor > mine ? floor - mine : 0;
	uint64_t cap = ring_lag_cap(m);
	atomic_store(&m->lag_ns, lag < cap ? lag : cap);
}

/* The token was taken from us (preempted, or declared stuck). */
static void lose_token(struct ring_member *m, uint64_t now)
{
	atomic_store(&m->open, 0);
	atomic_store(&m->my_token, NO_TOKEN);
	wait_inflight(m);
	uint64_t end = charge_end(m, now);
	uint64_t charged = account_hold(m, end);
	timeline_add(m->tl, m->cfg.ordinal, TL_REVOKED, end, end, charged,
		     TOKEN_HOLDER(atomic_load(&m->ring->token)));
	m->borrowed_from = 0;
	if (end < now)
		atomic_store(&m->lag_ns, 0); /* we were away: rejoin at the floor */
	else
		note_lag(m); /* preempted while running: keep what we were owed */
	uint32_t holding = RING_HOLDING;
	atomic_compare_exchange_strong(&m->me->ring_state, &holding, RING_IDLE);
}

/* Closes the gate and drains within timeout_ns (an idle probe that just
 * found nothing to drain skips it). */
static void close_and_drain(struct ring_member *m, int probed, uint64_t timeout_ns)
{
	atomic_store(&m->open, 0);
	wait_inflight(m);
	/* After an idle probe nothing needs draining, unless a launch slipped
	 * in between the probe and the closing of the gate. */
	if (probed && atomic_load(&m->launches) == m->last_launches)
		return;
	uint64_t t0 = ring_now_ns();
	int late = ring_drain_bounded(m, timeout_ns) == -ETIMEDOUT;
	if (late) {
		atomic_fetch_add(&m->me->overruns, 1);
		atomic_fetch_add(&m->ring->overruns, 1);
	}
	timeline_add(m->tl, m->cfg.ordinal, TL_DRAIN, t0, ring_now_ns(), (uint64_t)late, 0);
}

/* Ends our slice: close the gate, drain (unless an idle probe just found
 * nothing to drain), charge, hand the token on; to `to` when it is >= 0
 * (a borrower returning a loan), else to the best waiter. */
static void yield_token(struct ring_member *m, int probed, int to)
{
	uint64_t token = atomic_load(&m->my_token);
	close_and_drain(m, probed, to >= 0 ? m->cfg.backfill_ns : m->cfg.drain_timeout_ns);
	uint64_t now = ring_now_ns();
	account_hold(m, charge_end(m, now));
	m->borrowed_from = 0;
	atomic_store(&m->my_token, NO_TOKEN);
	uint32_t holding = RING_HOLDING;
	atomic_compare_exchange_strong(&m->me->ring_state, &holding, RING_IDLE);
	note_lag(m);
	if (to >= 0 && ring_pass_token(m, token, to, now, 0))
		return;
	ring_hand_off(m, token, now);
}

/* Lends the token to waiter `to` while our queue is empty: we are charged
 * up to now, the borrower from now, and our next launch takes it back
 * (the borrower drains within CUSLICE_BACKFILL_US). Returns nonzero when
 * the token was lent. */
static int lend_token(struct ring_member *m, int to, uint64_t now)
{
	uint64_t token = atomic_load(&m->my_token);
	uint64_t launches = atomic_load(&m->launches);
	int mode = atomic_load(&m->open);
	atomic_store(&m->open, RING_CLOSED);
	wait_inflight(m);
	if (atomic_load(&m->launches) != launches) {
		/* A launch slipped in: our queue is not empty after all. */
		atomic_store(&m->open, mode);
		ring_futex_bump(&m->me->grant_seq);
		return 0;
	}
	account_hold(m, now);
	m->lend_slice_end_ns = m->slice_end_ns;
	m->lent_at_ns = now;
	m->lending = 1;
	atomic_store(&m->my_token, NO_TOKEN);
	uint32_t holding = RING_HOLDING;
	atomic_compare_exchange_strong(&m->me->ring_state, &holding, RING_IDLE);
	note_lag(m);
	if (!ring_pass_token(m, token, to, now, m->slot + 1))
		m->lending = 0; /* the token was taken meanwhile: nothing to take back */
	return 1;
}

/* A gap that ended before we could lend, or a loan taken back at once. */
static void lend_missed(struct ring_member *m, uint64_t now)
{
	if (++m->lend_misses < LEND_MISSES)
		return;
	m->lend_misses = 0;
	atomic_store(&m->lend_armed, 0);
	m->lend_rearm_ns = now + LEND_BACKOFF_NS;
}

/* Whether to lend now: our program synchronized after its last launch,
 * nothing is in flight, and that has lasted LEND_QUIET_NS. *pause is set
 * when the agent should look again sooner than its poll. */
static int lend_ready(struct ring_member *m, uint64_t now, uint64_t *pause)
{
	uint64_t launches = atomic_load_explicit(&m->launches, memory_order_relaxed);
	if (launches != m->last_launches) {
		m->last_launches = launches;
		m->quiet_since_ns = now;
		if (m->lend_gap_launches != UINT64_MAX)
			lend_missed(m, now); /* the gap we watched ended */
		m->lend_gap_launches = UINT64_MAX;
	}
	if (atomic_load(&m->inflight) > 0 || atomic_load(&m->synced_launches) != launches ||
	    now >= m->slice_end_ns)
		return 0;
	uint64_t since = atomic_load(&m->synced_ns);
	if (since < m->quiet_since_ns)
		since = m->quiet_since_ns;
	m->lend_gap_launches = launches;
	if (now >= since + LEND_QUIET_NS)
		return 1;
	*pause = since + LEND_QUIET_NS - now;
	return 0;
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
	if (ring_drain_bounded(m, left > MS ? left : MS) != 0)
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

/* A borrower's step: the loan ends when the lender wants the token back
 * (it is returned to it at once, drained within CUSLICE_BACKFILL_US) or
 * when the borrower's first slice is over (it is an ordinary hold then).
 * Returns nonzero when the token was returned. */
static int loan_step(struct ring_member *m, uint64_t now)
{
	if (!m->borrowed_from)
		return 0;
	unsigned lender = (unsigned)m->borrowed_from - 1;
	const struct cs_member *c = &m->g->map->members[lender];
	if (atomic_load(&c->state) == MEMBER_ACTIVE &&
	    atomic_load(&c->ring_state) == RING_WAITING && now < m->slice_end_ns) {
		yield_token(m, 0, (int)lender);
		return 1;
	}
	if (now >= m->slice_end_ns) {
		account_hold(m, now); /* the loan ends; an ordinary hold goes on */
		m->borrowed_from = 0;
		m->hold_start_ns = now;
		m->charge_from_ns = now;
	}
	return 0;
}

/* Whether this holder may lend its token to the best waiter. */
static int may_lend(struct ring_member *m, int best_cls, int my_cls, uint64_t now)
{
	if (m->cfg.backfill_ns == 0 || m->cfg.priority == PRIORITY_HIGH || m->borrowed_from ||
	    best_cls != my_cls)
		return 0;
	if (!atomic_load_explicit(&m->lend_armed, memory_order_relaxed) && now >= m->lend_rearm_ns)
		atomic_store(&m->lend_armed, 1);
	return 1;
}

/* Nonzero when, with this hold charged, our vtime is more than one slice
 * (at our weight) ahead of a waiter of our class: we got the token because
 * that member was idle, it is back and owed, so we yield before our slice
 * ends. This is what keeps weights for members that idle between steps. */
static int too_far_ahead(const struct ring_member *m, uint64_t now, uint64_t waiter_vtime)
{
	uint64_t w = m->cfg.weight ? m->cfg.weight : 1;
	uint64_t charged = now > m->charge_from_ns ? now - m->charge_from_ns : 0;
	uint64_t mine = atomic_load(&m->me->vtime_ns) + charged / w;
	return mine > waiter_vtime + m->cfg.slice_ns / w;
}

/* Nonzero when we could hold one more slice and still be behind the best
 * waiter: an idle moment of ours is not handed to it then (it would run a
 * whole step of queued work in our gap, and members that idle between
 * steps would split 1:1 whatever their weights). */
static int owed_a_slice(const struct ring_member *m, uint64_t now, uint64_t waiter_vtime)
{
	uint64_t w = m->cfg.weight ? m->cfg.weight : 1;
	uint64_t charged = now > m->charge_from_ns ? now - m->charge_from_ns : 0;
	uint64_t mine = atomic_load(&m->me->vtime_ns) + charged / w;
	return mine + m->cfg.slice_ns / w < waiter_vtime;
}

/* Picks the best waiter (its class and vtime in *best_cls, *best_vt; ours
 * in *my_cls) and moves the start of charging (m->contested says which):
 * while nobody of our class or a higher one waits, to now, since time no
 * one else wanted is free (a loan excepted: the lender will want it back);
 * once one does, back to the moment the first such waiter started
 * waiting. Returns the best waiter's slot, or -1. */
static int contest(struct ring_member *m, uint64_t now, int *best_cls, uint64_t *best_vt,
		   int *my_cls)
{
	int best = ring_pick_next(m, now, best_cls, best_vt, 0);
	*my_cls = ring_effective_class(m, m->me, now);
	if (*my_cls == PRIORITY_HIGH &&
	    ring_high_over_budget(m->ring, &m->cfg, now, now - m->hold_start_ns))
		*my_cls = PRIORITY_LOW;
	if (best < 0 || *best_cls < *my_cls) {
		if (!m->borrowed_from)
			m->charge_from_ns = now;
		m->contested = 0;
	} else if (!m->contested) {
		uint64_t since = atomic_load(&m->g->map->members[best].wait_since_ns);
		if (since > m->charge_from_ns && since <= now && !m->borrowed_from)
			m->charge_from_ns = since;
		m->contested = 1;
	}
	return best;
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
	m->seen_held_ns = now;
	if (loan_step(m, now))
		return 0;
	int best_cls, my_cls;
	uint64_t best_vt;
	int best = contest(m, now, &best_cls, &best_vt, &my_cls);
	uint64_t poll = m->cfg.priority == PRIORITY_HIGH ? HIGH_POLL_NS : POLL_NS;
	uint64_t slice_end = m->slice_end_ns;
	if (!m->contested) {
		/* A lower class gets the GPU only when we are idle. */
		atomic_store(&m->lend_armed, 0);
		if (best >= 0 && holder_idle(m, now, now + m->cfg.slice_ns)) {
			yield_token(m, 1, -1);
			return 0;
		}
		return best < 0 ? 100 * MS : poll;
	}
	if (now >= slice_end && best_cls == my_cls && keeps_turn(m, now, best_vt)) {
		/* Still owed time (a heavier weight): charge this slice, start
		 * another without a hand-off. The grant time moves too, so a
		 * waiter does not take a holder that is owed for a stuck one. */
		atomic_store(&m->ring->grant_ns, now);
		account_hold(m, now);
		m->hold_start_ns = now;
		m->slice_end_ns = now + m->cfg.slice_ns;
		m->charge_from_ns = now;
		return 0;
	}
	if (best_cls > my_cls || now >= slice_end || too_far_ahead(m, now, best_vt)) {
		yield_token(m, 0, -1);
		return 0;
	}
	uint64_t left = slice_end - now;
	uint64_t pause = left < poll ? left : poll;
	if (best_cls == my_cls && owed_a_slice(m, now, best_vt))
		return pause; /* our gaps stay ours: giving them away loses the weight */
	if (may_lend(m, best_cls, my_cls, now) && lend_ready(m, now, &pause)) {
		m->lend_gap_launches = UINT64_MAX;
		lend_token(m, best, now);
		return 0;
	}
	if (holder_idle(m, now, slice_end)) {
		yield_token(m, 1, -1);
		return 0;
	}
	return pause;
}

void ring_lend_missed(struct ring_member *m, uint64_t now)
{
	lend_missed(m, now);
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
	uint64_t next_periodic = 0, next_hist = 0, wake_by = UINT64_MAX;
	/* wake_by: the previous step's time plus the pause it asked for; a
	 * step that starts much later than that means the process was
	 * stopped somewhere in between (in the step or in the sleep). */
	while (!atomic_load(&m->stop)) {
		uint32_t seen = atomic_load(&m->me->agent_seq);
		uint64_t now = ring_now_ns();
		/* Woken in time: this process was running all along, so a
		 * token taken while we slept (preempted, uncontested holders
		 * sleep long) was ours until now. Woken late: we were stopped,
		 * and a lost token was ours only until we last looked. */
		if (now <= wake_by + STOP_SLACK_NS) {
			pthread_mutex_lock(&m->yield_lock);
			if (atomic_load(&m->open))
				m->seen_held_ns = now;
			pthread_mutex_unlock(&m->yield_lock);
		}
		if (now >= next_periodic) {
			next_periodic = now + PERIODIC_NS;
			reap_dead(m->g);
			member_watch(m->g, m->slot); /* after a truncation or overwrite */
			timeline_flush(m->tl);
		}
		uint64_t pause = 100 * MS;
		pthread_mutex_lock(&m->yield_lock);
		publish_stats(m, now, &next_hist); /* hold_start_ns: yield_lock */
		int bounded = RING_OPEN_BOUNDED;
		if (!ring_queue_bounded(m, now))
			atomic_compare_exchange_strong(&m->open, &bounded, RING_OPEN);
		if (atomic_load(&m->open))
			pause = hold_step(m, now);
		pthread_mutex_unlock(&m->yield_lock);
		wake_by = now;
		if (pause > 0) {
			uint64_t until_periodic = next_periodic > now ? next_periodic - now : 0;
			pause = pause < until_periodic ? pause : until_periodic;
			wake_by += pause;
			ring_futex_wait(&m->me->agent_seq, seen, pause);
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
	m->lend_gap_launches = UINT64_MAX;
	m->tl = timeline_open(cfg->timeline);
	if (m->tl == NULL && cfg->timeline != NULL && cfg->timeline[0] != '\0')
		log_error("CUSLICE_TIMELINE=%s: cannot create the file (%s); no timeline is recorded",
			  cfg->timeline, strerror(errno));
	timeline_member(m->tl, cfg->ordinal, slot, cfg->weight, cfg->priority, cfg->uuid);
	pthread_mutex_init(&m->acquire_lock, NULL);
	pthread_mutex_init(&m->yield_lock, NULL);
	pthread_mutex_init(&m->drain_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->drain_cond, &ca);
	pthread_condattr_destroy(&ca);

	int err = start_thread(&m->drainer, ring_drainer_main, m);
	if (err != 0) {
		timeline_release(m->tl);
		return err;
	}
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
	timeline_release(m->tl);
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
		int best_cls, my_cls;
		uint64_t best_vt;
		contest(m, now, &best_cls, &best_vt, &my_cls); /* since the agent's last step */
		account_hold(m, now);
		ring_hand_off(m, token, now);
	}
	atomic_store(&m->open, 0);
	pthread_mutex_unlock(&m->yield_lock);
	timeline_release(m->tl);
	/* The drainer may be blocked in the driver: wait a little, then let
	 * it go. */
	struct timespec deadline = clock_deadline(CLOCK_REALTIME, 200 * MS);
	if (pthread_timedjoin_np(m->drainer, NULL, &deadline) != 0)
		pthread_detach(m->drainer);
}
