/* http_none.c - `cuslice metrics --listen` in a cuslice built without
 * libmicrohttpd (its -dev package was missing at build time). */
#include "cli.h"

int http_serve(const char *listen, const char *dir)
{
	(void)listen, (void)dir;
	fprintf(stderr, "cuslice metrics: --listen is not available: this cuslice was built "
			"without libmicrohttpd (-Dhttp=disabled, or no libmicrohttpd-dev: install it and rebuild), use "
			"--textfile with node-exporter instead\n");
	return EXIT_PROBLEM;
}
