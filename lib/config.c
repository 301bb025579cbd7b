/* config.c - the CUSLICE_* table and its parser; see config.h. */
#include "config.h"

#include "cuslice.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "size.h"

enum var_kind { KIND_ENUM, KIND_PATH, KIND_SIZE, KIND_UINT, KIND_NAME, KIND_MEMSPEC };

struct var {
	struct config_var doc;
	enum var_kind kind;
	size_t offset;              /* into struct cs_config */
	const char *const *choices; /* KIND_ENUM: NULL-terminated, index = value */
	uint64_t min, max;          /* KIND_UINT */
};

static const char *const log_choices[] = { "off", "error", "warn", "info", "debug", NULL };
static const char *const managed_choices[] = { "exclude", "count", NULL };
static const char *const priority_choices[] = { "low", "normal", "high", NULL };
static const char *const onoff_choices[] = { "off", "on", NULL };

#define OFF(field) offsetof(struct cs_config, field)

static const struct var vars[] = {
	{ { "CUSLICE_LOG", "off|error|warn|info|debug", "off",
	    "How much the library says, on stderr or CUSLICE_LOG_FILE. Silent by default." },
	  KIND_ENUM, OFF(log_level), log_choices, 0, 0 },
	{ { "CUSLICE_LOG_FILE", "path", "(stderr)",
	    "Write log messages to this file instead of stderr." },
	  KIND_PATH, OFF(log_file), NULL, 0, 0 },
	{ { "CUSLICE_TRACE", "path", "(none)",
	    "At exit, write '<symbol> <count>' for every intercepted symbol; %p becomes the pid." },
	  KIND_PATH, OFF(trace), NULL, 0, 0 },
	{ { "CUSLICE_DIR", "path", CUSLICE_DEFAULT_DIR,
	    "Folder of the per-GPU ring and ledger files shared by the processes of a node." },
	  KIND_PATH, OFF(dir), NULL, 0, 0 },
	{ { "CUSLICE_MEM_LIMIT", "size | ORD=size,… | GPU-UUID=size,…", "(no cap)",
	    "Device memory cap for this process or its group, for every GPU or per GPU." },
	  KIND_MEMSPEC, OFF(mem), NULL, 0, 0 },
	{ { "CUSLICE_GROUP", "name [A-Za-z0-9._-], up to 63", "(the process alone)",
	    "Processes with the same group on one GPU share one memory cap." },
	  KIND_NAME, OFF(group), NULL, 0, 0 },
	{ { "CUSLICE_MANAGED", "count|exclude", "count",
	    "Whether cuMemAllocManaged allocations are charged against the cap." },
	  KIND_ENUM, OFF(count_managed), managed_choices, 0, 0 },
	{ { "CUSLICE_CTX_RESERVE", "size", "704M",
	    "Bytes charged per process and GPU for the driver's own context memory." },
	  KIND_SIZE, OFF(ctx_reserve), NULL, 0, 0 },
	{ { "CUSLICE_WEIGHT", "1..100", "1",
	    "This process's share of GPU time when every member is busy." },
	  KIND_UINT, OFF(weight), NULL, 1, 100 },
	{ { "CUSLICE_SLICE_MS", "1..10000", "20",
	    "Base time slice in milliseconds." },
	  KIND_UINT, OFF(slice_ms), NULL, 1, 10000 },
	{ { "CUSLICE_DRAIN_TIMEOUT_MS", "1..600000", "2000",
	    "Longest wait for in-flight work at a hand-off before the token moves anyway." },
	  KIND_UINT, OFF(drain_timeout_ms), NULL, 1, 600000 },
	{ { "CUSLICE_HOLD_TIMEOUT_MS", "10..600000", "1000",
	    "After its slice, how long a stopped or stuck holder keeps the token before others take it." },
	  KIND_UINT, OFF(hold_timeout_ms), NULL, 10, 600000 },
	{ { "CUSLICE_PRIORITY", "high|normal|low", "normal",
	    "Priority class: high preempts slices, low runs only when others idle." },
	  KIND_ENUM, OFF(priority), priority_choices, 0, 0 },
	{ { "CUSLICE_HIGH_MAX_SHARE", "1..100", "80",
	    "Most GPU time (percent over a 1 s window) high members take while others wait." },
	  KIND_UINT, OFF(high_max_share), NULL, 1, 100 },
	{ { "CUSLICE_RING", "on|off", "on",
	    "Time slicing through the token ring; off keeps only memory caps and tracing." },
	  KIND_ENUM, OFF(ring), onoff_choices, 0, 0 },
	{ { "CUSLICE_BACKFILL_US", "0..100000", "2000",
	    "An idle holder lends the GPU to a waiter; its next launch waits at most this long for it back. 0: no loans." },
	  KIND_UINT, OFF(backfill_us), NULL, 0, 100000 },
	{ { "CUSLICE_TIMELINE", "path", "(none)",
	    "Record waits, holds, drains and loans as Trace Event JSON (Perfetto); %p becomes the pid." },
	  KIND_PATH, OFF(timeline), NULL, 0, 0 },
};

#define N_VARS (sizeof(vars) / sizeof(vars[0]))

const struct config_var *config_vars(size_t *count)
{
	static struct config_var docs[N_VARS];
	for (size_t i = 0; i < N_VARS; i++)
		docs[i] = vars[i].doc;
	*count = N_VARS;
	return docs;
}

static void set_defaults(struct cs_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->log_level = LOG_OFF;
	strcpy(cfg->dir, CUSLICE_DEFAULT_DIR);
	cfg->count_managed = 1;
	cfg->ctx_reserve = 704ULL << 20; /* measured on H100: docs/memory.md */
	cfg->weight = 1;
	cfg->slice_ms = 20;
	cfg->drain_timeout_ms = 2000;
	cfg->hold_timeout_ms = 1000;
	cfg->priority = PRIORITY_NORMAL;
	cfg->high_max_share = 80; /* from the H100 server+training runs: docs/benchmarks.md */
	cfg->ring = 1;
	cfg->backfill_us = 2000;
}

static int parse_enum(const struct var *v, const char *text, int *out)
{
	for (int i = 0; v->choices[i] != NULL; i++) {
		if (strcasecmp(text, v->choices[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_name(const char *text, char *out)
{
	size_t n = strlen(text);
	if (n == 0 || n >= CONFIG_GROUP_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)text[i];
		if (!isalnum(c) && c != '.' && c != '_' && c != '-')
			return -EINVAL;
	}
	memcpy(out, text, n + 1);
	return 0;
}

static int memspec_entry(struct memspec *m, char *item)
{
	char *eq = strchr(item, '=');
	uint64_t cap;
	if (eq == NULL) {
		if (m->all != 0 || size_parse(item, &cap) != 0 || cap == 0)
			return -EINVAL;
		m->all = cap;
		return 0;
	}
	*eq = '\0';
	const char *key = item, *val = eq + 1;
	size_t klen = strlen(key);
	if (klen == 0 || klen >= MEMSPEC_KEY_MAX || m->n == MEMSPEC_ENTRIES_MAX)
		return -EINVAL;
	int is_ordinal = strspn(key, "0123456789") == klen;
	if (!is_ordinal && strncmp(key, "GPU-", 4) != 0 && strncmp(key, "MIG-", 4) != 0)
		return -EINVAL;
	if (size_parse(val, &cap) != 0 || cap == 0)
		return -EINVAL;
	memcpy(m->entries[m->n].key, key, klen + 1);
	m->entries[m->n].cap = cap;
	m->n++;
	return 0;
}

int memspec_parse(const char *text, struct memspec *m)
{
	char buf[512];
	memset(m, 0, sizeof(*m));
	m->set = 1;
	size_t len = strlen(text);
	if (len == 0 || len >= sizeof(buf))
		goto invalid;
	memcpy(buf, text, len + 1);
	char *save = NULL;
	for (char *item = strtok_r(buf, ", ", &save); item != NULL;
	     item = strtok_r(NULL, ", ", &save)) {
		if (memspec_entry(m, item) != 0)
			goto invalid;
	}
	if (m->all == 0 && m->n == 0)
		goto invalid;
	return 0;
invalid:
	memset(m, 0, sizeof(*m));
	m->set = 1;
	m->invalid = 1;
	return -EINVAL;
}

int memspec_cap(const struct memspec *m, int ordinal, const char *uuid, uint64_t *cap)
{
	if (m->invalid)
		return -EINVAL;
	for (unsigned i = 0; i < m->n; i++) {
		const char *key = m->entries[i].key;
		if (isdigit((unsigned char)key[0])) {
			if (ordinal >= 0 && strtol(key, NULL, 10) == ordinal) {
				*cap = m->entries[i].cap;
				return 0;
			}
		} else if (uuid != NULL && strncasecmp(uuid, key, strlen(key)) == 0) {
			*cap = m->entries[i].cap;
			return 0;
		}
	}
	*cap = m->all;
	return 0;
}

static int parse_var(const struct var *v, const char *text, struct cs_config *cfg)
{
	char *field = (char *)cfg + v->offset;
	uint64_t u;
	switch (v->kind) {
	case KIND_ENUM:
		return parse_enum(v, text, (int *)field);
	case KIND_PATH:
		if (strlen(text) >= CONFIG_PATH_MAX)
			return -ERANGE;
		strcpy(field, text);
		return 0;
	case KIND_SIZE:
		return size_parse(text, (uint64_t *)field);
	case KIND_UINT:
		if (uint_parse(text, v->min, v->max, &u) != 0)
			return -EINVAL;
		*(uint32_t *)field = (uint32_t)u;
		return 0;
	case KIND_NAME:
		return parse_name(text, field);
	case KIND_MEMSPEC:
		return memspec_parse(text, (struct memspec *)field);
	}
	return -EINVAL;
}

/* A value as it can be shown in one log line: control characters become
 * '?', and it is cut to len - 1 bytes. */
static void printable(const char *text, char *out, size_t len)
{
	size_t n = 0;
	for (; text[n] != '\0' && n < len - 1; n++)
		out[n] = iscntrl((unsigned char)text[n]) ? '?' : text[n];
	out[n] = '\0';
}

static const char *safe_behaviour(const struct var *v)
{
	if (v->kind == KIND_MEMSPEC)
		return "every allocation is refused until it is fixed (a cap is never lifted silently)";
	return "using the default";
}

int config_load(struct cs_config *cfg, config_getter *get, void *arg)
{
	int bad = 0;
	set_defaults(cfg);
	for (size_t i = 0; i < N_VARS; i++) {
		const struct var *v = &vars[i];
		const char *text = get(v->doc.name, arg);
		if (text == NULL || (text[0] == '\0' && v->kind != KIND_MEMSPEC))
			continue;
		/* A parser leaves its field untouched on error (so it keeps
		 * its default), except the memory cap, which records that it
		 * is invalid. */
		if (parse_var(v, text, cfg) == 0)
			continue;
		bad++;
		char shown[65];
		printable(text, shown, sizeof(shown));
		log_error("%s='%s' is not valid: expected %s; %s", v->doc.name, shown,
			  v->doc.type, safe_behaviour(v));
	}
	return bad;
}

static const char *env_getter(const char *name, void *arg)
{
	(void)arg;
	return getenv(name);
}

int config_load_env(struct cs_config *cfg)
{
	return config_load(cfg, env_getter, NULL);
}
