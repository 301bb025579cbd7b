/* init.c - process setup: configuration, resolution, fork and exit.
 *
 * Resolution runs once per process (pthread_once), on the first hook call or
 * the first dlsym of a hooked name, whichever comes first; that may be inside
 * another library's constructor, before ours has run, so nothing here relies
 * on constructor order. After fork the child keeps the resolved pointers (the
 * same libraries are mapped at the same addresses) and only resets what is
 * per process: call counters and lib/'s records (pthread_atfork).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "config.h"
#include "driver.h"
#include "gate.h"
#include "gpu.h"
#include "hook.h"
#include "log.h"
#include "trace.h"
#include "policy.h"

_Atomic uint64_t hook_calls[HOOK_COUNT];
_Atomic int hooks_ready;
int hooks_counting;
__thread int hook_depth __attribute__((tls_model("initial-exec")));
static struct cs_config cfg;

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
	hook_resolve(h, 0);
}

static void write_trace(void)
{
	if (cfg.trace[0] == '\0')
		return;
	char path[CONFIG_PATH_MAX + 32];
	if (trace_path(cfg.trace, (int)getpid(), path, sizeof(path)) != 0) {
		log_error("CUSLICE_TRACE path too long");
		return;
	}
	const char *names[HOOK_COUNT];
	uint64_t counts[HOOK_COUNT];
	for (int i = 0; i < HOOK_COUNT; i++) {
		names[i] = hook_name(i);
		counts[i] = atomic_load(&hook_calls[i]);
	}
	int err = trace_write(path, names, counts, HOOK_COUNT);
	if (err != 0)
		log_error("could not write CUSLICE_TRACE file %s: %s", path, strerror(-err));
}

static void after_fork_child(void)
{
	for (int i = 0; i < HOOK_COUNT; i++)
		atomic_store_explicit(&hook_calls[i], 0, memory_order_relaxed);
	log_reset_after_fork();
	gate_after_fork();
	alloc_after_fork();
	gpu_after_fork();
}

/* Whatever the library's own threads call is the library's own. */
static void thread_init(void)
{
	hook_depth = 1;
}

static pthread_once_t config_once = PTHREAD_ONCE_INIT;

/* Configuration and logging: cheap, no library loading. */
static void load_config(void)
{
	/* Bad values are reported through the log, which the table itself
	 * configures: a first, silent pass finds CUSLICE_LOG and
	 * CUSLICE_LOG_FILE, the second reports. */
	config_load_env(&cfg);
	log_setup((enum log_level)cfg.log_level, cfg.log_file);
	config_load_env(&cfg);
	policy_load(&cfg); /* the node's defaults, under the variables */
	hooks_counting = cfg.trace[0] != '\0';
	hook_index_build();
	struct gpu_driver drv = driver_callbacks;
	drv.thread_init = thread_init;
	gpu_setup(&cfg, &drv);
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
	hook_resolve(h, 1);
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
		log_error("%s: the real driver function is unavailable (%s)", hook_name(id),
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
	gpu_leave_all();
}
