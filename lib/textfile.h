/* textfile.h - replacing a small text file atomically.
 *
 * Readers of the files written here (the node exporter's textfile
 * collector, a test reading a CUSLICE_TRACE file) must see either the old
 * content or the new one, never a mix or an empty file. The text goes to a
 * temporary file in the same folder, "<path>.tmp.<pid>.<n>", created
 * exclusively and never through a link (a name planted there by another
 * user is skipped, never written through), which is flushed to disk
 * (fsync) and then renamed over path. The fsync is deliberate: a
 * rename that reaches the disk before the data would leave an empty file
 * after a crash. Its cost is paid once per write, never on a hot path.
 */
#ifndef CUSLICE_TEXTFILE_H
#define CUSLICE_TEXTFILE_H

#include <stddef.h>

/* Replaces path with len bytes of text, mode 0644 (a collector may run as
 * another user). Returns 0 or a negative errno (-ENAMETOOLONG when the
 * temporary name does not fit); on error path is untouched and no
 * temporary file is left behind (-EEXIST when 64 temporary names are all
 * taken). */
int textfile_write(const char *path, const char *text, size_t len);

#endif
