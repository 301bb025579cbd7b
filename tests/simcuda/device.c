/* device.c - cuInit and the simulated devices: SIMCUDA_DEVICES physical
 * devices, of which CUDA_VISIBLE_DEVICES chooses and orders the visible ones
 * (ordinal 0 may be physical device 1). A CUdevice is the visible ordinal.
 */
#include "simcuda.h"
#include "simident.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SIM_DRIVER_VERSION 13000

static int sim_visible[SIM_MAX_DEVICES]; /* ordinal -> physical index */
static int sim_visible_count;

int sim_device_count(void)
{
    return sim_visible_count;
}

int sim_device_physical(CUdevice dev)
{
    if (dev < 0 || dev >= sim_visible_count)
        return -1;
    return sim_visible[dev];
}

void sim_device_reset(void)
{
    sim_visible_count = 0;
}

/* A "GPU-..." entry names the one physical device whose UUID text starts
 * with it (case-insensitive); none or several give -1. */
static int sim_visible_by_uuid(const char *entry, int physical)
{
    char text[SIM_UUID_TEXT_LEN + 1];
    size_t len = strlen(entry);
    int found = -1;

    for (int phys = 0; phys < physical; phys++) {
        sim_uuid_text(phys, text);
        if (len <= SIM_UUID_TEXT_LEN && strncasecmp(text, entry, len) == 0) {
            if (found >= 0)
                return -1;
            found = phys;
        }
    }
    return found;
}

static int sim_visible_by_index(const char *entry, int physical)
{
    long value = 0;

    if (!*entry)
        return -1;
    for (const char *p = entry; *p; p++) {
        if (!isdigit((unsigned char)*p) || value >= physical)
            return -1;
        value = value * 10 + (*p - '0');
    }
    return value < physical ? (int)value : -1;
}

static char *sim_trim(char *s)
{
    char *end;

    while (isspace((unsigned char)*s))
        s++;
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

static bool sim_visible_has(int phys, int count)
{
    for (int i = 0; i < count; i++) {
        if (sim_visible[i] == phys)
            return true;
    }
    return false;
}

/* Like the driver, the list ends at the first entry that is invalid, out of
 * range, ambiguous or repeated; the entries before it stay visible. */
static int sim_visible_parse(const char *list, int physical)
{
    char *copy, *entry, *save = NULL;
    int count = 0;

    if (!list) {
        for (count = 0; count < physical; count++)
            sim_visible[count] = count;
        return count;
    }
    copy = strdup(list);
    if (!copy)
        return 0;
    for (entry = strtok_r(copy, ",", &save); entry && count < SIM_MAX_DEVICES;
         entry = strtok_r(NULL, ",", &save)) {
        char *e = sim_trim(entry);
        int phys = strncasecmp(e, "GPU-", 4) == 0 ? sim_visible_by_uuid(e, physical)
                                                  : sim_visible_by_index(e, physical);
        if (phys < 0 || sim_visible_has(phys, count))
            break;
        sim_visible[count++] = phys;
    }
    free(copy);
    return count;
}

/* Lock held. */
static CUresult sim_device_init(void)
{
    const struct sim_config *cfg = sim_config();
    CUresult rc;

    if (!cfg->valid)
        return CUDA_ERROR_INVALID_VALUE;
    sim_visible_count = sim_visible_parse(getenv("CUDA_VISIBLE_DEVICES"), cfg->env.devices);
    if (sim_visible_count == 0)
        return CUDA_ERROR_NO_DEVICE;
    for (int i = 0; i < sim_visible_count; i++) {
        rc = sim_mem_attach(sim_visible[i]);
        if (rc != CUDA_SUCCESS)
            return rc;
    }
    sim_mark_initialized();
    sim_debug("cuInit: %d of %d devices visible", sim_visible_count, cfg->env.devices);
    return CUDA_SUCCESS;
}

SIM_API CUresult CUDAAPI cuInit(unsigned int Flags)
{
    CUresult rc = CUDA_SUCCESS;

    SIM_ENTER_EARLY(cuInit);
    if (Flags != 0)
        return CUDA_ERROR_INVALID_VALUE;
    sim_lock();
    if (!sim_initialized())
        rc = sim_device_init();
    sim_unlock();
    return rc;
}

SIM_API CUresult CUDAAPI cuDriverGetVersion(int *driverVersion)
{
    SIM_ENTER_EARLY(cuDriverGetVersion);
    if (!driverVersion)
        return CUDA_ERROR_INVALID_VALUE;
    *driverVersion = SIM_DRIVER_VERSION;
    return CUDA_SUCCESS;
}

SIM_API CUresult CUDAAPI cuDeviceGetCount(int *count)
{
    SIM_ENTER(cuDeviceGetCount);
    if (!count)
        return CUDA_ERROR_INVALID_VALUE;
    *count = sim_visible_count;
    return CUDA_SUCCESS;
}

SIM_API CUresult CUDAAPI cuDeviceGet(CUdevice *device, int ordinal)
{
    SIM_ENTER(cuDeviceGet);
    if (!device)
        return CUDA_ERROR_INVALID_VALUE;
    if (sim_device_physical(ordinal) < 0)
        return CUDA_ERROR_INVALID_DEVICE;
    *device = ordinal;
    return CUDA_SUCCESS;
}

SIM_API CUresult CUDAAPI cuDeviceGetName(char *name, int len, CUdevice dev)
{
    SIM_ENTER(cuDeviceGetName);
    if (!name || len <= 0)
        return CUDA_ERROR_INVALID_VALUE;
    if (sim_device_physical(dev) < 0)
        return CUDA_ERROR_INVALID_DEVICE;
    snprintf(name, (size_t)len, "%s", SIM_DEVICE_NAME);
    return CUDA_SUCCESS;
}

static CUresult sim_device_uuid(CUuuid *uuid, CUdevice dev)
{
    int phys = sim_device_physical(dev);

    if (!uuid)
        return CUDA_ERROR_INVALID_VALUE;
    if (phys < 0)
        return CUDA_ERROR_INVALID_DEVICE;
    sim_uuid_bytes(phys, (unsigned char *)uuid->bytes);
    return CUDA_SUCCESS;
}

SIM_API CUresult CUDAAPI cuDeviceGetUuid(CUuuid *uuid, CUdevice dev)
{
    SIM_ENTER(cuDeviceGetUuid);
    return sim_device_uuid(uuid, dev);
}

SIM_API CUresult CUDAAPI cuDeviceGetUuid_v2(CUuuid *uuid, CUdevice dev)
{
    SIM_ENTER(cuDeviceGetUuid_v2);
    return sim_device_uuid(uuid, dev);
}

SIM_API CUresult CUDAAPI cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev)
{
    SIM_ENTER(cuDeviceTotalMem_v2);
    if (!bytes)
        return CUDA_ERROR_INVALID_VALUE;
    if (sim_device_physical(dev) < 0)
        return CUDA_ERROR_INVALID_DEVICE;
    *bytes = (size_t)sim_config()->env.mem_total;
    return CUDA_SUCCESS;
}

struct sim_attribute {
    CUdevice_attribute attr;
    int value;
};

/* A plausible recent data-centre GPU; every other attribute reads 0. */
static const struct sim_attribute sim_attributes[] = {
    { CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, 1024 },
    { CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X, 1024 },
    { CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y, 1024 },
    { CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z, 64 },
    { CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X, 2147483647 },
    { CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y, 65535 },
    { CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z, 65535 },
    { CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK, 49152 },
    { CU_DEVICE_ATTRIBUTE_TOTAL_CONSTANT_MEMORY, 65536 },
    { CU_DEVICE_ATTRIBUTE_WARP_SIZE, 32 },
    { CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK, 65536 },
    { CU_DEVICE_ATTRIBUTE_CLOCK_RATE, 1755000 },
    { CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, 132 },
    { CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY, 1 },
    { CU_DEVICE_ATTRIBUTE_COMPUTE_MODE, CU_COMPUTEMODE_DEFAULT },
    { CU_DEVICE_ATTRIBUTE_CONCURRENT_KERNELS, 1 },
    { CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE, 2619000 },
    { CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH, 5120 },
    { CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE, 52428800 },
    { CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR, 2048 },
    { CU_DEVICE_ATTRIBUTE_ASYNC_ENGINE_COUNT, 3 },
    { CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING, 1 },
    { CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, 9 },
    { CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, 0 },
    { CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR, 233472 },
    { CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR, 65536 },
    { CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY, 1 },
    { CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS, 1 },
    { CU_DEVICE_ATTRIBUTE_COOPERATIVE_LAUNCH, 1 },
    { CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, 232448 },
    { CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED, 1 },
    { CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED, 1 },
};

static int sim_attribute_value(CUdevice_attribute attr, int phys)
{
    if (attr == CU_DEVICE_ATTRIBUTE_PCI_BUS_ID)
        return phys + 1;
    for (size_t i = 0; i < sizeof(sim_attributes) / sizeof(sim_attributes[0]); i++) {
        if (sim_attributes[i].attr == attr)
            return sim_attributes[i].value;
    }
    return 0;
}

SIM_API CUresult CUDAAPI cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib, CUdevice dev)
{
    int phys;

    SIM_ENTER(cuDeviceGetAttribute);
    if (!pi || attrib < 1 || attrib >= CU_DEVICE_ATTRIBUTE_MAX)
        return CUDA_ERROR_INVALID_VALUE;
    phys = sim_device_physical(dev);
    if (phys < 0)
        return CUDA_ERROR_INVALID_DEVICE;
    *pi = sim_attribute_value(attrib, phys);
    return CUDA_SUCCESS;
}
