/* driver.h - what lib/ needs from the CUDA driver (gpu.h, struct
 * gpu_driver), answered through the real functions; and the two lookups
 * the NVML hooks need. Never initialises the driver on the caller's behalf
 * and never calls a hook.
 */
#ifndef CUSLICE_DRIVER_H
#define CUSLICE_DRIVER_H

#include "gpu.h"

/* The callbacks lib/ uses; thread_init is left for the caller to set. */
extern const struct gpu_driver driver_callbacks;

/* The ordinal of the calling thread's current context, or -1 if none. */
int driver_current(void);

/* The ordinal this process sees for a GPU UUID (case-insensitive), or -1
 * when none matches or the driver is not initialised yet. */
int driver_ordinal_by_uuid(const char *uuid);

#endif
