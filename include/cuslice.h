/* cuslice.h - the public face of cuslice.
 *
 * cuslice needs no code change in workloads: it is loaded with LD_PRELOAD
 * (or `cuslice run`) and configured with CUSLICE_* variables. This header
 * only names the version and the shared-file ABI, for tools that read the
 * per-GPU files ($CUSLICE_DIR/gpu-<UUID>.shm, see docs/ring.md).
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
