/* table.c - everything generated from the hook table: the real-function
 * slots, the name index that answers dlsym, and the real-pointer index that
 * answers cuGetProcAddress.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "libc.h"
#include "table.h"

struct real_fns real;

/* Each hook's signature must match its row (and cuda.h where it declares it). */
#define X(kind, lib, name, params, args) \
	_Static_assert(__builtin_types_compatible_p(__typeof__(&name), \
			__typeof__(real.name)), #name " differs from its table row");
ALL_HOOKS(X)
#undef X

/* struct real_fns begins with one slot per hook, in the table's order, so
 * that it can be read as an array of HOOK_COUNT pointers. */
#define X(kind, lib, name, params, args) \
	_Static_assert(offsetof(struct real_fns, name) == HOOK_##name * sizeof(void *), \
		       #name " is not where hook_for_real looks for it");
ALL_HOOKS(X)
#undef X

static const char *const hook_names[HOOK_COUNT] = {
#define X(kind, lib, name, params, args) [HOOK_##name] = #name,
	ALL_HOOKS(X)
#undef X
};

static void *const hook_fns[HOOK_COUNT] = {
#define X(kind, lib, name, params, args) [HOOK_##name] = (void *)name,
	ALL_HOOKS(X)
#undef X
};

/* The lib column of a row as a constant, 1 for NVML. ("cuda" and "nvml" have
 * the same length: the names cannot be told apart with sizeof.) */
#define LIB_IS_NVML_cuda 0
#define LIB_IS_NVML_nvml 1
#define IS_NVML(lib) LIB_IS_NVML_##lib

static const int hook_is_nvml[HOOK_COUNT] = {
#define X(kind, lib, name, params, args) [HOOK_##name] = IS_NVML(lib),
	ALL_HOOKS(X)
#undef X
};

const char *hook_name(enum hook_id id)
{
	return hook_names[id];
}

/* Hook names sorted, for dlsym's answer. */
static int sorted_ids[HOOK_COUNT];

static int compare_ids(const void *a, const void *b)
{
	return strcmp(hook_names[*(const int *)a], hook_names[*(const int *)b]);
}

void hook_index_build(void)
{
	for (int i = 0; i < HOOK_COUNT; i++)
		sorted_ids[i] = i;
	qsort(sorted_ids, HOOK_COUNT, sizeof(sorted_ids[0]), compare_ids);
}

static int id_by_name(const char *name)
{
	int lo = 0, hi = HOOK_COUNT - 1;
	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		int c = strcmp(name, hook_names[sorted_ids[mid]]);
		if (c == 0)
			return sorted_ids[mid];
		if (c < 0)
			hi = mid - 1;
		else
			lo = mid + 1;
	}
	return -1;
}

void *hook_by_name(const char *name)
{
	int id = id_by_name(name);
	return id < 0 ? NULL : hook_fns[id];
}

static void **real_slots(void)
{
	return (void **)&real;
}

void *hook_for_real(void *fn)
{
	void **slots = real_slots();
	for (int i = 0; i < HOOK_COUNT; i++) {
		if (slots[i] == fn)
			return hook_fns[i];
	}
	return fn;
}

void *hook_real_by_name(const char *name)
{
	int id = id_by_name(name);
	return id < 0 ? NULL : real_slots()[id];
}

int hook_name_is_nvml(const char *name)
{
	int id = id_by_name(name);
	return id >= 0 && hook_is_nvml[id];
}

void hook_resolve(void *h, int nvml)
{
#define X(kind, lib, name, params, args) \
	if (IS_NVML(lib) == nvml) \
		*(void **)&real.name = real_dlsym(h, #name);
	ALL_HOOKS(X)
#undef X
#define X(lib, ret, name, params) \
	if (IS_NVML(lib) == nvml) \
		*(void **)&real.name = real_dlsym(h, #name);
	CUDA_NEEDED(X)
#undef X
}
