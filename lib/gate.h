/* gate.h - the launch gate between the launch hooks and the token ring.
 *
 * gate_enter() returns when this process may submit work to the device of
 * the calling thread's current context; gate_leave() says the submission
 * is done. One gate per device (struct gpu_gate in gpu.h), started on the
 * first launch there: a ring member when the GPU's shared file is in use
 * and CUSLICE_RING is on, else a bypass. The fast path (the slice is ours)
 * takes no syscall, lock or clock, and a process that sees exactly one
 * device skips the current-context lookup altogether.
 *
 * Launches into a stream that is being captured pass without the token
 * (they do not execute). The drain a hand-off needs never synchronises
 * while a global-mode stream capture is in progress, since that would
 * invalidate the capture: gate_capture_begin/begun/end keep the count,
 * under the lock the drain takes. Streams and contexts are opaque here.
 */
#ifndef CUSLICE_GATE_H
#define CUSLICE_GATE_H

struct ring_member;
struct qbound;

struct gate_pass {
	struct ring_member *member; /* the ring member the launch went through, or NULL */
	struct qbound *bound;       /* the launch is marked when it leaves (qbound.h) */
	void *stream;               /* with bound: where it was launched */
	int ptsz;
};

/* Waits until the caller may launch into stream on its current device
 * (ptsz: the launch is a _ptsz variant, whose NULL stream is the thread's
 * own). Never fails: without a context, a usable file or the ring, it
 * returns at once (the launch runs unthrottled, or the driver refuses it).
 * While a high member is active, a normal or low member first waits here
 * until fewer than CUSLICE_HIGH_QUEUE of its launches are queued. */
void gate_enter(struct gate_pass *pass, void *stream, int ptsz);

/* The launch that gate_enter let through was submitted. */
void gate_leave(struct gate_pass *pass);

/* Around a stream capture's start: begin takes the capture lock (waiting
 * for a drain in progress), begun records the outcome (ok: it started;
 * global: in the global capture mode) and releases it. */
void gate_capture_begin(void);
void gate_capture_begun(void *stream, int global, int ok);

/* After a capture ended: the stream no longer captures. */
void gate_capture_end(void *stream);

/* The program's context synchronize returned (its work is done). */
void gate_synced(void);

/* In a forked child: forgets the parent's captures (the gates themselves
 * are reset with the GPUs, gpu_after_fork). */
void gate_after_fork(void);

/* Leaves every ring, handing the token on (at exit). */
void gate_shutdown(void);

#endif
