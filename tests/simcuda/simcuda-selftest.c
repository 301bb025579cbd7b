/* simcuda-selftest.c - self-test of the simulated CUDA driver and NVML:
 * the harness, cuGetProcAddress, devices, settings and contexts, and main.
 * Memory, processes, counters and NVML are in selftest-memory.c; kernels,
 * the log and stream capture in selftest-kernels.c.
 *
 * Loads libcuda.so.1 the way cudart does (dlopen, dlsym "cuGetProcAddress_v2",
 * then every entry point by base name and CUDA version). Prints
 * "N passed, M failed"; exits non-zero on any failure.
 *
 * usage: simcuda-selftest [path/to/simcuda-stat]
 * SIMCUDA_DIR names a folder for the test's state (a fresh subfolder is used).
 * SIMCUDA_SELFTEST_SLOW=1 drops the upper time bounds (for valgrind).
 */
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "selftest.h"

/* A decoy with a driver name, exported from this executable (export_dynamic)
 * so that it would win symbol lookup inside libcuda without -Bsymbolic. */
CUresult CUDAAPI cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize)
{
    (void)dptr;
    (void)bytesize;
    return CUDA_ERROR_UNKNOWN;
}

static int passed, failed;
bool slow;
void *libcuda;
char state_dir[PATH_MAX];
char log_path[PATH_MAX + 32];
const char *stat_tool;

bool check(bool ok, const char *what, const char *file, int line)
{
    if (ok) {
        passed++;
    } else {
        failed++;
        fprintf(stderr, "FAIL %s:%d: %s\n", file, line, what);
    }
    return ok;
}

uint64_t now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- the driver, resolved through cuGetProcAddress_v2 ---- */

getproc_v2_fn getproc;
struct sim_driver cu;

void *resolve(const char *base, int version, cuuint64_t flags)
{
    CUdriverProcAddressQueryResult status = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
    void *fn = NULL;

    if (getproc(base, &fn, version, flags, &status) != CUDA_SUCCESS || !fn) {
        fprintf(stderr, "cannot resolve %s at %d: status %d\n", base, version, (int)status);
        exit(1);
    }
    return fn;
}

static void resolve_all(void)
{
    cu.Init = resolve("cuInit", VERSION, 0);
    cu.DriverGetVersion = resolve("cuDriverGetVersion", VERSION, 0);
    cu.GetErrorName = resolve("cuGetErrorName", VERSION, 0);
    cu.GetErrorString = resolve("cuGetErrorString", VERSION, 0);
    cu.DeviceGet = resolve("cuDeviceGet", VERSION, 0);
    cu.DeviceGetCount = resolve("cuDeviceGetCount", VERSION, 0);
    cu.DeviceGetName = resolve("cuDeviceGetName", VERSION, 0);
    cu.DeviceGetUuid = resolve("cuDeviceGetUuid", VERSION, 0);
    cu.DeviceTotalMem = resolve("cuDeviceTotalMem", VERSION, 0);
    cu.DeviceGetAttribute = resolve("cuDeviceGetAttribute", VERSION, 0);
    cu.DeviceGetDefaultMemPool = resolve("cuDeviceGetDefaultMemPool", VERSION, 0);
    cu.PrimaryCtxRetain = resolve("cuDevicePrimaryCtxRetain", VERSION, 0);
    cu.PrimaryCtxRelease = resolve("cuDevicePrimaryCtxRelease", VERSION, 0);
    cu.PrimaryCtxReset = resolve("cuDevicePrimaryCtxReset", VERSION, 0);
    cu.PrimaryCtxGetState = resolve("cuDevicePrimaryCtxGetState", VERSION, 0);
    cu.GraphAddMemAllocNode = resolve("cuGraphAddMemAllocNode", VERSION, 0);
    cu.GraphAddMemFreeNode = resolve("cuGraphAddMemFreeNode", VERSION, 0);
    cu.DeviceGraphMemTrim = resolve("cuDeviceGraphMemTrim", VERSION, 0);
    cu.DeviceGetGraphMemAttribute = resolve("cuDeviceGetGraphMemAttribute", VERSION, 0);
    cu.DeviceSetGraphMemAttribute = resolve("cuDeviceSetGraphMemAttribute", VERSION, 0);
    cu.CtxCreate = resolve("cuCtxCreate", VERSION, 0);
    cu.CtxDestroy = resolve("cuCtxDestroy", VERSION, 0);
    cu.CtxGetCurrent = resolve("cuCtxGetCurrent", VERSION, 0);
    cu.CtxSetCurrent = resolve("cuCtxSetCurrent", VERSION, 0);
    cu.CtxPushCurrent = resolve("cuCtxPushCurrent", VERSION, 0);
    cu.CtxPopCurrent = resolve("cuCtxPopCurrent", VERSION, 0);
    cu.CtxGetDevice = resolve("cuCtxGetDevice", VERSION, 0);
    cu.CtxSynchronizeV1 = resolve("cuCtxSynchronize", 12000, 0);
    cu.CtxSynchronize = resolve("cuCtxSynchronize", VERSION, 0);
    cu.StreamCreate = resolve("cuStreamCreate", VERSION, 0);
    cu.StreamDestroy = resolve("cuStreamDestroy", VERSION, 0);
    cu.StreamSynchronize = resolve("cuStreamSynchronize", VERSION, 0);
    cu.StreamQuery = resolve("cuStreamQuery", VERSION, 0);
    cu.EventCreate = resolve("cuEventCreate", VERSION, 0);
    cu.EventRecord = resolve("cuEventRecord", VERSION, 0);
    cu.EventQuery = resolve("cuEventQuery", VERSION, 0);
    cu.EventSynchronize = resolve("cuEventSynchronize", VERSION, 0);
    cu.EventDestroy = resolve("cuEventDestroy", VERSION, 0);
    cu.StreamBeginCapture = resolve("cuStreamBeginCapture", VERSION, 0);
    cu.StreamBeginCaptureToGraph = resolve("cuStreamBeginCaptureToGraph", VERSION, 0);
    cu.StreamEndCapture = resolve("cuStreamEndCapture", VERSION, 0);
    cu.StreamIsCapturing = resolve("cuStreamIsCapturing", VERSION, 0);
    cu.GraphInstantiate = resolve("cuGraphInstantiateWithFlags", VERSION, 0);
    cu.GraphExecDestroy = resolve("cuGraphExecDestroy", VERSION, 0);
    cu.GraphDestroy = resolve("cuGraphDestroy", VERSION, 0);
    cu.GraphLaunch = resolve("cuGraphLaunch", VERSION, 0);
    cu.LaunchKernel = resolve("cuLaunchKernel", VERSION, 0);
    cu.LaunchKernelPtsz = resolve("cuLaunchKernel", VERSION, PTSZ);
    cu.LaunchKernelEx = resolve("cuLaunchKernelEx", VERSION, 0);
    cu.LaunchCooperativeKernel = resolve("cuLaunchCooperativeKernel", VERSION, 0);
    cu.MemAlloc = resolve("cuMemAlloc", VERSION, 0);
    cu.MemAllocPitch = resolve("cuMemAllocPitch", VERSION, 0);
    cu.MemAllocManaged = resolve("cuMemAllocManaged", VERSION, 0);
    cu.MemAllocAsync = resolve("cuMemAllocAsync", VERSION, 0);
    cu.MemAllocFromPoolAsync = resolve("cuMemAllocFromPoolAsync", VERSION, 0);
    cu.MemFree = resolve("cuMemFree", VERSION, 0);
    cu.MemFreeAsync = resolve("cuMemFreeAsync", VERSION, 0);
    cu.MemCreate = resolve("cuMemCreate", VERSION, 0);
    cu.MemRelease = resolve("cuMemRelease", VERSION, 0);
    cu.MemGetInfo = resolve("cuMemGetInfo", VERSION, 0);
    cu.ArrayCreate = resolve("cuArrayCreate", VERSION, 0);
    cu.Array3DCreate = resolve("cuArray3DCreate", VERSION, 0);
    cu.MipmappedArrayCreate = resolve("cuMipmappedArrayCreate", VERSION, 0);
    cu.ArrayDestroy = resolve("cuArrayDestroy", VERSION, 0);
    cu.MipmappedArrayDestroy = resolve("cuMipmappedArrayDestroy", VERSION, 0);
    cu.MemcpyHtoD = resolve("cuMemcpyHtoD", VERSION, 0);
    cu.MemcpyDtoH = resolve("cuMemcpyDtoH", VERSION, 0);
}

/* ---- cuGetProcAddress ---- */

struct proc_case {
    const char *base;
    int version;
    cuuint64_t flags;
    const char *want;  /* exported symbol, or NULL for not found */
    CUdriverProcAddressQueryResult status;
};

#define FOUND(base, version, flags, want) \
    { base, version, flags, want, CU_GET_PROC_ADDRESS_SUCCESS }
#define TOO_OLD(base, version, flags) \
    { base, version, flags, NULL, CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT }
#define UNKNOWN(base) { base, VERSION, 0, NULL, CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND }

static const struct proc_case proc_cases[] = {
    FOUND("cuInit", 2000, 0, "cuInit"),
    FOUND("cuDeviceGetAttribute", VERSION, PTSZ, "cuDeviceGetAttribute"),
    FOUND("cuMemAlloc", 3020, 0, "cuMemAlloc_v2"),
    FOUND("cuMemAlloc", VERSION, PTSZ, "cuMemAlloc_v2"),
    TOO_OLD("cuMemAlloc", 3010, 0),
    FOUND("cuMemGetInfo", 3020, 0, "cuMemGetInfo_v2"),
    FOUND("cuDeviceTotalMem", 12000, 0, "cuDeviceTotalMem_v2"),
    FOUND("cuMemAllocPitch", 3020, 0, "cuMemAllocPitch_v2"),
    FOUND("cuMemFree", 3020, 0, "cuMemFree_v2"),
    FOUND("cuArrayCreate", 3020, 0, "cuArrayCreate_v2"),
    FOUND("cuArray3DCreate", 3020, 0, "cuArray3DCreate_v2"),
    FOUND("cuMemcpyHtoD", 3020, 0, "cuMemcpyHtoD_v2"),
    FOUND("cuMemcpyDtoH", 3020, 0, "cuMemcpyDtoH_v2"),
    FOUND("cuDevicePrimaryCtxRelease", 11000, 0, "cuDevicePrimaryCtxRelease_v2"),
    TOO_OLD("cuDevicePrimaryCtxRelease", 10020, 0),
    FOUND("cuCtxPushCurrent", 4000, 0, "cuCtxPushCurrent_v2"),
    FOUND("cuCtxPopCurrent", 4000, 0, "cuCtxPopCurrent_v2"),
    FOUND("cuStreamDestroy", 4000, 0, "cuStreamDestroy_v2"),
    FOUND("cuLaunchKernel", 4000, 0, "cuLaunchKernel"),
    FOUND("cuLaunchKernel", 6050, PTSZ, "cuLaunchKernel"),
    FOUND("cuLaunchKernel", 7000, PTSZ, "cuLaunchKernel_ptsz"),
    FOUND("cuLaunchKernel", VERSION, CU_GET_PROC_ADDRESS_LEGACY_STREAM, "cuLaunchKernel"),
    TOO_OLD("cuLaunchKernel", 3020, 0),
    FOUND("cuLaunchKernelEx", 11060, 0, "cuLaunchKernelEx"),
    FOUND("cuLaunchKernelEx", 12000, PTSZ, "cuLaunchKernelEx_ptsz"),
    TOO_OLD("cuLaunchKernelEx", 11050, 0),
    FOUND("cuLaunchCooperativeKernel", 9000, PTSZ, "cuLaunchCooperativeKernel_ptsz"),
    FOUND("cuGraphLaunch", 10000, 0, "cuGraphLaunch"),
    FOUND("cuGraphLaunch", 10000, PTSZ, "cuGraphLaunch_ptsz"),
    FOUND("cuMemAllocAsync", 11020, PTSZ, "cuMemAllocAsync_ptsz"),
    FOUND("cuMemFreeAsync", 11020, 0, "cuMemFreeAsync"),
    FOUND("cuMemAllocFromPoolAsync", 12000, PTSZ, "cuMemAllocFromPoolAsync_ptsz"),
    TOO_OLD("cuMemAllocFromPoolAsync", 11010, 0),
    TOO_OLD("cuStreamBeginCapture", 10000, 0),
    FOUND("cuStreamBeginCapture", 10010, 0, "cuStreamBeginCapture_v2"),
    FOUND("cuStreamBeginCapture", 12000, PTSZ, "cuStreamBeginCapture_v2_ptsz"),
    FOUND("cuStreamBeginCaptureToGraph", VERSION, PTSZ, "cuStreamBeginCaptureToGraph_ptsz"),
    FOUND("cuStreamEndCapture", 10000, PTSZ, "cuStreamEndCapture_ptsz"),
    FOUND("cuStreamIsCapturing", VERSION, 0, "cuStreamIsCapturing"),
    FOUND("cuStreamIsCapturing", VERSION, PTSZ, "cuStreamIsCapturing_ptsz"),
    FOUND("cuStreamSynchronize", 2000, 0, "cuStreamSynchronize"),
    FOUND("cuStreamSynchronize", VERSION, PTSZ, "cuStreamSynchronize_ptsz"),
    FOUND("cuStreamQuery", VERSION, PTSZ, "cuStreamQuery_ptsz"),
    FOUND("cuEventRecord", VERSION, PTSZ, "cuEventRecord_ptsz"),
    FOUND("cuEventDestroy", VERSION, 0, "cuEventDestroy_v2"),
    FOUND("cuCtxSynchronize", 12090, 0, "cuCtxSynchronize"),
    FOUND("cuCtxSynchronize", 13000, 0, "cuCtxSynchronize_v2"),
    FOUND("cuGetProcAddress", 11030, 0, "cuGetProcAddress"),
    FOUND("cuGetProcAddress", 12000, 0, "cuGetProcAddress_v2"),
    TOO_OLD("cuGetProcAddress", 11020, 0),
    FOUND("cuDeviceGetUuid", 9020, 0, "cuDeviceGetUuid"),
    FOUND("cuDeviceGetUuid", 11040, 0, "cuDeviceGetUuid_v2"),
    FOUND("cuCtxCreate", 12050, 0, "cuCtxCreate_v4"),
    UNKNOWN("cuMemAlloc_v2"),
    UNKNOWN("cuCtxSynchronize_v2"),
    UNKNOWN("cuLaunchKernel_ptsz"),
    UNKNOWN("cuNoSuchFunction"),
    UNKNOWN(""),
};

static void test_proc_case(const struct proc_case *c)
{
    CUdriverProcAddressQueryResult status = 99;
    void *fn = (void *)&status;
    CUresult rc = getproc(c->base, &fn, c->version, c->flags, &status);
    bool ok;

    if (c->want) {
        void *want = dlsym(libcuda, c->want);
        ok = rc == CUDA_SUCCESS && status == CU_GET_PROC_ADDRESS_SUCCESS && want && fn == want;
    } else {
        ok = rc == CUDA_ERROR_NOT_FOUND && status == c->status && fn == NULL;
    }
    if (!ok)
        fprintf(stderr, "  cuGetProcAddress(\"%s\", %d, %llu): rc %d status %d\n", c->base,
                c->version, (unsigned long long)c->flags, (int)rc, (int)status);
    CHECK(ok);
}

static void test_proc(void)
{
    getproc_v1_fn legacy = (getproc_v1_fn)dlsym(libcuda, "cuGetProcAddress");
    void *fn = NULL;

    for (size_t i = 0; i < sizeof(proc_cases) / sizeof(proc_cases[0]); i++)
        test_proc_case(&proc_cases[i]);
    CHECK(legacy != NULL);
    CHECK_RC(legacy("cuMemAlloc", &fn, 12000, 0), CUDA_SUCCESS);
    CHECK(fn == dlsym(libcuda, "cuMemAlloc_v2"));
    CHECK_RC(legacy("cuNoSuchFunction", &fn, 12000, 0), CUDA_ERROR_NOT_FOUND);
    CHECK(fn == NULL);
    CHECK_RC(getproc("cuInit", NULL, VERSION, 0, NULL), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(getproc(NULL, &fn, VERSION, 0, NULL), CUDA_ERROR_NOT_FOUND);
    /* Interposition: the decoy wins a global lookup, not the driver's table. */
    CHECK(dlsym(RTLD_DEFAULT, "cuMemAlloc_v2") == (void *)&cuMemAlloc_v2);
    CHECK(resolve("cuMemAlloc", VERSION, 0) != (void *)&cuMemAlloc_v2);
    /* Only driver entry points are exported. */
    CHECK(dlsym(libcuda, "sim_enter") == NULL);
    CHECK(dlsym(libcuda, "sim_state_charge") == NULL);
    CHECK(dlsym(libcuda, "sim_entries") == NULL);
}

/* ---- before cuInit ---- */

static void test_before_init(void)
{
    const char *name = NULL;
    int version = 0, count = -1;

    CHECK_RC(cu.DeviceGetCount(&count), CUDA_ERROR_NOT_INITIALIZED);
    CHECK_RC(cu.MemAlloc(&(CUdeviceptr){ 0 }, 1), CUDA_ERROR_NOT_INITIALIZED);
    CHECK_RC(cu.DriverGetVersion(&version), CUDA_SUCCESS);
    CHECK(version == 13000);
    CHECK_RC(cu.GetErrorName(CUDA_ERROR_OUT_OF_MEMORY, &name), CUDA_SUCCESS);
    CHECK(name && strcmp(name, "CUDA_ERROR_OUT_OF_MEMORY") == 0);
    CHECK_RC(cu.GetErrorString(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, &name), CUDA_SUCCESS);
    CHECK_RC(cu.GetErrorName((CUresult)12345, &name), CUDA_ERROR_INVALID_VALUE);
    CHECK(name == NULL);
    CHECK_RC(cu.Init(1), CUDA_ERROR_INVALID_VALUE);
}

/* ---- devices ---- */

static void test_devices(void)
{
    CUuuid uuid;
    char name[64];
    size_t total = 0;
    int count = 0, value = -1;
    CUdevice dev = -1;

    CHECK_RC(cu.Init(0), CUDA_SUCCESS);
    CHECK_RC(cu.Init(0), CUDA_SUCCESS);
    CHECK_RC(cu.DeviceGetCount(&count), CUDA_SUCCESS);
    CHECK(count == 2);
    CHECK_RC(cu.DeviceGet(&dev, 1), CUDA_SUCCESS);
    CHECK(dev == 1);
    CHECK_RC(cu.DeviceGet(&dev, 2), CUDA_ERROR_INVALID_DEVICE);
    CHECK_RC(cu.DeviceGetName(name, sizeof(name), 0), CUDA_SUCCESS);
    CHECK(strcmp(name, "cuslice simulated GPU") == 0);
    /* CUDA_VISIBLE_DEVICES=1,0: ordinal 0 is physical device 1. */
    CHECK_RC(cu.DeviceGetUuid(&uuid, 0), CUDA_SUCCESS);
    CHECK((unsigned char)uuid.bytes[0] == 0x51 && (unsigned char)uuid.bytes[3] == 0xa0);
    CHECK(uuid.bytes[15] == 1);
    CHECK_RC(cu.DeviceGetUuid(&uuid, 1), CUDA_SUCCESS);
    CHECK(uuid.bytes[15] == 0);
    CHECK_RC(cu.DeviceTotalMem(&total, 0), CUDA_SUCCESS);
    CHECK(total == TOTAL);
    CHECK_RC(cu.DeviceGetAttribute(&value, CU_DEVICE_ATTRIBUTE_WARP_SIZE, 0), CUDA_SUCCESS);
    CHECK(value == 32);
    CHECK_RC(cu.DeviceGetAttribute(&value, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, 1),
             CUDA_SUCCESS);
    CHECK(value >= 7);
    CHECK_RC(cu.DeviceGetAttribute(&value, (CUdevice_attribute)0, 0), CUDA_ERROR_INVALID_VALUE);
}

/* Runs fn in a forked child; the simulator starts afresh there. */
int in_child(int (*fn)(const void *), const void *arg)
{
    int status = 0;
    pid_t pid = fork();

    if (pid == 0)
        _exit(fn(arg));
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

/* Child: cuInit under CUDA_VISIBLE_DEVICES=arg; exits with the count seen
 * and ordinal 0's physical index as 10*count + phys, or 100 + CUresult. */
static int child_visible(const void *arg)
{
    CUuuid uuid;
    int count = 0;
    CUresult rc;

    setenv("CUDA_VISIBLE_DEVICES", (const char *)arg, 1);
    rc = cu.Init(0);
    if (rc != CUDA_SUCCESS)
        return rc == CUDA_ERROR_NO_DEVICE ? 100 : 101;
    cu.DeviceGetCount(&count);
    cu.DeviceGetUuid(&uuid, 0);
    return 10 * count + uuid.bytes[15];
}

static void test_visible_devices(void)
{
    CHECK(in_child(child_visible, "0") == 10);
    CHECK(in_child(child_visible, "1") == 11);
    CHECK(in_child(child_visible, " 1 , 0 ") == 21);
    CHECK(in_child(child_visible, "0,7,1") == 10);
    CHECK(in_child(child_visible, "1,1") == 11);
    CHECK(in_child(child_visible, UUID_PHYS1 ",0") == 21);
    CHECK(in_child(child_visible, "gpu-515ECDA0-5173-4000-8000-000000000000") == 10);
    CHECK(in_child(child_visible, "GPU-515ecda0") == 100);
    CHECK(in_child(child_visible, "") == 100);
    CHECK(in_child(child_visible, "-1") == 100);
}

struct setting_case {
    const char *name;
    const char *value;
    CUresult want;   /* from cuInit */
};

/* Child: cuInit with one variable set. */
static int child_setting(const void *arg)
{
    const struct setting_case *c = arg;

    setenv(c->name, c->value, 1);
    return cu.Init(0) == c->want ? 0 : 1;
}

/* A malformed setting fails cuInit loudly instead of being ignored. */
static void test_settings(void)
{
    static const struct setting_case cases[] = {
        { "SIMCUDA_MEM_TOTAL", "16Q", CUDA_ERROR_INVALID_VALUE },
        { "SIMCUDA_MEM_TOTAL", "99999999999T", CUDA_ERROR_INVALID_VALUE },
        { "SIMCUDA_MEM_TOTAL", "65536k", CUDA_SUCCESS }, /* = 64M, as shared */
        { "SIMCUDA_CTX_OVERHEAD", "1.5G", CUDA_ERROR_INVALID_VALUE },
        { "SIMCUDA_DEVICES", "9", CUDA_ERROR_INVALID_VALUE },
        { "SIMCUDA_DEVICES", "0", CUDA_ERROR_NO_DEVICE },
        { "SIMCUDA_KERNEL_US", "-5", CUDA_ERROR_INVALID_VALUE },
        { "SIMCUDA_FAIL", "cuNoSuchFunction:2", CUDA_ERROR_INVALID_VALUE },
        { "SIMCUDA_FAIL", "cuMemAlloc_v2", CUDA_ERROR_INVALID_VALUE },
        { "SIMCUDA_FAIL", "cuInit:100", CUDA_ERROR_NO_DEVICE },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (!CHECK(in_child(child_setting, &cases[i]) == 0))
            fprintf(stderr, "  %s=%s\n", cases[i].name, cases[i].value);
    }
}

/* ---- contexts ---- */

CUcontext ctx0;

size_t free_now(void)
{
    size_t free_bytes = 0, total = 0;

    if (cu.MemGetInfo(&free_bytes, &total) != CUDA_SUCCESS)
        return SIZE_MAX;
    return free_bytes;
}

static void test_contexts(void)
{
    CUcontext cur = (CUcontext)&cur, ctx1 = NULL, made = NULL;
    CUdevice dev = -1;
    size_t f = 0, t = 0;

    CHECK_RC(cu.CtxGetCurrent(&cur), CUDA_SUCCESS);
    CHECK(cur == NULL);
    CHECK_RC(cu.CtxSynchronizeV1(), CUDA_ERROR_INVALID_CONTEXT);
    CHECK_RC(cu.MemGetInfo(&f, &t), CUDA_ERROR_INVALID_CONTEXT);
    CHECK_RC(cu.MemAlloc(&(CUdeviceptr){ 0 }, 1), CUDA_ERROR_INVALID_CONTEXT);
    CHECK_RC(cu.PrimaryCtxRetain(&ctx0, 0), CUDA_SUCCESS);
    CHECK_RC(cu.CtxSetCurrent(ctx0), CUDA_SUCCESS);
    CHECK_RC(cu.CtxGetCurrent(&cur), CUDA_SUCCESS);
    CHECK(cur == ctx0);
    CHECK(free_now() == TOTAL - OVERHEAD);
    CHECK_RC(cu.CtxGetDevice(&dev), CUDA_SUCCESS);
    CHECK(dev == 0);
    CHECK_RC(cu.PrimaryCtxRetain(&ctx1, 1), CUDA_SUCCESS);
    CHECK(ctx1 != ctx0);
    CHECK_RC(cu.CtxPushCurrent(ctx1), CUDA_SUCCESS);
    CHECK_RC(cu.CtxGetDevice(&dev), CUDA_SUCCESS);
    CHECK(dev == 1);
    CHECK(free_now() == TOTAL - OVERHEAD);
    CHECK_RC(cu.CtxPopCurrent(&cur), CUDA_SUCCESS);
    CHECK(cur == ctx1);
    CHECK_RC(cu.CtxGetDevice(&dev), CUDA_SUCCESS);
    CHECK(dev == 0);
    CHECK_RC(cu.PrimaryCtxRelease(1), CUDA_SUCCESS);
    CHECK_RC(cu.PrimaryCtxRelease(1), CUDA_ERROR_INVALID_CONTEXT);
    CHECK_RC(cu.CtxPushCurrent(ctx1), CUDA_ERROR_INVALID_CONTEXT);
    /* A created context charges its own overhead and becomes current. */
    CHECK_RC(cu.CtxCreate(&made, NULL, 0, 0), CUDA_SUCCESS);
    CHECK(free_now() == TOTAL - 2 * OVERHEAD);
    CHECK_RC(cu.CtxDestroy(made), CUDA_SUCCESS);
    CHECK_RC(cu.CtxDestroy(made), CUDA_ERROR_INVALID_CONTEXT);
    CHECK_RC(cu.CtxGetCurrent(&cur), CUDA_SUCCESS);
    CHECK(cur == ctx0);
    CHECK(free_now() == TOTAL - OVERHEAD);
}

/* ---- setup ---- */

static void setup_env(void)
{
    const char *base = getenv("SIMCUDA_DIR");

    snprintf(state_dir, sizeof(state_dir), "%s/selftest-%d", base && *base ? base : "/tmp",
             (int)getpid());
    mkdir(base && *base ? base : "/tmp", 0700);
    snprintf(log_path, sizeof(log_path), "%s/kernels.log", state_dir);
    setenv("SIMCUDA_DIR", state_dir, 1);
    setenv("SIMCUDA_DEVICES", "2", 1);
    setenv("CUDA_VISIBLE_DEVICES", "1,0", 1);
    setenv("SIMCUDA_MEM_TOTAL", "64M", 1);
    setenv("SIMCUDA_CTX_OVERHEAD", "4m", 1);
    setenv("SIMCUDA_KERNEL_US", "1000", 1);
    unsetenv("SIMCUDA_FAIL");
    unsetenv("SIMCUDA_COUNTS");
    slow = getenv("SIMCUDA_SELFTEST_SLOW") != NULL;
    /* The log is opened at the driver's first call, which creates the folder. */
    mkdir(state_dir, 0700);
    setenv("SIMCUDA_LOG", log_path, 1);
}

static void cleanup_state(void)
{
    const char *files[] = { "device0.state", "device1.state", "kernels.log" };
    char path[PATH_MAX + 32];

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", state_dir, files[i]);
        unlink(path);
    }
    rmdir(state_dir);
}

int main(int argc, char **argv)
{
    stat_tool = argc > 1 ? argv[1] : NULL;
    signal(SIGPIPE, SIG_IGN); /* a dead child's pipe fails a check instead */
    setup_env();
    libcuda = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!libcuda) {
        fprintf(stderr, "dlopen libcuda.so.1: %s\n", dlerror());
        return 1;
    }
    getproc = (getproc_v2_fn)dlsym(libcuda, "cuGetProcAddress_v2");
    if (!getproc) {
        fprintf(stderr, "no cuGetProcAddress_v2\n");
        return 1;
    }
    resolve_all();
    test_proc();
    test_before_init();
    test_devices();
    test_visible_devices();
    test_settings();
    test_contexts();
    test_alloc_to_oom();
    test_pitch_and_arrays();
    test_other_allocations();
    test_cross_process();
    test_threads();
    test_kernel_timing();
    test_kernel_queue();
    test_capture();
    test_counts();
    test_nvml();
    test_graph_memory();
    test_context_end_frees();
    test_events();
    cleanup_state();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
