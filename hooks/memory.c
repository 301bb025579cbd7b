/* memory.c - allocation, release and memory-query hooks: the memory cap.
 *
 * Every allocation hook asks the ledger first (may this process allocate N
 * bytes on this GPU?), calls the driver only when the answer is yes, then
 * settles: on success the allocation's key (pointer, VMM handle, array)
 * is recorded with what it was charged, on failure the bytes are given
 * back. A release takes the record, calls the driver and gives the bytes
 * back once the driver has freed them; a key never charged is forwarded
 * untouched. Queries report the cap as the device's total. The rules and
 * their limits are in docs/memory.md; the protocol is in lib/ledger.c.
 *
 * The accounting target of a GPU is its shared per-GPU file when this
 * process is a member (DEVICE_READY), else a process-local ledger
 * (DEVICE_LOCAL: no usable file, the cap still holds for the process).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "device.h"
#include "gpufile.h"
#include "hook.h"
#include "hooks_state.h"
#include "ledger.h"
#include "log.h"
#include "memory.h"
#include "size.h"

/* Which allocation was charged how much, for the whole process. */
static struct ledger_map charges = LEDGER_MAP_INIT;

/* Per CUdevice: the local ledger, and whether the first use was prepared. */
static struct ledger_local local[DEVICES_MAX];
static _Atomic int prepared[DEVICES_MAX];
static pthread_mutex_t prepare_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- the ledger of one device ---- */

static int shared(const struct device *d)
{
	return atomic_load_explicit(&d->status, memory_order_acquire) == DEVICE_READY;
}

static int reap_device(void *arg)
{
	return device_reap(arg);
}

static int account_reserve(struct device *d, uint64_t bytes)
{
	if (d->cap_invalid)
		return -ENOMEM;
	if (shared(d))
		return ledger_reserve(d->file.map, d->slot, bytes, reap_device, d, NULL);
	return ledger_local_reserve(&local[d->ordinal], bytes, NULL);
}

static void account_unreserve(struct device *d, uint64_t bytes)
{
	if (shared(d))
		ledger_unreserve(d->file.map, d->slot, bytes);
	else
		ledger_local_unreserve(&local[d->ordinal], bytes);
}

static void view_of(struct device *d, struct mem_view *v)
{
	v->capped = 1;
	v->cap = v->used = 0;
	if (d->cap_invalid)
		return; /* fail closed: nothing may be allocated */
	if (!shared(d) || ledger_group_usage(d->file.map, d->slot, &v->used, &v->cap) != 0)
		ledger_local_usage(&local[d->ordinal], &v->used, &v->cap);
	v->capped = v->cap != 0;
}

/* Why the context reserve of d does not fit, named for the log. */
static void explain_reserve(struct device *d)
{
	char why[300] = "";
	char a[32];
	if (!shared(d) || ledger_explain(d->file.map, d->slot, d->ctx_reserve, why,
					 sizeof(why)) != 0) {
		uint64_t used, cap;
		ledger_local_usage(&local[d->ordinal], &used, &cap);
		char u[32], c[32];
		snprintf(why, sizeof(why), "this process holds %s of its %s cap",
			 size_format(used, u, sizeof(u)), size_format(cap, c, sizeof(c)));
	}
	log_error("CUSLICE_CTX_RESERVE=%s on %s: %s; this process's allocations there are "
		  "refused until it fits (the group's others are not blocked)",
		  size_format(d->ctx_reserve, a, sizeof(a)), d->uuid, why);
}

/* The context reserve: the driver's own memory for this process's context.
 * It is reserved like an allocation, within the cap: when it does not fit,
 * it is not charged (one member's reserve must not fill its whole group)
 * and this process is refused instead, until it fits. Lock: prepare_lock
 * or the first preparation. Returns 0 when it is charged. */
static int take_reserve(struct device *d)
{
	if (account_reserve(d, d->ctx_reserve) == 0) {
		atomic_store_explicit(&d->reserve_pending, 0, memory_order_release);
		return 0;
	}
	if (!atomic_exchange(&d->reserve_pending, 1))
		explain_reserve(d); /* once: later retries stay quiet */
	return -ENOMEM;
}

static void charge_reserve(struct device *d)
{
	if (d->ctx_reserve == 0 || d->cap_invalid)
		return;
	take_reserve(d);
}

/* Before an allocation: a reserve that did not fit is tried again. */
static int reserve_settled(struct device *d)
{
	if (__builtin_expect(!atomic_load_explicit(&d->reserve_pending, memory_order_acquire), 1))
		return 0;
	pthread_mutex_lock(&prepare_lock);
	int err = atomic_load(&d->reserve_pending) ? take_reserve(d) : 0;
	pthread_mutex_unlock(&prepare_lock);
	return err;
}

/* The first memory call on a device sets up its local ledger and charges
 * the context reserve, once, before any allocation there is reserved. */
static struct device *prepare(struct device *d)
{
	if (d == NULL || atomic_load_explicit(&prepared[d->ordinal], memory_order_acquire))
		return d;
	pthread_mutex_lock(&prepare_lock);
	if (!atomic_load_explicit(&prepared[d->ordinal], memory_order_relaxed)) {
		local[d->ordinal].cap = d->cap;
		charge_reserve(d);
		atomic_store_explicit(&prepared[d->ordinal], 1, memory_order_release);
	}
	pthread_mutex_unlock(&prepare_lock);
	return d;
}

/* ---- the protocol the hooks follow ---- */

/* A reservation between asking and settling. d NULL: nothing accounted. */
struct ticket {
	struct device *d;
	uint64_t bytes;
};

/* May this process allocate bytes on d? CUDA_SUCCESS with the bytes
 * reserved (or with nothing to account when d is NULL), else out of memory
 * and nothing reserved. */
static CUresult mem_ask(struct ticket *t, struct device *d, uint64_t bytes)
{
	t->d = prepare(d);
	t->bytes = bytes;
	if (t->d == NULL || (reserve_settled(t->d) == 0 && account_reserve(t->d, bytes) == 0))
		return CUDA_SUCCESS;
	log_debug("refused %llu bytes on %s: over the memory cap", (unsigned long long)bytes,
		  t->d->uuid);
	t->d = NULL;
	return CUDA_ERROR_OUT_OF_MEMORY;
}

/* Settles a reservation to the size the driver gave. Returns 0, or -ENOMEM
 * when it gave more and the difference does not fit (reservation kept). */
static int mem_resize(struct ticket *t, uint64_t actual)
{
	if (t->d == NULL || actual == t->bytes)
		return 0;
	if (actual < t->bytes)
		account_unreserve(t->d, t->bytes - actual);
	else if (account_reserve(t->d, actual - t->bytes) != 0)
		return -ENOMEM;
	t->bytes = actual;
	return 0;
}

static void give_back(int dev, uint64_t bytes)
{
	struct device *d = device_peek(dev);
	if (d != NULL)
		account_unreserve(d, bytes);
}

/* After the driver answered: on success key now holds the reservation;
 * on failure the reservation is given back. */
static void mem_settle(struct ticket *t, CUresult r, enum charge_kind kind, uint64_t key)
{
	if (t->d == NULL)
		return;
	if (r != CUDA_SUCCESS) {
		account_unreserve(t->d, t->bytes);
		return;
	}
	uint64_t old_bytes = 0;
	int old_dev = -1;
	if (ledger_map_put(&charges, kind, key, t->bytes, t->d->ordinal, &old_bytes,
			   &old_dev) != 0)
		log_error("no memory to record an allocation: its %llu bytes stay charged",
			  (unsigned long long)t->bytes);
	if (old_bytes != 0)
		give_back(old_dev, old_bytes); /* freed behind our back, reused */
}

/* A release in progress: the record taken out before the driver frees. */
struct hold {
	int found;
	enum charge_kind kind;
	uint64_t key, bytes;
	int dev;
};

static void mem_take(struct hold *h, enum charge_kind kind, uint64_t key)
{
	h->kind = kind;
	h->key = key;
	h->found = ledger_map_take(&charges, kind, key, &h->bytes, &h->dev) == 0;
}

/* After the driver answered a release: gives the bytes back if it freed,
 * else puts the record back. */
static void mem_return(struct hold *h, CUresult r)
{
	if (!h->found)
		return;
	if (r == CUDA_SUCCESS) {
		give_back(h->dev, h->bytes);
		return;
	}
	uint64_t old_bytes = 0;
	int old_dev = -1;
	ledger_map_put(&charges, h->kind, h->key, h->bytes, h->dev, &old_bytes, &old_dev);
}

/* ---- sizes ---- */

/* A pitch the driver will not exceed for this width, in practice; the
 * charge is settled to the pitch it returns. */
#define PITCH_ALIGN_GUESS 512u

static uint64_t pitch_guess(size_t width, size_t height)
{
	uint64_t pitch = size_add_sat(width, PITCH_ALIGN_GUESS - 1) & ~(uint64_t)(PITCH_ALIGN_GUESS - 1);
	return size_mul_sat(pitch, height);
}

/* Bytes per channel of an array format. An estimate: the driver tiles and
 * pads arrays as it likes. Unknown formats count 4 bytes a channel. */
static uint64_t format_bytes(CUarray_format f)
{
	switch (f) {
	case CU_AD_FORMAT_UNSIGNED_INT16: case CU_AD_FORMAT_SIGNED_INT16:
	case CU_AD_FORMAT_HALF: case CU_AD_FORMAT_UNORM_INT16X1: case CU_AD_FORMAT_UNORM_INT16X2:
	case CU_AD_FORMAT_UNORM_INT16X4: case CU_AD_FORMAT_SNORM_INT16X1:
	case CU_AD_FORMAT_SNORM_INT16X2: case CU_AD_FORMAT_SNORM_INT16X4:
	case CU_AD_FORMAT_P010: case CU_AD_FORMAT_P016: case CU_AD_FORMAT_P210:
	case CU_AD_FORMAT_P216: case CU_AD_FORMAT_Y210: case CU_AD_FORMAT_Y216:
	case CU_AD_FORMAT_Y416: case CU_AD_FORMAT_Y444_PLANAR10:
	case CU_AD_FORMAT_YUV444_16bit_SemiPlanar:
		return 2;
	case CU_AD_FORMAT_UNSIGNED_INT8: case CU_AD_FORMAT_SIGNED_INT8:
	case CU_AD_FORMAT_UNORM_INT8X1: case CU_AD_FORMAT_UNORM_INT8X2:
	case CU_AD_FORMAT_UNORM_INT8X4: case CU_AD_FORMAT_SNORM_INT8X1:
	case CU_AD_FORMAT_SNORM_INT8X2: case CU_AD_FORMAT_SNORM_INT8X4:
	case CU_AD_FORMAT_NV12: case CU_AD_FORMAT_NV16: case CU_AD_FORMAT_YUY2:
	case CU_AD_FORMAT_AYUV: case CU_AD_FORMAT_Y444_PLANAR8:
	case CU_AD_FORMAT_YUV444_8bit_SemiPlanar:
		return 1;
	default:
		if (f >= CU_AD_FORMAT_BC1_UNORM && f <= CU_AD_FORMAT_BC7_UNORM_SRGB)
			return 1;
		return 4;
	}
}

static uint64_t at_least_1(uint64_t v)
{
	return v != 0 ? v : 1;
}

/* One level: width x height x depth (layers included) x element size. */
static uint64_t level_bytes(uint64_t w, uint64_t h, uint64_t depth, CUarray_format format,
			    unsigned channels)
{
	uint64_t element = size_mul_sat(format_bytes(format), channels < 1 ? 1 : channels);
	return size_mul_sat(size_mul_sat(size_mul_sat(element, at_least_1(w)), at_least_1(h)), at_least_1(depth));
}

static uint64_t array_estimate(const CUDA_ARRAY3D_DESCRIPTOR *a, unsigned levels)
{
	int layered = (a->Flags & (CUDA_ARRAY3D_LAYERED | CUDA_ARRAY3D_CUBEMAP)) != 0;
	uint64_t w = a->Width, h = a->Height, depth = a->Depth, sum = 0;
	for (unsigned l = 0; l < at_least_1(levels) && l < 64; l++) {
		sum = size_add_sat(sum, level_bytes(w, h, depth, a->Format, a->NumChannels));
		w = at_least_1(w / 2);
		h = h != 0 ? at_least_1(h / 2) : 0;
		if (!layered)
			depth = depth != 0 ? at_least_1(depth / 2) : 0; /* layers stay */
	}
	return sum;
}

static uint64_t array2d_estimate(const CUDA_ARRAY_DESCRIPTOR *a)
{
	return level_bytes(a->Width, a->Height, 1, a->Format, a->NumChannels);
}

/* ---- allocation hooks ---- */

HOOK_EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *dptr, size_t bytesize)
{
	HOOK_BEGIN(cuMemAlloc_v2, (dptr, bytesize));
	struct ticket t;
	CUresult r = mem_ask(&t, device_current(), bytesize);
	if (r == CUDA_SUCCESS) {
		r = real.cuMemAlloc_v2(dptr, bytesize);
		mem_settle(&t, r, CHARGE_PTR, r == CUDA_SUCCESS ? *dptr : 0);
	}
	hook_leave();
	return r;
}

HOOK_EXPORT CUresult cuMemAllocPitch_v2(CUdeviceptr *dptr, size_t *pPitch, size_t WidthInBytes,
					size_t Height, unsigned int ElementSizeBytes)
{
	HOOK_BEGIN(cuMemAllocPitch_v2, (dptr, pPitch, WidthInBytes, Height, ElementSizeBytes));
	struct ticket t;
	CUresult r = mem_ask(&t, device_current(), pitch_guess(WidthInBytes, Height));
	if (r == CUDA_SUCCESS) {
		r = real.cuMemAllocPitch_v2(dptr, pPitch, WidthInBytes, Height, ElementSizeBytes);
		if (r == CUDA_SUCCESS && mem_resize(&t, size_mul_sat(*pPitch, Height)) != 0) {
			real.cuMemFree_v2(*dptr); /* wider than the cap allows */
			r = CUDA_ERROR_OUT_OF_MEMORY;
		}
		mem_settle(&t, r, CHARGE_PTR, r == CUDA_SUCCESS ? *dptr : 0);
	}
	hook_leave();
	return r;
}

HOOK_EXPORT CUresult cuMemAllocManaged(CUdeviceptr *dptr, size_t bytesize, unsigned int flags)
{
	HOOK_BEGIN(cuMemAllocManaged, (dptr, bytesize, flags));
	struct ticket t;
	CUresult r = mem_ask(&t, hooks_cfg.count_managed ? device_current() : NULL, bytesize);
	if (r == CUDA_SUCCESS) {
		r = real.cuMemAllocManaged(dptr, bytesize, flags);
		mem_settle(&t, r, CHARGE_PTR, r == CUDA_SUCCESS ? *dptr : 0);
	}
	hook_leave();
	return r;
}

/* The stream-ordered allocations are charged at the call, on the device of
 * the current context (docs/memory.md: pools). */
#define ALLOC_ASYNC_BODY(name, args)                                          \
	HOOK_BEGIN(name, args);                                               \
	struct ticket t;                                                      \
	CUresult r = mem_ask(&t, device_current(), bytesize);                        \
	if (r == CUDA_SUCCESS) {                                              \
		r = real.name args;                                           \
		mem_settle(&t, r, CHARGE_PTR, r == CUDA_SUCCESS ? *dptr : 0); \
	}                                                                     \
	hook_leave();                                                         \
	return r

HOOK_EXPORT CUresult cuMemAllocAsync(CUdeviceptr *dptr, size_t bytesize, CUstream hStream)
{
	ALLOC_ASYNC_BODY(cuMemAllocAsync, (dptr, bytesize, hStream));
}

HOOK_EXPORT CUresult cuMemAllocAsync_ptsz(CUdeviceptr *dptr, size_t bytesize, CUstream hStream)
{
	ALLOC_ASYNC_BODY(cuMemAllocAsync_ptsz, (dptr, bytesize, hStream));
}

HOOK_EXPORT CUresult cuMemAllocFromPoolAsync(CUdeviceptr *dptr, size_t bytesize,
					     CUmemoryPool pool, CUstream hStream)
{
	ALLOC_ASYNC_BODY(cuMemAllocFromPoolAsync, (dptr, bytesize, pool, hStream));
}

HOOK_EXPORT CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr *dptr, size_t bytesize,
						  CUmemoryPool pool, CUstream hStream)
{
	ALLOC_ASYNC_BODY(cuMemAllocFromPoolAsync_ptsz, (dptr, bytesize, pool, hStream));
}

/* Physical memory for VMM mappings: charged on the device the properties
 * name; host locations are not device memory and are not charged. */
static struct device *prop_device(const CUmemAllocationProp *prop)
{
	if (prop == NULL || prop->location.type != CU_MEM_LOCATION_TYPE_DEVICE)
		return NULL;
	return device_get(prop->location.id);
}

HOOK_EXPORT CUresult cuMemCreate(CUmemGenericAllocationHandle *handle, size_t size,
				 const CUmemAllocationProp *prop, unsigned long long flags)
{
	HOOK_BEGIN(cuMemCreate, (handle, size, prop, flags));
	struct ticket t;
	CUresult r = mem_ask(&t, prop_device(prop), size);
	if (r == CUDA_SUCCESS) {
		r = real.cuMemCreate(handle, size, prop, flags);
		mem_settle(&t, r, CHARGE_HANDLE, r == CUDA_SUCCESS ? *handle : 0);
	}
	hook_leave();
	return r;
}

HOOK_EXPORT CUresult cuArrayCreate_v2(CUarray *pHandle, const CUDA_ARRAY_DESCRIPTOR *pAllocateArray)
{
	HOOK_BEGIN(cuArrayCreate_v2, (pHandle, pAllocateArray));
	struct ticket t = { NULL, 0 };
	CUresult r = pAllocateArray == NULL ? CUDA_SUCCESS
		   : mem_ask(&t, device_current(), array2d_estimate(pAllocateArray));
	if (r == CUDA_SUCCESS) {
		r = real.cuArrayCreate_v2(pHandle, pAllocateArray);
		mem_settle(&t, r, CHARGE_ARRAY, r == CUDA_SUCCESS ? (uintptr_t)*pHandle : 0);
	}
	hook_leave();
	return r;
}

HOOK_EXPORT CUresult cuArray3DCreate_v2(CUarray *pHandle,
					const CUDA_ARRAY3D_DESCRIPTOR *pAllocateArray)
{
	HOOK_BEGIN(cuArray3DCreate_v2, (pHandle, pAllocateArray));
	struct ticket t = { NULL, 0 };
	CUresult r = pAllocateArray == NULL ? CUDA_SUCCESS
		   : mem_ask(&t, device_current(), array_estimate(pAllocateArray, 1));
	if (r == CUDA_SUCCESS) {
		r = real.cuArray3DCreate_v2(pHandle, pAllocateArray);
		mem_settle(&t, r, CHARGE_ARRAY, r == CUDA_SUCCESS ? (uintptr_t)*pHandle : 0);
	}
	hook_leave();
	return r;
}

HOOK_EXPORT CUresult cuMipmappedArrayCreate(CUmipmappedArray *pHandle,
					    const CUDA_ARRAY3D_DESCRIPTOR *pMipmappedArrayDesc,
					    unsigned int numMipmapLevels)
{
	HOOK_BEGIN(cuMipmappedArrayCreate, (pHandle, pMipmappedArrayDesc, numMipmapLevels));
	struct ticket t = { NULL, 0 };
	CUresult r = pMipmappedArrayDesc == NULL ? CUDA_SUCCESS
		   : mem_ask(&t, device_current(), array_estimate(pMipmappedArrayDesc, numMipmapLevels));
	if (r == CUDA_SUCCESS) {
		r = real.cuMipmappedArrayCreate(pHandle, pMipmappedArrayDesc, numMipmapLevels);
		mem_settle(&t, r, CHARGE_MIPMAP, r == CUDA_SUCCESS ? (uintptr_t)*pHandle : 0);
	}
	hook_leave();
	return r;
}

/* ---- release hooks ---- */

#define RELEASE_BODY(name, args, kind, key)       \
	HOOK_BEGIN(name, args);                   \
	struct hold h;                            \
	mem_take(&h, kind, key);                  \
	CUresult r = real.name args;              \
	mem_return(&h, r);                        \
	hook_leave();                             \
	return r

HOOK_EXPORT CUresult cuMemFree_v2(CUdeviceptr dptr)
{
	RELEASE_BODY(cuMemFree_v2, (dptr), CHARGE_PTR, dptr);
}

/* Given back when the free is enqueued: docs/memory.md, pools. */
HOOK_EXPORT CUresult cuMemFreeAsync(CUdeviceptr dptr, CUstream hStream)
{
	RELEASE_BODY(cuMemFreeAsync, (dptr, hStream), CHARGE_PTR, dptr);
}

HOOK_EXPORT CUresult cuMemFreeAsync_ptsz(CUdeviceptr dptr, CUstream hStream)
{
	RELEASE_BODY(cuMemFreeAsync_ptsz, (dptr, hStream), CHARGE_PTR, dptr);
}

HOOK_EXPORT CUresult cuMemRelease(CUmemGenericAllocationHandle handle)
{
	RELEASE_BODY(cuMemRelease, (handle), CHARGE_HANDLE, handle);
}

HOOK_EXPORT CUresult cuArrayDestroy(CUarray hArray)
{
	RELEASE_BODY(cuArrayDestroy, (hArray), CHARGE_ARRAY, (uintptr_t)hArray);
}

HOOK_EXPORT CUresult cuMipmappedArrayDestroy(CUmipmappedArray hMipmappedArray)
{
	RELEASE_BODY(cuMipmappedArrayDestroy, (hMipmappedArray), CHARGE_MIPMAP,
		     (uintptr_t)hMipmappedArray);
}

/* ---- queries ---- */

int mem_caps_configured(void)
{
	return hooks_cfg.mem.set || hooks_cfg.group[0] != '\0';
}

/* The view of a GPU this process has not joined: its own cap, lowered by
 * its group's members in the GPU's file if there is one. */
static void view_unjoined(const char *uuid, int ordinal, uint64_t card_total,
			  struct mem_view *v)
{
	uint64_t cap = 0;
	v->capped = 1;
	v->cap = v->used = 0;
	if (memspec_cap_card(&hooks_cfg.mem, ordinal, uuid, card_total, &cap) != 0)
		return; /* fail closed */
	if (card_total != 0 && cap > card_total)
		cap = card_total;
	v->cap = cap;
	struct gpufile g;
	char path[sizeof(g.path)];
	if (hooks_cfg.group[0] != '\0' && gpufile_name(hooks_cfg.dir, uuid, path, sizeof(path)) == 0 &&
	    gpufile_open_readonly(&g, path, NULL, 0) == 0) {
		if (strcasecmp(g.map->header.uuid, uuid) == 0)
			ledger_group_usage_by_name(g.map, hooks_cfg.group, cap, &v->used, &v->cap);
		gpufile_close(&g);
	}
	v->capped = v->cap != 0;
}

int mem_view_uuid(const char *uuid, int ordinal, uint64_t card_total, struct mem_view *v)
{
	struct device *d = device_by_uuid(uuid);
	if (d != NULL)
		view_of(prepare(d), v);
	else
		view_unjoined(uuid, ordinal, card_total, v);
	return v->capped;
}

/* Rewrites a real answer (free, total) with the cap of d, if it has one:
 * total = cap, free = min(cap - usage, real free). */
static void report(struct device *d, size_t *free, size_t *total)
{
	struct mem_view v;
	if (d == NULL)
		return;
	view_of(prepare(d), &v);
	if (!v.capped)
		return;
	uint64_t room = v.used < v.cap ? v.cap - v.used : 0;
	*total = v.cap;
	*free = room < *free ? room : *free;
}

HOOK_EXPORT CUresult cuMemGetInfo_v2(size_t *free, size_t *total)
{
	HOOK_BEGIN(cuMemGetInfo_v2, (free, total));
	CUresult r = real.cuMemGetInfo_v2(free, total);
	if (r == CUDA_SUCCESS)
		report(device_current(), free, total);
	hook_leave();
	return r;
}

/* The cap of dev as cudart's totalGlobalMem; does not join the GPU. */
static void report_total(CUdevice dev, size_t *bytes)
{
	struct mem_view v;
	char uuid[CS_UUID_MAX];
	if (!mem_caps_configured() || device_uuid_of(dev, uuid, sizeof(uuid)) != 0)
		return;
	if (mem_view_uuid(uuid, dev, *bytes, &v))
		*bytes = v.cap;
}

HOOK_EXPORT CUresult cuDeviceTotalMem_v2(size_t *bytes, CUdevice dev)
{
	HOOK_BEGIN(cuDeviceTotalMem_v2, (bytes, dev));
	CUresult r = real.cuDeviceTotalMem_v2(bytes, dev);
	if (r == CUDA_SUCCESS)
		report_total(dev, bytes);
	hook_leave();
	return r;
}

/* ---- fork ---- */

void mem_after_fork(void)
{
	/* The child has its own slot (or none yet); the parent's allocations
	 * are the parent's. Another thread may have held the map's lock at the
	 * fork, so the records are dropped, not freed. */
	ledger_map_abandon(&charges);
	memset(local, 0, sizeof(local));
	for (int i = 0; i < DEVICES_MAX; i++)
		atomic_store_explicit(&prepared[i], 0, memory_order_relaxed);
	pthread_mutex_init(&prepare_lock, NULL);
}
