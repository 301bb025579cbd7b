/* ring.c - the token ring in the per-GPU file. */
#include "ring.h"

#include <stddef.h>

void ring_forget(struct cs_file *f, unsigned slot)
{
	if (f == NULL || slot >= CS_MEMBERS_MAX)
		return;
	atomic_store(&f->members[slot].ring_state, RING_IDLE);
}
