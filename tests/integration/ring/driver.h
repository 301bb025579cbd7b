/* driver.h - the driver entry points the ring test programs use, looked up
 * the way cudart does (dlopen + cuGetProcAddress_v2 by base name). */
#ifndef RING_TEST_DRIVER_H
#define RING_TEST_DRIVER_H

#include <cuda.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct driver {
	CUresult (*init)(unsigned);
	CUresult (*device_get)(CUdevice *, int);
	CUresult (*retain)(CUcontext *, CUdevice);
	CUresult (*set_current)(CUcontext);
	CUresult (*stream_create)(CUstream *, unsigned);
	CUresult (*begin_capture)(CUstream, CUstreamCaptureMode);
	CUresult (*end_capture)(CUstream, CUgraph *);
	CUresult (*instantiate)(CUgraphExec *, CUgraph, unsigned long long);
	CUresult (*graph_launch)(CUgraphExec, CUstream);
	CUresult (*launch)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
			   unsigned, unsigned, CUstream, void **, void **);
	CUresult (*stream_sync)(CUstream);
	CUresult (*ctx_sync)(void);
};

static inline void driver_die(const char *what, int r)
{
	fprintf(stderr, "%s failed (%d)\n", what, r);
	exit(1);
}

static inline void driver_load(struct driver *d)
{
	typedef CUresult (*getter)(const char *, void **, int, cuuint64_t,
				   CUdriverProcAddressQueryResult *);
	void *h = dlopen("libcuda.so.1", RTLD_NOW);
	getter get = h != NULL ? (getter)dlsym(h, "cuGetProcAddress_v2") : NULL;
	if (get == NULL)
		driver_die("loading libcuda.so.1", -1);
	struct { const char *name; void **slot; } want[] = {
		{ "cuInit", (void **)&d->init },
		{ "cuDeviceGet", (void **)&d->device_get },
		{ "cuDevicePrimaryCtxRetain", (void **)&d->retain },
		{ "cuCtxSetCurrent", (void **)&d->set_current },
		{ "cuStreamCreate", (void **)&d->stream_create },
		{ "cuStreamBeginCapture", (void **)&d->begin_capture },
		{ "cuStreamEndCapture", (void **)&d->end_capture },
		{ "cuGraphInstantiateWithFlags", (void **)&d->instantiate },
		{ "cuGraphLaunch", (void **)&d->graph_launch },
		{ "cuLaunchKernel", (void **)&d->launch },
		{ "cuStreamSynchronize", (void **)&d->stream_sync },
		{ "cuCtxSynchronize", (void **)&d->ctx_sync },
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		CUdriverProcAddressQueryResult st;
		CUresult r = get(want[i].name, want[i].slot, 12000, 0, &st);
		if (r != CUDA_SUCCESS)
			driver_die(want[i].name, r);
	}
}

/* cuInit, device 0's primary context made current on this thread. */
static inline CUcontext driver_context(struct driver *d)
{
	CUdevice dev;
	CUcontext ctx;
	if (d->init(0) != CUDA_SUCCESS || d->device_get(&dev, 0) != CUDA_SUCCESS ||
	    d->retain(&ctx, dev) != CUDA_SUCCESS || d->set_current(ctx) != CUDA_SUCCESS)
		driver_die("context setup", -1);
	return ctx;
}

/* Launches one simulated kernel of us microseconds on stream s. */
static inline CUresult driver_kernel(struct driver *d, CUstream s, unsigned us)
{
	void *params[] = { &us };
	return d->launch((CUfunction)(uintptr_t)0x5, 1, 1, 1, 1, 1, 1, 0, s, params, NULL);
}

static inline double driver_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

#endif
