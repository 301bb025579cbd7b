/* hook.h - what every hook body uses, and process setup (init.c).
 *
 * A hook is: HOOK_BEGIN (count the call, make sure the real functions are
 * resolved, forward untouched when nested inside the library or when the
 * driver is missing), ask lib/ for permission, call the real function, tell
 * lib/ the outcome, hook_leave(). Policy never lives in a hook body.
 */
#ifndef CUSLICE_HOOK_H
#define CUSLICE_HOOK_H

#include <stdatomic.h>
#include <stdint.h>

#include "table.h"

extern _Atomic uint64_t hook_calls[HOOK_COUNT];
extern _Atomic int hooks_ready;
extern int hooks_counting;
extern __thread int hook_depth __attribute__((tls_model("initial-exec")));

/* Loads the configuration and logging settings, once; no library loading.
 * Safe from other libraries' constructors. */
void hooks_config(void);

/* hooks_config(), then resolves the real CUDA functions, once per process
 * (and keeps working after fork). */
void hooks_init(void);

/* Resolves libnvidia-ml's real functions, once. */
void hooks_init_nvml(void);

/* Nonzero while this thread is resolving the real functions. */
int hooks_initialising(void);

/* The error a hook returns when the real library could not be loaded; logs
 * the reason once. */
CUresult hook_missing_driver(enum hook_id id);
nvmlReturn_t hook_missing_nvml(enum hook_id id);

static inline int hook_enter(enum hook_id id)
{
	if (__builtin_expect(!atomic_load_explicit(&hooks_ready, memory_order_acquire), 0))
		hooks_init();
	if (hooks_counting)
		atomic_fetch_add_explicit(&hook_calls[id], 1, memory_order_relaxed);
	return hook_depth++;
}

static inline void hook_leave(void)
{
	hook_depth--;
}

/* Opens a CUDA hook body: forwards untouched when nested or driverless. */
#define HOOK_BEGIN(name, args)                                          \
	do {                                                            \
		if (hook_enter(HOOK_##name) || real.name == NULL) {    \
			CUresult nested_r_ = real.name != NULL           \
				? real.name args                         \
				: hook_missing_driver(HOOK_##name);       \
			hook_leave();                                    \
			return nested_r_;                                \
		}                                                       \
	} while (0)

#endif
