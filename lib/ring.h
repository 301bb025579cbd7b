/* ring.h - the token ring in the per-GPU file (see ring.c). */
#ifndef CUSLICE_RING_H
#define CUSLICE_RING_H

#include "layout.h"

/* Takes a member that died or left out of the ring: clears its waiting
 * state and, if it held the token, passes the token on. */
void ring_forget(struct cs_file *f, unsigned slot);

#endif
