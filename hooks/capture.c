/* capture.c - synchronisation and stream-capture hooks.
 *
 * Foundation: the rows of kind sync and capture count and forward. The ring
 * uses the capture rows to know when a drain must not synchronise.
 */
#include "hook.h"
#include "select.h"

#undef SELECT_sync
#undef SELECT_capture
#define SELECT_sync HOOK_PASS
#define SELECT_capture HOOK_PASS

ALL_HOOKS(SELECT)
