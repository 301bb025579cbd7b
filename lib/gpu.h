/* gpu.h - this process's state for each GPU it uses.
 *
 * One struct gpu per CUDA ordinal this process sees. It maps the ordinal to
 * the physical GPU's UUID, the shared per-GPU file and this process's
 * member slot in it, and holds everything else per device: the memory cap,
 * the local ledger (used when the shared file cannot be), and the launch
 * gate's state (gate.h). A process joins a GPU the first time it allocates
 * or launches there (gpu_join); if the file cannot be used (unwritable
 * folder, corrupt or foreign file, every slot taken) the record says so
 * (GPU_LOCAL) and the modules fall back: memory is still capped per
 * process, launches run unthrottled. The reason is logged once.
 *
 * What lib/ needs from the driver comes through struct gpu_driver, a small
 * table of callbacks that hooks/ fills in; nothing here includes cuda.h.
 *
 * Locking: one mutex for the whole module (gpu_lock) guards the slow paths
 * of every device (joining, preparing the ledger, starting the gate); the
 * fast paths read `status` and the gate's state with acquire loads.
 * After fork, gpu_after_fork() starts the child from nothing.
 */
#ifndef CUSLICE_GPU_H
#define CUSLICE_GPU_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "gpufile.h"
#include "ledger.h"
#include "ring.h"

enum { GPU_MAX = 64, GPU_CTX_MAX = 8 };

/* The driver, as lib/ sees it. Every callback may be called from any thread
 * of the process, including the ring's own threads. */
struct gpu_driver {
	/* Devices this process sees, or -1 when the driver cannot say. */
	int (*count)(void);
	/* The ordinal of the calling thread's current context, -1 if none. */
	int (*current)(void);
	/* The calling thread's current context, NULL if none. */
	void *(*context)(void);
	/* Writes the UUID ("GPU-…") of ordinal into out: 0 or -ENODEV. */
	int (*uuid)(int ordinal, char *out, size_t len);
	/* The device's real memory: 0 or -ENODEV. */
	int (*total_mem)(int ordinal, uint64_t *bytes);
	/* Waits until the context's work is done: 0 or -EIO. */
	int (*sync)(void *ctx);
	/* Nonzero when work on stream is being captured into a graph now. */
	int (*capturing)(void *stream);
	/* The device memory the driver's graph allocator holds for this
	 * process on ordinal (CU_GRAPH_MEM_ATTR_RESERVED_MEM_CURRENT): 0, or
	 * -ENODEV when the driver cannot say. May be NULL. */
	int (*graph_mem)(int ordinal, uint64_t *bytes);
	/* Called first on each thread lib/ starts (the ring's agent and
	 * drainer), so that the hooks know its calls are the library's own. */
	void (*thread_init)(void);
};

enum gpu_status { GPU_UNSEEN = 0, GPU_SHARED, GPU_LOCAL };
enum gate_state { GATE_UNSET = 0, GATE_RING, GATE_BYPASS };

/* The launch gate of one device; gate.c owns it. */
struct gpu_gate {
	struct ring_member rm;
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

/* Sets the configuration and the driver for this process (both are copied).
 * Call once, before any other function here. */
void gpu_setup(const struct cs_config *cfg, const struct gpu_driver *drv);

/* The configuration and the driver given to gpu_setup. */
const struct cs_config *gpu_config(void);
const struct gpu_driver *gpu_driver(void);

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

/* Leaves every GPU's ledger and ring (at exit; gate_shutdown() first). */
void gpu_leave_all(void);

/* In a forked child: forgets the parent's records (the child joins on its
 * own). The parent's ring threads do not exist here. */
void gpu_after_fork(void);

#endif
