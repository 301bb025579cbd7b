// cublas_sgemm.cu - a cuBLAS program for the real-GPU interception suite.
//
// cuBLAS and cuBLASLt carry their own copy of cudart and look some driver
// functions up with dlsym themselves (cuBLASLt from its load-time
// constructor), so this is route (b) as well as route (c). C = A * B with
// M x K and K x N matrices (column-major, as cuBLAS wants), checked against
// a double-precision product on the CPU. Prints "PASS", exits 1 otherwise.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#define CHECK_CUDA(call)                                                               \
	do {                                                                           \
		cudaError_t e_ = (call);                                               \
		if (e_ != cudaSuccess) {                                               \
			std::printf("FAIL %s: %s\n", #call, cudaGetErrorString(e_));   \
			std::exit(1);                                                  \
		}                                                                      \
	} while (0)
#define CHECK_BLAS(call)                                                               \
	do {                                                                           \
		cublasStatus_t s_ = (call);                                            \
		if (s_ != CUBLAS_STATUS_SUCCESS) {                                     \
			std::printf("FAIL %s: status %d\n", #call, (int)s_);           \
			std::exit(1);                                                  \
		}                                                                      \
	} while (0)

int main()
{
	const int m = 512, n = 384, k = 256;
	std::vector<float> ha((size_t)m * k), hb((size_t)k * n), hc((size_t)m * n);
	unsigned seed = 12345;
	auto rnd = [&seed]() {
		seed = seed * 1664525u + 1013904223u;
		return (float)((seed >> 8) & 0xffff) / 65536.0f - 0.5f;
	};
	for (auto &v : ha)
		v = rnd();
	for (auto &v : hb)
		v = rnd();

	float *a, *b, *c;
	CHECK_CUDA(cudaMalloc(&a, ha.size() * sizeof(float)));
	CHECK_CUDA(cudaMalloc(&b, hb.size() * sizeof(float)));
	CHECK_CUDA(cudaMalloc(&c, hc.size() * sizeof(float)));
	CHECK_CUDA(cudaMemcpy(a, ha.data(), ha.size() * sizeof(float), cudaMemcpyHostToDevice));
	CHECK_CUDA(cudaMemcpy(b, hb.data(), hb.size() * sizeof(float), cudaMemcpyHostToDevice));

	cublasHandle_t h;
	CHECK_BLAS(cublasCreate(&h));
	CHECK_BLAS(cublasSetMathMode(h, CUBLAS_PEDANTIC_MATH)); // no TF32: exact fp32
	const float one = 1.0f, zero = 0.0f;
	for (int rep = 0; rep < 3; rep++)
		CHECK_BLAS(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &one, a, m, b, k, &zero,
				       c, m));
	CHECK_CUDA(cudaDeviceSynchronize());
	CHECK_CUDA(cudaMemcpy(hc.data(), c, hc.size() * sizeof(float), cudaMemcpyDeviceToHost));

	double max_err = 0, max_ref = 0;
	for (int j = 0; j < n; j++) {
		for (int i = 0; i < m; i++) {
			double ref = 0;
			for (int p = 0; p < k; p++)
				ref += (double)ha[(size_t)p * m + i] * hb[(size_t)j * k + p];
			max_err = std::fmax(max_err, std::fabs(ref - hc[(size_t)j * m + i]));
			max_ref = std::fmax(max_ref, std::fabs(ref));
		}
	}
	double rel = max_err / max_ref;
	std::printf("sgemm %dx%dx%d max abs err %.3g, relative %.3g\n", m, n, k, max_err, rel);
	CHECK_BLAS(cublasDestroy(h));
	CHECK_CUDA(cudaFree(a));
	CHECK_CUDA(cudaFree(b));
	CHECK_CUDA(cudaFree(c));
	if (!(rel < 1e-5)) {
		std::printf("FAIL sgemm result\n");
		return 1;
	}
	std::printf("PASS\n");
	return 0;
}
