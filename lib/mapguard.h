/* mapguard.h - a shrunk shared file must not kill the processes mapping it.
 *
 * A member maps its per-GPU file shared and writable. Whoever may write the
 * file may also shrink it (`truncate -s 0`), and touching a mapped page past
 * the new end raises SIGBUS, whose default action kills. mapguard_add()
 * registers a mapping; the first call installs a SIGBUS handler that passes
 * every fault outside the registered mappings on to the handler it replaced
 * (or to the default action). On a fault inside one, the handler:
 *   1. grows the file back to the mapping's size with ftruncate(); the pages
 *      that were cut off come back zeroed, as if a writer had zeroed them,
 *      which every reader of the file already survives;
 *   2. writes back the header this process read when it opened the file, if
 *      it was cut off, so that later processes can still join, and frees the
 *      token if the ring's page was cut off;
 *   3. if the file cannot be grown, replaces the mapping with private zeroed
 *      memory (with the header and a free token): the process then runs
 *      alone, unfenced, and mapguard_detached() says so (member_watch()
 *      reports it in one line on stderr).
 * The faulting access then runs again and the process goes on. What the cut
 * took (members' slots, charges, statistics) is lost, as after any writer
 * zeroed it; docs/limits.md states this.
 *
 * Limits: a workload that installs its own SIGBUS handler after the file is
 * mapped, and does not pass on faults it does not own, loses this guard.
 * Everything here is async-signal-safe on the handler's side.
 */
#ifndef CUSLICE_MAPGUARD_H
#define CUSLICE_MAPGUARD_H

#include <stddef.h>

#include "layout.h"

#define MAPGUARD_MAX 80

/* Guards the shared mapping [addr, addr + len) of fd, whose header read at
 * opening was *header. Returns 0, -ENOSPC when MAPGUARD_MAX mappings are
 * guarded already, or the errno of installing the handler. */
int mapguard_add(void *addr, size_t len, int fd, const struct cs_header *header);

/* Stops guarding the mapping at addr (before munmap). */
void mapguard_remove(void *addr);

/* How many faults the guard has repaired in this process. */
unsigned long mapguard_repairs(void);

/* Nonzero when the mapping at addr was replaced by private memory. */
int mapguard_detached(const void *addr);

#endif
