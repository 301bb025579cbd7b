/* ctx_overhead.c - how much device memory the driver takes for one context,
 * to set the CUSLICE_CTX_RESERVE default. Run WITHOUT the library, on an
 * otherwise idle GPU (run.sh does both).
 *
 * Build: cc -O2 -I/usr/local/cuda/include -o ctx_overhead ctx_overhead.c -ldl
 *
 * It reads NVML's device-wide usage (what nvidia-smi shows) before and after
 * creating the primary context, the process's own usage from NVML's process
 * list, and cuMemGetInfo (total - free) once the context exists. It repeats
 * after a first small cuMemAlloc, which on some drivers grows the context.
 *
 *   RESULT ctx_overhead nvml_used_before=N nvml_used_ctx=N delta_ctx=N
 *          proc_used_ctx=N memgetinfo_used_ctx=N nvml_used_alloc=N
 *          delta_alloc=N proc_used_alloc=N total=N
 */
#include <cuda.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#undef cuGetProcAddress

typedef struct {
	unsigned long long total, free, used;
} nvml_mem;
typedef struct {
	unsigned int pid;
	unsigned long long used;
	unsigned int gpu_instance, compute_instance;
} nvml_proc;

static int (*nvml_init)(void);
static int (*nvml_by_index)(unsigned, void **);
static int (*nvml_info)(void *, nvml_mem *);
static int (*nvml_procs)(void *, unsigned *, nvml_proc *);
static void *nvml_dev;

static void fail(const char *what)
{
	printf("RESULT ctx_overhead_error what=%s\n", what);
	exit(1);
}

static void load_nvml(void)
{
	void *h = dlopen("libnvidia-ml.so.1", RTLD_NOW);
	if (h == NULL)
		fail("dlopen_nvml");
	*(void **)&nvml_init = dlsym(h, "nvmlInit_v2");
	*(void **)&nvml_by_index = dlsym(h, "nvmlDeviceGetHandleByIndex_v2");
	*(void **)&nvml_info = dlsym(h, "nvmlDeviceGetMemoryInfo");
	*(void **)&nvml_procs = dlsym(h, "nvmlDeviceGetComputeRunningProcesses_v3");
	if (!nvml_init || !nvml_by_index || !nvml_info || nvml_init() != 0 ||
	    nvml_by_index(0, &nvml_dev) != 0)
		fail("nvml");
}

static unsigned long long device_used(void)
{
	nvml_mem m;
	usleep(200 * 1000); /* NVML's numbers lag a little */
	return nvml_info(nvml_dev, &m) == 0 ? m.used : 0;
}

static unsigned long long process_used(void)
{
	nvml_proc p[64];
	unsigned n = 64;
	if (nvml_procs == NULL || nvml_procs(nvml_dev, &n, p) != 0)
		return 0;
	for (unsigned i = 0; i < n; i++)
		if (p[i].pid == (unsigned)getpid())
			return p[i].used;
	return 0;
}

int main(void)
{
	CUresult (*cu_init)(unsigned);
	CUresult (*cu_device_get)(CUdevice *, int);
	CUresult (*cu_retain)(CUcontext *, CUdevice);
	CUresult (*cu_set)(CUcontext);
	CUresult (*cu_info)(size_t *, size_t *);
	CUresult (*cu_alloc)(CUdeviceptr *, size_t);
	void *h = dlopen("libcuda.so.1", RTLD_NOW);
	if (h == NULL)
		fail("dlopen_cuda");
	*(void **)&cu_init = dlsym(h, "cuInit");
	*(void **)&cu_device_get = dlsym(h, "cuDeviceGet");
	*(void **)&cu_retain = dlsym(h, "cuDevicePrimaryCtxRetain");
	*(void **)&cu_set = dlsym(h, "cuCtxSetCurrent");
	*(void **)&cu_info = dlsym(h, "cuMemGetInfo_v2");
	*(void **)&cu_alloc = dlsym(h, "cuMemAlloc_v2");
	load_nvml();
	/* NVML's index 0 is CUDA's ordinal 0 only without CUDA_VISIBLE_DEVICES
	 * reordering; run.sh runs on a single-GPU machine or sets neither. */
	unsigned long long before = device_used();
	CUdevice dev;
	CUcontext ctx;
	if (cu_init(0) != CUDA_SUCCESS || cu_device_get(&dev, 0) != CUDA_SUCCESS ||
	    cu_retain(&ctx, dev) != CUDA_SUCCESS || cu_set(ctx) != CUDA_SUCCESS)
		fail("context");
	size_t free = 0, total = 0;
	cu_info(&free, &total);
	unsigned long long with_ctx = device_used(), proc_ctx = process_used();
	CUdeviceptr d;
	if (cu_alloc(&d, 2u << 20) != CUDA_SUCCESS)
		fail("alloc");
	unsigned long long with_alloc = device_used(), proc_alloc = process_used();
	printf("RESULT ctx_overhead nvml_used_before=%llu nvml_used_ctx=%llu delta_ctx=%llu "
	       "proc_used_ctx=%llu memgetinfo_used_ctx=%zu nvml_used_alloc=%llu delta_alloc=%llu "
	       "proc_used_alloc=%llu total=%zu\n", before, with_ctx, with_ctx - before, proc_ctx,
	       total - free, with_alloc, with_alloc - before, proc_alloc, total);
	return 0;
}
