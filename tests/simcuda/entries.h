/* entries.h - the one table of entry points of the simulated libcuda.
 *
 * Each row names one exported symbol once:
 *   X(symbol, base, version, per_thread)
 * symbol      the exported C name (also what SIMCUDA_COUNTS and SIMCUDA_FAIL use)
 * base        the name callers pass to cuGetProcAddress
 * version     the CUDA version (1000*major + 10*minor) the variant appeared in
 * per_thread  1 for a _ptsz variant, picked when the caller asks for the
 *             per-thread default stream
 *
 * cuGetProcAddress picks, among the rows of a base name, the newest variant
 * whose version is <= the requested one. From this list come the entry ids
 * (counters, error injection) and the cuGetProcAddress table; nothing else
 * lists the entry points. Add a symbol here and define it with SIM_API.
 */
#ifndef SIMCUDA_ENTRIES_H
#define SIMCUDA_ENTRIES_H

#define SIM_ENTRIES(X)                                                          \
    X(cuInit,                           cuInit,                      2000, 0)   \
    X(cuDriverGetVersion,               cuDriverGetVersion,          2000, 0)   \
    X(cuGetErrorName,                   cuGetErrorName,              2000, 0)   \
    X(cuGetErrorString,                 cuGetErrorString,            2000, 0)   \
    X(cuGetProcAddress,                 cuGetProcAddress,           11030, 0)   \
    X(cuGetProcAddress_v2,              cuGetProcAddress,           12000, 0)   \
    X(cuDeviceGet,                      cuDeviceGet,                 2000, 0)   \
    X(cuDeviceGetCount,                 cuDeviceGetCount,            2000, 0)   \
    X(cuDeviceGetName,                  cuDeviceGetName,             2000, 0)   \
    X(cuDeviceGetUuid,                  cuDeviceGetUuid,             9020, 0)   \
    X(cuDeviceGetUuid_v2,               cuDeviceGetUuid,            11040, 0)   \
    X(cuDeviceTotalMem_v2,              cuDeviceTotalMem,            3020, 0)   \
    X(cuDeviceGetAttribute,             cuDeviceGetAttribute,        2000, 0)   \
    X(cuDeviceGetDefaultMemPool,        cuDeviceGetDefaultMemPool,   2000, 0)   \
    X(cuDevicePrimaryCtxRetain,         cuDevicePrimaryCtxRetain,    2000, 0)   \
    X(cuDevicePrimaryCtxRelease_v2,     cuDevicePrimaryCtxRelease,  11000, 0)   \
    X(cuDevicePrimaryCtxReset_v2,       cuDevicePrimaryCtxReset,    11000, 0)   \
    X(cuDevicePrimaryCtxGetState,       cuDevicePrimaryCtxGetState,  7000, 0)   \
    X(cuCtxCreate_v4,                   cuCtxCreate,                12050, 0)   \
    X(cuCtxDestroy_v2,                  cuCtxDestroy,                4000, 0)   \
    X(cuCtxGetCurrent,                  cuCtxGetCurrent,             2000, 0)   \
    X(cuCtxSetCurrent,                  cuCtxSetCurrent,             2000, 0)   \
    X(cuCtxPushCurrent_v2,              cuCtxPushCurrent,            4000, 0)   \
    X(cuCtxPopCurrent_v2,               cuCtxPopCurrent,             4000, 0)   \
    X(cuCtxGetDevice,                   cuCtxGetDevice,              2000, 0)   \
    X(cuCtxSynchronize,                 cuCtxSynchronize,            2000, 0)   \
    X(cuCtxSynchronize_v2,              cuCtxSynchronize,           13000, 0)   \
    X(cuStreamCreate,                   cuStreamCreate,              2000, 0)   \
    X(cuStreamDestroy_v2,               cuStreamDestroy,             4000, 0)   \
    X(cuStreamSynchronize,              cuStreamSynchronize,         2000, 0)   \
    X(cuStreamSynchronize_ptsz,         cuStreamSynchronize,         7000, 1)   \
    X(cuStreamQuery,                    cuStreamQuery,               2000, 0)   \
    X(cuStreamQuery_ptsz,               cuStreamQuery,               7000, 1)   \
    X(cuEventCreate,                    cuEventCreate,               2000, 0)   \
    X(cuEventRecord,                    cuEventRecord,               2000, 0)   \
    X(cuEventRecord_ptsz,               cuEventRecord,               7000, 1)   \
    X(cuEventQuery,                     cuEventQuery,                2000, 0)   \
    X(cuEventSynchronize,               cuEventSynchronize,          2000, 0)   \
    X(cuEventDestroy_v2,                cuEventDestroy,              4000, 0)   \
    X(cuStreamBeginCapture_v2,          cuStreamBeginCapture,       10010, 0)   \
    X(cuStreamBeginCapture_v2_ptsz,     cuStreamBeginCapture,       10010, 1)   \
    X(cuStreamBeginCaptureToGraph,      cuStreamBeginCaptureToGraph, 2000, 0)   \
    X(cuStreamBeginCaptureToGraph_ptsz, cuStreamBeginCaptureToGraph, 7000, 1)   \
    X(cuStreamEndCapture,               cuStreamEndCapture,         10000, 0)   \
    X(cuStreamEndCapture_ptsz,          cuStreamEndCapture,         10000, 1)   \
    X(cuStreamIsCapturing,              cuStreamIsCapturing,        10000, 0)   \
    X(cuStreamIsCapturing_ptsz,         cuStreamIsCapturing,        10000, 1)   \
    X(cuGraphInstantiateWithFlags,      cuGraphInstantiateWithFlags, 2000, 0)   \
    X(cuGraphExecDestroy,               cuGraphExecDestroy,          2000, 0)   \
    X(cuGraphDestroy,                   cuGraphDestroy,              2000, 0)   \
    X(cuGraphLaunch,                    cuGraphLaunch,              10000, 0)   \
    X(cuGraphLaunch_ptsz,               cuGraphLaunch,              10000, 1)   \
    X(cuGraphAddMemAllocNode,           cuGraphAddMemAllocNode,     11040, 0)   \
    X(cuGraphAddMemFreeNode,            cuGraphAddMemFreeNode,      11040, 0)   \
    X(cuDeviceGraphMemTrim,             cuDeviceGraphMemTrim,       11040, 0)   \
    X(cuDeviceGetGraphMemAttribute,     cuDeviceGetGraphMemAttribute, 11040, 0) \
    X(cuDeviceSetGraphMemAttribute,     cuDeviceSetGraphMemAttribute, 11040, 0) \
    X(cuLaunchKernel,                   cuLaunchKernel,              4000, 0)   \
    X(cuLaunchKernel_ptsz,              cuLaunchKernel,              7000, 1)   \
    X(cuLaunchKernelEx,                 cuLaunchKernelEx,           11060, 0)   \
    X(cuLaunchKernelEx_ptsz,            cuLaunchKernelEx,           11060, 1)   \
    X(cuLaunchCooperativeKernel,        cuLaunchCooperativeKernel,   9000, 0)   \
    X(cuLaunchCooperativeKernel_ptsz,   cuLaunchCooperativeKernel,   9000, 1)   \
    X(cuMemAlloc_v2,                    cuMemAlloc,                  3020, 0)   \
    X(cuMemAllocPitch_v2,               cuMemAllocPitch,             3020, 0)   \
    X(cuMemAllocManaged,                cuMemAllocManaged,           2000, 0)   \
    X(cuMemAllocAsync,                  cuMemAllocAsync,            11020, 0)   \
    X(cuMemAllocAsync_ptsz,             cuMemAllocAsync,            11020, 1)   \
    X(cuMemAllocFromPoolAsync,          cuMemAllocFromPoolAsync,    11020, 0)   \
    X(cuMemAllocFromPoolAsync_ptsz,     cuMemAllocFromPoolAsync,    11020, 1)   \
    X(cuMemFree_v2,                     cuMemFree,                   3020, 0)   \
    X(cuMemFreeAsync,                   cuMemFreeAsync,             11020, 0)   \
    X(cuMemFreeAsync_ptsz,              cuMemFreeAsync,             11020, 1)   \
    X(cuMemCreate,                      cuMemCreate,                 2000, 0)   \
    X(cuMemRelease,                     cuMemRelease,                2000, 0)   \
    X(cuMemGetInfo_v2,                  cuMemGetInfo,                3020, 0)   \
    X(cuArrayCreate_v2,                 cuArrayCreate,               3020, 0)   \
    X(cuArray3DCreate_v2,               cuArray3DCreate,             3020, 0)   \
    X(cuMipmappedArrayCreate,           cuMipmappedArrayCreate,      2000, 0)   \
    X(cuArrayDestroy,                   cuArrayDestroy,              2000, 0)   \
    X(cuMipmappedArrayDestroy,          cuMipmappedArrayDestroy,     2000, 0)   \
    X(cuMemcpyHtoD_v2,                  cuMemcpyHtoD,                3020, 0)   \
    X(cuMemcpyDtoH_v2,                  cuMemcpyDtoH,                3020, 0)

/* SIM_ID_<symbol>: dense ids 0..SIM_ID_COUNT-1 in table order. */
#define SIM_ENTRY_ID(symbol, base, version, per_thread) SIM_ID_##symbol,
enum sim_entry_id { SIM_ENTRIES(SIM_ENTRY_ID) SIM_ID_COUNT };
#undef SIM_ENTRY_ID

#endif /* SIMCUDA_ENTRIES_H */
