/* route_ctor_lib.c - a library that uses CUDA from its load-time
 * constructor, as cuBLASLt does. Linked into route_ctor with DT_NEEDED, its
 * constructor runs before main and before any constructor of a preloaded
 * library is guaranteed to have run. It records what happened for main to
 * print (stdio is not touched from the constructor).
 */
#include <cuda.h>
#include <stdint.h>
#include <stdio.h>

#include "report.h"

typedef CUresult gpa5_fn(const char *, void **, int, cuuint64_t,
			 CUdriverProcAddressQueryResult *);
typedef CUresult init_fn(unsigned int);
typedef CUresult device_get_fn(CUdevice *, int);
typedef CUresult retain_fn(CUcontext *, CUdevice);
typedef CUresult set_current_fn(CUcontext);
typedef CUresult launch_fn(CUfunction, unsigned int, unsigned int, unsigned int, unsigned int,
			   unsigned int, unsigned int, unsigned int, CUstream, void **, void **);
typedef CUresult alloc_fn(CUdeviceptr *, size_t);

enum { CTOR_LAUNCHES = 4 };

static char report[2048];
static size_t used;

static void note(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note(const char *key, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(report + used, sizeof(report) - used, "%s ", key);
	if (n > 0 && (size_t)n < sizeof(report) - used)
		used += (size_t)n;
	va_start(ap, fmt);
	n = vsnprintf(report + used, sizeof(report) - used, fmt, ap);
	va_end(ap);
	if (n > 0 && (size_t)n < sizeof(report) - used)
		used += (size_t)n;
	if (used + 1 < sizeof(report))
		report[used++] = '\n';
	report[used] = '\0';
}

static void *lookup(gpa5_fn *gpa, const char *name, int version)
{
	void *p = NULL;
	char key[64], who[160];
	CUresult r = gpa(name, &p, version, 0, NULL);
	snprintf(key, sizeof(key), "ctor:%s@%d/0", name, version);
	note(key, "%d %s", r, owner(p, who, sizeof(who)));
	return r == CUDA_SUCCESS ? p : NULL;
}

__attribute__((constructor)) static void use_cuda_early(void)
{
	char who[160];
	void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
	note("ctor:dlopen", "%s", h != NULL ? "ok" : "failed");
	if (h == NULL)
		return;
	gpa5_fn *gpa = (gpa5_fn *)dlsym(h, "cuGetProcAddress_v2");
	note("ctor:dlsym:cuGetProcAddress_v2", "%s", owner((void *)gpa, who, sizeof(who)));
	alloc_fn *direct_alloc = (alloc_fn *)dlsym(h, "cuMemAlloc_v2");
	note("ctor:dlsym:cuMemAlloc_v2", "%s", owner((void *)direct_alloc, who, sizeof(who)));
	if (gpa == NULL || direct_alloc == NULL)
		return;
	init_fn *init = (init_fn *)lookup(gpa, "cuInit", 2000);
	device_get_fn *device_get = (device_get_fn *)lookup(gpa, "cuDeviceGet", 2000);
	retain_fn *retain = (retain_fn *)lookup(gpa, "cuDevicePrimaryCtxRetain", 7000);
	set_current_fn *set_current = (set_current_fn *)lookup(gpa, "cuCtxSetCurrent", 4000);
	launch_fn *launch = (launch_fn *)lookup(gpa, "cuLaunchKernel", 4000);
	if (!init || !device_get || !retain || !set_current || !launch)
		return;
	CUdevice dev = 0;
	CUcontext ctx = NULL;
	note("ctor:cuInit", "%d", init(0));
	note("ctor:cuDeviceGet", "%d", device_get(&dev, 0));
	note("ctor:cuDevicePrimaryCtxRetain", "%d", retain(&ctx, dev));
	note("ctor:cuCtxSetCurrent", "%d", set_current(ctx));
	uint32_t us = 20;
	void *params[] = { &us };
	CUresult r = CUDA_SUCCESS;
	for (int i = 0; i < CTOR_LAUNCHES && r == CUDA_SUCCESS; i++)
		r = launch(FAKE_KERNEL, 1, 1, 1, 32, 1, 1, 0, NULL, params, NULL);
	note("ctor:cuLaunchKernel", "%d x%d", r, CTOR_LAUNCHES);
	CUdeviceptr p = 0;
	r = direct_alloc(&p, 4096);
	note("ctor:cuMemAlloc_v2", "%d %s", r, p != 0 ? "ptr" : "null");
}

const char *ctor_report(void)
{
	return report;
}
