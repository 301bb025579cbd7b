/* ledger.h - memory accounting: what each member holds, what its group may
 * hold, and which allocation holds what (see the DESIGN comment in ledger.c).
 *
 * Three parts, all in bytes and slots, none of them CUDA-aware:
 *  - the shared ledger: the `charged` word of each member slot of a per-GPU
 *    file; a group's usage is the sum over its live members, never stored;
 *  - the local ledger: the same rules for one process alone, used when the
 *    shared file cannot be used (the cap is still enforced, per process);
 *  - the charge map: which allocation (pointer, handle, array) was charged
 *    how much, so that a free gives back exactly that.
 * Every function returns 0 or a negative errno; results go to out-params.
 */
#ifndef CUSLICE_LEDGER_H
#define CUSLICE_LEDGER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "layout.h"

/* Largest single charge; larger requests are refused even without a cap
 * (no device has that much memory, and sums must not overflow). */
#define LEDGER_BYTES_MAX (UINT64_C(1) << 56)

/* The cap a member declares when its CUSLICE_MEM_LIMIT could not be read:
 * one byte, so that its whole group refuses every allocation (a cap is never
 * lifted silently) while the smallest-cap rule stays the only rule. */
#define LEDGER_CAP_REFUSE_ALL UINT64_C(1)

/* How often a reservation that lost a race with a concurrent one is retried
 * before it is refused. */
#define LEDGER_RETRIES 64

/* Called when a reservation does not fit: returns dead members' charges to
 * the ledger and returns how many members were reaped. */
typedef int ledger_reaper(void *arg);

/* ---- shared ledger: members of one per-GPU file ---- */

/* Reserves bytes for the member in slot, within its group's cap. On success
 * returns 0, adds bytes to the slot's charge and sets *group_used (may be
 * NULL) to the group's usage including them. When they do not fit, even
 * after calling reap (may be NULL) once, returns -ENOMEM: nothing is charged,
 * the slot's refusals grow by one and *group_used is the usage seen last.
 * -EINVAL for a bad slot or a NULL file (nothing changed). */
int ledger_reserve(struct cs_file *f, unsigned slot, uint64_t bytes, ledger_reaper *reap,
		   void *arg, uint64_t *group_used);

/* Gives back bytes reserved earlier by slot (an allocation failed or was
 * freed). Never takes the charge below zero. */
void ledger_unreserve(struct cs_file *f, unsigned slot, uint64_t bytes);

/* Charges bytes whether or not they fit: memory the driver holds already
 * (a context's own memory). Returns 0, or -ENOMEM when the group is now over
 * its cap (the bytes stay charged: allocations are refused until the group
 * is back under it). -EINVAL for a bad slot (nothing changed). */
int ledger_charge(struct cs_file *f, unsigned slot, uint64_t bytes);

/* The usage and cap of slot's group: the sum of `charged` and the smallest
 * non-zero declared_cap over the group's ACTIVE members (*cap = 0: no cap).
 * Returns 0, or -EINVAL for a bad slot (outputs unchanged). */
int ledger_group_usage(const struct cs_file *f, unsigned slot, uint64_t *used, uint64_t *cap);

/* The same for a process that is not a member of f: the group named group
 * ("" = the process alone, which then uses nothing here) as seen by a
 * process declaring declared_cap. Returns 0. */
int ledger_group_usage_by_name(const struct cs_file *f, const char *group,
			       uint64_t declared_cap, uint64_t *used, uint64_t *cap);

/* Explains why `want` bytes do not fit for the member in slot, in one
 * sentence for a log line: its group, what the group holds of its cap, and
 * the member of the group (pid as the member sees itself, slot, group) that
 * holds the most. Returns 0, or -EINVAL for a bad slot, a NULL file or an
 * empty buffer (out unchanged). */
int ledger_explain(const struct cs_file *f, unsigned slot, uint64_t want, char *out, size_t len);

/* Returns every byte charged to the member in slot (it died or left). */
void ledger_forget(struct cs_file *f, unsigned slot);

/* ---- local ledger: one process alone, no shared file ---- */

struct ledger_local {
	_Atomic uint64_t charged;
	_Atomic uint64_t peak;
	_Atomic uint64_t refusals;
	_Atomic uint64_t allocations;
	uint64_t cap;                 /* 0 = no cap; set before first use */
};

/* As ledger_reserve, for the process alone: exact, never retries. */
int ledger_local_reserve(struct ledger_local *l, uint64_t bytes, uint64_t *used);
void ledger_local_unreserve(struct ledger_local *l, uint64_t bytes);
int ledger_local_charge(struct ledger_local *l, uint64_t bytes);
void ledger_local_usage(const struct ledger_local *l, uint64_t *used, uint64_t *cap);

/* ---- charge map: allocation -> bytes charged ---- */

/* Kinds keep keys of different namespaces apart: a device pointer, a VMM
 * handle and an array handle may have the same numeric value. */
enum charge_kind { CHARGE_PTR = 1, CHARGE_HANDLE, CHARGE_ARRAY, CHARGE_MIPMAP };

struct charge_entry; /* ledger.c */

struct ledger_map {
	pthread_mutex_t lock;
	struct charge_entry *head;
	uint64_t entries;
};

#define LEDGER_MAP_INIT { PTHREAD_MUTEX_INITIALIZER, NULL, 0 }

/* Records that (kind, key) holds bytes charged on device dev. A record of
 * the same key that is still there (its free went by another way, so the
 * driver handed the address out again) is replaced, and its bytes and
 * device are returned in *old_bytes and *old_dev for the caller to give
 * back (*old_bytes = 0 when there was none). Returns 0, or -ENOMEM when no
 * memory was left for the record (nothing recorded: the charge then stays
 * until the process leaves, which can only under-use the cap). */
int ledger_map_put(struct ledger_map *m, enum charge_kind kind, uint64_t key, uint64_t bytes,
		   int dev, uint64_t *old_bytes, int *old_dev);

/* As ledger_map_put, recording also an owner (a context handle) whose end
 * frees the allocation: ledger_map_take_owner() gives such records back
 * together. owner 0 = none. */
int ledger_map_put_owned(struct ledger_map *m, enum charge_kind kind, uint64_t key,
			 uint64_t bytes, int dev, uint64_t owner, uint64_t *old_bytes, int *old_dev);

/* Removes every record of owner (its context was destroyed or reset, and
 * the driver freed what was allocated in it) and adds their bytes into
 * bytes_by_dev[dev] (records of a device >= ndev are dropped uncounted).
 * Returns how many records were removed; 0 for owner 0. */
uint64_t ledger_map_take_owner(struct ledger_map *m, uint64_t owner, uint64_t *bytes_by_dev,
			       unsigned ndev);

/* Removes the record of (kind, key) and returns its bytes and device.
 * Returns 0, or -ENOENT when the key was never charged (outputs unchanged). */
int ledger_map_take(struct ledger_map *m, enum charge_kind kind, uint64_t key,
		    uint64_t *bytes, int *dev);

/* Number of records. */
uint64_t ledger_map_count(struct ledger_map *m);

/* Forgets every record without freeing it: for a forked child, where
 * another thread may have been changing the map at the fork. */
void ledger_map_abandon(struct ledger_map *m);

/* Frees every record (tests, and a process that is leaving). */
void ledger_map_clear(struct ledger_map *m);

#endif
