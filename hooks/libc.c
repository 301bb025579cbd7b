/* libc.c - glibc's own dlsym; see libc.h. */
#include "libc.h"

#include <dlfcn.h>
#include <stdatomic.h>
#include <stddef.h>

static _Atomic(dlsym_fn *) glibc_dlsym;

dlsym_fn *libc_dlsym(void)
{
	dlsym_fn *fn = atomic_load_explicit(&glibc_dlsym, memory_order_acquire);
	if (fn != NULL)
		return fn;
	fn = (dlsym_fn *)dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34");
	if (fn == NULL)
		fn = (dlsym_fn *)dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.2.5");
	atomic_store_explicit(&glibc_dlsym, fn, memory_order_release);
	return fn;
}

void *real_dlsym(void *handle, const char *name)
{
	dlsym_fn *fn = libc_dlsym();
	return fn != NULL ? fn(handle, name) : NULL;
}
