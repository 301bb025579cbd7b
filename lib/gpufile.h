/* gpufile.h - creating, checking and mapping the per-GPU shared file.
 *
 * The layout is in layout.h. A file is created complete under a temporary
 * name and linked into place, so a reader never sees a half-written header.
 * An existing file is checked (magic, ABI, sizes, GPU UUID) before anything
 * else in it is read; a file that fails is never modified or removed.
 *
 * Opening never blocks and never follows a link: the folder is opened with
 * O_NOFOLLOW and checked (a real folder, owned by root or by this process's
 * user, sticky if every user may write it), the file is opened inside it
 * with O_NOFOLLOW | O_NONBLOCK and must be a regular file before anything is
 * read or mapped. A member's mapping is guarded (mapguard.h): a file shrunk
 * under it is grown back instead of killing the process with SIGBUS.
 * Read-only openers (the CLI) never map the file: they read a private copy
 * with pread, which a truncation cannot turn into a signal.
 */
#ifndef CUSLICE_GPUFILE_H
#define CUSLICE_GPUFILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "layout.h"

struct gpufile {
	int fd;                 /* -1 when closed */
	int writable;
	int own_slot;           /* this process's slot, -1 before joining; the
				 * kernel lock cannot tell our own slot from a
				 * free one, so this is how we know it */
	struct cs_file *map;     /* the shared mapping, or the private copy */
	int copy;               /* 1: map is a private copy (read-only opening) */
	char path[320];
	/* This process's slot as it published it at joining, for
	 * member_repair(); valid while own_slot >= 0. */
	unsigned char joined[CS_MEMBER_STRIDE];
	int detached_said;      /* member_watch reported a detached mapping */
};


/* Opens the file for GPU uuid in dir, creating dir (mode 01777) when missing
 * and the file when missing: mode 0666 in a folder every user may write,
 * 0660 with the folder's group in a folder only its group may write, else
 * 0600 (the folder's permissions say who can be a member). Returns 0, or a
 * negative errno with a sentence for the user in why: -EPROTO for a file
 * that is not a cuslice file of this ABI, is for another GPU or is not a
 * regular file, -ELOOP for a symbolic link (the folder or the file), -EPERM
 * for a folder that fails gpufile_open_dir's checks or whose group this
 * process is not in, the open/mkdir errno otherwise. On error *g is closed
 * (fd -1). */
int gpufile_open(struct gpufile *g, const char *dir, const char *uuid, uint32_t slice_ms,
		 char *why, size_t whylen);

/* Opens an existing file read-only (for the CLI) and reads a private copy
 * of it into g->map (nothing is mapped). Same errors, plus -ENOENT and
 * -ENOMEM. */
int gpufile_open_readonly(struct gpufile *g, const char *path, char *why, size_t whylen);

/* Reads the private copy of a read-only opening again (does nothing for a
 * member's mapping). Returns 0, or -EPROTO when the file shrank or its
 * header no longer checks (the copy is then partly zero). */
int gpufile_refresh(const struct gpufile *g, char *why, size_t whylen);

/* Opens the folder dir (O_PATH, never following a link) and checks it: a
 * folder, owned by root or by this process's effective user, and, if every
 * user may write it, with the sticky bit. Returns the folder's fd (close it)
 * with its stat in *st, or a negative errno with the reason in why: -ELOOP
 * (a symbolic link), -ENOTDIR, -EPERM (owner or mode), or open's errno. */
int gpufile_open_dir(const char *dir, struct stat *st, char *why, size_t whylen);

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
