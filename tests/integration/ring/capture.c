/* capture.c - stream capture while the ring hands the token around.
 *
 * One thread repeatedly captures a graph (global capture mode, the default
 * of torch.cuda.graph) with pauses inside the capture, so hand-offs and
 * their drains happen while the capture is open; then it replays the graph.
 * A second thread launches ordinary kernels. Every capture must end with
 * CUDA_SUCCESS: a drain that synchronised during the capture would have
 * invalidated it. Exits 0 when all captures succeeded.
 *
 * usage: capture SECONDS
 */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "driver.h"

static struct driver d;
static CUcontext ctx;
static double end_time;

static void *plain_launcher(void *arg)
{
	(void)arg;
	d.set_current(ctx);
	while (driver_now() < end_time) {
		if (driver_kernel(&d, NULL, 1000) != CUDA_SUCCESS)
			driver_die("cuLaunchKernel", -1);
		usleep(1000); /* no synchronize: that is not allowed during a global capture */
	}
	return NULL;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 2;
	driver_load(&d);
	ctx = driver_context(&d);
	CUstream s;
	if (d.stream_create(&s, 1 /* CU_STREAM_NON_BLOCKING */) != CUDA_SUCCESS)
		driver_die("cuStreamCreate", -1);
	end_time = driver_now() + seconds;
	pthread_t t;
	pthread_create(&t, NULL, plain_launcher, NULL);
	int captures = 0, replays = 0;
	while (driver_now() < end_time) {
		CUgraph g = NULL;
		if (d.begin_capture(s, CU_STREAM_CAPTURE_MODE_GLOBAL) != CUDA_SUCCESS)
			driver_die("cuStreamBeginCapture", -1);
		for (int k = 0; k < 4; k++) {
			CUresult lr = driver_kernel(&d, s, 500);
			if (lr != CUDA_SUCCESS) {
				fprintf(stderr, "capture %d: launch returned %d\n", captures, (int)lr);
				return 1;
			}
			usleep(3000);
		}
		CUresult r = d.end_capture(s, &g);
		if (r != CUDA_SUCCESS || g == NULL) {
			fprintf(stderr, "capture %d ended with %d\n", captures, (int)r);
			return 1;
		}
		captures++;
		CUgraphExec exec;
		if (d.instantiate(&exec, g, 0) != CUDA_SUCCESS)
			driver_die("cuGraphInstantiate", -1);
		if (d.graph_launch(exec, s) != CUDA_SUCCESS)
			driver_die("cuGraphLaunch", -1);
		d.stream_sync(s);
		replays++;
	}
	pthread_join(t, NULL);
	printf("captures=%d replays=%d\n", captures, replays);
	return captures > 0 ? 0 : 1;
}
