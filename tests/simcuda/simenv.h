/* simenv.h - SIMCUDA_* settings and debug output shared by the simulated
 * libcuda, the simulated NVML and simcuda-stat.
 *
 * Every reader returns 0 or a negative errno; on error *out is unchanged and,
 * with SIMCUDA_DEBUG=1, one line on stderr names the variable and the
 * accepted form. Nothing here prints otherwise.
 */
#ifndef SIMCUDA_SIMENV_H
#define SIMCUDA_SIMENV_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIM_MAX_DEVICES 8
#define SIM_DEFAULT_DEVICES 1
#define SIM_DEFAULT_MEM_TOTAL (16ull << 30)

/* The settings every component reads. */
struct sim_env {
    int devices;            /* SIMCUDA_DEVICES, 0..SIM_MAX_DEVICES */
    uint64_t mem_total;     /* SIMCUDA_MEM_TOTAL, bytes per device */
    char dir[PATH_MAX];     /* SIMCUDA_DIR, or /tmp/simcuda-<uid> */
};

/* Parses "<digits>[K|M|G|T]" (binary units, case-insensitive) into bytes.
 * Returns -EINVAL for a malformed text, -ERANGE on overflow. */
int sim_env_parse_size(const char *text, uint64_t *out);

/* Reads a size variable; unset or empty gives def. */
int sim_env_size(const char *name, uint64_t def, uint64_t *out);

/* Reads a decimal variable in [0, max]; unset or empty gives def. */
int sim_env_uint(const char *name, uint64_t def, uint64_t max, uint64_t *out);

/* Fills *env from SIMCUDA_DEVICES, SIMCUDA_MEM_TOTAL and SIMCUDA_DIR. */
int sim_env_load(struct sim_env *env);

/* True when SIMCUDA_DEBUG=1 (read once). */
bool sim_debug_enabled(void);

/* One line "simcuda[pid]: ..." on stderr, only with SIMCUDA_DEBUG=1. */
void sim_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* CLOCK_MONOTONIC now, in nanoseconds. */
uint64_t sim_now_ns(void);

#endif /* SIMCUDA_SIMENV_H */
