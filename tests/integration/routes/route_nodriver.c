/* route_nodriver.c - no libcuda.so.1 anywhere: looking up and calling
 * hooked names must neither crash nor hang. Run with LD_LIBRARY_PATH that
 * lacks the simulated driver. */
#include <cuda.h>
#include <stdint.h>

#include "report.h"

typedef CUresult launch_fn(CUfunction, unsigned int, unsigned int, unsigned int, unsigned int,
			   unsigned int, unsigned int, unsigned int, CUstream, void **, void **);
typedef CUresult gpa5_fn(const char *, void **, int, cuuint64_t,
			 CUdriverProcAddressQueryResult *);
typedef CUresult alloc_fn(CUdeviceptr *, size_t);
typedef int nvml_mem_fn(void *, void *);

int main(void)
{
	char who[160];
	void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
	say("dlopen", "%s", h != NULL ? "ok" : "failed");

	launch_fn *launch = (launch_fn *)dlsym(RTLD_DEFAULT, "cuLaunchKernel");
	say("dlsym:cuLaunchKernel", "%s", owner((void *)launch, who, sizeof(who)));
	if (launch != NULL)
		say("cuLaunchKernel", "%d",
		    launch(FAKE_KERNEL, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL));
	alloc_fn *alloc = (alloc_fn *)dlsym(RTLD_DEFAULT, "cuMemAlloc_v2");
	if (alloc != NULL) {
		CUdeviceptr p = 0;
		say("cuMemAlloc_v2", "%d", alloc(&p, 4096));
	}
	gpa5_fn *gpa = (gpa5_fn *)dlsym(RTLD_DEFAULT, "cuGetProcAddress_v2");
	say("dlsym:cuGetProcAddress_v2", "%s", owner((void *)gpa, who, sizeof(who)));
	if (gpa != NULL) {
		void *p = (void *)0x1;
		say("cuGetProcAddress_v2", "%d", gpa("cuInit", &p, 2000, 0, NULL));
	}
	nvml_mem_fn *mem = (nvml_mem_fn *)dlsym(RTLD_DEFAULT, "nvmlDeviceGetMemoryInfo");
	say("dlsym:nvmlDeviceGetMemoryInfo", "%s", owner((void *)mem, who, sizeof(who)));
	if (mem != NULL)
		say("nvmlDeviceGetMemoryInfo", "%d", mem(NULL, NULL));
	say("alive", "yes");
	return 0;
}
