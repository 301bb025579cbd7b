/* memprobe.c - allocates and queries device memory the way cudart does:
 * dlopen("libcuda.so.1"), one dlsym of cuGetProcAddress_v2, then every
 * function looked up by its base name and a CUDA version. NVML is reached
 * by dlopen("libnvidia-ml.so.1") and dlsym, as pynvml does.
 *
 *   memprobe fill PATH CHUNK        allocate CHUNK bytes through PATH until
 *                                   refused, report, free all, do it again
 *   memprobe repl                   commands on stdin, one answer line each
 *   memprobe stress THREADS ITERS MAXCHUNK SEED
 *                                   say "ready", wait for a line on stdin,
 *                                   random cuMemAlloc/cuMemFree, free all,
 *                                   say "done", wait for a line, report info
 *   memprobe nvml                   NVML memory info, with no CUDA context
 *
 * PATH: alloc pitch managed async async_ptsz pool create array array3d mipmap.
 * Every line printed is "<word> <numbers…>" for test_memory.py to parse.
 */
#include <cuda.h>
#include <dlfcn.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#undef cuGetProcAddress

typedef CUresult (*getproc_fn)(const char *, void **, int, cuuint64_t,
			       CUdriverProcAddressQueryResult *);

static struct {
	CUresult (*init)(unsigned);
	CUresult (*device_get)(CUdevice *, int);
	CUresult (*uuid)(CUuuid *, CUdevice);
	CUresult (*retain)(CUcontext *, CUdevice);
	CUresult (*set_current)(CUcontext);
	CUresult (*alloc)(CUdeviceptr *, size_t);
	CUresult (*pitch)(CUdeviceptr *, size_t *, size_t, size_t, unsigned);
	CUresult (*managed)(CUdeviceptr *, size_t, unsigned);
	CUresult (*async)(CUdeviceptr *, size_t, CUstream);
	CUresult (*async_ptsz)(CUdeviceptr *, size_t, CUstream);
	CUresult (*pool_alloc)(CUdeviceptr *, size_t, CUmemoryPool, CUstream);
	CUresult (*default_pool)(CUmemoryPool *, CUdevice);
	CUresult (*create)(CUmemGenericAllocationHandle *, size_t, const CUmemAllocationProp *,
			   unsigned long long);
	CUresult (*array)(CUarray *, const CUDA_ARRAY_DESCRIPTOR *);
	CUresult (*array3d)(CUarray *, const CUDA_ARRAY3D_DESCRIPTOR *);
	CUresult (*mipmap)(CUmipmappedArray *, const CUDA_ARRAY3D_DESCRIPTOR *, unsigned);
	CUresult (*free)(CUdeviceptr);
	CUresult (*free_async)(CUdeviceptr, CUstream);
	CUresult (*free_async_ptsz)(CUdeviceptr, CUstream);
	CUresult (*release)(CUmemGenericAllocationHandle);
	CUresult (*array_destroy)(CUarray);
	CUresult (*mipmap_destroy)(CUmipmappedArray);
	CUresult (*get_info)(size_t *, size_t *);
	CUresult (*total_mem)(size_t *, CUdevice);
	CUresult (*sync)(void);
} cu;

static CUdevice dev0;
static CUmemoryPool pool0;

static void die(const char *what, int code)
{
	printf("error %s %d\n", what, code);
	exit(2);
}

static void *lookup(getproc_fn getproc, const char *name, int version, cuuint64_t flags)
{
	void *fn = NULL;
	CUdriverProcAddressQueryResult st;
	if (getproc(name, &fn, version, flags, &st) != CUDA_SUCCESS || fn == NULL)
		die(name, -1);
	return fn;
}

static void load_driver(void)
{
	void *h = dlopen("libcuda.so.1", RTLD_NOW);
	if (h == NULL)
		die("dlopen", -1);
	getproc_fn gp = (getproc_fn)dlsym(h, "cuGetProcAddress_v2");
	if (gp == NULL)
		die("cuGetProcAddress_v2", -1);
#define GET(field, name) *(void **)&cu.field = lookup(gp, name, 12000, 0)
	GET(init, "cuInit");
	GET(device_get, "cuDeviceGet");
	GET(uuid, "cuDeviceGetUuid");
	GET(retain, "cuDevicePrimaryCtxRetain");
	GET(set_current, "cuCtxSetCurrent");
	GET(alloc, "cuMemAlloc");
	GET(pitch, "cuMemAllocPitch");
	GET(managed, "cuMemAllocManaged");
	GET(async, "cuMemAllocAsync");
	GET(pool_alloc, "cuMemAllocFromPoolAsync");
	GET(default_pool, "cuDeviceGetDefaultMemPool");
	GET(create, "cuMemCreate");
	GET(array, "cuArrayCreate");
	GET(array3d, "cuArray3DCreate");
	GET(mipmap, "cuMipmappedArrayCreate");
	GET(free, "cuMemFree");
	GET(free_async, "cuMemFreeAsync");
	GET(release, "cuMemRelease");
	GET(array_destroy, "cuArrayDestroy");
	GET(mipmap_destroy, "cuMipmappedArrayDestroy");
	GET(get_info, "cuMemGetInfo");
	GET(total_mem, "cuDeviceTotalMem");
	GET(sync, "cuCtxSynchronize");
#undef GET
	*(void **)&cu.async_ptsz = lookup(gp, "cuMemAllocAsync", 12000,
					  CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM);
	*(void **)&cu.free_async_ptsz = lookup(gp, "cuMemFreeAsync", 12000,
					       CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM);
}

static void start_cuda(void)
{
	CUcontext ctx;
	CUresult r;
	load_driver();
	if ((r = cu.init(0)) != CUDA_SUCCESS)
		die("cuInit", r);
	if ((r = cu.device_get(&dev0, 0)) != CUDA_SUCCESS)
		die("cuDeviceGet", r);
	if ((r = cu.retain(&ctx, dev0)) != CUDA_SUCCESS)
		die("cuDevicePrimaryCtxRetain", r);
	if ((r = cu.set_current(ctx)) != CUDA_SUCCESS)
		die("cuCtxSetCurrent", r);
	if ((r = cu.default_pool(&pool0, dev0)) != CUDA_SUCCESS)
		die("cuDeviceGetDefaultMemPool", r);
}

/* ---- one allocation through one path ---- */

enum path { P_ALLOC, P_PITCH, P_MANAGED, P_ASYNC, P_ASYNC_PTSZ, P_POOL, P_CREATE, P_ARRAY,
	    P_ARRAY3D, P_MIPMAP, P_COUNT };
static const char *const path_names[P_COUNT] = {
	"alloc", "pitch", "managed", "async", "async_ptsz", "pool", "create", "array",
	"array3d", "mipmap",
};

struct block {
	enum path path;
	uint64_t key;
};

static enum path path_by_name(const char *name)
{
	for (int i = 0; i < P_COUNT; i++)
		if (strcmp(name, path_names[i]) == 0)
			return (enum path)i;
	die("unknown path", 0);
	return P_ALLOC;
}

/* Arrays are shaped so that width*height*depth*element = bytes (bytes a
 * multiple of 1 MiB); mipmaps have three levels, of which the first is
 * bytes. */
static CUresult allocate(enum path p, uint64_t bytes, struct block *b)
{
	CUdeviceptr d = 0;
	CUresult r;
	size_t pitch;
	CUmemAllocationProp prop;
	CUDA_ARRAY_DESCRIPTOR a2 = { .Format = CU_AD_FORMAT_UNSIGNED_INT8, .NumChannels = 1 };
	CUDA_ARRAY3D_DESCRIPTOR a3 = { .Format = CU_AD_FORMAT_UNSIGNED_INT8, .NumChannels = 1 };
	b->path = p;
	switch (p) {
	case P_ALLOC: r = cu.alloc(&d, bytes); break;
	case P_PITCH: r = cu.pitch(&d, &pitch, 1000, bytes / 1024, 4); break;
	case P_MANAGED: r = cu.managed(&d, bytes, CU_MEM_ATTACH_GLOBAL); break;
	case P_ASYNC: r = cu.async(&d, bytes, NULL); break;
	case P_ASYNC_PTSZ: r = cu.async_ptsz(&d, bytes, NULL); break;
	case P_POOL: r = cu.pool_alloc(&d, bytes, pool0, NULL); break;
	case P_CREATE: {
		CUmemGenericAllocationHandle h = 0;
		memset(&prop, 0, sizeof(prop));
		prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
		prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
		prop.location.id = dev0;
		r = cu.create(&h, bytes, &prop, 0);
		b->key = h;
		return r;
	}
	case P_ARRAY: {
		CUarray h = NULL;
		a2.Width = 1024;
		a2.Height = bytes / 1024;
		r = cu.array(&h, &a2);
		b->key = (uintptr_t)h;
		return r;
	}
	case P_ARRAY3D: {
		CUarray h = NULL;
		a3.Width = 1024;
		a3.Height = 1024;
		a3.Depth = bytes >> 20;
		r = cu.array3d(&h, &a3);
		b->key = (uintptr_t)h;
		return r;
	}
	case P_MIPMAP: {
		CUmipmappedArray h = NULL;
		a3.Width = 1024;
		a3.Height = bytes / 1024;
		r = cu.mipmap(&h, &a3, 3);
		b->key = (uintptr_t)h;
		return r;
	}
	default: r = CUDA_ERROR_INVALID_VALUE;
	}
	b->key = d;
	return r;
}

static CUresult release(const struct block *b)
{
	switch (b->path) {
	case P_ASYNC: return cu.free_async(b->key, NULL);
	case P_ASYNC_PTSZ: return cu.free_async_ptsz(b->key, NULL);
	case P_POOL: return cu.free_async(b->key, NULL);
	case P_CREATE: return cu.release(b->key);
	case P_ARRAY: case P_ARRAY3D: return cu.array_destroy((CUarray)(uintptr_t)b->key);
	case P_MIPMAP: return cu.mipmap_destroy((CUmipmappedArray)(uintptr_t)b->key);
	default: return cu.free(b->key);
	}
}

/* ---- fill ---- */

enum { BLOCKS_MAX = 4096 };
static struct block blocks[BLOCKS_MAX];
static int nblocks;

/* Allocates until refused; returns the bytes it got and the refusal. */
static uint64_t fill(enum path p, uint64_t chunk, CUresult *last)
{
	uint64_t got = 0;
	*last = CUDA_SUCCESS;
	while (nblocks < BLOCKS_MAX) {
		*last = allocate(p, chunk, &blocks[nblocks]);
		if (*last != CUDA_SUCCESS)
			break;
		nblocks++;
		got += chunk;
	}
	return got;
}

static void free_all(void)
{
	while (nblocks > 0) {
		CUresult r = release(&blocks[--nblocks]);
		if (r != CUDA_SUCCESS)
			die("free", r);
	}
	cu.sync();
}

static void print_info(void)
{
	size_t free = 0, total = 0, card = 0;
	CUresult r = cu.get_info(&free, &total);
	CUresult r2 = cu.total_mem(&card, dev0);
	printf("info %d %zu %zu\n", r, free, total);
	printf("total %d %zu\n", r2, card);
}

static int cmd_fill(const char *path, uint64_t chunk)
{
	start_cuda();
	enum path p = path_by_name(path);
	CUresult last;
	uint64_t got = fill(p, chunk, &last);
	printf("allocated %" PRIu64 " %d\n", got, last);
	print_info();
	free_all();
	print_info();
	got = fill(p, chunk, &last);
	printf("again %" PRIu64 " %d\n", got, last);
	free_all();
	return 0;
}

/* ---- NVML ---- */

typedef struct {
	unsigned long long total, free, used;
} nvml_mem;
typedef struct {
	unsigned int version;
	unsigned long long total, reserved, free, used;
} nvml_mem2;

static void print_nvml(void)
{
	static void *h;
	static int (*init)(void);
	static int (*by_index)(unsigned, void **);
	static int (*info)(void *, nvml_mem *);
	static int (*info2)(void *, nvml_mem2 *);
	if (h == NULL) {
		h = dlopen("libnvidia-ml.so.1", RTLD_NOW);
		if (h == NULL)
			die("dlopen nvml", -1);
		*(void **)&init = dlsym(h, "nvmlInit_v2");
		*(void **)&by_index = dlsym(h, "nvmlDeviceGetHandleByIndex_v2");
		*(void **)&info = dlsym(h, "nvmlDeviceGetMemoryInfo");
		*(void **)&info2 = dlsym(h, "nvmlDeviceGetMemoryInfo_v2");
		if (!init || !by_index || !info || !info2 || init() != 0)
			die("nvml", -1);
	}
	void *dev = NULL;
	nvml_mem m = { 0 };
	nvml_mem2 m2 = { .version = (unsigned)(sizeof(nvml_mem2) | (2u << 24)) };
	if (by_index(0, &dev) != 0)
		die("nvml handle", -1);
	int r = info(dev, &m);
	printf("nvml %d %llu %llu %llu\n", r, m.total, m.used, m.free);
	r = info2(dev, &m2);
	printf("nvml2 %d %llu %llu %llu\n", r, m2.total, m2.used, m2.free);
}

/* ---- repl ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void repl_line(char *line)
{
	char what[32] = "", arg[32] = "";
	unsigned long long n = 0, m = 0;
	int k = sscanf(line, "%31s %31s %llu %llu", what, arg, &n, &m);
	if (k < 1)
		return;
	if (strcmp(what, "alloc") == 0 && k >= 3) {
		if (nblocks == BLOCKS_MAX)
			die("too many blocks", 0);
		CUresult r = allocate(path_by_name(arg), n, &blocks[nblocks]);
		if (r == CUDA_SUCCESS)
			nblocks++;
		printf("alloc %d\n", r);
	} else if (strcmp(what, "fill") == 0 && k >= 3) {
		CUresult last;
		uint64_t got = fill(path_by_name(arg), n, &last);
		printf("allocated %" PRIu64 " %d\n", got, last);
	} else if (strcmp(what, "grab") == 0 && k >= 3) {
		/* grab BYTES TIMEOUT_MS: retry cuMemAlloc until it works */
		uint64_t t0 = now_ms();
		CUresult r;
		do {
			r = allocate(P_ALLOC, strtoull(arg, NULL, 10), &blocks[nblocks]);
		} while (r != CUDA_SUCCESS && now_ms() - t0 < n);
		if (r == CUDA_SUCCESS)
			nblocks++;
		printf("grab %d %" PRIu64 "\n", r, now_ms() - t0);
	} else if (strcmp(what, "freeptr") == 0 && k >= 2) {
		/* a pointer this process never allocated: forwarded untouched */
		printf("freeptr %d\n", cu.free((CUdeviceptr)strtoull(arg, NULL, 0)));
	} else if (strcmp(what, "fork") == 0) {
		/* the child leaves at once, running the library's exit path */
		pid_t pid = fork();
		if (pid == 0)
			exit(0);
		int status = 0;
		waitpid(pid, &status, 0);
		printf("fork %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	} else if (strcmp(what, "freeall") == 0) {
		free_all();
		printf("freed\n");
	} else if (strcmp(what, "info") == 0) {
		print_info();
	} else if (strcmp(what, "nvml") == 0) {
		print_nvml();
	} else if (strcmp(what, "uuid") == 0) {
		CUuuid u;
		cu.uuid(&u, dev0);
		const unsigned char *b = (const unsigned char *)u.bytes;
		printf("uuid GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		       "%02x%02x%02x%02x%02x%02x\n", b[0], b[1], b[2], b[3], b[4], b[5], b[6],
		       b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
	} else if (strcmp(what, "quit") == 0) {
		exit(0);
	} else {
		printf("unknown\n");
	}
}

static int cmd_repl(void)
{
	char line[256];
	start_cuda();
	printf("ready\n");
	while (fgets(line, sizeof(line), stdin) != NULL)
		repl_line(line);
	return 0;
}

/* ---- stress ---- */

struct worker {
	pthread_t thread;
	unsigned seed;
	int iters;
	uint64_t max_chunk;
	unsigned ok, refused;
};

static CUcontext stress_ctx;
static pthread_barrier_t stress_start;

static void *stress_thread(void *arg)
{
	struct worker *w = arg;
	CUdeviceptr held[8];
	int n = 0;
	cu.set_current(stress_ctx);
	pthread_barrier_wait(&stress_start);
	for (int i = 0; i < w->iters; i++) {
		usleep(100); /* hold a while: the members overlap whatever the scheduler does */
		if (n == 8 || (n > 0 && rand_r(&w->seed) % 3 == 0)) {
			if (cu.free(held[--n]) != CUDA_SUCCESS)
				die("cuMemFree", 0);
			continue;
		}
		uint64_t bytes = ((uint64_t)(1 + rand_r(&w->seed) % (w->max_chunk >> 20))) << 20;
		CUresult r = cu.alloc(&held[n], bytes);
		if (r == CUDA_SUCCESS) {
			n++;
			w->ok++;
		} else if (r == CUDA_ERROR_OUT_OF_MEMORY) {
			w->refused++;
		} else {
			die("cuMemAlloc", r);
		}
	}
	while (n > 0)
		cu.free(held[--n]);
	return NULL;
}

static int cmd_stress(int threads, int iters, uint64_t max_chunk, unsigned seed)
{
	struct worker w[64];
	start_cuda();
	cu.retain(&stress_ctx, dev0);
	if (threads > 64)
		threads = 64;
	pthread_barrier_init(&stress_start, NULL, (unsigned)threads + 1);
	for (int i = 0; i < threads; i++) {
		w[i] = (struct worker){ .seed = seed * 131u + (unsigned)i, .iters = iters,
					.max_chunk = max_chunk };
		pthread_create(&w[i].thread, NULL, stress_thread, &w[i]);
	}
	char line[16];
	printf("ready\n"); /* every process starts together on "go" */
	if (fgets(line, sizeof(line), stdin) == NULL)
		return 1;
	pthread_barrier_wait(&stress_start);
	unsigned ok = 0, refused = 0;
	for (int i = 0; i < threads; i++) {
		pthread_join(w[i].thread, NULL);
		ok += w[i].ok;
		refused += w[i].refused;
	}
	printf("done %u %u\n", ok, refused);
	fflush(stdout);
	if (fgets(line, sizeof(line), stdin) == NULL)
		return 0;
	print_info();
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 4 && strcmp(argv[1], "fill") == 0)
		return cmd_fill(argv[2], strtoull(argv[3], NULL, 0));
	if (argc >= 2 && strcmp(argv[1], "repl") == 0)
		return cmd_repl();
	if (argc >= 6 && strcmp(argv[1], "stress") == 0)
		return cmd_stress(atoi(argv[2]), atoi(argv[3]), strtoull(argv[4], NULL, 0),
				  (unsigned)atoi(argv[5]));
	if (argc >= 2 && strcmp(argv[1], "nvml") == 0) {
		print_nvml();
		return 0;
	}
	fprintf(stderr, "usage: memprobe fill PATH CHUNK | repl | stress T N MAX SEED | nvml\n");
	return 2;
}
