/* route_next.c - dlsym(RTLD_NEXT, ...) still means "after the caller" when
 * libcuslice (which overrides dlsym) is preloaded. Linked with
 * route_next_a then route_next_b, in that order. */
#include <dlfcn.h>
#include <stdio.h>

const char *probe_name(void);
const char *probe_next_name(void);
void *probe_next_getpid(void);
int probe_b_loaded(void);

int main(void)
{
	const char *(*next)(void) = (const char *(*)(void))dlsym(RTLD_NEXT, "probe_name");
	const char *(*dflt)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "probe_name");
	printf("b_loaded %d\n", probe_b_loaded());
	printf("main:direct %s\n", probe_name());
	printf("main:RTLD_DEFAULT %s\n", dflt != NULL ? dflt() : "none");
	printf("main:RTLD_NEXT %s\n", next != NULL ? next() : "none");
	printf("a:RTLD_NEXT %s\n", probe_next_name());
	void *getpid_next = probe_next_getpid();
	printf("a:RTLD_NEXT:getpid %s\n",
	       getpid_next != NULL && getpid_next == dlsym(RTLD_DEFAULT, "getpid") ? "libc"
										 : "other");
	return 0;
}
