/* route_c.c - route (c): the way cudart reaches the driver. It never links
 * libcuda: it dlopens libcuda.so.1, looks up cuGetProcAddress_v2 with dlsym
 * and asks it for base names at a CUDA version with flags 0 (default
 * stream) or 2 (per-thread default stream).
 *
 * usage: route_c [launches]   (default 3)
 * For every lookup it prints "<name>@<version>/<flags> <result> <status>
 * <library> <symbol>" and for every call "<what> <result>".
 */
#include <cuda.h>
#include <stdint.h>
#include <stdlib.h>

#include "report.h"

typedef CUresult gpa5_fn(const char *, void **, int, cuuint64_t,
			 CUdriverProcAddressQueryResult *);
typedef CUresult gpa4_fn(const char *, void **, int, cuuint64_t);
typedef CUresult init_fn(unsigned int);
typedef CUresult device_get_fn(CUdevice *, int);
typedef CUresult retain_fn(CUcontext *, CUdevice);
typedef CUresult set_current_fn(CUcontext);
typedef CUresult launch_fn(CUfunction, unsigned int, unsigned int, unsigned int, unsigned int,
			   unsigned int, unsigned int, unsigned int, CUstream, void **, void **);
typedef CUresult launch_ex_fn(const CUlaunchConfig *, CUfunction, void **, void **);
typedef CUresult alloc_fn(CUdeviceptr *, size_t);
typedef CUresult alloc_async_fn(CUdeviceptr *, size_t, CUstream);
typedef CUresult free_fn(CUdeviceptr);
typedef CUresult sync_fn(void);
typedef CUresult sync_v2_fn(CUcontext);
typedef CUresult mem_info_fn(size_t *, size_t *);

static gpa5_fn *gpa;

/* Looks name up at version with flags and reports what came back. */
static void *lookup_with(gpa5_fn *fn, const char *name, int version, cuuint64_t flags)
{
	void *p = (void *)0x1; /* must be overwritten */
	CUdriverProcAddressQueryResult status = (CUdriverProcAddressQueryResult)77;
	CUresult r = fn(name, &p, version, flags, &status);
	char key[96], who[160];
	snprintf(key, sizeof(key), "%s@%d/%d", name[0] ? name : "(empty)", version, (int)flags);
	say(key, "%d %d %s", r, (int)status, owner(p, who, sizeof(who)));
	return r == CUDA_SUCCESS ? p : NULL;
}

static void *lookup(const char *name, int version, cuuint64_t flags)
{
	return lookup_with(gpa, name, version, flags);
}

int main(int argc, char **argv)
{
	int launches = argc > 1 ? atoi(argv[1]) : 3;
	char who[160];

	void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
	say("dlopen", "%s", h != NULL ? "ok" : "failed");
	if (h == NULL)
		return 1;
	gpa = (gpa5_fn *)dlsym(h, "cuGetProcAddress_v2");
	say("dlsym:cuGetProcAddress_v2", "%s", owner((void *)gpa, who, sizeof(who)));
	if (gpa == NULL)
		return 1;

	/* cudart's first call: an empty name at version 0. */
	lookup("", 0, 0);

	init_fn *init = (init_fn *)lookup("cuInit", 2000, 0);
	device_get_fn *device_get = (device_get_fn *)lookup("cuDeviceGet", 2000, 0);
	retain_fn *retain = (retain_fn *)lookup("cuDevicePrimaryCtxRetain", 7000, 0);
	set_current_fn *set_current = (set_current_fn *)lookup("cuCtxSetCurrent", 4000, 0);
	if (!init || !device_get || !retain || !set_current)
		return 1;
	CUdevice dev = 0;
	CUcontext ctx = NULL;
	say("cuInit", "%d", init(0));
	say("cuDeviceGet", "%d", device_get(&dev, 0));
	say("cuDevicePrimaryCtxRetain", "%d", retain(&ctx, dev));
	say("cuCtxSetCurrent", "%d", set_current(ctx));

	/* The same base name, two variants. */
	launch_fn *launch = (launch_fn *)lookup("cuLaunchKernel", 4000, 0);
	launch_fn *launch_legacy = (launch_fn *)lookup("cuLaunchKernel", 12000, 1);
	launch_fn *launch_ptsz = (launch_fn *)lookup("cuLaunchKernel", 12000, 2);
	lookup("cuLaunchKernel", 4000, 2); /* too old for _ptsz: the default one */
	launch_ex_fn *launch_ex = (launch_ex_fn *)lookup("cuLaunchKernelEx", 11060, 0);
	launch_ex_fn *launch_ex_ptsz = (launch_ex_fn *)lookup("cuLaunchKernelEx", 12000, 2);
	lookup("cuGraphLaunch", 10000, 2);
	alloc_async_fn *alloc_async_ptsz = (alloc_async_fn *)lookup("cuMemAllocAsync", 11020, 2);
	free_fn *free_async_unused = (free_fn *)lookup("cuMemFreeAsync", 11020, 0);
	(void)free_async_unused;
	mem_info_fn *mem_info = (mem_info_fn *)lookup("cuMemGetInfo", 3020, 0);
	sync_fn *sync1 = (sync_fn *)lookup("cuCtxSynchronize", 2000, 0);
	sync_v2_fn *sync2 = (sync_v2_fn *)lookup("cuCtxSynchronize", 13000, 0);

	/* cuGetProcAddress itself: the 4-argument legacy entry at 11030, the
	 * 5-argument one at 12000; each is then used for further lookups. */
	gpa4_fn *gpa4 = (gpa4_fn *)lookup("cuGetProcAddress", 11030, 0);
	gpa5_fn *gpa5 = (gpa5_fn *)lookup("cuGetProcAddress", 12000, 0);
	alloc_fn *alloc = NULL;
	free_fn *release = NULL;
	if (gpa5 != NULL)
		alloc = (alloc_fn *)lookup_with(gpa5, "cuMemAlloc", 3020, 0);
	if (gpa4 != NULL) {
		void *p = NULL;
		CUresult r = gpa4("cuMemFree", &p, 3020, 0);
		say("gpa4:cuMemFree@3020/0", "%d %s", r, owner(p, who, sizeof(who)));
		release = (free_fn *)p;
		p = (void *)0x1;
		r = gpa4("cuNoSuchFunction", &p, 12000, 0);
		say("gpa4:cuNoSuchFunction@12000/0", "%d %s", r, owner(p, who, sizeof(who)));
	}

	/* Names that must not be found, and the driver's own answers for them. */
	lookup("cuNoSuchFunction", 12000, 0);
	lookup("cuMemAlloc_v2", 12000, 0);
	lookup("cuLaunchKernel_ptsz", 12000, 2);
	lookup("cuLaunchKernelEx", 11000, 0); /* older than the function */
	{
		void *p = NULL;
		CUresult r = gpa("cuMemAlloc", NULL, 3020, 0, NULL);
		say("cuMemAlloc@3020/0:nullpfn", "%d", r);
		r = gpa("cuMemAlloc", &p, 3020, 0x100, NULL); /* unknown flag */
		say("cuMemAlloc@3020/256", "%d %s", r, owner(p, who, sizeof(who)));
	}

	/* Calls through what came back. */
	uint32_t us = 20;
	void *params[] = { &us };
	CUresult r = CUDA_SUCCESS;
	for (int i = 0; launch != NULL && i < launches; i++) {
		CUresult one = launch(FAKE_KERNEL, 1, 1, 1, 32, 1, 1, 0, NULL, params, NULL);
		if (i == 0 || one != CUDA_SUCCESS)
			r = one;
	}
	say("call:cuLaunchKernel", "%d x%d", r, launches);
	if (launch_legacy != NULL)
		say("call:cuLaunchKernel:legacy", "%d",
		    launch_legacy(FAKE_KERNEL, 1, 1, 1, 32, 1, 1, 0, NULL, params, NULL));
	if (launch_ptsz != NULL) {
		say("call:cuLaunchKernel_ptsz", "%d",
		    launch_ptsz(FAKE_KERNEL, 1, 1, 1, 32, 1, 1, 0, NULL, params, NULL));
		say("call:cuLaunchKernel_ptsz", "%d",
		    launch_ptsz(FAKE_KERNEL, 1, 1, 1, 32, 1, 1, 0, NULL, params, NULL));
	}
	CUlaunchConfig cfg = { .gridDimX = 1, .gridDimY = 1, .gridDimZ = 1,
			       .blockDimX = 32, .blockDimY = 1, .blockDimZ = 1 };
	if (launch_ex != NULL)
		say("call:cuLaunchKernelEx", "%d", launch_ex(&cfg, FAKE_KERNEL, params, NULL));
	if (launch_ex_ptsz != NULL)
		say("call:cuLaunchKernelEx_ptsz", "%d",
		    launch_ex_ptsz(&cfg, FAKE_KERNEL, params, NULL));
	if (mem_info != NULL) {
		size_t f = 0, t = 0;
		r = mem_info(&f, &t);
		say("call:cuMemGetInfo_v2", "%d %zu %zu", r, f, t);
	}
	CUdeviceptr p = 0;
	if (alloc != NULL) {
		r = alloc(&p, 1 << 20);
		say("call:cuMemAlloc_v2", "%d %s", r, p != 0 ? "ptr" : "null");
	}
	if (alloc_async_ptsz != NULL) {
		CUdeviceptr q = 0;
		r = alloc_async_ptsz(&q, 4096, NULL);
		say("call:cuMemAllocAsync_ptsz", "%d %s", r, q != 0 ? "ptr" : "null");
	}
	if (sync1 != NULL)
		say("call:cuCtxSynchronize", "%d", sync1());
	if (sync2 != NULL)
		say("call:cuCtxSynchronize_v2", "%d", sync2(ctx));
	if (release != NULL && p != 0)
		say("call:cuMemFree_v2", "%d", release(p));
	return 0;
}
