/* gate.c - the launch gate; see gate.h. Policy is in lib/ring.c.
 *
 * One gate per device this process launches on. The fast path is inline in
 * ring.h (no syscall, no lock, no clock). A process that sees exactly one
 * device skips the current-context lookup altogether.
 */
#include "gate.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "device.h"
#include "hook.h"
#include "hooks_state.h"
#include "log.h"
#include "ring.h"

enum gate_state { GATE_UNSET = 0, GATE_RING, GATE_BYPASS };
enum { CTX_MAX = 8, CAPTURES_MAX = 64 };

struct gate {
	struct ring_member rm;
	_Atomic int state;
	struct device *d;
	pthread_mutex_t ctx_lock;
	CUcontext ctxs[CTX_MAX];
	_Atomic int nctx;
};

static struct gate gates[DEVICES_MAX];
static _Atomic(struct gate *) only_gate;
static pthread_mutex_t setup_lock = PTHREAD_MUTEX_INITIALIZER;

/* Streams being captured, and how many in the global mode. */
static pthread_mutex_t capture_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int captures_any;
static _Atomic int captures_global;
static struct { CUstream stream; int global; } captures[CAPTURES_MAX];

static void thread_init(void *arg)
{
	(void)arg;
	hook_depth = 1; /* whatever the ring's threads call is the library's own */
}

static CUresult sync_context(CUcontext ctx)
{
	if (real.cuCtxSynchronize_v2 != NULL)
		return real.cuCtxSynchronize_v2(ctx);
	/* Drivers before cuCtxSynchronize_v2: this thread is ours alone. */
	if (real.cuCtxSetCurrent(ctx) != CUDA_SUCCESS)
		return CUDA_ERROR_INVALID_CONTEXT;
	return real.cuCtxSynchronize();
}

/* ring_ops.drain: every context this process used on the device. */
static int drain(void *arg)
{
	struct gate *g = arg;
	for (;;) {
		pthread_mutex_lock(&capture_lock);
		if (atomic_load(&captures_global) == 0)
			break;
		pthread_mutex_unlock(&capture_lock);
		if (atomic_load(&g->rm.stop))
			return -ECANCELED;
		usleep(100);
	}
	int err = 0;
	int n = atomic_load(&g->nctx);
	for (int i = 0; i < n; i++) {
		if (sync_context(g->ctxs[i]) != CUDA_SUCCESS)
			err = -EIO;
	}
	pthread_mutex_unlock(&capture_lock);
	return err;
}

static void periodic(void *arg)
{
	struct gate *g = arg;
	device_reap(g->d);
}

static void remember_context(struct gate *g)
{
	CUcontext ctx = NULL;
	if (real.cuCtxGetCurrent(&ctx) != CUDA_SUCCESS || ctx == NULL)
		return;
	int n = atomic_load(&g->nctx);
	for (int i = 0; i < n; i++) {
		if (g->ctxs[i] == ctx)
			return;
	}
	pthread_mutex_lock(&g->ctx_lock);
	n = atomic_load(&g->nctx);
	int known = 0;
	for (int i = 0; i < n; i++)
		known |= g->ctxs[i] == ctx;
	if (!known && n < CTX_MAX) {
		g->ctxs[n] = ctx;
		atomic_store(&g->nctx, n + 1);
	} else if (!known) {
		log_warn("more than %d contexts on device %d: the drain skips the rest", CTX_MAX,
			 g->d->ordinal);
	}
	pthread_mutex_unlock(&g->ctx_lock);
}

static void start_ring(struct gate *g)
{
	struct ring_config cfg = {
		.slice_ns = (uint64_t)hooks_cfg.slice_ms * 1000000u,
		.drain_timeout_ns = (uint64_t)hooks_cfg.drain_timeout_ms * 1000000u,
		.hold_timeout_ns = (uint64_t)hooks_cfg.hold_timeout_ms * 1000000u,
		.weight = hooks_cfg.weight,
		.priority = hooks_cfg.priority,
		.high_max_share = hooks_cfg.high_max_share,
		.backfill_ns = (uint64_t)hooks_cfg.backfill_us * 1000u,
		.timeline = hooks_cfg.timeline[0] != '\0' ? hooks_cfg.timeline : NULL,
		.ordinal = g->d->ordinal,
		.uuid = g->d->uuid,
	};
	struct ring_ops ops = { drain, periodic, thread_init, g };
	int err = ring_member_start(&g->rm, &g->d->file, g->d->slot, &cfg, &ops);
	if (err != 0) {
		log_error("cannot start the ring's threads (%s); device %d runs unthrottled",
			  strerror(-err), g->d->ordinal);
		atomic_store(&g->state, GATE_BYPASS);
		return;
	}
	atomic_store(&g->state, GATE_RING);
}

static void setup(struct gate *g, struct device *d)
{
	pthread_mutex_lock(&setup_lock);
	if (atomic_load(&g->state) == GATE_UNSET) {
		g->d = d;
		pthread_mutex_init(&g->ctx_lock, NULL);
		int count = 0;
		if (real.cuDeviceGetCount != NULL && real.cuDeviceGetCount(&count) == CUDA_SUCCESS &&
		    count == 1)
			atomic_store(&only_gate, g);
		if (!hooks_cfg.ring || atomic_load(&d->status) != DEVICE_READY)
			atomic_store(&g->state, GATE_BYPASS);
		else
			start_ring(g);
	}
	pthread_mutex_unlock(&setup_lock);
}

static int stream_capturing(CUstream stream)
{
	if (atomic_load(&captures_any) == 0)
		return 0;
	for (int i = 0; i < CAPTURES_MAX; i++) {
		if (captures[i].stream == stream && stream != NULL)
			return 1;
	}
	CUstreamCaptureStatus st = CU_STREAM_CAPTURE_STATUS_NONE;
	return real.cuStreamIsCapturing(stream, &st) == CUDA_SUCCESS &&
	       st == CU_STREAM_CAPTURE_STATUS_ACTIVE;
}

static void gate_slow(struct gate *g, struct device *d, struct gate_pass *pass, CUstream stream)
{
	if (atomic_load(&g->state) == GATE_UNSET)
		setup(g, d);
	if (atomic_load(&g->state) != GATE_RING)
		return;
	remember_context(g);
	if (stream_capturing(stream))
		return; /* captured launches do not run: no token needed */
	ring_enter_slow(&g->rm);
	pass->member = &g->rm;
}

void gate_enter(struct gate_pass *pass, CUstream stream)
{
	pass->member = NULL;
	struct gate *g = atomic_load_explicit(&only_gate, memory_order_relaxed);
	struct device *d = NULL;
	if (g == NULL) {
		d = device_current();
		if (d == NULL)
			return; /* no context: the driver will refuse the launch */
		g = &gates[d->ordinal];
	}
	int state = atomic_load_explicit(&g->state, memory_order_relaxed);
	if (__builtin_expect(state == GATE_RING, 1) && ring_enter_fast(&g->rm)) {
		pass->member = &g->rm;
		return;
	}
	if (state == GATE_BYPASS)
		return;
	gate_slow(g, d != NULL ? d : g->d, pass, stream);
}

void gate_synced(void)
{
	struct gate *g = atomic_load_explicit(&only_gate, memory_order_relaxed);
	if (g == NULL) {
		CUdevice dev;
		if (real.cuCtxGetDevice == NULL || real.cuCtxGetDevice(&dev) != CUDA_SUCCESS)
			return;
		struct device *d = device_peek(dev);
		if (d == NULL)
			return; /* never launched here: not a member */
		g = &gates[d->ordinal];
	}
	if (atomic_load(&g->state) == GATE_RING)
		ring_synced(&g->rm);
}

void gate_leave(struct gate_pass *pass)
{
	if (pass->member != NULL)
		ring_leave(pass->member);
}

void capture_begin(void)
{
	pthread_mutex_lock(&capture_lock);
}

void capture_begun(CUstream stream, CUstreamCaptureMode mode, int ok)
{
	if (ok) {
		for (int i = 0; i < CAPTURES_MAX; i++) {
			if (captures[i].stream == NULL) {
				captures[i].stream = stream;
				captures[i].global = mode == CU_STREAM_CAPTURE_MODE_GLOBAL;
				atomic_fetch_add(&captures_any, 1);
				if (captures[i].global)
					atomic_fetch_add(&captures_global, 1);
				break;
			}
		}
	}
	pthread_mutex_unlock(&capture_lock);
}

void capture_end(CUstream stream)
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
	 * parent's. Start from nothing: the child joins as its own member. */
	memset(gates, 0, sizeof(gates));
	atomic_store(&only_gate, NULL);
	pthread_mutex_init(&setup_lock, NULL);
	pthread_mutex_init(&capture_lock, NULL);
	memset(captures, 0, sizeof(captures));
	atomic_store(&captures_any, 0);
	atomic_store(&captures_global, 0);
}

void gate_shutdown(void)
{
	for (int i = 0; i < DEVICES_MAX; i++) {
		if (atomic_load(&gates[i].state) == GATE_RING)
			ring_member_stop(&gates[i].rm);
	}
}
