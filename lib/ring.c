/* ring.c - the token ring.
 *
 * DESIGN
 * One ring per physical GPU lives in the per-GPU file (layout.h). Its heart
 * is one atomic word, ring.token = generation << 16 | holder slot. Only the
 * process in the holder slot may submit GPU work; every change of the token
 * is a compare-and-swap that bumps the generation, so a hand-off computed
 * from a stale token value fails instead of clobbering a newer one.
 *
 * Who writes what.
 *   ring.token      CAS by: the holder handing off (yield), a waiter taking a
 *                   free token, a waiter revoking a dead or stuck holder's
 *                   token, a high-priority member preempting a lower holder,
 *                   and ring_forget() for a member that left or died.
 *   ring.grant_ns   stored just BEFORE the CAS that makes a new holder, so a
 *                   reader that sees the new token also sees its grant time.
 *   member.ring_state
 *                   the owner's acquirer stores WAITING, then HOLDING when it
 *                   gets the token; the owner's agent moves HOLDING -> IDLE
 *                   by CAS (so a WAITING stored by an acquirer of the same
 *                   process is never lost); a reaper clears a dead slot.
 *   member.grant_seq
 *                   futex word of the waiter; whoever grants it the token
 *                   bumps it and wakes it.
 *   member.agent_seq
 *                   futex word of the holder's agent; a new waiter bumps it
 *                   so the holder considers yielding now.
 *   member.vtime_ns GPU time held divided by weight, written by its owner.
 *   statistics      written by their owner only; read by `cuslice status`.
 * All shared accesses are C11 atomics, sequentially consistent unless a
 * comment says otherwise.
 *
 * The gate (per process, not shared). A launch increments `inflight`, then
 * checks `open` and that the token is still the one it opened with. The
 * agent closes the gate by storing open = 0, then waits for inflight == 0,
 * then drains. Both sides are seq_cst (a Dekker pair): either the launch sees
 * the gate closed and backs off, or the agent sees it in flight and waits for
 * it to be submitted, so no launch slips past a drain.
 *
 * Transitions of a member (state in its slot):
 *   IDLE --launch, gate closed--> WAITING (wakes the holder's agent)
 *   WAITING --token granted or taken while free--> HOLDING (gate opens)
 *   HOLDING --slice used and someone waiting, or idle and someone waiting,
 *             or a higher class waiting--> drain -> token to the next -> IDLE
 *   HOLDING --token revoked (preempted, or declared stuck)--> IDLE
 * A holder with nobody waiting keeps the token (work-conserving).
 *
 * Choosing the next holder: among WAITING members, the highest class first
 * (high > normal > low; high counts as normal while high members used more
 * than their share of the last second), then the smallest vtime. vtime grows
 * by held time / weight, where held time runs from the moment someone was
 * waiting until the drain finished, so overruns of long kernels are charged
 * and weights give proportional shares. A member that starts waiting lifts
 * its vtime to the smallest vtime of the members already busy less one
 * slice, so idling earns at most one slice of credit.
 *
 * Faults. A waiter re-checks the holder every quarter slice (1..50 ms): if
 * its slot is free or its kernel lock is gone (dead, SIGKILL included) the
 * token is revoked at once; if it has kept the token longer than slice +
 * CUSLICE_HOLD_TIMEOUT_MS since the waiter started waiting (SIGSTOP, stuck
 * outside CUDA, or a drain that cannot finish), likewise. A revoked holder's
 * gate stops passing launches at once, because the fast path compares the
 * token with the one it opened with; its agent then closes the gate.
 */
#include "ring.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "member.h"

#define MS (UINT64_C(1000000))
#define US (UINT64_C(1000))
#define NO_TOKEN UINT64_MAX

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
	HIGH_WINDOW_NS = 1000 * 1000 * 1000,
};

uint64_t ring_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void futex_wait(_Atomic uint32_t *word, uint32_t seen, uint64_t timeout_ns)
{
	struct timespec ts = { (time_t)(timeout_ns / 1000000000u), (long)(timeout_ns % 1000000000u) };
	syscall(SYS_futex, word, FUTEX_WAIT, seen, &ts, NULL, 0);
}

static void futex_bump(_Atomic uint32_t *word)
{
	atomic_fetch_add(word, 1);
	syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };
	nanosleep(&ts, NULL);
}

static unsigned bucket_of(uint64_t ns)
{
	uint64_t us = ns / US;
	unsigned b = 0;
	while (us > 0 && b < CS_WAIT_BUCKETS - 1) {
		us >>= 1;
		b++;
	}
	return b;
}

static int class_of(const struct cs_member *c)
{
	uint32_t p = c->priority;
	return p <= PRIORITY_HIGH ? (int)p : PRIORITY_NORMAL;
}

/* Nonzero while high members have used more than their share of the last
 * window; they then count as normal. extra_ns is a hold not yet accounted. */
static int high_over_budget(struct cs_ring *r, const struct ring_config *cfg, uint64_t now,
			    uint64_t extra_ns)
{
	uint64_t start = atomic_load(&r->high_window_start_ns);
	uint64_t used = now - start < HIGH_WINDOW_NS ? atomic_load(&r->high_window_used_ns) : 0;
	return (used + extra_ns) * 100 >= (uint64_t)cfg->high_max_share * HIGH_WINDOW_NS;
}

static void high_account(struct cs_ring *r, uint64_t now, uint64_t held_ns)
{
	uint64_t start = atomic_load(&r->high_window_start_ns);
	if (now - start >= HIGH_WINDOW_NS) {
		/* A new window, starting where this hold started (at most a
		 * window ago). */
		uint64_t back = held_ns < HIGH_WINDOW_NS ? held_ns : HIGH_WINDOW_NS;
		atomic_store(&r->high_window_start_ns, now - back);
		atomic_store(&r->high_window_used_ns, held_ns);
	} else {
		atomic_fetch_add(&r->high_window_used_ns, held_ns);
	}
}

static int effective_class(const struct ring_member *m, const struct cs_member *c, uint64_t now)
{
	int cls = class_of(c);
	if (cls == PRIORITY_HIGH && high_over_budget(m->ring, &m->cfg, now, 0))
		return PRIORITY_LOW; /* spent its share: waits behind normal work */
	return cls;
}

/* The waiting member that should hold the token next, or -1. Its class is
 * stored in *cls. No syscalls. */
static int pick_next(const struct ring_member *m, uint64_t now, int *cls, uint64_t *vtime,
		     uint64_t skip_mask)
{
	struct cs_file *f = m->g->map;
	int best = -1, best_cls = -1;
	uint64_t best_vt = 0, best_since = 0;
	for (unsigned i = 0; i < CS_MEMBERS_MAX; i++) {
		if (i == m->slot || (skip_mask >> i & 1))
			continue;
		const struct cs_member *c = &f->members[i];
		if (atomic_load_explicit(&c->state, memory_order_acquire) != MEMBER_ACTIVE ||
		    atomic_load(&c->ring_state) != RING_WAITING)
			continue;
		int k = effective_class(m, c, now);
		uint64_t vt = atomic_load(&c->vtime_ns);
		uint64_t since = atomic_load(&c->wait_since_ns);
		if (k > best_cls || (k == best_cls && (vt < best_vt ||
						      (vt == best_vt && since < best_since)))) {
			best = (int)i;
			best_cls = k;
			best_vt = vt;
			best_since = since;
		}
	}
	if (cls != NULL)
		*cls = best_cls;
	if (vtime != NULL)
		*vtime = best_vt;
	return best;
}

/* Moves the token from `from` to `next` (or frees it when next < 0).
 * Returns nonzero on success. */
static int pass_token(struct ring_member *m, uint64_t from, int next, uint64_t now)
{
	struct cs_ring *r = m->ring;
	unsigned holder = next >= 0 ? (unsigned)next : CS_NO_HOLDER;
	uint64_t to = TOKEN_MAKE(TOKEN_GEN(from) + 1, holder);
	if (next >= 0)
		atomic_store(&r->grant_ns, now);
	if (!atomic_compare_exchange_strong(&r->token, &from, to))
		return 0;
	if (next >= 0) {
		struct cs_member *c = &m->g->map->members[next];
		uint64_t vt = atomic_load(&c->vtime_ns);
		if (vt > atomic_load(&r->vclock_ns))
			atomic_store(&r->vclock_ns, vt);
		atomic_fetch_add(&r->handoffs, 1);
		futex_bump(&c->grant_seq);
	}
	return 1;
}

/* Hands the token to the best live waiter, to ourselves if only our own
 * threads wait, or frees it. Then closes the lost-wake-up window: a member
 * that started waiting while we scanned is granted the free token. */
static void hand_off(struct ring_member *m, uint64_t token, uint64_t now)
{
	uint64_t skip = 0;
	int next;
	for (;;) {
		next = pick_next(m, now, NULL, NULL, skip);
		if (next < 0 || member_alive(m->g, (unsigned)next) != 0)
			break;
		skip |= UINT64_C(1) << next; /* dead: the reaper will clear it */
	}
	if (next < 0 && atomic_load(&m->acquiring))
		next = (int)m->slot;
	if (!pass_token(m, token, next, now) || next >= 0)
		return;
	uint64_t freed = TOKEN_MAKE(TOKEN_GEN(token) + 1, CS_NO_HOLDER);
	next = pick_next(m, now, NULL, NULL, skip);
	if (next >= 0)
		pass_token(m, freed, next, now);
}

void ring_forget(struct cs_file *f, unsigned slot)
{
	if (f == NULL || slot >= CS_MEMBERS_MAX)
		return;
	struct cs_member *c = &f->members[slot];
	atomic_store(&c->ring_state, RING_IDLE);
	uint64_t t = atomic_load(&f->ring.token);
	while (TOKEN_HOLDER(t) == slot) {
		uint64_t freed = TOKEN_MAKE(TOKEN_GEN(t) + 1, CS_NO_HOLDER);
		if (atomic_compare_exchange_strong(&f->ring.token, &t, freed)) {
			/* Wake every waiter: the first to see the free token takes it. */
			for (unsigned i = 0; i < CS_MEMBERS_MAX; i++) {
				struct cs_member *w = &f->members[i];
				if (i != slot && atomic_load(&w->ring_state) == RING_WAITING)
					futex_bump(&w->grant_seq);
			}
			break;
		}
	}
}

void ring_synced(struct ring_member *m)
{
	atomic_store(&m->synced_launches, atomic_load(&m->launches));
	if (m->cfg.priority == PRIORITY_HIGH && atomic_load(&m->open))
		futex_bump(&m->me->agent_seq);
}

int ring_holding(const struct ring_member *m)
{
	uint64_t t = atomic_load(&m->ring->token);
	return TOKEN_HOLDER(t) == m->slot && t == atomic_load(&m->my_token);
}

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
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	uint64_t ns = (uint64_t)deadline.tv_nsec + timeout_ns;
	deadline.tv_sec += (time_t)(ns / 1000000000u);
	deadline.tv_nsec = (long)(ns % 1000000000u);

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
		sleep_ns(20 * US);
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
		high_account(m->ring, now, held);
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
	hand_off(m, token, now);
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
	sleep_ns(GRACE_NS);
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
	int best = pick_next(m, now, &best_cls, &best_vt, 0);
	int my_cls = effective_class(m, m->me, now);
	if (my_cls == PRIORITY_HIGH &&
	    high_over_budget(m->ring, &m->cfg, now, now - m->hold_start_ns))
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
	if (m->hold_start_ns != 0)
		held += now - m->hold_start_ns;
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
			if (m->ops.periodic != NULL)
				m->ops.periodic(m->ops.arg);
		}
		publish_stats(m, now, &next_hist);
		uint64_t pause = 100 * MS;
		pthread_mutex_lock(&m->yield_lock);
		if (atomic_load(&m->open))
			pause = hold_step(m, now);
		pthread_mutex_unlock(&m->yield_lock);
		if (pause > 0) {
			uint64_t until_periodic = next_periodic > now ? next_periodic - now : 0;
			futex_wait(&m->me->agent_seq, seen, pause < until_periodic ? pause : until_periodic);
		}
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* The waiter's side, run by a launching thread. */

/* Opens the gate with a token we now hold. Called with yield_lock held. */
static void open_gate(struct ring_member *m, uint64_t token, uint64_t waited_from)
{
	struct cs_member *me = m->me;
	uint64_t now = ring_now_ns();
	uint64_t waited = now - waited_from;
	atomic_fetch_add(&me->waited_ns, waited);
	atomic_fetch_add(&me->wait_hist[bucket_of(waited)], 1);
	atomic_fetch_add(&me->grants, 1);
	uint64_t granted = atomic_load(&m->ring->grant_ns);
	if (granted != 0 && granted <= now && granted >= waited_from)
		atomic_fetch_add(&m->ring->handoff_hist[bucket_of(now - granted)], 1);
	m->hold_start_ns = now;
	m->charge_from_ns = now;
	m->contested = 1;
	m->last_launches = atomic_load(&m->launches);
	m->open_launches = m->last_launches;
	m->quiet_since_ns = now;
	atomic_store(&me->ring_state, RING_HOLDING);
	atomic_store(&m->my_token, token);
	atomic_store(&m->open, 1);
	futex_bump(&me->agent_seq); /* start the slice clock */
}

/* Lifts our vtime to the smallest vtime of the members already busy, less
 * one slice: idling earns no more than one slice of credit, so a member that
 * pauses between steps keeps what it was owed, and one that slept for long
 * cannot then monopolise the GPU. */
static void catch_up_vtime(struct ring_member *m)
{
	struct cs_file *f = m->g->map;
	uint64_t floor = UINT64_MAX;
	for (unsigned i = 0; i < CS_MEMBERS_MAX; i++) {
		const struct cs_member *c = &f->members[i];
		if (i == m->slot || atomic_load(&c->state) != MEMBER_ACTIVE ||
		    atomic_load(&c->ring_state) == RING_IDLE)
			continue;
		uint64_t vt = atomic_load(&c->vtime_ns);
		if (vt < floor)
			floor = vt;
	}
	uint64_t credit = m->cfg.slice_ns / (m->cfg.weight ? m->cfg.weight : 1);
	if (floor == UINT64_MAX || floor < credit)
		return;
	floor -= credit;
	if (atomic_load(&m->me->vtime_ns) < floor)
		atomic_store(&m->me->vtime_ns, floor);
}

static uint64_t check_interval(const struct ring_member *m)
{
	uint64_t q = m->cfg.slice_ns / 4;
	return q < MS ? MS : q > 50 * MS ? 50 * MS : q;
}

/* Takes the token from a holder that died, left, or overstayed. */
static void check_holder(struct ring_member *m, uint64_t token, uint64_t waiting_since)
{
	unsigned h = TOKEN_HOLDER(token);
	struct cs_ring *r = m->ring;
	uint64_t now = ring_now_ns();
	int gone;
	if (h >= CS_MEMBERS_MAX) {
		gone = 1; /* not a slot: a corrupt word */
	} else {
		struct cs_member *c = &m->g->map->members[h];
		gone = atomic_load(&c->state) != MEMBER_ACTIVE || member_alive(m->g, h) == 0;
		uint64_t granted = atomic_load(&r->grant_ns);
		uint64_t from = granted > waiting_since ? granted : waiting_since;
		if (now > from + m->cfg.slice_ns + m->cfg.hold_timeout_ns)
			gone = 1;
	}
	if (!gone)
		return;
	uint64_t freed = TOKEN_MAKE(TOKEN_GEN(token) + 1, CS_NO_HOLDER);
	if (atomic_compare_exchange_strong(&r->token, &token, freed))
		atomic_fetch_add(&r->revocations, 1);
}

/* Tries to make us the holder: a free token is taken, a lower class holder
 * is preempted by a high member. Returns the new token, or NO_TOKEN. */
static uint64_t try_take(struct ring_member *m, uint64_t token, uint64_t now)
{
	struct cs_ring *r = m->ring;
	unsigned h = TOKEN_HOLDER(token);
	int take = h == CS_NO_HOLDER;
	if (!take && h < CS_MEMBERS_MAX && m->cfg.priority == PRIORITY_HIGH &&
	    class_of(&m->g->map->members[h]) < PRIORITY_HIGH &&
	    !high_over_budget(r, &m->cfg, now, 0))
		take = 2;
	if (!take)
		return NO_TOKEN;
	uint64_t mine = TOKEN_MAKE(TOKEN_GEN(token) + 1, m->slot);
	atomic_store(&r->grant_ns, now);
	if (!atomic_compare_exchange_strong(&r->token, &token, mine))
		return NO_TOKEN;
	if (take == 2) /* tell the preempted holder's agent at once */
		futex_bump(&m->g->map->members[h].agent_seq);
	return mine;
}

/* Under yield_lock: opens the gate if the token is ours. Returns nonzero
 * when the gate is open. */
static int claim(struct ring_member *m, uint64_t taken, uint64_t waited_from)
{
	pthread_mutex_lock(&m->yield_lock);
	uint64_t t = atomic_load(&m->ring->token);
	int open = 0;
	if (TOKEN_HOLDER(t) == m->slot) {
		if (t != atomic_load(&m->my_token))
			open_gate(m, t, waited_from);
		open = atomic_load(&m->open);
	}
	(void)taken;
	pthread_mutex_unlock(&m->yield_lock);
	return open;
}

static void acquire(struct ring_member *m)
{
	struct cs_member *me = m->me;
	struct cs_ring *r = m->ring;
	uint64_t start = ring_now_ns();
	catch_up_vtime(m);
	atomic_store(&me->wait_since_ns, start);
	atomic_store(&me->ring_state, RING_WAITING);
	unsigned poked = CS_NO_HOLDER;
	for (;;) {
		uint32_t seen = atomic_load(&me->grant_seq);
		uint64_t t = atomic_load(&r->token);
		unsigned h = TOKEN_HOLDER(t);
		if (h == m->slot) {
			if (claim(m, t, start))
				return;
		} else {
			uint64_t mine = try_take(m, t, ring_now_ns());
			if (mine != NO_TOKEN) {
				if (claim(m, mine, start))
					return;
				continue;
			}
			if (h < CS_MEMBERS_MAX && h != poked) {
				futex_bump(&m->g->map->members[h].agent_seq);
				poked = h;
			}
		}
		if (atomic_load(&m->stop))
			return;
		if (atomic_load(&r->token) != t)
			continue;
		futex_wait(&me->grant_seq, seen, check_interval(m));
		if (atomic_load(&r->token) == t && h != m->slot)
			check_holder(m, t, start);
	}
}

void ring_enter_slow(struct ring_member *m)
{
	for (;;) {
		pthread_mutex_lock(&m->acquire_lock);
		atomic_store(&m->acquiring, 1);
		if (!(atomic_load(&m->open) && ring_holding(m)))
			acquire(m);
		atomic_store(&m->acquiring, 0);
		pthread_mutex_unlock(&m->acquire_lock);
		if (atomic_load(&m->stop)) {
			atomic_fetch_add(&m->inflight, 1); /* shutting down: let it pass */
			return;
		}
		if (ring_enter_fast(m))
			return;
	}
}

/* ------------------------------------------------------------------ */

static int start_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
	/* The ring's threads take no signals meant for the program. */
	sigset_t all, old;
	sigfillset(&all);
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
	futex_bump(&m->me->agent_seq);
	futex_bump(&m->me->grant_seq);
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
		hand_off(m, token, now);
	}
	atomic_store(&m->open, 0);
	pthread_mutex_unlock(&m->yield_lock);
	/* The drainer may be blocked in the driver: wait a little, then let
	 * it go. */
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_nsec += 200 * 1000 * 1000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	if (pthread_timedjoin_np(m->drainer, NULL, &deadline) != 0)
		pthread_detach(m->drainer);
}
