/* simstate.c - the simulated memory of one physical device, shared across
 * processes through a small mmap'd file.
 *
 * DESIGN
 *
 * Layout. <SIMCUDA_DIR>/device<N>.state is one struct sim_shared: a 64-byte
 * header (magic, ABI version, size, total, used, peak) and SIM_STATE_SLOTS
 * per-process slots of one cache line each (pid, bytes). A new file is all
 * zeros, which is a valid empty state; the first opener then stamps magic
 * with a compare-and-swap from 0, after writing abi and size (the same values
 * in every process, so a second writer is harmless). A file with another
 * magic, ABI or size is refused (-EPROTO), never reinterpreted.
 *
 * Who writes what. `used` and `peak` are changed only with atomic
 * read-modify-write operations by any process. A slot's pid goes
 *   0 (free) --CAS by the claimer--> pid (owned) --store by the owner at exit,
 *   or CAS to -1 by one reclaimer--> -1 (being reclaimed) --store--> 0.
 * Only the owner adds to its slot's bytes; the owner or the single reclaimer
 * that won the CAS takes them away.
 *
 * Charging. A charge first raises `used` with a CAS loop that refuses to pass
 * `total` (the check and the update are one atomic step, so two processes can
 * never both take the last bytes), then raises `peak` to at least the new
 * value, then adds the bytes to the owner's slot. `used` therefore always
 * covers the sum of the slots; a process that dies between the two steps
 * leaks at most that one charge.
 *
 * Dead writers. A slot whose pid no longer exists (kill(pid, 0) fails with
 * ESRCH) or is a zombie (/proc/<pid>/stat says Z or X) is reclaimed: its
 * bytes are subtracted from `used` and the slot is freed. Reclaiming happens
 * when a charge would otherwise fail, when a slot is needed and none is
 * free, and at cuInit, which also reclaims a slot carrying the caller's own
 * pid (a dead earlier process with a reused pid). Subtractions saturate at 0.
 *
 * Readers (NVML, simcuda-stat) load `used`, `peak` and `total` atomically and
 * may see them a moment apart; they assume nothing else.
 */
#include "simstate.h"
#include "simenv.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define SIM_STATE_MAGIC 0x53494d4355444131ull /* "SIMCUDA1" */
#define SIM_STATE_ABI 1u
#define SIM_STATE_SLOTS 256
#define SIM_PID_RECLAIMING (-1)

struct sim_slot {
    _Atomic int32_t pid;
    uint32_t unused;
    _Atomic uint64_t bytes;
    uint8_t pad[48];
};

struct sim_shared {
    _Atomic uint64_t magic;
    uint32_t abi;
    uint32_t size;
    _Atomic uint64_t total;
    _Atomic uint64_t used;
    _Atomic uint64_t peak;
    uint8_t pad[24];
    struct sim_slot slots[SIM_STATE_SLOTS];
};

_Static_assert(sizeof(struct sim_slot) == 64, "slots are one cache line");
_Static_assert(sizeof(struct sim_shared) == 64 + 64 * SIM_STATE_SLOTS, "fixed layout");

struct sim_state {
    struct sim_shared *shm;
    int phys;
    int slot;      /* index of our slot, or -1 */
    pid_t owner;   /* the pid that claimed `slot` (differs after fork) */
};

static void sim_sub_saturating(_Atomic uint64_t *v, uint64_t bytes)
{
    uint64_t cur = atomic_load(v);

    while (!atomic_compare_exchange_weak(v, &cur, cur > bytes ? cur - bytes : 0))
        ;
}

static void sim_raise_peak(struct sim_shared *shm, uint64_t value)
{
    uint64_t cur = atomic_load(&shm->peak);

    while (cur < value && !atomic_compare_exchange_weak(&shm->peak, &cur, value))
        ;
}

static int sim_layout_check(struct sim_shared *shm)
{
    uint64_t expected = 0;

    if (atomic_load(&shm->magic) == 0) {
        __atomic_store_n(&shm->abi, SIM_STATE_ABI, __ATOMIC_RELAXED);
        __atomic_store_n(&shm->size, (uint32_t)sizeof(*shm), __ATOMIC_RELAXED);
        atomic_compare_exchange_strong(&shm->magic, &expected, SIM_STATE_MAGIC);
    }
    if (atomic_load(&shm->magic) != SIM_STATE_MAGIC ||
        __atomic_load_n(&shm->abi, __ATOMIC_RELAXED) != SIM_STATE_ABI ||
        __atomic_load_n(&shm->size, __ATOMIC_RELAXED) != sizeof(*shm))
        return -EPROTO;
    return 0;
}

static int sim_state_map(const char *path, struct sim_shared **out)
{
    struct stat sb;
    void *map;
    int fd, rc = 0;

    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &sb) < 0)
        rc = -errno;
    else if ((size_t)sb.st_size > sizeof(struct sim_shared))
        rc = -EPROTO;
    else if ((size_t)sb.st_size < sizeof(struct sim_shared) &&
             ftruncate(fd, sizeof(struct sim_shared)) < 0)
        rc = -errno;
    if (rc < 0)
        goto close_fd;
    map = mmap(NULL, sizeof(struct sim_shared), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        rc = -errno;
        goto close_fd;
    }
    *out = map;
close_fd:
    close(fd);
    return rc;
}

/* Creates dir and any missing parents (0700). */
static int sim_mkdir_p(const char *dir)
{
    char path[PATH_MAX];
    size_t len = strlen(dir);

    if (len == 0 || len >= sizeof(path))
        return len ? -ENAMETOOLONG : -EINVAL;
    memcpy(path, dir, len + 1);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0700) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(path, 0700) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

int sim_state_open(const char *dir, int phys, struct sim_state **out)
{
    struct sim_shared *shm = NULL;
    struct sim_state *st;
    char path[PATH_MAX];
    int rc;

    if (phys < 0 || phys >= SIM_MAX_DEVICES)
        return -EINVAL;
    rc = sim_mkdir_p(dir);
    if (rc < 0)
        return rc;
    if (snprintf(path, sizeof(path), "%s/device%d.state", dir, phys) >= (int)sizeof(path))
        return -ENAMETOOLONG;
    rc = sim_state_map(path, &shm);
    if (rc < 0)
        return rc;
    rc = sim_layout_check(shm);
    if (rc < 0)
        goto unmap;
    st = malloc(sizeof(*st));
    if (!st) {
        rc = -ENOMEM;
        goto unmap;
    }
    *st = (struct sim_state){ .shm = shm, .phys = phys, .slot = -1, .owner = 0 };
    *out = st;
    return 0;
unmap:
    sim_debug("%s: %s", path, rc == -EPROTO ? "holds another layout" : strerror(-rc));
    munmap(shm, sizeof(*shm));
    return rc;
}

void sim_state_close(struct sim_state *st)
{
    if (!st)
        return;
    munmap(st->shm, sizeof(*st->shm));
    free(st);
}

void sim_state_announce_total(struct sim_state *st, uint64_t total)
{
    atomic_store(&st->shm->total, total);
}

static bool sim_pid_zombie(pid_t pid)
{
    char path[64], buf[512];
    const char *paren;
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = '\0';
    paren = strrchr(buf, ')');
    return paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

static bool sim_pid_dead(pid_t pid)
{
    if (kill(pid, 0) < 0 && errno == ESRCH)
        return true;
    return sim_pid_zombie(pid);
}

static void sim_slot_reclaim(struct sim_state *st, int i, int32_t pid)
{
    struct sim_slot *slot = &st->shm->slots[i];
    int32_t expected = pid;
    uint64_t bytes;

    if (!atomic_compare_exchange_strong(&slot->pid, &expected, SIM_PID_RECLAIMING))
        return;
    bytes = atomic_exchange(&slot->bytes, 0);
    sim_sub_saturating(&st->shm->used, bytes);
    atomic_store(&slot->pid, 0);
    sim_debug("device %d: reclaimed %llu bytes of dead pid %d", st->phys,
              (unsigned long long)bytes, (int)pid);
}

void sim_state_reclaim(struct sim_state *st, bool own_pid)
{
    pid_t me = getpid();

    for (int i = 0; i < SIM_STATE_SLOTS; i++) {
        int32_t pid = atomic_load(&st->shm->slots[i].pid);

        if (pid <= 0)
            continue;
        if (pid == me) {
            bool ours = st->slot == i && st->owner == me;
            if (own_pid && !ours)
                sim_slot_reclaim(st, i, pid);
        } else if (sim_pid_dead(pid)) {
            sim_slot_reclaim(st, i, pid);
        }
    }
}

static bool sim_slot_claim_free(struct sim_state *st, pid_t me)
{
    for (int i = 0; i < SIM_STATE_SLOTS; i++) {
        int32_t expected = 0;

        if (atomic_compare_exchange_strong(&st->shm->slots[i].pid, &expected, me)) {
            st->slot = i;
            return true;
        }
    }
    return false;
}

/* Makes sure this process owns a slot; a forked child gets its own. */
static int sim_state_own_slot(struct sim_state *st)
{
    pid_t me = getpid();

    if (st->owner != me) {
        st->owner = me;
        st->slot = -1;
    }
    if (st->slot >= 0 && atomic_load(&st->shm->slots[st->slot].pid) != me)
        st->slot = -1;
    if (st->slot >= 0 || sim_slot_claim_free(st, me))
        return 0;
    sim_state_reclaim(st, false);
    return sim_slot_claim_free(st, me) ? 0 : -ENOSPC;
}

static int sim_used_add(struct sim_shared *shm, uint64_t bytes, uint64_t total)
{
    uint64_t cur = atomic_load(&shm->used), next;

    do {
        if (__builtin_add_overflow(cur, bytes, &next) || next > total)
            return -ENOMEM;
    } while (!atomic_compare_exchange_weak(&shm->used, &cur, next));
    sim_raise_peak(shm, next);
    return 0;
}

int sim_state_charge(struct sim_state *st, uint64_t bytes, uint64_t total)
{
    int rc = sim_state_own_slot(st);

    if (rc < 0)
        return rc;
    if (sim_used_add(st->shm, bytes, total) < 0) {
        sim_state_reclaim(st, false);
        if (sim_used_add(st->shm, bytes, total) < 0)
            return -ENOMEM;
    }
    atomic_fetch_add(&st->shm->slots[st->slot].bytes, bytes);
    return 0;
}

static bool sim_state_holds_slot(const struct sim_state *st)
{
    return st->slot >= 0 && st->owner == getpid() &&
           atomic_load(&st->shm->slots[st->slot].pid) == st->owner;
}

void sim_state_uncharge(struct sim_state *st, uint64_t bytes)
{
    if (!sim_state_holds_slot(st))
        return;
    sim_sub_saturating(&st->shm->slots[st->slot].bytes, bytes);
    sim_sub_saturating(&st->shm->used, bytes);
}

void sim_state_leave(struct sim_state *st)
{
    struct sim_slot *slot;

    if (!sim_state_holds_slot(st))
        return;
    slot = &st->shm->slots[st->slot];
    sim_sub_saturating(&st->shm->used, atomic_exchange(&slot->bytes, 0));
    atomic_store(&slot->pid, 0);
    st->slot = -1;
}

void sim_state_read(const struct sim_state *st, struct sim_state_usage *usage)
{
    usage->used = atomic_load(&st->shm->used);
    usage->peak = atomic_load(&st->shm->peak);
    usage->total = atomic_load(&st->shm->total);
}

void sim_state_reset_peak(struct sim_state *st)
{
    atomic_store(&st->shm->peak, atomic_load(&st->shm->used));
}
