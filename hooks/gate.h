/* gate.h - the launch gate between the launch hooks and the token ring.
 *
 * gate_enter() returns when this process may submit work to the device of
 * the current context; gate_leave() says the submission is done. Launches
 * into a stream that is being captured pass without the token (they do not
 * execute). The drain a hand-off needs never synchronises while a global-mode
 * stream capture is in progress, since that would invalidate the capture:
 * capture_begin/begun/end keep the count, under the lock the drain takes.
 */
#ifndef CUSLICE_GATE_H
#define CUSLICE_GATE_H

#include "cuda_api.h"

struct gate_pass {
	void *member;   /* the ring member the launch went through, or NULL */
};

void gate_enter(struct gate_pass *pass, CUstream stream);
void gate_leave(struct gate_pass *pass);

/* Around cuStreamBeginCapture*: begin takes the capture lock (waiting for
 * a drain in progress), begun records the outcome and releases it. */
void capture_begin(void);
void capture_begun(CUstream stream, CUstreamCaptureMode mode, int ok);

/* After cuStreamEndCapture: the stream no longer captures. */
void capture_end(CUstream stream);

/* The program's context synchronize returned (its work is done). */
void gate_synced(void);

/* Forgets the parent's ring membership in a forked child. */
void gate_after_fork(void);

/* Leaves every ring, handing the token on (at exit). */
void gate_shutdown(void);

#endif
