/* memory.h - what the memory hooks tell the other hook files (nvml.c).
 *
 * A memory view is what a query should report for one GPU: whether a cap
 * applies to this process there, the cap, and what its group uses now.
 */
#ifndef CUSLICE_MEMORY_H
#define CUSLICE_MEMORY_H

#include <stdint.h>

struct mem_view {
	int capped;      /* a cap applies: queries report it */
	uint64_t cap;    /* the group's cap; 0 with capped = fail closed */
	uint64_t used;   /* the group's usage (<= cap is not guaranteed) */
};

/* The view for the GPU with this UUID and, when known, the CUDA ordinal
 * this process sees for it (-1 if unknown); card_total is the GPU's real
 * memory, to which a cap is clamped. Uses this process's record of the GPU
 * when it has one; else the cap from CUSLICE_MEM_LIMIT and the group's
 * usage from the GPU's shared file, opened read-only and not joined.
 * Returns v->capped. */
int mem_view_uuid(const char *uuid, int ordinal, uint64_t card_total, struct mem_view *v);

/* Nonzero when a cap may apply to this process on some GPU
 * (CUSLICE_MEM_LIMIT or CUSLICE_GROUP is set); when zero, queries pass
 * through without looking further. */
int mem_caps_configured(void);

#endif
