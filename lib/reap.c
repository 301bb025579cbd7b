/* reap.c - returning a member's resources; see reap.h. */
#include "reap.h"

#include "ledger.h"
#include "member.h"
#include "ring.h"

void reap_clean(struct gpufile *g, unsigned slot, void *arg)
{
	(void)arg;
	ledger_forget(g->map, slot);
	ring_forget(g->map, slot);
}

int reap_dead(struct gpufile *g)
{
	return member_reap_all(g, reap_clean, NULL);
}

void reap_leave(struct gpufile *g, unsigned slot)
{
	reap_clean(g, slot, NULL);
	member_leave(g, slot);
}
