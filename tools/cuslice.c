/* cuslice.c - the `cuslice` command: dispatch to a subcommand; see cli.h. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"

/* meson's project version; the public header's where meson gave none. */
#ifdef CUSLICE_PROJECT_VERSION
const char cli_version[] = CUSLICE_PROJECT_VERSION;
#else
const char cli_version[] = CUSLICE_VERSION;
#endif

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

void cli_dir(const char *option, char *out, size_t len)
{
	if (option != NULL && option[0] != '\0') {
		snprintf(out, len, "%s", option);
		return;
	}
	struct cs_config cfg;
	config_load_env(&cfg); /* the library's own reading of CUSLICE_DIR */
	if (cfg.dir_invalid) {
		/* Never the default folder instead: that is another ring. */
		fprintf(stderr, "cuslice: CUSLICE_DIR is not a usable path (longer than %d "
				"bytes?); the library uses no shared file with it; pass --dir\n",
			CONFIG_PATH_MAX - 1);
		exit(EXIT_USAGE);
	}
	snprintf(out, len, "%s", cfg.dir);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		cli_overview(stderr);
		return EXIT_USAGE;
	}
	const char *name = argv[1];
	if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0) {
		printf("cuslice %s\n", cli_version);
		return 0;
	}
	if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
		cli_overview(stdout);
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
	return c->main(argc - 1, argv + 1);
}
