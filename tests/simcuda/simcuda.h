/* simcuda.h - internal contracts between the modules of the simulated
 * libcuda.so.1 (a CI test double of the CUDA driver; see
 * docs/simulated-driver.md).
 *
 * Threading: one process-wide mutex (sim_lock) guards every object below.
 * Functions marked "lock held" expect the caller to hold it; entry points take
 * it, and never sleep while holding it.
 *
 * Handles: CUcontext, CUstream, CUgraph and CUgraphExec point to the structs
 * defined here (cuda.h leaves them incomplete for the driver to define).
 * Every handle a caller passes in is first looked up among the live objects
 * by pointer comparison, so a stale or made-up handle is never dereferenced.
 */
#ifndef SIMCUDA_SIMCUDA_H
#define SIMCUDA_SIMCUDA_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "entries.h"
#include "simcuda_api.h"
#include "simenv.h"

/* ---- entry.c: configuration, entry bookkeeping, the process lock ---- */

struct sim_config {
    struct sim_env env;
    uint64_t kernel_ns;        /* SIMCUDA_KERNEL_US, in ns */
    uint64_t ctx_overhead;     /* SIMCUDA_CTX_OVERHEAD, bytes */
    int log_fd;                /* SIMCUDA_LOG opened O_APPEND, or -1 */
    char counts_path[PATH_MAX]; /* SIMCUDA_COUNTS, or "" */
    bool valid;                /* false: a SIMCUDA_* value was malformed */
};

/* The row of entries.h for one exported symbol (instantiated in proc.c). */
struct sim_entry {
    const char *symbol;
    const char *base;
    int version;
    bool per_thread;
    void *fn;
};
extern const struct sim_entry sim_entries[SIM_ID_COUNT];

/* The settings, read from the environment at the first call into the
 * library (and again in a forked child). */
const struct sim_config *sim_config(void);

/* Bookkeeping at the top of every entry point: loads the settings, counts
 * the call, applies SIMCUDA_FAIL, and with needs_init refuses calls before
 * a successful cuInit. Returns CUDA_SUCCESS to go on. */
CUresult sim_enter(enum sim_entry_id id, bool needs_init);

bool sim_initialized(void);
void sim_mark_initialized(void);

void sim_lock(void);
void sim_unlock(void);

#define SIM_ENTER_AS(sym, needs_init)                                     \
    do {                                                                  \
        CUresult sim_rc_ = sim_enter(SIM_ID_##sym, needs_init);           \
        if (sim_rc_ != CUDA_SUCCESS)                                      \
            return sim_rc_;                                               \
    } while (0)

/* For every entry point but cuInit, version, error strings, cuGetProcAddress. */
#define SIM_ENTER(sym) SIM_ENTER_AS(sym, true)
/* For the entry points that work before cuInit. */
#define SIM_ENTER_EARLY(sym) SIM_ENTER_AS(sym, false)

/* ---- device.c: visible devices ---- */

/* Number of visible devices (valid after cuInit). */
int sim_device_count(void);

/* Physical index of visible ordinal dev, or -1 when dev is not valid. */
int sim_device_physical(CUdevice dev);

/* Forgets the visible list (forked child). */
void sim_device_reset(void);

/* ---- context.c: contexts and the per-thread context stack ---- */

struct CUctx_st {
    CUdevice device;           /* visible ordinal */
    bool primary;
    int retains;               /* primary contexts: cuDevicePrimaryCtxRetain count */
    uint64_t busy_until_ns;    /* end of the last queued kernel (CLOCK_MONOTONIC) */
    struct CUctx_st *next;     /* created contexts: list link */
};

/* Lock held. True for a retained primary or a created, not destroyed context. */
bool sim_ctx_live(CUcontext ctx);

/* Lock held. The calling thread's current context if live, else NULL. */
CUcontext sim_ctx_current(void);

/* Drops every context and the calling thread's stack (forked child). */
void sim_ctx_reset(void);

struct sim_memnode; /* graph.c */

/* ---- stream.c: streams and stream capture ---- */

struct sim_capture {
    CUstreamCaptureStatus status;
    CUstreamCaptureMode mode;
    pthread_t owner;           /* thread that began the capture */
    CUgraph graph;             /* receives the captured nodes */
    bool graph_borrowed;       /* cuStreamBeginCaptureToGraph: caller owns graph */
};

struct CUstream_st {
    CUcontext ctx;
    struct sim_capture capture;
    struct CUstream_st *next;
};

/* Lock held. Maps a stream handle to its stream object (NULL for the NULL,
 * legacy and per-thread streams) and context (the current one for those).
 * Errors: CUDA_ERROR_INVALID_HANDLE, CUDA_ERROR_INVALID_CONTEXT. */
CUresult sim_stream_resolve(CUstream h, struct CUstream_st **stream, CUcontext *ctx);

/* Lock held. Records a memory node into a stream that is in a capture
 * (errors as sim_capture_record). */
CUresult sim_capture_record_mem(struct CUstream_st *s, const struct sim_memnode *node);

/* Lock held. Records kernel nodes into a stream that is in a capture.
 * CUDA_ERROR_STREAM_CAPTURE_INVALIDATED when the capture is invalidated. */
CUresult sim_capture_record(struct CUstream_st *s, const uint64_t *durations_ns, size_t n);

/* Lock held. Decides whether a synchronizing call may go on: it may not when
 * target (a stream, or NULL for a context-wide call) is in a capture, nor
 * while a GLOBAL capture is active anywhere in the process or a THREAD_LOCAL
 * one begun by this thread. The captures it would break become invalidated
 * and it returns CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED. */
CUresult sim_capture_check_sync(struct CUstream_st *target);

/* Lock held. As above for cuStreamQuery, which only breaks its own capture. */
CUresult sim_capture_check_query(struct CUstream_st *target);

/* Lock held. Destroys the streams of ctx (ctx destroyed or released). */
void sim_stream_drop_ctx(CUcontext ctx);

/* Drops every stream (forked child). */
void sim_stream_reset(void);

/* ---- graph.c: graphs and executable graphs ---- */

/* Lock held. A new empty graph, or NULL when out of memory. */
CUgraph sim_graph_new(void);

/* Lock held. Frees a graph made by sim_graph_new. */
void sim_graph_free(CUgraph graph);

/* Lock held. True while graph is neither destroyed nor unknown. */
bool sim_graph_live(CUgraph graph);

/* Lock held. Appends kernel nodes; -ENOMEM leaves the graph unchanged. */
int sim_graph_append(CUgraph graph, const uint64_t *durations_ns, size_t n);

/* A memory node of a graph: an allocation (cuGraphAddMemAllocNode, or
 * cuMemAllocAsync captured) or a free of one. */
struct sim_memnode {
    uint64_t dptr;
    uint64_t bytes;            /* allocations */
    CUdevice dev;              /* allocations: visible ordinal */
    bool is_free;
};

/* Lock held. Appends a memory node; -ENOMEM leaves the graph unchanged. */
int sim_graph_append_mem(CUgraph graph, const struct sim_memnode *node);

/* Drops every graph and executable graph (forked child). */
void sim_graph_reset(void);

/* ---- launch.c: the simulated kernel queue ---- */

/* Lock held. Enqueues kernels of the given durations on stream h, or records
 * them when h is capturing. */
CUresult sim_launch_locked(CUstream h, const uint64_t *durations_ns, size_t n);

/* Sleeps until CLOCK_MONOTONIC reaches ns (returns at once if past). */
void sim_sleep_until(uint64_t ns);

/* ---- event.c: events ---- */

/* Drops every event (forked child). */
void sim_event_reset(void);

/* ---- memory.c: simulated device memory ---- */

/* Lock held. Opens the shared state of physical device phys (once per
 * process), announces the total and reclaims dead processes' bytes. */
CUresult sim_mem_attach(int phys);

/* Lock held. Charges or returns bytes on visible device dev (context
 * overhead). CUDA_ERROR_OUT_OF_MEMORY when they do not fit. */
CUresult sim_mem_charge(CUdevice dev, uint64_t bytes);
void sim_mem_uncharge(CUdevice dev, uint64_t bytes);

/* Lock held. Frees every allocation made in ctx, as the driver does when
 * the context is destroyed or reset (not stream-ordered or cuMemCreate
 * memory: those outlive contexts). */
void sim_mem_drop_ctx(CUcontext ctx);

/* Lock held. A fresh fake device address for bytes (nothing charged). */
uint64_t sim_mem_new_address(uint64_t bytes);

/* Lock held. Returns everything this process holds (process exit). */
void sim_mem_exit(void);

/* Forgets this process's allocations (forked child). */
void sim_mem_reset(void);

/* ---- graphmem.c: graph memory (the graph allocator's pool, per device) ---- */

/* Lock held. A graph launch runs its memory nodes: allocations charge the
 * device's graph pool (which grows, charging simulated memory, when what is
 * in use exceeds what it holds), frees give back to the pool (not to the
 * device: the pool keeps it until cuDeviceGraphMemTrim). Relaunching an
 * allocation that was not freed is CUDA_ERROR_INVALID_VALUE; a pool that
 * cannot grow is CUDA_ERROR_OUT_OF_MEMORY (nothing of this launch kept). */
CUresult sim_graphmem_launch(const struct sim_memnode *nodes, size_t n);

/* Lock held. Frees a live graph allocation outside its graph (cuMemFree,
 * cuMemFreeAsync). False when dptr is not one. */
bool sim_graphmem_free(uint64_t dptr);

/* Lock held. cuMemAllocAsync / cuMemFreeAsync into a capturing stream: a
 * memory node of the captured graph; nothing is charged. */
CUresult sim_graphmem_capture_alloc(struct CUstream_st *s, CUdevice dev, uint64_t bytes,
                                    uint64_t *dptr);
CUresult sim_graphmem_capture_free(struct CUstream_st *s, uint64_t dptr);

/* Lock held. Frees the graph memory of dev: its live allocations and the
 * pool (the primary context was reset or released). */
void sim_graphmem_drop(CUdevice dev);

/* Forgets everything (forked child). */
void sim_graphmem_reset(void);

#endif /* SIMCUDA_SIMCUDA_H */
