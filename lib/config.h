/* config.h - every CUSLICE_* variable, read once.
 *
 * One table in config.c names each variable with its type, default and help
 * text; config_load() fills a struct cs_config from it. A bad value gets one
 * error naming the variable and the accepted form, and the setting falls back
 * to the safe behaviour documented in docs/configuration.md (for most, the
 * default; for CUSLICE_MEM_LIMIT, a cap of zero: a cap is never silently
 * lifted; for CUSLICE_LOG, level "error", so that the error is seen; for
 * CUSLICE_DIR, no folder at all: dir_invalid). Every bad variable is also
 * recorded in bad_vars. The table is also what `cuslice` prints for help.
 */
#ifndef CUSLICE_CONFIG_H
#define CUSLICE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

enum { CONFIG_PATH_MAX = 256, CONFIG_GROUP_MAX = 64, MEMSPEC_ENTRIES_MAX = 16,
       MEMSPEC_KEY_MAX = 48, CONFIG_VARS_MAX = 32, CONFIG_POD_NAME_MAX = 254,
       CONFIG_NAMESPACE_MAX = 64, MEMSPEC_CARD_DIV_MAX = 1024 };

/* Where a setting's value came from: the table's default, the node policy
 * (policy.h), or the process's own variable. The values are stored in the
 * shared file (cs_member.sources): append only. */
enum config_source { SOURCE_DEFAULT = 0, SOURCE_POLICY = 1, SOURCE_ENV = 2 };

/* Largest size a variable takes (1 PiB): more than any device has. Sizes
 * are checked against the real card when a GPU is joined. */
#define CONFIG_SIZE_MAX (UINT64_C(1) << 50)

/* The bit of cs_config.bad_vars that stands for a variable with no bit of
 * its own (config_bad_var_name() names the others). */
enum { CONFIG_BAD_OTHER = 31 };

enum priority_class { PRIORITY_LOW = 0, PRIORITY_NORMAL = 1, PRIORITY_HIGH = 2 };

/* A parsed CUSLICE_MEM_LIMIT: one size for every device and/or sizes keyed
 * by CUDA ordinal ("0=4G") or by UUID prefix ("GPU-8f3a…=4G"). */
struct memspec {
	int set;                 /* the variable was given */
	int invalid;             /* it was given but could not be parsed */
	uint64_t all;            /* cap for every device, 0 = none */
	uint32_t card_div;       /* "card/N": every device's memory / N, 0 = none */
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
	uint32_t high_queue;               /* launches kept queued beside a high member */
	int ring;                          /* time slicing on */
	uint32_t backfill_us;              /* loan drain bound, 0 = no loans */
	char timeline[CONFIG_PATH_MAX];    /* CUSLICE_TIMELINE pattern, "" = off */
	uint32_t bad_vars;                 /* one bit per variable that held a bad
	                                    * value: config_bad_var_name() */
	int dir_invalid;                   /* CUSLICE_DIR was bad: dir is "" and no
	                                    * shared file may be used */
	char pod_name[CONFIG_POD_NAME_MAX];     /* Kubernetes metric labels, "" = none */
	char pod_namespace[CONFIG_NAMESPACE_MAX];
	unsigned char source[CONFIG_VARS_MAX];  /* enum config_source, by table index */
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

/* memspec_cap() for a device whose memory is card_total bytes (0 when
 * unknown), which a "card/N" cap needs: with card_total 0 it is -EINVAL
 * (the caller applies a zero cap: a cap is never lifted silently). */
int memspec_cap_card(const struct memspec *m, int ordinal, const char *uuid,
		     uint64_t card_total, uint64_t *cap);

/* Parses a CUSLICE_MEM_LIMIT value: a size, "card/N" (the card's memory
 * divided by N, 1..MEMSPEC_CARD_DIV_MAX), and/or ORD=size or UUID=size
 * entries. Returns 0 or -EINVAL; on error *m has set = invalid = 1 and no
 * entries. */
int memspec_parse(const char *text, struct memspec *m);

/* The bit of bad_vars for a variable's name (CONFIG_BAD_OTHER's bit for a
 * name with no bit of its own). */
uint32_t config_var_bit(const char *name);

/* The name of bit `bit` of bad_vars, or NULL past the last bit. */
const char *config_bad_var_name(unsigned bit);

/* Writes the names of the variables in bad_vars as "A, B" into out
 * (truncated to len). Returns how many there are. */
int config_bad_vars_text(uint32_t bad_vars, char *out, size_t len);

struct config_var {
	const char *name;
	const char *type;      /* as shown to users: "size", "1..100", "path", … */
	const char *def;       /* default, as shown to users */
	const char *help;
};

/* The documented table, for help output. */
const struct config_var *config_vars(size_t *count);

/* What a Kubernetes pod sets the named variable from, or NULL when a pod
 * does not set it: "mount" (the node's shared folder), "field:PATH" (the
 * downward API), "annotation:KEY". The injection policies in
 * deploy/kubernetes are checked against it (tests/deploy, through
 * `cuslice help pod`). */
const char *config_pod_source(const char *name);

/* Nonzero when a node policy may give the named variable's default. */
int config_policy_var(const char *name);

/* The table index of a variable, or -ENOENT. */
int config_var_index(const char *name);

/* Where the value of the named variable came from (enum config_source);
 * SOURCE_DEFAULT for an unknown name. */
int config_source(const struct cs_config *cfg, const char *name);

/* Parses text as the value of the named variable into *cfg, exactly as
 * config_load() would, and records source for it. Reports nothing. Returns
 * 0, -ENOENT for a name not in the table, or -EINVAL/-ERANGE for a bad
 * value; on error the setting is what config_load() leaves after a bad
 * value (unchanged, or an invalid cap) and its source is unchanged. */
int config_set(struct cs_config *cfg, const char *name, const char *text,
	       enum config_source source);

/* The accepted form of a variable and what a bad value does, for messages.
 * NULL for an unknown name. */
const char *config_expected(const char *name);
const char *config_bad_value_effect(const char *name);

#endif
