/* soakmember.c - one member of the chaos soak (tests/soak/soak.py).
 *
 * Reaches the driver as cudart does (dlopen + cuGetProcAddress_v2) and, until
 * SECONDS have passed, repeats: allocate a random chunk of at most MAX_CHUNK
 * bytes (refusals at the cap are expected) or free one it holds, launch one
 * simulated kernel of KERNEL_US microseconds and synchronize. It frees
 * everything and exits 0 at the end; the soak kills or pauses it at random
 * on the way. It prints nothing: the simulated driver's kernel log says who
 * ran when, and the per-GPU file what each member holds.
 *
 * usage: soakmember SECONDS MAX_CHUNK KERNEL_US SEED
 */
#include <cuda.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { BLOCKS = 8 };

static struct {
	CUresult (*init)(unsigned);
	CUresult (*device_get)(CUdevice *, int);
	CUresult (*retain)(CUcontext *, CUdevice);
	CUresult (*set_current)(CUcontext);
	CUresult (*alloc)(CUdeviceptr *, size_t);
	CUresult (*free)(CUdeviceptr);
	CUresult (*launch)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
			   unsigned, unsigned, CUstream, void **, void **);
	CUresult (*sync)(void);
} cu;

static void die(const char *what, int r)
{
	fprintf(stderr, "soakmember: %s failed (%d)\n", what, r);
	exit(1);
}

static void load(void)
{
	typedef CUresult (*getter)(const char *, void **, int, cuuint64_t,
				   CUdriverProcAddressQueryResult *);
	void *h = dlopen("libcuda.so.1", RTLD_NOW);
	getter get = h != NULL ? (getter)dlsym(h, "cuGetProcAddress_v2") : NULL;
	if (get == NULL)
		die("loading libcuda.so.1", -1);
	struct { const char *name; void **slot; } want[] = {
		{ "cuInit", (void **)&cu.init },
		{ "cuDeviceGet", (void **)&cu.device_get },
		{ "cuDevicePrimaryCtxRetain", (void **)&cu.retain },
		{ "cuCtxSetCurrent", (void **)&cu.set_current },
		{ "cuMemAlloc", (void **)&cu.alloc },
		{ "cuMemFree", (void **)&cu.free },
		{ "cuLaunchKernel", (void **)&cu.launch },
		{ "cuCtxSynchronize", (void **)&cu.sync },
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		CUdriverProcAddressQueryResult st;
		CUresult r = get(want[i].name, want[i].slot, 12000, 0, &st);
		if (r != CUDA_SUCCESS)
			die(want[i].name, r);
	}
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: soakmember SECONDS MAX_CHUNK KERNEL_US SEED\n");
		return 2;
	}
	double seconds = atof(argv[1]);
	unsigned long long max_chunk = strtoull(argv[2], NULL, 10);
	unsigned kernel_us = (unsigned)atoi(argv[3]);
	unsigned seed = (unsigned)strtoul(argv[4], NULL, 10);
	CUdevice dev;
	CUcontext ctx;
	CUdeviceptr blocks[BLOCKS] = { 0 };
	load();
	if (cu.init(0) != CUDA_SUCCESS || cu.device_get(&dev, 0) != CUDA_SUCCESS ||
	    cu.retain(&ctx, dev) != CUDA_SUCCESS || cu.set_current(ctx) != CUDA_SUCCESS)
		die("context setup", -1);
	double end = now_s() + seconds;
	while (now_s() < end) {
		unsigned i = (unsigned)rand_r(&seed) % BLOCKS;
		if (blocks[i] != 0) {
			if (cu.free(blocks[i]) != CUDA_SUCCESS)
				die("cuMemFree", -1);
			blocks[i] = 0;
		} else {
			size_t n = 1 + (size_t)((unsigned long long)rand_r(&seed) % max_chunk);
			CUresult r = cu.alloc(&blocks[i], n);
			if (r != CUDA_SUCCESS && r != CUDA_ERROR_OUT_OF_MEMORY)
				die("cuMemAlloc", r);
			if (r != CUDA_SUCCESS)
				blocks[i] = 0;
		}
		void *params[] = { &kernel_us };
		CUresult r = cu.launch((CUfunction)(uintptr_t)0x5, 1, 1, 1, 1, 1, 1, 0, NULL, params,
				       NULL);
		if (r != CUDA_SUCCESS)
			die("cuLaunchKernel", r);
		if (cu.sync() != CUDA_SUCCESS)
			die("cuCtxSynchronize", -1);
	}
	for (unsigned i = 0; i < BLOCKS; i++) {
		if (blocks[i] != 0 && cu.free(blocks[i]) != CUDA_SUCCESS)
			die("cuMemFree", -1);
	}
	return 0;
}
