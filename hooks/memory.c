/* memory.c - allocation, release and memory-query hooks.
 *
 * The bodies only forward: the memory policy (may this process allocate N
 * bytes on this GPU, what a query reports) is lib/alloc.h, the size
 * estimates lib/arraysize.h. An allocation asks, calls the driver, and
 * settles with the allocation's key; a release takes the key's record,
 * calls the driver, and returns it; a query rewrites the driver's answer.
 */
#include <errno.h>

#include "alloc.h"
#include "arraysize.h"
#include "driver.h"
#include "hook.h"

/* lib/'s answer as the driver's: -ENOMEM is out of memory. */
static CUresult asked(int err)
{
	return err == 0 ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
}

/* ask: the alloc_ask* call; key: the new allocation's key, read only when
 * the driver succeeded. */
#define ALLOC_BODY_AS(settle, name, args, ask, kind, key)                        \
	HOOK_BEGIN(name, args);                                                 \
	struct alloc_ticket t;                                                  \
	CUresult r = asked(ask);                                                \
	if (r == CUDA_SUCCESS) {                                                \
		r = real.name args;                                             \
		settle(&t, r == CUDA_SUCCESS, kind, r == CUDA_SUCCESS ? (key) : 0); \
	}                                                                       \
	hook_leave();                                                           \
	return r

/* Memory that outlives its context (stream-ordered, cuMemCreate). */
#define ALLOC_BODY(...) ALLOC_BODY_AS(alloc_settle, __VA_ARGS__)
/* Memory the driver frees with the current context (cuCtxDestroy,
 * cuDevicePrimaryCtxReset): linear, pitched, managed, arrays. */
#define CTX_ALLOC_BODY(...) ALLOC_BODY_AS(alloc_settle_in_context, __VA_ARGS__)

/* ---- allocation hooks ---- */

HOOK_EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize)
{
	CTX_ALLOC_BODY(cuMemAlloc_v2, (dptr, bytesize), alloc_ask(&t, driver_current(), bytesize),
		       CHARGE_PTR, *dptr);
}

HOOK_EXPORT CUresult cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pPitch, size_t WidthInBytes,
					size_t Height, unsigned int ElementSizeBytes)
{
	HOOK_BEGIN(cuMemAllocPitch_v2, (dptr, pPitch, WidthInBytes, Height, ElementSizeBytes));
	struct alloc_ticket t;
	uint64_t guess = array_pitched_bytes(array_pitch(WidthInBytes), Height);
	CUresult r = asked(alloc_ask(&t, driver_current(), guess));
	if (r == CUDA_SUCCESS) {
		r = real.cuMemAllocPitch_v2(dptr, pPitch, WidthInBytes, Height, ElementSizeBytes);
		if (r == CUDA_SUCCESS && alloc_resize(&t, array_pitched_bytes(*pPitch, Height)) != 0) {
			real.cuMemFree_v2(*dptr); /* wider than the cap allows */
			r = CUDA_ERROR_OUT_OF_MEMORY;
		}
		alloc_settle_in_context(&t, r == CUDA_SUCCESS, CHARGE_PTR,
					r == CUDA_SUCCESS ? *dptr : 0);
	}
	hook_leave();
	return r;
}

HOOK_EXPORT CUresult cuMemAllocManaged(CUdeviceptr *dptr, size_t bytesize, unsigned int flags)
{
	CTX_ALLOC_BODY(cuMemAllocManaged, (dptr, bytesize, flags),
		   alloc_ask_managed(&t, driver_current(), bytesize), CHARGE_PTR, *dptr);
}

/* The stream-ordered allocations are charged at the call, on the device of
 * the current context (docs/memory.md: pools); into a capturing stream they
 * are graph memory nodes, charged when the graph runs (alloc.h). */
#define ALLOC_ASYNC_BODY(name, args) \
	ALLOC_BODY(name, args, alloc_ask(&t, alloc_async_ordinal(hStream, driver_current()), \
					 bytesize), CHARGE_PTR, *dptr)

HOOK_EXPORT CUresult cuMemAllocAsync(CUdeviceptr *dptr, size_t bytesize, CUstream hStream)
{
	ALLOC_ASYNC_BODY(cuMemAllocAsync, (dptr, bytesize, hStream));
}

HOOK_EXPORT CUresult cuMemAllocAsync_ptsz(CUdeviceptr *dptr, size_t bytesize, CUstream hStream)
{
	ALLOC_ASYNC_BODY(cuMemAllocAsync_ptsz, (dptr, bytesize, hStream));
}

HOOK_EXPORT CUresult cuMemAllocFromPoolAsync(CUdeviceptr *dptr, size_t bytesize,
					     CUmemoryPool pool, CUstream hStream)
{
	ALLOC_ASYNC_BODY(cuMemAllocFromPoolAsync, (dptr, bytesize, pool, hStream));
}

HOOK_EXPORT CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr *dptr, size_t bytesize,
						  CUmemoryPool pool, CUstream hStream)
{
	ALLOC_ASYNC_BODY(cuMemAllocFromPoolAsync_ptsz, (dptr, bytesize, pool, hStream));
}

/* Physical memory for VMM mappings is on the device the properties name;
 * host locations are not device memory (-1: not accounted). */
static int prop_ordinal(const CUmemAllocationProp *prop)
{
	if (prop == NULL || prop->location.type != CU_MEM_LOCATION_TYPE_DEVICE)
		return -1;
	return prop->location.id;
}

HOOK_EXPORT CUresult cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size,
				 const CUmemAllocationProp *prop, unsigned long long flags)
{
	ALLOC_BODY(cuMemCreate, (handle, size, prop, flags),
		   alloc_ask(&t, prop_ordinal(prop), size), CHARGE_HANDLE, *handle);
}

static uint64_t shape_bytes(const CUDA_ARRAY3D_DESCRIPTOR *a, unsigned levels)
{
	struct array_shape s = {
		a->Width, a->Height, a->Depth, (unsigned)a->Format, a->NumChannels, levels,
		(a->Flags & (CUDA_ARRAY3D_LAYERED | CUDA_ARRAY3D_CUBEMAP)) != 0,
	};
	return array_bytes(&s);
}

static uint64_t shape2d_bytes(const CUDA_ARRAY_DESCRIPTOR *a)
{
	struct array_shape s = {
		a->Width, a->Height, 0, (unsigned)a->Format, a->NumChannels, 1, 0,
	};
	return array_bytes(&s);
}

/* No descriptor: nothing accounted, the driver says what is wrong. */
#define ASK_ARRAY(desc, bytes) \
	((desc) == NULL ? alloc_ask(&t, -1, 0) : alloc_ask(&t, driver_current(), (bytes)))

HOOK_EXPORT CUresult cuArrayCreate_v2(CUarray *pHandle, const CUDA_ARRAY_DESCRIPTOR *pAllocateArray)
{
	CTX_ALLOC_BODY(cuArrayCreate_v2, (pHandle, pAllocateArray),
		   ASK_ARRAY(pAllocateArray, shape2d_bytes(pAllocateArray)), CHARGE_ARRAY,
		   (uintptr_t)*pHandle);
}

HOOK_EXPORT CUresult cuArray3DCreate_v2(CUarray *pHandle,
					const CUDA_ARRAY3D_DESCRIPTOR *pAllocateArray)
{
	CTX_ALLOC_BODY(cuArray3DCreate_v2, (pHandle, pAllocateArray),
		   ASK_ARRAY(pAllocateArray, shape_bytes(pAllocateArray, 1)), CHARGE_ARRAY,
		   (uintptr_t)*pHandle);
}

HOOK_EXPORT CUresult cuMipmappedArrayCreate(CUmipmappedArray *pHandle,
					    const CUDA_ARRAY3D_DESCRIPTOR *pMipmappedArrayDesc,
					    unsigned int numMipmapLevels)
{
	CTX_ALLOC_BODY(cuMipmappedArrayCreate, (pHandle, pMipmappedArrayDesc, numMipmapLevels),
		   ASK_ARRAY(pMipmappedArrayDesc, shape_bytes(pMipmappedArrayDesc, numMipmapLevels)),
		   CHARGE_MIPMAP, (uintptr_t)*pHandle);
}

/* ---- release hooks ---- */

#define RELEASE_BODY(name, args, kind, key)       \
	HOOK_BEGIN(name, args);                   \
	struct alloc_hold h;                      \
	alloc_take(&h, kind, key);                \
	CUresult r = real.name args;              \
	alloc_return(&h, r == CUDA_SUCCESS);      \
	hook_leave();                             \
	return r

HOOK_EXPORT CUresult cuMemFree_v2(CUdeviceptr dptr)
{
	RELEASE_BODY(cuMemFree_v2, (dptr), CHARGE_PTR, dptr);
}

/* Given back when the free is enqueued: docs/memory.md, pools. */
HOOK_EXPORT CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream hStream)
{
	RELEASE_BODY(cuMemFreeAsync, (dptr, hStream), CHARGE_PTR, dptr);
}

HOOK_EXPORT CUresult cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream hStream)
{
	RELEASE_BODY(cuMemFreeAsync_ptsz, (dptr, hStream), CHARGE_PTR, dptr);
}

HOOK_EXPORT CUresult cuMemRelease(CUmemGenericAllocationHandle handle)
{
	RELEASE_BODY(cuMemRelease, (handle), CHARGE_HANDLE, handle);
}

HOOK_EXPORT CUresult cuArrayDestroy(CUarray hArray)
{
	RELEASE_BODY(cuArrayDestroy, (hArray), CHARGE_ARRAY, (uintptr_t)hArray);
}

HOOK_EXPORT CUresult cuMipmappedArrayDestroy(CUmipmappedArray hMipmappedArray)
{
	RELEASE_BODY(cuMipmappedArrayDestroy, (hMipmappedArray), CHARGE_MIPMAP,
		     (uintptr_t)hMipmappedArray);
}

/* ---- memory no allocation hook sees ---- */

/* The driver's call, then `then` (a statement) when it succeeded. */
#define CALL_THEN_BODY(name, args, then)  \
	HOOK_BEGIN(name, args);           \
	CUresult r = real.name args;      \
	if (r == CUDA_SUCCESS) {          \
		then;                     \
	}                                 \
	hook_leave();                     \
	return r

/* A graph memory node: its memory is allocated when the graph runs. */
HOOK_EXPORT CUresult cuGraphAddMemAllocNode(CUgraphNode *phGraphNode, CUgraph hGraph,
					    const CUgraphNode *dependencies,
					    size_t numDependencies,
					    CUDA_MEM_ALLOC_NODE_PARAMS *nodeParams)
{
	CALL_THEN_BODY(cuGraphAddMemAllocNode,
		       (phGraphNode, hGraph, dependencies, numDependencies, nodeParams),
		       alloc_graph_seen());
}

HOOK_EXPORT CUresult cuDeviceGraphMemTrim(CUdevice device)
{
	CALL_THEN_BODY(cuDeviceGraphMemTrim, (device), alloc_graph_sync(device));
}

HOOK_EXPORT CUresult cuCtxDestroy_v2(CUcontext ctx)
{
	CALL_THEN_BODY(cuCtxDestroy_v2, (ctx), alloc_context_ended(ctx); alloc_graph_sync_all());
}

/* The primary context of dev when it is active, else NULL (never creates
 * it: a retain of an inactive one would). */
static CUcontext active_primary(CUdevice dev)
{
	unsigned flags = 0;
	int active = 0;
	CUcontext ctx = NULL;
	if (real.cuDevicePrimaryCtxGetState == NULL || real.cuDevicePrimaryCtxRetain == NULL ||
	    real.cuDevicePrimaryCtxRelease_v2 == NULL ||
	    real.cuDevicePrimaryCtxGetState(dev, &flags, &active) != CUDA_SUCCESS || !active ||
	    real.cuDevicePrimaryCtxRetain(&ctx, dev) != CUDA_SUCCESS)
		return NULL;
	real.cuDevicePrimaryCtxRelease_v2(dev);
	return ctx;
}

/* The primary context's memory is freed when it is reset. */
HOOK_EXPORT CUresult cuDevicePrimaryCtxReset_v2(CUdevice dev)
{
	HOOK_BEGIN(cuDevicePrimaryCtxReset_v2, (dev));
	CUcontext ctx = active_primary(dev);
	CUresult r = real.cuDevicePrimaryCtxReset_v2(dev);
	if (r == CUDA_SUCCESS) {
		if (ctx != NULL)
			alloc_context_ended(ctx);
		alloc_graph_sync(dev);
	}
	hook_leave();
	return r;
}

/* ... and when its last retain is released. */
HOOK_EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev)
{
	HOOK_BEGIN(cuDevicePrimaryCtxRelease_v2, (dev));
	CUcontext ctx = active_primary(dev);
	CUresult r = real.cuDevicePrimaryCtxRelease_v2(dev);
	if (r == CUDA_SUCCESS && ctx != NULL && active_primary(dev) == NULL) {
		alloc_context_ended(ctx);
		alloc_graph_sync(dev);
	}
	hook_leave();
	return r;
}

/* ---- queries ---- */

HOOK_EXPORT CUresult cuMemGetInfo_v2(size_t *free, size_t *total)
{
	HOOK_BEGIN(cuMemGetInfo_v2, (free, total));
	CUresult r = real.cuMemGetInfo_v2(free, total);
	if (r == CUDA_SUCCESS) {
		uint64_t f = *free, t = *total;
		alloc_report_info(driver_current(), &f, &t);
		*free = f;
		*total = t;
	}
	hook_leave();
	return r;
}

HOOK_EXPORT CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev)
{
	HOOK_BEGIN(cuDeviceTotalMem_v2, (bytes, dev));
	CUresult r = real.cuDeviceTotalMem_v2(bytes, dev);
	if (r == CUDA_SUCCESS) {
		uint64_t b = *bytes;
		alloc_report_total(dev, &b);
		*bytes = b;
	}
	hook_leave();
	return r;
}
