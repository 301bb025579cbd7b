/* layout.h - the per-GPU shared file: one ring and one memory ledger.
 *
 * DESIGN
 * Every process that uses a GPU through cuslice maps one file per physical
 * GPU, $CUSLICE_DIR/gpu-<UUID>.shm (keyed by UUID because CUDA_VISIBLE_DEVICES
 * reorders ordinals). Pods share it through a hostPath, so it is read by
 * processes in other PID namespaces and, possibly, by a crashed writer's
 * leftovers: nothing here may be trusted blindly. Every field is fixed-width,
 * every index read from the file is bounds-checked before use, and the file
 * opens with magic, ABI version and sizes that gpufile_open() checks before
 * anything else is read.
 *
 * Versions. The ABI has a major version (header.abi, CS_ABI_VERSION) and a
 * minor one (CS_ABI_MINOR). Libraries of one major share a file whatever
 * their minors; a library refuses a file of another major, visibly (one
 * line on stderr even without CUSLICE_LOG, a `cuslice status` error, the
 * cuslice_files_unreadable metric). Within a major the geometry is fixed:
 * the header and the ring each own a 4 KiB page, every member slot is
 * exactly CS_MEMBER_STRIDE bytes, so the file's size never changes. A minor
 * version only appends fields in the free room of a section:
 *   - a member field: append it at the end of struct cs_member's fields,
 *     bump CS_ABI_MINOR, and read it in another member's slot only when
 *     cs_member_has(m, minor it came with): member_join() zeroes the whole
 *     slot, so an older writer leaves the field 0, and m->abi_minor says
 *     which fields the slot's owner knows;
 *   - a ring field: append it to struct cs_ring; it starts at 0 (the file
 *     is created zeroed) and older members never update it, so its meaning
 *     must hold with both;
 *     A member field appended here is identity, written once at joining:
 *     member_repair() writes the join-time value back whenever it differs
 *     (a field the owner must change later needs its own handling there);
 *   - a header field: append it to struct cs_header, written by the creator;
 *     trust it only when header.abi_minor is at least its minor.
 * Changing, moving or removing a field, or changing what one means, needs a
 * new major (CUSLICE_SHM_ABI in include/cuslice.h) and minor 0.
 * The magic and the major stay at offsets 0 and 8 in every version, so any
 * version can tell another's file.
 *
 *   offset 0     struct cs_header   identity of the file (written once, by
 *                                   its creator, before the file is linked
 *                                   into place: readers never see it half
 *                                   written)
 *   offset 4096  struct cs_ring     the token and the ring's counters
 *   offset 8192  struct cs_member[CS_MEMBERS_MAX]
 *                                   one slot per member process,
 *                                   CS_MEMBER_STRIDE (2 KiB) each,
 *                                   cache-line-aligned sections
 *
 * Liveness. A member holds an open-file-description (OFD) write lock on one
 * byte per slot, at CS_LOCK_BASE + 2*slot, for as long as it lives; the
 * kernel drops it when the process dies, SIGKILL included, whatever PID
 * namespace it was in. member_alive() asks the kernel (F_OFD_GETLK); a slot
 * whose state is ACTIVE but whose lock is free belongs to a dead process and
 * is reaped by whoever takes the lock first. A second, classic POSIX lock at
 * CS_LOCK_BASE + 2*slot + 1 exists only so that F_GETLK can tell a reader
 * the member's pid as seen from the reader's own PID namespace (the host
 * pid, for `cuslice status` run on the node).
 *
 * Ownership of fields: the identity section of a slot is written by its
 * owner while it holds the slot lock and before it publishes state = ACTIVE
 * (release); readers load state (acquire) first. The ring and ledger
 * sections are described in ring.c and ledger.c.
 */
#ifndef CUSLICE_LAYOUT_H
#define CUSLICE_LAYOUT_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "cuslice.h"

#define CS_MAGIC UINT64_C(0x31454349534c5543) /* "CUSLICE1" little-endian */
/* CUSLICE_TEST_ABI_MAJOR/MINOR exist only for the tests' second build of
 * the library (tests/integration/abi), which plays another version. */
#ifdef CUSLICE_TEST_ABI_MAJOR
#define CS_ABI_VERSION ((uint32_t)CUSLICE_TEST_ABI_MAJOR)
#else
#define CS_ABI_VERSION ((uint32_t)CUSLICE_SHM_ABI)
#endif
#ifdef CUSLICE_TEST_ABI_MINOR
#define CS_ABI_MINOR ((uint32_t)CUSLICE_TEST_ABI_MINOR)
#else
#define CS_ABI_MINOR 0u /* bump when appending a field, see above */
#endif
#define CS_MEMBER_STRIDE 2048u
#define CS_SECTION 4096u /* the header's and the ring's room */
#define CS_MEMBERS_MAX 64u
#define CS_LOCK_BASE (UINT64_C(1) << 40)
#define CS_NAME_MAX 64
#define CS_NOTE_MAX 128
#define CS_UUID_MAX 64
#define CS_NAMESPACE_MAX 64  /* a Kubernetes namespace: 63 + NUL */
#define CS_POD_NAME_MAX 256  /* a Kubernetes pod name: 253 + NUL */
#define CS_HIST 12        /* entries of the per-member GPU-time history */
#define CS_WAIT_BUCKETS 24 /* wait-time histogram: bucket b counts waits < 2^b µs */

enum cs_member_state { MEMBER_FREE = 0, MEMBER_ACTIVE = 1 };
enum cs_ring_state { RING_IDLE = 0, RING_WAITING = 1, RING_HOLDING = 2 };

struct cs_header {
	uint64_t magic;
	uint32_t abi;
	uint32_t header_size;     /* sizeof(struct cs_header) */
	uint64_t file_size;       /* sizeof(struct cs_file) */
	uint32_t members_max;     /* CS_MEMBERS_MAX */
	uint32_t member_size;     /* sizeof(struct cs_member) */
	uint32_t ring_offset;
	uint32_t members_offset;
	char uuid[CS_UUID_MAX];   /* the GPU this file is for */
	uint64_t created_unix_ns;
	uint32_t abi_minor;       /* the creator's CS_ABI_MINOR */
	uint32_t reserved;
	/* Fields of later minors go here. */
};

/* The token word: generation << 16 | holder slot (CS_NO_HOLDER when free). */
#define CS_NO_HOLDER 0xffffu
#define TOKEN_HOLDER(t) ((unsigned)((t) & 0xffffu))
#define TOKEN_GEN(t) ((t) >> 16)
#define TOKEN_MAKE(gen, holder) (((uint64_t)(gen) << 16) | ((holder) & 0xffffu))

/* The window over which high members' holding is counted (high_window_*):
 * the ring limits it, readers show it as a share. */
#define CS_HIGH_WINDOW_NS (UINT64_C(1000000000))

struct cs_ring {
	alignas(64) _Atomic uint64_t token;
	_Atomic uint64_t grant_ns;        /* when the current holder got the token */
	_Atomic uint32_t lender;          /* slot + 1 of a holder that lent the token
	                                   * to the current holder (a loan), else 0 */
	uint32_t slice_ms;                /* slice of the member that created the file */
	alignas(64) _Atomic uint64_t vclock_ns;  /* the ring's virtual time, see ring.c */
	_Atomic uint64_t handoffs;
	_Atomic uint64_t overruns;        /* drains that hit the drain timeout */
	_Atomic uint64_t revocations;     /* tokens taken from dead or stuck holders */
	_Atomic uint64_t high_window_start_ns;
	_Atomic uint64_t high_window_used_ns;
	_Atomic uint64_t handoff_hist[CS_WAIT_BUCKETS]; /* drain end -> next first launch */
	/* Fields of later minors go here (they start at 0, older members never
	 * update them). */
	_Atomic uint64_t high_active_ns;  /* a high member was last granted the
	                                   * token (0: never, or only members
	                                   * older than this field were) */
	_Atomic uint32_t high_launches_x16; /* high members' launches between
	                                     * synchronizes, a moving average
	                                     * times 16 */
	uint32_t reserved_ring0;
};

struct cs_member {
	union {
	struct {
	/* Identity: owner writes before publishing state. */
	alignas(64) _Atomic uint32_t state;   /* enum cs_member_state */
	uint32_t pid;                 /* in the owner's PID namespace */
	uint64_t join_unix_ns;
	uint64_t key;                 /* random per (process, GPU) membership */
	uint32_t weight;
	uint32_t priority;            /* enum priority_class */
	int32_t ordinal;              /* CUDA ordinal in the owner's view */
	uint32_t bad_vars;            /* CUSLICE_* variables that held bad values:
	                               * config_bad_var_name() (was an unused
	                               * flags word, always 0) */
	uint32_t abi_minor;           /* the owner's CS_ABI_MINOR, see cs_member_has */
	uint32_t reserved3;
	uint64_t declared_cap;        /* CUSLICE_MEM_LIMIT for this GPU, 0 = none */
	uint64_t group_hash;          /* 0 = alone */
	char group[CS_NAME_MAX];
	char note[CS_NOTE_MAX];       /* last problem the member reported */

	/* Ring, hot: written by the owner and by members handing it the token. */
	alignas(64) _Atomic uint32_t grant_seq;  /* futex word: bumped on each grant */
	_Atomic uint32_t agent_seq;   /* futex word: wakes the owner's agent */
	_Atomic uint32_t ring_state;  /* enum cs_ring_state */
	uint32_t reserved0;
	_Atomic uint64_t vtime_ns;    /* GPU time held, divided by weight */
	_Atomic uint64_t wait_since_ns;

	/* Ring statistics: written by the owner only. */
	alignas(64) _Atomic uint64_t launches;
	_Atomic uint64_t held_ns;     /* token held, drain included (includes the
	                               * current hold, published by the agent) */
	_Atomic uint64_t waited_ns;
	_Atomic uint64_t grants;
	_Atomic uint64_t overruns;
	_Atomic uint64_t wait_hist[CS_WAIT_BUCKETS];

	/* Ledger: charged is changed by the owner and zeroed by a reaper. */
	alignas(64) _Atomic uint64_t charged;  /* bytes reserved or held now */
	_Atomic uint64_t peak;
	_Atomic uint64_t refusals;    /* allocations refused at the cap */
	_Atomic uint64_t allocations;

	/* GPU-time history for "share over the last 10 s": the owner's agent
	 * appends (time, held_ns) about once a second, ring buffer. */
	alignas(64) _Atomic uint32_t hist_pos;   /* next entry to write */
	uint32_t reserved2;
	_Atomic uint64_t hist_t_ns[CS_HIST];
	_Atomic uint64_t hist_held_ns[CS_HIST];

	/* Where the member's settings came from, and its pod (ABI 2.0; see
	 * policy.h): identity, written by the owner before it publishes
	 * state. A source is 0 when not recorded, else enum config_source + 1;
	 * every text is NUL-terminated within its array, "" when unknown. */
	uint8_t src_mem;              /* CUSLICE_MEM_LIMIT */
	uint8_t src_weight;           /* CUSLICE_WEIGHT */
	uint8_t src_priority;         /* CUSLICE_PRIORITY */
	uint8_t reserved4[5];
	uint64_t card_total;          /* the card's memory as the owner's driver
	                               * reports it, 0 = unknown */
	char pod_namespace[CS_NAMESPACE_MAX]; /* CUSLICE_POD_NAMESPACE */
	char pod_name[CS_POD_NAME_MAX];       /* CUSLICE_POD_NAME */

	/* Fields of later minors go here: read them in another member's slot
	 * only when cs_member_has(m, minor). */
	};
	char slot_bytes[CS_MEMBER_STRIDE]; /* fixes the slot's size */
	};
};

struct cs_file {
	struct cs_header header;
	alignas(4096) struct cs_ring ring;
	alignas(4096) struct cs_member members[CS_MEMBERS_MAX];
};

_Static_assert(sizeof(struct cs_member) == CS_MEMBER_STRIDE,
	       "member fields outgrew their slot: that needs a new ABI major");
_Static_assert(sizeof(struct cs_header) <= CS_SECTION, "header outgrew its page");
_Static_assert(sizeof(struct cs_ring) <= CS_SECTION, "ring outgrew its page");
_Static_assert(offsetof(struct cs_file, ring) == CS_SECTION, "ring moved");
_Static_assert(offsetof(struct cs_file, members) == 2 * CS_SECTION, "members moved");

/* Nonzero when the owner of slot m knows the fields added in ABI minor
 * `minor` (older owners leave them 0). */
static inline int cs_member_has(const struct cs_member *m, uint32_t minor)
{
	return m->abi_minor >= minor;
}

#endif
