/* cuslice.c - the `cuslice` command: dispatch to a subcommand; see cli.h. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* `cuslice __probe`: the child `cuslice doctor` runs under LD_PRELOAD. It
 * says where the driver's launch symbol resolves; the library's trace file,
 * written at exit, is the proof doctor looks for. */
static int cmd_probe(void)
{
	void *sym = dlsym(RTLD_DEFAULT, "cuLaunchKernel");
	Dl_info info;
	if (sym != NULL && dladdr(sym, &info) != 0 && info.dli_fname != NULL)
		printf("cuLaunchKernel %s\n", info.dli_fname);
	else
		printf("cuLaunchKernel unresolved\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		cli_overview(stderr, cli_commands());
		return EXIT_USAGE;
	}
	const char *name = argv[1];
	if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0) {
		printf("cuslice %s\n", cli_version);
		return 0;
	}
	if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
		cli_overview(stdout, cli_commands());
		return 0;
	}
	if (strcmp(name, "__probe") == 0)
		return cmd_probe();
	if (strcmp(name, "__commands") == 0) {
		for (const struct cli_command *c = cli_commands(); c->name != NULL; c++)
			printf("%s\n", c->name);
		return 0;
	}
	const struct cli_command *c = cli_find(name);
	if (c == NULL) {
		fprintf(stderr, "cuslice: '%s' is not a command. See 'cuslice --help'.\n", name);
		return EXIT_USAGE;
	}
	if (cli_wants_help(c, argc - 1, argv + 1))
		return 0;
	return c->main(c, argc - 1, argv + 1);
}
