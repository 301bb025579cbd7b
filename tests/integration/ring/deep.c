/* deep.c - a member that never lets its GPU queue run dry.
 *
 * It keeps about AHEAD_MS of simulated kernels queued and never
 * synchronizes until the end, so the ring's idle probe can never find it
 * idle, however late the machine's scheduler runs it (its queue would have
 * to sit untouched for AHEAD_MS). A holder like this gives the token up
 * only at the end of its slice, to a higher class, or when it exits: the
 * priority tests use it to make "admitted without waiting for the slice"
 * a matter of event order.
 *
 * usage: deep SECONDS KERNEL_US AHEAD_MS
 */
#include <stdlib.h>
#include <unistd.h>

#include "driver.h"

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: deep SECONDS KERNEL_US AHEAD_MS\n");
		return 2;
	}
	double seconds = atof(argv[1]);
	unsigned kernel_us = (unsigned)atoi(argv[2]);
	double ahead = atof(argv[3]) / 1e3, kernel = kernel_us / 1e6;
	struct driver d;
	driver_load(&d);
	driver_context(&d);
	/* The simulated context runs our kernels back to back: its queue ends
	 * at max(now, previous end) + kernel, which we track ourselves. */
	double start = driver_now(), queued_until = start;
	unsigned long kernels = 0;
	while (driver_now() - start < seconds) {
		double now = driver_now();
		if (queued_until < now)
			queued_until = now;
		if (queued_until - now < ahead) {
			if (driver_kernel(&d, NULL, kernel_us) != CUDA_SUCCESS)
				driver_die("cuLaunchKernel", -1);
			/* A launch may have waited for the token: count from now. */
			double after = driver_now();
			queued_until = (queued_until > after ? queued_until : after) + kernel;
			kernels++;
		} else {
			usleep((useconds_t)(kernel * 1e6 / 2));
		}
	}
	if (d.ctx_sync() != CUDA_SUCCESS)
		driver_die("cuCtxSynchronize", -1);
	printf("deep kernels=%lu\n", kernels);
	return 0;
}
