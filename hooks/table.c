/* table.c - everything generated from the hook table, and process setup.
 *
 * Resolution runs once per process (pthread_once), on the first hook call or
 * the first dlsym of a hooked name, whichever comes first; that may be inside
 * another library's constructor, before ours has run, so nothing here relies
 * on constructor order. After fork the child keeps the resolved pointers (the
 * same libraries are mapped at the same addresses) and only resets what is
 * per process: call counters and the modules' membership (pthread_atfork).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "device.h"
#include "dlsym.h"
#include "gate.h"
#include "hook.h"
#include "hooks_state.h"
#include "log.h"
#include "policy.h"
#include "trace.h"

struct real_fns real;
_Atomic uint64_t hook_calls[HOOK_COUNT];
_Atomic int hooks_ready;
int hooks_counting;
__thread int hook_depth __attribute__((tls_model("initial-exec")));
struct cs_config hooks_cfg;

/* Each hook's signature must match its row (and cuda.h where it declares it). */
#define X(kind, lib, name, params, args) \
	_Static_assert(__builtin_types_compatible_p(__typeof__(&name), \
			__typeof__(real.name)), #name " differs from its table row");
ALL_HOOKS(X)
#undef X

static const char *const hook_names[HOOK_COUNT] = {
#define X(kind, lib, name, params, args) [HOOK_##name] = #name,
	ALL_HOOKS(X)
#undef X
};

static void *const hook_fns[HOOK_COUNT] = {
#define X(kind, lib, name, params, args) [HOOK_##name] = (void *)name,
	ALL_HOOKS(X)
#undef X
};

/* The lib column of a row as a constant, 1 for NVML. ("cuda" and "nvml" have
 * the same length: the names cannot be told apart with sizeof.) */
#define LIB_IS_NVML_cuda 0
#define LIB_IS_NVML_nvml 1
#define IS_NVML(lib) LIB_IS_NVML_##lib

static const int hook_is_nvml[HOOK_COUNT] = {
#define X(kind, lib, name, params, args) [HOOK_##name] = IS_NVML(lib),
	ALL_HOOKS(X)
#undef X
};

/* Hook names sorted, for dlsym's answer. */
static int sorted_ids[HOOK_COUNT];

static int compare_ids(const void *a, const void *b)
{
	return strcmp(hook_names[*(const int *)a], hook_names[*(const int *)b]);
}

static void build_name_index(void)
{
	for (int i = 0; i < HOOK_COUNT; i++)
		sorted_ids[i] = i;
	qsort(sorted_ids, HOOK_COUNT, sizeof(sorted_ids[0]), compare_ids);
}

static int id_by_name(const char *name)
{
	int lo = 0, hi = HOOK_COUNT - 1;
	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		int c = strcmp(name, hook_names[sorted_ids[mid]]);
		if (c == 0)
			return sorted_ids[mid];
		if (c < 0)
			hi = mid - 1;
		else
			lo = mid + 1;
	}
	return -1;
}

void *hook_by_name(const char *name)
{
	int id = id_by_name(name);
	return id < 0 ? NULL : hook_fns[id];
}

/* struct real_fns begins with one slot per hook, in the table's order, so
 * that it can be read as an array of HOOK_COUNT pointers. */
#define X(kind, lib, name, params, args) \
	_Static_assert(offsetof(struct real_fns, name) == HOOK_##name * sizeof(void *), \
		       #name " is not where hook_for_real looks for it");
ALL_HOOKS(X)
#undef X

static void **real_slots(void)
{
	return (void **)&real;
}

void *hook_for_real(void *fn)
{
	void **slots = real_slots();
	for (int i = 0; i < HOOK_COUNT; i++) {
		if (slots[i] == fn)
			return hook_fns[i];
	}
	return fn;
}

void *hook_real_by_name(const char *name)
{
	int id = id_by_name(name);
	return id < 0 ? NULL : real_slots()[id];
}

int hook_name_is_nvml(const char *name)
{
	int id = id_by_name(name);
	return id >= 0 && hook_is_nvml[id];
}

static void *open_library(const char *soname)
{
	void *h = dlopen(soname, RTLD_NOW | RTLD_NOLOAD);
	return h != NULL ? h : dlopen(soname, RTLD_NOW | RTLD_GLOBAL);
}

static char driver_error[256];

static void resolve_cuda(void)
{
	void *h = open_library("libcuda.so.1");
	if (h == NULL) {
		const char *e = dlerror();
		strncpy(driver_error, e != NULL ? e : "not found", sizeof(driver_error) - 1);
		log_error("libcuda.so.1 could not be loaded (%s): CUDA calls will fail", driver_error);
		return;
	}
#define X(kind, lib, name, params, args) \
	if (!IS_NVML(lib)) \
		*(void **)&real.name = real_dlsym(h, #name);
	ALL_HOOKS(X)
#undef X
#define X(lib, ret, name, params) \
	if (!IS_NVML(lib)) \
		*(void **)&real.name = real_dlsym(h, #name);
	CUDA_NEEDED(X)
#undef X
}

static void write_trace(void)
{
	if (hooks_cfg.trace[0] == '\0')
		return;
	char path[CONFIG_PATH_MAX + 32];
	if (trace_path(hooks_cfg.trace, (int)getpid(), path, sizeof(path)) != 0) {
		log_error("CUSLICE_TRACE path too long");
		return;
	}
	uint64_t counts[HOOK_COUNT];
	for (int i = 0; i < HOOK_COUNT; i++)
		counts[i] = atomic_load(&hook_calls[i]);
	int err = trace_write(path, hook_names, counts, HOOK_COUNT);
	if (err != 0)
		log_error("could not write CUSLICE_TRACE file %s: %s", path, strerror(-err));
}

static void after_fork_child(void)
{
	for (int i = 0; i < HOOK_COUNT; i++)
		atomic_store_explicit(&hook_calls[i], 0, memory_order_relaxed);
	log_reset_after_fork();
	gate_after_fork();
	mem_after_fork();
	device_after_fork();
}

static pthread_once_t config_once = PTHREAD_ONCE_INIT;

/* Configuration and logging: cheap, no library loading. */
static void load_config(void)
{
	/* Bad values are reported through the log, which the table itself
	 * configures: a first, silent pass finds CUSLICE_LOG and
	 * CUSLICE_LOG_FILE, the second reports. */
	config_load_env(&hooks_cfg);
	log_setup((enum log_level)hooks_cfg.log_level, hooks_cfg.log_file);
	config_load_env(&hooks_cfg);
	policy_load(&hooks_cfg); /* the node's defaults, under the variables */
	hooks_counting = hooks_cfg.trace[0] != '\0';
	build_name_index();
}

void hooks_config(void)
{
	pthread_once(&config_once, load_config);
}

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static __thread int initialising __attribute__((tls_model("initial-exec")));

static void init_process(void)
{
	hooks_config();
	resolve_cuda();
	pthread_atfork(NULL, NULL, after_fork_child);
	atomic_store_explicit(&hooks_ready, 1, memory_order_release);
}

void hooks_init(void)
{
	/* dlopen may run library constructors that call dlsym or a hook on
	 * this very thread; pthread_once would deadlock on itself. */
	if (initialising)
		return;
	initialising = 1;
	pthread_once(&init_once, init_process);
	initialising = 0;
}

int hooks_initialising(void)
{
	return initialising;
}

static pthread_once_t nvml_once = PTHREAD_ONCE_INIT;

static void resolve_nvml(void)
{
	void *h = open_library("libnvidia-ml.so.1");
	if (h == NULL) {
		log_error("libnvidia-ml.so.1 could not be loaded: NVML calls will fail");
		return;
	}
#define X(kind, lib, name, params, args) \
	if (IS_NVML(lib)) \
		*(void **)&real.name = real_dlsym(h, #name);
	ALL_HOOKS(X)
#undef X
#define X(lib, ret, name, params) \
	if (IS_NVML(lib)) \
		*(void **)&real.name = real_dlsym(h, #name);
	CUDA_NEEDED(X)
#undef X
}

void hooks_init_nvml(void)
{
	hooks_init();
	if (initialising)
		return;
	initialising = 1;
	pthread_once(&nvml_once, resolve_nvml);
	initialising = 0;
}

CUresult hook_missing_driver(enum hook_id id)
{
	static _Atomic int said;
	if (!atomic_exchange(&said, 1))
		log_error("%s: the real driver function is unavailable (%s)", hook_names[id],
			  driver_error[0] ? driver_error : "symbol not in this driver");
	return driver_error[0] ? CUDA_ERROR_NOT_INITIALIZED : CUDA_ERROR_NOT_FOUND;
}

nvmlReturn_t hook_missing_nvml(enum hook_id id)
{
	(void)id;
	return NVML_ERROR_LIBRARY_NOT_FOUND;
}

__attribute__((destructor)) static void at_exit(void)
{
	hooks_config();
	write_trace();
	gate_shutdown();
	device_leave_all();
}
