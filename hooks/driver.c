/* driver.c - lib/'s callbacks into the real driver; see driver.h. */
#include "driver.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "layout.h"
#include "table.h"

static int count(void)
{
	int n = 0;
	if (real.cuDeviceGetCount == NULL || real.cuDeviceGetCount(&n) != CUDA_SUCCESS)
		return -1;
	return n;
}

int driver_current(void)
{
	CUdevice dev;
	if (real.cuCtxGetDevice == NULL || real.cuCtxGetDevice(&dev) != CUDA_SUCCESS)
		return -1;
	return dev;
}

static void *context(void)
{
	CUcontext ctx = NULL;
	if (real.cuCtxGetCurrent == NULL || real.cuCtxGetCurrent(&ctx) != CUDA_SUCCESS)
		return NULL;
	return ctx;
}

static int uuid_of(int ordinal, char *out, size_t len)
{
	CUuuid u;
	if (real.cuDeviceGetUuid_v2 == NULL || real.cuDeviceGetUuid_v2(&u, ordinal) != CUDA_SUCCESS)
		return -ENODEV;
	const unsigned char *b = (const unsigned char *)u.bytes;
	snprintf(out, len,
		 "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
		 b[12], b[13], b[14], b[15]);
	return 0;
}

static int total_mem(int ordinal, uint64_t *bytes)
{
	size_t total = 0;
	if (real.cuDeviceTotalMem_v2 == NULL ||
	    real.cuDeviceTotalMem_v2(&total, ordinal) != CUDA_SUCCESS)
		return -ENODEV;
	*bytes = total;
	return 0;
}

static int sync_context(void *ctx)
{
	if (real.cuCtxSynchronize_v2 != NULL)
		return real.cuCtxSynchronize_v2(ctx) == CUDA_SUCCESS ? 0 : -EIO;
	/* Drivers before cuCtxSynchronize_v2: the calling thread (the ring's
	 * drainer) is ours alone. */
	if (real.cuCtxSetCurrent(ctx) != CUDA_SUCCESS || real.cuCtxSynchronize() != CUDA_SUCCESS)
		return -EIO;
	return 0;
}

static int capturing(void *stream)
{
	CUstreamCaptureStatus st = CU_STREAM_CAPTURE_STATUS_NONE;
	return real.cuStreamIsCapturing != NULL &&
	       real.cuStreamIsCapturing(stream, &st) == CUDA_SUCCESS &&
	       st == CU_STREAM_CAPTURE_STATUS_ACTIVE;
}

static int graph_mem(int ordinal, uint64_t *bytes)
{
	cuuint64_t v = 0;
	if (real.cuDeviceGetGraphMemAttribute == NULL ||
	    real.cuDeviceGetGraphMemAttribute(ordinal, CU_GRAPH_MEM_ATTR_RESERVED_MEM_CURRENT,
					      &v) != CUDA_SUCCESS)
		return -ENODEV;
	*bytes = v;
	return 0;
}

static void *event_new(void)
{
	CUevent ev = NULL;
	if (real.cuEventCreate == NULL ||
	    real.cuEventCreate(&ev, CU_EVENT_DISABLE_TIMING) != CUDA_SUCCESS)
		return NULL;
	return ev;
}

static int event_record(void *ev, void *stream, int ptsz)
{
	CUresult (*record)(CUevent, CUstream) = ptsz ? real.cuEventRecord_ptsz : real.cuEventRecord;
	return record != NULL && record(ev, stream) == CUDA_SUCCESS ? 0 : -EIO;
}

static int event_done(void *ev)
{
	CUresult r = real.cuEventQuery != NULL ? real.cuEventQuery(ev) : CUDA_ERROR_NOT_SUPPORTED;
	return r == CUDA_SUCCESS ? 1 : r == CUDA_ERROR_NOT_READY ? 0 : -EIO;
}

static void event_free(void *ev)
{
	if (real.cuEventDestroy_v2 != NULL)
		real.cuEventDestroy_v2(ev);
}

const struct gpu_driver driver_callbacks = {
	.count = count,
	.current = driver_current,
	.context = context,
	.uuid = uuid_of,
	.total_mem = total_mem,
	.sync = sync_context,
	.capturing = capturing,
	.graph_mem = graph_mem,
	.event_new = event_new,
	.event_record = event_record,
	.event_done = event_done,
	.event_free = event_free,
};

int driver_ordinal_by_uuid(const char *uuid)
{
	int n = count();
	for (int i = 0; i < n && i < GPU_MAX; i++) {
		CUdevice dev;
		char mine[CS_UUID_MAX];
		if (real.cuDeviceGet(&dev, i) == CUDA_SUCCESS &&
		    uuid_of(dev, mine, sizeof(mine)) == 0 && strcasecmp(mine, uuid) == 0)
			return i;
	}
	return -1; /* n < 0: not initialised, we do not do it for the caller */
}
