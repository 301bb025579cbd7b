/* policy.h - the node policy: defaults for the processes of one node.
 *
 * DESIGN
 * A node's operator (on Kubernetes: the cuslice-node agent, from a
 * ConfigMap) writes one small text file, $CUSLICE_DIR/node-policy, next to
 * the per-GPU files. It gives the default cap, weight and priority of every
 * process that declares none, so that on a node whose GPU is shared by N
 * pods a pod that says nothing cannot take the whole card:
 *
 *     # cuslice node policy
 *     CUSLICE_MEM_LIMIT=card/10     # or a size: 8G
 *     CUSLICE_WEIGHT=1
 *     CUSLICE_PRIORITY=normal
 *
 * Lines are NAME=VALUE (spaces around '=' allowed), '#' starts a comment.
 * Only the variables whose table entry says `policy` may appear, and each
 * value is parsed by config.c's own parser, so a value means exactly what
 * the same variable means in the environment.
 *
 * Who writes what: the agent writes the file whole (temporary name, then
 * rename), so a reader sees the old or the new policy, never a mix. Every
 * process reads it once, when it loads its configuration (before it joins
 * any GPU), and never again: a new policy applies to processes started
 * after it.
 *
 * Precedence: the process's own variable, when it holds a valid value,
 * wins; then the policy; then the table's default. config_source() says
 * which one each setting came from, and each member publishes that in its
 * slot (cs_member.sources) for `cuslice status` and the metrics.
 *
 * Bad input gets the treatment a bad variable gets: one message naming the
 * file, the line and the accepted form; the workload keeps running. A bad
 * weight or priority falls back to the default; a bad cap, or a policy file
 * that exists but cannot be read whole, refuses allocations until it is
 * fixed when the process declares no cap of its own (a cap is never lifted
 * silently). The file is never trusted to be small, text or well formed,
 * nor to be the operator's: one that another local user could have written
 * is refused and ignored (policy_read).
 */
#ifndef CUSLICE_POLICY_H
#define CUSLICE_POLICY_H

#include <stddef.h>

#include "config.h"

#define POLICY_FILE "node-policy"
enum { POLICY_SIZE_MAX = 4096, POLICY_ENTRIES_MAX = 8, POLICY_NAME_MAX = 48,
       POLICY_VALUE_MAX = 200 };

struct policy_entry {
	char name[POLICY_NAME_MAX];
	char value[POLICY_VALUE_MAX];
	unsigned line;
};

struct node_policy {
	char origin[CONFIG_PATH_MAX + 32]; /* "node policy <path>", for messages */
	int unreadable;                    /* exists but could not be read whole */
	unsigned n;
	struct policy_entry entries[POLICY_ENTRIES_MAX];
};

/* Receives one message about the policy (no trailing newline). */
typedef void policy_reporter(const char *msg, void *arg);

/* Parses the text of a policy. Every line that is not a comment, blank or
 * NAME=VALUE with a policy variable's name is reported and skipped. Values
 * are not checked here (policy_apply does). Returns the number of problems
 * reported. */
int policy_parse(const char *text, size_t len, struct node_policy *p,
		 policy_reporter *report, void *arg);

/* Reads dir/node-policy into *p. Returns 0, -ENOENT when there is no
 * policy (*p empty, nothing reported), -EPERM after reporting that the file
 * is refused (*p empty: the policy is ignored, as if absent), or another
 * negative errno after reporting why the file cannot be read (then
 * p->unreadable is set). A file is refused when it is not a regular file
 * (a symbolic link, a FIFO, a folder), is writable by group or others, or
 * is owned by neither root, the effective uid nor the owner of the folder
 * it lies in: the ring folder is usually writable by every user, and a
 * refused file is ignored rather than failing closed, so a file another
 * user put there cannot set or break anyone's defaults. Parse problems are
 * reported but are not an error of the read: the good lines are kept. */
int policy_read(const char *dir, struct node_policy *p, policy_reporter *report, void *arg);

/* policy_read() for a file of any name (the CLI checks a ConfigMap's file
 * before installing it). */
int policy_read_file(const char *path, struct node_policy *p, policy_reporter *report,
		     void *arg);

/* Applies the policy to the settings of *cfg whose source is still the
 * default (config_load() filled it from the environment). Bad values are
 * reported and get their variable's safe behaviour. Returns the number of
 * problems reported. */
int policy_apply(const struct node_policy *p, struct cs_config *cfg,
		 policy_reporter *report, void *arg);

/* policy_read() and policy_apply() for cfg->dir, reporting through
 * log_error. Returns the number of problems (0 with no policy). */
int policy_load(struct cs_config *cfg);

/* "default", "policy" or "env". */
const char *policy_source_name(int source);

#endif
