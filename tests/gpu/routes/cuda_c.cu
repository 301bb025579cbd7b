// cuda_c.cu - a plain CUDA C program for the real-GPU interception suite.
//
// Built twice by run.sh: with the nvcc default (static cudart) and with
// -cudart shared. Neither links libcuda: cudart dlopens libcuda.so.1 and gets
// every driver entry point through cuGetProcAddress_v2 (route c), so what
// CUSLICE_TRACE counts here is what cuslice sees of any CUDA program.
//
// Each part checks its result on the CPU; the program prints one line per
// part and "PASS" at the end, and exits 1 on the first wrong result.
//   vector add        <<<>>>                      cuLaunchKernel
//   reduction         <<<>>>, atomics             cuLaunchKernel
//   vector add        cudaLaunchKernelEx          cuLaunchKernelEx
//   grid-wide sync    cudaLaunchCooperativeKernel cuLaunchCooperativeKernel
//   CUDA graph        capture + cudaGraphLaunch   cuGraphLaunch
//   allocations       cudaMalloc / cudaMallocAsync  cuMemAlloc_v2 / cuMemAllocAsync
#include <cooperative_groups.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

namespace cg = cooperative_groups;

#define CHECK(call)                                                                   \
	do {                                                                          \
		cudaError_t e_ = (call);                                              \
		if (e_ != cudaSuccess) {                                              \
			std::printf("FAIL %s:%d %s: %s\n", __FILE__, __LINE__, #call, \
				    cudaGetErrorString(e_));                          \
			std::exit(1);                                                 \
		}                                                                     \
	} while (0)

static void expect(bool ok, const char *what)
{
	std::printf("%s %s\n", ok ? "ok  " : "FAIL", what);
	if (!ok)
		std::exit(1);
}

__global__ void vec_add(const float *a, const float *b, float *c, float scale, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		c[i] = scale * (a[i] + b[i]);
}

__global__ void reduce_sum(const unsigned *in, unsigned long long *out, int n)
{
	__shared__ unsigned long long part[256];
	unsigned long long s = 0;
	for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
		s += in[i];
	part[threadIdx.x] = s;
	__syncthreads();
	for (int w = blockDim.x / 2; w > 0; w /= 2) {
		if (threadIdx.x < w)
			part[threadIdx.x] += part[threadIdx.x + w];
		__syncthreads();
	}
	if (threadIdx.x == 0)
		atomicAdd(out, part[0]);
}

// Phase 1 writes x[i] = i; after a grid-wide barrier, phase 2 reads a value
// another block wrote. Correct only when every block passed the barrier.
__global__ void coop_rotate(int *x, int *y, int n)
{
	cg::grid_group grid = cg::this_grid();
	for (int i = grid.thread_rank(); i < n; i += grid.size())
		x[i] = i;
	grid.sync();
	for (int i = grid.thread_rank(); i < n; i += grid.size())
		y[i] = x[(i + n / 2) % n];
}

__global__ void add_one(float *x, int n)
{
	int i = blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		x[i] += 1.0f;
}

int main()
{
	const int n = 1 << 20;
	const int threads = 256, blocks = (n + threads - 1) / threads;
	int dev = 0;
	cudaDeviceProp prop;
	CHECK(cudaGetDevice(&dev));
	CHECK(cudaGetDeviceProperties(&prop, dev));
	std::printf("device %s sm_%d%d\n", prop.name, prop.major, prop.minor);

	std::vector<float> ha(n), hb(n), hc(n);
	for (int i = 0; i < n; i++) {
		ha[i] = (float)(i % 1000) * 0.5f;
		hb[i] = (float)(i % 7) - 3.0f;
	}
	float *a, *b, *c;
	CHECK(cudaMalloc(&a, n * sizeof(float)));
	CHECK(cudaMalloc(&b, n * sizeof(float)));
	CHECK(cudaMalloc(&c, n * sizeof(float)));
	CHECK(cudaMemcpy(a, ha.data(), n * sizeof(float), cudaMemcpyHostToDevice));
	CHECK(cudaMemcpy(b, hb.data(), n * sizeof(float), cudaMemcpyHostToDevice));

	// 1. <<<>>>
	vec_add<<<blocks, threads>>>(a, b, c, 1.0f, n);
	CHECK(cudaGetLastError());
	CHECK(cudaMemcpy(hc.data(), c, n * sizeof(float), cudaMemcpyDeviceToHost));
	bool ok = true;
	for (int i = 0; i < n; i++)
		ok &= hc[i] == ha[i] + hb[i];
	expect(ok, "vector add <<<>>>");

	// 2. reduction
	std::vector<unsigned> hv(n);
	unsigned long long want = 0;
	for (int i = 0; i < n; i++) {
		hv[i] = (unsigned)(i * 2654435761u) >> 12;
		want += hv[i];
	}
	unsigned *v;
	unsigned long long *sum, got = 0;
	CHECK(cudaMalloc(&v, n * sizeof(unsigned)));
	CHECK(cudaMalloc(&sum, sizeof(*sum)));
	CHECK(cudaMemcpy(v, hv.data(), n * sizeof(unsigned), cudaMemcpyHostToDevice));
	CHECK(cudaMemset(sum, 0, sizeof(*sum)));
	reduce_sum<<<2 * prop.multiProcessorCount, 256>>>(v, sum, n);
	CHECK(cudaGetLastError());
	CHECK(cudaMemcpy(&got, sum, sizeof(got), cudaMemcpyDeviceToHost));
	expect(got == want, "reduction <<<>>>");

	// 3. cudaLaunchKernelEx
	cudaLaunchConfig_t cfg = {};
	cfg.gridDim = dim3(blocks);
	cfg.blockDim = dim3(threads);
	CHECK(cudaLaunchKernelEx(&cfg, vec_add, (const float *)a, (const float *)b, c, 2.0f, n));
	CHECK(cudaMemcpy(hc.data(), c, n * sizeof(float), cudaMemcpyDeviceToHost));
	ok = true;
	for (int i = 0; i < n; i++)
		ok &= hc[i] == 2.0f * (ha[i] + hb[i]);
	expect(ok, "vector add cudaLaunchKernelEx");

	// 4. cudaLaunchCooperativeKernel
	int coop = 0, per_sm = 0;
	CHECK(cudaDeviceGetAttribute(&coop, cudaDevAttrCooperativeLaunch, dev));
	expect(coop == 1, "cooperative launch supported");
	CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, coop_rotate, threads, 0));
	int coop_blocks = per_sm * prop.multiProcessorCount;
	if (coop_blocks > 4 * prop.multiProcessorCount)
		coop_blocks = 4 * prop.multiProcessorCount;
	int *x, *y;
	CHECK(cudaMalloc(&x, n * sizeof(int)));
	CHECK(cudaMalloc(&y, n * sizeof(int)));
	int nn = n;
	void *args[] = { &x, &y, &nn };
	CHECK(cudaLaunchCooperativeKernel((void *)coop_rotate, dim3(coop_blocks), dim3(threads),
					  args, 0, 0));
	std::vector<int> hy(n);
	CHECK(cudaMemcpy(hy.data(), y, n * sizeof(int), cudaMemcpyDeviceToHost));
	ok = true;
	for (int i = 0; i < n; i++)
		ok &= hy[i] == (i + n / 2) % n;
	expect(ok, "grid sync cudaLaunchCooperativeKernel");

	// 5. CUDA graph: two kernels captured, the graph launched three times.
	cudaStream_t s;
	CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
	float *g;
	CHECK(cudaMallocAsync(&g, n * sizeof(float), s));
	CHECK(cudaMemsetAsync(g, 0, n * sizeof(float), s));
	CHECK(cudaStreamSynchronize(s));
	cudaGraph_t graph;
	cudaGraphExec_t exec;
	CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
	add_one<<<blocks, threads, 0, s>>>(g, n);
	add_one<<<blocks, threads, 0, s>>>(g, n);
	CHECK(cudaStreamEndCapture(s, &graph));
	CHECK(cudaGraphInstantiate(&exec, graph, 0));
	for (int i = 0; i < 3; i++)
		CHECK(cudaGraphLaunch(exec, s));
	CHECK(cudaStreamSynchronize(s));
	CHECK(cudaMemcpy(hc.data(), g, n * sizeof(float), cudaMemcpyDeviceToHost));
	ok = true;
	for (int i = 0; i < n; i++)
		ok &= hc[i] == 6.0f;
	expect(ok, "CUDA graph capture + cudaGraphLaunch x3");

	CHECK(cudaFreeAsync(g, s));
	CHECK(cudaStreamSynchronize(s));
	CHECK(cudaGraphExecDestroy(exec));
	CHECK(cudaGraphDestroy(graph));
	CHECK(cudaStreamDestroy(s));
	CHECK(cudaDeviceSynchronize());
	for (void *p : { (void *)a, (void *)b, (void *)c, (void *)v, (void *)sum, (void *)x,
			 (void *)y })
		CHECK(cudaFree(p));
	std::printf("PASS\n");
	return 0;
}
