/* selftest-graphmem.c - graph memory nodes and what a context's end frees:
 * the parts of the simulated driver that cuslice's graph-memory and
 * context-destroy accounting is tested against. */
#include "selftest.h"

static uint64_t graph_attr(CUgraphMem_attribute attr)
{
    cuuint64_t v = UINT64_MAX;

    CHECK_RC(cu.DeviceGetGraphMemAttribute(0, attr, &v), CUDA_SUCCESS);
    return v;
}

/* A graph with one allocation node and one free node of it. */
static CUgraph alloc_free_graph(uint64_t bytes, CUdeviceptr *dptr)
{
    CUgraph g = NULL;
    CUgraphNode a = NULL, f = NULL;
    CUDA_MEM_ALLOC_NODE_PARAMS p = { 0 };

    p.poolProps.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
    p.poolProps.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    p.poolProps.location.id = 0;
    p.bytesize = bytes;
    CHECK_RC(cu.StreamBeginCapture(NULL, CU_STREAM_CAPTURE_MODE_GLOBAL),
             CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED); /* the NULL stream: refused */
    CUstream s = NULL;
    CHECK_RC(cu.StreamCreate(&s, 0), CUDA_SUCCESS);
    CHECK_RC(cu.StreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL), CUDA_SUCCESS);
    CHECK_RC(cu.StreamEndCapture(s, &g), CUDA_SUCCESS); /* an empty graph to add to */
    CHECK_RC(cu.StreamDestroy(s), CUDA_SUCCESS);
    CHECK_RC(cu.GraphAddMemAllocNode(&a, g, NULL, 0, &p), CUDA_SUCCESS);
    CHECK(a != NULL && p.dptr != 0 && p.dptr % 512 == 0);
    CHECK_RC(cu.GraphAddMemFreeNode(&f, g, &a, 1, p.dptr), CUDA_SUCCESS);
    *dptr = p.dptr;
    return g;
}

void test_graph_memory(void)
{
    size_t base = free_now();
    CUdeviceptr d = 0, c = 0;
    CUgraph g = alloc_free_graph(8 * MiB, &d), cg = NULL;
    CUgraphExec e = NULL, ce = NULL;
    CUstream s = NULL;

    CHECK(base - free_now() == 0); /* a node holds nothing until launched */
    CHECK_RC(cu.GraphInstantiate(&e, g, 0), CUDA_SUCCESS);
    CHECK_RC(cu.GraphLaunch(e, NULL), CUDA_SUCCESS);
    /* Allocated and freed within the launch: the pool keeps the bytes. */
    CHECK(graph_attr(CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT) == 0);
    CHECK(graph_attr(CU_GRAPH_MEM_ATTR_USED_MEM_HIGH) == 8 * MiB);
    CHECK(graph_attr(CU_GRAPH_MEM_ATTR_RESERVED_MEM_CURRENT) == 8 * MiB);
    CHECK(base - free_now() == 8 * MiB);
    CHECK_RC(cu.GraphLaunch(e, NULL), CUDA_SUCCESS); /* reuses the pool */
    CHECK(base - free_now() == 8 * MiB);

    /* cuMemAllocAsync captured: a node, allocated at each launch. */
    CHECK_RC(cu.StreamCreate(&s, 0), CUDA_SUCCESS);
    CHECK_RC(cu.StreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL), CUDA_SUCCESS);
    CHECK_RC(cu.MemAllocAsync(&c, 12 * MiB, s), CUDA_SUCCESS);
    CHECK(c != 0 && base - free_now() == 8 * MiB); /* nothing at capture */
    CHECK_RC(cu.StreamEndCapture(s, &cg), CUDA_SUCCESS);
    CHECK_RC(cu.GraphInstantiate(&ce, cg, 0), CUDA_SUCCESS);
    CHECK_RC(cu.GraphLaunch(ce, s), CUDA_SUCCESS);
    CHECK(graph_attr(CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT) == 12 * MiB);
    CHECK(graph_attr(CU_GRAPH_MEM_ATTR_RESERVED_MEM_CURRENT) == 12 * MiB);
    CHECK(base - free_now() == 12 * MiB);
    CHECK_RC(cu.GraphLaunch(ce, s), CUDA_ERROR_INVALID_VALUE); /* not freed yet */
    CHECK_RC(cu.MemFreeAsync(c, s), CUDA_SUCCESS); /* freed outside the graph */
    CHECK(graph_attr(CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT) == 0);
    CHECK(base - free_now() == 12 * MiB);
    CHECK_RC(cu.DeviceGraphMemTrim(0), CUDA_SUCCESS);
    CHECK(graph_attr(CU_GRAPH_MEM_ATTR_RESERVED_MEM_CURRENT) == 0);
    CHECK(graph_attr(CU_GRAPH_MEM_ATTR_RESERVED_MEM_HIGH) == 12 * MiB);
    CHECK(free_now() == base);
    cuuint64_t zero = 0, one = 1;
    CHECK_RC(cu.DeviceSetGraphMemAttribute(0, CU_GRAPH_MEM_ATTR_RESERVED_MEM_HIGH, &zero),
             CUDA_SUCCESS);
    CHECK(graph_attr(CU_GRAPH_MEM_ATTR_RESERVED_MEM_HIGH) == 0);
    CHECK_RC(cu.DeviceSetGraphMemAttribute(0, CU_GRAPH_MEM_ATTR_USED_MEM_HIGH, &one),
             CUDA_ERROR_INVALID_VALUE);

    /* A launch the pool cannot grow for fails whole. */
    CUdeviceptr big = 0;
    CUgraph bg = alloc_free_graph(TOTAL, &big);
    CUgraphExec be = NULL;
    CHECK_RC(cu.GraphInstantiate(&be, bg, 0), CUDA_SUCCESS);
    CHECK_RC(cu.GraphLaunch(be, NULL), CUDA_ERROR_OUT_OF_MEMORY);
    CHECK(free_now() == base);

    /* The primary context's reset frees the device's graph memory. */
    CHECK_RC(cu.GraphLaunch(e, NULL), CUDA_SUCCESS);
    CHECK(base - free_now() == 8 * MiB);
    CHECK_RC(cu.PrimaryCtxReset(0), CUDA_SUCCESS);
    CHECK(free_now() == base);
    CHECK(graph_attr(CU_GRAPH_MEM_ATTR_RESERVED_MEM_CURRENT) == 0);
    CHECK_RC(cu.GraphExecDestroy(be), CUDA_SUCCESS);
    CHECK_RC(cu.GraphExecDestroy(ce), CUDA_SUCCESS);
    CHECK_RC(cu.GraphExecDestroy(e), CUDA_SUCCESS);
    CHECK_RC(cu.GraphDestroy(bg), CUDA_SUCCESS);
    CHECK_RC(cu.GraphDestroy(cg), CUDA_SUCCESS);
    CHECK_RC(cu.GraphDestroy(g), CUDA_SUCCESS);
}

/* Destroying or resetting a context frees what was allocated in it, as the
 * driver does, but not stream-ordered or cuMemCreate memory. */
void test_context_end_frees(void)
{
    CUmemAllocationProp prop = { .type = CU_MEM_ALLOCATION_TYPE_PINNED,
                                 .location = { .type = CU_MEM_LOCATION_TYPE_DEVICE, .id = 0 } };
    CUmemGenericAllocationHandle h = 0;
    CUcontext made = NULL, popped = NULL;
    CUdeviceptr p = 0, q = 0, a = 0;
    size_t base = free_now();

    CHECK_RC(cu.CtxCreate(&made, NULL, 0, 0), CUDA_SUCCESS); /* current now */
    size_t with_ctx = free_now();
    CHECK(base - with_ctx == OVERHEAD);
    CHECK_RC(cu.MemAlloc(&p, 4 * MiB), CUDA_SUCCESS);
    CHECK_RC(cu.MemAllocManaged(&q, 2 * MiB, CU_MEM_ATTACH_GLOBAL), CUDA_SUCCESS);
    CHECK_RC(cu.MemAllocAsync(&a, MiB, NULL), CUDA_SUCCESS);
    CHECK_RC(cu.MemCreate(&h, 2 * MiB, &prop, 0), CUDA_SUCCESS);
    CHECK(with_ctx - free_now() == 9 * MiB);
    CHECK_RC(cu.CtxPopCurrent(&popped), CUDA_SUCCESS);
    CHECK(popped == made);
    CHECK_RC(cu.CtxDestroy(made), CUDA_SUCCESS);
    /* Its context and its 6 MiB went; the async 1 MiB and the handle stay. */
    CHECK(base - free_now() == 3 * MiB);
    CHECK_RC(cu.MemFree(p), CUDA_ERROR_INVALID_VALUE); /* gone with the context */
    CHECK_RC(cu.MemFreeAsync(a, NULL), CUDA_SUCCESS);
    CHECK_RC(cu.MemRelease(h), CUDA_SUCCESS);
    CHECK(free_now() == base);

    /* The primary context (current in main): a reset frees its memory. */
    CHECK_RC(cu.MemAlloc(&p, 4 * MiB), CUDA_SUCCESS);
    CHECK(base - free_now() == 4 * MiB);
    CHECK_RC(cu.PrimaryCtxReset(0), CUDA_SUCCESS);
    CHECK(free_now() == base);
    CHECK_RC(cu.MemFree(p), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cu.MemAlloc(&p, MiB), CUDA_SUCCESS); /* still usable */
    CHECK_RC(cu.MemFree(p), CUDA_SUCCESS);
    CHECK_RC(cu.PrimaryCtxReset(99), CUDA_ERROR_INVALID_DEVICE);
    unsigned flags = 1;
    int active = 0;
    CHECK_RC(cu.PrimaryCtxGetState(0, &flags, &active), CUDA_SUCCESS);
    CHECK(flags == 0 && active == 1);
}
