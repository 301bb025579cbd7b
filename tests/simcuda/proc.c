/* proc.c - cuGetProcAddress of the simulated libcuda: the table of entries.h
 * instantiated once, and the lookup of a base name at a CUDA version.
 *
 * The table holds the addresses of the exported functions themselves. The
 * library is linked with -Bsymbolic, so those addresses are this library's
 * own definitions even when a preloaded library (such as cuslice) defines the
 * same names: cuGetProcAddress answers what dlsym(handle, name) would.
 */
#include "simcuda.h"

#include <string.h>

#define SIM_ENTRY_ROW(symbol, base, version, per_thread) \
    { #symbol, #base, version, per_thread, (void *)&symbol },

const struct sim_entry sim_entries[SIM_ID_COUNT] = { SIM_ENTRIES(SIM_ENTRY_ROW) };

#define SIM_PROC_FLAGS \
    (CU_GET_PROC_ADDRESS_LEGACY_STREAM | CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM)

static bool sim_wants_per_thread(cuuint64_t flags)
{
    return (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) &&
           !(flags & CU_GET_PROC_ADDRESS_LEGACY_STREAM);
}

/* The newest variant of `symbol` at `version`: a _ptsz one when asked for
 * and there is one, else the default one. NULL with *status set otherwise. */
static const struct sim_entry *sim_proc_find(const char *symbol, int version, cuuint64_t flags,
                                             CUdriverProcAddressQueryResult *status)
{
    const struct sim_entry *best[2] = { NULL, NULL }; /* [per_thread] */
    bool known = false;

    for (int i = 0; i < SIM_ID_COUNT; i++) {
        const struct sim_entry *e = &sim_entries[i];

        if (strcmp(e->base, symbol) != 0)
            continue;
        known = true;
        if (e->version <= version &&
            (!best[e->per_thread] || e->version > best[e->per_thread]->version))
            best[e->per_thread] = e;
    }
    if (sim_wants_per_thread(flags) && best[1])
        return best[1];
    if (!best[0])
        *status = known ? CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT
                        : CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
    return best[0];
}

static CUresult sim_proc_lookup(const char *symbol, void **pfn, int version, cuuint64_t flags,
                                CUdriverProcAddressQueryResult *status)
{
    CUdriverProcAddressQueryResult found = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
    const struct sim_entry *e = NULL;

    if (!pfn || (flags & ~(cuuint64_t)SIM_PROC_FLAGS))
        return CUDA_ERROR_INVALID_VALUE;
    if (symbol && *symbol)
        e = sim_proc_find(symbol, version, flags, &found);
    *pfn = e ? e->fn : NULL;
    if (status)
        *status = e ? CU_GET_PROC_ADDRESS_SUCCESS : found;
    return e ? CUDA_SUCCESS : CUDA_ERROR_NOT_FOUND;
}

SIM_API CUresult CUDAAPI cuGetProcAddress_v2(const char *symbol, void **pfn, int cudaVersion,
                                             cuuint64_t flags,
                                             CUdriverProcAddressQueryResult *symbolStatus)
{
    SIM_ENTER_EARLY(cuGetProcAddress_v2);
    return sim_proc_lookup(symbol, pfn, cudaVersion, flags, symbolStatus);
}

SIM_API CUresult CUDAAPI cuGetProcAddress(const char *symbol, void **pfn, int cudaVersion,
                                          cuuint64_t flags)
{
    SIM_ENTER_EARLY(cuGetProcAddress);
    return sim_proc_lookup(symbol, pfn, cudaVersion, flags, NULL);
}
