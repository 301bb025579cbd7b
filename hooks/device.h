/* device.h - this process's view of each GPU it uses.
 *
 * A device record maps a CUDA device (the ordinal this process sees) to the
 * physical GPU's UUID, the shared per-GPU file and this process's member
 * slot in it. A process joins a GPU's file the first time it allocates or
 * launches on that GPU; if the file cannot be used (unwritable folder,
 * corrupt or foreign file, every slot taken) the record says so and the
 * modules fall back: memory is still capped per process, launches run
 * unthrottled. The reason is logged once.
 */
#ifndef CUSLICE_DEVICE_H
#define CUSLICE_DEVICE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "cuda_api.h"
#include "gpufile.h"

enum { DEVICES_MAX = 64 };

enum device_status { DEVICE_UNSEEN = 0, DEVICE_READY, DEVICE_LOCAL };

struct device {
	_Atomic int status;          /* enum device_status, set once (release) */
	int ordinal;                 /* CUdevice */
	char uuid[CS_UUID_MAX];      /* "GPU-…", or "" if unknown */
	uint64_t cap;                /* 0 = no cap; clamped to the card */
	int cap_invalid;             /* CUSLICE_MEM_LIMIT unusable: refuse all */
	uint64_t card_total;         /* real device memory */
	uint64_t ctx_reserve;        /* CUSLICE_CTX_RESERVE, bounded by the card */
	_Atomic int reserve_pending; /* the reserve did not fit: allocations are
	                              * refused until it does (memory.c) */
	struct gpufile file;         /* valid when status == DEVICE_READY */
	unsigned slot;               /* our member slot in file */
	char problem[600];           /* why status is DEVICE_LOCAL */
};

/* The device of the calling thread's current context, joined on first use,
 * or NULL when the thread has no context. */
struct device *device_current(void);

/* The record for a CUdevice, joined on first use, or NULL if out of range
 * or the driver does not know it. */
struct device *device_get(CUdevice dev);

/* The record for an ordinal if it was already joined, else NULL. Never
 * calls the driver. */
struct device *device_peek(int ordinal);

/* The record for a GPU UUID among those already joined, or NULL. */
struct device *device_by_uuid(const char *uuid);

/* Writes the UUID ("GPU-…") of CUdevice dev into out. Returns 0, or
 * -ENODEV when the driver does not give one. Joins nothing. */
int device_uuid_of(CUdevice dev, char *out, size_t len);

/* The CUdevice this process sees for a GPU UUID (case-insensitive), or -1
 * when none matches or the driver is not initialised yet. Never
 * initialises the driver and joins nothing (NVML queries use it). */
int device_ordinal_by_uuid(const char *uuid);

/* Returns dead members' resources on d's GPU now. Returns how many slots
 * were reaped. */
int device_reap(struct device *d);

/* Forgets the parent's records after fork (the child joins on its own). */
void device_after_fork(void);

/* Leaves every GPU's ring and ledger (at exit). */
void device_leave_all(void);

#endif
