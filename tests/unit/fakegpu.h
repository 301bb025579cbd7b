/* fakegpu.h - what test_gpu.c and test_alloc.c share: a temporary CUSLICE_DIR,
 * a configuration from name/value pairs, and a fake driver (struct
 * gpu_driver) whose answers the tests set. No simulated libcuda: lib/ is
 * driven through its callback table only. Check's fork mode gives each test
 * a fresh copy of lib/'s per-process state. */
#ifndef FAKEGPU_H
#define FAKEGPU_H

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "gpu_state.h"

#define MiB (UINT64_C(1) << 20)
#define GiB (UINT64_C(1) << 30)

static char fake_dir[64];

static struct {
	int count;              /* devices seen */
	int current;            /* ordinal of the current context, -1 none */
	uint64_t total;         /* every card's memory */
	int no_uuid;            /* the driver gives no UUID */
	int syncs;              /* contexts synchronised */
} fake = { 2, 0, 16 * GiB, 0, 0 };

static int fake_count(void) { return fake.count; }
static int fake_current(void) { return fake.current; }
static void *fake_context(void) { return fake.current >= 0 ? (void *)&fake : NULL; }

/* "GPU-00000000-0000-0000-0000-00000000000<ordinal>" in upper case, so that
 * lookups must ignore case. */
static int fake_uuid(int ordinal, char *out, size_t len)
{
	if (fake.no_uuid || ordinal < 0 || ordinal >= fake.count)
		return -ENODEV;
	snprintf(out, len, "GPU-00000000-0000-0000-0000-0000000000A%d", ordinal);
	return 0;
}

static int fake_total(int ordinal, uint64_t *bytes)
{
	if (ordinal < 0 || ordinal >= fake.count)
		return -ENODEV;
	*bytes = fake.total;
	return 0;
}

static int fake_sync(void *ctx) { (void)ctx; fake.syncs++; return 0; }
static int fake_capturing(void *stream) { (void)stream; return 0; }

static const struct gpu_driver fake_driver = {
	fake_count, fake_current, fake_context, fake_uuid, fake_total, fake_sync,
	fake_capturing, NULL,
};

/* The value of name in a NULL-terminated name, value, ... list; the last
 * one wins. */
static const char *pairs_get(const char *name, void *arg)
{
	const char *found = NULL;
	for (const char *const *p = arg; p[0] != NULL; p += 2) {
		if (strcmp(p[0], name) == 0)
			found = p[1];
	}
	return found;
}

/* gpu_setup() with CUSLICE_DIR = the temporary folder, no ring and no
 * context reserve unless the pairs (name, value, ..., NULL; may be NULL)
 * say otherwise. */
static void fake_setup(const char *const *pairs)
{
	const char *all[40] = { "CUSLICE_DIR", fake_dir, "CUSLICE_RING", "off",
				"CUSLICE_CTX_RESERVE", "0" };
	unsigned n = 6;
	for (const char *const *p = pairs; p != NULL && p[0] != NULL && n < 38; p += 2) {
		all[n++] = p[0];
		all[n++] = p[1];
	}
	all[n] = NULL;
	struct cs_config cfg;
	config_load(&cfg, pairs_get, (void *)all);
	gpu_setup(&cfg, &fake_driver);
}

static int fake_remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st, (void)type, (void)ftw;
	return remove(path);
}

static void fake_make_dir(void)
{
	snprintf(fake_dir, sizeof(fake_dir), "/tmp/cuslice-test-gpu-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(fake_dir));
}

static void fake_remove_dir(void)
{
	if (fake_dir[0] != '\0')
		nftw(fake_dir, fake_remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

#endif
