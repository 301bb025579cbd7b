/* run.c - `cuslice run`: a command under libcuslice.so, with its settings.
 *
 * Every value is checked by the library's own parser (config_load() on that
 * one variable), so `cuslice run` accepts exactly what the library accepts,
 * and the error names the accepted form from the library's table. Then the
 * command replaces cuslice (execvp): same pid, its own exit status and
 * signals, nothing of cuslice left running.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"

struct setting {
	const char *option;   /* as the user wrote it */
	const char *var;
	const char *value;
};

enum { OPT_MEM = 256, OPT_GROUP, OPT_WEIGHT, OPT_SLICE, OPT_PRIORITY, OPT_TRACE, OPT_DIR };

static const struct {
	int id;
	const char *option;
	const char *var;
} option_vars[] = {
	{ OPT_MEM, "--mem", "CUSLICE_MEM_LIMIT" },
	{ OPT_GROUP, "--group", "CUSLICE_GROUP" },
	{ OPT_WEIGHT, "--weight", "CUSLICE_WEIGHT" },
	{ OPT_SLICE, "--slice-ms", "CUSLICE_SLICE_MS" },
	{ OPT_PRIORITY, "--priority", "CUSLICE_PRIORITY" },
	{ OPT_TRACE, "--trace", "CUSLICE_TRACE" },
	{ OPT_DIR, "--dir", "CUSLICE_DIR" },
};

#define N_OPTIONS (sizeof(option_vars) / sizeof(option_vars[0]))

static const char *only_one(const char *name, void *arg)
{
	const struct setting *s = arg;
	return strcmp(name, s->var) == 0 ? s->value : NULL;
}

static const char *accepted_form(const char *var)
{
	size_t n;
	const struct config_var *v = config_vars(&n);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].name, var) == 0)
			return v[i].type;
	}
	return "?";
}

/* Nonzero when the library would accept the value. */
static int valid(const struct setting *s)
{
	struct cs_config cfg;
	if (s->value[0] == '\0')
		return 0; /* the library reads "" as unset: not what was meant */
	return config_load(&cfg, only_one, (void *)s) == 0;
}

/* CUSLICE_TRACE relative to where cuslice ran, not where the command
 * might chdir to before it exits. */
static const char *absolute(const char *path, char *buf, size_t len)
{
	if (path[0] == '/' || path[0] == '\0')
		return path;
	char cwd[PATH_MAX];
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		return path;
	int w = snprintf(buf, len, "%s/%s", cwd, path);
	return w > 0 && (size_t)w < len ? buf : path;
}

static int is_cuslice_lib(const char *entry, size_t n)
{
	static const char name[] = "libcuslice.so";
	size_t k = sizeof(name) - 1;
	return n >= k && memcmp(entry + n - k, name, k) == 0 &&
	       (n == k || entry[n - k - 1] == '/');
}

/* lib first, then the entries of old (split at ':' or ' ', as ld.so does)
 * but any libcuslice.so. Returns 0 or -ENAMETOOLONG. */
static int preload_list(const char *lib, const char *old, char *out, size_t len)
{
	size_t o = (size_t)snprintf(out, len, "%s", lib);
	if (o >= len)
		return -ENAMETOOLONG;
	for (const char *p = old != NULL ? old : ""; *p != '\0';) {
		size_t n = strcspn(p, ": ");
		if (n > 0 && !is_cuslice_lib(p, n)) {
			if (o + 1 + n >= len)
				return -ENAMETOOLONG;
			out[o++] = ':';
			memcpy(out + o, p, n);
			o += n;
			out[o] = '\0';
		}
		p += n;
		p += strspn(p, ": ");
	}
	return 0;
}

static int exec_command(char **argv)
{
	execvp(argv[0], argv);
	int err = errno;
	if (err == ENOENT) {
		if (strchr(argv[0], '/') != NULL)
			fprintf(stderr, "cuslice run: %s: No such file or directory\n", argv[0]);
		else
			fprintf(stderr, "cuslice run: %s: command not found\n", argv[0]);
		return 127;
	}
	fprintf(stderr, "cuslice run: %s: %s\n", argv[0], strerror(err));
	return 126;
}

static int parse(const struct cli_command *self, int argc, char **argv, struct setting *set,
		 unsigned cap, unsigned *n)
{
	static const struct option longopts[] = {
		{ "mem", required_argument, NULL, OPT_MEM },
		{ "group", required_argument, NULL, OPT_GROUP },
		{ "weight", required_argument, NULL, OPT_WEIGHT },
		{ "slice-ms", required_argument, NULL, OPT_SLICE },
		{ "priority", required_argument, NULL, OPT_PRIORITY },
		{ "trace", required_argument, NULL, OPT_TRACE },
		{ "dir", required_argument, NULL, OPT_DIR },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	opterr = 0;
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		if (c == 'h') {
			cli_usage(stdout, self);
			return -1;
		}
		if (c == '?' || c == ':')
			return cli_option_error(self, c, argv);
		if (*n == cap)
			return cli_usage_error(self, "too many options");
		for (unsigned i = 0; i < N_OPTIONS; i++) {
			if (option_vars[i].id != c)
				continue;
			set[*n].option = option_vars[i].option;
			set[*n].var = option_vars[i].var;
			set[*n].value = optarg;
			(*n)++;
		}
	}
	if (optind >= argc)
		return cli_usage_error(self, "no command to run");
	return 0;
}

int cmd_run(const struct cli_command *self, int argc, char **argv)
{
	struct setting set[16 * N_OPTIONS];
	unsigned n = 0;
	int err = parse(self, argc, argv, set, sizeof(set) / sizeof(set[0]), &n);
	if (err != 0)
		return err < 0 ? 0 : err;
	char trace_buf[2 * PATH_MAX];
	for (unsigned i = 0; i < n; i++) {
		if (strcmp(set[i].var, "CUSLICE_TRACE") == 0)
			set[i].value = absolute(set[i].value, trace_buf, sizeof(trace_buf));
		if (!valid(&set[i]))
			return cli_usage_error(self, "%s '%s' is not valid: expected %s (%s)",
					       set[i].option, set[i].value,
					       accepted_form(set[i].var), set[i].var);
	}

	char lib[PATH_MAX], tried[2048];
	if (libpath_find(lib, sizeof(lib), tried, sizeof(tried)) != 0) {
		fprintf(stderr, "cuslice run: libcuslice.so not found; looked at:\n%s\n"
				"Set CUSLICE_LIB to its path.\n", tried);
		return EXIT_PROBLEM;
	}
	char preload[8192];
	if (preload_list(lib, getenv("LD_PRELOAD"), preload, sizeof(preload)) != 0) {
		fprintf(stderr, "cuslice run: LD_PRELOAD is too long\n");
		return EXIT_PROBLEM;
	}
	if (setenv("LD_PRELOAD", preload, 1) != 0)
		goto no_env;
	for (unsigned i = 0; i < n; i++) {
		if (setenv(set[i].var, set[i].value, 1) != 0)
			goto no_env;
	}
	return exec_command(argv + optind);
no_env:
	fprintf(stderr, "cuslice run: cannot set the environment: %s\n", strerror(errno));
	return EXIT_PROBLEM;
}
