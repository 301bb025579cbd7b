/* member.h - member slots of the per-GPU file, and who is still alive.
 *
 * A process becomes a member of a GPU's file by taking the kernel lock of a
 * free slot (see layout.h, "Liveness"); it stays a member until it leaves or
 * dies. Slots of dead members are reaped by whoever needs them first.
 */
#ifndef CUSLICE_MEMBER_H
#define CUSLICE_MEMBER_H

#include <stdint.h>
#include <sys/types.h>

#include "gpufile.h"

struct member_info {
	uint32_t weight;
	uint32_t priority;
	int32_t ordinal;
	uint64_t declared_cap;
	const char *group;      /* "" or NULL = alone */
	const char *note;       /* the last problem to publish, or NULL */
	uint32_t bad_vars;      /* config.h: the variables that held bad values */
	uint64_t card_total;    /* 0 = unknown */
	uint8_t src_mem, src_weight, src_priority; /* enum config_source + 1, 0 = unknown */
	const char *pod_name;   /* NULL or "" = unknown */
	const char *pod_namespace;
};

/* Called with the slot lock held to return a dead member's resources
 * (memory charges, the token) before the slot is freed. */
typedef void member_cleaner(struct gpufile *g, unsigned slot, void *arg);

/* Joins: takes a free slot (reaping a dead member's slot through clean) and
 * publishes info in it (written before the slot becomes ACTIVE, so a
 * reader that sees it ACTIVE sees all of it). Returns 0 and the slot in *slot, -ENOSPC when every
 * slot is held by a live member, or another negative errno. */
int member_join(struct gpufile *g, const struct member_info *info, member_cleaner *clean,
		void *arg, unsigned *slot);

/* Puts back this process's slot (slot, joined through g) after someone
 * else overwrote it (a file truncated and grown back by mapguard.c, or a
 * hostile write): when the slot is no longer ACTIVE or its identity as
 * written at joining (every field before the note, and every field after
 * the GPU-time history) has changed, that identity is written again and the
 * slot is published ACTIVE. Counters, charges and the note are not restored
 * (they are lost with the overwrite). Returns 1 when it repaired, 0
 * otherwise. Cheap when nothing is wrong (a load and two short compares);
 * the member's agent calls it every 200 ms. */
int member_repair(struct gpufile *g, unsigned slot);

/* What the member's agent runs every 200 ms: member_repair(), and, once,
 * the one stderr line of log_unisolated() when mapguard.c had to replace the
 * mapping with private memory (the file could not be grown back). */
void member_watch(struct gpufile *g, unsigned slot);

/* Leaves: the caller has returned the slot's resources; frees the slot and
 * drops its locks. */
void member_leave(struct gpufile *g, unsigned slot);

/* Returns 1 when the slot's owner is alive, 0 when no process holds the
 * slot lock, or a negative errno. One fcntl call. */
int member_alive(const struct gpufile *g, unsigned slot);

/* Reaps the slot if its owner is dead: cleans it and frees it. Returns 1 if
 * it was reaped, 0 if the owner is alive or the slot is already free. */
int member_reap(struct gpufile *g, unsigned slot, member_cleaner *clean, void *arg);

/* Reaps every dead member's slot. Returns how many were reaped. */
int member_reap_all(struct gpufile *g, member_cleaner *clean, void *arg);

/* The owner's pid as seen from the caller's PID namespace, or 0 if unknown. */
pid_t member_local_pid(const struct gpufile *g, unsigned slot);

/* FNV-1a hash of a group name, never 0 for a non-empty name; 0 for "". */
uint64_t member_group_hash(const char *group);

/* Nonzero when two ACTIVE slots belong to the same memory group. A member
 * alone (group "") is only in a group with itself. */
int member_same_group(const struct cs_member *a, const struct cs_member *b);

#endif
