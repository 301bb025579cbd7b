/* allocmap.c - per-process map of simulated allocations (see allocmap.h).
 * Deletion shifts later cells of the probe run back, so no tombstones. */
#include "allocmap.h"

#include <errno.h>
#include <stdlib.h>

#define SIM_MAP_MIN_CAP 64

static size_t sim_map_home(const struct sim_alloc_map *map, uint64_t key)
{
    return (size_t)((key * 0x9e3779b97f4a7c15ull) >> 17) & (map->cap - 1);
}

static size_t sim_map_find(const struct sim_alloc_map *map, uint64_t key)
{
    size_t i = sim_map_home(map, key);

    while (map->cells[i].kind != 0 && map->cells[i].key != key)
        i = (i + 1) & (map->cap - 1);
    return i;
}

static int sim_map_grow(struct sim_alloc_map *map)
{
    size_t cap = map->cap ? map->cap * 2 : SIM_MAP_MIN_CAP;
    struct sim_alloc_map bigger = { .cap = cap };

    bigger.cells = calloc(cap, sizeof(*bigger.cells));
    if (!bigger.cells)
        return -ENOMEM;
    for (size_t i = 0; i < map->cap; i++) {
        if (map->cells[i].kind != 0)
            bigger.cells[sim_map_find(&bigger, map->cells[i].key)] = map->cells[i];
    }
    bigger.count = map->count;
    free(map->cells);
    *map = bigger;
    return 0;
}

int sim_alloc_map_put(struct sim_alloc_map *map, const struct sim_alloc *a)
{
    size_t i;

    if ((map->count + 1) * 2 > map->cap && sim_map_grow(map) < 0)
        return -ENOMEM;
    i = sim_map_find(map, a->key);
    if (map->cells[i].kind != 0)
        return -EEXIST;
    map->cells[i] = *a;
    map->count++;
    return 0;
}

/* Empties cell i and moves later cells of its run to where lookups expect. */
static void sim_map_remove_at(struct sim_alloc_map *map, size_t i)
{
    size_t mask = map->cap - 1;

    for (size_t j = (i + 1) & mask; map->cells[j].kind != 0; j = (j + 1) & mask) {
        size_t home = sim_map_home(map, map->cells[j].key);
        /* Cell j may move to i when its home is not inside (i, j]. */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            map->cells[i] = map->cells[j];
            i = j;
        }
    }
    map->cells[i].kind = 0;
    map->count--;
}

int sim_alloc_map_take(struct sim_alloc_map *map, uint64_t key, enum sim_alloc_kind kind,
                       struct sim_alloc *out)
{
    size_t i;

    if (map->cap == 0 || key == 0)
        return -ENOENT;
    i = sim_map_find(map, key);
    if (map->cells[i].kind != (uint32_t)kind)
        return -ENOENT;
    *out = map->cells[i];
    sim_map_remove_at(map, i);
    return 0;
}

int sim_alloc_map_take_owned(struct sim_alloc_map *map, uint64_t owner, struct sim_alloc *out)
{
    for (size_t i = 0; i < map->cap && owner != 0; i++) {
        if (map->cells[i].kind != 0 && map->cells[i].owner == owner) {
            *out = map->cells[i];
            sim_map_remove_at(map, i);
            return 0;
        }
    }
    return -ENOENT;
}

void sim_alloc_map_clear(struct sim_alloc_map *map)
{
    free(map->cells);
    *map = (struct sim_alloc_map){ 0 };
}
