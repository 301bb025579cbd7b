/* gate.c - the launch gate; see gate.h. The ring's protocol is ring.c. */
#include "gate.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "gpu_state.h"
#include "log.h"
#include "ring.h"

enum { CAPTURES_MAX = 64 };

/* The gate of the only device, when the process sees exactly one. */
static _Atomic(struct gpu *) only;

/* Streams being captured, and how many in the global mode. */
static pthread_mutex_t capture_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int captures_any;
static _Atomic int captures_global;
static struct { void *stream; int global; } captures[CAPTURES_MAX];

static void thread_init(void *arg)
{
	(void)arg;
	if (gpu_driver()->thread_init != NULL)
		gpu_driver()->thread_init();
}

/* ring_ops.drain: waits out a global-mode capture, then synchronises every
 * context this process used on the device. */
static int drain(void *arg)
{
	struct gpu *g = arg;
	for (;;) {
		pthread_mutex_lock(&capture_lock);
		if (atomic_load(&captures_global) == 0)
			break;
		pthread_mutex_unlock(&capture_lock);
		if (ring_stopping(&g->gate.rm))
			return -ECANCELED;
		usleep(100);
	}
	int err = 0;
	int n = atomic_load(&g->gate.nctx);
	for (int i = 0; i < n; i++) {
		if (gpu_driver()->sync(g->gate.ctxs[i]) != 0)
			err = -EIO;
	}
	pthread_mutex_unlock(&capture_lock);
	return err;
}

static int known_context(const struct gpu_gate *gate, int n, void *ctx)
{
	for (int i = 0; i < n; i++) {
		if (gate->ctxs[i] == ctx)
			return 1;
	}
	return 0;
}

static void remember_context(struct gpu *g)
{
	struct gpu_gate *gate = &g->gate;
	void *ctx = gpu_driver()->context();
	if (ctx == NULL || known_context(gate, atomic_load(&gate->nctx), ctx))
		return;
	gpu_lock();
	int n = atomic_load(&gate->nctx);
	if (!known_context(gate, n, ctx) && n < GPU_CTX_MAX) {
		gate->ctxs[n] = ctx;
		atomic_store(&gate->nctx, n + 1);
	} else if (!known_context(gate, n, ctx)) {
		log_warn("more than %d contexts on device %d: the drain skips the rest",
			 GPU_CTX_MAX, g->ordinal);
	}
	gpu_unlock();
}

static void start_ring(struct gpu *g)
{
	const struct cs_config *cfg = gpu_config();
	struct ring_config rc = {
		.slice_ns = (uint64_t)cfg->slice_ms * NS_PER_MS,
		.drain_timeout_ns = (uint64_t)cfg->drain_timeout_ms * NS_PER_MS,
		.hold_timeout_ns = (uint64_t)cfg->hold_timeout_ms * NS_PER_MS,
		.weight = cfg->weight,
		.priority = cfg->priority,
		.high_max_share = cfg->high_max_share,
		.high_queue = cfg->high_queue,
		.backfill_ns = (uint64_t)cfg->backfill_us * 1000u,
		.timeline = cfg->timeline[0] != '\0' ? cfg->timeline : NULL,
		.ordinal = g->ordinal,
		.uuid = g->uuid,
	};
	struct ring_ops ops = { .drain = drain, .thread_init = thread_init, .arg = g };
	qbound_init(&g->gate.qb);
	int err = ring_member_start(&g->gate.rm, &g->file, g->slot, &rc, &ops);
	if (err != 0) {
		log_error("cannot start the ring's threads (%s); device %d runs unthrottled",
			  strerror(-err), g->ordinal);
		atomic_store(&g->gate.state, GATE_BYPASS);
		return;
	}
	atomic_store(&g->gate.state, GATE_RING);
}

static void setup(struct gpu *g)
{
	gpu_lock();
	if (atomic_load(&g->gate.state) == GATE_UNSET) {
		if (gpu_driver()->count() == 1)
			atomic_store(&only, g);
		if (!gpu_config()->ring || !gpu_shared(g))
			atomic_store(&g->gate.state, GATE_BYPASS);
		else
			start_ring(g);
	}
	gpu_unlock();
}

static int stream_capturing(void *stream)
{
	if (atomic_load(&captures_any) == 0)
		return 0;
	for (int i = 0; i < CAPTURES_MAX; i++) {
		if (captures[i].stream == stream && stream != NULL)
			return 1;
	}
	return gpu_driver()->capturing(stream);
}

/* With the token held while a high member is active: waits until this
 * process has fewer than CUSLICE_HIGH_QUEUE launches queued (qbound.h).
 * The wait happens outside the in-flight count, so the agent can close the
 * gate meanwhile; the token is then checked again. */
static void enter_bounded(struct gpu *g, struct gate_pass *pass, void *stream, int ptsz)
{
	struct ring_member *rm = &g->gate.rm;
	const struct cs_config *cfg = gpu_config();
	for (;;) {
		uint64_t launches = atomic_load(&rm->launches);
		enum qbound_verdict v = qbound_admit(&g->gate.qb, cfg->high_queue, launches, stream,
						     ptsz);
		if (v == QB_MARK) {
			pass->bound = &g->gate.qb;
			pass->stream = stream;
			pass->ptsz = ptsz;
			return;
		}
		if (v == QB_PASS)
			return;
		ring_back_out(rm);
		qbound_wait(&g->gate.qb, cfg->high_queue,
			    (uint64_t)cfg->drain_timeout_ms * NS_PER_MS);
		if (ring_enter_slow(rm) != RING_OPEN_BOUNDED)
			return;
	}
}

static void gate_slow(struct gpu *g, struct gate_pass *pass, void *stream, int ptsz)
{
	if (atomic_load(&g->gate.state) == GATE_UNSET)
		setup(g);
	if (atomic_load(&g->gate.state) != GATE_RING)
		return;
	remember_context(g);
	if (stream_capturing(stream))
		return; /* captured launches do not run: no token needed */
	if (ring_enter_slow(&g->gate.rm) == RING_OPEN_BOUNDED)
		enter_bounded(g, pass, stream, ptsz);
	pass->member = &g->gate.rm;
}

void gate_enter(struct gate_pass *pass, void *stream, int ptsz)
{
	pass->member = NULL;
	pass->bound = NULL;
	struct gpu *g = atomic_load_explicit(&only, memory_order_relaxed);
	if (g == NULL && (g = gpu_current()) == NULL)
		return; /* no context: the driver will refuse the launch */
	int state = atomic_load_explicit(&g->gate.state, memory_order_relaxed);
	if (__builtin_expect(state == GATE_RING, 1) && ring_enter_fast(&g->gate.rm)) {
		pass->member = &g->gate.rm;
		return;
	}
	if (state == GATE_BYPASS)
		return;
	gate_slow(g, pass, stream, ptsz);
}

void gate_leave(struct gate_pass *pass)
{
	if (pass->member == NULL)
		return;
	struct ring_member *rm = pass->member;
	if (__builtin_expect(pass->bound != NULL, 0)) /* marked while still in flight */
		qbound_mark(pass->bound, pass->stream, pass->ptsz, atomic_load(&rm->launches) + 1);
	ring_leave(rm);
}

void gate_synced(void)
{
	struct gpu *g = atomic_load_explicit(&only, memory_order_relaxed);
	if (g == NULL && (g = gpu_peek(gpu_driver()->current())) == NULL)
		return; /* never launched here: not a member */
	if (atomic_load(&g->gate.state) == GATE_RING)
		ring_synced(&g->gate.rm);
}

void gate_capture_begin(void)
{
	pthread_mutex_lock(&capture_lock);
}

void gate_capture_begun(void *stream, int global, int ok)
{
	for (int i = 0; ok && i < CAPTURES_MAX; i++) {
		if (captures[i].stream == NULL) {
			captures[i].stream = stream;
			captures[i].global = global;
			atomic_fetch_add(&captures_any, 1);
			if (global)
				atomic_fetch_add(&captures_global, 1);
			break;
		}
	}
	pthread_mutex_unlock(&capture_lock);
}

void gate_capture_end(void *stream)
{
	pthread_mutex_lock(&capture_lock);
	for (int i = 0; i < CAPTURES_MAX; i++) {
		if (captures[i].stream == stream && stream != NULL) {
			if (captures[i].global)
				atomic_fetch_sub(&captures_global, 1);
			atomic_fetch_sub(&captures_any, 1);
			captures[i].stream = NULL;
			break;
		}
	}
	pthread_mutex_unlock(&capture_lock);
}

void gate_after_fork(void)
{
	/* The parent's ring threads do not exist here; its membership is the
	 * parent's. The child joins as its own member. */
	atomic_store(&only, NULL);
	pthread_mutex_init(&capture_lock, NULL);
	memset(captures, 0, sizeof(captures));
	atomic_store(&captures_any, 0);
	atomic_store(&captures_global, 0);
}

void gate_shutdown(void)
{
	for (int i = 0; i < GPU_MAX; i++) {
		struct gpu *g = gpu_peek(i);
		if (g != NULL && atomic_load(&g->gate.state) == GATE_RING)
			ring_member_stop(&g->gate.rm);
	}
}
