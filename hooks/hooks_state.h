/* hooks_state.h - process-wide state shared by the hook files. */
#ifndef CUSLICE_HOOKS_STATE_H
#define CUSLICE_HOOKS_STATE_H

#include "config.h"

/* The configuration, loaded once by hooks_config(). */
extern struct cs_config hooks_cfg;

/* Loads the configuration and logging settings, once. */
void hooks_config(void);

/* Nonzero while this thread is resolving the real functions. */
int hooks_initialising(void);

/* The real function behind a hooked name, or NULL. */
void *hook_real_by_name(const char *name);

/* Nonzero when the hooked name belongs to NVML. */
int hook_name_is_nvml(const char *name);

/* Forgets the parent's memory charges in a forked child. */
void mem_after_fork(void);

#endif
