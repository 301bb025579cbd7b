/* capture.c - synchronisation and stream-capture hooks.
 *
 * The capture hooks tell the gate (lib/gate.h) which streams are being captured: launches
 * into them pass without the token (they do not execute), and the ring's
 * drain waits while a global-mode capture is open instead of synchronising,
 * which would invalidate it. A context synchronize that returns tells the
 * gate that the program's work is done (a high member then hands the GPU
 * back at once).
 */
#include "gate.h"
#include "hook.h"

HOOK_EXPORT CUresult cuCtxSynchronize(void)
{
	HOOK_BEGIN(cuCtxSynchronize, ());
	CUresult r = real.cuCtxSynchronize();
	if (r == CUDA_SUCCESS)
		gate_synced();
	hook_leave();
	return r;
}

HOOK_EXPORT CUresult cuCtxSynchronize_v2(CUcontext ctx)
{
	HOOK_BEGIN(cuCtxSynchronize_v2, (ctx));
	CUresult r = real.cuCtxSynchronize_v2(ctx);
	if (r == CUDA_SUCCESS)
		gate_synced();
	hook_leave();
	return r;
}

#define BEGIN_CAPTURE_BODY(name, params, args)                       \
	HOOK_EXPORT CUresult name params                             \
	{                                                            \
		HOOK_BEGIN(name, args);                              \
		gate_capture_begin();                                \
		CUresult r = real.name args;                         \
		gate_capture_begun(hStream, mode == CU_STREAM_CAPTURE_MODE_GLOBAL, \
				   r == CUDA_SUCCESS);               \
		hook_leave();                                        \
		return r;                                            \
	}

#define END_CAPTURE_BODY(name)                                                   \
	HOOK_EXPORT CUresult name(CUstream hStream, CUgraph *phGraph)            \
	{                                                                        \
		HOOK_BEGIN(name, (hStream, phGraph));                            \
		CUresult r = real.name(hStream, phGraph);                        \
		gate_capture_end(hStream);                                       \
		hook_leave();                                                    \
		return r;                                                        \
	}

#define IS_CAPTURING_BODY(name)                                                         \
	HOOK_EXPORT CUresult name(CUstream hStream, CUstreamCaptureStatus *captureStatus) \
	{                                                                               \
		HOOK_BEGIN(name, (hStream, captureStatus));                             \
		CUresult r = real.name(hStream, captureStatus);                         \
		hook_leave();                                                           \
		return r;                                                               \
	}

BEGIN_CAPTURE_BODY(cuStreamBeginCapture_v2, (CUstream hStream, CUstreamCaptureMode mode),
		   (hStream, mode))
BEGIN_CAPTURE_BODY(cuStreamBeginCapture_v2_ptsz, (CUstream hStream, CUstreamCaptureMode mode),
		   (hStream, mode))
BEGIN_CAPTURE_BODY(cuStreamBeginCaptureToGraph, CAPTURE_TO_GRAPH_PARAMS, CAPTURE_TO_GRAPH_ARGS)
BEGIN_CAPTURE_BODY(cuStreamBeginCaptureToGraph_ptsz, CAPTURE_TO_GRAPH_PARAMS,
		   CAPTURE_TO_GRAPH_ARGS)
END_CAPTURE_BODY(cuStreamEndCapture)
END_CAPTURE_BODY(cuStreamEndCapture_ptsz)
IS_CAPTURING_BODY(cuStreamIsCapturing)
IS_CAPTURING_BODY(cuStreamIsCapturing_ptsz)
