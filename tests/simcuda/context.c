/* context.c - contexts of the simulated libcuda: one primary context per
 * visible device (retain-counted), contexts made by cuCtxCreate_v4, and the
 * per-thread stack of current contexts. The current context is NULL until a
 * thread sets one, as with the real driver.
 *
 * Each context charges SIMCUDA_CTX_OVERHEAD bytes of simulated memory while
 * it exists: a primary context from its first retain to its last release.
 * Destroying a context (cuCtxDestroy, the last release or a reset of a
 * primary) frees the allocations made in it, as the driver does: linear,
 * pitched, managed memory and arrays, not stream-ordered or cuMemCreate
 * memory; a primary's end also frees the device's graph memory.
 */
#include "simcuda.h"

#include <stdlib.h>

#define SIM_CTX_STACK_MAX 64

static struct CUctx_st sim_primary[SIM_MAX_DEVICES]; /* by visible ordinal */
static struct CUctx_st *sim_created;                  /* cuCtxCreate_v4 list */
static __thread CUcontext sim_stack[SIM_CTX_STACK_MAX];
static __thread int sim_depth;

bool sim_ctx_live(CUcontext ctx)
{
    if (!ctx)
        return false;
    for (int i = 0; i < sim_device_count(); i++) {
        if (ctx == &sim_primary[i])
            return ctx->retains > 0;
    }
    for (struct CUctx_st *c = sim_created; c; c = c->next) {
        if (c == ctx)
            return true;
    }
    return false;
}

CUcontext sim_ctx_current(void)
{
    CUcontext top = sim_depth > 0 ? sim_stack[sim_depth - 1] : NULL;

    return sim_ctx_live(top) ? top : NULL;
}

void sim_ctx_reset(void)
{
    while (sim_created) {
        struct CUctx_st *next = sim_created->next;
        free(sim_created);
        sim_created = next;
    }
    for (int i = 0; i < SIM_MAX_DEVICES; i++)
        sim_primary[i] = (struct CUctx_st){ 0 };
    sim_depth = 0;
}

static bool sim_stack_push(CUcontext ctx)
{
    if (sim_depth >= SIM_CTX_STACK_MAX)
        return false;
    sim_stack[sim_depth++] = ctx;
    return true;
}

/* Removes ctx from the calling thread's stack (it is being destroyed). */
static void sim_stack_forget(CUcontext ctx)
{
    int kept = 0;

    for (int i = 0; i < sim_depth; i++) {
        if (sim_stack[i] != ctx)
            sim_stack[kept++] = sim_stack[i];
    }
    sim_depth = kept;
}

SIM_API CUresult CUDAAPI cuDevicePrimaryCtxRetain(CUcontext *pctx, CUdevice dev)
{
    struct CUctx_st *ctx;
    CUresult rc = CUDA_SUCCESS;

    SIM_ENTER(cuDevicePrimaryCtxRetain);
    if (!pctx)
        return CUDA_ERROR_INVALID_VALUE;
    if (sim_device_physical(dev) < 0)
        return CUDA_ERROR_INVALID_DEVICE;
    sim_lock();
    ctx = &sim_primary[dev];
    if (ctx->retains == 0) {
        rc = sim_mem_charge(dev, sim_config()->ctx_overhead);
        ctx->device = dev;
        ctx->primary = true;
    }
    if (rc == CUDA_SUCCESS) {
        ctx->retains++;
        *pctx = ctx;
    }
    sim_unlock();
    return rc;
}

SIM_API CUresult CUDAAPI cuDevicePrimaryCtxRelease_v2(CUdevice dev)
{
    struct CUctx_st *ctx;
    CUresult rc = CUDA_SUCCESS;

    SIM_ENTER(cuDevicePrimaryCtxRelease_v2);
    if (sim_device_physical(dev) < 0)
        return CUDA_ERROR_INVALID_DEVICE;
    sim_lock();
    ctx = &sim_primary[dev];
    if (ctx->retains == 0) {
        rc = CUDA_ERROR_INVALID_CONTEXT;
    } else if (--ctx->retains == 0) {
        sim_stream_drop_ctx(ctx);
        sim_mem_drop_ctx(ctx);
        sim_graphmem_drop(dev);
        sim_mem_uncharge(dev, sim_config()->ctx_overhead);
    }
    sim_unlock();
    return rc;
}

/* Active from the first retain to the last release; flags are always 0. */
SIM_API CUresult CUDAAPI cuDevicePrimaryCtxGetState(CUdevice dev, unsigned int *flags,
                                                    int *active)
{
    SIM_ENTER(cuDevicePrimaryCtxGetState);
    if (!flags || !active)
        return CUDA_ERROR_INVALID_VALUE;
    if (sim_device_physical(dev) < 0)
        return CUDA_ERROR_INVALID_DEVICE;
    sim_lock();
    *flags = 0;
    *active = sim_primary[dev].retains > 0;
    sim_unlock();
    return CUDA_SUCCESS;
}

/* Frees what the primary context holds (streams, its allocations, the
 * device's graph memory); it stays retained, as good as new. */
SIM_API CUresult CUDAAPI cuDevicePrimaryCtxReset_v2(CUdevice dev)
{
    struct CUctx_st *ctx;

    SIM_ENTER(cuDevicePrimaryCtxReset_v2);
    if (sim_device_physical(dev) < 0)
        return CUDA_ERROR_INVALID_DEVICE;
    sim_lock();
    ctx = &sim_primary[dev];
    if (ctx->retains > 0) {
        sim_stream_drop_ctx(ctx);
        sim_mem_drop_ctx(ctx);
    }
    sim_graphmem_drop(dev);
    sim_unlock();
    return CUDA_SUCCESS;
}

SIM_API CUresult CUDAAPI cuCtxCreate_v4(CUcontext *pctx, CUctxCreateParams *ctxCreateParams,
                                        unsigned int flags, CUdevice dev)
{
    struct CUctx_st *ctx;
    CUresult rc;

    SIM_ENTER(cuCtxCreate_v4);
    if (!pctx)
        return CUDA_ERROR_INVALID_VALUE;
    if (sim_device_physical(dev) < 0)
        return CUDA_ERROR_INVALID_DEVICE;
    ctx = calloc(1, sizeof(*ctx));
    if (!ctx)
        return CUDA_ERROR_OUT_OF_MEMORY;
    ctx->device = dev;
    sim_lock();
    rc = sim_mem_charge(dev, sim_config()->ctx_overhead);
    if (rc == CUDA_SUCCESS && !sim_stack_push(ctx)) {
        sim_mem_uncharge(dev, sim_config()->ctx_overhead);
        rc = CUDA_ERROR_INVALID_VALUE;
    }
    if (rc == CUDA_SUCCESS) {
        ctx->next = sim_created;
        sim_created = ctx;
        *pctx = ctx;
    }
    sim_unlock();
    if (rc != CUDA_SUCCESS)
        free(ctx);
    return rc;
}

/* Lock held. Unlinks a created context; false if ctx is not one. */
static bool sim_created_unlink(CUcontext ctx)
{
    for (struct CUctx_st **link = &sim_created; *link; link = &(*link)->next) {
        if (*link == ctx) {
            *link = ctx->next;
            return true;
        }
    }
    return false;
}

SIM_API CUresult CUDAAPI cuCtxDestroy_v2(CUcontext ctx)
{
    bool found;

    SIM_ENTER(cuCtxDestroy_v2);
    if (!ctx)
        return CUDA_ERROR_INVALID_VALUE;
    sim_lock();
    found = sim_created_unlink(ctx);
    if (found) {
        sim_stream_drop_ctx(ctx);
        sim_stack_forget(ctx);
        sim_mem_drop_ctx(ctx);
        sim_mem_uncharge(ctx->device, sim_config()->ctx_overhead);
    }
    sim_unlock();
    if (!found)
        return CUDA_ERROR_INVALID_CONTEXT;
    free(ctx);
    return CUDA_SUCCESS;
}

SIM_API CUresult CUDAAPI cuCtxGetCurrent(CUcontext *pctx)
{
    SIM_ENTER(cuCtxGetCurrent);
    if (!pctx)
        return CUDA_ERROR_INVALID_VALUE;
    sim_lock();
    *pctx = sim_ctx_current();
    sim_unlock();
    return CUDA_SUCCESS;
}

/* Replaces the top of the stack; NULL unbinds (pops) it. */
SIM_API CUresult CUDAAPI cuCtxSetCurrent(CUcontext ctx)
{
    CUresult rc = CUDA_SUCCESS;

    SIM_ENTER(cuCtxSetCurrent);
    sim_lock();
    if (ctx && !sim_ctx_live(ctx))
        rc = CUDA_ERROR_INVALID_CONTEXT;
    else if (sim_depth > 0 && ctx)
        sim_stack[sim_depth - 1] = ctx;
    else if (sim_depth > 0)
        sim_depth--;
    else if (ctx)
        sim_stack_push(ctx);
    sim_unlock();
    return rc;
}

SIM_API CUresult CUDAAPI cuCtxPushCurrent_v2(CUcontext ctx)
{
    CUresult rc = CUDA_SUCCESS;

    SIM_ENTER(cuCtxPushCurrent_v2);
    sim_lock();
    if (!sim_ctx_live(ctx))
        rc = CUDA_ERROR_INVALID_CONTEXT;
    else if (!sim_stack_push(ctx))
        rc = CUDA_ERROR_INVALID_VALUE;
    sim_unlock();
    return rc;
}

SIM_API CUresult CUDAAPI cuCtxPopCurrent_v2(CUcontext *pctx)
{
    SIM_ENTER(cuCtxPopCurrent_v2);
    if (sim_depth == 0)
        return CUDA_ERROR_INVALID_CONTEXT;
    sim_depth--;
    if (pctx)
        *pctx = sim_stack[sim_depth];
    return CUDA_SUCCESS;
}

SIM_API CUresult CUDAAPI cuCtxGetDevice(CUdevice *device)
{
    CUcontext ctx;

    SIM_ENTER(cuCtxGetDevice);
    if (!device)
        return CUDA_ERROR_INVALID_VALUE;
    sim_lock();
    ctx = sim_ctx_current();
    if (ctx)
        *device = ctx->device;
    sim_unlock();
    return ctx ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
}
