/* snapshot.h - a plain, checked copy of one per-GPU file, for readers.
 *
 * `cuslice status`, `top` and `metrics` never render the shared file
 * directly. They take a snapshot: every field they show is copied out of
 * shared memory once, bounds-checked, and the derived values are computed
 * here, in one place: each member's state, its GPU-time shares, its wait
 * percentiles, and each group's usage and cap. Taking a snapshot never
 * writes to the file and never takes a lock (liveness is asked of the
 * kernel with F_OFD_GETLK, which only tests).
 *
 * Definitions (docs/cli.md repeats them for users):
 *  - state: "holding" when the token names the slot, else "waiting" when its
 *    ring_state is WAITING, else "idle"; "dead" when the slot is ACTIVE but
 *    no process holds its lock (it died and nobody has reaped it yet).
 *  - share over the window: the growth of the member's held time between two
 *    entries of its GPU-time history (about one a second, written by its
 *    agent), the pair spanning closest to SNAP_WINDOW_NS, divided by the
 *    time between them. Members with fewer than two entries (no launch yet,
 *    or younger than a second) get their share since joining instead.
 *  - share since joining: held time (the larger of held_ns and the latest
 *    history entry, which includes a hold in progress) over the time since
 *    join_unix_ns.
 *  - wait percentiles: wait_hist bucket b counts waits < 2^b µs (the last
 *    bucket: every longer wait); a percentile is reported as the upper bound
 *    of the bucket it falls in.
 *  - groups: members with the same non-empty group name; usage is the sum
 *    of `charged` over the live members, the cap the smallest non-zero
 *    declared_cap among them (0: no cap). Dead members count in neither. A
 *    member alone is its own group: its usage and cap are its own.
 */
#ifndef CUSLICE_SNAPSHOT_H
#define CUSLICE_SNAPSHOT_H

#include <stdint.h>

#include "gpufile.h"
#include "layout.h"

#define SNAP_WINDOW_NS (UINT64_C(10) * 1000000000u)      /* "share over the last 10 s" */
#define SNAP_PATH_MAX 320

enum snap_state { SNAP_IDLE = 0, SNAP_WAITING, SNAP_HOLDING, SNAP_DEAD };

struct snap_member {
	unsigned slot;
	int alive;                    /* 0: dead, slot not reaped yet */
	enum snap_state state;
	uint32_t pid;                 /* in the member's own PID namespace */
	uint32_t host_pid;            /* in the reader's PID namespace, 0 unknown */
	char group[CS_NAME_MAX];      /* "" = alone */
	char note[CS_NOTE_MAX];
	uint32_t bad_vars;            /* variables with bad values: config_bad_var_name() */
	uint32_t weight;
	uint32_t priority;            /* enum priority_class as stored */
	int32_t ordinal;
	uint64_t join_unix_ns;
	uint64_t key;
	uint64_t declared_cap;
	uint8_t src_mem, src_weight, src_priority; /* enum config_source + 1, 0 = unknown */
	uint64_t card_total;          /* 0 = unknown */
	char pod_name[CS_POD_NAME_MAX];     /* "" = unknown */
	char pod_namespace[CS_NAMESPACE_MAX];
	uint64_t launches, held_ns, waited_ns, grants, overruns;
	uint64_t wait_hist[CS_WAIT_BUCKETS];
	uint64_t charged, peak, refusals, allocations;
	/* Derived. */
	uint64_t held_total_ns;       /* held time including a hold in progress */
	double share_window;          /* 0..1 */
	uint64_t share_window_span_ns; /* what the window really spans, 0: fallback */
	double share_life;            /* 0..1 */
	uint64_t waits;               /* sum of wait_hist */
	int has_waits;
	uint64_t wait_p50_us, wait_p99_us; /* bucket upper bounds, valid if has_waits */
	int group_index;              /* into snap_gpu.groups, -1 when alone */
	uint64_t group_used, group_cap;
};

struct snap_group {
	char name[CS_NAME_MAX];
	unsigned members;             /* live members */
	uint64_t used, cap;
};

struct snap_gpu {
	char path[SNAP_PATH_MAX];
	char uuid[CS_UUID_MAX];
	uint64_t created_unix_ns;
	uint64_t taken_mono_ns, taken_unix_ns;
	uint32_t slice_ms;
	int holder;                   /* slot, -1 when the token is free */
	int holder_invalid;           /* the token named a slot out of range */
	uint64_t generation, grant_mono_ns;
	uint64_t handoffs, overruns, revocations;
	uint64_t handoff_hist[CS_WAIT_BUCKETS];
	double high_share;            /* high-priority time in the last window, 0..1 */
	unsigned nmembers, nalive, ndead;
	struct snap_member members[CS_MEMBERS_MAX]; /* ACTIVE slots, by slot */
	unsigned ngroups;
	struct snap_group groups[CS_MEMBERS_MAX];   /* named groups, by name */
	uint64_t card_total;          /* largest card_total of a live member, 0 unknown */
	uint64_t caps_sum;            /* caps in force: each group's once, each lone
	                               * live member's own */
	unsigned nordinals;
	int32_t ordinals[CS_MEMBERS_MAX]; /* distinct ordinals of live members, sorted */
};

/* Fills *s from the mapped file g (opened with gpufile_open_readonly or
 * gpufile_open) as of the given clocks (CLOCK_MONOTONIC and CLOCK_REALTIME
 * nanoseconds). Slots that change owner while being copied are read again,
 * and skipped after three tries. A read-only opening's copy is read again
 * first (gpufile_refresh). Returns 0, -EINVAL when g is not mapped, or
 * -EPROTO when the file shrank or stopped being a cuslice file since it was
 * opened (then *s is zeroed). Never writes to the file. */
int snapshot_take_at(const struct gpufile *g, uint64_t now_mono_ns, uint64_t now_unix_ns,
		     struct snap_gpu *s);

/* snapshot_take_at() as of now. */
int snapshot_take(const struct gpufile *g, struct snap_gpu *s);

/* The member of s in slot, or NULL when that slot was not ACTIVE. */
const struct snap_member *snapshot_member(const struct snap_gpu *s, unsigned slot);

/* The q-quantile (0 < q <= 1) of a wait histogram, as the upper bound in µs
 * of the bucket it falls in (bucket b: waits < 2^b µs), or UINT64_MAX when
 * it falls in the last bucket, which has no upper bound (ring.c counts every
 * wait of 2^(CS_WAIT_BUCKETS-2) µs or more there). Returns 0, or -ENODATA
 * when the histogram is empty (*upper_us unchanged). */
int snapshot_quantile_us(const uint64_t hist[CS_WAIT_BUCKETS], double q, uint64_t *upper_us);

/* Share of GPU time from a member's history ring (CS_HIST entries of
 * (monotonic time, held ns); pos is the next entry to be written, entries
 * with time 0 are unused). Picks the newest entry and the older entry whose
 * distance from it is closest to window_ns, and returns their held-time
 * growth over their time difference, clamped to 0..1, in *share and that
 * difference in *span_ns. When the newest entry is older than now_ns -
 * window_ns the member has had no GPU time in the window: *share = 0. Returns
 * 0, or -ENODATA with fewer than two entries (outputs unchanged). */
int snapshot_window_share(const uint64_t t_ns[CS_HIST], const uint64_t held_ns[CS_HIST],
			  unsigned pos, uint64_t now_ns, uint64_t window_ns, double *share,
			  uint64_t *span_ns);

/* Events per second between two readings of a counter taken dt_ns apart;
 * 0 when dt_ns is 0 or the counter went back (the file was recreated). */
double snapshot_rate(uint64_t before, uint64_t after, uint64_t dt_ns);

/* "idle", "waiting", "holding", "dead". */
const char *snapshot_state_name(enum snap_state st);

/* "low", "normal", "high", or "invalid" for a value out of range. */
const char *snapshot_priority_name(uint32_t priority);

/* The per-GPU files of a folder: names "gpu-*.shm", sorted. */
struct snap_files {
	unsigned n;
	char (*paths)[SNAP_PATH_MAX];
};

/* Lists dir. Returns 0 (possibly n = 0), or the negative errno of opening
 * the folder (-ENOENT when it does not exist) or -ENOMEM; on error *out is
 * empty. Free with snapshot_files_free(). */
int snapshot_list(const char *dir, struct snap_files *out);
void snapshot_files_free(struct snap_files *f);

#endif
