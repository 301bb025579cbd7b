/* nvml.c - NVML memory queries (nvidia-smi, pynvml and vLLM size from them).
 *
 * With a cap on the GPU the answer becomes total = cap, used = the group's
 * usage, free = total - used; without one it passes through untouched
 * (lib/alloc.h, alloc_report_usage). The process may have no CUDA context
 * on the GPU it asks about (a monitor, or a framework sizing itself before
 * it starts): the GPU is found by its UUID, and lib/ reads the group's
 * usage from the GPU's shared file without joining it. NVML is a separate
 * library, resolved on first use; its hooks are reached through dlsym on
 * libnvidia-ml and as exports for -lnvidia-ml programs.
 */
#include <ctype.h>

#include "alloc.h"
#include "driver.h"
#include "hook.h"

#define NVML_BEGIN(name, args)                                          \
	do {                                                            \
		hooks_init_nvml();                                      \
		if (hook_enter(HOOK_##name) || real.name == NULL) {    \
			nvmlReturn_t nested_r_ = real.name != NULL       \
				? real.name args                         \
				: hook_missing_nvml(HOOK_##name);         \
			hook_leave();                                    \
			return nested_r_;                                \
		}                                                       \
	} while (0)

enum { NVML_UUID_LEN = 96 };

/* Rewrites (total, used, free) of an NVML device with its cap, if a cap
 * applies. Returns nonzero when it did. */
static int rewrite(nvmlDevice_t device, unsigned long long *total, unsigned long long *used,
		   unsigned long long *free)
{
	char uuid[NVML_UUID_LEN];
	if (!alloc_caps_configured() || real.nvmlDeviceGetUUID == NULL ||
	    real.nvmlDeviceGetUUID(device, uuid, sizeof(uuid)) != NVML_SUCCESS)
		return 0;
	uuid[sizeof(uuid) - 1] = '\0';
	for (char *p = uuid; *p != '\0'; p++) /* "GPU-" then hex, as CUDA writes it */
		if (p - uuid >= 4)
			*p = (char)tolower((unsigned char)*p);
	uint64_t t = *total, u = *used, f = *free;
	if (!alloc_report_usage(uuid, driver_ordinal_by_uuid(uuid), &t, &u, &f))
		return 0;
	*total = t;
	*used = u;
	*free = f;
	return 1;
}

HOOK_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory)
{
	NVML_BEGIN(nvmlDeviceGetMemoryInfo, (device, memory));
	nvmlReturn_t r = real.nvmlDeviceGetMemoryInfo(device, memory);
	if (r == NVML_SUCCESS)
		rewrite(device, &memory->total, &memory->used, &memory->free);
	hook_leave();
	return r;
}

HOOK_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device,
						     nvmlMemory_v2_t *memory)
{
	NVML_BEGIN(nvmlDeviceGetMemoryInfo_v2, (device, memory));
	nvmlReturn_t r = real.nvmlDeviceGetMemoryInfo_v2(device, memory);
	if (r == NVML_SUCCESS && rewrite(device, &memory->total, &memory->used, &memory->free))
		memory->reserved = 0; /* the context reserve is part of used */
	hook_leave();
	return r;
}
