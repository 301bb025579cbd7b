/* dlsym.h - the real dlsym, and route (b): our answer to dlsym. */
#ifndef CUSLICE_DLSYM_H
#define CUSLICE_DLSYM_H

/* glibc's own dlsym, found with dlvsym (never through our override). */
void *real_dlsym(void *handle, const char *name);

#endif
