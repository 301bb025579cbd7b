/* nvml.c - NVML memory queries (nvidia-smi, pynvml and vLLM size from them).
 *
 * With a cap on the GPU the answer becomes total = cap, used = the group's
 * usage, free = total - used; without one it passes through untouched.
 * The process may have no CUDA context on the GPU it asks about (a monitor,
 * or a framework sizing itself before it starts): the GPU is found by its
 * UUID, and memory.c reads the group's usage from the GPU's shared file
 * without joining it. NVML is a separate library, resolved on first use;
 * its hooks are reached through dlsym on libnvidia-ml and as exports for
 * -lnvidia-ml programs.
 */
#include <ctype.h>

#include "device.h"
#include "hook.h"
#include "memory.h"

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

/* The view for an NVML device whose real total is card_total. Returns
 * nonzero when a cap applies (the answer must be rewritten). */
static int nvml_view(nvmlDevice_t device, uint64_t card_total, struct mem_view *v)
{
	char uuid[NVML_UUID_LEN];
	if (!mem_caps_configured() || real.nvmlDeviceGetUUID == NULL ||
	    real.nvmlDeviceGetUUID(device, uuid, sizeof(uuid)) != NVML_SUCCESS)
		return 0;
	uuid[sizeof(uuid) - 1] = '\0';
	for (char *p = uuid; *p != '\0'; p++) /* "GPU-" then hex, as CUDA writes it */
		if (p - uuid >= 4)
			*p = (char)tolower((unsigned char)*p);
	return mem_view_uuid(uuid, device_ordinal_by_uuid(uuid), card_total, v);
}

static unsigned long long used_of(const struct mem_view *v)
{
	return v->used < v->cap ? v->used : v->cap;
}

HOOK_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory)
{
	NVML_BEGIN(nvmlDeviceGetMemoryInfo, (device, memory));
	struct mem_view v;
	nvmlReturn_t r = real.nvmlDeviceGetMemoryInfo(device, memory);
	if (r == NVML_SUCCESS && nvml_view(device, memory->total, &v)) {
		memory->total = v.cap;
		memory->used = used_of(&v);
		memory->free = v.cap - memory->used;
	}
	hook_leave();
	return r;
}

HOOK_EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device,
						     nvmlMemory_v2_t *memory)
{
	NVML_BEGIN(nvmlDeviceGetMemoryInfo_v2, (device, memory));
	struct mem_view v;
	nvmlReturn_t r = real.nvmlDeviceGetMemoryInfo_v2(device, memory);
	if (r == NVML_SUCCESS && nvml_view(device, memory->total, &v)) {
		memory->total = v.cap;
		memory->reserved = 0; /* the context reserve is part of used */
		memory->used = used_of(&v);
		memory->free = v.cap - memory->used;
	}
	hook_leave();
	return r;
}
