/* reap.h - what a member leaves behind: its memory charges and the token.
 *
 * A member that dies (SIGKILL included) or leaves still counts in its
 * slot's ledger word and may hold its ring's token. These functions give
 * both back: through member.c's reaping for a dead member (whoever needs
 * the slot or the memory first, and every ring agent about every 200 ms),
 * and directly for this process's own slot when it leaves.
 */
#ifndef CUSLICE_REAP_H
#define CUSLICE_REAP_H

#include "gpufile.h"

/* A member_cleaner (member.h): forgets slot's charges and takes it out of
 * the ring. arg is unused. */
void reap_clean(struct gpufile *g, unsigned slot, void *arg);

/* Reaps every dead member of g's file. Returns how many were reaped. */
int reap_dead(struct gpufile *g);

/* Returns this process's own slot's resources and frees the slot. */
void reap_leave(struct gpufile *g, unsigned slot);

#endif
