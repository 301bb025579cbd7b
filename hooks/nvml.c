/* nvml.c - NVML memory queries (nvidia-smi, pynvml and vLLM size from them).
 *
 * Foundation: count and forward. The memory cap makes them report the cap.
 * NVML is a separate library, resolved on first use; its hooks are reached
 * through dlsym on libnvidia-ml and as exports for -lnvidia-ml programs.
 */
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

HOOK_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory)
{
	NVML_BEGIN(nvmlDeviceGetMemoryInfo, (device, memory));
	nvmlReturn_t r = real.nvmlDeviceGetMemoryInfo(device, memory);
	hook_leave();
	return r;
}

HOOK_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device,
						     nvmlMemory_v2_t *memory)
{
	NVML_BEGIN(nvmlDeviceGetMemoryInfo_v2, (device, memory));
	nvmlReturn_t r = real.nvmlDeviceGetMemoryInfo_v2(device, memory);
	hook_leave();
	return r;
}
