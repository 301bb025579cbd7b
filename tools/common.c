/* common.c - what every subcommand shares: the version and the folder; see
 * cli.h. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "config.h"

/* meson's project version; the public header's where meson gave none. */
#ifdef CUSLICE_PROJECT_VERSION
const char cli_version[] = CUSLICE_PROJECT_VERSION;
#else
const char cli_version[] = CUSLICE_VERSION;
#endif

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

