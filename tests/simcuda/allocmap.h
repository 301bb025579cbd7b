/* allocmap.h - the per-process map from a simulated allocation's key (device
 * pointer, memory handle or array handle) to its size, device and kind.
 * Open addressing with linear probing; not thread-safe (libcuda's lock). */
#ifndef SIMCUDA_ALLOCMAP_H
#define SIMCUDA_ALLOCMAP_H

#include <stddef.h>
#include <stdint.h>

enum sim_alloc_kind {
    SIM_ALLOC_LINEAR = 1,  /* cuMemAlloc*, cuMemAllocPitch, managed, async */
    SIM_ALLOC_HANDLE,      /* cuMemCreate */
    SIM_ALLOC_ARRAY,       /* cuArrayCreate, cuArray3DCreate */
    SIM_ALLOC_MIPMAP,      /* cuMipmappedArrayCreate */
    SIM_ALLOC_GRAPH,       /* a graph memory node's allocation (graphmem.c) */
};

struct sim_alloc {
    uint64_t key;    /* never 0 */
    uint64_t bytes;
    int32_t phys;    /* physical device charged */
    uint32_t kind;   /* enum sim_alloc_kind; 0 marks an empty cell */
    uint64_t owner;  /* the CUcontext that frees it when destroyed, 0 for
                      * none (stream-ordered and cuMemCreate memory); the
                      * device ordinal + 1 for SIM_ALLOC_GRAPH */
};

struct sim_alloc_map {
    struct sim_alloc *cells;
    size_t cap;      /* a power of two, or 0 */
    size_t count;
};

/* Adds a->key. -ENOMEM (map unchanged) or -EEXIST when the key is present. */
int sim_alloc_map_put(struct sim_alloc_map *map, const struct sim_alloc *a);

/* Removes key if present with this kind and copies it to *out; -ENOENT
 * (nothing changed) when the key is absent or of another kind. */
int sim_alloc_map_take(struct sim_alloc_map *map, uint64_t key, enum sim_alloc_kind kind,
                       struct sim_alloc *out);

/* Removes one entry whose owner is `owner` and copies it to *out; -ENOENT
 * when there is none. */
int sim_alloc_map_take_owned(struct sim_alloc_map *map, uint64_t owner, struct sim_alloc *out);

/* Empties the map and frees its storage. */
void sim_alloc_map_clear(struct sim_alloc_map *map);

#endif /* SIMCUDA_ALLOCMAP_H */
