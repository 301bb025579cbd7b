/* report.h - how the route programs tell test_routes.py what happened.
 *
 * Every program prints "key value..." lines on stdout and nothing else, so
 * that a run with LD_PRELOAD and one without can be compared line by line:
 * results (CUresult codes, sizes) must be identical, and where a function
 * pointer is printed, owner() names the library that defines it (our hook
 * lives in libcuslice.so, the driver's function in libcuda.so.1) and the
 * exported name it has there.
 */
#ifndef ROUTES_REPORT_H
#define ROUTES_REPORT_H

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static inline void say(const char *key, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static inline void say(const char *key, const char *fmt, ...)
{
	va_list ap;
	printf("%s ", key);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* "<library basename> <symbol>" of a function pointer, "none none" for NULL,
 * "? ?" when the loader does not know the address. */
static inline const char *owner(void *fn, char *buf, size_t len)
{
	Dl_info info;
	if (fn == NULL) {
		snprintf(buf, len, "none none");
		return buf;
	}
	if (dladdr(fn, &info) == 0 || info.dli_fname == NULL) {
		snprintf(buf, len, "? ?");
		return buf;
	}
	const char *base = strrchr(info.dli_fname, '/');
	snprintf(buf, len, "%s %s", base != NULL ? base + 1 : info.dli_fname,
		 info.dli_sname != NULL ? info.dli_sname : "?");
	return buf;
}

/* A fake kernel: the simulated driver accepts any non-NULL CUfunction and
 * reads the kernel's duration in microseconds from kernelParams[0]. */
#define FAKE_KERNEL ((CUfunction)(uintptr_t)0x1000)

#endif
