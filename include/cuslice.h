/* cuslice.h - version numbers and defaults shared by lib/, hooks/ and tools/.
 *
 * cuslice has no C API: workloads need no code change (it is loaded with
 * LD_PRELOAD or `cuslice run` and configured with CUSLICE_* variables), and
 * tools that read the per-GPU files use `cuslice status --json` (schema:
 * `cuslice help json`) or `cuslice metrics`, not the file layout. So this
 * header is internal and not installed (docs/install.md).
 */
#ifndef CUSLICE_H
#define CUSLICE_H

#define CUSLICE_VERSION_MAJOR 0
#define CUSLICE_VERSION_MINOR 1
#define CUSLICE_VERSION_PATCH 0
#define CUSLICE_VERSION "0.1.0"

/* The ABI version of the per-GPU shared file (lib/layout.h). */
#define CUSLICE_SHM_ABI 2

/* Default folder of the per-GPU files. */
#define CUSLICE_DEFAULT_DIR "/dev/shm/cuslice"

#endif
