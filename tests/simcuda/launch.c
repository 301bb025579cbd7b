/* launch.c - simulated kernels and synchronization.
 *
 * No thread runs anything. Each context keeps busy_until_ns, the
 * CLOCK_MONOTONIC time its queue drains: a launch starts at
 * max(now, busy_until), ends a duration later, moves busy_until there and
 * returns at once. Synchronizing sleeps until busy_until; cuStreamQuery says
 * CUDA_ERROR_NOT_READY before it. All streams of a context share the queue.
 *
 * A kernel lasts SIMCUDA_KERNEL_US microseconds, or *(uint32_t *)
 * kernelParams[0] microseconds when the caller passes parameters. With
 * SIMCUDA_LOG each kernel appends "pid start_ns end_ns device queued_ns\n" to
 * the log (queued_ns: when it was submitted) in one write() on an O_APPEND
 * descriptor, so lines of many processes never mix.
 */
#include "simcuda.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

void sim_sleep_until(uint64_t ns)
{
    struct timespec ts = {
        .tv_sec = (time_t)(ns / 1000000000ull),
        .tv_nsec = (long)(ns % 1000000000ull),
    };

    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static uint64_t sim_kernel_ns(void **kernelParams)
{
    if (kernelParams && kernelParams[0])
        return (uint64_t)*(const uint32_t *)kernelParams[0] * 1000u;
    return sim_config()->kernel_ns;
}

static void sim_log_kernel(uint64_t queued_ns, uint64_t start_ns, uint64_t end_ns, int phys)
{
    int fd = sim_config()->log_fd;
    char line[96];
    int n;

    if (fd < 0)
        return;
    n = snprintf(line, sizeof(line), "%d %llu %llu %d %llu\n", (int)getpid(),
                 (unsigned long long)start_ns, (unsigned long long)end_ns, phys,
                 (unsigned long long)queued_ns);
    if (write(fd, line, (size_t)n) != n)
        sim_debug("SIMCUDA_LOG: short write");
}

/* Lock held. */
static void sim_ctx_enqueue(CUcontext ctx, uint64_t duration_ns)
{
    uint64_t now = sim_now_ns();
    uint64_t start = ctx->busy_until_ns > now ? ctx->busy_until_ns : now;

    ctx->busy_until_ns = start + duration_ns;
    sim_log_kernel(now, start, ctx->busy_until_ns, sim_device_physical(ctx->device));
}

CUresult sim_launch_locked(CUstream h, const uint64_t *durations_ns, size_t n)
{
    struct CUstream_st *s;
    CUcontext ctx;
    CUresult rc = sim_stream_resolve(h, &s, &ctx);

    if (rc != CUDA_SUCCESS)
        return rc;
    if (s && s->capture.status != CU_STREAM_CAPTURE_STATUS_NONE)
        return sim_capture_record(s, durations_ns, n);
    for (size_t i = 0; i < n; i++)
        sim_ctx_enqueue(ctx, durations_ns[i]);
    return CUDA_SUCCESS;
}

static CUresult sim_launch(CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
                           unsigned int bx, unsigned int by, unsigned int bz, CUstream h,
                           void **kernelParams)
{
    uint64_t duration_ns;
    CUresult rc;

    if (!f || !gx || !gy || !gz || !bx || !by || !bz)
        return CUDA_ERROR_INVALID_VALUE;
    duration_ns = sim_kernel_ns(kernelParams);
    sim_lock();
    rc = sim_launch_locked(h, &duration_ns, 1);
    sim_unlock();
    return rc;
}

static CUresult sim_launch_ex(const CUlaunchConfig *config, CUfunction f, void **kernelParams)
{
    if (!config)
        return CUDA_ERROR_INVALID_VALUE;
    return sim_launch(f, config->gridDimX, config->gridDimY, config->gridDimZ,
                      config->blockDimX, config->blockDimY, config->blockDimZ,
                      config->hStream, kernelParams);
}

SIM_API CUresult CUDAAPI cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                                        unsigned int gridDimZ, unsigned int blockDimX,
                                        unsigned int blockDimY, unsigned int blockDimZ,
                                        unsigned int sharedMemBytes, CUstream hStream,
                                        void **kernelParams, void **extra)
{
    SIM_ENTER(cuLaunchKernel);
    return sim_launch(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ,
                      hStream, kernelParams);
}

SIM_API CUresult CUDAAPI cuLaunchKernel_ptsz(CUfunction f, unsigned int gridDimX,
                                             unsigned int gridDimY, unsigned int gridDimZ,
                                             unsigned int blockDimX, unsigned int blockDimY,
                                             unsigned int blockDimZ, unsigned int sharedMemBytes,
                                             CUstream hStream, void **kernelParams, void **extra)
{
    SIM_ENTER(cuLaunchKernel_ptsz);
    return sim_launch(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ,
                      hStream, kernelParams);
}

SIM_API CUresult CUDAAPI cuLaunchKernelEx(const CUlaunchConfig *config, CUfunction f,
                                          void **kernelParams, void **extra)
{
    SIM_ENTER(cuLaunchKernelEx);
    return sim_launch_ex(config, f, kernelParams);
}

SIM_API CUresult CUDAAPI cuLaunchKernelEx_ptsz(const CUlaunchConfig *config, CUfunction f,
                                               void **kernelParams, void **extra)
{
    SIM_ENTER(cuLaunchKernelEx_ptsz);
    return sim_launch_ex(config, f, kernelParams);
}

SIM_API CUresult CUDAAPI cuLaunchCooperativeKernel(CUfunction f, unsigned int gridDimX,
                                                   unsigned int gridDimY, unsigned int gridDimZ,
                                                   unsigned int blockDimX, unsigned int blockDimY,
                                                   unsigned int blockDimZ,
                                                   unsigned int sharedMemBytes, CUstream hStream,
                                                   void **kernelParams)
{
    SIM_ENTER(cuLaunchCooperativeKernel);
    return sim_launch(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ,
                      hStream, kernelParams);
}

SIM_API CUresult CUDAAPI cuLaunchCooperativeKernel_ptsz(CUfunction f, unsigned int gridDimX,
                                                        unsigned int gridDimY,
                                                        unsigned int gridDimZ,
                                                        unsigned int blockDimX,
                                                        unsigned int blockDimY,
                                                        unsigned int blockDimZ,
                                                        unsigned int sharedMemBytes,
                                                        CUstream hStream, void **kernelParams)
{
    SIM_ENTER(cuLaunchCooperativeKernel_ptsz);
    return sim_launch(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ,
                      hStream, kernelParams);
}

/* Context-wide synchronization; ctx NULL means the current context. */
static CUresult sim_ctx_sync(CUcontext ctx)
{
    uint64_t until = 0;
    CUresult rc;

    sim_lock();
    if (!ctx)
        ctx = sim_ctx_current();
    if (!sim_ctx_live(ctx))
        rc = CUDA_ERROR_INVALID_CONTEXT;
    else
        rc = sim_capture_check_sync(NULL);
    if (rc == CUDA_SUCCESS)
        until = ctx->busy_until_ns;
    sim_unlock();
    if (rc == CUDA_SUCCESS)
        sim_sleep_until(until);
    return rc;
}

static CUresult sim_stream_sync(CUstream h)
{
    struct CUstream_st *s;
    uint64_t until = 0;
    CUcontext ctx;
    CUresult rc;

    sim_lock();
    rc = sim_stream_resolve(h, &s, &ctx);
    if (rc == CUDA_SUCCESS)
        rc = sim_capture_check_sync(s);
    if (rc == CUDA_SUCCESS)
        until = ctx->busy_until_ns;
    sim_unlock();
    if (rc == CUDA_SUCCESS)
        sim_sleep_until(until);
    return rc;
}

static CUresult sim_stream_query(CUstream h)
{
    struct CUstream_st *s;
    uint64_t until = 0;
    CUcontext ctx;
    CUresult rc;

    sim_lock();
    rc = sim_stream_resolve(h, &s, &ctx);
    if (rc == CUDA_SUCCESS)
        rc = sim_capture_check_query(s);
    if (rc == CUDA_SUCCESS)
        until = ctx->busy_until_ns;
    sim_unlock();
    if (rc == CUDA_SUCCESS && sim_now_ns() < until)
        rc = CUDA_ERROR_NOT_READY;
    return rc;
}

SIM_API CUresult CUDAAPI cuCtxSynchronize(void)
{
    SIM_ENTER(cuCtxSynchronize);
    return sim_ctx_sync(NULL);
}

SIM_API CUresult CUDAAPI cuCtxSynchronize_v2(CUcontext ctx)
{
    SIM_ENTER(cuCtxSynchronize_v2);
    return sim_ctx_sync(ctx);
}

SIM_API CUresult CUDAAPI cuStreamSynchronize(CUstream hStream)
{
    SIM_ENTER(cuStreamSynchronize);
    return sim_stream_sync(hStream);
}

SIM_API CUresult CUDAAPI cuStreamSynchronize_ptsz(CUstream hStream)
{
    SIM_ENTER(cuStreamSynchronize_ptsz);
    return sim_stream_sync(hStream);
}

SIM_API CUresult CUDAAPI cuStreamQuery(CUstream hStream)
{
    SIM_ENTER(cuStreamQuery);
    return sim_stream_query(hStream);
}

SIM_API CUresult CUDAAPI cuStreamQuery_ptsz(CUstream hStream)
{
    SIM_ENTER(cuStreamQuery_ptsz);
    return sim_stream_query(hStream);
}
