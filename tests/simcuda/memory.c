/* memory.c - simulated device memory of the simulated libcuda.
 *
 * Bytes are charged in the device's shared state (simstate.c), so every
 * process using the simulator sees one pool of SIMCUDA_MEM_TOTAL per device;
 * a request that does not fit fails with CUDA_ERROR_OUT_OF_MEMORY. Device
 * pointers are fake, unique, 512-byte aligned addresses that nobody may
 * dereference; handles (cuMemCreate, arrays) are fake values too. A
 * per-process map (allocmap.c) remembers each one's size, so frees return
 * the right amount and an unknown or repeated free is refused.
 */
#include "simcuda.h"
#include "allocmap.h"
#include "simstate.h"

#include "arraysize.h"

#include <string.h>

#define SIM_ADDR_BASE 0x00000a0000000000ull  /* first fake device pointer */
#define SIM_ADDR_ALIGN 512ull
#define SIM_HANDLE_BASE 0x1000ull            /* first fake handle */
#define SIM_MIPMAP_MAX_LEVELS 32

struct CUmemPoolHandle_st {
    CUdevice device;
};

static struct sim_state *sim_states[SIM_MAX_DEVICES]; /* by physical index */
static struct sim_alloc_map sim_allocs;
static struct CUmemPoolHandle_st sim_pools[SIM_MAX_DEVICES]; /* default pools */
static uint64_t sim_next_addr = SIM_ADDR_BASE;
static uint64_t sim_next_handle = SIM_HANDLE_BASE;

CUresult sim_mem_attach(int phys)
{
    const struct sim_config *cfg = sim_config();

    if (!sim_states[phys] && sim_state_open(cfg->env.dir, phys, &sim_states[phys]) < 0)
        return CUDA_ERROR_OPERATING_SYSTEM;
    sim_state_announce_total(sim_states[phys], cfg->env.mem_total);
    sim_state_reclaim(sim_states[phys], true);
    return CUDA_SUCCESS;
}

CUresult sim_mem_charge(CUdevice dev, uint64_t bytes)
{
    int phys = sim_device_physical(dev);

    if (bytes == 0)
        return CUDA_SUCCESS;
    if (phys < 0)
        return CUDA_ERROR_INVALID_DEVICE;
    if (sim_state_charge(sim_states[phys], bytes, sim_config()->env.mem_total) < 0)
        return CUDA_ERROR_OUT_OF_MEMORY;
    return CUDA_SUCCESS;
}

void sim_mem_uncharge(CUdevice dev, uint64_t bytes)
{
    int phys = sim_device_physical(dev);

    if (bytes > 0 && phys >= 0)
        sim_state_uncharge(sim_states[phys], bytes);
}

void sim_mem_exit(void)
{
    for (int i = 0; i < SIM_MAX_DEVICES; i++) {
        if (sim_states[i])
            sim_state_leave(sim_states[i]);
    }
}

void sim_mem_reset(void)
{
    sim_alloc_map_clear(&sim_allocs);
}

void sim_mem_drop_ctx(CUcontext ctx)
{
    struct sim_alloc a;

    while (sim_alloc_map_take_owned(&sim_allocs, (uint64_t)(uintptr_t)ctx, &a) == 0) {
        if (a.phys >= 0 && a.phys < SIM_MAX_DEVICES && sim_states[a.phys])
            sim_state_uncharge(sim_states[a.phys], a.bytes);
    }
}

/* A fresh key: an aligned address range for linear memory, else a handle. */
static uint64_t sim_mem_next_key(enum sim_alloc_kind kind, uint64_t bytes)
{
    uint64_t key, span;

    if (kind != SIM_ALLOC_LINEAR) {
        key = sim_next_handle;
        sim_next_handle += 16;
        return key;
    }
    if (__builtin_add_overflow(bytes, SIM_ADDR_ALIGN - 1, &span))
        return 0;
    span &= ~(SIM_ADDR_ALIGN - 1);
    key = sim_next_addr;
    if (__builtin_add_overflow(sim_next_addr, span, &sim_next_addr))
        return 0;
    return key;
}

uint64_t sim_mem_new_address(uint64_t bytes)
{
    return sim_mem_next_key(SIM_ALLOC_LINEAR, bytes);
}

/* Lock held. Charges bytes on dev and remembers a new key for them, owned by
 * ctx (NULL: memory a context's destruction does not free). */
static CUresult sim_mem_track(CUdevice dev, uint64_t bytes, enum sim_alloc_kind kind,
                              CUcontext ctx, uint64_t *key)
{
    struct sim_alloc a = { .bytes = bytes, .phys = sim_device_physical(dev), .kind = kind,
                           .owner = (uint64_t)(uintptr_t)ctx };
    CUresult rc = sim_mem_charge(dev, bytes);

    if (rc != CUDA_SUCCESS)
        return rc;
    a.key = sim_mem_next_key(kind, bytes);
    if (a.key == 0 || sim_alloc_map_put(&sim_allocs, &a) < 0) {
        sim_mem_uncharge(dev, bytes);
        return CUDA_ERROR_OUT_OF_MEMORY;
    }
    *key = a.key;
    return CUDA_SUCCESS;
}

/* Lock held. Forgets key and returns its bytes; `unknown` if it is not one. */
static CUresult sim_mem_untrack(uint64_t key, enum sim_alloc_kind kind, CUresult unknown)
{
    struct sim_alloc a;

    if (sim_alloc_map_take(&sim_allocs, key, kind, &a) < 0)
        return unknown;
    if (a.phys >= 0 && a.phys < SIM_MAX_DEVICES && sim_states[a.phys])
        sim_state_uncharge(sim_states[a.phys], a.bytes);
    return CUDA_SUCCESS;
}

/* Lock held. The device of the current context. */
static CUresult sim_mem_current_device(CUdevice *dev)
{
    CUcontext ctx = sim_ctx_current();

    if (!ctx)
        return CUDA_ERROR_INVALID_CONTEXT;
    *dev = ctx->device;
    return CUDA_SUCCESS;
}

/* Allocation on the current context's device. */
static CUresult sim_alloc_current(uint64_t bytes, enum sim_alloc_kind kind, uint64_t *key)
{
    CUdevice dev;
    CUresult rc;

    sim_lock();
    rc = sim_mem_current_device(&dev);
    if (rc == CUDA_SUCCESS)
        rc = sim_mem_track(dev, bytes, kind, sim_ctx_current(), key);
    sim_unlock();
    return rc;
}

static CUresult sim_alloc_linear(CUdeviceptr *dptr, size_t bytesize)
{
    uint64_t key;
    CUresult rc;

    if (!dptr || bytesize == 0)
        return CUDA_ERROR_INVALID_VALUE;
    rc = sim_alloc_current(bytesize, SIM_ALLOC_LINEAR, &key);
    if (rc == CUDA_SUCCESS)
        *dptr = (CUdeviceptr)key;
    return rc;
}

SIM_API CUresult CUDAAPI cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize)
{
    SIM_ENTER(cuMemAlloc_v2);
    return sim_alloc_linear(dptr, bytesize);
}

SIM_API CUresult CUDAAPI cuMemAllocManaged(CUdeviceptr *dptr, size_t bytesize, unsigned int flags)
{
    SIM_ENTER(cuMemAllocManaged);
    if (flags != CU_MEM_ATTACH_GLOBAL && flags != CU_MEM_ATTACH_HOST)
        return CUDA_ERROR_INVALID_VALUE;
    return sim_alloc_linear(dptr, bytesize);
}

SIM_API CUresult CUDAAPI cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pPitch,
                                            size_t WidthInBytes, size_t Height,
                                            unsigned int ElementSizeBytes)
{
    uint64_t pitch, bytes;
    CUresult rc;

    SIM_ENTER(cuMemAllocPitch_v2);
    if (!dptr || !pPitch || !WidthInBytes || !Height ||
        (ElementSizeBytes != 4 && ElementSizeBytes != 8 && ElementSizeBytes != 16))
        return CUDA_ERROR_INVALID_VALUE;
    pitch = array_pitch(WidthInBytes);
    bytes = array_pitched_bytes(pitch, Height);
    if (bytes == UINT64_MAX)
        return CUDA_ERROR_OUT_OF_MEMORY;
    rc = sim_alloc_linear(dptr, bytes);
    if (rc == CUDA_SUCCESS)
        *pPitch = pitch;
    return rc;
}

/* Stream-ordered allocation: charged at once on the stream's device. */
static CUresult sim_alloc_on_stream(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool,
                                    CUstream h)
{
    struct CUstream_st *s;
    uint64_t key;
    CUcontext ctx;
    CUresult rc;

    if (!dptr || bytesize == 0)
        return CUDA_ERROR_INVALID_VALUE;
    sim_lock();
    rc = sim_stream_resolve(h, &s, &ctx);
    if (rc == CUDA_SUCCESS && s && s->capture.status != CU_STREAM_CAPTURE_STATUS_NONE)
        rc = sim_graphmem_capture_alloc(s, pool ? pool->device : ctx->device, bytesize, &key);
    else if (rc == CUDA_SUCCESS)
        rc = sim_mem_track(pool ? pool->device : ctx->device, bytesize, SIM_ALLOC_LINEAR, NULL,
                           &key);
    sim_unlock();
    if (rc == CUDA_SUCCESS)
        *dptr = (CUdeviceptr)key;
    return rc;
}

SIM_API CUresult CUDAAPI cuMemAllocAsync(CUdeviceptr *dptr, size_t bytesize, CUstream hStream)
{
    SIM_ENTER(cuMemAllocAsync);
    return sim_alloc_on_stream(dptr, bytesize, NULL, hStream);
}

SIM_API CUresult CUDAAPI cuMemAllocAsync_ptsz(CUdeviceptr *dptr, size_t bytesize,
                                              CUstream hStream)
{
    SIM_ENTER(cuMemAllocAsync_ptsz);
    return sim_alloc_on_stream(dptr, bytesize, NULL, hStream);
}

static bool sim_pool_valid(CUmemoryPool pool)
{
    for (int i = 0; i < sim_device_count(); i++) {
        if (pool == &sim_pools[i])
            return true;
    }
    return false;
}

static CUresult sim_alloc_from_pool(CUdeviceptr *dptr, size_t bytesize, CUmemoryPool pool,
                                    CUstream h)
{
    if (!sim_pool_valid(pool))
        return CUDA_ERROR_INVALID_VALUE;
    return sim_alloc_on_stream(dptr, bytesize, pool, h);
}

SIM_API CUresult CUDAAPI cuMemAllocFromPoolAsync(CUdeviceptr *dptr, size_t bytesize,
                                                 CUmemoryPool pool, CUstream hStream)
{
    SIM_ENTER(cuMemAllocFromPoolAsync);
    return sim_alloc_from_pool(dptr, bytesize, pool, hStream);
}

SIM_API CUresult CUDAAPI cuMemAllocFromPoolAsync_ptsz(CUdeviceptr *dptr, size_t bytesize,
                                                      CUmemoryPool pool, CUstream hStream)
{
    SIM_ENTER(cuMemAllocFromPoolAsync_ptsz);
    return sim_alloc_from_pool(dptr, bytesize, pool, hStream);
}

SIM_API CUresult CUDAAPI cuDeviceGetDefaultMemPool(CUmemoryPool *pool_out, CUdevice dev)
{
    SIM_ENTER(cuDeviceGetDefaultMemPool);
    if (!pool_out)
        return CUDA_ERROR_INVALID_VALUE;
    if (sim_device_physical(dev) < 0)
        return CUDA_ERROR_INVALID_DEVICE;
    sim_pools[dev].device = dev;
    *pool_out = &sim_pools[dev];
    return CUDA_SUCCESS;
}

SIM_API CUresult CUDAAPI cuMemFree_v2(CUdeviceptr dptr)
{
    CUdevice dev;
    CUresult rc;

    SIM_ENTER(cuMemFree_v2);
    sim_lock();
    rc = sim_mem_current_device(&dev);
    if (rc == CUDA_SUCCESS)
        rc = sim_mem_untrack(dptr, SIM_ALLOC_LINEAR, CUDA_ERROR_INVALID_VALUE);
    if (rc == CUDA_ERROR_INVALID_VALUE && sim_graphmem_free(dptr))
        rc = CUDA_SUCCESS; /* a graph allocation, freed outside its graph */
    sim_unlock();
    return rc;
}

/* Stream-ordered free: returned at once. */
static CUresult sim_free_on_stream(CUdeviceptr dptr, CUstream h)
{
    struct CUstream_st *s;
    CUcontext ctx;
    CUresult rc;

    sim_lock();
    rc = sim_stream_resolve(h, &s, &ctx);
    if (rc == CUDA_SUCCESS && s && s->capture.status != CU_STREAM_CAPTURE_STATUS_NONE)
        rc = sim_graphmem_capture_free(s, dptr);
    else if (rc == CUDA_SUCCESS)
        rc = sim_mem_untrack(dptr, SIM_ALLOC_LINEAR, CUDA_ERROR_INVALID_VALUE);
    if (rc == CUDA_ERROR_INVALID_VALUE && sim_graphmem_free(dptr))
        rc = CUDA_SUCCESS; /* a graph allocation, freed outside its graph */
    sim_unlock();
    return rc;
}

SIM_API CUresult CUDAAPI cuMemFreeAsync(CUdeviceptr dptr, CUstream hStream)
{
    SIM_ENTER(cuMemFreeAsync);
    return sim_free_on_stream(dptr, hStream);
}

SIM_API CUresult CUDAAPI cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream hStream)
{
    SIM_ENTER(cuMemFreeAsync_ptsz);
    return sim_free_on_stream(dptr, hStream);
}

SIM_API CUresult CUDAAPI cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size,
                                     const CUmemAllocationProp *prop, unsigned long long flags)
{
    uint64_t key;
    CUresult rc;

    SIM_ENTER(cuMemCreate);
    if (!handle || !prop || size == 0 || flags != 0 ||
        prop->location.type != CU_MEM_LOCATION_TYPE_DEVICE)
        return CUDA_ERROR_INVALID_VALUE;
    if (sim_device_physical(prop->location.id) < 0)
        return CUDA_ERROR_INVALID_DEVICE;
    sim_lock();
    rc = sim_mem_track(prop->location.id, size, SIM_ALLOC_HANDLE, NULL, &key);
    sim_unlock();
    if (rc == CUDA_SUCCESS)
        *handle = key;
    return rc;
}

SIM_API CUresult CUDAAPI cuMemRelease(CUmemGenericAllocationHandle handle)
{
    CUresult rc;

    SIM_ENTER(cuMemRelease);
    sim_lock();
    rc = sim_mem_untrack(handle, SIM_ALLOC_HANDLE, CUDA_ERROR_INVALID_VALUE);
    sim_unlock();
    return rc;
}

SIM_API CUresult CUDAAPI cuMemGetInfo_v2(size_t *freeBytes, size_t *totalBytes)
{
    struct sim_state_usage usage;
    uint64_t cap = sim_config()->env.mem_total;
    CUdevice dev;
    CUresult rc;

    SIM_ENTER(cuMemGetInfo_v2);
    if (!freeBytes || !totalBytes)
        return CUDA_ERROR_INVALID_VALUE;
    sim_lock();
    rc = sim_mem_current_device(&dev);
    if (rc == CUDA_SUCCESS)
        sim_state_read(sim_states[sim_device_physical(dev)], &usage);
    sim_unlock();
    if (rc != CUDA_SUCCESS)
        return rc;
    *freeBytes = (size_t)(usage.used < cap ? cap - usage.used : 0);
    *totalBytes = (size_t)cap;
    return CUDA_SUCCESS;
}

/* The sizes are lib/arraysize.c's, the estimates the hooks charge, so that
 * the two cannot drift apart; its format table must be cuda.h's. */
#define SIM_CHECK_FORMAT(name, value, bytes) \
    _Static_assert(CU_AD_FORMAT_##name == (value), "arraysize.h: CU_AD_FORMAT_" #name);
ARRAY_FORMATS(SIM_CHECK_FORMAT)
#undef SIM_CHECK_FORMAT

/* The bytes of an array of levels levels, validated as the driver would. */
static CUresult sim_array_bytes(const CUDA_ARRAY3D_DESCRIPTOR *d, unsigned levels, uint64_t *out)
{
    if (!d->Width || !array_format_bytes((unsigned)d->Format) || d->NumChannels < 1 ||
        d->NumChannels > 4 || levels == 0 || levels > SIM_MIPMAP_MAX_LEVELS)
        return CUDA_ERROR_INVALID_VALUE;
    struct array_shape shape = {
        d->Width, d->Height, d->Depth, (unsigned)d->Format, d->NumChannels, levels,
        (d->Flags & (CUDA_ARRAY3D_LAYERED | CUDA_ARRAY3D_CUBEMAP)) != 0,
    };
    *out = array_bytes(&shape);
    return *out == UINT64_MAX ? CUDA_ERROR_OUT_OF_MEMORY : CUDA_SUCCESS;
}

static CUresult sim_array_create(void **pHandle, const CUDA_ARRAY3D_DESCRIPTOR *d,
                                 unsigned levels, enum sim_alloc_kind kind)
{
    uint64_t bytes, key;
    CUresult rc;

    if (!pHandle || !d)
        return CUDA_ERROR_INVALID_VALUE;
    rc = sim_array_bytes(d, kind == SIM_ALLOC_MIPMAP ? levels : 1, &bytes);
    if (rc == CUDA_SUCCESS)
        rc = sim_alloc_current(bytes, kind, &key);
    if (rc == CUDA_SUCCESS)
        *pHandle = (void *)(uintptr_t)key;
    return rc;
}

SIM_API CUresult CUDAAPI cuArrayCreate_v2(CUarray *pHandle,
                                          const CUDA_ARRAY_DESCRIPTOR *pAllocateArray)
{
    CUDA_ARRAY3D_DESCRIPTOR d = { 0 };

    SIM_ENTER(cuArrayCreate_v2);
    if (!pAllocateArray)
        return CUDA_ERROR_INVALID_VALUE;
    d.Width = pAllocateArray->Width;
    d.Height = pAllocateArray->Height;
    d.Format = pAllocateArray->Format;
    d.NumChannels = pAllocateArray->NumChannels;
    return sim_array_create((void **)pHandle, &d, 1, SIM_ALLOC_ARRAY);
}

SIM_API CUresult CUDAAPI cuArray3DCreate_v2(CUarray *pHandle,
                                            const CUDA_ARRAY3D_DESCRIPTOR *pAllocateArray)
{
    SIM_ENTER(cuArray3DCreate_v2);
    return sim_array_create((void **)pHandle, pAllocateArray, 1, SIM_ALLOC_ARRAY);
}

SIM_API CUresult CUDAAPI cuMipmappedArrayCreate(CUmipmappedArray *pHandle,
                                                const CUDA_ARRAY3D_DESCRIPTOR *pMipmappedArrayDesc,
                                                unsigned int numMipmapLevels)
{
    SIM_ENTER(cuMipmappedArrayCreate);
    return sim_array_create((void **)pHandle, pMipmappedArrayDesc, numMipmapLevels,
                            SIM_ALLOC_MIPMAP);
}

static CUresult sim_array_destroy(void *handle, enum sim_alloc_kind kind)
{
    CUresult rc;

    sim_lock();
    rc = sim_mem_untrack((uint64_t)(uintptr_t)handle, kind, CUDA_ERROR_INVALID_HANDLE);
    sim_unlock();
    return rc;
}

SIM_API CUresult CUDAAPI cuArrayDestroy(CUarray hArray)
{
    SIM_ENTER(cuArrayDestroy);
    return sim_array_destroy(hArray, SIM_ALLOC_ARRAY);
}

SIM_API CUresult CUDAAPI cuMipmappedArrayDestroy(CUmipmappedArray hMipmappedArray)
{
    SIM_ENTER(cuMipmappedArrayDestroy);
    return sim_array_destroy(hMipmappedArray, SIM_ALLOC_MIPMAP);
}

/* Copies on the legacy stream wait for the context's queue to drain. */
static CUresult sim_copy_wait(void)
{
    uint64_t until = 0;
    CUcontext ctx;

    sim_lock();
    ctx = sim_ctx_current();
    if (ctx)
        until = ctx->busy_until_ns;
    sim_unlock();
    if (!ctx)
        return CUDA_ERROR_INVALID_CONTEXT;
    sim_sleep_until(until);
    return CUDA_SUCCESS;
}

SIM_API CUresult CUDAAPI cuMemcpyHtoD_v2(CUdeviceptr dstDevice, const void *srcHost,
                                         size_t ByteCount)
{
    SIM_ENTER(cuMemcpyHtoD_v2);
    if (!dstDevice || (!srcHost && ByteCount))
        return CUDA_ERROR_INVALID_VALUE;
    return sim_copy_wait();
}

/* Device memory holds nothing, so the host buffer reads back zeros. */
SIM_API CUresult CUDAAPI cuMemcpyDtoH_v2(void *dstHost, CUdeviceptr srcDevice, size_t ByteCount)
{
    CUresult rc;

    SIM_ENTER(cuMemcpyDtoH_v2);
    if (!srcDevice || (!dstHost && ByteCount))
        return CUDA_ERROR_INVALID_VALUE;
    rc = sim_copy_wait();
    if (rc == CUDA_SUCCESS && ByteCount)
        memset(dstHost, 0, ByteCount);
    return rc;
}
