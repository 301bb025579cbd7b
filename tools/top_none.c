/* top_none.c - `cuslice top` in a cuslice built without ncurses (its -dev
 * package was missing at build time). */
#include "cli.h"

int cmd_top(const struct cli_command *self, int argc, char **argv)
{
	(void)self, (void)argc, (void)argv;
	fprintf(stderr, "cuslice top: not available: this cuslice was built without ncurses "
			"(-Dtop=disabled, or no libncurses-dev: install it and rebuild); 'cuslice status' shows the same "
			"data once\n");
	return EXIT_PROBLEM;
}
