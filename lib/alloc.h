/* alloc.h - the memory policy: may this process allocate N bytes here?
 *
 * Every allocation hook follows one protocol, in bytes, ordinals and keys:
 *   alloc_ask      before the driver: reserve the bytes on the GPU, or refuse;
 *   alloc_resize   the driver gave another size (a pitch): settle to it;
 *   alloc_settle   after the driver: on success the allocation's key
 *                  (pointer, VMM handle, array) holds the bytes, on failure
 *                  they are given back.
 * A release takes the key's record (alloc_take) before the driver frees and
 * gives the bytes back once it has (alloc_return); a key never charged is
 * ignored. Queries rewrite the driver's answer with the cap (alloc_view,
 * alloc_report_*). The rules and their limits are in docs/memory.md; the
 * accounting protocol is in ledger.c.
 *
 * A GPU's accounting target is its shared per-GPU file when this process is
 * a member there (gpu.h: GPU_SHARED), else its local ledger (GPU_LOCAL: the
 * cap still holds for the process). The first memory call on a GPU charges
 * the context reserve (CUSLICE_CTX_RESERVE) there, once.
 */
#ifndef CUSLICE_ALLOC_H
#define CUSLICE_ALLOC_H

#include <stdint.h>

#include "ledger.h"

struct gpu;

/* A reservation between asking and settling. gpu NULL: nothing accounted. */
struct alloc_ticket {
	struct gpu *gpu;
	uint64_t bytes;
};

/* May this process allocate bytes on GPU ordinal? Returns 0 with the bytes
 * reserved (or with nothing to account when ordinal < 0), or -ENOMEM with
 * nothing reserved (over the cap, or the cap could not be read). */
int alloc_ask(struct alloc_ticket *t, int ordinal, uint64_t bytes);

/* alloc_ask for managed memory: accounted only when CUSLICE_MANAGED=count. */
int alloc_ask_managed(struct alloc_ticket *t, int ordinal, uint64_t bytes);

/* Settles a reservation to the size the driver gave. Returns 0, or -ENOMEM
 * when it gave more and the difference does not fit (reservation kept). */
int alloc_resize(struct alloc_ticket *t, uint64_t actual);

/* After the driver answered: ok (it allocated) -> key holds the reservation;
 * else the reservation is given back. */
void alloc_settle(struct alloc_ticket *t, int ok, enum charge_kind kind, uint64_t key);

/* alloc_settle for memory that the driver frees when the calling thread's
 * current context is destroyed or reset (cuMemAlloc, pitched, managed,
 * arrays): the record names that context, for alloc_context_ended(). */
void alloc_settle_in_context(struct alloc_ticket *t, int ok, enum charge_kind kind,
			     uint64_t key);

/* The driver destroyed or reset context ctx and freed what was allocated in
 * it: the records settled in it are given back. */
void alloc_context_ended(void *ctx);

/* ---- graph memory ----
 * The driver allocates a graph's memory nodes (cuGraphAddMemAllocNode, or
 * stream-ordered allocations captured into a graph) when the graph is
 * launched, from a per-device pool that no allocation hook sees. It is
 * charged from what the driver reports it holds (gpu_driver.graph_mem),
 * after every call that can change it; see docs/memory.md. */

/* The process made a graph memory node: from now on launches look. */
void alloc_graph_seen(void);

/* Nonzero once alloc_graph_seen() was called (one atomic load: launches
 * ask nothing of the driver before). */
int alloc_graph_active(void);

/* The ordinal to charge a stream-ordered allocation on stream to: current,
 * or -1 (nothing charged now, alloc_graph_seen) when the stream is being
 * captured, which makes it a graph memory node. */
int alloc_async_ordinal(void *stream, int current);

/* Charges the difference between the graph memory the driver holds on
 * ordinal now and what was charged for it (given back when it shrank;
 * charged whether or not it fits when it grew: the memory exists). Nothing
 * happens before alloc_graph_seen(). */
void alloc_graph_sync(int ordinal);

/* alloc_graph_sync for every GPU this process joined. */
void alloc_graph_sync_all(void);

/* A release in progress: the record taken out before the driver frees. */
struct alloc_hold {
	int found;
	enum charge_kind kind;
	uint64_t key, bytes;
	int ordinal;
};

/* Takes the record of (kind, key), if it was charged. */
void alloc_take(struct alloc_hold *h, enum charge_kind kind, uint64_t key);

/* After the driver answered a release: freed -> the bytes are given back;
 * else the record is put back. */
void alloc_return(struct alloc_hold *h, int freed);

/* What a memory query should report for one GPU. */
struct mem_view {
	int capped;      /* a cap applies: queries report it */
	uint64_t cap;    /* the group's cap; 0 with capped = fail closed */
	uint64_t used;   /* the group's usage (<= cap is not guaranteed) */
};

/* Nonzero when a cap may apply to this process on some GPU
 * (CUSLICE_MEM_LIMIT or CUSLICE_GROUP is set); when zero, queries need not
 * look further. */
int alloc_caps_configured(void);

/* The view for the GPU with this UUID and, when known, the ordinal this
 * process sees for it (-1 if unknown); card_total is the GPU's real memory,
 * to which a cap is clamped. Uses this process's record of the GPU when it
 * has one; else the cap from CUSLICE_MEM_LIMIT and the group's usage from
 * the GPU's shared file, opened read-only and not joined. Returns
 * v->capped. */
int alloc_view(const char *uuid, int ordinal, uint64_t card_total, struct mem_view *v);

/* Rewrites the driver's (free, total) for GPU ordinal (joined if needed)
 * with its cap, if it has one: total = cap, free = min(cap - usage, free).
 * Nothing changes for ordinal < 0 or without a cap. */
void alloc_report_info(int ordinal, uint64_t *free, uint64_t *total);

/* Rewrites the driver's total memory of GPU ordinal with its cap, if it
 * has one (cudart's totalGlobalMem); never joins the GPU. */
void alloc_report_total(int ordinal, uint64_t *total);

/* Rewrites an NVML answer (total, used, free) for the GPU with this UUID
 * (see alloc_view) when a cap applies: total = cap, used = the group's
 * usage (at most the cap), free = the rest. Returns nonzero when it did. */
int alloc_report_usage(const char *uuid, int ordinal, uint64_t *total, uint64_t *used,
		       uint64_t *free);

/* In a forked child: forgets the parent's allocations (they are its own). */
void alloc_after_fork(void);

#endif
