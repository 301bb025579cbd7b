/* route_next_a.c - an interposer loaded after libcuslice: it defines
 * probe_name() and reaches the next definition (route_next_b's) with
 * dlsym(RTLD_NEXT). glibc resolves RTLD_NEXT relative to the caller of
 * dlsym; if cuslice's dlsym override hid the caller, the lookup would start
 * after libcuslice and find this very library again. */
#include <dlfcn.h>
#include <stddef.h>

__attribute__((visibility("default"))) const char *probe_name(void)
{
	return "A";
}

__attribute__((visibility("default"))) const char *probe_next_name(void)
{
	const char *(*next)(void) = (const char *(*)(void))dlsym(RTLD_NEXT, "probe_name");
	return next != NULL ? next() : "none";
}

/* RTLD_NEXT for a libc function from here: libc's, never ours. */
__attribute__((visibility("default"))) void *probe_next_getpid(void)
{
	return dlsym(RTLD_NEXT, "getpid");
}
