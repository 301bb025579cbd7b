/* multigpu.c - one process launching on two GPUs, alternately.
 *
 * Each launch must gate on its own device's ring: the process is a member
 * of both rings and takes turns on each with whoever else uses that GPU.
 *
 * usage: multigpu SECONDS
 */
#include <stdlib.h>

#include "driver.h"

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 2;
	struct driver d;
	driver_load(&d);
	CUcontext ctx[2];
	if (d.init(0) != CUDA_SUCCESS)
		driver_die("cuInit", -1);
	for (int i = 0; i < 2; i++) {
		CUdevice dev;
		if (d.device_get(&dev, i) != CUDA_SUCCESS || d.retain(&ctx[i], dev) != CUDA_SUCCESS)
			driver_die("device setup", i);
	}
	double end = driver_now() + seconds;
	while (driver_now() < end) {
		for (int i = 0; i < 2; i++) {
			d.set_current(ctx[i]);
			if (driver_kernel(&d, NULL, 1000) != CUDA_SUCCESS)
				driver_die("cuLaunchKernel", i);
			if (d.ctx_sync() != CUDA_SUCCESS)
				driver_die("cuCtxSynchronize", i);
		}
	}
	return 0;
}
