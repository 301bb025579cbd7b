/* alloc.c - the memory policy; see alloc.h. */
#include "alloc.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "gpu_state.h"
#include "gpufile.h"
#include "log.h"
#include "size.h"

/* Which allocation was charged how much, for the whole process. */
static struct ledger_map charges = LEDGER_MAP_INIT;

/* ---- the ledger of one GPU ---- */

static int reap(void *arg)
{
	return gpu_reap(arg);
}

static int account_reserve(struct gpu *g, uint64_t bytes)
{
	if (g->cap_unusable)
		return -ENOMEM;
	if (gpu_shared(g))
		return ledger_reserve(g->file.map, g->slot, bytes, reap, g, NULL);
	return ledger_local_reserve(&g->local, bytes, NULL);
}

static void account_unreserve(struct gpu *g, uint64_t bytes)
{
	if (gpu_shared(g))
		ledger_unreserve(g->file.map, g->slot, bytes);
	else
		ledger_local_unreserve(&g->local, bytes);
}

static void view_of(struct gpu *g, struct mem_view *v)
{
	v->capped = 1;
	v->cap = v->used = 0;
	if (g->cap_unusable)
		return; /* fail closed: nothing may be allocated */
	if (!gpu_shared(g) || ledger_group_usage(g->file.map, g->slot, &v->used, &v->cap) != 0)
		ledger_local_usage(&g->local, &v->used, &v->cap);
	v->capped = v->cap != 0;
}

/* Why the context reserve of g does not fit, named for the log. */
static void explain_reserve(struct gpu *g)
{
	char why[300] = "";
	char a[32];
	if (!gpu_shared(g) || ledger_explain(g->file.map, g->slot, g->ctx_reserve, why,
					     sizeof(why)) != 0) {
		uint64_t used, cap;
		ledger_local_usage(&g->local, &used, &cap);
		char u[32], c[32];
		snprintf(why, sizeof(why), "this process holds %s of its %s cap",
			 size_format(used, u, sizeof(u)), size_format(cap, c, sizeof(c)));
	}
	log_error("CUSLICE_CTX_RESERVE=%s on %s: %s; this process's allocations there are "
		  "refused until it fits (the group's others are not blocked)",
		  size_format(g->ctx_reserve, a, sizeof(a)), g->uuid, why);
}

/* The context reserve: the driver's own memory for this process's context.
 * It is reserved like an allocation, within the cap: when it does not fit,
 * it is not charged (one member's reserve must not fill its whole group)
 * and this process is refused instead, until it fits. Lock: gpu_lock.
 * Returns 0 when it is charged. */
static int take_reserve(struct gpu *g)
{
	if (account_reserve(g, g->ctx_reserve) == 0) {
		atomic_store_explicit(&g->reserve_pending, 0, memory_order_release);
		return 0;
	}
	if (!atomic_exchange(&g->reserve_pending, 1))
		explain_reserve(g); /* once: later retries stay quiet */
	return -ENOMEM;
}

static void charge_reserve(struct gpu *g)
{
	if (g->ctx_reserve == 0 || g->cap_unusable)
		return;
	take_reserve(g);
}

/* Before an allocation: a reserve that did not fit is tried again. */
static int reserve_settled(struct gpu *g)
{
	if (__builtin_expect(!atomic_load_explicit(&g->reserve_pending, memory_order_acquire), 1))
		return 0;
	gpu_lock();
	int err = atomic_load(&g->reserve_pending) ? take_reserve(g) : 0;
	gpu_unlock();
	return err;
}

/* The first memory call on a GPU sets up its local ledger and charges the
 * context reserve, once, before any allocation there is reserved. */
static struct gpu *prepare(struct gpu *g)
{
	if (g == NULL || atomic_load_explicit(&g->prepared, memory_order_acquire))
		return g;
	gpu_lock();
	if (!atomic_load_explicit(&g->prepared, memory_order_relaxed)) {
		g->local.cap = g->cap;
		charge_reserve(g);
		atomic_store_explicit(&g->prepared, 1, memory_order_release);
	}
	gpu_unlock();
	return g;
}

/* ---- the protocol ---- */

static int ask(struct alloc_ticket *t, struct gpu *g, uint64_t bytes)
{
	t->gpu = prepare(g);
	t->bytes = bytes;
	if (t->gpu == NULL || (reserve_settled(t->gpu) == 0 && account_reserve(t->gpu, bytes) == 0))
		return 0;
	log_debug("refused %llu bytes on %s: over the memory cap", (unsigned long long)bytes,
		  t->gpu->uuid);
	t->gpu = NULL;
	return -ENOMEM;
}

int alloc_ask(struct alloc_ticket *t, int ordinal, uint64_t bytes)
{
	return ask(t, ordinal >= 0 ? gpu_join(ordinal) : NULL, bytes);
}

int alloc_ask_managed(struct alloc_ticket *t, int ordinal, uint64_t bytes)
{
	return alloc_ask(t, gpu_config()->count_managed ? ordinal : -1, bytes);
}

int alloc_resize(struct alloc_ticket *t, uint64_t actual)
{
	if (t->gpu == NULL || actual == t->bytes)
		return 0;
	if (actual < t->bytes)
		account_unreserve(t->gpu, t->bytes - actual);
	else if (account_reserve(t->gpu, actual - t->bytes) != 0)
		return -ENOMEM;
	t->bytes = actual;
	return 0;
}

static void give_back(int ordinal, uint64_t bytes)
{
	struct gpu *g = gpu_peek(ordinal);
	if (g != NULL)
		account_unreserve(g, bytes);
}

static void settle(struct alloc_ticket *t, int ok, enum charge_kind kind, uint64_t key,
		   uint64_t owner)
{
	if (t->gpu == NULL)
		return;
	if (!ok) {
		account_unreserve(t->gpu, t->bytes);
		return;
	}
	uint64_t old_bytes = 0;
	int old_dev = -1;
	if (ledger_map_put_owned(&charges, kind, key, t->bytes, t->gpu->ordinal, owner,
				 &old_bytes, &old_dev) != 0)
		log_error("no memory to record an allocation: its %llu bytes stay charged",
			  (unsigned long long)t->bytes);
	if (old_bytes != 0)
		give_back(old_dev, old_bytes); /* freed behind our back, reused */
}

void alloc_settle(struct alloc_ticket *t, int ok, enum charge_kind kind, uint64_t key)
{
	settle(t, ok, kind, key, 0);
}

void alloc_settle_in_context(struct alloc_ticket *t, int ok, enum charge_kind kind, uint64_t key)
{
	uint64_t owner = 0;
	if (t->gpu != NULL && ok)
		owner = (uint64_t)(uintptr_t)gpu_driver()->context();
	settle(t, ok, kind, key, owner);
}

void alloc_context_ended(void *ctx)
{
	uint64_t by_gpu[GPU_MAX] = { 0 };
	if (ledger_map_take_owner(&charges, (uint64_t)(uintptr_t)ctx, by_gpu, GPU_MAX) == 0)
		return;
	for (int i = 0; i < GPU_MAX; i++) {
		if (by_gpu[i] != 0)
			give_back(i, by_gpu[i]);
	}
}

/* ---- graph memory ---- */

/* Set once the process may hold graph memory: until then no launch asks
 * the driver about it. */
static _Atomic int graph_seen;

void alloc_graph_seen(void)
{
	atomic_store_explicit(&graph_seen, 1, memory_order_release);
}

int alloc_graph_active(void)
{
	return atomic_load_explicit(&graph_seen, memory_order_acquire);
}

int alloc_async_ordinal(void *stream, int current)
{
	const struct gpu_driver *drv = gpu_driver();
	if (drv->capturing == NULL || !drv->capturing(stream))
		return current;
	alloc_graph_seen(); /* a node of the graph: allocated at each launch */
	return -1;
}

/* Charges or gives back the difference between what the driver's graph
 * allocator holds on g now and what was charged for it. The memory exists
 * already: it is charged whether or not it fits (then the group is over its
 * cap and its allocations are refused until it shrinks: warned once). */
static void graph_settle(struct gpu *g, uint64_t now)
{
	uint64_t before = atomic_exchange(&g->graph_charged, now);
	if (now < before) {
		account_unreserve(g, before - now);
		return;
	}
	if (now == before || g->cap_unusable)
		return;
	int err = gpu_shared(g) ? ledger_charge(g->file.map, g->slot, now - before)
				: ledger_local_charge(&g->local, now - before);
	static _Atomic int warned;
	if (err == -ENOMEM && !atomic_exchange(&warned, 1)) {
		char a[32];
		log_warn("graph memory on %s (%s held by the driver's graph allocator) is over the "
			 "memory cap: allocations there are refused until it is freed or trimmed",
			 g->uuid, size_format(now, a, sizeof(a)));
	}
}

void alloc_graph_sync(int ordinal)
{
	const struct gpu_driver *drv = gpu_driver();
	uint64_t bytes;
	if (!alloc_graph_active() || ordinal < 0 ||
	    drv->graph_mem == NULL || drv->graph_mem(ordinal, &bytes) != 0)
		return;
	struct gpu *g = prepare(gpu_join(ordinal));
	if (g != NULL)
		graph_settle(g, bytes);
}

void alloc_graph_sync_all(void)
{
	for (int i = 0; i < GPU_MAX; i++) {
		if (gpu_peek(i) != NULL)
			alloc_graph_sync(i);
	}
}

void alloc_take(struct alloc_hold *h, enum charge_kind kind, uint64_t key)
{
	h->kind = kind;
	h->key = key;
	h->found = ledger_map_take(&charges, kind, key, &h->bytes, &h->ordinal) == 0;
}

void alloc_return(struct alloc_hold *h, int freed)
{
	if (!h->found)
		return;
	if (freed) {
		give_back(h->ordinal, h->bytes);
		return;
	}
	uint64_t old_bytes = 0;
	int old_dev = -1;
	ledger_map_put(&charges, h->kind, h->key, h->bytes, h->ordinal, &old_bytes, &old_dev);
}

/* ---- queries ---- */

int alloc_caps_configured(void)
{
	const struct cs_config *cfg = gpu_config();
	return cfg->mem.set || cfg->group[0] != '\0';
}

/* The view of a GPU this process has not joined: its own cap, lowered by
 * its group's members in the GPU's file if there is one. */
static void view_unjoined(const char *uuid, int ordinal, uint64_t card_total,
			  struct mem_view *v)
{
	const struct cs_config *cfg = gpu_config();
	uint64_t cap = 0;
	v->capped = 1;
	v->cap = v->used = 0;
	if (memspec_cap_card(&cfg->mem, ordinal, uuid, card_total, &cap) != 0)
		return; /* fail closed */
	if (card_total != 0 && cap > card_total)
		cap = card_total;
	v->cap = cap;
	struct gpufile f;
	char path[sizeof(f.path)];
	if (cfg->group[0] != '\0' && gpufile_name(cfg->dir, uuid, path, sizeof(path)) == 0 &&
	    gpufile_open_readonly(&f, path, NULL, 0) == 0) {
		if (strcasecmp(f.map->header.uuid, uuid) == 0)
			ledger_group_usage_by_name(f.map, cfg->group, cap, &v->used, &v->cap);
		gpufile_close(&f);
	}
	v->capped = v->cap != 0;
}

int alloc_view(const char *uuid, int ordinal, uint64_t card_total, struct mem_view *v)
{
	struct gpu *g = gpu_by_uuid(uuid);
	if (g != NULL)
		view_of(prepare(g), v);
	else
		view_unjoined(uuid, ordinal, card_total, v);
	return v->capped;
}

void alloc_report_info(int ordinal, uint64_t *free, uint64_t *total)
{
	struct gpu *g = ordinal >= 0 ? gpu_join(ordinal) : NULL;
	struct mem_view v;
	if (g == NULL)
		return;
	view_of(prepare(g), &v);
	if (!v.capped)
		return;
	uint64_t room = v.used < v.cap ? v.cap - v.used : 0;
	*total = v.cap;
	*free = room < *free ? room : *free;
}

void alloc_report_total(int ordinal, uint64_t *total)
{
	const struct gpu_driver *drv = gpu_driver();
	char uuid[CS_UUID_MAX];
	struct mem_view v;
	if (!alloc_caps_configured() || drv->uuid == NULL ||
	    drv->uuid(ordinal, uuid, sizeof(uuid)) != 0)
		return;
	if (alloc_view(uuid, ordinal, *total, &v))
		*total = v.cap;
}

int alloc_report_usage(const char *uuid, int ordinal, uint64_t *total, uint64_t *used,
		       uint64_t *free)
{
	struct mem_view v;
	if (!alloc_view(uuid, ordinal, *total, &v))
		return 0;
	*total = v.cap;
	*used = v.used < v.cap ? v.used : v.cap;
	*free = v.cap - *used;
	return 1;
}

void alloc_after_fork(void)
{
	/* The child has its own slot (or none yet); the parent's allocations
	 * are the parent's. Another thread may have held the map's lock at the
	 * fork, so the records are dropped, not freed. The per-GPU ledgers are
	 * reset with the GPUs (gpu_after_fork). */
	ledger_map_abandon(&charges);
}
