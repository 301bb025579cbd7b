/* simstate.h - the simulated memory of one physical device, shared by every
 * process that uses the simulated driver (see the DESIGN comment in
 * simstate.c for the file layout and the concurrency rules).
 *
 * All functions return 0 or a negative errno. A handle is process-local and
 * not thread-safe: callers serialise use of one handle (libcuda holds its
 * process-wide mutex).
 */
#ifndef SIMCUDA_SIMSTATE_H
#define SIMCUDA_SIMSTATE_H

#include <stdbool.h>
#include <stdint.h>

struct sim_state;

struct sim_state_usage {
    uint64_t used;   /* bytes held now by live (or not yet reclaimed) processes */
    uint64_t peak;   /* highest used since creation or the last reset */
    uint64_t total;  /* the total last announced by a process (0 if none yet) */
};

/* Maps <dir>/device<phys>.state, creating dir and its parents (0700) and the
 * file (zeroed) when missing. Fails with -EPROTO when the file holds another layout.
 * On error *out is unchanged and nothing stays open. */
int sim_state_open(const char *dir, int phys, struct sim_state **out);

/* Unmaps; does not release this process's bytes (see sim_state_leave). */
void sim_state_close(struct sim_state *st);

/* Records the total this process works with, for readers such as simcuda-stat. */
void sim_state_announce_total(struct sim_state *st, uint64_t total);

/* Returns the bytes of dead processes to the pool; with own_pid, also those
 * of a slot that carries this process's pid (left by an earlier process
 * with the same pid). Call with own_pid only before this process charged. */
void sim_state_reclaim(struct sim_state *st, bool own_pid);

/* Charges bytes to this process if used + bytes <= total, reclaiming dead
 * processes once before giving up. -ENOMEM: does not fit; -ENOSPC: no free
 * process slot. On error nothing is charged. */
int sim_state_charge(struct sim_state *st, uint64_t bytes, uint64_t total);

/* Returns bytes charged earlier by this process. */
void sim_state_uncharge(struct sim_state *st, uint64_t bytes);

/* Returns everything this process holds and frees its slot (process exit). */
void sim_state_leave(struct sim_state *st);

void sim_state_read(const struct sim_state *st, struct sim_state_usage *usage);

/* Sets peak to the current used. */
void sim_state_reset_peak(struct sim_state *st);

#endif /* SIMCUDA_SIMSTATE_H */
