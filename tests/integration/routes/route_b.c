/* route_b.c - route (b): the way cuBLASLt, XLA and CuPy reach the driver:
 * dlsym on a dlopened libcuda.so.1 (and libnvidia-ml.so.1) for versioned
 * export names, without cuGetProcAddress.
 *
 * usage: route_b [launches]   (default 3)
 * For every lookup it prints "dlsym:<name> <library> <symbol>", and for
 * every call "<name> <result> ...".
 */
#include <cuda.h>
#include <stdint.h>
#include <stdlib.h>

#include "report.h"

typedef CUresult init_fn(unsigned int);
typedef CUresult device_get_fn(CUdevice *, int);
typedef CUresult retain_fn(CUcontext *, CUdevice);
typedef CUresult set_current_fn(CUcontext);
typedef CUresult launch_fn(CUfunction, unsigned int, unsigned int, unsigned int, unsigned int,
			   unsigned int, unsigned int, unsigned int, CUstream, void **, void **);
typedef CUresult alloc_fn(CUdeviceptr *, size_t);
typedef CUresult free_fn(CUdeviceptr);
typedef CUresult mem_info_fn(size_t *, size_t *);
typedef CUresult total_fn(size_t *, CUdevice);
typedef CUresult sync_fn(void);
typedef CUresult gpa5_fn(const char *, void **, int, cuuint64_t,
			 CUdriverProcAddressQueryResult *);

/* The small NVML ABI (no nvml.h on these machines). */
typedef struct nvml_device *nvml_device_t;
typedef struct { unsigned long long total, free, used; } nvml_memory_t;
typedef struct {
	unsigned int version;
	unsigned long long total, reserved, free, used;
} nvml_memory_v2_t;
#define NVML_MEMORY_V2_VERSION ((unsigned int)(sizeof(nvml_memory_v2_t) | (2u << 24)))
typedef int nvml_init_fn(void);
typedef int nvml_handle_fn(unsigned int, nvml_device_t *);
typedef int nvml_mem_fn(nvml_device_t, nvml_memory_t *);
typedef int nvml_mem_v2_fn(nvml_device_t, nvml_memory_v2_t *);

static void *look(void *h, const char *name)
{
	char key[96], who[160];
	void *p = dlsym(h, name);
	snprintf(key, sizeof(key), "dlsym:%s", name);
	say(key, "%s", owner(p, who, sizeof(who)));
	return p;
}

static void nvml(void)
{
	void *h = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
	say("dlopen:nvml", "%s", h != NULL ? "ok" : "failed");
	if (h == NULL)
		return;
	nvml_init_fn *init = (nvml_init_fn *)look(h, "nvmlInit_v2");
	nvml_handle_fn *handle = (nvml_handle_fn *)look(h, "nvmlDeviceGetHandleByIndex_v2");
	nvml_mem_fn *mem = (nvml_mem_fn *)look(h, "nvmlDeviceGetMemoryInfo");
	nvml_mem_v2_fn *mem2 = (nvml_mem_v2_fn *)look(h, "nvmlDeviceGetMemoryInfo_v2");
	if (!init || !handle || !mem || !mem2)
		return;
	nvml_device_t dev = NULL;
	say("nvmlInit_v2", "%d", init());
	say("nvmlDeviceGetHandleByIndex_v2", "%d", handle(0, &dev));
	nvml_memory_t m = { 0 };
	int r = mem(dev, &m);
	say("nvmlDeviceGetMemoryInfo", "%d %llu %llu %llu", r, m.total, m.free, m.used);
	/* Errors pass through: a NULL result, a wrong struct version. */
	say("nvmlDeviceGetMemoryInfo:null", "%d", mem(dev, NULL));
	nvml_memory_v2_t m2 = { .version = NVML_MEMORY_V2_VERSION };
	r = mem2(dev, &m2);
	say("nvmlDeviceGetMemoryInfo_v2", "%d %llu %llu %llu", r, m2.total, m2.free, m2.used);
	nvml_memory_v2_t bad = { .version = 1 };
	say("nvmlDeviceGetMemoryInfo_v2:badversion", "%d", mem2(dev, &bad));
}

int main(int argc, char **argv)
{
	int launches = argc > 1 ? atoi(argv[1]) : 3;

	void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
	say("dlopen", "%s", h != NULL ? "ok" : "failed");
	if (h == NULL)
		return 1;
	/* Not hooked: the driver's own functions. */
	init_fn *init = (init_fn *)look(h, "cuInit");
	device_get_fn *device_get = (device_get_fn *)look(h, "cuDeviceGet");
	retain_fn *retain = (retain_fn *)look(h, "cuDevicePrimaryCtxRetain");
	set_current_fn *set_current = (set_current_fn *)look(h, "cuCtxSetCurrent");
	/* Hooked. */
	launch_fn *launch = (launch_fn *)look(h, "cuLaunchKernel");
	launch_fn *launch_ptsz = (launch_fn *)look(h, "cuLaunchKernel_ptsz");
	alloc_fn *alloc = (alloc_fn *)look(h, "cuMemAlloc_v2");
	free_fn *release = (free_fn *)look(h, "cuMemFree_v2");
	mem_info_fn *mem_info = (mem_info_fn *)look(h, "cuMemGetInfo_v2");
	total_fn *total = (total_fn *)look(h, "cuDeviceTotalMem_v2");
	sync_fn *sync = (sync_fn *)look(h, "cuCtxSynchronize");
	look(h, "cuMemCreate");
	look(h, "cuGetProcAddress");
	gpa5_fn *gpa = (gpa5_fn *)look(h, "cuGetProcAddress_v2");
	/* Not in this driver at all, hooked or not. */
	look(h, "cuNoSuchFunction");
	look(h, "cuMemAlloc");          /* unversioned: not an export of the driver */
	/* A hooked name looked up in a library that is not the driver. */
	void *libm = dlopen("libm.so.6", RTLD_NOW | RTLD_LOCAL);
	say("dlsym:libm:cuLaunchKernel", "%s", libm != NULL && dlsym(libm, "cuLaunchKernel")
						    ? "found" : "none");
	if (!init || !device_get || !retain || !set_current || !launch || !launch_ptsz ||
	    !alloc || !release || !mem_info || !total || !sync || !gpa)
		return 1;

	CUdevice dev = 0;
	CUcontext ctx = NULL;
	say("cuInit", "%d", init(0));
	say("cuDeviceGet", "%d", device_get(&dev, 0));
	say("cuDevicePrimaryCtxRetain", "%d", retain(&ctx, dev));
	say("cuCtxSetCurrent", "%d", set_current(ctx));

	size_t f = 0, t = 0, card = 0;
	CUresult r = mem_info(&f, &t);
	say("cuMemGetInfo_v2", "%d %zu %zu", r, f, t);
	r = total(&card, dev);
	say("cuDeviceTotalMem_v2", "%d %zu", r, card);
	CUdeviceptr p = 0;
	r = alloc(&p, 1 << 20);
	say("cuMemAlloc_v2", "%d %s", r, p != 0 ? "ptr" : "null");
	uint32_t us = 20;
	void *params[] = { &us };
	r = CUDA_SUCCESS;
	for (int i = 0; i < launches; i++) {
		CUresult one = launch(FAKE_KERNEL, 1, 1, 1, 32, 1, 1, 0, NULL, params, NULL);
		if (i == 0 || one != CUDA_SUCCESS)
			r = one;
	}
	say("cuLaunchKernel", "%d x%d", r, launches);
	say("cuLaunchKernel_ptsz", "%d",
	    launch_ptsz(FAKE_KERNEL, 1, 1, 1, 32, 1, 1, 0, NULL, params, NULL));
	say("cuCtxSynchronize", "%d", sync());
	say("cuMemFree_v2", "%d", release(p));
	/* The hooked cuGetProcAddress_v2 found by dlsym answers with hooks too. */
	void *q = NULL;
	char who[160];
	r = gpa("cuMemAlloc", &q, 3020, 0, NULL);
	say("gpa:cuMemAlloc@3020/0", "%d %s", r, owner(q, who, sizeof(who)));

	nvml();
	return 0;
}
