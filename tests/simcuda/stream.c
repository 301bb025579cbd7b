/* stream.c - streams and stream capture of the simulated libcuda.
 *
 * A stream is bound to the context current at cuStreamCreate; the NULL,
 * legacy and per-thread streams stand for the calling thread's current
 * context. All streams of a context share its one kernel queue (launch.c).
 *
 * Capture follows the driver's rules as far as the tests need them:
 * cuStreamBeginCapture_v2 makes a stream ACTIVE; kernels launched into it
 * become graph nodes instead of running. A synchronizing call that the
 * driver forbids during capture (sim_capture_check_sync) fails with
 * CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED and turns the captures it would break
 * INVALIDATED; cuStreamEndCapture then fails with
 * CUDA_ERROR_STREAM_CAPTURE_INVALIDATED and gives no graph.
 */
#include "simcuda.h"

#include <stdlib.h>

static struct CUstream_st *sim_streams;

static bool sim_stream_is_default(CUstream h)
{
    return h == NULL || h == CU_STREAM_LEGACY || h == CU_STREAM_PER_THREAD;
}

static bool sim_stream_known(CUstream h)
{
    for (struct CUstream_st *s = sim_streams; s; s = s->next) {
        if (s == h)
            return true;
    }
    return false;
}

CUresult sim_stream_resolve(CUstream h, struct CUstream_st **stream, CUcontext *ctx)
{
    if (sim_stream_is_default(h)) {
        *stream = NULL;
        *ctx = sim_ctx_current();
        return *ctx ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
    }
    if (!sim_stream_known(h))
        return CUDA_ERROR_INVALID_HANDLE;
    if (!sim_ctx_live(h->ctx))
        return CUDA_ERROR_INVALID_CONTEXT;
    *stream = h;
    *ctx = h->ctx;
    return CUDA_SUCCESS;
}

/* Ends a capture without a graph (the graph is freed unless borrowed). */
static void sim_capture_discard(struct CUstream_st *s)
{
    if (s->capture.graph && !s->capture.graph_borrowed)
        sim_graph_free(s->capture.graph);
    s->capture = (struct sim_capture){ .status = CU_STREAM_CAPTURE_STATUS_NONE };
}

static void sim_capture_invalidate(struct CUstream_st *s)
{
    if (s->capture.status == CU_STREAM_CAPTURE_STATUS_ACTIVE) {
        s->capture.status = CU_STREAM_CAPTURE_STATUS_INVALIDATED;
        sim_debug("stream %p: capture invalidated", (void *)s);
    }
}

static void sim_stream_free(struct CUstream_st *s)
{
    sim_capture_discard(s);
    free(s);
}

void sim_stream_drop_ctx(CUcontext ctx)
{
    struct CUstream_st **link = &sim_streams;

    while (*link) {
        struct CUstream_st *s = *link;
        if (s->ctx == ctx) {
            *link = s->next;
            sim_stream_free(s);
        } else {
            link = &s->next;
        }
    }
}

void sim_stream_reset(void)
{
    /* Graphs are freed by sim_graph_reset; only unlink them here. */
    while (sim_streams) {
        struct CUstream_st *next = sim_streams->next;
        free(sim_streams);
        sim_streams = next;
    }
}

CUresult sim_capture_record_mem(struct CUstream_st *s, const struct sim_memnode *node)
{
    if (s->capture.status == CU_STREAM_CAPTURE_STATUS_ACTIVE && !sim_graph_live(s->capture.graph))
        sim_capture_invalidate(s);
    if (s->capture.status != CU_STREAM_CAPTURE_STATUS_ACTIVE)
        return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    if (sim_graph_append_mem(s->capture.graph, node) < 0)
        return CUDA_ERROR_OUT_OF_MEMORY;
    return CUDA_SUCCESS;
}

CUresult sim_capture_record(struct CUstream_st *s, const uint64_t *durations_ns, size_t n)
{
    if (s->capture.status == CU_STREAM_CAPTURE_STATUS_ACTIVE && !sim_graph_live(s->capture.graph))
        sim_capture_invalidate(s);
    if (s->capture.status != CU_STREAM_CAPTURE_STATUS_ACTIVE)
        return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    if (sim_graph_append(s->capture.graph, durations_ns, n) < 0)
        return CUDA_ERROR_OUT_OF_MEMORY;
    return CUDA_SUCCESS;
}

/* Would a synchronizing call from this thread break capture s? */
static bool sim_capture_forbids_sync(const struct CUstream_st *s)
{
    if (s->capture.status != CU_STREAM_CAPTURE_STATUS_ACTIVE)
        return false;
    if (s->capture.mode == CU_STREAM_CAPTURE_MODE_GLOBAL)
        return true;
    return s->capture.mode == CU_STREAM_CAPTURE_MODE_THREAD_LOCAL &&
           pthread_equal(s->capture.owner, pthread_self());
}

CUresult sim_capture_check_sync(struct CUstream_st *target)
{
    bool broken = sim_capture_check_query(target) != CUDA_SUCCESS;

    for (struct CUstream_st *s = sim_streams; s; s = s->next) {
        if (sim_capture_forbids_sync(s)) {
            sim_capture_invalidate(s);
            broken = true;
        }
    }
    return broken ? CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED : CUDA_SUCCESS;
}

CUresult sim_capture_check_query(struct CUstream_st *target)
{
    if (!target || target->capture.status == CU_STREAM_CAPTURE_STATUS_NONE)
        return CUDA_SUCCESS;
    sim_capture_invalidate(target);
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
}

SIM_API CUresult CUDAAPI cuStreamCreate(CUstream *phStream, unsigned int Flags)
{
    struct CUstream_st *s;
    CUcontext ctx;

    SIM_ENTER(cuStreamCreate);
    if (!phStream || (Flags & ~(unsigned int)CU_STREAM_NON_BLOCKING))
        return CUDA_ERROR_INVALID_VALUE;
    s = calloc(1, sizeof(*s));
    if (!s)
        return CUDA_ERROR_OUT_OF_MEMORY;
    sim_lock();
    ctx = sim_ctx_current();
    if (ctx) {
        s->ctx = ctx;
        s->next = sim_streams;
        sim_streams = s;
        *phStream = s;
    }
    sim_unlock();
    if (!ctx)
        free(s);
    return ctx ? CUDA_SUCCESS : CUDA_ERROR_INVALID_CONTEXT;
}

SIM_API CUresult CUDAAPI cuStreamDestroy_v2(CUstream hStream)
{
    struct CUstream_st **link;
    CUresult rc = CUDA_ERROR_INVALID_HANDLE;

    SIM_ENTER(cuStreamDestroy_v2);
    sim_lock();
    for (link = &sim_streams; *link; link = &(*link)->next) {
        if (*link == hStream) {
            *link = hStream->next;
            sim_stream_free(hStream);
            rc = CUDA_SUCCESS;
            break;
        }
    }
    sim_unlock();
    return rc;
}

/* Lock held. */
static CUresult sim_capture_start(CUstream h, CUgraph graph, CUstreamCaptureMode mode)
{
    struct CUstream_st *s;
    CUcontext ctx;
    CUresult rc = sim_stream_resolve(h, &s, &ctx);

    if (rc != CUDA_SUCCESS)
        return rc;
    if (!s)
        return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
    if (s->capture.status != CU_STREAM_CAPTURE_STATUS_NONE)
        return CUDA_ERROR_ILLEGAL_STATE;
    if (graph && !sim_graph_live(graph))
        return CUDA_ERROR_INVALID_VALUE;
    s->capture.graph_borrowed = graph != NULL;
    s->capture.graph = graph ? graph : sim_graph_new();
    if (!s->capture.graph)
        return CUDA_ERROR_OUT_OF_MEMORY;
    s->capture.status = CU_STREAM_CAPTURE_STATUS_ACTIVE;
    s->capture.mode = mode;
    s->capture.owner = pthread_self();
    return CUDA_SUCCESS;
}

static CUresult sim_capture_begin(CUstream h, CUgraph graph, CUstreamCaptureMode mode)
{
    CUresult rc;

    if ((unsigned)mode > CU_STREAM_CAPTURE_MODE_RELAXED)
        return CUDA_ERROR_INVALID_VALUE;
    sim_lock();
    rc = sim_capture_start(h, graph, mode);
    sim_unlock();
    return rc;
}

/* Lock held. */
static CUresult sim_capture_finish(CUstream h, CUgraph *phGraph)
{
    struct CUstream_st *s;
    CUcontext ctx;
    CUresult rc = sim_stream_resolve(h, &s, &ctx);

    if (rc != CUDA_SUCCESS)
        return rc;
    if (!s || s->capture.status == CU_STREAM_CAPTURE_STATUS_NONE)
        return CUDA_ERROR_ILLEGAL_STATE;
    if (s->capture.mode != CU_STREAM_CAPTURE_MODE_RELAXED &&
        !pthread_equal(s->capture.owner, pthread_self()))
        rc = CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD;
    else if (s->capture.status == CU_STREAM_CAPTURE_STATUS_INVALIDATED)
        rc = CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    if (rc != CUDA_SUCCESS) {
        sim_capture_discard(s);
        return rc;
    }
    *phGraph = s->capture.graph;
    s->capture = (struct sim_capture){ .status = CU_STREAM_CAPTURE_STATUS_NONE };
    return CUDA_SUCCESS;
}

static CUresult sim_capture_end(CUstream h, CUgraph *phGraph)
{
    CUresult rc;

    if (!phGraph)
        return CUDA_ERROR_INVALID_VALUE;
    *phGraph = NULL;
    sim_lock();
    rc = sim_capture_finish(h, phGraph);
    sim_unlock();
    return rc;
}

static CUresult sim_capture_status(CUstream h, CUstreamCaptureStatus *status)
{
    struct CUstream_st *s;
    CUcontext ctx;
    CUresult rc;

    if (!status)
        return CUDA_ERROR_INVALID_VALUE;
    sim_lock();
    rc = sim_stream_resolve(h, &s, &ctx);
    if (rc == CUDA_SUCCESS)
        *status = s ? s->capture.status : CU_STREAM_CAPTURE_STATUS_NONE;
    sim_unlock();
    return rc;
}

SIM_API CUresult CUDAAPI cuStreamBeginCapture_v2(CUstream hStream, CUstreamCaptureMode mode)
{
    SIM_ENTER(cuStreamBeginCapture_v2);
    return sim_capture_begin(hStream, NULL, mode);
}

SIM_API CUresult CUDAAPI cuStreamBeginCapture_v2_ptsz(CUstream hStream, CUstreamCaptureMode mode)
{
    SIM_ENTER(cuStreamBeginCapture_v2_ptsz);
    return sim_capture_begin(hStream, NULL, mode);
}

SIM_API CUresult CUDAAPI cuStreamBeginCaptureToGraph(CUstream hStream, CUgraph hGraph,
                                                     const CUgraphNode *dependencies,
                                                     const CUgraphEdgeData *dependencyData,
                                                     size_t numDependencies,
                                                     CUstreamCaptureMode mode)
{
    SIM_ENTER(cuStreamBeginCaptureToGraph);
    if (!hGraph)
        return CUDA_ERROR_INVALID_VALUE;
    return sim_capture_begin(hStream, hGraph, mode);
}

SIM_API CUresult CUDAAPI cuStreamBeginCaptureToGraph_ptsz(CUstream hStream, CUgraph hGraph,
                                                          const CUgraphNode *dependencies,
                                                          const CUgraphEdgeData *dependencyData,
                                                          size_t numDependencies,
                                                          CUstreamCaptureMode mode)
{
    SIM_ENTER(cuStreamBeginCaptureToGraph_ptsz);
    if (!hGraph)
        return CUDA_ERROR_INVALID_VALUE;
    return sim_capture_begin(hStream, hGraph, mode);
}

SIM_API CUresult CUDAAPI cuStreamEndCapture(CUstream hStream, CUgraph *phGraph)
{
    SIM_ENTER(cuStreamEndCapture);
    return sim_capture_end(hStream, phGraph);
}

SIM_API CUresult CUDAAPI cuStreamEndCapture_ptsz(CUstream hStream, CUgraph *phGraph)
{
    SIM_ENTER(cuStreamEndCapture_ptsz);
    return sim_capture_end(hStream, phGraph);
}

SIM_API CUresult CUDAAPI cuStreamIsCapturing(CUstream hStream,
                                             CUstreamCaptureStatus *captureStatus)
{
    SIM_ENTER(cuStreamIsCapturing);
    return sim_capture_status(hStream, captureStatus);
}

SIM_API CUresult CUDAAPI cuStreamIsCapturing_ptsz(CUstream hStream,
                                                  CUstreamCaptureStatus *captureStatus)
{
    SIM_ENTER(cuStreamIsCapturing_ptsz);
    return sim_capture_status(hStream, captureStatus);
}
