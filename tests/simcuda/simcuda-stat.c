/* simcuda-stat.c - prints the shared simulated-memory state of one physical
 * device: "used <bytes> peak <bytes> total <bytes>", after returning the
 * bytes of dead processes to the pool. With --reset, peak is first set back
 * to the current used (0 when no process holds memory).
 * Tests use it to check that a group never held more than its cap.
 *
 * usage: simcuda-stat [--dir DIR] [--device N] [--reset]
 * DIR defaults to SIMCUDA_DIR or /tmp/simcuda-<uid>; N to 0.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simenv.h"
#include "simstate.h"

struct stat_args {
    const char *dir;
    int device;
    bool reset;
};

static int stat_usage(void)
{
    fprintf(stderr, "usage: simcuda-stat [--dir DIR] [--device N] [--reset]\n");
    return 2;
}

static int stat_parse_device(const char *text, int *out)
{
    uint64_t v;

    if (sim_env_parse_size(text, &v) < 0 || strspn(text, "0123456789") != strlen(text) ||
        v >= SIM_MAX_DEVICES)
        return -EINVAL;
    *out = (int)v;
    return 0;
}

static int stat_parse(int argc, char **argv, struct stat_args *args)
{
    for (int i = 1; i < argc; i++) {
        bool has_value = i + 1 < argc;

        if (strcmp(argv[i], "--reset") == 0) {
            args->reset = true;
        } else if (strcmp(argv[i], "--dir") == 0 && has_value) {
            args->dir = argv[++i];
        } else if (strcmp(argv[i], "--device") == 0 && has_value) {
            if (stat_parse_device(argv[++i], &args->device) < 0) {
                fprintf(stderr, "simcuda-stat: --device takes 0 to %d\n", SIM_MAX_DEVICES - 1);
                return -EINVAL;
            }
        } else {
            return -EINVAL;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct stat_args args = { 0 };
    struct sim_state_usage usage;
    struct sim_env env;
    struct sim_state *st;
    int rc;

    if (stat_parse(argc, argv, &args) < 0)
        return stat_usage();
    if (sim_env_load(&env) < 0) {
        fprintf(stderr, "simcuda-stat: a SIMCUDA_* variable is malformed (SIMCUDA_DEBUG=1 says which)\n");
        return 2;
    }
    rc = sim_state_open(args.dir ? args.dir : env.dir, args.device, &st);
    if (rc < 0) {
        fprintf(stderr, "simcuda-stat: device %d in %s: %s\n", args.device,
                args.dir ? args.dir : env.dir, strerror(-rc));
        return 1;
    }
    sim_state_reclaim(st, false);
    if (args.reset)
        sim_state_reset_peak(st);
    sim_state_read(st, &usage);
    printf("used %llu peak %llu total %llu\n", (unsigned long long)usage.used,
           (unsigned long long)usage.peak,
           (unsigned long long)(usage.total ? usage.total : env.mem_total));
    sim_state_close(st);
    return 0;
}
