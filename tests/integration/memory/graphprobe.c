/* graphprobe.c - memory that no allocation hook sees, for test_memory.py:
 * graph memory nodes, stream-ordered allocations captured into a graph,
 * and the allocations a context's destruction or reset frees. Reaches the
 * driver as cudart does (dlopen + cuGetProcAddress_v2). Commands on stdin,
 * one answer line each ("<word> <rc> [<dptr>]"):
 *
 *   node BYTES KEEP   a graph with one allocation node (and, unless KEEP is
 *                     1, a free node of it), instantiated and launched
 *   capture BYTES     cuMemAllocAsync captured into a graph, instantiated
 *   launch            launches the graph of the last capture
 *   free DPTR         cuMemFree of a graph allocation kept by a launch
 *   trim              cuDeviceGraphMemTrim(0)
 *   ctx BYTES         a context made, BYTES allocated in it, destroyed
 *   alloc BYTES       cuMemAlloc in the primary context
 *   reset             cuDevicePrimaryCtxReset(0), then the primary context
 *                     retained and made current again, with a new stream
 *   quit
 */
#include <cuda.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
	CUresult (*init)(unsigned);
	CUresult (*retain)(CUcontext *, CUdevice);
	CUresult (*set_current)(CUcontext);
	CUresult (*pop)(CUcontext *);
	CUresult (*ctx_create)(CUcontext *, CUctxCreateParams *, unsigned, CUdevice);
	CUresult (*ctx_destroy)(CUcontext);
	CUresult (*reset)(CUdevice);
	CUresult (*stream_create)(CUstream *, unsigned);
	CUresult (*begin)(CUstream, CUstreamCaptureMode);
	CUresult (*end)(CUstream, CUgraph *);
	CUresult (*instantiate)(CUgraphExec *, CUgraph, unsigned long long);
	CUresult (*launch)(CUgraphExec, CUstream);
	CUresult (*add_alloc)(CUgraphNode *, CUgraph, const CUgraphNode *, size_t,
			      CUDA_MEM_ALLOC_NODE_PARAMS *);
	CUresult (*add_free)(CUgraphNode *, CUgraph, const CUgraphNode *, size_t, CUdeviceptr);
	CUresult (*trim)(CUdevice);
	CUresult (*alloc)(CUdeviceptr *, size_t);
	CUresult (*alloc_async)(CUdeviceptr *, size_t, CUstream);
	CUresult (*free)(CUdeviceptr);
} cu;

static CUstream stream;
static CUgraphExec captured; /* the last capture's executable graph */

/* Retains device 0's primary context, makes it current and creates the
 * stream the commands use. */
static CUresult use_primary(void)
{
	CUcontext ctx;
	CUresult r = cu.retain(&ctx, 0);
	if (r == CUDA_SUCCESS)
		r = cu.set_current(ctx);
	if (r == CUDA_SUCCESS)
		r = cu.stream_create(&stream, 0);
	return r;
}

static void load(void)
{
	typedef CUresult (*getter)(const char *, void **, int, cuuint64_t,
				   CUdriverProcAddressQueryResult *);
	void *h = dlopen("libcuda.so.1", RTLD_NOW);
	getter get = h != NULL ? (getter)dlsym(h, "cuGetProcAddress_v2") : NULL;
	struct { const char *name; void **slot; } want[] = {
		{ "cuInit", (void **)&cu.init },
		{ "cuDevicePrimaryCtxRetain", (void **)&cu.retain },
		{ "cuCtxSetCurrent", (void **)&cu.set_current },
		{ "cuCtxPopCurrent", (void **)&cu.pop },
		{ "cuCtxCreate", (void **)&cu.ctx_create },
		{ "cuCtxDestroy", (void **)&cu.ctx_destroy },
		{ "cuDevicePrimaryCtxReset", (void **)&cu.reset },
		{ "cuStreamCreate", (void **)&cu.stream_create },
		{ "cuStreamBeginCapture", (void **)&cu.begin },
		{ "cuStreamEndCapture", (void **)&cu.end },
		{ "cuGraphInstantiateWithFlags", (void **)&cu.instantiate },
		{ "cuGraphLaunch", (void **)&cu.launch },
		{ "cuGraphAddMemAllocNode", (void **)&cu.add_alloc },
		{ "cuGraphAddMemFreeNode", (void **)&cu.add_free },
		{ "cuDeviceGraphMemTrim", (void **)&cu.trim },
		{ "cuMemAlloc", (void **)&cu.alloc },
		{ "cuMemAllocAsync", (void **)&cu.alloc_async },
		{ "cuMemFree", (void **)&cu.free },
	};
	for (size_t i = 0; get != NULL && i < sizeof(want) / sizeof(want[0]); i++) {
		CUdriverProcAddressQueryResult st;
		if (get(want[i].name, want[i].slot, 12080, 0, &st) != CUDA_SUCCESS) {
			printf("error %s\n", want[i].name);
			exit(2);
		}
	}
	if (get == NULL || cu.init(0) != CUDA_SUCCESS || use_primary() != CUDA_SUCCESS) {
		printf("error setup\n");
		exit(2);
	}
}

/* An empty graph: a capture of nothing. */
static CUgraph empty_graph(void)
{
	CUgraph g = NULL;
	if (cu.begin(stream, CU_STREAM_CAPTURE_MODE_GLOBAL) != CUDA_SUCCESS ||
	    cu.end(stream, &g) != CUDA_SUCCESS)
		return NULL;
	return g;
}

static CUresult run(CUgraph g)
{
	CUgraphExec e;
	CUresult r = cu.instantiate(&e, g, 0);
	return r != CUDA_SUCCESS ? r : cu.launch(e, stream);
}

static void cmd_node(size_t bytes, int keep)
{
	CUgraph g = empty_graph();
	CUgraphNode a, f;
	CUDA_MEM_ALLOC_NODE_PARAMS p;
	memset(&p, 0, sizeof(p));
	p.poolProps.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
	p.poolProps.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
	p.poolProps.location.id = 0;
	p.bytesize = bytes;
	CUresult r = g == NULL ? CUDA_ERROR_UNKNOWN : cu.add_alloc(&a, g, NULL, 0, &p);
	if (r == CUDA_SUCCESS && !keep)
		r = cu.add_free(&f, g, &a, 1, p.dptr);
	if (r == CUDA_SUCCESS)
		r = run(g);
	printf("node %d %llu\n", r, (unsigned long long)p.dptr);
}

static void cmd_capture(size_t bytes)
{
	CUdeviceptr d = 0;
	CUgraph g = NULL;
	CUresult r = cu.begin(stream, CU_STREAM_CAPTURE_MODE_GLOBAL);
	if (r == CUDA_SUCCESS)
		r = cu.alloc_async(&d, bytes, stream);
	CUresult e = cu.end(stream, &g);
	if (r == CUDA_SUCCESS)
		r = e;
	if (r == CUDA_SUCCESS)
		r = cu.instantiate(&captured, g, 0);
	printf("capture %d %llu\n", r, (unsigned long long)d);
}

static void cmd_ctx(size_t bytes)
{
	CUcontext c, popped;
	CUdeviceptr d;
	CUresult r = cu.ctx_create(&c, NULL, 0, 0);
	if (r == CUDA_SUCCESS)
		r = cu.alloc(&d, bytes);
	if (r == CUDA_SUCCESS)
		r = cu.pop(&popped);
	if (r == CUDA_SUCCESS)
		r = cu.ctx_destroy(c);
	printf("ctx %d\n", r);
}

/* The reset destroys the primary context and its stream: take the context
 * again and make a new stream, as a program that goes on after it must. */
static CUresult cmd_reset(void)
{
	CUresult r = cu.reset(0);
	return r != CUDA_SUCCESS ? r : use_primary();
}

int main(void)
{
	char line[128], what[32];
	unsigned long long n, m;
	load();
	printf("ready\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		n = m = 0;
		if (sscanf(line, "%31s %llu %llu", what, &n, &m) < 1)
			continue;
		if (strcmp(what, "node") == 0)
			cmd_node(n, m == 1);
		else if (strcmp(what, "capture") == 0)
			cmd_capture(n);
		else if (strcmp(what, "launch") == 0)
			printf("launch %d\n", cu.launch(captured, stream));
		else if (strcmp(what, "free") == 0)
			printf("free %d\n", cu.free((CUdeviceptr)n));
		else if (strcmp(what, "trim") == 0)
			printf("trim %d\n", cu.trim(0));
		else if (strcmp(what, "ctx") == 0)
			cmd_ctx(n);
		else if (strcmp(what, "alloc") == 0) {
			CUdeviceptr d;
			printf("alloc %d\n", cu.alloc(&d, n));
		} else if (strcmp(what, "reset") == 0)
			printf("reset %d\n", cmd_reset());
		else if (strcmp(what, "quit") == 0)
			return 0;
		else
			printf("unknown\n");
		fflush(stdout);
	}
	return 0;
}
