/* dlsym.c - route (b): programs that look driver functions up themselves.
 *
 * cudart looks up only cuGetProcAddress_v2 with dlsym; cuBLASLt, cuBLAS,
 * XLA, CuPy (ctypes) and pynvml look hooked names up directly. This file
 * exports dlsym: for a hooked name whose real answer is the real driver (or
 * NVML) function, or our own export, it returns our hook; for every other
 * name it returns glibc's answer (libc.h).
 *
 * RTLD_NEXT is resolved by glibc relative to its caller's object. The last
 * statement of dlsym() is a tail call so that, for every name we do not
 * hook, glibc sees the program's return address, not ours.
 */
#include <dlfcn.h>
#include <stdatomic.h>
#include <stddef.h>

#include "hook.h"
#include "libc.h"
#include "table.h"

static int may_be_hooked(const char *name)
{
	return name != NULL && ((name[0] == 'c' && name[1] == 'u') ||
				(name[0] == 'n' && name[1] == 'v' && name[2] == 'm'));
}

/* Our hook for a lookup of a hooked name, or NULL to give glibc's answer. */
static void *hooked_answer(void *handle, const char *name)
{
	hooks_config();
	void *hook = hook_by_name(name);
	if (hook == NULL)
		return NULL;
	if (handle == RTLD_NEXT)
		return hook;
	if (hooks_initialising())
		return NULL;
	if (hook_name_is_nvml(name))
		hooks_init_nvml();
	else
		hooks_init();
	void *found = real_dlsym(handle, name);
	if (found == NULL)
		return NULL;
	if (found == hook || found == hook_real_by_name(name))
		return hook;
	return NULL;
}

/* O2 even in a debug build: the tail call is what keeps RTLD_NEXT right. */
__attribute__((optimize("O2", "optimize-sibling-calls")))
HOOK_EXPORT void *dlsym(void *handle, const char *name)
{
	if (may_be_hooked(name)) {
		void *hook = hooked_answer(handle, name);
		if (hook != NULL)
			return hook;
	}
	return libc_dlsym()(handle, name);
}
