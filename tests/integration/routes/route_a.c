/* route_a.c - route (a): a program linked with -lcuda calls the driver
 * directly (built twice: as is, and with the per-thread default stream,
 * where cuda.h turns cuLaunchKernel into cuLaunchKernel_ptsz).
 *
 * usage: route_a [launches]   (default 3)
 * Prints the result of every call; test_routes.py compares them with and
 * without the interposer and checks the trace and the driver's counts.
 */
#include <cuda.h>
#include <stdint.h>
#include <stdlib.h>

#include "report.h"

int main(int argc, char **argv)
{
	int launches = argc > 1 ? atoi(argv[1]) : 3;
	CUresult r;
	CUdevice dev = 0;
	CUcontext ctx = NULL;

	say("cuInit", "%d", cuInit(0));
	say("cuDeviceGet", "%d", cuDeviceGet(&dev, 0));
	say("cuDevicePrimaryCtxRetain", "%d", cuDevicePrimaryCtxRetain(&ctx, dev));
	say("cuCtxSetCurrent", "%d", cuCtxSetCurrent(ctx));

	size_t free_b = 0, total_b = 0, card = 0;
	r = cuMemGetInfo(&free_b, &total_b);
	say("cuMemGetInfo_v2", "%d %zu %zu", r, free_b, total_b);
	r = cuDeviceTotalMem(&card, dev);
	say("cuDeviceTotalMem_v2", "%d %zu", r, card);

	CUdeviceptr p = 0;
	r = cuMemAlloc(&p, 1 << 20);
	say("cuMemAlloc_v2", "%d %s", r, p != 0 ? "ptr" : "null");

	uint32_t us = 20;
	void *params[] = { &us };
	r = CUDA_SUCCESS;
	for (int i = 0; i < launches; i++) {
		CUresult one = cuLaunchKernel(FAKE_KERNEL, 1, 1, 1, 32, 1, 1, 0, NULL, params, NULL);
		if (i == 0 || one != CUDA_SUCCESS)
			r = one;
	}
	say("cuLaunchKernel", "%d x%d", r, launches);

	CUlaunchConfig cfg = { .gridDimX = 1, .gridDimY = 1, .gridDimZ = 1,
			       .blockDimX = 32, .blockDimY = 1, .blockDimZ = 1 };
	say("cuLaunchKernelEx", "%d", cuLaunchKernelEx(&cfg, FAKE_KERNEL, params, NULL));
	say("cuLaunchCooperativeKernel", "%d",
	    cuLaunchCooperativeKernel(FAKE_KERNEL, 1, 1, 1, 32, 1, 1, 0, NULL, params));

	/* A CUDA graph: capture two launches on a stream, then launch it. */
	CUstream s = NULL;
	CUgraph graph = NULL;
	CUgraphExec exec = NULL;
	CUstreamCaptureStatus cap = CU_STREAM_CAPTURE_STATUS_NONE;
	say("cuStreamCreate", "%d", cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
	say("cuStreamBeginCapture_v2", "%d",
	    cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL));
	r = cuStreamIsCapturing(s, &cap);
	say("cuStreamIsCapturing", "%d %d", r, (int)cap);
	cuLaunchKernel(FAKE_KERNEL, 1, 1, 1, 32, 1, 1, 0, s, params, NULL);
	cuLaunchKernel(FAKE_KERNEL, 1, 1, 1, 32, 1, 1, 0, s, params, NULL);
	say("cuStreamEndCapture", "%d", cuStreamEndCapture(s, &graph));
	say("cuGraphInstantiate", "%d", cuGraphInstantiate(&exec, graph, 0));
	say("cuGraphLaunch", "%d", cuGraphLaunch(exec, s));
	say("cuStreamSynchronize", "%d", cuStreamSynchronize(s));

	CUdeviceptr q = 0;
	r = cuMemAllocAsync(&q, 4096, s);
	say("cuMemAllocAsync", "%d %s", r, q != 0 ? "ptr" : "null");
	say("cuMemFreeAsync", "%d", cuMemFreeAsync(q, s));

	CUmemAllocationProp prop = { .type = CU_MEM_ALLOCATION_TYPE_PINNED,
				     .location = { .type = CU_MEM_LOCATION_TYPE_DEVICE,
						   .id = dev } };
	CUmemGenericAllocationHandle h = 0;
	r = cuMemCreate(&h, 2 << 20, &prop, 0);
	say("cuMemCreate", "%d", r);
	if (r == CUDA_SUCCESS)
		say("cuMemRelease", "%d", cuMemRelease(h));

	say("cuCtxSynchronize", "%d", cuCtxSynchronize());
	say("cuCtxSynchronize_v2", "%d", cuCtxSynchronize_v2(ctx));
	say("cuMemFree_v2", "%d", cuMemFree(p));
	/* An error the driver itself gives: freeing twice. */
	say("cuMemFree_v2_again", "%d", cuMemFree(p));
	cuGraphExecDestroy(exec);
	cuGraphDestroy(graph);
	cuStreamDestroy(s);
	say("cuDevicePrimaryCtxRelease", "%d", cuDevicePrimaryCtxRelease(dev));
	return 0;
}
