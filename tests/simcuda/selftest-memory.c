/* selftest-memory.c - self-test of the simulated driver's memory: running
 * out, freeing, pitched memory and arrays, sharing with other processes and
 * reclaiming a dead one's bytes, thread safety; also the call counters, error
 * injection and the simulated NVML.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "selftest.h"
#include "simnvml.h"

/* ---- simulated memory ---- */

static bool read_stat(const char *options, unsigned long long *used, unsigned long long *peak,
                      unsigned long long *total)
{
    char cmd[PATH_MAX * 2 + 64];
    FILE *p;
    int n;

    snprintf(cmd, sizeof(cmd), "'%s' --dir '%s' %s 2>/dev/null", stat_tool, state_dir, options);
    p = popen(cmd, "r");
    if (!p)
        return false;
    n = fscanf(p, "used %llu peak %llu total %llu", used, peak, total);
    return pclose(p) == 0 && n == 3;
}

void test_alloc_to_oom(void)
{
    CUdeviceptr ptrs[16] = { 0 }, extra = 0;
    unsigned long long used = 0, peak = 0, total = 0;
    int n = 0;

    while (n < 16 && cu.MemAlloc(&ptrs[n], 8 * MiB) == CUDA_SUCCESS)
        n++;
    CHECK(n == 7); /* (64 - 4) / 8 */
    CHECK_RC(cu.MemAlloc(&extra, 8 * MiB), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK(free_now() == 4 * MiB);
    CHECK(ptrs[0] != ptrs[1] && ptrs[0] % 512 == 0 && ptrs[1] % 512 == 0);
    if (stat_tool) {
        CHECK(read_stat("--device 1", &used, &peak, &total));
        CHECK(used == 60 * MiB && peak >= 60 * MiB && total == TOTAL);
    }
    CHECK_RC(cu.MemFree(ptrs[3]), CUDA_SUCCESS);
    CHECK_RC(cu.MemFree(ptrs[3]), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cu.MemFree((CUdeviceptr)0x1234), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cu.MemAlloc(&ptrs[3], 8 * MiB), CUDA_SUCCESS);
    for (int i = 0; i < n; i++)
        CHECK_RC(cu.MemFree(ptrs[i]), CUDA_SUCCESS);
    CHECK(free_now() == TOTAL - OVERHEAD);
    CHECK_RC(cu.MemAlloc(&extra, 0), CUDA_ERROR_INVALID_VALUE);
    if (stat_tool) {
        CHECK(read_stat("--device 1", &used, &peak, &total));
        CHECK(used == OVERHEAD && peak == 60 * MiB);
        CHECK(read_stat("--device 1 --reset", &used, &peak, &total));
        CHECK(used == OVERHEAD && peak == OVERHEAD);
        CHECK(!read_stat("--device 8", &used, &peak, &total));
    }
}

void test_pitch_and_arrays(void)
{
    size_t base = free_now(), pitch = 0;
    CUDA_ARRAY_DESCRIPTOR d2 = { .Width = 100, .Height = 10, .Format = CU_AD_FORMAT_FLOAT,
                                 .NumChannels = 4 };
    CUDA_ARRAY3D_DESCRIPTOR d3 = { .Width = 10, .Height = 10, .Depth = 10,
                                   .Format = CU_AD_FORMAT_UNSIGNED_INT8, .NumChannels = 1 };
    CUDA_ARRAY3D_DESCRIPTOR dm = { .Width = 16, .Height = 16,
                                   .Format = CU_AD_FORMAT_UNSIGNED_INT8, .NumChannels = 1 };
    CUarray a2 = NULL, a3 = NULL;
    CUmipmappedArray m = NULL;
    CUdeviceptr p = 0;

    CHECK_RC(cu.MemAllocPitch(&p, &pitch, 1000, 10, 4), CUDA_SUCCESS);
    CHECK(pitch == 1024 && base - free_now() == 10240);
    CHECK_RC(cu.MemFree(p), CUDA_SUCCESS);
    CHECK_RC(cu.MemAllocPitch(&p, &pitch, 1000, 10, 3), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cu.ArrayCreate(&a2, &d2), CUDA_SUCCESS);
    CHECK(base - free_now() == 16000);
    CHECK_RC(cu.Array3DCreate(&a3, &d3), CUDA_SUCCESS);
    CHECK(base - free_now() == 17000);
    CHECK_RC(cu.MipmappedArrayCreate(&m, &dm, 3), CUDA_SUCCESS);
    CHECK(base - free_now() == 17000 + 256 + 64 + 16);
    CHECK_RC(cu.ArrayDestroy(a2), CUDA_SUCCESS);
    CHECK_RC(cu.ArrayDestroy(a2), CUDA_ERROR_INVALID_HANDLE);
    CHECK_RC(cu.ArrayDestroy(a3), CUDA_SUCCESS);
    CHECK_RC(cu.MipmappedArrayDestroy(m), CUDA_SUCCESS);
    CHECK(free_now() == base);
    d2.Format = (CUarray_format)0x77;
    CHECK_RC(cu.ArrayCreate(&a2, &d2), CUDA_ERROR_INVALID_VALUE);
}

void test_other_allocations(void)
{
    CUmemAllocationProp prop = { .type = CU_MEM_ALLOCATION_TYPE_PINNED,
                                 .location = { .type = CU_MEM_LOCATION_TYPE_DEVICE, .id = 0 } };
    CUmemGenericAllocationHandle handle = 0;
    size_t base = free_now();
    CUdeviceptr p = 0, q = 0;
    CUmemoryPool pool = NULL;
    unsigned char buf[16];

    CHECK_RC(cu.MemCreate(&handle, 2 * MiB, &prop, 0), CUDA_SUCCESS);
    CHECK(base - free_now() == 2 * MiB);
    CHECK_RC(cu.MemRelease(handle), CUDA_SUCCESS);
    CHECK_RC(cu.MemRelease(handle), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cu.MemAllocManaged(&p, MiB, CU_MEM_ATTACH_GLOBAL), CUDA_SUCCESS);
    CHECK_RC(cu.MemAllocAsync(&q, MiB, NULL), CUDA_SUCCESS);
    CHECK(base - free_now() == 2 * MiB);
    CHECK_RC(cu.MemFreeAsync(q, NULL), CUDA_SUCCESS);
    CHECK_RC(cu.DeviceGetDefaultMemPool(&pool, 0), CUDA_SUCCESS);
    CHECK_RC(cu.MemAllocFromPoolAsync(&q, MiB, pool, NULL), CUDA_SUCCESS);
    CHECK_RC(cu.MemAllocFromPoolAsync(&q, MiB, (CUmemoryPool)&buf, NULL), CUDA_ERROR_INVALID_VALUE);
    memset(buf, 0xab, sizeof(buf));
    CHECK_RC(cu.MemcpyDtoH(buf, p, sizeof(buf)), CUDA_SUCCESS);
    CHECK(buf[0] == 0 && buf[15] == 0);
    CHECK_RC(cu.MemcpyHtoD(p, buf, sizeof(buf)), CUDA_SUCCESS);
    CHECK_RC(cu.MemFree(q), CUDA_SUCCESS);
    CHECK_RC(cu.MemFree(p), CUDA_SUCCESS);
    CHECK(free_now() == base);
}

/* Child: holds 16 MiB plus its context until told to go, then dies
 * without cleaning up (_exit skips the simulator's exit handler). */
static int child_hold(const void *arg)
{
    const int *fds = arg;
    CUcontext ctx;
    CUdeviceptr p;
    char go;

    if (cu.Init(0) != CUDA_SUCCESS || cu.PrimaryCtxRetain(&ctx, 0) != CUDA_SUCCESS ||
        cu.CtxSetCurrent(ctx) != CUDA_SUCCESS || cu.MemAlloc(&p, 16 * MiB) != CUDA_SUCCESS)
        return 1;
    if (write(fds[1], "x", 1) != 1 || read(fds[2], &go, 1) != 1)
        return 2;
    return 0;
}

void test_cross_process(void)
{
    int to_parent[2], to_child[2], fds[3], status = 0;
    size_t base = free_now();
    CUdeviceptr big = 0;
    pid_t pid;
    char c;

    if (!CHECK(pipe(to_parent) == 0 && pipe(to_child) == 0))
        return;
    fds[1] = to_parent[1];
    fds[2] = to_child[0];
    pid = fork();
    if (pid == 0)
        _exit(child_hold(fds));
    /* Only the child writes to_parent and reads to_child: a child that fails
     * early then gives end-of-file instead of a hang. */
    close(to_parent[1]);
    close(to_child[0]);
    CHECK(read(to_parent[0], &c, 1) == 1);
    CHECK(base - free_now() == 16 * MiB + OVERHEAD);
    CHECK(write(to_child[1], "g", 1) == 1);
    close(to_child[1]);
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* The dead child's bytes come back when an allocation needs them. */
    CHECK(base - free_now() == 16 * MiB + OVERHEAD);
    CHECK_RC(cu.MemAlloc(&big, base), CUDA_SUCCESS);
    CHECK(free_now() == 0);
    CHECK_RC(cu.MemFree(big), CUDA_SUCCESS);
    CHECK(free_now() == base);
    close(to_parent[0]);
}

/* ---- threads: allocation is thread-safe ---- */

static void *thread_churn(void *arg)
{
    CUdeviceptr p;
    intptr_t bad = 0;

    (void)arg;
    if (cu.CtxSetCurrent(ctx0) != CUDA_SUCCESS)
        return (void *)1;
    for (int i = 0; i < 2000; i++) {
        bad += cu.MemAlloc(&p, 4096 + (size_t)i) != CUDA_SUCCESS;
        bad += cu.MemFree(p) != CUDA_SUCCESS;
    }
    return (void *)bad;
}

void test_threads(void)
{
    pthread_t t[4];
    size_t base = free_now();
    void *bad;

    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, thread_churn, NULL);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], &bad);
        CHECK(bad == NULL);
    }
    CHECK(free_now() == base);
}

/* ---- counters and error injection ---- */

/* Child: with SIMCUDA_FAIL and SIMCUDA_COUNTS set, makes a few calls and
 * exits normally so that the counts are written. */
static int child_counts(const void *arg)
{
    CUdeviceptr p;
    CUcontext ctx;
    size_t f, t;

    setenv("SIMCUDA_COUNTS", (const char *)arg, 1);
    setenv("SIMCUDA_FAIL", "cuMemAlloc_v2:2,cuStreamQuery:999", 1);
    if (cu.Init(0) != CUDA_SUCCESS || cu.PrimaryCtxRetain(&ctx, 0) != CUDA_SUCCESS ||
        cu.CtxSetCurrent(ctx) != CUDA_SUCCESS)
        exit(1);
    if (cu.MemAlloc(&p, 1) != CUDA_ERROR_OUT_OF_MEMORY || cu.MemAlloc(&p, 1) != 2 ||
        cu.StreamQuery(NULL) != CUDA_ERROR_UNKNOWN || cu.MemGetInfo(&f, &t) != CUDA_SUCCESS ||
        f != TOTAL - 2 * OVERHEAD)
        exit(2);
    exit(0);
}

static bool counts_has(const char *path, const char *line)
{
    char buf[4096];
    size_t n;
    FILE *f = fopen(path, "r");

    if (!f)
        return false;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, line) != NULL;
}

void test_counts(void)
{
    char pattern[PATH_MAX + 32], path[PATH_MAX + 64];
    int status = 0;
    pid_t pid;

    snprintf(pattern, sizeof(pattern), "%s/counts.%%p", state_dir);
    pid = fork();
    if (pid == 0)
        child_counts(pattern);
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    snprintf(path, sizeof(path), "%s/counts.%d", state_dir, (int)pid);
    CHECK(counts_has(path, "\ncuMemAlloc_v2 2\n"));
    CHECK(counts_has(path, "cuInit 1\n"));
    CHECK(counts_has(path, "\ncuMemGetInfo_v2 1\n"));
    CHECK(counts_has(path, "\ncuStreamQuery 1\n"));
    CHECK(!counts_has(path, "cuLaunchKernel"));
    CHECK(!counts_has(path, "cuMemFree"));
    unlink(path);
}

/* ---- NVML ---- */

void test_nvml(void)
{
    void *lib = dlopen("libnvidia-ml.so.1", RTLD_NOW);
    nvmlReturn_t (*init)(void), (*shutdown)(void);
    nvmlReturn_t (*count_fn)(unsigned int *);
    nvmlReturn_t (*by_index)(unsigned int, nvmlDevice_t *);
    nvmlReturn_t (*by_uuid)(const char *, nvmlDevice_t *);
    nvmlReturn_t (*get_uuid)(nvmlDevice_t, char *, unsigned int);
    nvmlReturn_t (*mem)(nvmlDevice_t, nvmlMemory_t *);
    nvmlReturn_t (*mem2)(nvmlDevice_t, nvmlMemory_v2_t *);
    const char *(*errstr)(nvmlReturn_t);
    nvmlMemory_v2_t m2 = { 0 };
    nvmlDevice_t d1 = NULL, d = NULL;
    char uuid[NVML_DEVICE_UUID_BUFFER_SIZE];
    nvmlMemory_t m;
    unsigned int n = 0;

    if (!CHECK(lib != NULL))
        return;
    init = dlsym(lib, "nvmlInit_v2");
    shutdown = dlsym(lib, "nvmlShutdown");
    count_fn = dlsym(lib, "nvmlDeviceGetCount_v2");
    by_index = dlsym(lib, "nvmlDeviceGetHandleByIndex_v2");
    by_uuid = dlsym(lib, "nvmlDeviceGetHandleByUUID");
    get_uuid = dlsym(lib, "nvmlDeviceGetUUID");
    mem = dlsym(lib, "nvmlDeviceGetMemoryInfo");
    mem2 = dlsym(lib, "nvmlDeviceGetMemoryInfo_v2");
    errstr = dlsym(lib, "nvmlErrorString");
    if (!CHECK(init && shutdown && count_fn && by_index && by_uuid && get_uuid && mem && mem2 &&
               errstr && dlsym(lib, "nvmlInit")))
        return;
    CHECK(dlsym(lib, "sim_state_open") == NULL);
    CHECK_RC(count_fn(&n), NVML_ERROR_UNINITIALIZED);
    CHECK_RC(init(), NVML_SUCCESS);
    CHECK_RC(count_fn(&n), NVML_SUCCESS);
    CHECK(n == 2);
    CHECK_RC(by_index(1, &d1), NVML_SUCCESS);
    CHECK_RC(by_index(2, &d), NVML_ERROR_INVALID_ARGUMENT);
    CHECK_RC(get_uuid(d1, uuid, sizeof(uuid)), NVML_SUCCESS);
    CHECK(strcmp(uuid, UUID_PHYS1) == 0);
    CHECK_RC(get_uuid(d1, uuid, 10), NVML_ERROR_INSUFFICIENT_SIZE);
    CHECK_RC(by_uuid(UUID_PHYS1, &d), NVML_SUCCESS);
    CHECK(d == d1);
    CHECK_RC(by_uuid("GPU-00000000-0000-0000-0000-000000000000", &d), NVML_ERROR_NOT_FOUND);
    /* Physical device 1 is CUDA ordinal 0, where this process holds its
     * context overhead. */
    CHECK_RC(mem(d1, &m), NVML_SUCCESS);
    CHECK(m.total == TOTAL && m.used == TOTAL - free_now() && m.free == free_now());
    CHECK_RC(mem2(d1, &m2), NVML_ERROR_ARGUMENT_VERSION_MISMATCH);
    m2.version = nvmlMemory_v2;
    CHECK_RC(mem2(d1, &m2), NVML_SUCCESS);
    CHECK(m2.total == TOTAL && m2.used == m.used && m2.free == m.free);
    CHECK(strcmp(errstr(NVML_ERROR_NOT_FOUND), "Not Found") == 0);
    CHECK_RC(shutdown(), NVML_SUCCESS);
    CHECK_RC(shutdown(), NVML_ERROR_UNINITIALIZED);
    dlclose(lib);
}

