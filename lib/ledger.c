/* ledger.c - memory accounting in the per-GPU file; see ledger.h.
 *
 * DESIGN
 * What is stored. Each member slot of the per-GPU file (layout.h) has a
 * ledger section: `charged` (bytes this member has reserved or holds now),
 * `peak`, `refusals` and `allocations`. Only `charged` takes part in the
 * protocol; the others are statistics written by the owner alone. A group's
 * usage is never stored anywhere: it is the sum of `charged` over the ACTIVE
 * slots of the same group (member_same_group), computed by whoever needs
 * it. A group's cap is the smallest non-zero declared_cap among those slots
 * (0 everywhere: no cap). declared_cap is identity, written by the owner
 * before it publishes state = ACTIVE, and read after an acquire of state.
 *
 * Who writes `charged`. The owner, with atomic read-modify-writes, and a
 * reaper, which stores 0 into the slot of a member whose kernel lock it
 * holds (the owner is dead and can add nothing more; member.c). Every access
 * to `charged` is seq_cst, so all of them fall into one total order S.
 *
 * Reserve (a member of a group). To take n bytes, the owner
 *   1. adds n to its own `charged` (fetch_add), FIRST;
 *   2. loads `charged` of every slot of its group and sums them;
 *   3. if the sum is within the cap, the reservation holds; else it
 *      subtracts n again and, if the group without n had room (a concurrent
 *      reservation that will itself back out), retries a bounded number of
 *      times; if it had none, it reaps dead members once and retries; then it
 *      refuses (refusals++).
 * An allocation is made only after its reservation holds; the charge is
 * given back after the allocation is freed, or at once if the driver failed.
 *
 * Why a group can never exceed its cap, not even briefly. Take any set R of
 * reservations that hold at the same moment t, and let r be the one whose
 * add (step 1) comes last in S. Every other reservation q in R added before
 * r did, and q's subtraction, if any, comes after t, so after r's check.
 * r's loads (step 2) come after r's add in program order, so after every
 * add of R in S, and before every subtraction of R. A seq_cst load returns
 * the latest write before it in S, and every word is the sum of its owner's
 * outstanding adds (nothing else is ever added; a reaper's zero only clears
 * a dead member, which has no reservation in flight), so r's sum is at least
 * the total of R. r held, so that sum was within the cap; hence so is R's
 * total. The last reader of any race sees every add: two racers may both
 * back out (neither holds; the retry sorts that out), but never both hold
 * past the cap. The driver's bytes are always covered by holding
 * reservations, so they stay under the cap too.
 *
 * A member alone (no group) is the only writer of its word while it lives,
 * so its reservation is a compare-and-swap that never overshoots and never
 * needs a retry.
 *
 * Crash safety. A member's charges are one word. If it dies, SIGKILL
 * included, the word keeps counting against its group (the driver may not
 * have freed its memory yet) until a reaper takes the dead member's kernel
 * lock and stores 0 (ledger_forget, called through member_reap). A reserve
 * that would fail reaps before refusing, and the ring's agent reaps
 * periodically, so a dead member's bytes are back within a second of
 * anybody needing them. Nothing else is shared: there is no lock to be left
 * held and no total to be left inconsistent.
 *
 * Bounds. Slots passed in are checked against CS_MEMBERS_MAX; sums saturate
 * at UINT64_MAX (a corrupt word makes its group full, never empty); single
 * charges above LEDGER_BYTES_MAX are refused so sums cannot overflow.
 *
 * The local ledger applies the same rules to one process without a file.
 * The charge map is process-local (uthash under a mutex): which allocation
 * was charged what, so that a free returns exactly that.
 */
#include "ledger.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "member.h"
#include "size.h"

/* ---- shared ledger ---- */

struct group_view {
	uint64_t used;
	uint64_t cap;       /* smallest non-zero declared cap, 0 = none */
	uint64_t largest;   /* largest declared cap, UINT64_MAX when one is none */
	int disagree;       /* the members' declarations differ */
};

static void view_cap(struct group_view *v, uint64_t declared)
{
	uint64_t rank = declared == 0 ? UINT64_MAX : declared;
	if (declared != 0 && (v->cap == 0 || declared < v->cap))
		v->cap = declared;
	if (rank > v->largest)
		v->largest = rank;
}

static void warn_disagreement(const struct cs_member *self, const struct group_view *v)
{
	static _Atomic int said;
	if (atomic_load_explicit(&said, memory_order_relaxed) || atomic_exchange(&said, 1))
		return;
	char lo[32], hi[32] = "none";
	size_format(v->cap, lo, sizeof(lo));
	if (v->largest != UINT64_MAX)
		size_format(v->largest, hi, sizeof(hi));
	log_warn("members of group '%.63s' declare different memory caps (from %s to %s); "
		 "the smallest, %s, applies to the whole group", self->group, lo, hi, lo);
}

/* Sums the group of self over the file's ACTIVE slots. self may be a slot
 * of f or a probe outside it (then it adds its cap, not its charge). */
static void scan_group(const struct cs_file *f, const struct cs_member *self,
		       struct group_view *v)
{
	memset(v, 0, sizeof(*v));
	uint64_t first = self->declared_cap;
	view_cap(v, first);
	for (unsigned i = 0; i < CS_MEMBERS_MAX; i++) {
		const struct cs_member *m = &f->members[i];
		if (m != self &&
		    atomic_load_explicit(&m->state, memory_order_acquire) != MEMBER_ACTIVE)
			continue;
		if (!member_same_group(self, m))
			continue;
		v->used = size_add_sat(v->used, atomic_load(&m->charged));
		uint64_t declared = m->declared_cap;
		if (declared != first) {
			v->disagree = 1;
			view_cap(v, declared);
		}
	}
	if (v->disagree)
		warn_disagreement(self, v);
}

static void peak_raise(_Atomic uint64_t *peak, uint64_t now)
{
	uint64_t p = atomic_load_explicit(peak, memory_order_relaxed);
	while (now > p &&
	       !atomic_compare_exchange_weak_explicit(peak, &p, now, memory_order_relaxed,
						      memory_order_relaxed))
		;
}

static void count(_Atomic uint64_t *counter)
{
	atomic_fetch_add_explicit(counter, 1, memory_order_relaxed);
}

static void charge_sub(_Atomic uint64_t *charged, uint64_t bytes)
{
	uint64_t cur = atomic_load(charged);
	while (!atomic_compare_exchange_weak(charged, &cur, cur > bytes ? cur - bytes : 0))
		;
}

/* The counters of one accounting word: a member slot's, or a local
 * ledger's. */
struct words {
	_Atomic uint64_t *charged, *peak, *refusals, *allocations;
};

#define WORDS_OF(x) ((struct words){ &(x)->charged, &(x)->peak, &(x)->refusals, \
				     &(x)->allocations })

/* A reservation against a word only its owner adds to (a member alone, or
 * a local ledger): compare-and-swap is exact, never overshoots and never
 * needs a retry. cap 0 = no cap. Sets *used (may be NULL) to the charge
 * after it, or the charge seen when refused. */
static int reserve_exact(struct words w, uint64_t cap, uint64_t bytes, uint64_t *used)
{
	uint64_t cur = atomic_load(w.charged);
	do {
		if (bytes > LEDGER_BYTES_MAX || (cap != 0 && (bytes > cap || cur > cap - bytes))) {
			count(w.refusals);
			if (used != NULL)
				*used = cur;
			return -ENOMEM;
		}
	} while (!atomic_compare_exchange_weak(w.charged, &cur, cur + bytes));
	peak_raise(w.peak, cur + bytes);
	count(w.allocations);
	if (used != NULL)
		*used = cur + bytes;
	return 0;
}

/* After backing out: 1 when the group had room for bytes without us (a
 * racer held some of it, or something was freed), so a retry may succeed. */
static int room_without_us(const struct cs_file *f, const struct cs_member *m, uint64_t bytes,
			   uint64_t *used)
{
	struct group_view v;
	scan_group(f, m, &v);
	*used = v.used;
	return v.cap == 0 || (bytes <= v.cap && v.used <= v.cap - bytes);
}

static int reserve_group(struct cs_file *f, struct cs_member *m, uint64_t bytes,
			 ledger_reaper *reap, void *arg, uint64_t *group_used)
{
	int reaped = 0;
	uint64_t used = 0;
	for (unsigned tries = 0;;) {
		uint64_t before = atomic_fetch_add(&m->charged, bytes);
		struct group_view v;
		scan_group(f, m, &v);
		if (v.cap == 0 || v.used <= v.cap) {
			peak_raise(&m->peak, before + bytes);
			count(&m->allocations);
			used = v.used;
			goto done;
		}
		charge_sub(&m->charged, bytes);
		if (v.cap != 0 && bytes > v.cap)
			break; /* can never fit */
		if (room_without_us(f, m, bytes, &used)) {
			if (++tries >= LEDGER_RETRIES)
				break;
			sched_yield();
			continue;
		}
		if (reaped || reap == NULL)
			break;
		reaped = 1;
		if (reap(arg) <= 0)
			break;
	}
	count(&m->refusals);
	if (group_used != NULL)
		*group_used = used;
	return -ENOMEM;
done:
	if (group_used != NULL)
		*group_used = used;
	return 0;
}

int ledger_reserve(struct cs_file *f, unsigned slot, uint64_t bytes, ledger_reaper *reap,
		   void *arg, uint64_t *group_used)
{
	if (f == NULL || slot >= CS_MEMBERS_MAX)
		return -EINVAL;
	struct cs_member *m = &f->members[slot];
	if (bytes > LEDGER_BYTES_MAX) {
		count(&m->refusals);
		if (group_used != NULL)
			*group_used = atomic_load(&m->charged);
		return -ENOMEM;
	}
	if (m->group_hash == 0)
		return reserve_exact(WORDS_OF(m), m->declared_cap, bytes, group_used);
	return reserve_group(f, m, bytes, reap, arg, group_used);
}

void ledger_unreserve(struct cs_file *f, unsigned slot, uint64_t bytes)
{
	if (f == NULL || slot >= CS_MEMBERS_MAX)
		return;
	charge_sub(&f->members[slot].charged, bytes);
}

int ledger_charge(struct cs_file *f, unsigned slot, uint64_t bytes)
{
	if (f == NULL || slot >= CS_MEMBERS_MAX)
		return -EINVAL;
	struct cs_member *m = &f->members[slot];
	if (bytes > LEDGER_BYTES_MAX)
		bytes = LEDGER_BYTES_MAX;
	uint64_t before = atomic_fetch_add(&m->charged, bytes);
	peak_raise(&m->peak, before + bytes);
	struct group_view v;
	scan_group(f, m, &v);
	return v.cap != 0 && v.used > v.cap ? -ENOMEM : 0;
}

int ledger_group_usage(const struct cs_file *f, unsigned slot, uint64_t *used, uint64_t *cap)
{
	if (f == NULL || slot >= CS_MEMBERS_MAX)
		return -EINVAL;
	struct group_view v;
	scan_group(f, &f->members[slot], &v);
	*used = v.used;
	*cap = v.cap;
	return 0;
}

/* The member of self's group, other than self, holding the most. Returns
 * its slot, or -1 when no other member holds anything. */
static int top_holder(const struct cs_file *f, const struct cs_member *self, uint64_t *bytes)
{
	int top = -1;
	*bytes = 0;
	for (unsigned i = 0; i < CS_MEMBERS_MAX; i++) {
		const struct cs_member *m = &f->members[i];
		if (m == self || atomic_load_explicit(&m->state, memory_order_acquire) != MEMBER_ACTIVE ||
		    !member_same_group(self, m))
			continue;
		uint64_t c = atomic_load(&m->charged);
		if (c > *bytes) {
			*bytes = c;
			top = (int)i;
		}
	}
	return top;
}

int ledger_explain(const struct cs_file *f, unsigned slot, uint64_t want, char *out, size_t len)
{
	if (f == NULL || slot >= CS_MEMBERS_MAX || len == 0)
		return -EINVAL;
	const struct cs_member *self = &f->members[slot];
	struct group_view v;
	scan_group(f, self, &v);
	char w[32], used[32], cap[32], mine[32], top[32];
	size_format(want, w, sizeof(w));
	size_format(v.used, used, sizeof(used));
	size_format(v.cap, cap, sizeof(cap));
	size_format(atomic_load(&self->charged), mine, sizeof(mine));
	int n;
	if (self->group_hash == 0)
		n = snprintf(out, len, "%s does not fit: this process (slot %u, no group) holds "
			     "%s of its %s cap", w, slot, used, cap);
	else
		n = snprintf(out, len, "%s does not fit: group '%.63s' holds %s of its %s cap "
			     "(slot %u, this process: %s)", w, self->group, used, cap, slot, mine);
	uint64_t bytes;
	int t = top_holder(f, self, &bytes);
	if (t >= 0 && n >= 0 && (size_t)n < len) {
		const struct cs_member *m = &f->members[t];
		snprintf(out + n, len - (size_t)n, "; most of it, %s, by pid %u (slot %d, "
			 "group '%.63s')", size_format(bytes, top, sizeof(top)), m->pid, t, m->group);
	}
	return 0;
}

int ledger_group_usage_by_name(const struct cs_file *f, const char *group,
			       uint64_t declared_cap, uint64_t *used, uint64_t *cap)
{
	struct cs_member probe;
	memset(&probe, 0, sizeof(probe));
	probe.declared_cap = declared_cap;
	strncpy(probe.group, group != NULL ? group : "", sizeof(probe.group) - 1);
	probe.group_hash = member_group_hash(probe.group);
	if (f == NULL || probe.group_hash == 0) {
		*used = 0;
		*cap = declared_cap;
		return 0;
	}
	struct group_view v;
	scan_group(f, &probe, &v);
	*used = v.used;
	*cap = v.cap;
	return 0;
}

void ledger_forget(struct cs_file *f, unsigned slot)
{
	if (f == NULL || slot >= CS_MEMBERS_MAX)
		return;
	atomic_store(&f->members[slot].charged, 0);
}

/* ---- local ledger ---- */

int ledger_local_reserve(struct ledger_local *l, uint64_t bytes, uint64_t *used)
{
	return reserve_exact(WORDS_OF(l), l->cap, bytes, used);
}

void ledger_local_unreserve(struct ledger_local *l, uint64_t bytes)
{
	charge_sub(&l->charged, bytes);
}

int ledger_local_charge(struct ledger_local *l, uint64_t bytes)
{
	if (bytes > LEDGER_BYTES_MAX)
		bytes = LEDGER_BYTES_MAX;
	uint64_t now = atomic_fetch_add(&l->charged, bytes) + bytes;
	peak_raise(&l->peak, now);
	return l->cap != 0 && now > l->cap ? -ENOMEM : 0;
}

void ledger_local_usage(const struct ledger_local *l, uint64_t *used, uint64_t *cap)
{
	*used = atomic_load(&l->charged);
	*cap = l->cap;
}

/* ---- charge map ---- */

#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(obj) ((obj)->oom = 1)
#include <uthash.h>

struct charge_key {
	uint64_t key;
	uint32_t kind;
	uint32_t zero;  /* padding, always 0: the whole struct is hashed */
};

struct charge_entry {
	struct charge_key k;
	uint64_t bytes;
	uint64_t owner; /* what frees it when it ends (a context), 0 = nothing */
	int dev;
	int oom;
	UT_hash_handle hh;
};

static struct charge_key make_key(enum charge_kind kind, uint64_t key)
{
	struct charge_key k;
	memset(&k, 0, sizeof(k));
	k.key = key;
	k.kind = (uint32_t)kind;
	return k;
}

int ledger_map_put(struct ledger_map *m, enum charge_kind kind, uint64_t key, uint64_t bytes,
		   int dev, uint64_t *old_bytes, int *old_dev)
{
	return ledger_map_put_owned(m, kind, key, bytes, dev, 0, old_bytes, old_dev);
}

int ledger_map_put_owned(struct ledger_map *m, enum charge_kind kind, uint64_t key,
			 uint64_t bytes, int dev, uint64_t owner, uint64_t *old_bytes, int *old_dev)
{
	struct charge_entry *e = calloc(1, sizeof(*e));
	*old_bytes = 0;
	if (e == NULL)
		return -ENOMEM;
	e->k = make_key(kind, key);
	e->bytes = bytes;
	e->owner = owner;
	e->dev = dev;
	struct charge_entry *old = NULL;
	pthread_mutex_lock(&m->lock);
	HASH_FIND(hh, m->head, &e->k, sizeof(e->k), old);
	if (old != NULL) {
		HASH_DEL(m->head, old);
		m->entries--;
	}
	HASH_ADD(hh, m->head, k, sizeof(e->k), e);
	int failed = e->oom;
	if (!failed)
		m->entries++;
	pthread_mutex_unlock(&m->lock);
	if (old != NULL) {
		*old_bytes = old->bytes;
		*old_dev = old->dev;
		free(old);
	}
	if (failed) {
		free(e);
		return -ENOMEM;
	}
	return 0;
}

int ledger_map_take(struct ledger_map *m, enum charge_kind kind, uint64_t key,
		    uint64_t *bytes, int *dev)
{
	struct charge_key k = make_key(kind, key);
	struct charge_entry *e = NULL;
	pthread_mutex_lock(&m->lock);
	HASH_FIND(hh, m->head, &k, sizeof(k), e);
	if (e != NULL) {
		HASH_DEL(m->head, e);
		m->entries--;
	}
	pthread_mutex_unlock(&m->lock);
	if (e == NULL)
		return -ENOENT;
	*bytes = e->bytes;
	*dev = e->dev;
	free(e);
	return 0;
}

uint64_t ledger_map_take_owner(struct ledger_map *m, uint64_t owner, uint64_t *bytes_by_dev,
			       unsigned ndev)
{
	uint64_t n = 0;
	struct charge_entry *e, *tmp;
	if (owner == 0)
		return 0;
	pthread_mutex_lock(&m->lock);
	HASH_ITER(hh, m->head, e, tmp) {
		if (e->owner != owner)
			continue;
		HASH_DEL(m->head, e);
		m->entries--;
		if (e->dev >= 0 && (unsigned)e->dev < ndev)
			bytes_by_dev[e->dev] = size_add_sat(bytes_by_dev[e->dev], e->bytes);
		free(e);
		n++;
	}
	pthread_mutex_unlock(&m->lock);
	return n;
}

uint64_t ledger_map_count(struct ledger_map *m)
{
	pthread_mutex_lock(&m->lock);
	uint64_t n = m->entries;
	pthread_mutex_unlock(&m->lock);
	return n;
}

void ledger_map_abandon(struct ledger_map *m)
{
	pthread_mutex_init(&m->lock, NULL);
	m->head = NULL;
	m->entries = 0;
}

void ledger_map_clear(struct ledger_map *m)
{
	pthread_mutex_lock(&m->lock);
	struct charge_entry *e, *tmp;
	HASH_ITER(hh, m->head, e, tmp) {
		HASH_DEL(m->head, e);
		free(e);
	}
	m->entries = 0;
	pthread_mutex_unlock(&m->lock);
}
