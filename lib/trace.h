/* trace.h - the CUSLICE_TRACE file: "<symbol> <count>" per line at exit. */
#ifndef CUSLICE_TRACE_H
#define CUSLICE_TRACE_H

#include <stddef.h>
#include <stdint.h>

/* Expands "%p" in pattern to pid into out (len bytes). Returns 0, or
 * -ENAMETOOLONG when it does not fit. */
int trace_path(const char *pattern, int pid, char *out, size_t len);

/* Writes one line per symbol to path, atomically (textfile.h). Returns 0
 * or a negative errno; on error path is untouched. */
int trace_write(const char *path, const char *const *names, const uint64_t *counts, size_t n);

#endif
