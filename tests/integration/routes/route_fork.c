/* route_fork.c - interception across fork(), the way a data loader or a
 * multiprocessing worker forks after the parent has resolved the driver.
 *
 * The parent resolves its entry points through cuGetProcAddress_v2 (route
 * c), launches PARENT_BEFORE kernels, forks, and launches PARENT_AFTER more
 * once the child is done. The child keeps the parent's function pointers
 * (as a forked cudart would), starts CUDA over (the driver cannot be used
 * across fork), launches CHILD_LAUNCHES kernels, looks up and calls
 * cuMemAlloc once, and exits normally so that its own trace is written.
 */
#include <cuda.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "report.h"

enum { PARENT_BEFORE = 2, PARENT_AFTER = 1, CHILD_LAUNCHES = 7 };

typedef CUresult gpa5_fn(const char *, void **, int, cuuint64_t,
			 CUdriverProcAddressQueryResult *);
typedef CUresult init_fn(unsigned int);
typedef CUresult device_get_fn(CUdevice *, int);
typedef CUresult retain_fn(CUcontext *, CUdevice);
typedef CUresult set_current_fn(CUcontext);
typedef CUresult launch_fn(CUfunction, unsigned int, unsigned int, unsigned int, unsigned int,
			   unsigned int, unsigned int, unsigned int, CUstream, void **, void **);
typedef CUresult sync_fn(void);
typedef CUresult alloc_fn(CUdeviceptr *, size_t);

static gpa5_fn *gpa;
static init_fn *init;
static device_get_fn *device_get;
static retain_fn *retain;
static set_current_fn *set_current;
static launch_fn *launch;
static sync_fn *sync_ctx;

static void *lookup(const char *name, int version)
{
	void *p = NULL;
	return gpa(name, &p, version, 0, NULL) == CUDA_SUCCESS ? p : NULL;
}

/* cuInit, device 0, its primary context made current. */
static CUresult start_cuda(void)
{
	CUdevice dev;
	CUcontext ctx;
	CUresult r = init(0);
	if (r == CUDA_SUCCESS)
		r = device_get(&dev, 0);
	if (r == CUDA_SUCCESS)
		r = retain(&ctx, dev);
	if (r == CUDA_SUCCESS)
		r = set_current(ctx);
	return r;
}

/* Launches n kernels; the first error, or success. */
static CUresult launch_n(int n)
{
	uint32_t us = 20;
	void *params[] = { &us };
	for (int i = 0; i < n; i++) {
		CUresult r = launch(FAKE_KERNEL, 1, 1, 1, 32, 1, 1, 0, NULL, params, NULL);
		if (r != CUDA_SUCCESS)
			return r;
	}
	return sync_ctx();
}

int main(void)
{
	void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
	if (h == NULL || (gpa = (gpa5_fn *)dlsym(h, "cuGetProcAddress_v2")) == NULL)
		return 1;
	init = (init_fn *)lookup("cuInit", 2000);
	device_get = (device_get_fn *)lookup("cuDeviceGet", 2000);
	retain = (retain_fn *)lookup("cuDevicePrimaryCtxRetain", 7000);
	set_current = (set_current_fn *)lookup("cuCtxSetCurrent", 4000);
	launch = (launch_fn *)lookup("cuLaunchKernel", 4000);
	sync_ctx = (sync_fn *)lookup("cuCtxSynchronize", 2000);
	if (!init || !device_get || !retain || !set_current || !launch || !sync_ctx)
		return 1;

	say("parent_pid", "%d", (int)getpid());
	say("parent_start", "%d", start_cuda());
	say("parent_before", "%d", launch_n(PARENT_BEFORE));

	pid_t pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		say("child_pid", "%d", (int)getpid());
		say("child_start", "%d", start_cuda());
		say("child_launches", "%d", launch_n(CHILD_LAUNCHES));
		alloc_fn *alloc = (alloc_fn *)lookup("cuMemAlloc", 3020);
		CUdeviceptr p = 0;
		say("child_alloc", "%d", alloc != NULL ? (int)alloc(&p, 4096) : -1);
		exit(0); /* not _exit: the trace is written at exit */
	}
	int status = 0;
	waitpid(pid, &status, 0);
	say("child_status", "%d", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	say("parent_after", "%d", launch_n(PARENT_AFTER));
	return 0;
}
