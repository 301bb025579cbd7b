/* launch.c - the launch hooks: every kernel or graph launch passes the gate.
 *
 * The bodies are generated from the `launch` and `launchex` rows of table.h:
 * each asks the gate (lib/gate.h) for permission, launches, and tells the gate
 * the launch is done. All policy (the token ring) is behind the gate.
 */
#include "alloc.h"
#include "driver.h"
#include "gate.h"
#include "hook.h"
#include "select.h"

/* 1 for the _ptsz variants (their NULL stream is the thread's own): the
 * name's last letter, folded to a constant by the compiler. */
#define IS_PTSZ(name) (sizeof(#name) > 5 && #name[sizeof(#name) - 2] == 'z')

#define LAUNCH_BODY(name, params, args, stream)          \
	HOOK_EXPORT CUresult name params                 \
	{                                                \
		HOOK_BEGIN(name, args);                  \
		struct gate_pass pass;                   \
		gate_enter(&pass, (stream), IS_PTSZ(name)); \
		CUresult r = real.name args;             \
		gate_leave(&pass);                       \
		hook_leave();                            \
		return r;                                \
	}

/* A graph launch may allocate graph memory (its memory nodes): charged
 * from the driver's count once the process has made such a node. */
#define GRAPH_LAUNCH_BODY(name, params, args)            \
	HOOK_EXPORT CUresult name params                 \
	{                                                \
		HOOK_BEGIN(name, args);                  \
		struct gate_pass pass;                   \
		gate_enter(&pass, hStream, IS_PTSZ(name)); \
		CUresult r = real.name args;             \
		gate_leave(&pass);                       \
		if (alloc_graph_active())                \
			alloc_graph_sync(driver_current()); \
		hook_leave();                            \
		return r;                                \
	}

#undef SELECT_launch
#undef SELECT_launchex
#undef SELECT_graphlaunch
#define SELECT_graphlaunch(lib, name, params, args) GRAPH_LAUNCH_BODY(name, params, args)
#define SELECT_launch(lib, name, params, args) LAUNCH_BODY(name, params, args, hStream)
#define SELECT_launchex(lib, name, params, args) \
	LAUNCH_BODY(name, params, args, config != NULL ? config->hStream : NULL)

ALL_HOOKS(SELECT)
