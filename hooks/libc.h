/* libc.h - glibc's own dlsym, found with dlvsym (never through our
 * override): "GLIBC_2.34" first, then "GLIBC_2.2.5" (__libc_dlsym is gone
 * since 2.34). */
#ifndef CUSLICE_LIBC_H
#define CUSLICE_LIBC_H

typedef void *dlsym_fn(void *handle, const char *name);

/* glibc's dlsym, or NULL if neither version is found. */
dlsym_fn *libc_dlsym(void);

/* glibc's dlsym(handle, name), or NULL. */
void *real_dlsym(void *handle, const char *name);

#endif
