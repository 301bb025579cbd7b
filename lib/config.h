/* config.h - every CUSLICE_* variable, read once.
 *
 * One table in config.c names each variable with its type, default and help
 * text; config_load() fills a struct cs_config from it. A bad value gets one
 * error naming the variable and the accepted form, and the setting falls back
 * to the safe behaviour documented in docs/configuration.md (for most, the
 * default; for CUSLICE_MEM_LIMIT, a cap of zero: a cap is never silently
 * lifted). The table is also what `cuslice` prints for help.
 */
#ifndef CUSLICE_CONFIG_H
#define CUSLICE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

enum { CONFIG_PATH_MAX = 256, CONFIG_GROUP_MAX = 64, MEMSPEC_ENTRIES_MAX = 16,
       MEMSPEC_KEY_MAX = 48 };

enum priority_class { PRIORITY_LOW = 0, PRIORITY_NORMAL = 1, PRIORITY_HIGH = 2 };

/* A parsed CUSLICE_MEM_LIMIT: one size for every device and/or sizes keyed
 * by CUDA ordinal ("0=4G") or by UUID prefix ("GPU-8f3a…=4G"). */
struct memspec {
	int set;                 /* the variable was given */
	int invalid;             /* it was given but could not be parsed */
	uint64_t all;            /* cap for every device, 0 = none */
	unsigned n;
	struct {
		char key[MEMSPEC_KEY_MAX]; /* decimal ordinal or "GPU-…" UUID prefix */
		uint64_t cap;
	} entries[MEMSPEC_ENTRIES_MAX];
};

struct cs_config {
	int log_level;                     /* enum log_level */
	char log_file[CONFIG_PATH_MAX];
	char trace[CONFIG_PATH_MAX];       /* "%p" is replaced by the pid */
	char dir[CONFIG_PATH_MAX];         /* where ring/ledger files live */
	struct memspec mem;
	char group[CONFIG_GROUP_MAX];      /* "" = this process alone */
	int count_managed;                 /* cuMemAllocManaged is charged */
	uint64_t ctx_reserve;              /* bytes charged per context */
	uint32_t weight;
	uint32_t slice_ms;
	uint32_t drain_timeout_ms;
	uint32_t hold_timeout_ms;
	int priority;                      /* enum priority_class */
	uint32_t high_max_share;           /* percent of GPU time over the window */
	int ring;                          /* time slicing on */
	uint32_t backfill_us;              /* loan drain bound, 0 = no loans */
	char timeline[CONFIG_PATH_MAX];    /* CUSLICE_TIMELINE pattern, "" = off */
};

/* Returns the value of the named variable, or NULL when unset. */
typedef const char *config_getter(const char *name, void *arg);

/* Fills *cfg from the variables, defaults first. Returns the number of
 * variables that held a bad value (each reported once with log_error and
 * replaced by its safe behaviour). */
int config_load(struct cs_config *cfg, config_getter *get, void *arg);

/* config_load() with getenv. */
int config_load_env(struct cs_config *cfg);

/* Looks up the cap for a device. Returns 0 and sets *cap (0 = no cap), or
 * -EINVAL when CUSLICE_MEM_LIMIT was invalid (the caller applies a zero cap). */
int memspec_cap(const struct memspec *m, int ordinal, const char *uuid, uint64_t *cap);

/* Parses a CUSLICE_MEM_LIMIT value. Returns 0 or -EINVAL; on error *m has
 * set = invalid = 1 and no entries. */
int memspec_parse(const char *text, struct memspec *m);

struct config_var {
	const char *name;
	const char *type;      /* as shown to users: "size", "1..100", "path", … */
	const char *def;       /* default, as shown to users */
	const char *help;
};

/* The documented table, for help output. */
const struct config_var *config_vars(size_t *count);

#endif
