/* gpu_state.h - the per-device records of gpu.h, for lib/ (alloc.c, gate.c,
 * gpu.c) and its tests; hooks/ never sees inside them. */
#ifndef CUSLICE_GPU_STATE_H
#define CUSLICE_GPU_STATE_H

#include <pthread.h>

#include "gpu.h"
#include "gpufile.h"
#include "ledger.h"
#include "qbound.h"
#include "ring.h"

enum { GPU_CTX_MAX = 8 };

enum gpu_status { GPU_UNSEEN = 0, GPU_SHARED, GPU_LOCAL };
enum gate_state { GATE_UNSET = 0, GATE_RING, GATE_BYPASS };

/* The launch gate of one device; gate.c owns it. */
struct gpu_gate {
	struct ring_member rm;
	struct qbound qb;             /* the queue bound beside high members */
	_Atomic int state;            /* enum gate_state */
	void *ctxs[GPU_CTX_MAX];      /* contexts this process launched in */
	_Atomic int nctx;
};

struct gpu {
	_Atomic int status;           /* enum gpu_status, set once (release) */
	int ordinal;
	char uuid[CS_UUID_MAX];       /* "GPU-…", or "" if unknown */
	int cap_unusable;             /* CUSLICE_MEM_LIMIT unreadable: refuse all */
	uint64_t cap;                 /* 0 = no cap; clamped to the card */
	uint64_t card_total;          /* real device memory, 0 if unknown */
	uint64_t ctx_reserve;         /* CUSLICE_CTX_RESERVE, bounded by the card */
	struct gpufile file;          /* valid when status == GPU_SHARED */
	unsigned slot;                /* our member slot in file */
	char problem[600];            /* why status is GPU_LOCAL */
	struct ledger_local local;    /* the accounting when GPU_LOCAL */
	_Atomic int prepared;         /* the first memory call was prepared */
	_Atomic int reserve_pending;  /* the context reserve did not fit: this
				       * process's allocations are refused until
				       * it does (alloc.c) */
	_Atomic uint64_t graph_charged; /* graph memory charged here (alloc.c) */
	struct gpu_gate gate;
};

/* The record for an ordinal, joined on first use (the UUID and the card's
 * memory asked from the driver, the shared file opened and a member slot
 * taken). NULL when the ordinal is out of range. Never fails otherwise: a
 * GPU whose file cannot be used is GPU_LOCAL. */
struct gpu *gpu_join(int ordinal);

/* gpu_join() of the calling thread's current device, or NULL when the
 * thread has no context. */
struct gpu *gpu_current(void);

/* The record for an ordinal if it was already joined, else NULL. Never
 * calls the driver. */
struct gpu *gpu_peek(int ordinal);

/* The record for a GPU UUID (case-insensitive) among those already joined,
 * or NULL. */
struct gpu *gpu_by_uuid(const char *uuid);

/* Nonzero when g accounts in its shared file (else in g->local). */
int gpu_shared(const struct gpu *g);

/* Returns dead members' resources on g's GPU now (their memory charges and
 * the token). Returns how many slots were reaped; 0 for a GPU_LOCAL g. */
int gpu_reap(struct gpu *g);

/* The module's one lock, for the slow paths of gpu.c, alloc.c and gate.c. */
void gpu_lock(void);
void gpu_unlock(void);

#endif
