/* ringdump.c - prints the ring's own accounting from a per-GPU file, for the
 * ring tests (test_ring.py, test_priority.py).
 *
 *   ringdump FILE
 *
 * One line for the ring:
 *   ring holder=SLOT|- handoffs=N overruns=N revocations=N
 * and one line per slot that has ever had a member (pid != 0), live or not:
 *   member SLOT pid=P state=active|free alive=0|1 weight=W priority=C
 *          vtime_ns=N held_ns=N grants=N launches=N overruns=N charged=N
 * A member's slot keeps these values after it leaves (member_leave only
 * marks it free), so a test reads them after its processes have exited, as
 * long as no new member reuses the slot. vtime_ns is the ring's charge
 * divided by the member's weight (ring.c); weight * vtime_ns is what the
 * ring counted as that member's turn time while others waited.
 * Exits 1 when the file cannot be opened or fails its checks.
 */
#include <stdio.h>

#include "gpufile.h"
#include "member.h"

static unsigned long long ld(_Atomic uint64_t *p)
{
	return (unsigned long long)atomic_load(p);
}

int main(int argc, char **argv)
{
	struct gpufile g;
	char why[200] = "";
	if (argc != 2) {
		fprintf(stderr, "usage: ringdump FILE\n");
		return 2;
	}
	if (gpufile_open_readonly(&g, argv[1], why, sizeof(why)) != 0) {
		printf("error %s\n", why);
		return 1;
	}
	struct cs_ring *r = &g.map->ring;
	unsigned holder = TOKEN_HOLDER(atomic_load(&r->token));
	if (holder == CS_NO_HOLDER)
		printf("ring holder=-");
	else
		printf("ring holder=%u", holder);
	printf(" handoffs=%llu overruns=%llu revocations=%llu high_launches_x16=%u\n",
	       ld(&r->handoffs), ld(&r->overruns), ld(&r->revocations),
	       (unsigned)atomic_load(&r->high_launches_x16));
	for (unsigned i = 0; i < CS_MEMBERS_MAX; i++) {
		struct cs_member *m = &g.map->members[i];
		if (m->pid == 0)
			continue;
		int active = atomic_load(&m->state) == MEMBER_ACTIVE;
		printf("member %u pid=%u state=%s alive=%d weight=%u priority=%u vtime_ns=%llu "
		       "held_ns=%llu grants=%llu launches=%llu overruns=%llu charged=%llu\n",
		       i, m->pid, active ? "active" : "free", member_alive(&g, i) == 1, m->weight,
		       m->priority, ld(&m->vtime_ns), ld(&m->held_ns), ld(&m->grants),
		       ld(&m->launches), ld(&m->overruns), ld(&m->charged));
	}
	gpufile_close(&g);
	return 0;
}
