/* table.h - the one list of intercepted symbols.
 *
 * Each row names an exported symbol once, with its full prototype and its
 * argument list: X(kind, lib, name, params, args). Everything else is
 * generated from these rows: the exported prototypes, the real-function
 * slots and the symbol ids (here), the name index that answers dlsym and the
 * real-pointer index that answers cuGetProcAddress (table.c). A hook body
 * whose signature drifts from its row fails to compile (table.c checks each
 * one).
 *
 * kind says which file owns the body: launch/launchex/graphlaunch ->
 * launch.c (the stream is hStream, or in the CUlaunchConfig; a graph launch
 * also settles graph memory), alloc/release/memquery ->
 * memory.c, sync/capture -> capture.c, procaddr -> procaddr.c, nvml -> nvml.c.
 */
#ifndef CUSLICE_TABLE_H
#define CUSLICE_TABLE_H

#include "cuda_api.h"

#define LAUNCH_PARAMS (CUfunction f, unsigned int gridDimX, unsigned int gridDimY, \
	unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY, \
	unsigned int blockDimZ, unsigned int sharedMemBytes, CUstream hStream, \
	void **kernelParams, void **extra)
#define LAUNCH_ARGS (f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, \
	sharedMemBytes, hStream, kernelParams, extra)
#define COOP_PARAMS (CUfunction f, unsigned int gridDimX, unsigned int gridDimY, \
	unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY, \
	unsigned int blockDimZ, unsigned int sharedMemBytes, CUstream hStream, \
	void **kernelParams)
#define COOP_ARGS (f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, \
	sharedMemBytes, hStream, kernelParams)
#define LAUNCHEX_PARAMS (const CUlaunchConfig *config, CUfunction f, void **kernelParams, \
	void **extra)
#define LAUNCHEX_ARGS (config, f, kernelParams, extra)
#define CAPTURE_TO_GRAPH_PARAMS (CUstream hStream, CUgraph hGraph, \
	const CUgraphNode *dependencies, const CUgraphEdgeData *dependencyData, \
	size_t numDependencies, CUstreamCaptureMode mode)
#define CAPTURE_TO_GRAPH_ARGS (hStream, hGraph, dependencies, dependencyData, \
	numDependencies, mode)

#define CUDA_HOOKS(X) \
	/* launch */ \
	X(launch, cuda, cuLaunchKernel, LAUNCH_PARAMS, LAUNCH_ARGS) \
	X(launch, cuda, cuLaunchKernel_ptsz, LAUNCH_PARAMS, LAUNCH_ARGS) \
	X(launchex, cuda, cuLaunchKernelEx, LAUNCHEX_PARAMS, LAUNCHEX_ARGS) \
	X(launchex, cuda, cuLaunchKernelEx_ptsz, LAUNCHEX_PARAMS, LAUNCHEX_ARGS) \
	X(launch, cuda, cuLaunchCooperativeKernel, COOP_PARAMS, COOP_ARGS) \
	X(launch, cuda, cuLaunchCooperativeKernel_ptsz, COOP_PARAMS, COOP_ARGS) \
	X(graphlaunch, cuda, cuGraphLaunch, (CUgraphExec hGraphExec, CUstream hStream), \
	  (hGraphExec, hStream)) \
	X(graphlaunch, cuda, cuGraphLaunch_ptsz, (CUgraphExec hGraphExec, CUstream hStream), \
	  (hGraphExec, hStream)) \
	/* allocation */ \
	X(alloc, cuda, cuMemAlloc_v2, (CUdeviceptr *dptr, size_t bytesize), (dptr, bytesize)) \
	X(alloc, cuda, cuMemAllocPitch_v2, (CUdeviceptr *dptr, size_t *pPitch, \
	  size_t WidthInBytes, size_t Height, unsigned int ElementSizeBytes), \
	  (dptr, pPitch, WidthInBytes, Height, ElementSizeBytes)) \
	X(alloc, cuda, cuMemAllocManaged, (CUdeviceptr *dptr, size_t bytesize, \
	  unsigned int flags), (dptr, bytesize, flags)) \
	X(alloc, cuda, cuMemAllocAsync, (CUdeviceptr *dptr, size_t bytesize, CUstream hStream), \
	  (dptr, bytesize, hStream)) \
	X(alloc, cuda, cuMemAllocAsync_ptsz, (CUdeviceptr *dptr, size_t bytesize, \
	  CUstream hStream), (dptr, bytesize, hStream)) \
	X(alloc, cuda, cuMemAllocFromPoolAsync, (CUdeviceptr *dptr, size_t bytesize, \
	  CUmemoryPool pool, CUstream hStream), (dptr, bytesize, pool, hStream)) \
	X(alloc, cuda, cuMemAllocFromPoolAsync_ptsz, (CUdeviceptr *dptr, size_t bytesize, \
	  CUmemoryPool pool, CUstream hStream), (dptr, bytesize, pool, hStream)) \
	X(alloc, cuda, cuMemCreate, (CUmemGenericAllocationHandle *handle, size_t size, \
	  const CUmemAllocationProp *prop, unsigned long long flags), \
	  (handle, size, prop, flags)) \
	X(alloc, cuda, cuArrayCreate_v2, (CUarray *pHandle, \
	  const CUDA_ARRAY_DESCRIPTOR *pAllocateArray), (pHandle, pAllocateArray)) \
	X(alloc, cuda, cuArray3DCreate_v2, (CUarray *pHandle, \
	  const CUDA_ARRAY3D_DESCRIPTOR *pAllocateArray), (pHandle, pAllocateArray)) \
	X(alloc, cuda, cuMipmappedArrayCreate, (CUmipmappedArray *pHandle, \
	  const CUDA_ARRAY3D_DESCRIPTOR *pMipmappedArrayDesc, unsigned int numMipmapLevels), \
	  (pHandle, pMipmappedArrayDesc, numMipmapLevels)) \
	/* release */ \
	X(release, cuda, cuMemFree_v2, (CUdeviceptr dptr), (dptr)) \
	X(release, cuda, cuMemFreeAsync, (CUdeviceptr dptr, CUstream hStream), (dptr, hStream)) \
	X(release, cuda, cuMemFreeAsync_ptsz, (CUdeviceptr dptr, CUstream hStream), \
	  (dptr, hStream)) \
	X(release, cuda, cuMemRelease, (CUmemGenericAllocationHandle handle), (handle)) \
	X(release, cuda, cuArrayDestroy, (CUarray hArray), (hArray)) \
	X(release, cuda, cuMipmappedArrayDestroy, (CUmipmappedArray hMipmappedArray), \
	  (hMipmappedArray)) \
	/* memory no allocation hook sees: graph memory, and what a context's end frees */ \
	X(alloc, cuda, cuGraphAddMemAllocNode, (CUgraphNode *phGraphNode, CUgraph hGraph, \
	  const CUgraphNode *dependencies, size_t numDependencies, \
	  CUDA_MEM_ALLOC_NODE_PARAMS *nodeParams), \
	  (phGraphNode, hGraph, dependencies, numDependencies, nodeParams)) \
	X(release, cuda, cuDeviceGraphMemTrim, (CUdevice device), (device)) \
	X(release, cuda, cuCtxDestroy_v2, (CUcontext ctx), (ctx)) \
	X(release, cuda, cuDevicePrimaryCtxReset_v2, (CUdevice dev), (dev)) \
	X(release, cuda, cuDevicePrimaryCtxRelease_v2, (CUdevice dev), (dev)) \
	/* memory queries */ \
	X(memquery, cuda, cuMemGetInfo_v2, (size_t *free, size_t *total), (free, total)) \
	X(memquery, cuda, cuDeviceTotalMem_v2, (size_t *bytes, CUdevice dev), (bytes, dev)) \
	/* synchronisation */ \
	X(sync, cuda, cuCtxSynchronize, (void), ()) \
	X(sync, cuda, cuCtxSynchronize_v2, (CUcontext ctx), (ctx)) \
	/* stream capture */ \
	X(capture, cuda, cuStreamBeginCapture_v2, (CUstream hStream, CUstreamCaptureMode mode), \
	  (hStream, mode)) \
	X(capture, cuda, cuStreamBeginCapture_v2_ptsz, (CUstream hStream, \
	  CUstreamCaptureMode mode), (hStream, mode)) \
	X(capture, cuda, cuStreamBeginCaptureToGraph, CAPTURE_TO_GRAPH_PARAMS, \
	  CAPTURE_TO_GRAPH_ARGS) \
	X(capture, cuda, cuStreamBeginCaptureToGraph_ptsz, CAPTURE_TO_GRAPH_PARAMS, \
	  CAPTURE_TO_GRAPH_ARGS) \
	X(capture, cuda, cuStreamEndCapture, (CUstream hStream, CUgraph *phGraph), \
	  (hStream, phGraph)) \
	X(capture, cuda, cuStreamEndCapture_ptsz, (CUstream hStream, CUgraph *phGraph), \
	  (hStream, phGraph)) \
	X(capture, cuda, cuStreamIsCapturing, (CUstream hStream, \
	  CUstreamCaptureStatus *captureStatus), (hStream, captureStatus)) \
	X(capture, cuda, cuStreamIsCapturing_ptsz, (CUstream hStream, \
	  CUstreamCaptureStatus *captureStatus), (hStream, captureStatus)) \
	/* the driver's own symbol lookup */ \
	X(procaddr, cuda, cuGetProcAddress, (const char *symbol, void **pfn, int cudaVersion, \
	  cuuint64_t flags), (symbol, pfn, cudaVersion, flags)) \
	X(procaddr, cuda, cuGetProcAddress_v2, (const char *symbol, void **pfn, int cudaVersion, \
	  cuuint64_t flags, CUdriverProcAddressQueryResult *symbolStatus), \
	  (symbol, pfn, cudaVersion, flags, symbolStatus))

#define NVML_HOOKS(X) \
	X(nvml, nvml, nvmlDeviceGetMemoryInfo, (nvmlDevice_t device, nvmlMemory_t *memory), \
	  (device, memory)) \
	X(nvml, nvml, nvmlDeviceGetMemoryInfo_v2, (nvmlDevice_t device, \
	  nvmlMemory_v2_t *memory), (device, memory))

#define ALL_HOOKS(X) CUDA_HOOKS(X) NVML_HOOKS(X)

/* Driver functions the library calls but does not intercept. */
#define CUDA_NEEDED(X) \
	X(cuda, CUresult, cuInit, (unsigned int flags)) \
	X(cuda, CUresult, cuDriverGetVersion, (int *version)) \
	X(cuda, CUresult, cuDeviceGet, (CUdevice *device, int ordinal)) \
	X(cuda, CUresult, cuDeviceGetCount, (int *count)) \
	X(cuda, CUresult, cuDeviceGetUuid_v2, (CUuuid *uuid, CUdevice dev)) \
	X(cuda, CUresult, cuCtxGetCurrent, (CUcontext *pctx)) \
	X(cuda, CUresult, cuCtxSetCurrent, (CUcontext ctx)) \
	X(cuda, CUresult, cuCtxGetDevice, (CUdevice *device)) \
	X(cuda, CUresult, cuCtxPushCurrent_v2, (CUcontext ctx)) \
	X(cuda, CUresult, cuCtxPopCurrent_v2, (CUcontext *pctx)) \
	X(cuda, CUresult, cuStreamGetCtx, (CUstream hStream, CUcontext *pctx)) \
	X(cuda, CUresult, cuPointerGetAttribute, (void *data, CUpointer_attribute attribute, \
	  CUdeviceptr ptr)) \
	X(cuda, CUresult, cuMemPoolGetAttribute, (CUmemoryPool pool, CUmemPool_attribute attr, \
	  void *value)) \
	X(cuda, CUresult, cuDeviceGetDefaultMemPool, (CUmemoryPool *pool, CUdevice dev)) \
	X(cuda, CUresult, cuDeviceGetGraphMemAttribute, (CUdevice device, \
	  CUgraphMem_attribute attr, void *value)) \
	X(cuda, CUresult, cuDevicePrimaryCtxGetState, (CUdevice dev, unsigned int *flags, \
	  int *active)) \
	X(cuda, CUresult, cuDevicePrimaryCtxRetain, (CUcontext *pctx, CUdevice dev)) \
	X(cuda, CUresult, cuEventCreate, (CUevent *phEvent, unsigned int Flags)) \
	X(cuda, CUresult, cuEventRecord, (CUevent hEvent, CUstream hStream)) \
	X(cuda, CUresult, cuEventRecord_ptsz, (CUevent hEvent, CUstream hStream)) \
	X(cuda, CUresult, cuEventQuery, (CUevent hEvent)) \
	X(cuda, CUresult, cuEventDestroy_v2, (CUevent hEvent)) \
	X(nvml, nvmlReturn_t, nvmlDeviceGetUUID, (nvmlDevice_t device, char *uuid, unsigned int length))

enum hook_id {
#define X(kind, lib, name, params, args) HOOK_##name,
	ALL_HOOKS(X)
#undef X
	HOOK_COUNT
};

/* Real entry points, resolved once from libcuda.so.1 / libnvidia-ml.so.1.
 * A slot is NULL when the library or symbol is absent. */
struct real_fns {
#define X(kind, lib, name, params, args) CUresult (*name) params;
	CUDA_HOOKS(X)
#undef X
#define X(kind, lib, name, params, args) nvmlReturn_t (*name) params;
	NVML_HOOKS(X)
#undef X
#define X(lib, ret, name, params) ret (*name) params;
	CUDA_NEEDED(X)
#undef X
};

extern struct real_fns real;

/* Every hooked symbol is exported under its own name. */
#define X(kind, lib, name, params, args) HOOK_EXPORT CUresult name params;
CUDA_HOOKS(X)
#undef X
#define X(kind, lib, name, params, args) HOOK_EXPORT nvmlReturn_t name params;
NVML_HOOKS(X)
#undef X

/* The name of a hook. */
const char *hook_name(enum hook_id id);

/* Builds the index by name; call once before the lookups below. */
void hook_index_build(void);

/* Returns the hook exported under name, or NULL if name is not hooked. */
void *hook_by_name(const char *name);

/* Returns the hook for a real function pointer, or the pointer itself. */
void *hook_for_real(void *fn);

/* The real function behind a hooked name, or NULL. */
void *hook_real_by_name(const char *name);

/* Nonzero when the hooked name belongs to NVML. */
int hook_name_is_nvml(const char *name);

/* Fills the real slots of one library's rows (nvml: NVML's, else CUDA's)
 * from handle. */
void hook_resolve(void *handle, int nvml);

#endif
