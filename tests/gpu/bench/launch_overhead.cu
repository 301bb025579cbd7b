// launch_overhead.cu - what a kernel launch costs, for comparing a run with
// and without LD_PRELOAD=libcuslice.so (bench/run.sh does both).
//
// usage: launch_overhead [async_launches] [sync_iterations]
//        (defaults 200000 and 20000)
//
// async: async_launches launches of an empty kernel on one stream, in
//        BLOCKS blocks each followed by a stream synchronize. Per block, the
//        time from its first launch to the return of its last (the CPU cost
//        of a launch); the median and the best block are reported, the best
//        being the steadiest figure on a shared machine. Over all blocks,
//        launches per second, synchronizes included (throughput).
// sync:  sync_iterations of one launch followed by cudaStreamSynchronize,
//        each timed: the latency a small-kernel loop sees (p50, p99, mean).
// Every figure is printed as "RESULT <name> <value>". Timings only: this
// is a benchmark, not a test; nothing here can fail but a CUDA call.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#define CHECK(call)                                                                  \
	do {                                                                         \
		cudaError_t e_ = (call);                                             \
		if (e_ != cudaSuccess) {                                             \
			std::printf("FAIL %s: %s\n", #call, cudaGetErrorString(e_)); \
			std::exit(1);                                                \
		}                                                                    \
	} while (0)

enum { BLOCKS = 10 };

__global__ void empty_kernel() {}

using clock_type = std::chrono::steady_clock;

static double us_since(clock_type::time_point t0)
{
	return std::chrono::duration<double, std::micro>(clock_type::now() - t0).count();
}

int main(int argc, char **argv)
{
	long async_n = argc > 1 ? std::atol(argv[1]) : 200000;
	long sync_n = argc > 2 ? std::atol(argv[2]) : 20000;
	cudaStream_t s;
	CHECK(cudaSetDevice(0));
	CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));

	// Warm-up: module load, first-launch costs, clocks up.
	for (int i = 0; i < 2000; i++)
		empty_kernel<<<1, 32, 0, s>>>();
	CHECK(cudaStreamSynchronize(s));
	for (int i = 0; i < 200; i++) {
		empty_kernel<<<1, 32, 0, s>>>();
		CHECK(cudaStreamSynchronize(s));
	}

	const int blocks = BLOCKS;
	long per_block = async_n / blocks;
	std::vector<double> enqueue(blocks);
	auto t0 = clock_type::now();
	for (int b = 0; b < blocks; b++) {
		auto tb = clock_type::now();
		for (long i = 0; i < per_block; i++)
			empty_kernel<<<1, 32, 0, s>>>();
		enqueue[b] = us_since(tb) / (double)per_block;
		CHECK(cudaStreamSynchronize(s));
	}
	double total_us = us_since(t0);
	CHECK(cudaGetLastError());
	async_n = per_block * blocks;
	std::sort(enqueue.begin(), enqueue.end());

	std::vector<double> lat(sync_n);
	for (long i = 0; i < sync_n; i++) {
		auto t = clock_type::now();
		empty_kernel<<<1, 32, 0, s>>>();
		CHECK(cudaStreamSynchronize(s));
		lat[i] = us_since(t);
	}
	CHECK(cudaGetLastError());
	double sum = 0;
	for (double v : lat)
		sum += v;
	std::sort(lat.begin(), lat.end());
	auto pct = [&lat](double p) {
		size_t i = (size_t)(p / 100.0 * (double)(lat.size() - 1) + 0.5);
		return lat[std::min(i, lat.size() - 1)];
	};

	std::printf("RESULT async_launches %ld\n", async_n);
	std::printf("RESULT async_enqueue_us_per_launch %.4f\n", enqueue[blocks / 2]);
	std::printf("RESULT async_enqueue_us_per_launch_best %.4f\n", enqueue[0]);
	std::printf("RESULT async_total_us_per_launch %.4f\n", total_us / (double)async_n);
	std::printf("RESULT async_launches_per_s %.0f\n", (double)async_n / (total_us * 1e-6));
	std::printf("RESULT sync_iterations %ld\n", sync_n);
	std::printf("RESULT sync_p50_us %.3f\n", pct(50));
	std::printf("RESULT sync_p99_us %.3f\n", pct(99));
	std::printf("RESULT sync_mean_us %.3f\n", sum / (double)sync_n);
	CHECK(cudaStreamDestroy(s));
	return 0;
}
