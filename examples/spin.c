/* spin.c - a GPU workload of fixed-work kernels, for the demo and benchmarks.
 *
 * It reaches the driver the way cudart does: dlopen("libcuda.so.1"), one
 * dlsym of cuGetProcAddress_v2, then every entry point by base name. On a
 * real GPU each kernel is a compute-bound loop (embedded PTX, JIT-compiled
 * by the driver, no nvcc needed) over every SM; on the simulated driver a
 * kernel lasts --work microseconds. It prints one line:
 *
 *   spin name=A pid=123 kernels=812 seconds=5.00 rate=162.4 step_p50_ms=6.1 step_p99_ms=12.3
 *
 * where a step is one batch of --batch launches followed by a synchronize.
 *
 * usage: spin [--seconds S] [--work N] [--batch B] [--name NAME] [--start-at UNIX_S]
 *             [--idle] [--device ORDINAL]
 *   --work N    iterations per thread (real GPU) or µs per kernel (simulated)
 *   --start-at  wait until this CLOCK_REALTIME second before starting
 *   --idle      join the GPU (allocate once) and sleep for --seconds
 */
#include <cuda.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char spin_ptx[] =
	".version 7.5\n"
	".target sm_75\n"
	".address_size 64\n"
	".visible .entry spin(.param .u32 iters, .param .u64 out)\n"
	"{\n"
	"  .reg .u32 %r<4>;\n"
	"  .reg .u64 %rd<3>;\n"
	"  .reg .f32 %f<3>;\n"
	"  .reg .pred %p<3>;\n"
	"  ld.param.u32 %r1, [iters];\n"
	"  mov.u32 %r2, 0;\n"
	"  mov.f32 %f1, 0f3F800000;\n"
	"LOOP:\n"
	"  fma.rn.f32 %f1, %f1, 0f3F7FFFFF, 0f3A83126F;\n"
	"  add.u32 %r2, %r2, 1;\n"
	"  setp.lt.u32 %p1, %r2, %r1;\n"
	"  @%p1 bra LOOP;\n"
	"  setp.eq.f32 %p2, %f1, 0f00000000;\n"
	"  @!%p2 bra DONE;\n"
	"  ld.param.u64 %rd1, [out];\n"
	"  st.global.f32 [%rd1], %f1;\n"
	"DONE:\n"
	"  ret;\n"
	"}\n";

typedef CUresult (*proc_fn)(const char *, void **, int, cuuint64_t,
			    CUdriverProcAddressQueryResult *);

static struct {
	CUresult (*init)(unsigned);
	CUresult (*device_get)(CUdevice *, int);
	CUresult (*device_name)(char *, int, CUdevice);
	CUresult (*device_attr)(int *, CUdevice_attribute, CUdevice);
	CUresult (*retain)(CUcontext *, CUdevice);
	CUresult (*set_current)(CUcontext);
	CUresult (*module_load)(CUmodule *, const void *);
	CUresult (*get_function)(CUfunction *, CUmodule, const char *);
	CUresult (*mem_alloc)(CUdeviceptr *, size_t);
	CUresult (*launch)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned,
			   unsigned, unsigned, CUstream, void **, void **);
	CUresult (*sync)(void);
} cu;

static void die(const char *what, CUresult r)
{
	fprintf(stderr, "spin: %s failed (CUresult %d)\n", what, (int)r);
	exit(1);
}

static void resolve(void)
{
	void *h = dlopen("libcuda.so.1", RTLD_NOW);
	if (h == NULL) {
		fprintf(stderr, "spin: cannot load libcuda.so.1: %s\n", dlerror());
		exit(1);
	}
	proc_fn get = (proc_fn)dlsym(h, "cuGetProcAddress_v2");
	if (get == NULL)
		die("dlsym(cuGetProcAddress_v2)", CUDA_ERROR_NOT_FOUND);
	struct { const char *name; void **slot; } want[] = {
		{ "cuInit", (void **)&cu.init },
		{ "cuDeviceGet", (void **)&cu.device_get },
		{ "cuDeviceGetName", (void **)&cu.device_name },
		{ "cuDeviceGetAttribute", (void **)&cu.device_attr },
		{ "cuDevicePrimaryCtxRetain", (void **)&cu.retain },
		{ "cuCtxSetCurrent", (void **)&cu.set_current },
		{ "cuModuleLoadData", (void **)&cu.module_load },
		{ "cuModuleGetFunction", (void **)&cu.get_function },
		{ "cuMemAlloc", (void **)&cu.mem_alloc },
		{ "cuLaunchKernel", (void **)&cu.launch },
		{ "cuCtxSynchronize", (void **)&cu.sync },
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		CUdriverProcAddressQueryResult st;
		CUresult r = get(want[i].name, want[i].slot, 12000, 0, &st);
		if (r != CUDA_SUCCESS && strncmp(want[i].name, "cuModule", 8) != 0)
			die(want[i].name, r);
	}
}

static double now_s(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	double seconds = 5, start_at = 0;
	unsigned work = 0, batch = 1;
	int idle = 0, ordinal = 0;
	const char *name = "spin";
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = atof(argv[++i]);
		else if (!strcmp(argv[i], "--work") && i + 1 < argc)
			work = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
			batch = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--name") && i + 1 < argc)
			name = argv[++i];
		else if (!strcmp(argv[i], "--start-at") && i + 1 < argc)
			start_at = atof(argv[++i]);
		else if (!strcmp(argv[i], "--idle"))
			idle = 1;
		else if (!strcmp(argv[i], "--device") && i + 1 < argc)
			ordinal = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: spin [--seconds S] [--work N] [--batch B] "
					"[--name NAME] [--start-at UNIX_S] [--idle] [--device N]\n");
			return 2;
		}
	}
	if (batch == 0)
		batch = 1;

	resolve();
	CUresult r;
	CUdevice dev;
	CUcontext ctx;
	if ((r = cu.init(0)) != CUDA_SUCCESS)
		die("cuInit", r);
	if ((r = cu.device_get(&dev, ordinal)) != CUDA_SUCCESS)
		die("cuDeviceGet", r);
	if ((r = cu.retain(&ctx, dev)) != CUDA_SUCCESS)
		die("cuDevicePrimaryCtxRetain", r);
	if ((r = cu.set_current(ctx)) != CUDA_SUCCESS)
		die("cuCtxSetCurrent", r);

	char devname[256] = "";
	cu.device_name(devname, sizeof(devname), dev);
	int simulated = strstr(devname, "simulated") != NULL;
	CUfunction fn = (CUfunction)(uintptr_t)0x5;
	unsigned grid = 1, block = 1;
	if (!simulated) {
		CUmodule mod;
		if (cu.module_load == NULL || (r = cu.module_load(&mod, spin_ptx)) != CUDA_SUCCESS)
			die("cuModuleLoadData", r);
		if ((r = cu.get_function(&fn, mod, "spin")) != CUDA_SUCCESS)
			die("cuModuleGetFunction", r);
		int sms = 1;
		cu.device_attr(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev);
		grid = (unsigned)sms * 8;
		block = 256;
	}
	if (work == 0)
		work = simulated ? 1000 : 150000;

	CUdeviceptr out;
	if ((r = cu.mem_alloc(&out, 4096)) != CUDA_SUCCESS)
		die("cuMemAlloc", r);
	while (start_at > 0 && now_s(CLOCK_REALTIME) < start_at)
		usleep(1000);
	if (idle) {
		usleep((useconds_t)(seconds * 1e6));
		printf("spin name=%s pid=%d idle seconds=%.2f\n", name, (int)getpid(), seconds);
		return 0;
	}

	size_t cap = 1 << 20, steps = 0;
	double *step_ms = malloc(cap * sizeof(double));
	void *params[] = { &work, &out };
	unsigned long kernels = 0;
	double t0 = now_s(CLOCK_MONOTONIC), t = t0;
	while (t - t0 < seconds) {
		double s0 = t;
		for (unsigned b = 0; b < batch; b++) {
			r = cu.launch(fn, grid, 1, 1, block, 1, 1, 0, NULL, params, NULL);
			if (r != CUDA_SUCCESS)
				die("cuLaunchKernel", r);
		}
		if ((r = cu.sync()) != CUDA_SUCCESS)
			die("cuCtxSynchronize", r);
		kernels += batch;
		t = now_s(CLOCK_MONOTONIC);
		if (steps < cap)
			step_ms[steps++] = (t - s0) * 1e3;
	}
	double elapsed = t - t0;
	qsort(step_ms, steps, sizeof(double), cmp_double);
	double p50 = steps ? step_ms[steps / 2] : 0;
	double p99 = steps ? step_ms[(size_t)(steps * 0.99)] : 0;
	printf("spin name=%s pid=%d kernels=%lu seconds=%.3f rate=%.2f step_p50_ms=%.3f "
	       "step_p99_ms=%.3f\n", name, (int)getpid(), kernels, elapsed, kernels / elapsed,
	       p50, p99);
	free(step_ms);
	return 0;
}
