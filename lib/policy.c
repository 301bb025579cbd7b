/* policy.c - the node policy; see policy.h for the design. */
#include "policy.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static void say(policy_reporter *report, void *arg, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void say(policy_reporter *report, void *arg, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	report(msg, arg);
}

/* A value as it can be shown in one message: control characters become
 * '?', cut to len - 1 bytes. */
static void shown(const char *text, size_t n, char *out, size_t len)
{
	size_t i = 0;
	for (; i < n && i < len - 1; i++)
		out[i] = iscntrl((unsigned char)text[i]) ? '?' : text[i];
	out[i] = '\0';
}

/* Cuts spaces off both ends of [*s, *e). */
static void trim(const char **s, const char **e)
{
	while (*s < *e && isspace((unsigned char)**s))
		(*s)++;
	while (*e > *s && isspace((unsigned char)(*e)[-1]))
		(*e)--;
}

/* Parses one line [s, e) that is neither blank nor a comment. Returns 0 or
 * -EINVAL after reporting. */
static int parse_line(const char *s, const char *e, unsigned line, struct node_policy *p,
		      policy_reporter *report, void *arg)
{
	char text[80];
	const char *eq = memchr(s, '=', (size_t)(e - s));
	shown(s, (size_t)(e - s), text, sizeof(text));
	if (eq == NULL) {
		say(report, arg, "%s line %u: '%s' is not NAME=VALUE", p->origin, line, text);
		return -EINVAL;
	}
	const char *ns = s, *ne = eq, *vs = eq + 1, *ve = e;
	trim(&ns, &ne);
	trim(&vs, &ve);
	char name[POLICY_NAME_MAX]; /* entries[n] exists only below the limit */
	size_t nlen = (size_t)(ne - ns), vlen = (size_t)(ve - vs);
	if (nlen == 0 || nlen >= sizeof(name)) {
		say(report, arg, "%s line %u: '%s' is not NAME=VALUE", p->origin, line, text);
		return -EINVAL;
	}
	memcpy(name, ns, nlen);
	name[nlen] = '\0';
	if (!config_policy_var(name)) {
		say(report, arg, "%s line %u: %s is not a setting a node policy gives "
			    "(CUSLICE_MEM_LIMIT, CUSLICE_WEIGHT, CUSLICE_PRIORITY)",
		    p->origin, line, text);
		return -EINVAL;
	}
	if (p->n == POLICY_ENTRIES_MAX) {
		say(report, arg, "%s line %u: more than %d settings", p->origin, line,
		    POLICY_ENTRIES_MAX);
		return -EINVAL;
	}
	struct policy_entry *ent = &p->entries[p->n];
	memcpy(ent->name, name, sizeof(name));
	/* A value too long for any setting is kept as an empty one, which
	 * policy_apply() rejects with the variable's safe behaviour. */
	if (vlen >= sizeof(ent->value))
		vlen = 0;
	memcpy(ent->value, vs, vlen);
	ent->value[vlen] = '\0';
	ent->line = line;
	p->n++;
	return 0;
}

int policy_parse(const char *text, size_t len, struct node_policy *p,
		 policy_reporter *report, void *arg)
{
	int bad = 0;
	unsigned line = 0;
	p->n = 0;
	for (const char *s = text, *end = text + len; s < end;) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *e = nl != NULL ? nl : end;
		const char *hash = memchr(s, '#', (size_t)(e - s));
		const char *ce = hash != NULL ? hash : e, *cs = s;
		line++;
		trim(&cs, &ce);
		if (memchr(s, '\0', (size_t)(e - s)) != NULL) {
			say(report, arg, "%s line %u: holds a NUL byte: not a text file",
			    p->origin, line);
			bad++;
		} else if (cs < ce && parse_line(cs, ce, line, p, report, arg) != 0) {
			bad++;
		}
		s = e + 1;
	}
	return bad;
}

/* Reads the whole file into buf (size POLICY_SIZE_MAX + 1). Returns its
 * length or a negative errno; -EFBIG when it is larger than the limit. */
static ssize_t read_whole(int fd, char *buf)
{
	size_t got = 0;
	while (got <= POLICY_SIZE_MAX) {
		ssize_t r = read(fd, buf + got, POLICY_SIZE_MAX + 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return (ssize_t)got;
		got += (size_t)r;
	}
	return -EFBIG;
}

int policy_read(const char *dir, struct node_policy *p, policy_reporter *report, void *arg)
{
	char path[CONFIG_PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/%s", dir, POLICY_FILE);
	return policy_read_file(path, p, report, arg);
}

/* Whether st's owner is the owner of the folder that holds path. */
static int owns_folder(const char *path, uid_t uid)
{
	char folder[CONFIG_PATH_MAX + 16];
	struct stat st;
	snprintf(folder, sizeof(folder), "%s", path);
	char *slash = strrchr(folder, '/');
	if (slash == NULL)
		snprintf(folder, sizeof(folder), ".");
	else
		slash[slash == folder] = '\0'; /* "/node-policy" lies in "/" */
	return stat(folder, &st) == 0 && st.st_uid == uid;
}

/* Why a policy file described by st must not be trusted, or NULL. In a
 * folder every user may write (mode 1777), anyone could have put it there. */
static const char *distrust(const char *path, const struct stat *st)
{
	if (!S_ISREG(st->st_mode))
		return "not a regular file";
	if (st->st_uid != 0 && st->st_uid != geteuid() && !owns_folder(path, st->st_uid))
		return "owned by neither root, this process's user nor the folder's owner";
	if (st->st_mode & 022)
		return "writable by group or others";
	return NULL;
}

/* Reports and returns -EPERM when the file is not trusted (fd < 0: the
 * open failed, so the name is looked at instead); 0 otherwise. */
static int refuse_untrusted(int fd, const char *path, const struct node_policy *p,
			    policy_reporter *report, void *arg)
{
	struct stat st;
	int err = errno;
	if ((fd >= 0 ? fstat(fd, &st) : lstat(path, &st)) != 0) {
		errno = err;
		return 0; /* the read reports what is wrong */
	}
	const char *why = distrust(path, &st);
	errno = err;
	if (why == NULL)
		return 0;
	say(report, arg, "%s refused and ignored (defaults apply): owner uid %u, mode %04o: %s; "
		    "install it as root with cuslice policy install FILE", p->origin,
	    (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777), why);
	return -EPERM;
}

int policy_read_file(const char *path, struct node_policy *p, policy_reporter *report,
		     void *arg)
{
	char buf[POLICY_SIZE_MAX + 1];
	memset(p, 0, sizeof(*p));
	snprintf(p->origin, sizeof(p->origin), "node policy %s", path);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0 && errno == ENOENT)
		return -ENOENT;
	if (refuse_untrusted(fd, path, p, report, arg) != 0) {
		if (fd >= 0)
			close(fd);
		return -EPERM;
	}
	ssize_t len = fd < 0 ? -errno : read_whole(fd, buf);
	if (fd >= 0)
		close(fd);
	if (len < 0) {
		p->unreadable = 1;
		say(report, arg, "%s cannot be read: %s", p->origin,
		    len == -EFBIG ? "larger than 4096 bytes" : strerror((int)-len));
		return (int)len;
	}
	policy_parse(buf, (size_t)len, p, report, arg);
	return 0;
}

/* The safe behaviour of a policy that cannot be read: a cap it may have
 * held is not lifted. */
static int apply_unreadable(struct cs_config *cfg, policy_reporter *report, void *arg,
			    const char *origin)
{
	if (config_source(cfg, "CUSLICE_MEM_LIMIT") != SOURCE_DEFAULT)
		return 0;
	config_set(cfg, "CUSLICE_MEM_LIMIT", "", SOURCE_POLICY); /* records "invalid" */
	say(report, arg, "%s: the process declares no cap of its own, so every "
		    "allocation is refused until the policy is fixed (a cap is never lifted "
		    "silently)", origin);
	return 1;
}

int policy_apply(const struct node_policy *p, struct cs_config *cfg,
		 policy_reporter *report, void *arg)
{
	int bad = 0;
	if (p->unreadable)
		return apply_unreadable(cfg, report, arg, p->origin);
	for (unsigned i = 0; i < p->n; i++) {
		const struct policy_entry *e = &p->entries[i];
		if (config_source(cfg, e->name) != SOURCE_DEFAULT)
			continue; /* the process's own value wins */
		if (config_set(cfg, e->name, e->value, SOURCE_POLICY) == 0)
			continue;
		char text[65];
		shown(e->value, strlen(e->value), text, sizeof(text));
		say(report, arg, "%s line %u: %s='%s' is not valid: expected %s; %s", p->origin,
		    e->line, e->name, text, config_expected(e->name),
		    strcmp(e->name, "CUSLICE_MEM_LIMIT") == 0 ? config_bad_value_effect(e->name)
							       : "using the default");
		bad++;
	}
	return bad;
}

/* Logs a message and counts it in *(int *)arg. */
static void to_log(const char *msg, void *arg)
{
	log_error("%s", msg);
	(*(int *)arg)++;
}

int policy_load(struct cs_config *cfg)
{
	struct node_policy p;
	int problems = 0;
	if (cfg->dir[0] == '\0' || policy_read(cfg->dir, &p, to_log, &problems) == -ENOENT)
		return 0;
	policy_apply(&p, cfg, to_log, &problems);
	return problems;
}

const char *policy_source_name(int source)
{
	switch (source) {
	case SOURCE_POLICY:
		return "policy";
	case SOURCE_ENV:
		return "env";
	default:
		return "default";
	}
}
