/* snapshot.c - plain copies of per-GPU files for readers; see snapshot.h.
 *
 * Everything here reads shared memory that other processes write, and that
 * a crashed or foreign writer may have left in any state: strings are
 * copied with a bound and terminated, slot indexes are range-checked, and
 * every derived value is clamped to its meaning (a share is 0..1).
 */
#include "snapshot.h"

#include <dirent.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "config.h"
#include "member.h"

static void copy_text(char *dst, const char *src, size_t size)
{
	size_t n = strnlen(src, size - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static double clamp01(double x)
{
	return x < 0 ? 0 : x > 1 ? 1 : x;
}

int snapshot_quantile_us(const uint64_t hist[CS_WAIT_BUCKETS], double q, uint64_t *upper_us)
{
	uint64_t total = 0;
	for (unsigned b = 0; b < CS_WAIT_BUCKETS; b++)
		total += hist[b];
	if (total == 0)
		return -ENODATA;
	/* The rank of the quantile: the smallest count reaching q of all. */
	double want = q * (double)total;
	uint64_t seen = 0;
	for (unsigned b = 0; b < CS_WAIT_BUCKETS - 1; b++) {
		seen += hist[b];
		if ((double)seen >= want && seen > 0) {
			*upper_us = UINT64_C(1) << b;
			return 0;
		}
	}
	*upper_us = UINT64_MAX; /* the last bucket counts every longer wait */
	return 0;
}

int snapshot_window_share(const uint64_t t_ns[CS_HIST], const uint64_t held_ns[CS_HIST],
			  unsigned pos, uint64_t now_ns, uint64_t window_ns, double *share,
			  uint64_t *span_ns)
{
	unsigned newest = (pos % CS_HIST + CS_HIST - 1) % CS_HIST;
	uint64_t t1 = t_ns[newest];
	if (t1 == 0)
		return -ENODATA;
	int best = -1;
	uint64_t best_miss = UINT64_MAX;
	for (unsigned i = 0; i < CS_HIST; i++) {
		if (i == newest || t_ns[i] == 0 || t_ns[i] >= t1)
			continue;
		uint64_t dist = t1 - t_ns[i];
		uint64_t miss = dist > window_ns ? dist - window_ns : window_ns - dist;
		if (miss < best_miss) {
			best_miss = miss;
			best = (int)i;
		}
	}
	if (best < 0)
		return -ENODATA;
	uint64_t dt = t1 - t_ns[best];
	if (now_ns > t1 && now_ns - t1 > window_ns) {
		*share = 0; /* nothing recorded within the window */
		*span_ns = dt;
		return 0;
	}
	uint64_t dh = held_ns[newest] > held_ns[best] ? held_ns[newest] - held_ns[best] : 0;
	*share = clamp01((double)dh / (double)dt);
	*span_ns = dt;
	return 0;
}

double snapshot_rate(uint64_t before, uint64_t after, uint64_t dt_ns)
{
	if (dt_ns == 0 || after < before)
		return 0;
	return (double)(after - before) * 1e9 / (double)dt_ns;
}

const char *snapshot_state_name(enum snap_state st)
{
	switch (st) {
	case SNAP_IDLE:
		return "idle";
	case SNAP_WAITING:
		return "waiting";
	case SNAP_HOLDING:
		return "holding";
	case SNAP_DEAD:
		return "dead";
	}
	return "idle";
}

const char *snapshot_priority_name(uint32_t priority)
{
	static const char *const names[] = { [PRIORITY_LOW] = "low",
					     [PRIORITY_NORMAL] = "normal",
					     [PRIORITY_HIGH] = "high" };
	return priority <= PRIORITY_HIGH ? names[priority] : "invalid";
}

/* Copies one slot. Returns 1 when copied, 0 when the slot is free or kept
 * changing owner. */
static int copy_member(const struct cs_member *m, unsigned slot, struct snap_member *out)
{
	for (int attempt = 0; attempt < 3; attempt++) {
		if (atomic_load_explicit(&m->state, memory_order_acquire) != MEMBER_ACTIVE)
			return 0;
		memset(out, 0, sizeof(*out));
		out->slot = slot;
		out->key = m->key;
		out->pid = m->pid;
		out->join_unix_ns = m->join_unix_ns;
		out->weight = m->weight;
		out->priority = m->priority;
		out->ordinal = m->ordinal;
		out->declared_cap = m->declared_cap;
		copy_text(out->group, m->group, sizeof(out->group));
		copy_text(out->note, m->note, sizeof(out->note));
		out->bad_vars = m->bad_vars;
		out->src_mem = m->src_mem;
		out->src_weight = m->src_weight;
		out->src_priority = m->src_priority;
		out->card_total = m->card_total;
		copy_text(out->pod_name, m->pod_name, sizeof(out->pod_name));
		copy_text(out->pod_namespace, m->pod_namespace, sizeof(out->pod_namespace));
		out->launches = atomic_load_explicit(&m->launches, memory_order_relaxed);
		out->held_ns = atomic_load_explicit(&m->held_ns, memory_order_relaxed);
		out->waited_ns = atomic_load_explicit(&m->waited_ns, memory_order_relaxed);
		out->grants = atomic_load_explicit(&m->grants, memory_order_relaxed);
		out->overruns = atomic_load_explicit(&m->overruns, memory_order_relaxed);
		for (unsigned b = 0; b < CS_WAIT_BUCKETS; b++)
			out->wait_hist[b] = atomic_load_explicit(&m->wait_hist[b], memory_order_relaxed);
		out->charged = atomic_load_explicit(&m->charged, memory_order_relaxed);
		out->peak = atomic_load_explicit(&m->peak, memory_order_relaxed);
		out->refusals = atomic_load_explicit(&m->refusals, memory_order_relaxed);
		out->allocations = atomic_load_explicit(&m->allocations, memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		/* A slot reused by a new owner keeps state ACTIVE but gets a
		 * new random key: re-read both. */
		if (atomic_load_explicit(&m->state, memory_order_acquire) == MEMBER_ACTIVE &&
		    m->key == out->key)
			return 1;
	}
	return 0;
}

/* Shares of one member, from its history ring. */
static void member_shares(const struct cs_member *m, struct snap_member *s, uint64_t now_mono,
			  uint64_t now_unix)
{
	uint64_t t[CS_HIST], held[CS_HIST];
	unsigned pos = atomic_load_explicit(&m->hist_pos, memory_order_relaxed) % CS_HIST;
	for (unsigned i = 0; i < CS_HIST; i++) {
		t[i] = atomic_load_explicit(&m->hist_t_ns[i], memory_order_relaxed);
		held[i] = atomic_load_explicit(&m->hist_held_ns[i], memory_order_relaxed);
	}
	uint64_t latest = held[(pos + CS_HIST - 1) % CS_HIST];
	s->held_total_ns = latest > s->held_ns ? latest : s->held_ns;
	uint64_t alive_ns = now_unix > s->join_unix_ns ? now_unix - s->join_unix_ns : 0;
	s->share_life = alive_ns ? clamp01((double)s->held_total_ns / (double)alive_ns) : 0;
	if (snapshot_window_share(t, held, pos, now_mono, SNAP_WINDOW_NS, &s->share_window,
				  &s->share_window_span_ns) != 0) {
		s->share_window = s->share_life;
		s->share_window_span_ns = 0;
	}
}

static void member_derive(const struct cs_member *m, struct snap_member *s, uint64_t now_mono,
			  uint64_t now_unix)
{
	member_shares(m, s, now_mono, now_unix);
	for (unsigned b = 0; b < CS_WAIT_BUCKETS; b++)
		s->waits += s->wait_hist[b];
	s->has_waits = snapshot_quantile_us(s->wait_hist, 0.50, &s->wait_p50_us) == 0 &&
		       snapshot_quantile_us(s->wait_hist, 0.99, &s->wait_p99_us) == 0;
	s->group_index = -1;
	s->group_used = s->alive ? s->charged : 0;
	s->group_cap = s->declared_cap;
}

static int find_group(const struct snap_gpu *s, const char *name)
{
	for (unsigned i = 0; i < s->ngroups; i++) {
		if (strcmp(s->groups[i].name, name) == 0)
			return (int)i;
	}
	return -1;
}

static int cmp_group(const void *a, const void *b)
{
	return strcmp(((const struct snap_group *)a)->name, ((const struct snap_group *)b)->name);
}

/* Named groups of the live members: usage and cap, then each member's. */
static void derive_groups(struct snap_gpu *s)
{
	for (unsigned i = 0; i < s->nmembers; i++) {
		const struct snap_member *m = &s->members[i];
		if (!m->alive || m->group[0] == '\0' || find_group(s, m->group) >= 0)
			continue;
		copy_text(s->groups[s->ngroups++].name, m->group, CS_NAME_MAX);
	}
	qsort(s->groups, s->ngroups, sizeof(s->groups[0]), cmp_group);
	for (unsigned i = 0; i < s->nmembers; i++) {
		const struct snap_member *m = &s->members[i];
		int gi = m->alive && m->group[0] ? find_group(s, m->group) : -1;
		if (gi < 0)
			continue;
		struct snap_group *g = &s->groups[gi];
		g->members++;
		g->used += m->charged;
		if (m->declared_cap != 0 && (g->cap == 0 || m->declared_cap < g->cap))
			g->cap = m->declared_cap;
	}
	for (unsigned i = 0; i < s->nmembers; i++) {
		struct snap_member *m = &s->members[i];
		int gi = m->group[0] ? find_group(s, m->group) : -1;
		m->group_index = gi;
		if (gi >= 0) {
			m->group_used = s->groups[gi].used;
			m->group_cap = s->groups[gi].cap;
		}
	}
}

/* The card's memory (the largest any live member's driver reported) and
 * the sum of the caps in force: each named group's once, each lone
 * member's own. */
static void derive_memory(struct snap_gpu *s)
{
	for (unsigned i = 0; i < s->ngroups; i++)
		s->caps_sum += s->groups[i].cap;
	for (unsigned i = 0; i < s->nmembers; i++) {
		const struct snap_member *m = &s->members[i];
		if (!m->alive)
			continue;
		if (m->card_total > s->card_total)
			s->card_total = m->card_total;
		if (m->group_index < 0)
			s->caps_sum += m->declared_cap;
	}
}

static int cmp_int32(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
	return (x > y) - (x < y);
}

static void derive_ordinals(struct snap_gpu *s)
{
	for (unsigned i = 0; i < s->nmembers; i++) {
		const struct snap_member *m = &s->members[i];
		int known = 0;
		for (unsigned j = 0; j < s->nordinals; j++)
			known |= s->ordinals[j] == m->ordinal;
		if (m->alive && !known)
			s->ordinals[s->nordinals++] = m->ordinal;
	}
	qsort(s->ordinals, s->nordinals, sizeof(s->ordinals[0]), cmp_int32);
}

static void read_ring(const struct cs_ring *r, struct snap_gpu *s)
{
	uint64_t token = atomic_load(&r->token);
	unsigned holder = TOKEN_HOLDER(token);
	s->generation = TOKEN_GEN(token);
	s->holder = holder < CS_MEMBERS_MAX ? (int)holder : -1;
	s->holder_invalid = holder >= CS_MEMBERS_MAX && holder != CS_NO_HOLDER;
	s->grant_mono_ns = atomic_load(&r->grant_ns);
	s->slice_ms = r->slice_ms;
	s->handoffs = atomic_load(&r->handoffs);
	s->overruns = atomic_load(&r->overruns);
	s->revocations = atomic_load(&r->revocations);
	for (unsigned b = 0; b < CS_WAIT_BUCKETS; b++)
		s->handoff_hist[b] = atomic_load_explicit(&r->handoff_hist[b], memory_order_relaxed);
	uint64_t start = atomic_load(&r->high_window_start_ns);
	uint64_t used = atomic_load(&r->high_window_used_ns);
	/* The window in progress, or the one that just ended; older is 0. */
	if (start != 0 && s->taken_mono_ns >= start &&
	    s->taken_mono_ns - start < 2 * CS_HIGH_WINDOW_NS)
		s->high_share = clamp01((double)used / (double)CS_HIGH_WINDOW_NS);
}

static enum snap_state state_of(const struct cs_member *m, const struct snap_member *s,
				int holder)
{
	if (!s->alive)
		return SNAP_DEAD;
	if ((int)s->slot == holder)
		return SNAP_HOLDING;
	if (atomic_load(&m->ring_state) == RING_WAITING)
		return SNAP_WAITING;
	return SNAP_IDLE;
}

int snapshot_take_at(const struct gpufile *g, uint64_t now_mono_ns, uint64_t now_unix_ns,
		     struct snap_gpu *s)
{
	memset(s, 0, sizeof(*s));
	if (g == NULL || g->map == NULL)
		return -EINVAL;
	int err = gpufile_refresh(g, NULL, 0);
	if (err != 0)
		return err;
	const struct cs_file *f = g->map;
	copy_text(s->path, g->path, sizeof(s->path));
	copy_text(s->uuid, f->header.uuid, sizeof(s->uuid));
	s->created_unix_ns = f->header.created_unix_ns;
	s->taken_mono_ns = now_mono_ns;
	s->taken_unix_ns = now_unix_ns;
	read_ring(&f->ring, s);
	for (unsigned i = 0; i < CS_MEMBERS_MAX; i++) {
		const struct cs_member *m = &f->members[i];
		struct snap_member *sm = &s->members[s->nmembers];
		if (!copy_member(m, i, sm))
			continue;
		sm->alive = member_alive(g, i) != 0; /* an error: cannot tell, assume alive */
		sm->host_pid = sm->alive ? (uint32_t)member_local_pid(g, i) : 0;
		sm->state = state_of(m, sm, s->holder);
		member_derive(m, sm, now_mono_ns, now_unix_ns);
		s->nmembers++;
		if (sm->alive)
			s->nalive++;
		else
			s->ndead++;
	}
	derive_groups(s);
	derive_memory(s);
	derive_ordinals(s);
	return 0;
}

int snapshot_take(const struct gpufile *g, struct snap_gpu *s)
{
	return snapshot_take_at(g, clock_ns(CLOCK_MONOTONIC), clock_ns(CLOCK_REALTIME), s);
}

const struct snap_member *snapshot_member(const struct snap_gpu *s, unsigned slot)
{
	for (unsigned i = 0; i < s->nmembers; i++) {
		if (s->members[i].slot == slot)
			return &s->members[i];
	}
	return NULL;
}

/* ---- the folder ---- */

static int is_gpu_file(const char *name)
{
	size_t n = strlen(name);
	return n > 8 && strncmp(name, "gpu-", 4) == 0 && strcmp(name + n - 4, ".shm") == 0;
}

static int cmp_path(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

int snapshot_list(const char *dir, struct snap_files *out)
{
	out->n = 0;
	out->paths = NULL;
	DIR *d = opendir(dir);
	if (d == NULL)
		return -errno;
	unsigned cap = 0;
	int err = 0;
	for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
		if (!is_gpu_file(e->d_name))
			continue;
		if (out->n == cap) {
			unsigned grown = cap ? cap * 2 : 8;
			void *p = realloc(out->paths, grown * sizeof(out->paths[0]));
			if (p == NULL) {
				err = -ENOMEM;
				goto close_dir;
			}
			out->paths = p;
			cap = grown;
		}
		int w = snprintf(out->paths[out->n], SNAP_PATH_MAX, "%s/%s", dir, e->d_name);
		if (w > 0 && w < SNAP_PATH_MAX)
			out->n++; /* a name too long to open is skipped */
	}
	qsort(out->paths, out->n, sizeof(out->paths[0]), cmp_path);
close_dir:
	closedir(d);
	if (err != 0)
		snapshot_files_free(out);
	return err;
}

void snapshot_files_free(struct snap_files *f)
{
	free(f->paths);
	f->paths = NULL;
	f->n = 0;
}
