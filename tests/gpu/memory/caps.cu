// caps.cu - H100 evidence for issue 3: under a cap (CUSLICE_MEM_LIMIT, set by
// run.sh), allocate 256 MiB chunks through each allocation path until the
// first failure, report the total per path, free everything, go on.
//
// Build: nvcc -arch=sm_90 -o caps caps.cu   (cudart static, as nvcc does by
// default: the driver is reached through cuGetProcAddress, like real apps).
// Driver functions come from cudaGetDriverEntryPointByVersion, as PyTorch
// gets its VMM functions; nothing links libcuda.
//
// Output, one line each:
//   RESULT caps_info when=start|end total=<cudaMemGetInfo total> free=<free>
//          device_total=<totalGlobalMem> ok=<total and totalGlobalMem == CAP_BYTES>
//   RESULT caps path=<name> chunks=<n> bytes=<n> stop=<error name> ok=<0|1>
// A path is ok when it stopped within one chunk of the free memory reported
// at the start (the cap less the context reserve) and never above it.
#include <cuda.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

static const size_t CHUNK = 256ull << 20;
static const int MAX_CHUNKS = 512; // 128 GiB: more than any card

typedef CUresult (*cuMemAlloc_t)(CUdeviceptr *, size_t);
typedef CUresult (*cuMemFree_t)(CUdeviceptr);
typedef CUresult (*cuMemCreate_t)(CUmemGenericAllocationHandle *, size_t,
                                  const CUmemAllocationProp *, unsigned long long);
typedef CUresult (*cuMemRelease_t)(CUmemGenericAllocationHandle);
typedef CUresult (*cuGetErrorName_t)(CUresult, const char **);

static cuMemAlloc_t p_cuMemAlloc;
static cuMemFree_t p_cuMemFree;
static cuMemCreate_t p_cuMemCreate;
static cuMemRelease_t p_cuMemRelease;
static cuGetErrorName_t p_cuGetErrorName;
static size_t start_free; // cudaMemGetInfo free before any allocation
static const char *tag = "caps"; // RESULT name; CAPS_TAG overrides (the control run)

static void *entry(const char *name)
{
    void *fn = nullptr;
    cudaDriverEntryPointQueryResult q;
    cudaError_t e = cudaGetDriverEntryPointByVersion(name, &fn, 12000, cudaEnableDefault, &q);
    if (e != cudaSuccess || fn == nullptr || q != cudaDriverEntryPointSuccess) {
        printf("RESULT caps_error entry=%s err=%s\n", name, cudaGetErrorName(e));
        exit(1);
    }
    return fn;
}

static const char *cu_name(CUresult r)
{
    const char *s = "unknown";
    if (p_cuGetErrorName != nullptr)
        p_cuGetErrorName(r, &s);
    return s;
}

static void report(const char *path, int n, const char *stop)
{
    size_t bytes = (size_t)n * CHUNK;
    int ok = bytes <= start_free && bytes + CHUNK > start_free;
    printf("RESULT %s path=%s chunks=%d bytes=%zu stop=%s ok=%d\n", tag, path, n, bytes, stop, ok);
    fflush(stdout);
}

static void runtime_path(const char *name, cudaError_t (*alloc)(void **), cudaError_t (*release)(void *))
{
    std::vector<void *> held;
    cudaError_t e = cudaSuccess;
    while ((int)held.size() < MAX_CHUNKS) {
        void *p = nullptr;
        e = alloc(&p);
        if (e != cudaSuccess)
            break;
        held.push_back(p);
    }
    cudaGetLastError(); // clear the sticky-free error of the refusal
    report(name, (int)held.size(), e == cudaSuccess ? "limit" : cudaGetErrorName(e));
    for (void *p : held)
        release(p);
    cudaDeviceSynchronize();
}

static cudaError_t a_malloc(void **p) { return cudaMalloc(p, CHUNK); }
static cudaError_t f_free(void *p) { return cudaFree(p); }
static cudaError_t a_managed(void **p) { return cudaMallocManaged(p, CHUNK); }
static cudaError_t a_async(void **p)
{
    cudaError_t e = cudaMallocAsync(p, CHUNK, 0);
    return e == cudaSuccess ? cudaStreamSynchronize(0) : e;
}
static cudaError_t f_async(void *p)
{
    cudaError_t e = cudaFreeAsync(p, 0);
    return e == cudaSuccess ? cudaStreamSynchronize(0) : e;
}
static cudaError_t a_pitch(void **p)
{
    size_t pitch = 0; // 16 KiB rows are already aligned: pitch * height = 256 MiB
    return cudaMallocPitch(p, &pitch, 16384, CHUNK / 16384);
}

static void driver_alloc_path(void)
{
    std::vector<CUdeviceptr> held;
    CUresult r = CUDA_SUCCESS;
    while ((int)held.size() < MAX_CHUNKS) {
        CUdeviceptr d = 0;
        if ((r = p_cuMemAlloc(&d, CHUNK)) != CUDA_SUCCESS)
            break;
        held.push_back(d);
    }
    report("cuMemAlloc", (int)held.size(), r == CUDA_SUCCESS ? "limit" : cu_name(r));
    for (CUdeviceptr d : held)
        p_cuMemFree(d);
}

static void driver_create_path(int dev)
{
    CUmemAllocationProp prop;
    memset(&prop, 0, sizeof(prop));
    prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
    prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    prop.location.id = dev;
    std::vector<CUmemGenericAllocationHandle> held;
    CUresult r = CUDA_SUCCESS;
    while ((int)held.size() < MAX_CHUNKS) {
        CUmemGenericAllocationHandle h = 0;
        if ((r = p_cuMemCreate(&h, CHUNK, &prop, 0)) != CUDA_SUCCESS)
            break;
        held.push_back(h);
    }
    report("cuMemCreate", (int)held.size(), r == CUDA_SUCCESS ? "limit" : cu_name(r));
    for (CUmemGenericAllocationHandle h : held)
        p_cuMemRelease(h);
}

static void print_info(const char *when)
{
    size_t free = 0, total = 0;
    cudaDeviceProp prop;
    cudaMemGetInfo(&free, &total);
    cudaGetDeviceProperties(&prop, 0);
    const char *cap_env = getenv("CAP_BYTES");
    size_t cap = cap_env != nullptr ? strtoull(cap_env, nullptr, 10) : 0;
    int ok = cap == 0 || (total == cap && (size_t)prop.totalGlobalMem == cap);
    if (start_free == 0)
        start_free = free;
    printf("RESULT %s_info when=%s total=%zu free=%zu device_total=%zu ok=%d\n", tag, when,
           total, free, (size_t)prop.totalGlobalMem, ok);
    fflush(stdout);
}

int main()
{
    int dev = 0;
    if (getenv("CAPS_TAG") != nullptr)
        tag = getenv("CAPS_TAG");
    if (cudaSetDevice(dev) != cudaSuccess || cudaFree(0) != cudaSuccess) {
        printf("RESULT caps_error what=no_device\n");
        return 1;
    }
    p_cuMemAlloc = (cuMemAlloc_t)entry("cuMemAlloc");
    p_cuMemFree = (cuMemFree_t)entry("cuMemFree");
    p_cuMemCreate = (cuMemCreate_t)entry("cuMemCreate");
    p_cuMemRelease = (cuMemRelease_t)entry("cuMemRelease");
    p_cuGetErrorName = (cuGetErrorName_t)entry("cuGetErrorName");
    print_info("start");
    runtime_path("cudaMalloc", a_malloc, f_free);
    driver_alloc_path();
    runtime_path("cudaMallocManaged", a_managed, f_free);
    runtime_path("cudaMallocAsync", a_async, f_async);
    driver_create_path(dev);
    runtime_path("cudaMallocPitch", a_pitch, f_free);
    // Again after everything was freed: the cap must be whole again.
    runtime_path("cudaMalloc_again", a_malloc, f_free);
    print_info("end");
    return 0;
}
