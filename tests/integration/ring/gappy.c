/* gappy.c - a member that leaves the GPU idle between steps, like a
 * framework's training loop: each step launches BATCH kernels of KERNEL_US,
 * synchronizes, then spends GAP_US on the CPU before the next step.
 *
 * usage: gappy SECONDS BATCH KERNEL_US GAP_US [START_AT_UNIX]
 * Prints "gappy steps=<n>" at the end.
 */
#include <stdlib.h>
#include <unistd.h>

#include "driver.h"

int main(int argc, char **argv)
{
	if (argc != 5 && argc != 6) {
		fprintf(stderr, "usage: gappy SECONDS BATCH KERNEL_US GAP_US [START_AT_UNIX]\n");
		return 2;
	}
	double seconds = atof(argv[1]);
	int batch = atoi(argv[2]);
	unsigned kernel_us = (unsigned)atoi(argv[3]);
	unsigned gap_us = (unsigned)atoi(argv[4]);
	struct driver d;
	driver_load(&d);
	driver_context(&d);
	if (argc == 6) {
		struct timespec ts;
		double at = atof(argv[5]);
		for (;;) {
			clock_gettime(CLOCK_REALTIME, &ts);
			if (ts.tv_sec + ts.tv_nsec / 1e9 >= at)
				break;
			usleep(1000);
		}
	}
	unsigned long steps = 0;
	double start = driver_now();
	while (driver_now() - start < seconds) {
		for (int i = 0; i < batch; i++) {
			if (driver_kernel(&d, NULL, kernel_us) != CUDA_SUCCESS)
				driver_die("cuLaunchKernel", -1);
		}
		if (d.ctx_sync() != CUDA_SUCCESS)
			driver_die("cuCtxSynchronize", -1);
		steps++;
		if (gap_us > 0)
			usleep(gap_us);
	}
	printf("gappy steps=%lu\n", steps);
	return 0;
}
