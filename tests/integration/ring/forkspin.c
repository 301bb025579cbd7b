/* forkspin.c - a member that forks: the parent launches (so it holds the
 * token and its ring threads run), then forks; parent and child then both
 * launch 1 ms kernels for the given seconds. The child must join the ring
 * as its own member, not reuse the parent's slot, lock or gate.
 *
 * usage: forkspin SECONDS
 */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "driver.h"

static void spin(struct driver *d, double seconds)
{
	double end = driver_now() + seconds;
	while (driver_now() < end) {
		if (driver_kernel(d, NULL, 1000) != CUDA_SUCCESS)
			driver_die("cuLaunchKernel", -1);
		if (d->ctx_sync() != CUDA_SUCCESS)
			driver_die("cuCtxSynchronize", -1);
	}
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 2;
	struct driver d;
	driver_load(&d);
	driver_context(&d);
	spin(&d, 0.05);
	pid_t child = fork();
	if (child < 0)
		driver_die("fork", -1);
	if (child == 0) {
		driver_context(&d); /* a forked child sets its context up again */
		spin(&d, seconds);
		_exit(0);
	}
	spin(&d, seconds);
	int status;
	waitpid(child, &status, 0);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
