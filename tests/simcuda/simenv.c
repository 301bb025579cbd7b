/* simenv.c - SIMCUDA_* settings and debug output (see simenv.h). */
#include "simenv.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int sim_suffix_shift(char c)
{
    switch (toupper((unsigned char)c)) {
    case 'K': return 10;
    case 'M': return 20;
    case 'G': return 30;
    case 'T': return 40;
    default: return -1;
    }
}

int sim_env_parse_size(const char *text, uint64_t *out)
{
    uint64_t value = 0;
    const char *p = text;

    if (!text || !isdigit((unsigned char)*p))
        return -EINVAL;
    for (; isdigit((unsigned char)*p); p++) {
        if (__builtin_mul_overflow(value, 10, &value) ||
            __builtin_add_overflow(value, (uint64_t)(*p - '0'), &value))
            return -ERANGE;
    }
    if (*p != '\0') {
        int shift = sim_suffix_shift(*p);
        if (shift < 0 || p[1] != '\0')
            return -EINVAL;
        if (value > (UINT64_MAX >> shift))
            return -ERANGE;
        value <<= shift;
    }
    *out = value;
    return 0;
}

int sim_env_size(const char *name, uint64_t def, uint64_t *out)
{
    const char *text = getenv(name);
    int rc;

    if (!text || !*text) {
        *out = def;
        return 0;
    }
    rc = sim_env_parse_size(text, out);
    if (rc == -ERANGE)
        sim_debug("%s=\"%s\" is too large", name, text);
    else if (rc < 0)
        sim_debug("%s=\"%s\" is not a size: use digits with an optional K, M, G or T suffix",
                  name, text);
    return rc;
}

int sim_env_uint(const char *name, uint64_t def, uint64_t max, uint64_t *out)
{
    const char *text = getenv(name);
    uint64_t value = 0;
    const char *p;

    if (!text || !*text) {
        *out = def;
        return 0;
    }
    for (p = text; isdigit((unsigned char)*p) && value <= max; p++)
        value = value * 10 + (uint64_t)(*p - '0');
    if (*p != '\0' || value > max) {
        sim_debug("%s=\"%s\" is not a whole number from 0 to %llu", name, text,
                  (unsigned long long)max);
        return -EINVAL;
    }
    *out = value;
    return 0;
}

static int sim_env_dir(char *buf, size_t len)
{
    const char *dir = getenv("SIMCUDA_DIR");
    int n;

    if (dir && *dir)
        n = snprintf(buf, len, "%s", dir);
    else
        n = snprintf(buf, len, "/tmp/simcuda-%u", (unsigned)getuid());
    if (n < 0 || (size_t)n >= len) {
        sim_debug("SIMCUDA_DIR is longer than %zu bytes", len - 1);
        return -ENAMETOOLONG;
    }
    return 0;
}

int sim_env_load(struct sim_env *env)
{
    uint64_t devices;
    int rc;

    rc = sim_env_uint("SIMCUDA_DEVICES", SIM_DEFAULT_DEVICES, SIM_MAX_DEVICES, &devices);
    if (rc == 0)
        rc = sim_env_size("SIMCUDA_MEM_TOTAL", SIM_DEFAULT_MEM_TOTAL, &env->mem_total);
    if (rc == 0)
        rc = sim_env_dir(env->dir, sizeof(env->dir));
    env->devices = (int)devices;
    return rc;
}

bool sim_debug_enabled(void)
{
    static int enabled = -1;

    if (__atomic_load_n(&enabled, __ATOMIC_RELAXED) < 0) {
        const char *text = getenv("SIMCUDA_DEBUG");
        __atomic_store_n(&enabled, text && strcmp(text, "1") == 0, __ATOMIC_RELAXED);
    }
    return __atomic_load_n(&enabled, __ATOMIC_RELAXED) == 1;
}

void sim_debug(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    int n;

    if (!sim_debug_enabled())
        return;
    n = snprintf(line, sizeof(line), "simcuda[%d]: ", (int)getpid());
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    strcat(line, "\n");
    if (write(STDERR_FILENO, line, strlen(line)) < 0)
        return;
}

uint64_t sim_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
