/* fastpath.c - what the ring's gate adds to a launch, in nanoseconds.
 *
 * A member holds the token of a private ring (no other member), so every
 * pass through ring_enter_fast()/ring_leave() takes the fast path, as every
 * launch of a process holding its slice does. Timed against the same loop
 * without the gate, over many iterations, median of 15 rounds.
 * Prints: RESULT fastpath gate_ns=<median> loop_ns=<median> rounds=15
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "gpufile.h"
#include "member.h"
#include "ring.h"

enum { ROUNDS = 15, ITERS = 2000000 };

static volatile unsigned sink;

static int no_drain(void *arg)
{
	(void)arg;
	return 0;
}

static double round_ns(struct ring_member *m, int gated)
{
	uint64_t t0 = ring_now_ns();
	for (unsigned i = 0; i < ITERS; i++) {
		if (gated && !ring_enter_fast(m))
			ring_enter_slow(m);
		sink = i; /* stands in for the launch */
		if (gated)
			ring_leave(m);
	}
	return (double)(ring_now_ns() - t0) / ITERS;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(void)
{
	char dir[] = "/tmp/cuslice-fastpath-XXXXXX", why[200];
	if (mkdtemp(dir) == NULL)
		return 1;
	struct gpufile g;
	unsigned slot;
	struct member_info info = { .weight = 1, .priority = PRIORITY_NORMAL };
	if (gpufile_open(&g, dir, "GPU-fastpath", 20, why, sizeof(why)) != 0 ||
	    member_join(&g, &info, NULL, NULL, &slot) != 0) {
		fprintf(stderr, "fastpath: %s\n", why);
		return 1;
	}
	struct ring_config cfg = { .slice_ns = 20000000, .drain_timeout_ns = 1000000000,
				   .hold_timeout_ns = 1000000000, .weight = 1,
				   .priority = PRIORITY_NORMAL, .high_max_share = 50 };
	struct ring_ops ops = { .drain = no_drain };
	static struct ring_member m;
	if (ring_member_start(&m, &g, slot, &cfg, &ops) != 0)
		return 1;
	ring_enter_slow(&m); /* take the token once */
	ring_leave(&m);
	double gate[ROUNDS], loop[ROUNDS];
	for (int r = 0; r < ROUNDS; r++) {
		loop[r] = round_ns(&m, 0);
		gate[r] = round_ns(&m, 1);
	}
	qsort(gate, ROUNDS, sizeof(double), cmp);
	qsort(loop, ROUNDS, sizeof(double), cmp);
	printf("RESULT fastpath gate_ns=%.2f loop_ns=%.2f added_ns=%.2f rounds=%d iters=%d\n",
	       gate[ROUNDS / 2], loop[ROUNDS / 2], gate[ROUNDS / 2] - loop[ROUNDS / 2], ROUNDS,
	       ITERS);
	ring_member_stop(&m);
	member_leave(&g, slot);
	gpufile_close(&g);
	char path[128];
	snprintf(path, sizeof(path), "%s/gpu-GPU-fastpath.shm", dir);
	unlink(path);
	rmdir(dir);
	return 0;
}
