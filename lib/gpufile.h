/* gpufile.h - creating, checking and mapping the per-GPU shared file.
 *
 * The layout is in layout.h. A file is created complete under a temporary
 * name and linked into place, so a reader never sees a half-written header.
 * An existing file is checked (magic, ABI, sizes, GPU UUID) before anything
 * else in it is read; a file that fails is never modified or removed.
 */
#ifndef CUSLICE_GPUFILE_H
#define CUSLICE_GPUFILE_H

#include <stddef.h>
#include <stdint.h>

#include "layout.h"

struct gpufile {
	int fd;                 /* -1 when closed */
	int writable;
	int own_slot;           /* this process's slot, -1 before joining; the
				 * kernel lock cannot tell our own slot from a
				 * free one, so this is how we know it */
	struct cs_file *map;
	char path[320];
};

/* Opens the file for GPU uuid in dir, creating dir (mode 01777) and the file
 * (mode 0666) when missing. Returns 0, or a negative errno with a sentence
 * for the user in why: -EPROTO for a file that is not a cuslice file of this
 * ABI or is for another GPU, the open/mkdir errno otherwise. On error *g is
 * closed (fd -1). */
int gpufile_open(struct gpufile *g, const char *dir, const char *uuid, uint32_t slice_ms,
		 char *why, size_t whylen);

/* Opens an existing file read-only (for the CLI). Same errors, plus -ENOENT. */
int gpufile_open_readonly(struct gpufile *g, const char *path, char *why, size_t whylen);

/* Checks a mapped header and the file's size. Returns 0 or -EPROTO with the
 * reason in why. uuid may be NULL to accept any GPU. */
int gpufile_check(const struct cs_header *h, uint64_t file_size, const char *uuid, char *why,
		  size_t whylen);

/* Writes the file name for uuid ("gpu-<uuid>.shm", unsafe characters
 * replaced by '_') into out. Returns 0 or -ENAMETOOLONG. */
int gpufile_name(const char *dir, const char *uuid, char *out, size_t len);

/* Unmaps and closes. Safe on a closed file. */
void gpufile_close(struct gpufile *g);

#endif
