/* entry.c - what every entry point of the simulated libcuda goes through:
 * the settings (read once from SIMCUDA_*), the call counters
 * (SIMCUDA_COUNTS), error injection (SIMCUDA_FAIL), the cuInit gate and the
 * process-wide lock; plus process exit and fork.
 */
#include "simcuda.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SIM_KERNEL_US_DEFAULT 1000
#define SIM_KERNEL_US_MAX 3600000000ull /* one hour */

static pthread_mutex_t sim_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t sim_atfork_once = PTHREAD_ONCE_INIT;
static atomic_bool sim_config_loaded;
static atomic_bool sim_init_done;
static struct sim_config sim_cfg = { .log_fd = -1 };
static CUresult sim_fail[SIM_ID_COUNT];
static _Atomic uint64_t sim_counts[SIM_ID_COUNT];

void sim_lock(void)
{
    pthread_mutex_lock(&sim_mutex);
}

void sim_unlock(void)
{
    pthread_mutex_unlock(&sim_mutex);
}

bool sim_initialized(void)
{
    return atomic_load(&sim_init_done);
}

void sim_mark_initialized(void)
{
    atomic_store(&sim_init_done, true);
}

static int sim_entry_find(const char *symbol, size_t len)
{
    for (int i = 0; i < SIM_ID_COUNT; i++) {
        if (strlen(sim_entries[i].symbol) == len &&
            strncmp(sim_entries[i].symbol, symbol, len) == 0)
            return i;
    }
    return -1;
}

/* One "symbol:code" item of SIMCUDA_FAIL. */
static int sim_fail_parse_item(const char *item)
{
    const char *colon = strchr(item, ':');
    char *end;
    long code;
    int id;

    if (!colon)
        return -EINVAL;
    id = sim_entry_find(item, (size_t)(colon - item));
    errno = 0;
    code = strtol(colon + 1, &end, 0);
    if (id < 0 || end == colon + 1 || *end != '\0' || errno || code < 0 || code > 100000)
        return -EINVAL;
    sim_fail[id] = (CUresult)code;
    return 0;
}

static int sim_fail_parse(void)
{
    const char *text = getenv("SIMCUDA_FAIL");
    char *copy, *item, *save = NULL;
    int rc = 0;

    memset(sim_fail, 0, sizeof(sim_fail));
    if (!text || !*text)
        return 0;
    copy = strdup(text);
    if (!copy)
        return -ENOMEM;
    for (item = strtok_r(copy, ",", &save); item && rc == 0; item = strtok_r(NULL, ",", &save))
        rc = sim_fail_parse_item(item);
    if (rc < 0)
        sim_debug("SIMCUDA_FAIL=\"%s\": use symbol:code[,symbol:code...] with exported "
                  "symbol names such as cuMemAlloc_v2:2", text);
    free(copy);
    return rc;
}

static int sim_log_open(void)
{
    const char *path = getenv("SIMCUDA_LOG");
    int fd;

    sim_cfg.log_fd = -1;
    if (!path || !*path)
        return 0;
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        sim_debug("SIMCUDA_LOG=\"%s\": %s", path, strerror(errno));
        return -errno;
    }
    sim_cfg.log_fd = fd;
    return 0;
}

static int sim_counts_path_load(void)
{
    const char *path = getenv("SIMCUDA_COUNTS");
    size_t len = path ? strlen(path) : 0;

    if (len >= sizeof(sim_cfg.counts_path)) {
        sim_debug("SIMCUDA_COUNTS is longer than %zu bytes", sizeof(sim_cfg.counts_path) - 1);
        sim_cfg.counts_path[0] = '\0';
        return -ENAMETOOLONG;
    }
    memcpy(sim_cfg.counts_path, path ? path : "", len + 1);
    return 0;
}

/* Lock held. */
static void sim_config_load(void)
{
    uint64_t us = SIM_KERNEL_US_DEFAULT;
    bool ok = true;

    ok &= sim_env_load(&sim_cfg.env) == 0;
    ok &= sim_env_uint("SIMCUDA_KERNEL_US", SIM_KERNEL_US_DEFAULT, SIM_KERNEL_US_MAX, &us) == 0;
    sim_cfg.kernel_ns = us * 1000;
    ok &= sim_env_size("SIMCUDA_CTX_OVERHEAD", 0, &sim_cfg.ctx_overhead) == 0;
    ok &= sim_log_open() == 0;
    ok &= sim_counts_path_load() == 0;
    ok &= sim_fail_parse() == 0;
    sim_cfg.valid = ok;
}

static void sim_atfork_prepare(void)
{
    sim_lock();
}

static void sim_atfork_parent(void)
{
    sim_unlock();
}

/* The child of fork() starts like a fresh process that has not called
 * cuInit: the real driver cannot be used across fork at all, and a clean
 * start lets test runners that fork (Check's fork mode) use the simulator
 * in each child. Settings are read again at the child's first call. */
static void sim_atfork_child(void)
{
    for (int i = 0; i < SIM_ID_COUNT; i++)
        atomic_store(&sim_counts[i], 0);
    atomic_store(&sim_init_done, false);
    atomic_store(&sim_config_loaded, false);
    if (sim_cfg.log_fd >= 0)
        close(sim_cfg.log_fd);
    sim_cfg.log_fd = -1;
    sim_graph_reset();
    sim_graphmem_reset();
    sim_event_reset();
    sim_stream_reset();
    sim_ctx_reset();
    sim_mem_reset();
    sim_device_reset();
    sim_unlock(); /* taken by this thread in sim_atfork_prepare */
}

static void sim_atfork_register(void)
{
    pthread_atfork(sim_atfork_prepare, sim_atfork_parent, sim_atfork_child);
}

static void sim_config_ensure(void)
{
    if (atomic_load_explicit(&sim_config_loaded, memory_order_acquire))
        return;
    pthread_once(&sim_atfork_once, sim_atfork_register);
    sim_lock();
    if (!atomic_load(&sim_config_loaded)) {
        sim_config_load();
        atomic_store_explicit(&sim_config_loaded, true, memory_order_release);
    }
    sim_unlock();
}

const struct sim_config *sim_config(void)
{
    sim_config_ensure();
    return &sim_cfg;
}

CUresult sim_enter(enum sim_entry_id id, bool needs_init)
{
    sim_config_ensure();
    atomic_fetch_add_explicit(&sim_counts[id], 1, memory_order_relaxed);
    if (sim_fail[id] != CUDA_SUCCESS) {
        sim_debug("%s: injected error %d", sim_entries[id].symbol, (int)sim_fail[id]);
        return sim_fail[id];
    }
    if (needs_init && !sim_initialized())
        return CUDA_ERROR_NOT_INITIALIZED;
    return CUDA_SUCCESS;
}

/* "%p" in SIMCUDA_COUNTS stands for the pid. */
static int sim_counts_expand(char *out, size_t len)
{
    const char *p = sim_cfg.counts_path;
    size_t n = 0;

    for (; *p && n + 1 < len; p++) {
        if (p[0] == '%' && p[1] == 'p') {
            n += (size_t)snprintf(out + n, len - n, "%d", (int)getpid());
            p++;
        } else {
            out[n++] = *p;
        }
    }
    if (*p || n >= len)
        return -ENAMETOOLONG;
    out[n] = '\0';
    return 0;
}

static void sim_counts_dump(int fd)
{
    for (int i = 0; i < SIM_ID_COUNT; i++) {
        uint64_t n = atomic_load(&sim_counts[i]);
        if (n > 0)
            dprintf(fd, "%s %llu\n", sim_entries[i].symbol, (unsigned long long)n);
    }
}

/* Written to a temporary name and renamed, so a reader never sees half. */
static void sim_counts_write(void)
{
    char path[PATH_MAX], tmp[PATH_MAX + 32];
    bool any = false;
    int fd;

    for (int i = 0; i < SIM_ID_COUNT; i++)
        any |= atomic_load(&sim_counts[i]) > 0;
    if (!any || !sim_cfg.counts_path[0] || sim_counts_expand(path, sizeof(path)) < 0)
        return;
    snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        sim_debug("SIMCUDA_COUNTS: %s: %s", tmp, strerror(errno));
        return;
    }
    sim_counts_dump(fd);
    close(fd);
    if (rename(tmp, path) < 0)
        sim_debug("SIMCUDA_COUNTS: %s: %s", path, strerror(errno));
}

/* At exit the process's memory goes back to the shared pool, as the real
 * driver's does when a process ends; counts are written last. */
__attribute__((destructor)) static void sim_exit(void)
{
    if (!atomic_load(&sim_config_loaded))
        return;
    sim_lock();
    sim_mem_exit();
    sim_counts_write();
    if (sim_cfg.log_fd >= 0)
        close(sim_cfg.log_fd);
    sim_cfg.log_fd = -1;
    sim_unlock();
}
