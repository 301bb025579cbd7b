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
 *                   reader that sees the new token also sees its grant time;
 *                   the holder stores it again when it starts a slice it is
 *                   owed (keeps its turn).
 *   ring.lender     stored just BEFORE every CAS that hands the token on or
 *                   takes it (the lender's slot + 1 for a loan, else 0),
 *                   cleared after a revocation or ring_forget().
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
 * by charged time / weight: a hold is charged from the moment someone was
 * waiting (a loan: from its grant) until the drain finished, so overruns of
 * long kernels are charged and weights give proportional shares, and never
 * past the moment the token was taken from a member that was stopped. A
 * member that starts waiting lifts its vtime to the smallest vtime of the
 * members already busy (ring.vclock_ns, the largest vtime granted or
 * charged, when none is) less the lag it had when it went idle (at most two
 * slices; none after a revocation): idling earns nothing, and what a member
 * was owed while busy is kept. The rule and its proof sketch are in
 * docs/ring.md, "Charging".
 *
 * Loans (ring.lender, CUSLICE_BACKFILL_US, off by default): a holder whose
 * queue is empty lends the token to a waiter of its class and takes it back
 * at its next launch; the borrower drains within the bound and returns it.
 *
 * Faults. A waiter re-checks the holder every quarter slice (1..50 ms): if
 * its slot is free or its kernel lock is gone (dead, SIGKILL included) the
 * token is revoked at once; if it has kept the token longer than slice +
 * CUSLICE_HOLD_TIMEOUT_MS since the waiter started waiting (SIGSTOP, stuck
 * outside CUDA, or a drain that cannot finish), likewise. A revoked holder's
 * gate stops passing launches at once, because the fast path compares the
 * token with the one it opened with; its agent then closes the gate. The
 * revoked member is marked IDLE, so it is not granted the token again while
 * it cannot answer; it re-registers when it runs.
 */
#include "ring.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stddef.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "member.h"
#include "ring_internal.h"

uint64_t ring_now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

void ring_futex_wait(_Atomic uint32_t *word, uint32_t seen, uint64_t timeout_ns)
{
	struct timespec ts = clock_ts(timeout_ns);
	syscall(SYS_futex, word, FUTEX_WAIT, seen, &ts, NULL, 0);
}

void ring_futex_bump(_Atomic uint32_t *word)
{
	atomic_fetch_add(word, 1);
	syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

void ring_sleep_ns(uint64_t ns)
{
	struct timespec ts = clock_ts(ns);
	nanosleep(&ts, NULL);
}

unsigned ring_bucket_of(uint64_t ns)
{
	uint64_t us = ns / US;
	unsigned b = 0;
	while (us > 0 && b < CS_WAIT_BUCKETS - 1) {
		us >>= 1;
		b++;
	}
	return b;
}

int ring_class_of(const struct cs_member *c)
{
	uint32_t p = c->priority;
	return p <= PRIORITY_HIGH ? (int)p : PRIORITY_NORMAL;
}

/* Nonzero while high members have used more than their share of the last
 * window; they then count as normal. extra_ns is a hold not yet accounted. */
int ring_high_over_budget(struct cs_ring *r, const struct ring_config *cfg, uint64_t now,
			    uint64_t extra_ns)
{
	uint64_t start = atomic_load(&r->high_window_start_ns);
	uint64_t used = now - start < HIGH_WINDOW_NS ? atomic_load(&r->high_window_used_ns) : 0;
	return (used + extra_ns) * 100 >= (uint64_t)cfg->high_max_share * HIGH_WINDOW_NS;
}

void ring_high_account(struct cs_ring *r, uint64_t now, uint64_t held_ns)
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

int ring_effective_class(const struct ring_member *m, const struct cs_member *c, uint64_t now)
{
	int cls = ring_class_of(c);
	if (cls == PRIORITY_HIGH && ring_high_over_budget(m->ring, &m->cfg, now, 0))
		return PRIORITY_LOW; /* spent its share: waits behind normal work */
	return cls;
}

/* The waiting member that should hold the token next, or -1. Its class is
 * stored in *cls. No syscalls. */
int ring_pick_next(const struct ring_member *m, uint64_t now, int *cls, uint64_t *vtime,
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
		int k = ring_effective_class(m, c, now);
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
int ring_pass_token(struct ring_member *m, uint64_t from, int next, uint64_t now,
		    unsigned lender)
{
	struct cs_ring *r = m->ring;
	unsigned holder = next >= 0 ? (unsigned)next : CS_NO_HOLDER;
	uint64_t to = TOKEN_MAKE(TOKEN_GEN(from) + 1, holder);
	if (next >= 0)
		atomic_store(&r->grant_ns, now);
	atomic_store(&r->lender, next >= 0 ? lender : 0);
	if (!atomic_compare_exchange_strong(&r->token, &from, to))
		return 0;
	if (next >= 0) {
		struct cs_member *c = &m->g->map->members[next];
		ring_vclock_raise(r, atomic_load(&c->vtime_ns));
		atomic_fetch_add(&r->handoffs, 1);
		ring_futex_bump(&c->grant_seq);
	}
	return 1;
}

/* Hands the token to the best live waiter, to ourselves if only our own
 * threads wait, or frees it. Then closes the lost-wake-up window: a member
 * that started waiting while we scanned is granted the free token. */
void ring_hand_off(struct ring_member *m, uint64_t token, uint64_t now)
{
	uint64_t skip = 0;
	int next;
	for (;;) {
		next = ring_pick_next(m, now, NULL, NULL, skip);
		if (next < 0 || member_alive(m->g, (unsigned)next) != 0)
			break;
		skip |= UINT64_C(1) << next; /* dead: the reaper will clear it */
	}
	if (next < 0 && atomic_load(&m->acquiring))
		next = (int)m->slot;
	if (!ring_pass_token(m, token, next, now, 0) || next >= 0)
		return;
	uint64_t freed = TOKEN_MAKE(TOKEN_GEN(token) + 1, CS_NO_HOLDER);
	next = ring_pick_next(m, now, NULL, NULL, skip);
	if (next >= 0)
		ring_pass_token(m, freed, next, now, 0);
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
			atomic_store(&f->ring.lender, 0);
			/* Wake every waiter: the first to see the free token takes it. */
			for (unsigned i = 0; i < CS_MEMBERS_MAX; i++) {
				struct cs_member *w = &f->members[i];
				if (i != slot && atomic_load(&w->ring_state) == RING_WAITING)
					ring_futex_bump(&w->grant_seq);
			}
			break;
		}
	}
}

void ring_synced(struct ring_member *m)
{
	uint64_t launches = atomic_load(&m->launches);
	uint64_t before = atomic_exchange(&m->synced_launches, launches);
	if (m->cfg.priority == PRIORITY_HIGH && launches > before)
		ring_high_launches(m->ring, launches - before);
	if (m->cfg.priority == PRIORITY_HIGH && atomic_load(&m->open)) {
		ring_futex_bump(&m->me->agent_seq);
	} else if (atomic_load_explicit(&m->lend_armed, memory_order_relaxed) &&
		   atomic_load(&m->open)) {
		/* Someone waits and our gaps have been long enough to lend:
		 * tell the agent when the queue emptied. */
		atomic_store(&m->synced_ns, ring_now_ns());
		ring_futex_bump(&m->me->agent_seq);
	}
}

int ring_queue_bounded(const struct ring_member *m, uint64_t now)
{
	uint64_t seen = atomic_load_explicit(&m->ring->high_active_ns, memory_order_relaxed);
	uint32_t per_sync = atomic_load_explicit(&m->ring->high_launches_x16, memory_order_relaxed);
	return m->cfg.high_queue > 0 && seen != 0 && now - seen < HIGH_ACTIVE_NS &&
	       per_sync <= HIGH_FEW_LAUNCHES * 16;
}

void ring_high_launches(struct cs_ring *r, uint64_t launches)
{
	/* avg += (launches - avg) / 4, in sixteenths; several high members
	 * may race here, and either update is as good as the other. */
	uint64_t n = launches < 100000 ? launches : 100000;
	uint32_t avg = atomic_load_explicit(&r->high_launches_x16, memory_order_relaxed);
	atomic_store_explicit(&r->high_launches_x16, (uint32_t)(avg - avg / 4 + n * 4),
			      memory_order_relaxed);
}

int ring_holding(const struct ring_member *m)
{
	uint64_t t = atomic_load(&m->ring->token);
	return TOKEN_HOLDER(t) == m->slot && t == atomic_load(&m->my_token);
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
	atomic_fetch_add(&me->wait_hist[ring_bucket_of(waited)], 1);
	atomic_fetch_add(&me->grants, 1);
	uint64_t granted = atomic_load(&m->ring->grant_ns);
	if (granted != 0 && granted <= now && granted >= waited_from)
		atomic_fetch_add(&m->ring->handoff_hist[ring_bucket_of(now - granted)], 1);
	unsigned lender = atomic_load(&m->ring->lender);
	m->borrowed_from = lender >= 1 && lender <= CS_MEMBERS_MAX && lender - 1 != m->slot ?
				   (int)lender : 0;
	m->hold_start_ns = now;
	m->slice_end_ns = now + m->cfg.slice_ns;
	if (m->lending) {
		/* Back from a loan: the slice we lent out of goes on. A loan
		 * taken back at once gained nothing: a miss. */
		if (waited_from < m->lent_at_ns + 300 * US)
			ring_lend_missed(m, now);
		timeline_add(m->tl, m->cfg.ordinal, TL_LENT, m->lent_at_ns, now, 0, 0);
		if (m->lend_slice_end_ns > now)
			m->slice_end_ns = m->lend_slice_end_ns;
		m->lending = 0;
	}
	timeline_add(m->tl, m->cfg.ordinal, TL_WAIT, waited_from, now, waited, 0);
	m->charge_from_ns = now;
	m->seen_held_ns = now;
	m->contested = 1;
	m->last_launches = atomic_load(&m->launches);
	m->open_launches = m->last_launches;
	m->quiet_since_ns = now;
	atomic_store(&me->ring_state, RING_HOLDING);
	atomic_store(&m->my_token, token);
	int mode = RING_OPEN;
	if (m->cfg.priority == PRIORITY_HIGH)
		atomic_store(&m->ring->high_active_ns, now);
	else if (ring_queue_bounded(m, now))
		mode = RING_OPEN_BOUNDED;
	atomic_store(&m->open, mode);
	ring_futex_bump(&me->agent_seq); /* start the slice clock */
}

void ring_vclock_raise(struct cs_ring *r, uint64_t vt)
{
	uint64_t seen = atomic_load(&r->vclock_ns);
	while (vt > seen && !atomic_compare_exchange_weak(&r->vclock_ns, &seen, vt))
		;
}

uint64_t ring_busy_floor(const struct ring_member *m)
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
	return floor;
}

uint64_t ring_lag_cap(const struct ring_member *m)
{
	return 2 * m->cfg.slice_ns;
}

/* Lifts our vtime to the smallest vtime of the members already busy (the
 * ring's virtual time when none is), less the lag we were owed when we last
 * went idle (at most two slices): idling earns nothing, what we were owed
 * while busy is kept, and a member that slept for long (or was stopped), or
 * joins while the ring is idle, comes back at its fair position instead of
 * monopolising the GPU until its vtime catches up with the others'. */
static void catch_up_vtime(struct ring_member *m)
{
	pthread_mutex_lock(&m->yield_lock);
	/* Our agent may still be ending our last hold (draining before it
	 * charges it): we were busy, not idle, and our vtime is not final
	 * yet. Lifting it now would charge the lift and the hold both. (A
	 * hold whose token was taken from us, we were away: lift.) */
	int busy = m->hold_start_ns != 0 &&
		   atomic_load(&m->my_token) == atomic_load(&m->ring->token);
	pthread_mutex_unlock(&m->yield_lock);
	if (busy)
		return;
	uint64_t floor = ring_busy_floor(m);
	if (floor == UINT64_MAX)
		floor = atomic_load(&m->ring->vclock_ns);
	uint64_t lag = atomic_load(&m->lag_ns);
	if (floor < lag)
		return;
	floor -= lag;
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
	if (!atomic_compare_exchange_strong(&r->token, &token, freed))
		return;
	atomic_store(&r->lender, 0);
	atomic_fetch_add(&r->revocations, 1);
	if (h < CS_MEMBERS_MAX) {
		/* A stopped member is not offered the token again until it
		 * runs: it re-registers (at its fair position) when it does. */
		_Atomic uint32_t *st = &m->g->map->members[h].ring_state;
		uint32_t want = RING_WAITING;
		if (!atomic_compare_exchange_strong(st, &want, RING_IDLE)) {
			want = RING_HOLDING;
			atomic_compare_exchange_strong(st, &want, RING_IDLE);
		}
	}
}

/* Tries to make us the holder: a free token is taken, a lower class holder
 * is preempted by a high member. Returns the new token, or NO_TOKEN. */
static uint64_t try_take(struct ring_member *m, uint64_t token, uint64_t now)
{
	struct cs_ring *r = m->ring;
	unsigned h = TOKEN_HOLDER(token);
	int take = h == CS_NO_HOLDER;
	if (!take && h < CS_MEMBERS_MAX && m->cfg.priority == PRIORITY_HIGH &&
	    ring_class_of(&m->g->map->members[h]) < PRIORITY_HIGH &&
	    !ring_high_over_budget(r, &m->cfg, now, 0))
		take = 2;
	if (!take)
		return NO_TOKEN;
	uint64_t mine = TOKEN_MAKE(TOKEN_GEN(token) + 1, m->slot);
	atomic_store(&r->grant_ns, now);
	atomic_store(&r->lender, 0);
	if (!atomic_compare_exchange_strong(&r->token, &token, mine))
		return NO_TOKEN;
	if (take == 2) /* tell the preempted holder's agent at once */
		ring_futex_bump(&m->g->map->members[h].agent_seq);
	return mine;
}

/* Under yield_lock: opens the gate if the token is ours. Returns nonzero
 * when the gate is open. */
static int claim(struct ring_member *m, uint64_t waited_from)
{
	pthread_mutex_lock(&m->yield_lock);
	uint64_t t = atomic_load(&m->ring->token);
	int open = 0;
	if (TOKEN_HOLDER(t) == m->slot) {
		if (t != atomic_load(&m->my_token))
			open_gate(m, t, waited_from);
		open = atomic_load(&m->open);
	}
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
			if (claim(m, start))
				return;
		} else {
			uint64_t mine = try_take(m, t, ring_now_ns());
			if (mine != NO_TOKEN) {
				if (claim(m, start))
					return;
				continue;
			}
			if (h < CS_MEMBERS_MAX && h != poked) {
				ring_futex_bump(&m->g->map->members[h].agent_seq);
				poked = h;
			}
		}
		if (atomic_load(&m->stop))
			return;
		if (atomic_load(&me->ring_state) == RING_IDLE) {
			/* We did not answer a grant in time (stopped, traced,
			 * frozen) and were taken off the list: rejoin. */
			atomic_store(&m->lag_ns, 0);
			catch_up_vtime(m);
			atomic_store(&me->wait_since_ns, ring_now_ns());
			atomic_store(&me->ring_state, RING_WAITING);
		}
		if (atomic_load(&r->token) != t)
			continue;
		ring_futex_wait(&me->grant_seq, seen, check_interval(m));
		if (atomic_load(&r->token) == t && h != m->slot)
			check_holder(m, t, start);
		/* Still waiting: say so again if an overwrite of the file (see
		 * mapguard.h) erased it, or no holder would hand us the token. */
		if (atomic_load_explicit(&me->ring_state, memory_order_relaxed) != RING_WAITING &&
		    TOKEN_HOLDER(atomic_load(&r->token)) != m->slot)
			atomic_store(&me->ring_state, RING_WAITING);
	}
}

int ring_enter_slow(struct ring_member *m)
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
			return RING_OPEN;
		}
		/* The fast path's check, for either open state. */
		atomic_fetch_add(&m->inflight, 1);
		int mode = atomic_load(&m->open);
		if (mode != RING_CLOSED && ring_holding(m))
			return mode;
		atomic_fetch_sub(&m->inflight, 1);
	}
}
