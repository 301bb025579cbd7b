/* cuda_api.h - cuda.h as the hooks see it.
 *
 * cuda.h maps some names to versioned ones with macros (cuGetProcAddress ->
 * cuGetProcAddress_v2). The hook table names every exported symbol exactly,
 * so the one macro that would rename a table entry is removed here. The
 * per-thread-stream (_ptsz) variants are not declared by cuda.h in normal
 * mode; the table declares them through its own prototypes.
 */
#ifndef CUSLICE_CUDA_API_H
#define CUSLICE_CUDA_API_H

#include <cuda.h>

#undef cuGetProcAddress

/* NVML has no header on the build machines; this is the small ABI we use. */
typedef struct nvml_device *nvmlDevice_t;
typedef int nvmlReturn_t;
enum { NVML_SUCCESS = 0, NVML_ERROR_UNINITIALIZED = 1, NVML_ERROR_LIBRARY_NOT_FOUND = 12 };
typedef struct {
	unsigned long long total, free, used;
} nvmlMemory_t;
typedef struct {
	unsigned int version;
	unsigned long long total, reserved, free, used;
} nvmlMemory_v2_t;

#define HOOK_EXPORT __attribute__((visibility("default")))

#endif
