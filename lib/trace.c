/* trace.c - writes the CUSLICE_TRACE file; see trace.h. */
#include "trace.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "textfile.h"

int trace_path(const char *pattern, int pid, char *out, size_t len)
{
	size_t o = 0;
	for (const char *p = pattern; *p != '\0'; p++) {
		char buf[16];
		const char *piece = buf;
		if (p[0] == '%' && p[1] == 'p') {
			snprintf(buf, sizeof(buf), "%d", pid);
			p++;
		} else {
			buf[0] = *p;
			buf[1] = '\0';
		}
		size_t n = strlen(piece);
		if (o + n >= len)
			return -ENAMETOOLONG;
		memcpy(out + o, piece, n);
		o += n;
	}
	out[o] = '\0';
	return 0;
}

int trace_write(const char *path, const char *const *names, const uint64_t *counts, size_t n)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (f == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s %llu\n", names[i], (unsigned long long)counts[i]);
	int err = ferror(f) ? -ENOMEM : 0;
	if (fclose(f) != 0 && err == 0)
		err = -ENOMEM;
	if (err == 0)
		err = textfile_write(path, text, len);
	free(text);
	return err;
}
