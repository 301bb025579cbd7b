/* event.c - simulated events: cuEventCreate, cuEventRecord, cuEventQuery,
 * cuEventSynchronize, cuEventDestroy_v2.
 *
 * Kernels do not run on any thread (launch.c), so an event is only a time:
 * recording it on a stream stores when the stream's context queue drains
 * (busy_until_ns, or now when the queue is empty). cuEventQuery says
 * CUDA_ERROR_NOT_READY until then and cuEventSynchronize sleeps until then;
 * an event never recorded is complete, as in the driver. Recording into a
 * stream that is being captured is not simulated (CUDA_ERROR_NOT_SUPPORTED).
 */
#include "simcuda.h"

#include <stdlib.h>

struct CUevent_st {
    CUcontext ctx;             /* the context current at creation */
    uint64_t done_ns;          /* the recorded work ends; 0 = never recorded */
    struct CUevent_st *next;
};

static struct CUevent_st *sim_events;

/* Lock held. */
static bool sim_event_known(CUevent ev)
{
    for (struct CUevent_st *e = sim_events; e; e = e->next) {
        if (e == ev)
            return true;
    }
    return false;
}

/* The event's completion time, or an error for an unknown event or one
 * whose context is gone. Takes the lock. */
static CUresult sim_event_done_ns(CUevent ev, uint64_t *done)
{
    CUresult rc = CUDA_SUCCESS;

    sim_lock();
    if (!ev || !sim_event_known(ev))
        rc = CUDA_ERROR_INVALID_HANDLE;
    else if (!sim_ctx_live(ev->ctx))
        rc = CUDA_ERROR_INVALID_CONTEXT;
    else
        *done = ev->done_ns;
    sim_unlock();
    return rc;
}

SIM_API CUresult CUDAAPI cuEventCreate(CUevent *phEvent, unsigned int Flags)
{
    CUresult rc = CUDA_SUCCESS;
    CUcontext ctx;

    SIM_ENTER(cuEventCreate);
    if (!phEvent || (Flags & ~0xfu))
        return CUDA_ERROR_INVALID_VALUE;
    sim_lock();
    ctx = sim_ctx_current();
    if (!ctx) {
        rc = CUDA_ERROR_INVALID_CONTEXT;
    } else {
        struct CUevent_st *e = calloc(1, sizeof(*e));
        if (!e) {
            rc = CUDA_ERROR_OUT_OF_MEMORY;
        } else {
            e->ctx = ctx;
            e->next = sim_events;
            sim_events = e;
            *phEvent = e;
        }
    }
    sim_unlock();
    return rc;
}

static CUresult sim_event_record(CUevent ev, CUstream h)
{
    struct CUstream_st *s;
    CUcontext ctx;
    CUresult rc;

    sim_lock();
    rc = (ev && sim_event_known(ev)) ? sim_stream_resolve(h, &s, &ctx) : CUDA_ERROR_INVALID_HANDLE;
    if (rc == CUDA_SUCCESS && ctx != ev->ctx)
        rc = CUDA_ERROR_INVALID_HANDLE; /* the driver wants one context */
    if (rc == CUDA_SUCCESS && s && s->capture.status != CU_STREAM_CAPTURE_STATUS_NONE)
        rc = CUDA_ERROR_NOT_SUPPORTED;
    if (rc == CUDA_SUCCESS) {
        uint64_t now = sim_now_ns();
        ev->done_ns = ctx->busy_until_ns > now ? ctx->busy_until_ns : now;
    }
    sim_unlock();
    return rc;
}

SIM_API CUresult CUDAAPI cuEventRecord(CUevent hEvent, CUstream hStream)
{
    SIM_ENTER(cuEventRecord);
    return sim_event_record(hEvent, hStream);
}

SIM_API CUresult CUDAAPI cuEventRecord_ptsz(CUevent hEvent, CUstream hStream)
{
    SIM_ENTER(cuEventRecord_ptsz);
    return sim_event_record(hEvent, hStream);
}

SIM_API CUresult CUDAAPI cuEventQuery(CUevent hEvent)
{
    uint64_t done = 0;
    CUresult rc;

    SIM_ENTER(cuEventQuery);
    rc = sim_event_done_ns(hEvent, &done);
    return rc == CUDA_SUCCESS && sim_now_ns() < done ? CUDA_ERROR_NOT_READY : rc;
}

SIM_API CUresult CUDAAPI cuEventSynchronize(CUevent hEvent)
{
    uint64_t done = 0;
    CUresult rc;

    SIM_ENTER(cuEventSynchronize);
    rc = sim_event_done_ns(hEvent, &done);
    if (rc == CUDA_SUCCESS)
        sim_sleep_until(done);
    return rc;
}

SIM_API CUresult CUDAAPI cuEventDestroy_v2(CUevent hEvent)
{
    CUresult rc = CUDA_ERROR_INVALID_HANDLE;

    SIM_ENTER(cuEventDestroy_v2);
    sim_lock();
    for (struct CUevent_st **link = &sim_events; *link; link = &(*link)->next) {
        if (*link == hEvent) {
            *link = hEvent->next;
            free(hEvent);
            rc = CUDA_SUCCESS;
            break;
        }
    }
    sim_unlock();
    return rc;
}

void sim_event_reset(void)
{
    while (sim_events) {
        struct CUevent_st *next = sim_events->next;
        free(sim_events);
        sim_events = next;
    }
}
