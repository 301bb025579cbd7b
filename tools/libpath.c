/* libpath.c - where libcuslice.so is, relative to the cuslice binary.
 *
 * No path of the build machine is compiled in: an installed cuslice finds
 * the library through its own location (bin/ -> the prefix -> the library
 * folder meson installed it to), a cuslice in a meson build tree finds it
 * in ../hooks/, and CUSLICE_LIB overrides both.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#ifndef CUSLICE_LIBDIR
#define CUSLICE_LIBDIR "lib"   /* get_option('libdir'), relative to the prefix */
#endif
#ifndef CUSLICE_BINDIR
#define CUSLICE_BINDIR "bin"
#endif

#define LIB_NAME "libcuslice.so"

/* Appends "../" for each component of a relative bindir ("bin" -> "../"). */
static void up_from_bindir(char *out, size_t len)
{
	out[0] = '\0';
	if (CUSLICE_BINDIR[0] == '/')
		return;
	size_t o = 0;
	for (const char *p = CUSLICE_BINDIR; *p != '\0';) {
		size_t n = strcspn(p, "/");
		if (n > 0 && o + 3 < len) {
			memcpy(out + o, "../", 3);
			o += 3;
		}
		p += n;
		p += strspn(p, "/");
	}
	out[o] = '\0';
}

static int try_path(const char *path, char *out, size_t len, char *tried, size_t triedlen)
{
	size_t used = strlen(tried);
	if (used < triedlen)
		snprintf(tried + used, triedlen - used, "%s  %s", used ? "\n" : "", path);
	if (access(path, R_OK) != 0)
		return -ENOENT;
	char real[PATH_MAX];
	if (realpath(path, real) == NULL || strlen(real) >= len)
		return -ENOENT;
	strcpy(out, real);
	return 0;
}

int libpath_find(char *out, size_t len, char *tried, size_t triedlen)
{
	tried[0] = '\0';
	const char *env = getenv("CUSLICE_LIB");
	if (env != NULL && env[0] != '\0')
		return try_path(env, out, len, tried, triedlen);

	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -ENOENT;
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (slash == NULL)
		return -ENOENT;
	*slash = '\0';

	char up[64];
	up_from_bindir(up, sizeof(up));
	char libdir_rel[PATH_MAX] = "";
	if (CUSLICE_LIBDIR[0] != '/' && up[0] != '\0')
		snprintf(libdir_rel, sizeof(libdir_rel), "%s%s", up, CUSLICE_LIBDIR);
	const char *places[] = { ".", libdir_rel, "../lib", "../lib64", "../hooks" };
	for (size_t i = 0; i < sizeof(places) / sizeof(places[0]); i++) {
		if (places[i][0] == '\0')
			continue;
		char path[PATH_MAX + 64];
		if (strcmp(places[i], ".") == 0)
			snprintf(path, sizeof(path), "%s/%s", exe, LIB_NAME);
		else
			snprintf(path, sizeof(path), "%s/%s/%s", exe, places[i], LIB_NAME);
		if (try_path(path, out, len, tried, triedlen) == 0)
			return 0;
	}
	return -ENOENT;
}
