/* timeline.h - CUSLICE_TIMELINE: the ring's events as Trace Event JSON.
 *
 * When CUSLICE_TIMELINE=<path> is set, every member process writes what its
 * ring members did (waits, grants, holds, drains, loans given and taken,
 * revocations) to one file, in the JSON array form of the Trace Event format
 * that Perfetto (ui.perfetto.dev) and chrome://tracing open. "%p" in the path
 * becomes the pid; a path without "%p" gets ".<pid>" appended, so processes
 * never share a file. tools/cuslice-timeline renders a PNG of who held each
 * GPU when.
 *
 * Cost. Off: the ring holds a NULL pointer and tests it on its slow paths
 * and in its agent; the launch fast path never looks. On: an event is a
 * copy into an in-memory buffer under a mutex, taken only on the ring's slow
 * path and by the agent (never by a launch that holds the token); the agent
 * writes the buffer to the file about every 200 ms and at exit. A full
 * buffer drops events and counts them (the count is written to the file).
 *
 * Failure: timeline_open() returns NULL when the file cannot be created
 * (the caller logs once and runs without a timeline); write errors stop the
 * recording silently (the library never fails the workload over it).
 */
#ifndef CUSLICE_TIMELINE_H
#define CUSLICE_TIMELINE_H

#include <stdint.h>

enum tl_kind {
	TL_WAIT,      /* span: the member waited for the token (a = wait ns) */
	TL_HOLD,      /* span: the member held the token (a = charged ns, b = vtime ns after) */
	TL_DRAIN,     /* span: the hand-off drain (a = 1 when it timed out) */
	TL_BACKFILL,  /* span: a hold on loan from an idle holder (a = charged ns, b = lender slot) */
	TL_LENT,      /* span: the member lent its token to another (b = borrower slot) */
	TL_REVOKED,   /* instant: the token was taken from the member (a = charged ns of
		       * the hold it ended, b = the slot holding it now, 0xffff free) */
	TL_KIND_COUNT
};

struct timeline;

/* Opens (once per process; later calls return the same recorder) the file
 * named by pattern. Returns NULL when pattern is NULL or empty, or when the
 * file cannot be created (errno says why). */
struct timeline *timeline_open(const char *pattern);

/* Describes one lane: this process's membership of one GPU's ring. */
void timeline_member(struct timeline *t, int ordinal, unsigned slot, uint32_t weight,
		     int priority, const char *uuid);

/* Records an event on the lane of GPU `ordinal`. t0..t1 are CLOCK_MONOTONIC
 * nanoseconds (t1 = t0 for an instant). No syscall; never blocks for long. */
void timeline_add(struct timeline *t, int ordinal, enum tl_kind kind, uint64_t t0, uint64_t t1,
		  uint64_t a, uint64_t b);

/* Writes the buffered events to the file (the agent thread calls it). */
void timeline_flush(struct timeline *t);

/* One member is done with the recorder; the last one closes the file with
 * a final flush and the closing bracket. */
void timeline_release(struct timeline *t);

#endif
