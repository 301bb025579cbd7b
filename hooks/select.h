/* select.h - picks the table rows of some kinds.
 *
 * A file that owns some kinds includes this, redefines SELECT_<kind> for
 * them, and expands ALL_HOOKS(SELECT); every other kind expands to nothing.
 */
#ifndef CUSLICE_SELECT_H
#define CUSLICE_SELECT_H

#define SELECT(kind, lib, name, params, args) SELECT_##kind(lib, name, params, args)

#define SELECT_launch(lib, name, params, args)
#define SELECT_launchex(lib, name, params, args)
#define SELECT_graphlaunch(lib, name, params, args)
#define SELECT_alloc(lib, name, params, args)
#define SELECT_release(lib, name, params, args)
#define SELECT_memquery(lib, name, params, args)
#define SELECT_sync(lib, name, params, args)
#define SELECT_capture(lib, name, params, args)
#define SELECT_procaddr(lib, name, params, args)
#define SELECT_nvml(lib, name, params, args)

#endif
