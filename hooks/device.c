/* device.c - per-process device records; see device.h. */
#include "device.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "hook.h"
#include "hooks_state.h"
#include "ledger.h"
#include "log.h"
#include "member.h"
#include "ring.h"
#include "size.h"

static struct device devices[DEVICES_MAX];
static pthread_mutex_t join_lock = PTHREAD_MUTEX_INITIALIZER;

static void format_uuid(const CUuuid *u, char *out, size_t len)
{
	const unsigned char *b = (const unsigned char *)u->bytes;
	snprintf(out, len,
		 "GPU-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
		 b[12], b[13], b[14], b[15]);
}

/* Returns a dead member's memory and token before its slot is reused. */
static void clean_dead(struct gpufile *g, unsigned slot, void *arg)
{
	(void)arg;
	ledger_forget(g->map, slot);
	ring_forget(g->map, slot);
}

static const char *no_var(const char *name, void *arg)
{
	(void)name;
	(void)arg;
	return NULL;
}

/* The context reserve of d: CUSLICE_CTX_RESERVE, refused when it is larger
 * than the card (no context takes a whole card: the value is a mistake,
 * and charging it would fill the group). */
static void fix_reserve(struct device *d)
{
	d->ctx_reserve = hooks_cfg.ctx_reserve;
	if (d->card_total == 0 || d->ctx_reserve <= d->card_total)
		return;
	struct cs_config defaults;
	config_load(&defaults, no_var, NULL);
	uint64_t n = defaults.ctx_reserve < d->card_total ? defaults.ctx_reserve : 0;
	char a[32], b[32], c[32];
	log_error("CUSLICE_CTX_RESERVE=%s is larger than the card %s (%s): using %s",
		  size_format(d->ctx_reserve, a, sizeof(a)), d->uuid,
		  size_format(d->card_total, b, sizeof(b)), size_format(n, c, sizeof(c)));
	hooks_cfg.bad_vars |= config_var_bit("CUSLICE_CTX_RESERVE");
	d->ctx_reserve = n;
}

static void fix_cap(struct device *d)
{
	uint64_t cap = 0;
	if (memspec_cap(&hooks_cfg.mem, d->ordinal, d->uuid, &cap) != 0) {
		d->cap_invalid = 1;
		return;
	}
	size_t total = 0;
	if (real.cuDeviceTotalMem_v2 != NULL &&
	    real.cuDeviceTotalMem_v2(&total, d->ordinal) == CUDA_SUCCESS)
		d->card_total = total;
	if (cap != 0 && d->card_total != 0 && cap > d->card_total) {
		log_warn("CUSLICE_MEM_LIMIT for %s is larger than the card (%llu > %llu bytes); "
			 "using the card's size", d->uuid, (unsigned long long)cap,
			 (unsigned long long)d->card_total);
		cap = d->card_total;
	}
	d->cap = cap;
	fix_reserve(d);
}

static void join_file(struct device *d)
{
	struct member_info info = {
		.weight = hooks_cfg.weight,
		.priority = (uint32_t)hooks_cfg.priority,
		.ordinal = d->ordinal,
		.declared_cap = d->cap_invalid ? 1 : d->cap,
		.group = hooks_cfg.group,
	};
	char why[200];
	int err;
	if (hooks_cfg.dir_invalid) {
		/* Never the default folder instead: that is another ring. */
		err = -ENAMETOOLONG;
		snprintf(d->file.path, sizeof(d->file.path), "$CUSLICE_DIR/gpu-%s.shm", d->uuid);
		snprintf(why, sizeof(why), "cannot be used: CUSLICE_DIR is not a usable path "
			 "(longer than %d bytes?)", CONFIG_PATH_MAX - 1);
	} else {
		err = gpufile_open(&d->file, hooks_cfg.dir, d->uuid, hooks_cfg.slice_ms, why,
				   sizeof(why));
	}
	if (err == 0) {
		err = member_join(&d->file, &info, clean_dead, NULL, &d->slot);
		if (err == -ENOSPC)
			snprintf(why, sizeof(why), "has no free member slot (%u in use)",
				 CS_MEMBERS_MAX);
		else if (err != 0)
			snprintf(why, sizeof(why), "cannot be locked: %s", strerror(-err));
		if (err != 0)
			gpufile_close(&d->file);
	}
	if (err != 0) {
		char path[sizeof(d->file.path)];
		memcpy(path, d->file.path, sizeof(path));
		snprintf(d->problem, sizeof(d->problem), "%s %s", path, why);
		log_unisolated("shared file %s; this process runs unthrottled, with its memory "
			       "cap kept per process", d->problem);
		atomic_store_explicit(&d->status, DEVICE_LOCAL, memory_order_release);
		return;
	}
	/* Publish the last configuration problem, for cuslice status. */
	struct cs_member *me = &d->file.map->members[d->slot];
	strncpy(me->note, log_last(), sizeof(me->note) - 1);
	me->bad_vars = hooks_cfg.bad_vars; /* every bad variable, not only the last */
	atomic_store_explicit(&d->status, DEVICE_READY, memory_order_release);
}

static void join(struct device *d, CUdevice dev)
{
	d->ordinal = dev;
	d->file.fd = -1;
	d->file.own_slot = -1;
	CUuuid u;
	if (real.cuDeviceGetUuid_v2 != NULL && real.cuDeviceGetUuid_v2(&u, dev) == CUDA_SUCCESS)
		format_uuid(&u, d->uuid, sizeof(d->uuid));
	fix_cap(d);
	if (d->uuid[0] == '\0') {
		snprintf(d->problem, sizeof(d->problem), "the driver gave no UUID for device %d",
			 dev);
		log_unisolated("%s; this process runs unthrottled on it", d->problem);
		atomic_store_explicit(&d->status, DEVICE_LOCAL, memory_order_release);
		return;
	}
	join_file(d);
}

struct device *device_get(CUdevice dev)
{
	if (dev < 0 || dev >= DEVICES_MAX)
		return NULL;
	struct device *d = &devices[dev];
	if (__builtin_expect(atomic_load_explicit(&d->status, memory_order_acquire) != DEVICE_UNSEEN, 1))
		return d;
	pthread_mutex_lock(&join_lock);
	if (atomic_load_explicit(&d->status, memory_order_acquire) == DEVICE_UNSEEN) {
		hook_depth++;
		join(d, dev);
		hook_depth--;
	}
	pthread_mutex_unlock(&join_lock);
	return d;
}

struct device *device_current(void)
{
	CUdevice dev;
	if (real.cuCtxGetDevice == NULL || real.cuCtxGetDevice(&dev) != CUDA_SUCCESS)
		return NULL;
	return device_get(dev);
}

struct device *device_peek(int ordinal)
{
	if (ordinal < 0 || ordinal >= DEVICES_MAX)
		return NULL;
	struct device *d = &devices[ordinal];
	return atomic_load_explicit(&d->status, memory_order_acquire) != DEVICE_UNSEEN ? d : NULL;
}

struct device *device_by_uuid(const char *uuid)
{
	for (int i = 0; i < DEVICES_MAX; i++) {
		struct device *d = device_peek(i);
		if (d != NULL && strcasecmp(d->uuid, uuid) == 0)
			return d;
	}
	return NULL;
}

int device_uuid_of(CUdevice dev, char *out, size_t len)
{
	CUuuid u;
	if (real.cuDeviceGetUuid_v2 == NULL || real.cuDeviceGetUuid_v2(&u, dev) != CUDA_SUCCESS)
		return -ENODEV;
	format_uuid(&u, out, len);
	return 0;
}

int device_ordinal_by_uuid(const char *uuid)
{
	int count = 0;
	if (real.cuDeviceGetCount == NULL || real.cuDeviceGetCount(&count) != CUDA_SUCCESS)
		return -1; /* not initialised: we do not do it for the caller */
	for (int i = 0; i < count && i < DEVICES_MAX; i++) {
		CUdevice dev;
		char mine[CS_UUID_MAX];
		if (real.cuDeviceGet(&dev, i) == CUDA_SUCCESS &&
		    device_uuid_of(dev, mine, sizeof(mine)) == 0 && strcasecmp(mine, uuid) == 0)
			return i;
	}
	return -1;
}

int device_reap(struct device *d)
{
	if (atomic_load_explicit(&d->status, memory_order_acquire) != DEVICE_READY)
		return 0;
	return member_reap_all(&d->file, clean_dead, NULL);
}

void device_after_fork(void)
{
	/* The child shares the parent's open file description, and with it the
	 * parent's slot lock: close it so that the parent's death stays
	 * visible, and start over. */
	for (int i = 0; i < DEVICES_MAX; i++) {
		struct device *d = &devices[i];
		if (atomic_load(&d->status) == DEVICE_READY)
			gpufile_close(&d->file);
		memset(d, 0, sizeof(*d));
	}
	pthread_mutex_init(&join_lock, NULL);
}

void device_leave_all(void)
{
	for (int i = 0; i < DEVICES_MAX; i++) {
		struct device *d = device_peek(i);
		if (d == NULL || atomic_load(&d->status) != DEVICE_READY)
			continue;
		ledger_forget(d->file.map, d->slot);
		ring_forget(d->file.map, d->slot);
		member_leave(&d->file, d->slot);
	}
}
