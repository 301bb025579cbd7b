/* selftest-kernels.c - self-test of the simulated driver's kernels: launch
 * asynchrony, synchronization, the shared per-context queue, the kernel log,
 * and the stream-capture rules.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "selftest.h"

/* ---- kernels and the log ---- */

struct log_line {
    uint64_t start, end;
};

/* Reads this process's lines of the kernel log; returns how many. */
static int read_log(struct log_line *lines, int max)
{
    FILE *f = fopen(log_path, "r");
    unsigned long long s, e;
    int pid, n = 0;

    if (!f)
        return -1;
    while (fscanf(f, "%d %llu %llu %*d %*u", &pid, &s, &e) == 3) {
        if (pid == (int)getpid() && n < max)
            lines[n++] = (struct log_line){ s, e };
    }
    fclose(f);
    return n;
}

static const CUfunction fake_kernel = (CUfunction)0x1000;

static CUresult launch_us(CUstream s, uint32_t us)
{
    void *params[] = { &us };

    return cu.LaunchKernel(fake_kernel, 1, 1, 1, 32, 1, 1, 0, s, params, NULL);
}

void test_kernel_timing(void)
{
    uint64_t t0, t1, t2;

    CHECK_RC(cu.LaunchKernel(NULL, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL),
             CUDA_ERROR_INVALID_VALUE);
    /* No upper time bounds (a loaded machine can stall this thread for
     * tens of ms): synchronizing waits at least the kernel's time, and a
     * query right after a launch sees a kernel long enough (500 ms) to be
     * still running unless the thread stalled for that long. */
    t0 = now_us();
    CHECK_RC(cu.LaunchKernel(fake_kernel, 1, 1, 1, 1, 1, 1, 0, NULL, NULL, NULL), CUDA_SUCCESS);
    CHECK_RC(cu.CtxSynchronizeV1(), CUDA_SUCCESS);
    t2 = now_us();
    CHECK(t2 - t0 >= 1000);
    CHECK_RC(cu.StreamQuery(NULL), CUDA_SUCCESS);
    t0 = now_us();
    CHECK_RC(launch_us(NULL, 500000), CUDA_SUCCESS);
    t1 = now_us();
    CHECK(slow || t1 - t0 < 500000); /* the launch did not wait for its kernel */
    CHECK(slow || cu.StreamQuery(NULL) == CUDA_ERROR_NOT_READY);
    CHECK_RC(cu.StreamSynchronize(NULL), CUDA_SUCCESS);
    CHECK(now_us() - t0 >= 500000);
    CHECK_RC(cu.StreamQuery(NULL), CUDA_SUCCESS);
}

void test_kernel_queue(void)
{
    CUlaunchConfig config = { .gridDimX = 1, .gridDimY = 1, .gridDimZ = 1,
                              .blockDimX = 1, .blockDimY = 1, .blockDimZ = 1 };
    uint32_t two_ms = 2000;
    void *params[] = { &two_ms };
    struct log_line lines[16];
    CUstream s = NULL;
    uint64_t t0;
    int n;

    CHECK_RC(cu.StreamCreate(&s, 0), CUDA_SUCCESS);
    config.hStream = s;
    /* The first kernel (300 ms) outlasts the launching of the others, so
     * they queue back to back however slowly this thread runs. */
    t0 = now_us();
    CHECK_RC(launch_us(s, 300000), CUDA_SUCCESS);
    CHECK_RC(cu.LaunchKernelEx(&config, fake_kernel, params, NULL), CUDA_SUCCESS);
    CHECK_RC(cu.LaunchCooperativeKernel(fake_kernel, 1, 1, 1, 1, 1, 1, 0, s, NULL), CUDA_SUCCESS);
    CHECK_RC(cu.LaunchKernelPtsz(fake_kernel, 1, 1, 1, 1, 1, 1, 0, NULL, params, NULL),
             CUDA_SUCCESS);
    CHECK_RC(cu.StreamSynchronize(s), CUDA_SUCCESS);
    CHECK(now_us() - t0 >= 305000); /* 300 + 2 + 1 + 2 ms on one queue */
    CHECK_RC(cu.StreamDestroy(s), CUDA_SUCCESS);
    CHECK_RC(cu.StreamSynchronize(s), CUDA_ERROR_INVALID_HANDLE);
    n = read_log(lines, 16);
    CHECK(n == 6); /* with the two kernels of test_kernel_timing */
    if (n != 6)
        return;
    CHECK(lines[0].end - lines[0].start == 1000000);
    CHECK(lines[1].end - lines[1].start == 500000000);
    CHECK(lines[2].end - lines[2].start == 300000000);
    CHECK(lines[3].end - lines[3].start == 2000000);
    CHECK(lines[4].end - lines[4].start == 1000000);
    CHECK(lines[5].end - lines[5].start == 2000000);
    CHECK(lines[1].start >= lines[0].end);
    /* Queued back to back behind the 300 ms kernel: no overlap, and no gap
     * unless launching took longer than that (valgrind). */
    for (int i = 3; i < n; i++) {
        CHECK(lines[i].start >= lines[i - 1].end);
        CHECK(slow || lines[i].start == lines[i - 1].end);
    }
}

/* ---- stream capture ---- */

static CUstreamCaptureStatus capture_status(CUstream s)
{
    CUstreamCaptureStatus st = (CUstreamCaptureStatus)-1;

    cu.StreamIsCapturing(s, &st);
    return st;
}

static int log_count(void)
{
    struct log_line lines[64];

    return read_log(lines, 64);
}

/* Captures kernels of 500 and 700 us on s1, replays the graph on s2. */
static void test_capture_replay(CUstream s1, CUstream s2)
{
    CUgraph g = NULL;
    CUgraphExec exec = NULL;
    struct log_line lines[64];
    int before = log_count(), n;

    CHECK_RC(cu.StreamBeginCapture(NULL, CU_STREAM_CAPTURE_MODE_RELAXED),
             CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
    CHECK_RC(cu.StreamBeginCapture(s1, CU_STREAM_CAPTURE_MODE_RELAXED), CUDA_SUCCESS);
    CHECK_RC(cu.StreamBeginCapture(s1, CU_STREAM_CAPTURE_MODE_RELAXED), CUDA_ERROR_ILLEGAL_STATE);
    CHECK(capture_status(s1) == CU_STREAM_CAPTURE_STATUS_ACTIVE);
    CHECK(capture_status(s2) == CU_STREAM_CAPTURE_STATUS_NONE);
    CHECK_RC(launch_us(s1, 500), CUDA_SUCCESS);
    CHECK_RC(launch_us(s1, 700), CUDA_SUCCESS);
    CHECK(log_count() == before);
    CHECK_RC(cu.StreamEndCapture(s1, &g), CUDA_SUCCESS);
    CHECK(g != NULL && capture_status(s1) == CU_STREAM_CAPTURE_STATUS_NONE);
    CHECK_RC(cu.GraphInstantiate(&exec, g, 0), CUDA_SUCCESS);
    CHECK_RC(cu.GraphLaunch(exec, s2), CUDA_SUCCESS);
    CHECK_RC(cu.GraphLaunch(exec, s2), CUDA_SUCCESS);
    CHECK_RC(cu.StreamSynchronize(s2), CUDA_SUCCESS);
    n = read_log(lines, 64);
    CHECK(n == before + 4);
    if (n == before + 4) {
        CHECK(lines[before].end - lines[before].start == 500000);
        CHECK(lines[before + 1].end - lines[before + 1].start == 700000);
        CHECK(lines[before + 3].end - lines[before + 3].start == 700000);
    }
    CHECK_RC(cu.GraphExecDestroy(exec), CUDA_SUCCESS);
    CHECK_RC(cu.GraphExecDestroy(exec), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cu.GraphDestroy(g), CUDA_SUCCESS);
    CHECK_RC(cu.GraphDestroy(g), CUDA_ERROR_INVALID_VALUE);
}

/* A sync of another stream during a GLOBAL capture invalidates it. */
static void test_capture_global(CUstream s1, CUstream s2)
{
    CUgraph g = (CUgraph)&g;
    int before = log_count();

    CHECK_RC(cu.StreamBeginCapture(s1, CU_STREAM_CAPTURE_MODE_GLOBAL), CUDA_SUCCESS);
    CHECK_RC(launch_us(s1, 100), CUDA_SUCCESS);
    CHECK_RC(cu.StreamSynchronize(s2), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
    CHECK(capture_status(s1) == CU_STREAM_CAPTURE_STATUS_INVALIDATED);
    CHECK_RC(launch_us(s1, 100), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
    CHECK_RC(cu.StreamEndCapture(s1, &g), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
    CHECK(g == NULL);
    CHECK(capture_status(s1) == CU_STREAM_CAPTURE_STATUS_NONE);
    CHECK_RC(cu.StreamSynchronize(s2), CUDA_SUCCESS);
    CHECK(log_count() == before);
    /* cuCtxSynchronize (both versions) too. */
    CHECK_RC(cu.StreamBeginCapture(s1, CU_STREAM_CAPTURE_MODE_GLOBAL), CUDA_SUCCESS);
    CHECK_RC(cu.CtxSynchronizeV1(), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
    CHECK_RC(cu.StreamEndCapture(s1, &g), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
    CHECK_RC(cu.StreamBeginCapture(s1, CU_STREAM_CAPTURE_MODE_GLOBAL), CUDA_SUCCESS);
    CHECK_RC(cu.CtxSynchronize(ctx0), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
    CHECK_RC(cu.StreamEndCapture(s1, &g), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
}

/* Synchronizing the capturing stream itself breaks any capture. */
static void test_capture_self_sync(CUstream s1)
{
    CUgraph g = NULL;

    CHECK_RC(cu.StreamBeginCapture(s1, CU_STREAM_CAPTURE_MODE_RELAXED), CUDA_SUCCESS);
    CHECK_RC(cu.StreamSynchronize(s1), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
    CHECK(capture_status(s1) == CU_STREAM_CAPTURE_STATUS_INVALIDATED);
    CHECK_RC(cu.StreamEndCapture(s1, &g), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
    CHECK_RC(cu.StreamBeginCapture(s1, CU_STREAM_CAPTURE_MODE_RELAXED), CUDA_SUCCESS);
    CHECK_RC(cu.StreamQuery(s1), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
    CHECK_RC(cu.StreamEndCapture(s1, &g), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
    /* RELAXED does not forbid syncing other work. */
    CHECK_RC(cu.StreamBeginCapture(s1, CU_STREAM_CAPTURE_MODE_RELAXED), CUDA_SUCCESS);
    CHECK_RC(cu.CtxSynchronizeV1(), CUDA_SUCCESS);
    CHECK(capture_status(s1) == CU_STREAM_CAPTURE_STATUS_ACTIVE);
    CHECK_RC(cu.StreamEndCapture(s1, &g), CUDA_SUCCESS);
    CHECK_RC(cu.GraphDestroy(g), CUDA_SUCCESS);
}

static void *thread_ctx_sync(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)cu.CtxSynchronize(ctx0);
}

static CUresult ctx_sync_from_thread(void)
{
    pthread_t t;
    void *rc = NULL;

    pthread_create(&t, NULL, thread_ctx_sync, NULL);
    pthread_join(t, &rc);
    return (CUresult)(intptr_t)rc;
}

/* GLOBAL forbids other threads; THREAD_LOCAL only the capturing one. */
static void test_capture_threads(CUstream s1)
{
    CUgraph g = NULL;

    CHECK_RC(cu.StreamBeginCapture(s1, CU_STREAM_CAPTURE_MODE_GLOBAL), CUDA_SUCCESS);
    CHECK_RC(ctx_sync_from_thread(), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
    CHECK(capture_status(s1) == CU_STREAM_CAPTURE_STATUS_INVALIDATED);
    CHECK_RC(cu.StreamEndCapture(s1, &g), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
    CHECK_RC(cu.StreamBeginCapture(s1, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL), CUDA_SUCCESS);
    CHECK_RC(ctx_sync_from_thread(), CUDA_SUCCESS);
    CHECK(capture_status(s1) == CU_STREAM_CAPTURE_STATUS_ACTIVE);
    CHECK_RC(cu.CtxSynchronizeV1(), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
    CHECK_RC(cu.StreamEndCapture(s1, &g), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
}

/* Capture into an existing graph, and a graph launch inside a capture. */
static void test_capture_to_graph(CUstream s1, CUstream s2)
{
    CUgraph g = NULL, g2 = NULL, same = NULL;
    CUgraphExec exec = NULL, exec2 = NULL;
    int before;

    CHECK_RC(cu.StreamBeginCapture(s1, CU_STREAM_CAPTURE_MODE_GLOBAL), CUDA_SUCCESS);
    CHECK_RC(launch_us(s1, 200), CUDA_SUCCESS);
    CHECK_RC(cu.StreamEndCapture(s1, &g), CUDA_SUCCESS);
    CHECK_RC(cu.StreamBeginCaptureToGraph(s1, g, NULL, NULL, 0, CU_STREAM_CAPTURE_MODE_GLOBAL),
             CUDA_SUCCESS);
    CHECK_RC(launch_us(s1, 300), CUDA_SUCCESS);
    CHECK_RC(cu.StreamEndCapture(s1, &same), CUDA_SUCCESS);
    CHECK(same == g);
    CHECK_RC(cu.GraphInstantiate(&exec, g, 0), CUDA_SUCCESS);
    CHECK_RC(cu.StreamBeginCapture(s1, CU_STREAM_CAPTURE_MODE_RELAXED), CUDA_SUCCESS);
    before = log_count();
    CHECK_RC(cu.GraphLaunch(exec, s1), CUDA_SUCCESS);
    CHECK(log_count() == before);
    CHECK_RC(cu.StreamEndCapture(s1, &g2), CUDA_SUCCESS);
    CHECK_RC(cu.GraphInstantiate(&exec2, g2, 0), CUDA_SUCCESS);
    CHECK_RC(cu.GraphLaunch(exec2, s2), CUDA_SUCCESS);
    CHECK_RC(cu.StreamSynchronize(s2), CUDA_SUCCESS);
    CHECK(log_count() == before + 2);
    CHECK_RC(cu.GraphExecDestroy(exec), CUDA_SUCCESS);
    CHECK_RC(cu.GraphExecDestroy(exec2), CUDA_SUCCESS);
    CHECK_RC(cu.GraphDestroy(g), CUDA_SUCCESS);
    CHECK_RC(cu.GraphDestroy(g2), CUDA_SUCCESS);
}

void test_capture(void)
{
    CUstream s1 = NULL, s2 = NULL;

    CHECK_RC(cu.StreamCreate(&s1, CU_STREAM_NON_BLOCKING), CUDA_SUCCESS);
    CHECK_RC(cu.StreamCreate(&s2, 0), CUDA_SUCCESS);
    test_capture_replay(s1, s2);
    test_capture_global(s1, s2);
    test_capture_self_sync(s1);
    test_capture_threads(s1);
    test_capture_to_graph(s1, s2);
    CHECK_RC(cu.StreamDestroy(s1), CUDA_SUCCESS);
    CHECK_RC(cu.StreamDestroy(s2), CUDA_SUCCESS);
}


/* ---- events ---- */

void test_events(void)
{
    CUcontext ctx0, ctx1;
    CUevent ev, other;
    uint64_t t0;

    CHECK_RC(cu.PrimaryCtxRetain(&ctx0, 0), CUDA_SUCCESS);
    CHECK_RC(cu.CtxSetCurrent(ctx0), CUDA_SUCCESS);
    CHECK_RC(cu.EventCreate(NULL, 0), CUDA_ERROR_INVALID_VALUE);
    CHECK_RC(cu.EventCreate(&ev, CU_EVENT_DISABLE_TIMING), CUDA_SUCCESS);
    CHECK_RC(cu.EventQuery(ev), CUDA_SUCCESS); /* never recorded: complete */
    /* Recorded after a 300 ms kernel: not ready until it ends. */
    t0 = now_us();
    CHECK_RC(launch_us(NULL, 300000), CUDA_SUCCESS);
    CHECK_RC(cu.EventRecord(ev, NULL), CUDA_SUCCESS);
    CHECK(slow || cu.EventQuery(ev) == CUDA_ERROR_NOT_READY);
    CHECK_RC(cu.EventSynchronize(ev), CUDA_SUCCESS);
    CHECK(now_us() - t0 >= 300000);
    CHECK_RC(cu.EventQuery(ev), CUDA_SUCCESS);
    /* An event belongs to the context it was made in. */
    CHECK_RC(cu.PrimaryCtxRetain(&ctx1, 1), CUDA_SUCCESS);
    CHECK_RC(cu.CtxSetCurrent(ctx1), CUDA_SUCCESS);
    CHECK_RC(cu.EventCreate(&other, 0), CUDA_SUCCESS);
    CHECK_RC(cu.EventRecord(ev, NULL), CUDA_ERROR_INVALID_HANDLE);
    CHECK_RC(cu.EventDestroy(other), CUDA_SUCCESS);
    CHECK_RC(cu.EventDestroy(other), CUDA_ERROR_INVALID_HANDLE);
    CHECK_RC(cu.EventQuery(other), CUDA_ERROR_INVALID_HANDLE);
    CHECK_RC(cu.CtxSetCurrent(ctx0), CUDA_SUCCESS);
    CHECK_RC(cu.EventDestroy(ev), CUDA_SUCCESS);
    CHECK_RC(cu.PrimaryCtxRelease(1), CUDA_SUCCESS);
    CHECK_RC(cu.PrimaryCtxRelease(0), CUDA_SUCCESS);
}
