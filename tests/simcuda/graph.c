/* graph.c - graphs of the simulated libcuda. A graph is what capture
 * records or cuGraphAddMem*Node adds: a list of kernel nodes, each a
 * duration, run one after another when an executable graph made from it is
 * launched, and a list of memory nodes (graphmem.c runs them at launch,
 * before the kernels). Dependencies are not modelled.
 */
#include "simcuda.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct sim_nodes {
    uint64_t *duration_ns;
    size_t count;
    size_t cap;
};

struct sim_memnodes {
    struct sim_memnode *v;
    size_t count;
    size_t cap;
};

struct CUgraph_st {
    struct sim_nodes nodes;
    struct sim_memnodes mem;
    struct CUgraph_st *next;
};

struct CUgraphExec_st {
    struct sim_nodes nodes;
    struct sim_memnodes mem;
    struct CUgraphExec_st *next;
};

static int sim_memnodes_append(struct sim_memnodes *m, const struct sim_memnode *v, size_t n)
{
    if (n == 0)
        return 0;
    if (m->count + n > m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 8;
        struct sim_memnode *grown;

        while (cap < m->count + n)
            cap *= 2;
        grown = realloc(m->v, cap * sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        m->v = grown;
        m->cap = cap;
    }
    memcpy(m->v + m->count, v, n * sizeof(*v));
    m->count += n;
    return 0;
}

int sim_graph_append_mem(CUgraph graph, const struct sim_memnode *node)
{
    return sim_memnodes_append(&graph->mem, node, 1);
}

static struct CUgraph_st *sim_graphs;
static struct CUgraphExec_st *sim_execs;

static int sim_nodes_append(struct sim_nodes *nodes, const uint64_t *durations_ns, size_t n)
{
    if (n == 0)
        return 0;
    if (nodes->count + n > nodes->cap) {
        size_t cap = nodes->cap ? nodes->cap * 2 : 8;
        uint64_t *grown;

        while (cap < nodes->count + n)
            cap *= 2;
        grown = realloc(nodes->duration_ns, cap * sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        nodes->duration_ns = grown;
        nodes->cap = cap;
    }
    memcpy(nodes->duration_ns + nodes->count, durations_ns, n * sizeof(*durations_ns));
    nodes->count += n;
    return 0;
}

CUgraph sim_graph_new(void)
{
    struct CUgraph_st *g = calloc(1, sizeof(*g));

    if (g) {
        g->next = sim_graphs;
        sim_graphs = g;
    }
    return g;
}

bool sim_graph_live(CUgraph graph)
{
    for (struct CUgraph_st *g = sim_graphs; g; g = g->next) {
        if (g == graph)
            return true;
    }
    return false;
}

void sim_graph_free(CUgraph graph)
{
    for (struct CUgraph_st **link = &sim_graphs; *link; link = &(*link)->next) {
        if (*link == graph) {
            *link = graph->next;
            free(graph->nodes.duration_ns);
            free(graph->mem.v);
            free(graph);
            return;
        }
    }
}

int sim_graph_append(CUgraph graph, const uint64_t *durations_ns, size_t n)
{
    return sim_nodes_append(&graph->nodes, durations_ns, n);
}

static bool sim_exec_live(CUgraphExec exec)
{
    for (struct CUgraphExec_st *e = sim_execs; e; e = e->next) {
        if (e == exec)
            return true;
    }
    return false;
}

void sim_graph_reset(void)
{
    while (sim_graphs)
        sim_graph_free(sim_graphs);
    while (sim_execs) {
        struct CUgraphExec_st *next = sim_execs->next;
        free(sim_execs->nodes.duration_ns);
        free(sim_execs->mem.v);
        free(sim_execs);
        sim_execs = next;
    }
}

SIM_API CUresult CUDAAPI cuGraphInstantiateWithFlags(CUgraphExec *phGraphExec, CUgraph hGraph,
                                                     unsigned long long flags)
{
    struct CUgraphExec_st *exec;
    CUresult rc = CUDA_SUCCESS;

    SIM_ENTER(cuGraphInstantiateWithFlags);
    if (!phGraphExec)
        return CUDA_ERROR_INVALID_VALUE;
    exec = calloc(1, sizeof(*exec));
    if (!exec)
        return CUDA_ERROR_OUT_OF_MEMORY;
    sim_lock();
    if (!sim_graph_live(hGraph))
        rc = CUDA_ERROR_INVALID_VALUE;
    else if (hGraph->nodes.count &&
             sim_nodes_append(&exec->nodes, hGraph->nodes.duration_ns, hGraph->nodes.count) < 0)
        rc = CUDA_ERROR_OUT_OF_MEMORY;
    else if (sim_memnodes_append(&exec->mem, hGraph->mem.v, hGraph->mem.count) < 0)
        rc = CUDA_ERROR_OUT_OF_MEMORY;
    if (rc == CUDA_SUCCESS) {
        exec->next = sim_execs;
        sim_execs = exec;
        *phGraphExec = exec;
    }
    sim_unlock();
    if (rc != CUDA_SUCCESS) {
        free(exec->nodes.duration_ns);
        free(exec->mem.v);
        free(exec);
    }
    return rc;
}

SIM_API CUresult CUDAAPI cuGraphExecDestroy(CUgraphExec hGraphExec)
{
    CUresult rc = CUDA_ERROR_INVALID_VALUE;

    SIM_ENTER(cuGraphExecDestroy);
    sim_lock();
    for (struct CUgraphExec_st **link = &sim_execs; *link; link = &(*link)->next) {
        if (*link == hGraphExec) {
            *link = hGraphExec->next;
            rc = CUDA_SUCCESS;
            break;
        }
    }
    sim_unlock();
    if (rc == CUDA_SUCCESS) {
        free(hGraphExec->nodes.duration_ns);
        free(hGraphExec->mem.v);
        free(hGraphExec);
    }
    return rc;
}

SIM_API CUresult CUDAAPI cuGraphDestroy(CUgraph hGraph)
{
    CUresult rc = CUDA_ERROR_INVALID_VALUE;

    SIM_ENTER(cuGraphDestroy);
    sim_lock();
    if (sim_graph_live(hGraph)) {
        sim_graph_free(hGraph);
        rc = CUDA_SUCCESS;
    }
    sim_unlock();
    return rc;
}

/* A graph launch runs its nodes as kernels, logged one line each; into a
 * capturing stream it records them instead. */
static CUresult sim_graph_launch(CUgraphExec exec, CUstream h)
{
    CUresult rc = CUDA_ERROR_INVALID_VALUE;

    sim_lock();
    if (sim_exec_live(exec)) {
        struct CUstream_st *s;
        CUcontext ctx;
        rc = sim_stream_resolve(h, &s, &ctx);
        /* Memory nodes run when the graph runs, not when it is captured. */
        if (rc == CUDA_SUCCESS && (!s || s->capture.status == CU_STREAM_CAPTURE_STATUS_NONE))
            rc = sim_graphmem_launch(exec->mem.v, exec->mem.count);
        if (rc == CUDA_SUCCESS)
            rc = sim_launch_locked(h, exec->nodes.duration_ns, exec->nodes.count);
    }
    sim_unlock();
    return rc;
}

SIM_API CUresult CUDAAPI cuGraphLaunch(CUgraphExec hGraphExec, CUstream hStream)
{
    SIM_ENTER(cuGraphLaunch);
    return sim_graph_launch(hGraphExec, hStream);
}

SIM_API CUresult CUDAAPI cuGraphLaunch_ptsz(CUgraphExec hGraphExec, CUstream hStream)
{
    SIM_ENTER(cuGraphLaunch_ptsz);
    return sim_graph_launch(hGraphExec, hStream);
}
