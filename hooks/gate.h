/* gate.h - the launch gate between the launch hooks and the token ring.
 *
 * gate_enter() returns when this process may submit work to the device of
 * the current context; gate_leave() says the submission is done. Launches
 * into a stream that is being captured pass without the token.
 */
#ifndef CUSLICE_GATE_H
#define CUSLICE_GATE_H

#include "cuda_api.h"

struct gate_pass {
	void *member;   /* the ring member the launch went through, or NULL */
};

void gate_enter(struct gate_pass *pass, CUstream stream);
void gate_leave(struct gate_pass *pass);

/* Forgets the parent's ring membership in a forked child. */
void gate_after_fork(void);

#endif
