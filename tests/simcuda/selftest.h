/* selftest.h - what the files of the simulated driver's self-test share:
 * the check counters, the settings the test runs under, and the driver's
 * entry points as resolved through cuGetProcAddress_v2.
 */
#ifndef SIMCUDA_SELFTEST_H
#define SIMCUDA_SELFTEST_H

#include <cuda.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MiB (1024ull * 1024ull)
#define TOTAL (64 * MiB)
#define OVERHEAD (4 * MiB)
#define VERSION 13000
#define PTSZ CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM
#define UUID_PHYS1 "GPU-515ecda0-5173-4000-8000-000000000001"

/* Settings of this run (simcuda-selftest.c). */
extern bool slow;             /* SIMCUDA_SELFTEST_SLOW: no upper time bounds */
extern void *libcuda;         /* dlopen handle of libcuda.so.1 */
extern char state_dir[PATH_MAX];
extern char log_path[PATH_MAX + 32];
extern const char *stat_tool; /* path of simcuda-stat, or NULL */
extern CUcontext ctx0;        /* primary context of ordinal 0, current in main */

/* Counts one check; prints what failed. Returns ok. */
bool check(bool ok, const char *what, const char *file, int line);

#define CHECK(cond) check((cond), #cond, __FILE__, __LINE__)
#define CHECK_RC(call, want) check((call) == (want), #call " == " #want, __FILE__, __LINE__)

uint64_t now_us(void);

/* ---- the driver, resolved through cuGetProcAddress_v2 ---- */

typedef CUresult (*getproc_v2_fn)(const char *, void **, int, cuuint64_t,
                                  CUdriverProcAddressQueryResult *);
typedef CUresult (*getproc_v1_fn)(const char *, void **, int, cuuint64_t);

struct sim_driver {
    __typeof__(cuInit) *Init;
    __typeof__(cuDriverGetVersion) *DriverGetVersion;
    __typeof__(cuGetErrorName) *GetErrorName;
    __typeof__(cuGetErrorString) *GetErrorString;
    __typeof__(cuDeviceGet) *DeviceGet;
    __typeof__(cuDeviceGetCount) *DeviceGetCount;
    __typeof__(cuDeviceGetName) *DeviceGetName;
    __typeof__(cuDeviceGetUuid_v2) *DeviceGetUuid;
    __typeof__(cuDeviceTotalMem_v2) *DeviceTotalMem;
    __typeof__(cuDeviceGetAttribute) *DeviceGetAttribute;
    __typeof__(cuDeviceGetDefaultMemPool) *DeviceGetDefaultMemPool;
    __typeof__(cuDevicePrimaryCtxRetain) *PrimaryCtxRetain;
    __typeof__(cuDevicePrimaryCtxRelease_v2) *PrimaryCtxRelease;
    __typeof__(cuDevicePrimaryCtxReset_v2) *PrimaryCtxReset;
    __typeof__(cuDevicePrimaryCtxGetState) *PrimaryCtxGetState;
    __typeof__(cuGraphAddMemAllocNode) *GraphAddMemAllocNode;
    __typeof__(cuGraphAddMemFreeNode) *GraphAddMemFreeNode;
    __typeof__(cuDeviceGraphMemTrim) *DeviceGraphMemTrim;
    __typeof__(cuDeviceGetGraphMemAttribute) *DeviceGetGraphMemAttribute;
    __typeof__(cuDeviceSetGraphMemAttribute) *DeviceSetGraphMemAttribute;
    __typeof__(cuCtxCreate_v4) *CtxCreate;
    __typeof__(cuCtxDestroy_v2) *CtxDestroy;
    __typeof__(cuCtxGetCurrent) *CtxGetCurrent;
    __typeof__(cuCtxSetCurrent) *CtxSetCurrent;
    __typeof__(cuCtxPushCurrent_v2) *CtxPushCurrent;
    __typeof__(cuCtxPopCurrent_v2) *CtxPopCurrent;
    __typeof__(cuCtxGetDevice) *CtxGetDevice;
    __typeof__(cuCtxSynchronize) *CtxSynchronizeV1;
    __typeof__(cuCtxSynchronize_v2) *CtxSynchronize;
    __typeof__(cuStreamCreate) *StreamCreate;
    __typeof__(cuStreamDestroy_v2) *StreamDestroy;
    __typeof__(cuStreamSynchronize) *StreamSynchronize;
    __typeof__(cuStreamQuery) *StreamQuery;
    __typeof__(cuStreamBeginCapture_v2) *StreamBeginCapture;
    __typeof__(cuStreamBeginCaptureToGraph) *StreamBeginCaptureToGraph;
    __typeof__(cuStreamEndCapture) *StreamEndCapture;
    __typeof__(cuStreamIsCapturing) *StreamIsCapturing;
    __typeof__(cuGraphInstantiateWithFlags) *GraphInstantiate;
    __typeof__(cuGraphExecDestroy) *GraphExecDestroy;
    __typeof__(cuGraphDestroy) *GraphDestroy;
    __typeof__(cuGraphLaunch) *GraphLaunch;
    __typeof__(cuLaunchKernel) *LaunchKernel;
    __typeof__(cuLaunchKernel) *LaunchKernelPtsz;
    __typeof__(cuLaunchKernelEx) *LaunchKernelEx;
    __typeof__(cuLaunchCooperativeKernel) *LaunchCooperativeKernel;
    __typeof__(cuMemAlloc_v2) *MemAlloc;
    __typeof__(cuMemAllocPitch_v2) *MemAllocPitch;
    __typeof__(cuMemAllocManaged) *MemAllocManaged;
    __typeof__(cuMemAllocAsync) *MemAllocAsync;
    __typeof__(cuMemAllocFromPoolAsync) *MemAllocFromPoolAsync;
    __typeof__(cuMemFree_v2) *MemFree;
    __typeof__(cuMemFreeAsync) *MemFreeAsync;
    __typeof__(cuMemCreate) *MemCreate;
    __typeof__(cuMemRelease) *MemRelease;
    __typeof__(cuMemGetInfo_v2) *MemGetInfo;
    __typeof__(cuArrayCreate_v2) *ArrayCreate;
    __typeof__(cuArray3DCreate_v2) *Array3DCreate;
    __typeof__(cuMipmappedArrayCreate) *MipmappedArrayCreate;
    __typeof__(cuArrayDestroy) *ArrayDestroy;
    __typeof__(cuMipmappedArrayDestroy) *MipmappedArrayDestroy;
    __typeof__(cuMemcpyHtoD_v2) *MemcpyHtoD;
    __typeof__(cuMemcpyDtoH_v2) *MemcpyDtoH;
    __typeof__(cuEventCreate) *EventCreate;
    __typeof__(cuEventRecord) *EventRecord;
    __typeof__(cuEventQuery) *EventQuery;
    __typeof__(cuEventSynchronize) *EventSynchronize;
    __typeof__(cuEventDestroy_v2) *EventDestroy;
};

extern getproc_v2_fn getproc;
extern struct sim_driver cu;

/* Resolves a base name at a version; exits when it cannot. */
void *resolve(const char *base, int version, cuuint64_t flags);

/* Runs fn in a forked child (where the simulator starts afresh) and returns
 * its exit status, or -1. */
int in_child(int (*fn)(const void *), const void *arg);

/* cuMemGetInfo's free bytes on the current context. */
size_t free_now(void);

/* selftest-memory.c */
void test_alloc_to_oom(void);
void test_pitch_and_arrays(void);
void test_other_allocations(void);
void test_cross_process(void);
void test_threads(void);
void test_counts(void);
void test_nvml(void);

/* selftest-graphmem.c */
void test_graph_memory(void);
void test_context_end_frees(void);

/* selftest-kernels.c */
void test_kernel_timing(void);
void test_kernel_queue(void);
void test_capture(void);
void test_events(void);

#endif /* SIMCUDA_SELFTEST_H */
