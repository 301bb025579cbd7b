/* simnvml.c - the simulated libnvidia-ml.so.1: device count, handles, UUIDs
 * and memory info of the simulated devices. NVML sees physical devices (it
 * ignores CUDA_VISIBLE_DEVICES, as the real one does) and reads the same
 * shared memory state as the simulated libcuda, so "used" counts every
 * process's simulated allocations.
 */
#define SIMNVML_NO_API_MACROS
#include "simnvml.h"

#include <pthread.h>
#include <string.h>

#include "simenv.h"
#include "simident.h"
#include "simstate.h"

#define NVML_API __attribute__((visibility("default")))

struct nvmlDevice_st {
    int phys;
    struct sim_state *state;
};

static pthread_mutex_t nvml_mutex = PTHREAD_MUTEX_INITIALIZER;
static int nvml_refs;
static struct sim_env nvml_env;
static struct nvmlDevice_st nvml_devices[SIM_MAX_DEVICES];

static void nvml_close_states(void)
{
    for (int i = 0; i < SIM_MAX_DEVICES; i++) {
        sim_state_close(nvml_devices[i].state);
        nvml_devices[i].state = NULL;
    }
}

/* Lock held. */
static nvmlReturn_t nvml_open(void)
{
    if (sim_env_load(&nvml_env) < 0)
        return NVML_ERROR_UNKNOWN;
    for (int i = 0; i < nvml_env.devices; i++) {
        nvml_devices[i].phys = i;
        if (sim_state_open(nvml_env.dir, i, &nvml_devices[i].state) < 0) {
            nvml_close_states();
            return NVML_ERROR_UNKNOWN;
        }
    }
    return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlInit_v2(void)
{
    nvmlReturn_t rc = NVML_SUCCESS;

    pthread_mutex_lock(&nvml_mutex);
    if (nvml_refs == 0)
        rc = nvml_open();
    if (rc == NVML_SUCCESS)
        nvml_refs++;
    pthread_mutex_unlock(&nvml_mutex);
    return rc;
}

NVML_API nvmlReturn_t nvmlInit(void)
{
    return nvmlInit_v2();
}

NVML_API nvmlReturn_t nvmlShutdown(void)
{
    nvmlReturn_t rc = NVML_SUCCESS;

    pthread_mutex_lock(&nvml_mutex);
    if (nvml_refs == 0)
        rc = NVML_ERROR_UNINITIALIZED;
    else if (--nvml_refs == 0)
        nvml_close_states();
    pthread_mutex_unlock(&nvml_mutex);
    return rc;
}

NVML_API const char *nvmlErrorString(nvmlReturn_t result)
{
    switch (result) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NOT_FOUND: return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_ARGUMENT_VERSION_MISMATCH: return "Argument Version Mismatch";
    case NVML_ERROR_UNKNOWN: return "Unknown Error";
    default: return "Unknown Error";
    }
}

/* Lock held. */
static bool nvml_device_valid(nvmlDevice_t device)
{
    for (int i = 0; i < nvml_env.devices; i++) {
        if (device == &nvml_devices[i])
            return true;
    }
    return false;
}

/* Takes the lock and checks initialization and the handle (may be NULL
 * when the call takes none). On success the caller unlocks. */
static nvmlReturn_t nvml_enter(nvmlDevice_t device, bool needs_device)
{
    pthread_mutex_lock(&nvml_mutex);
    if (nvml_refs == 0) {
        pthread_mutex_unlock(&nvml_mutex);
        return NVML_ERROR_UNINITIALIZED;
    }
    if (needs_device && !nvml_device_valid(device)) {
        pthread_mutex_unlock(&nvml_mutex);
        return NVML_ERROR_INVALID_ARGUMENT;
    }
    return NVML_SUCCESS;
}

NVML_API nvmlReturn_t nvmlDeviceGetCount_v2(unsigned int *deviceCount)
{
    nvmlReturn_t rc = nvml_enter(NULL, false);

    if (rc != NVML_SUCCESS)
        return rc;
    if (deviceCount)
        *deviceCount = (unsigned int)nvml_env.devices;
    else
        rc = NVML_ERROR_INVALID_ARGUMENT;
    pthread_mutex_unlock(&nvml_mutex);
    return rc;
}

NVML_API nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device)
{
    nvmlReturn_t rc = nvml_enter(NULL, false);

    if (rc != NVML_SUCCESS)
        return rc;
    if (!device || index >= (unsigned int)nvml_env.devices)
        rc = NVML_ERROR_INVALID_ARGUMENT;
    else
        *device = &nvml_devices[index];
    pthread_mutex_unlock(&nvml_mutex);
    return rc;
}

NVML_API nvmlReturn_t nvmlDeviceGetHandleByUUID(const char *uuid, nvmlDevice_t *device)
{
    char text[SIM_UUID_TEXT_LEN + 1];
    nvmlReturn_t rc = nvml_enter(NULL, false);

    if (rc != NVML_SUCCESS)
        return rc;
    rc = uuid && device ? NVML_ERROR_NOT_FOUND : NVML_ERROR_INVALID_ARGUMENT;
    for (int i = 0; rc == NVML_ERROR_NOT_FOUND && i < nvml_env.devices; i++) {
        sim_uuid_text(i, text);
        if (strcmp(text, uuid) == 0) {
            *device = &nvml_devices[i];
            rc = NVML_SUCCESS;
        }
    }
    pthread_mutex_unlock(&nvml_mutex);
    return rc;
}

NVML_API nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t device, char *uuid, unsigned int length)
{
    nvmlReturn_t rc = nvml_enter(device, true);

    if (rc != NVML_SUCCESS)
        return rc;
    if (!uuid)
        rc = NVML_ERROR_INVALID_ARGUMENT;
    else if (length < SIM_UUID_TEXT_LEN + 1)
        rc = NVML_ERROR_INSUFFICIENT_SIZE;
    else
        sim_uuid_text(device->phys, uuid);
    pthread_mutex_unlock(&nvml_mutex);
    return rc;
}

/* Lock held. total, free and used of a valid device. */
static void nvml_memory(nvmlDevice_t device, unsigned long long *total,
                        unsigned long long *free_bytes, unsigned long long *used)
{
    struct sim_state_usage usage;

    sim_state_read(device->state, &usage);
    *total = nvml_env.mem_total;
    *used = usage.used;
    *free_bytes = usage.used < nvml_env.mem_total ? nvml_env.mem_total - usage.used : 0;
}

NVML_API nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t device, nvmlMemory_t *memory)
{
    nvmlReturn_t rc = nvml_enter(device, true);

    if (rc != NVML_SUCCESS)
        return rc;
    if (memory)
        nvml_memory(device, &memory->total, &memory->free, &memory->used);
    else
        rc = NVML_ERROR_INVALID_ARGUMENT;
    pthread_mutex_unlock(&nvml_mutex);
    return rc;
}

NVML_API nvmlReturn_t nvmlDeviceGetMemoryInfo_v2(nvmlDevice_t device, nvmlMemory_v2_t *memory)
{
    nvmlReturn_t rc = nvml_enter(device, true);

    if (rc != NVML_SUCCESS)
        return rc;
    if (!memory) {
        rc = NVML_ERROR_INVALID_ARGUMENT;
    } else if (memory->version != nvmlMemory_v2) {
        rc = NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    } else {
        memory->reserved = 0;
        nvml_memory(device, &memory->total, &memory->free, &memory->used);
    }
    pthread_mutex_unlock(&nvml_mutex);
    return rc;
}
