/* memory.c - allocation, release and memory-query hooks.
 *
 * Foundation: the rows of kind alloc, release and memquery count and
 * forward. The memory cap replaces these with bodies that ask the ledger.
 */
#include "hook.h"
#include "hooks_state.h"
#include "select.h"

#undef SELECT_alloc
#undef SELECT_release
#undef SELECT_memquery
#define SELECT_alloc HOOK_PASS
#define SELECT_release HOOK_PASS
#define SELECT_memquery HOOK_PASS

ALL_HOOKS(SELECT)
void mem_after_fork(void) {}
