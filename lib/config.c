/* config.c - the CUSLICE_* table and its parser; see config.h. */
#include "config.h"

#include "cuslice.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "size.h"

enum var_kind { KIND_ENUM, KIND_PATH, KIND_SIZE, KIND_UINT, KIND_NAME, KIND_MEMSPEC, KIND_LABEL };

struct var {
	struct config_var doc;
	enum var_kind kind;
	size_t offset;              /* into struct cs_config */
	const char *const *choices; /* KIND_ENUM: NULL-terminated, index = value */
	uint64_t min, max;          /* KIND_UINT; KIND_LABEL: max = field size */
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
	{ { "CUSLICE_MEM_LIMIT", "size | card/N | ORD=size,… | GPU-UUID=size,…", "(no cap)",
	    "Device memory cap for this process or its group, for every GPU or per GPU; "
	    "card/N is the card's memory divided by N." },
	  KIND_MEMSPEC, OFF(mem), NULL, 0, 0 },
	{ { "CUSLICE_GROUP", "name [A-Za-z0-9._-], up to 63", "(the process alone)",
	    "Processes with the same group on one GPU share one memory cap." },
	  KIND_NAME, OFF(group), NULL, 0, 0 },
	{ { "CUSLICE_MANAGED", "count|exclude", "count",
	    "Whether cuMemAllocManaged allocations are charged against the cap." },
	  KIND_ENUM, OFF(count_managed), managed_choices, 0, 0 },
	/* 704M: measured on the H100, docs/memory.md. */
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
	/* 80: from the H100 server+training runs, docs/benchmarks.md. */
	{ { "CUSLICE_HIGH_MAX_SHARE", "1..100", "80",
	    "Most GPU time (percent over a 1 s window) high members take while others wait." },
	  KIND_UINT, OFF(high_max_share), NULL, 1, 100 },
	{ { "CUSLICE_HIGH_QUEUE", "0..16", "2",
	    "While a high member of few launches per request is active, at most this many of a normal or low member's launches stay queued. 0: no bound." },
	  KIND_UINT, OFF(high_queue), NULL, 0, 16 },
	{ { "CUSLICE_RING", "on|off", "on",
	    "Time slicing through the token ring; off keeps only memory caps and tracing." },
	  KIND_ENUM, OFF(ring), onoff_choices, 0, 0 },
	{ { "CUSLICE_POD_NAME", "Kubernetes pod name, up to 253", "(none)",
	    "The pod's name, shown by cuslice status and as the metrics' pod label." },
	  KIND_LABEL, OFF(pod_name), NULL, 0, CONFIG_POD_NAME_MAX },
	{ { "CUSLICE_POD_NAMESPACE", "Kubernetes namespace, up to 63", "(none)",
	    "The pod's namespace, shown by cuslice status and as the metrics' namespace label." },
	  KIND_LABEL, OFF(pod_namespace), NULL, 0, CONFIG_NAMESPACE_MAX },
	{ { "CUSLICE_BACKFILL_US", "0..100000", "0",
	    "Loans: an idle holder lends the GPU to a waiter; its next launch waits at most this long for it back. 0: no loans." },
	  KIND_UINT, OFF(backfill_us), NULL, 0, 100000 },
	{ { "CUSLICE_TIMELINE", "path", "(none)",
	    "Record waits, holds, drains and loans as Trace Event JSON (Perfetto); %p becomes the pid." },
	  KIND_PATH, OFF(timeline), NULL, 0, 0 },
};

#define N_VARS (sizeof(vars) / sizeof(vars[0]))
_Static_assert(N_VARS <= CONFIG_VARS_MAX, "cs_config.source has no room for every variable");

/* How a Kubernetes pod sets each variable (config_var.pod) and which ones a
 * node policy may give (config_var.policy). The injection policies in
 * deploy/kubernetes are checked against this list (tests/deploy, through
 * `cuslice help pod`), so that the pod spec and the library cannot drift. */
static const struct {
	const char *name, *pod;
	int policy;
} pod_vars[] = {
	{ "CUSLICE_DIR", "mount", 0 },
	{ "CUSLICE_GROUP", "field:metadata.uid", 0 },
	{ "CUSLICE_POD_NAME", "field:metadata.name", 0 },
	{ "CUSLICE_POD_NAMESPACE", "field:metadata.namespace", 0 },
	{ "CUSLICE_MEM_LIMIT", "annotation:cuslice.io/memory", 1 },
	{ "CUSLICE_WEIGHT", "annotation:cuslice.io/weight", 1 },
	{ "CUSLICE_PRIORITY", "annotation:cuslice.io/priority", 1 },
};

static int pod_index(const char *name)
{
	for (size_t k = 0; k < sizeof(pod_vars) / sizeof(pod_vars[0]); k++) {
		if (strcmp(pod_vars[k].name, name) == 0)
			return (int)k;
	}
	return -1;
}

const char *config_pod_source(const char *name)
{
	int k = pod_index(name);
	return k < 0 ? NULL : pod_vars[k].pod;
}

int config_policy_var(const char *name)
{
	int k = pod_index(name);
	return k < 0 ? 0 : pod_vars[k].policy;
}

/* The bit of each variable in cs_config.bad_vars, which members publish in
 * the shared file (cs_member.bad_vars) for `cuslice status`: the index here.
 * Append only: readers of other builds decode the bits with this list. */
static const char *const var_bits[] = {
	"CUSLICE_LOG", "CUSLICE_LOG_FILE", "CUSLICE_TRACE", "CUSLICE_DIR", "CUSLICE_MEM_LIMIT",
	"CUSLICE_GROUP", "CUSLICE_MANAGED", "CUSLICE_CTX_RESERVE", "CUSLICE_WEIGHT",
	"CUSLICE_SLICE_MS", "CUSLICE_DRAIN_TIMEOUT_MS", "CUSLICE_HOLD_TIMEOUT_MS",
	"CUSLICE_PRIORITY", "CUSLICE_HIGH_MAX_SHARE", "CUSLICE_RING", "CUSLICE_HIGH_QUEUE",
};

#define N_BITS (sizeof(var_bits) / sizeof(var_bits[0]))
_Static_assert(N_BITS < CONFIG_BAD_OTHER, "bad_vars has no bit left");

uint32_t config_var_bit(const char *name)
{
	for (unsigned i = 0; i < N_BITS; i++) {
		if (strcmp(var_bits[i], name) == 0)
			return UINT32_C(1) << i;
	}
	return UINT32_C(1) << CONFIG_BAD_OTHER;
}

const char *config_bad_var_name(unsigned bit)
{
	if (bit < N_BITS)
		return var_bits[bit];
	return bit < 32 ? "another CUSLICE_ variable" : NULL;
}

int config_bad_vars_text(uint32_t bad_vars, char *out, size_t len)
{
	size_t o = 0;
	int n = 0;
	if (len > 0)
		out[0] = '\0';
	for (unsigned bit = 0; bit < 32; bit++) {
		if (!(bad_vars & (UINT32_C(1) << bit)))
			continue;
		int w = snprintf(out + o, o < len ? len - o : 0, "%s%s", n ? ", " : "",
				 config_bad_var_name(bit));
		if (w > 0)
			o += (size_t)w;
		n++;
	}
	return n;
}

const struct config_var *config_vars(size_t *count)
{
	static struct config_var docs[N_VARS];
	for (size_t i = 0; i < N_VARS; i++)
		docs[i] = vars[i].doc;
	*count = N_VARS;
	return docs;
}

static int parse_var(const struct var *v, const char *text, struct cs_config *cfg);

/* The defaults are the table's: a default shown in parentheses is a
 * description ("(no cap)"), and stands for the zero value. */
static void set_defaults(struct cs_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < N_VARS; i++) {
		if (vars[i].doc.def[0] != '(')
			parse_var(&vars[i], vars[i].doc.def, cfg);
	}
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

/* A name of [A-Za-z0-9._-] that fits in size bytes with its NUL. */
static int parse_name(const char *text, char *out, size_t size)
{
	size_t n = strlen(text);
	if (n == 0 || n >= size)
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
	if (eq == NULL && strncasecmp(item, "card/", 5) == 0) {
		uint64_t div;
		if (m->all != 0 || m->card_div != 0 ||
		    uint_parse(item + 5, 1, MEMSPEC_CARD_DIV_MAX, &div) != 0)
			return -EINVAL;
		m->card_div = (uint32_t)div;
		return 0;
	}
	if (eq == NULL) {
		if (m->all != 0 || m->card_div != 0 || size_parse(item, &cap) != 0 || cap == 0)
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
	if (m->all == 0 && m->card_div == 0 && m->n == 0)
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
	return memspec_cap_card(m, ordinal, uuid, 0, cap);
}

int memspec_cap_card(const struct memspec *m, int ordinal, const char *uuid,
		     uint64_t card_total, uint64_t *cap)
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
	if (m->card_div != 0) {
		if (card_total == 0)
			return -EINVAL;
		*cap = card_total / m->card_div;
		return 0;
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
		if (size_parse(text, &u) != 0 || u > CONFIG_SIZE_MAX)
			return -ERANGE;
		*(uint64_t *)field = u;
		return 0;
	case KIND_UINT:
		if (uint_parse(text, v->min, v->max, &u) != 0)
			return -EINVAL;
		*(uint32_t *)field = (uint32_t)u;
		return 0;
	case KIND_NAME:
		return parse_name(text, field, CONFIG_GROUP_MAX);
	case KIND_LABEL:
		return parse_name(text, field, (size_t)v->max);
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
	if (v->kind != KIND_MEMSPEC && config_policy_var(v->doc.name))
		return "using the node policy's value, else the default";
	if (v->kind == KIND_MEMSPEC)
		return "every allocation is refused until it is fixed (a cap is never lifted silently)";
	if (v->offset == OFF(log_level))
		return "errors are logged, so that this one is seen";
	if (v->offset == OFF(dir))
		return "no shared file is used (the default folder would be another sharing "
		       "domain): memory caps hold per process and there is no time slicing";
	return "using the default";
}

/* A bad value of some variables has a safe behaviour other than the
 * default; the others keep the default their parser left untouched. */
static void apply_safe_behaviour(const struct var *v, struct cs_config *cfg)
{
	if (v->offset == OFF(log_level))
		cfg->log_level = LOG_ERROR; /* asked for messages: do not hide this one */
	else if (v->offset == OFF(dir)) {
		cfg->dir_invalid = 1;
		cfg->dir[0] = '\0';
	}
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
		if (v->kind == KIND_MEMSPEC)
			cfg->source[i] = SOURCE_ENV; /* even invalid: it is never replaced */
		if (parse_var(v, text, cfg) == 0) {
			cfg->source[i] = SOURCE_ENV;
			continue;
		}
		bad++;
		cfg->bad_vars |= config_var_bit(v->doc.name);
		apply_safe_behaviour(v, cfg);
		char shown[65];
		printable(text, shown, sizeof(shown));
		log_error("%s='%s' is not valid: expected %s; %s", v->doc.name, shown,
			  v->doc.type, safe_behaviour(v));
	}
	return bad;
}

int config_var_index(const char *name)
{
	for (size_t i = 0; i < N_VARS; i++) {
		if (strcmp(vars[i].doc.name, name) == 0)
			return (int)i;
	}
	return -ENOENT;
}

int config_source(const struct cs_config *cfg, const char *name)
{
	int i = config_var_index(name);
	return i < 0 ? SOURCE_DEFAULT : cfg->source[i];
}

int config_set(struct cs_config *cfg, const char *name, const char *text,
	       enum config_source source)
{
	int i = config_var_index(name);
	if (i < 0)
		return i;
	int err = parse_var(&vars[i], text, cfg);
	if (err == 0 || vars[i].kind == KIND_MEMSPEC)
		cfg->source[i] = (unsigned char)source;
	return err == 0 ? 0 : (err == -ERANGE ? -ERANGE : -EINVAL);
}

const char *config_expected(const char *name)
{
	int i = config_var_index(name);
	return i < 0 ? NULL : vars[i].doc.type;
}

const char *config_bad_value_effect(const char *name)
{
	int i = config_var_index(name);
	return i < 0 ? NULL : safe_behaviour(&vars[i]);
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
