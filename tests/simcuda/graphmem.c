/* graphmem.c - graph memory of the simulated libcuda.
 *
 * Graph allocations (cuGraphAddMemAllocNode, or cuMemAllocAsync captured
 * into a graph) get their address when the node is made, and their memory
 * when the graph is launched, from the process's graph pool of the device.
 * The pool holds `reserved` bytes of simulated device memory and lends
 * `used` of them; a launch that needs more grows it (charging the device),
 * a free (a free node, cuMemFree or cuMemFreeAsync) only gives back to the
 * pool, and cuDeviceGraphMemTrim returns what is not lent to the device.
 * Resetting or releasing the primary context frees the device's pool. The
 * four CU_GRAPH_MEM_ATTR_* attributes report it, as the driver's do.
 */
#include "simcuda.h"
#include "allocmap.h"

struct sim_graph_pool {
    uint64_t used, used_high;
    uint64_t reserved, reserved_high;
};

static struct sim_graph_pool sim_gpools[SIM_MAX_DEVICES]; /* by visible ordinal */
static struct sim_alloc_map sim_glive; /* launched, not freed: owner = dev + 1 */
static uint64_t sim_next_node = 0x10;

static uint64_t sim_max(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

/* One allocation node: lent from the pool, which grows if it must. */
static CUresult sim_graphmem_take(const struct sim_memnode *n)
{
    struct sim_graph_pool *p = &sim_gpools[n->dev];
    struct sim_alloc a = { .key = n->dptr, .bytes = n->bytes, .phys = n->dev,
                           .kind = SIM_ALLOC_GRAPH, .owner = (uint64_t)n->dev + 1 };
    struct sim_alloc old;

    if (sim_alloc_map_take(&sim_glive, n->dptr, SIM_ALLOC_GRAPH, &old) == 0) {
        sim_alloc_map_put(&sim_glive, &old); /* still live: put it back */
        return CUDA_ERROR_INVALID_VALUE;
    }
    if (p->used + n->bytes > p->reserved) {
        uint64_t grow = p->used + n->bytes - p->reserved;
        if (sim_mem_charge(n->dev, grow) != CUDA_SUCCESS)
            return CUDA_ERROR_OUT_OF_MEMORY;
        p->reserved += grow;
        p->reserved_high = sim_max(p->reserved_high, p->reserved);
    }
    if (sim_alloc_map_put(&sim_glive, &a) < 0)
        return CUDA_ERROR_OUT_OF_MEMORY;
    p->used += n->bytes;
    p->used_high = sim_max(p->used_high, p->used);
    return CUDA_SUCCESS;
}

bool sim_graphmem_free(uint64_t dptr)
{
    struct sim_alloc a;

    if (sim_alloc_map_take(&sim_glive, dptr, SIM_ALLOC_GRAPH, &a) < 0)
        return false;
    sim_gpools[a.phys].used -= a.bytes;
    return true;
}

CUresult sim_graphmem_launch(const struct sim_memnode *nodes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (nodes[i].is_free || sim_device_physical(nodes[i].dev) < 0)
            continue;
        CUresult rc = sim_graphmem_take(&nodes[i]);
        if (rc != CUDA_SUCCESS) {
            for (size_t k = 0; k < i; k++) {
                if (!nodes[k].is_free)
                    sim_graphmem_free(nodes[k].dptr);
            }
            return rc;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (nodes[i].is_free)
            sim_graphmem_free(nodes[i].dptr);
    }
    return CUDA_SUCCESS;
}

CUresult sim_graphmem_capture_alloc(struct CUstream_st *s, CUdevice dev, uint64_t bytes,
                                    uint64_t *dptr)
{
    struct sim_memnode node = { .dptr = sim_mem_new_address(bytes), .bytes = bytes,
                                .dev = dev };
    CUresult rc;

    if (node.dptr == 0)
        return CUDA_ERROR_OUT_OF_MEMORY;
    rc = sim_capture_record_mem(s, &node);
    if (rc == CUDA_SUCCESS)
        *dptr = node.dptr;
    return rc;
}

CUresult sim_graphmem_capture_free(struct CUstream_st *s, uint64_t dptr)
{
    struct sim_memnode node = { .dptr = dptr, .is_free = true };

    return sim_capture_record_mem(s, &node);
}

static void sim_graphmem_trim(CUdevice dev)
{
    struct sim_graph_pool *p = &sim_gpools[dev];

    sim_mem_uncharge(dev, p->reserved - p->used);
    p->reserved = p->used;
}

void sim_graphmem_drop(CUdevice dev)
{
    struct sim_alloc a;

    while (sim_alloc_map_take_owned(&sim_glive, (uint64_t)dev + 1, &a) == 0)
        sim_gpools[dev].used -= a.bytes;
    sim_graphmem_trim(dev);
}

void sim_graphmem_reset(void)
{
    sim_alloc_map_clear(&sim_glive);
    for (int i = 0; i < SIM_MAX_DEVICES; i++)
        sim_gpools[i] = (struct sim_graph_pool){ 0 };
}

/* A node handle nobody dereferences (cuda.h leaves the type opaque). */
static CUgraphNode sim_new_node(void)
{
    sim_next_node += 16;
    return (CUgraphNode)(uintptr_t)sim_next_node;
}

SIM_API CUresult CUDAAPI cuGraphAddMemAllocNode(CUgraphNode *phGraphNode, CUgraph hGraph,
                                                const CUgraphNode *dependencies,
                                                size_t numDependencies,
                                                CUDA_MEM_ALLOC_NODE_PARAMS *nodeParams)
{
    CUresult rc = CUDA_ERROR_INVALID_VALUE;

    (void)dependencies;
    (void)numDependencies;
    SIM_ENTER(cuGraphAddMemAllocNode);
    if (!phGraphNode || !nodeParams || nodeParams->bytesize == 0 ||
        nodeParams->poolProps.location.type != CU_MEM_LOCATION_TYPE_DEVICE)
        return CUDA_ERROR_INVALID_VALUE;
    if (sim_device_physical(nodeParams->poolProps.location.id) < 0)
        return CUDA_ERROR_INVALID_DEVICE;
    sim_lock();
    if (sim_graph_live(hGraph)) {
        struct sim_memnode node = { .dptr = sim_mem_new_address(nodeParams->bytesize),
                                    .bytes = nodeParams->bytesize,
                                    .dev = nodeParams->poolProps.location.id };
        rc = node.dptr && sim_graph_append_mem(hGraph, &node) == 0 ? CUDA_SUCCESS
                                                                   : CUDA_ERROR_OUT_OF_MEMORY;
        if (rc == CUDA_SUCCESS) {
            nodeParams->dptr = node.dptr;
            *phGraphNode = sim_new_node();
        }
    }
    sim_unlock();
    return rc;
}

SIM_API CUresult CUDAAPI cuGraphAddMemFreeNode(CUgraphNode *phGraphNode, CUgraph hGraph,
                                               const CUgraphNode *dependencies,
                                               size_t numDependencies, CUdeviceptr dptr)
{
    CUresult rc = CUDA_ERROR_INVALID_VALUE;

    (void)dependencies;
    (void)numDependencies;
    SIM_ENTER(cuGraphAddMemFreeNode);
    if (!phGraphNode || dptr == 0)
        return CUDA_ERROR_INVALID_VALUE;
    sim_lock();
    if (sim_graph_live(hGraph)) {
        struct sim_memnode node = { .dptr = dptr, .is_free = true };
        rc = sim_graph_append_mem(hGraph, &node) == 0 ? CUDA_SUCCESS : CUDA_ERROR_OUT_OF_MEMORY;
        if (rc == CUDA_SUCCESS)
            *phGraphNode = sim_new_node();
    }
    sim_unlock();
    return rc;
}

SIM_API CUresult CUDAAPI cuDeviceGraphMemTrim(CUdevice device)
{
    SIM_ENTER(cuDeviceGraphMemTrim);
    if (sim_device_physical(device) < 0)
        return CUDA_ERROR_INVALID_DEVICE;
    sim_lock();
    sim_graphmem_trim(device);
    sim_unlock();
    return CUDA_SUCCESS;
}

/* The arguments both attribute calls check. */
static CUresult sim_attr_args(CUdevice device, const void *value)
{
    if (!value)
        return CUDA_ERROR_INVALID_VALUE;
    return sim_device_physical(device) < 0 ? CUDA_ERROR_INVALID_DEVICE : CUDA_SUCCESS;
}

SIM_API CUresult CUDAAPI cuDeviceGetGraphMemAttribute(CUdevice device, CUgraphMem_attribute attr,
                                                      void *value)
{
    SIM_ENTER(cuDeviceGetGraphMemAttribute);
    CUresult rc = sim_attr_args(device, value);
    if (rc != CUDA_SUCCESS)
        return rc;
    sim_lock();
    const struct sim_graph_pool *p = &sim_gpools[device];
    switch (attr) {
    case CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT: *(cuuint64_t *)value = p->used; break;
    case CU_GRAPH_MEM_ATTR_USED_MEM_HIGH: *(cuuint64_t *)value = p->used_high; break;
    case CU_GRAPH_MEM_ATTR_RESERVED_MEM_CURRENT: *(cuuint64_t *)value = p->reserved; break;
    case CU_GRAPH_MEM_ATTR_RESERVED_MEM_HIGH: *(cuuint64_t *)value = p->reserved_high; break;
    default: rc = CUDA_ERROR_INVALID_VALUE;
    }
    sim_unlock();
    return rc;
}

/* Only the high watermarks can be set, and only to 0 (reset). */
SIM_API CUresult CUDAAPI cuDeviceSetGraphMemAttribute(CUdevice device, CUgraphMem_attribute attr,
                                                      void *value)
{
    SIM_ENTER(cuDeviceSetGraphMemAttribute);
    CUresult rc = sim_attr_args(device, value);
    if (rc != CUDA_SUCCESS)
        return rc;
    if (*(cuuint64_t *)value != 0)
        return CUDA_ERROR_INVALID_VALUE;
    sim_lock();
    struct sim_graph_pool *p = &sim_gpools[device];
    if (attr == CU_GRAPH_MEM_ATTR_USED_MEM_HIGH)
        p->used_high = p->used;
    else if (attr == CU_GRAPH_MEM_ATTR_RESERVED_MEM_HIGH)
        p->reserved_high = p->reserved;
    else
        rc = CUDA_ERROR_INVALID_VALUE;
    sim_unlock();
    return rc;
}
