/* policy.c - `cuslice policy`: check, install and show a node policy.
 *
 * The node agent runs `cuslice policy install FILE` with the file of a
 * ConfigMap: the file is checked by the library's own reader and parser
 * (lib/policy.c) first, and written into the folder only when it has no
 * problem, through a temporary file and a rename, so that a process that
 * joins meanwhile reads the old policy or the new one, never a mix. A bad
 * file leaves the installed policy as it was and exits 1.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "config.h"
#include "policy.h"
#include "textfile.h"

static const char *nothing(const char *name, void *arg)
{
	(void)name, (void)arg;
	return NULL;
}

static void to_stderr(const char *msg, void *arg)
{
	fprintf(stderr, "cuslice policy: %s\n", msg);
	(*(int *)arg)++;
}

/* Reads and checks path; prints each setting the policy gives to out (NULL:
 * nothing). Returns the number of problems, -1 when there is no file. */
static int check(const char *path, FILE *out, int missing_ok)
{
	struct node_policy p;
	struct cs_config cfg;
	int problems = 0;
	int err = policy_read_file(path, &p, to_stderr, &problems);
	if (err == -ENOENT && missing_ok) {
		printf("no node policy (%s): processes use their own settings and the "
		       "defaults\n", path);
		return -1;
	}
	if (err == -ENOENT) {
		fprintf(stderr, "cuslice policy: %s does not exist\n", path);
		return -1;
	}
	config_load(&cfg, nothing, NULL); /* defaults only: every line is checked */
	policy_apply(&p, &cfg, to_stderr, &problems);
	for (unsigned i = 0; out != NULL && problems == 0 && i < p.n; i++)
		fprintf(out, "%s=%s\t(line %u)\n", p.entries[i].name, p.entries[i].value,
			p.entries[i].line);
	return problems;
}

/* Writes the checked text of src into dir/node-policy. */
static int install(const char *src, const char *dir)
{
	int problems = check(src, NULL, 0);
	if (problems != 0) {
		if (problems > 0)
			fprintf(stderr, "cuslice policy: %s has %d problem%s; the installed policy "
					"is left as it was\n", src, problems, problems == 1 ? "" : "s");
		return EXIT_PROBLEM;
	}
	char text[POLICY_SIZE_MAX + 1], dst[CONFIG_PATH_MAX + 16];
	FILE *f = fopen(src, "re");
	size_t len = f != NULL ? fread(text, 1, POLICY_SIZE_MAX, f) : 0;
	if (f == NULL || ferror(f)) {
		fprintf(stderr, "cuslice policy: cannot read %s: %s\n", src, strerror(errno));
		if (f != NULL)
			fclose(f);
		return EXIT_PROBLEM;
	}
	fclose(f);
	snprintf(dst, sizeof(dst), "%s/%s", dir, POLICY_FILE);
	int err = textfile_write(dst, text, len);
	if (err != 0) {
		fprintf(stderr, "cuslice policy: cannot write %s: %s\n", dst, strerror(-err));
		return EXIT_PROBLEM;
	}
	fprintf(stderr, "cuslice policy: installed %s as %s\n", src, dst);
	return 0;
}

int cmd_policy(const struct cli_command *self, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir_opt = NULL;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "+:", longopts, NULL)) != -1) {
		if (c != 'd')
			return cli_option_error(self, c, argv);
		dir_opt = optarg;
	}
	const char *action = optind < argc ? argv[optind] : "";
	int operands = argc - optind - 1;
	char dir[CONFIG_PATH_MAX], path[CONFIG_PATH_MAX + 16];
	if (strcmp(action, "show") == 0 && operands == 0) {
		cli_dir(dir_opt, dir, sizeof(dir));
		snprintf(path, sizeof(path), "%s/%s", dir, POLICY_FILE);
		return check(path, stdout, 1) > 0 ? EXIT_PROBLEM : 0;
	}
	/* A file the operator names may be a link (a ConfigMap's key is one):
	 * its target is checked, by the rules of an installed policy. */
	char src[PATH_MAX];
	if (operands == 1 && realpath(argv[optind + 1], src) == NULL)
		snprintf(src, sizeof(src), "%s", argv[optind + 1]);
	if (strcmp(action, "check") == 0 && operands == 1)
		return check(src, stdout, 0) != 0 ? EXIT_PROBLEM : 0;
	if (strcmp(action, "install") == 0 && operands == 1) {
		cli_dir(dir_opt, dir, sizeof(dir));
		return install(src, dir);
	}
	return cli_usage_error(self, "expected 'check FILE', 'install FILE' or 'show'");
}
