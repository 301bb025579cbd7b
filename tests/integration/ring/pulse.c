/* pulse.c - a latency-sensitive member: one short kernel every period.
 *
 * Prints "call <ns>" (CLOCK_MONOTONIC) just before each launch, so a test can
 * match each call with the kernel's start in the simulated driver's log and
 * measure launch-to-start latency.
 *
 * With BURST, each period launches BURST kernels back to back (a call line
 * before each), then synchronizes: a request of many launches.
 *
 * usage: pulse SECONDS PERIOD_US KERNEL_US [BURST]
 */
#include <stdlib.h>
#include <unistd.h>

#include "driver.h"

int main(int argc, char **argv)
{
	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: pulse SECONDS PERIOD_US KERNEL_US [BURST]\n");
		return 2;
	}
	int burst = argc == 5 ? atoi(argv[4]) : 1;
	double seconds = atof(argv[1]);
	double period = atof(argv[2]) / 1e6;
	unsigned kernel_us = (unsigned)atoi(argv[3]);
	struct driver d;
	driver_load(&d);
	driver_context(&d);
	double start = driver_now(), next = start;
	while (driver_now() - start < seconds) {
		for (int i = 0; i < burst; i++) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			printf("call %lld\n", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
			if (driver_kernel(&d, NULL, kernel_us) != CUDA_SUCCESS)
				driver_die("cuLaunchKernel", -1);
		}
		if (d.ctx_sync() != CUDA_SUCCESS)
			driver_die("cuCtxSynchronize", -1);
		next += period;
		double wait = next - driver_now();
		if (wait > 0)
			usleep((useconds_t)(wait * 1e6));
	}
	return 0;
}
