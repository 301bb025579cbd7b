/* fuzz_config.c - libFuzzer harness of the configuration parsers: the
 * CUSLICE_* variables (config_load in lib/config.c) and the node policy
 * file (policy_parse and policy_apply in lib/policy.c). The input is read
 * as lines NAME=VALUE, served to config_load as its environment and parsed
 * whole as a policy file. Beyond crashes and undefined behaviour, it checks
 * that every text field comes out terminated and that the count of bad
 * variables agrees with their bits. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "policy.h"

struct env {
	char *text; /* NUL-separated lines */
	size_t len;
};

static const char *lookup(const char *name, void *arg)
{
	const struct env *e = arg;
	size_t n = strlen(name);
	for (size_t off = 0; off < e->len; off += strlen(e->text + off) + 1) {
		const char *line = e->text + off;
		if (strncmp(line, name, n) == 0 && line[n] == '=')
			return line + n + 1;
	}
	return NULL;
}

static void ignore(const char *msg, void *arg)
{
	(void)msg, (void)arg;
}

static void check_terminated(const char *s, size_t size)
{
	if (memchr(s, '\0', size) == NULL)
		abort();
}

static void check_config(const struct cs_config *cfg)
{
	check_terminated(cfg->log_file, sizeof(cfg->log_file));
	check_terminated(cfg->trace, sizeof(cfg->trace));
	check_terminated(cfg->dir, sizeof(cfg->dir));
	check_terminated(cfg->group, sizeof(cfg->group));
	check_terminated(cfg->pod_name, sizeof(cfg->pod_name));
	check_terminated(cfg->pod_namespace, sizeof(cfg->pod_namespace));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct env e = { malloc(size + 1), size + 1 };
	if (e.text == NULL)
		return 0;
	memcpy(e.text, data, size);
	e.text[size] = '\0';
	for (size_t i = 0; i < size; i++)
		e.text[i] = e.text[i] == '\n' ? '\0' : e.text[i];
	struct cs_config *cfg = malloc(sizeof(*cfg));
	struct node_policy *p = malloc(sizeof(*p));
	if (cfg == NULL || p == NULL)
		goto out;
	int bad = config_load(cfg, lookup, &e);
	if (bad < 0 || (bad == 0) != (cfg->bad_vars == 0))
		abort();
	check_config(cfg);
	memset(p, 0, sizeof(*p));
	policy_parse((const char *)data, size, p, ignore, NULL);
	if (p->n > POLICY_ENTRIES_MAX)
		abort();
	policy_apply(p, cfg, ignore, NULL);
	check_config(cfg);
out:
	free(p);
	free(cfg);
	free(e.text);
	return 0;
}
