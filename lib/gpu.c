/* gpu.c - per-process device records: join, reap, leave; see gpu.h. */
#include "gpu_state.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "member.h"
#include "reap.h"
#include "size.h"

static struct gpu gpus[GPU_MAX];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct cs_config cfg;
static struct gpu_driver drv;

void gpu_setup(const struct cs_config *c, const struct gpu_driver *d)
{
	cfg = *c;
	drv = *d;
}

const struct cs_config *gpu_config(void)
{
	return &cfg;
}

const struct gpu_driver *gpu_driver(void)
{
	return &drv;
}

void gpu_lock(void)
{
	pthread_mutex_lock(&lock);
}

void gpu_unlock(void)
{
	pthread_mutex_unlock(&lock);
}

int gpu_shared(const struct gpu *g)
{
	return atomic_load_explicit(&g->status, memory_order_acquire) == GPU_SHARED;
}

static const char *no_var(const char *name, void *arg)
{
	(void)name;
	(void)arg;
	return NULL;
}

/* The context reserve of g: CUSLICE_CTX_RESERVE, refused when it is larger
 * than the card (no context takes a whole card: the value is a mistake,
 * and charging it would fill the group). */
static void fix_reserve(struct gpu *g)
{
	g->ctx_reserve = cfg.ctx_reserve;
	if (g->card_total == 0 || g->ctx_reserve <= g->card_total)
		return;
	struct cs_config defaults;
	config_load(&defaults, no_var, NULL);
	uint64_t n = defaults.ctx_reserve < g->card_total ? defaults.ctx_reserve : 0;
	char a[32], b[32], c[32];
	log_error("CUSLICE_CTX_RESERVE=%s is larger than the card %s (%s): using %s",
		  size_format(g->ctx_reserve, a, sizeof(a)), g->uuid,
		  size_format(g->card_total, b, sizeof(b)), size_format(n, c, sizeof(c)));
	cfg.bad_vars |= config_var_bit("CUSLICE_CTX_RESERVE");
	g->ctx_reserve = n;
}

/* The cap of g from CUSLICE_MEM_LIMIT, clamped to the card's memory. */
static void fix_cap(struct gpu *g)
{
	uint64_t cap = 0;
	if (drv.total_mem == NULL || drv.total_mem(g->ordinal, &g->card_total) != 0)
		g->card_total = 0;
	if (memspec_cap_card(&cfg.mem, g->ordinal, g->uuid, g->card_total, &cap) != 0) {
		g->cap_unusable = 1;
		return;
	}
	if (cap != 0 && g->card_total != 0 && cap > g->card_total) {
		log_warn("CUSLICE_MEM_LIMIT for %s is larger than the card (%llu > %llu bytes); "
			 "using the card's size", g->uuid, (unsigned long long)cap,
			 (unsigned long long)g->card_total);
		cap = g->card_total;
	}
	g->cap = cap;
	fix_reserve(g);
}

static void run_local(struct gpu *g)
{
	atomic_store_explicit(&g->status, GPU_LOCAL, memory_order_release);
}

/* Takes a member slot in the GPU's file; the last configuration problem is
 * published with it, for cuslice status. */
static int take_slot(struct gpu *g, char *why, size_t len)
{
	char note[CS_NOTE_MAX];
	log_last_copy(note, sizeof(note));
	struct member_info info = {
		.weight = cfg.weight,
		.priority = (uint32_t)cfg.priority,
		.ordinal = g->ordinal,
		.declared_cap = g->cap_unusable ? LEDGER_CAP_REFUSE_ALL : g->cap,
		.group = cfg.group,
		.note = note,
		.bad_vars = cfg.bad_vars, /* every bad variable, not only the last */
		.card_total = g->card_total,
		.src_mem = (uint8_t)(config_source(&cfg, "CUSLICE_MEM_LIMIT") + 1),
		.src_weight = (uint8_t)(config_source(&cfg, "CUSLICE_WEIGHT") + 1),
		.src_priority = (uint8_t)(config_source(&cfg, "CUSLICE_PRIORITY") + 1),
		.pod_name = cfg.pod_name,
		.pod_namespace = cfg.pod_namespace,
	};
	int err = member_join(&g->file, &info, reap_clean, NULL, &g->slot);
	if (err == -ENOSPC)
		snprintf(why, len, "has no free member slot (%u in use)", CS_MEMBERS_MAX);
	else if (err != 0)
		snprintf(why, len, "cannot be locked: %s", strerror(-err));
	return err;
}

static int open_file(struct gpu *g, char *why, size_t len)
{
	if (!cfg.dir_invalid)
		return gpufile_open(&g->file, cfg.dir, g->uuid, cfg.slice_ms, why, len);
	/* Never the default folder instead: that is another ring. */
	snprintf(g->file.path, sizeof(g->file.path), "$CUSLICE_DIR/gpu-%s.shm", g->uuid);
	snprintf(why, len, "cannot be used: CUSLICE_DIR is not a usable path "
		 "(longer than %d bytes?)", CONFIG_PATH_MAX - 1);
	return -ENAMETOOLONG;
}

static void join_file(struct gpu *g)
{
	char why[200];
	int err = open_file(g, why, sizeof(why));
	if (err == 0 && (err = take_slot(g, why, sizeof(why))) != 0)
		gpufile_close(&g->file);
	if (err != 0) {
		snprintf(g->problem, sizeof(g->problem), "%.*s %s", (int)sizeof(g->file.path),
			 g->file.path, why);
		log_unisolated("shared file %s; this process runs unthrottled, with its memory "
			       "cap kept per process", g->problem);
		run_local(g);
		return;
	}
	atomic_store_explicit(&g->status, GPU_SHARED, memory_order_release);
}

static void join(struct gpu *g, int ordinal)
{
	g->ordinal = ordinal;
	g->file.fd = -1;
	g->file.own_slot = -1;
	if (drv.uuid == NULL || drv.uuid(ordinal, g->uuid, sizeof(g->uuid)) != 0)
		g->uuid[0] = '\0';
	fix_cap(g);
	if (g->uuid[0] == '\0') {
		snprintf(g->problem, sizeof(g->problem), "the driver gave no UUID for device %d",
			 ordinal);
		log_unisolated("%s; this process runs unthrottled on it", g->problem);
		run_local(g);
		return;
	}
	join_file(g);
}

struct gpu *gpu_join(int ordinal)
{
	if (ordinal < 0 || ordinal >= GPU_MAX)
		return NULL;
	struct gpu *g = &gpus[ordinal];
	if (__builtin_expect(atomic_load_explicit(&g->status, memory_order_acquire) != GPU_UNSEEN, 1))
		return g;
	gpu_lock();
	if (atomic_load_explicit(&g->status, memory_order_acquire) == GPU_UNSEEN)
		join(g, ordinal);
	gpu_unlock();
	return g;
}

struct gpu *gpu_current(void)
{
	return drv.current != NULL ? gpu_join(drv.current()) : NULL;
}

struct gpu *gpu_peek(int ordinal)
{
	if (ordinal < 0 || ordinal >= GPU_MAX)
		return NULL;
	struct gpu *g = &gpus[ordinal];
	return atomic_load_explicit(&g->status, memory_order_acquire) != GPU_UNSEEN ? g : NULL;
}

struct gpu *gpu_by_uuid(const char *uuid)
{
	for (int i = 0; i < GPU_MAX; i++) {
		struct gpu *g = gpu_peek(i);
		if (g != NULL && strcasecmp(g->uuid, uuid) == 0)
			return g;
	}
	return NULL;
}

int gpu_reap(struct gpu *g)
{
	return gpu_shared(g) ? reap_dead(&g->file) : 0;
}

void gpu_leave_all(void)
{
	for (int i = 0; i < GPU_MAX; i++) {
		struct gpu *g = gpu_peek(i);
		if (g != NULL && gpu_shared(g))
			reap_leave(&g->file, g->slot);
	}
}

void gpu_after_fork(void)
{
	/* The child shares the parent's open file description, and with it the
	 * parent's slot lock: close it so that the parent's death stays
	 * visible, and start over. */
	for (int i = 0; i < GPU_MAX; i++) {
		struct gpu *g = &gpus[i];
		if (atomic_load(&g->status) == GPU_SHARED)
			gpufile_close(&g->file);
		memset(g, 0, sizeof(*g));
	}
	pthread_mutex_init(&lock, NULL);
}
