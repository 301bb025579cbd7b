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
 * The records themselves (struct gpu) are lib/'s alone: gpu_state.h.
 *
 * Locking: one mutex for the whole module (gpu_lock) guards the slow paths
 * of every device (joining, preparing the ledger, starting the gate); the
 * fast paths read `status` and the gate's state with acquire loads.
 * After fork, gpu_after_fork() starts the child from nothing.
 */
#ifndef CUSLICE_GPU_H
#define CUSLICE_GPU_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

enum { GPU_MAX = 64 };

struct gpu; /* gpu_state.h */

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
	/* Events, to bound how much work a member keeps queued (qbound.h).
	 * Any may be NULL: then nothing is bounded. event_new makes one in the
	 * current context (no timing), NULL on failure; event_record marks
	 * the work queued on stream so far (ptsz: a NULL stream is the
	 * calling thread's default stream), 0 or -EIO; event_done is 1 when
	 * that work has finished, 0 when not yet, negative on error. */
	void *(*event_new)(void);
	int (*event_record)(void *event, void *stream, int ptsz);
	int (*event_done)(void *event);
	void (*event_free)(void *event);
};

/* Sets the configuration and the driver for this process (both are copied).
 * Call once, before any other function here. */
void gpu_setup(const struct cs_config *cfg, const struct gpu_driver *drv);

/* The configuration and the driver given to gpu_setup. */
const struct cs_config *gpu_config(void);
const struct gpu_driver *gpu_driver(void);

/* Leaves every GPU's ledger and ring (at exit; gate_shutdown() first). */
void gpu_leave_all(void);

/* In a forked child: forgets the parent's records (the child joins on its
 * own). The parent's ring threads do not exist here. */
void gpu_after_fork(void);

#endif
