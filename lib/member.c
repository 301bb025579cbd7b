/* member.c - member slots and liveness; see member.h and layout.h. */
#include "member.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "mapguard.h"

static int slot_lock(const struct gpufile *g, unsigned slot, int cmd, short type, off_t extra,
		     struct flock *out)
{
	struct flock fl = {
		.l_type = type,
		.l_whence = SEEK_SET,
		.l_start = (off_t)(CS_LOCK_BASE + 2u * slot) + extra,
		.l_len = 1,
	};
	int r = fcntl(g->fd, cmd, &fl);
	if (out != NULL)
		*out = fl;
	return r == 0 ? 0 : -errno;
}

int member_alive(const struct gpufile *g, unsigned slot)
{
	if (slot >= CS_MEMBERS_MAX)
		return -EINVAL;
	if ((int)slot == g->own_slot)
		return 1;
	struct flock fl;
	int err = slot_lock(g, slot, F_OFD_GETLK, F_WRLCK, 0, &fl);
	if (err != 0)
		return err;
	return fl.l_type != F_UNLCK;
}

pid_t member_local_pid(const struct gpufile *g, unsigned slot)
{
	if (slot >= CS_MEMBERS_MAX)
		return 0;
	struct flock fl;
	if (slot_lock(g, slot, F_GETLK, F_WRLCK, 1, &fl) != 0 || fl.l_type == F_UNLCK)
		return 0;
	return fl.l_pid > 0 ? fl.l_pid : 0;
}

uint64_t member_group_hash(const char *group)
{
	if (group == NULL || group[0] == '\0')
		return 0;
	uint64_t h = UINT64_C(14695981039346656037);
	for (const unsigned char *p = (const unsigned char *)group; *p != '\0'; p++) {
		h ^= *p;
		h *= UINT64_C(1099511628211);
	}
	return h != 0 ? h : 1;
}

int member_same_group(const struct cs_member *a, const struct cs_member *b)
{
	if (a == b)
		return 1;
	if (a->group_hash == 0 || a->group_hash != b->group_hash)
		return 0;
	return strncmp(a->group, b->group, sizeof(a->group)) == 0;
}

/* Resets every field but state, then fills the identity. */
static void fill_slot(struct cs_member *m, const struct member_info *info)
{
	size_t skip = sizeof(m->state);
	memset((char *)m + skip, 0, sizeof(*m) - skip);
	m->pid = (uint32_t)getpid();
	m->join_unix_ns = clock_ns(CLOCK_REALTIME);
	if (getrandom(&m->key, sizeof(m->key), GRND_NONBLOCK) != (ssize_t)sizeof(m->key))
		m->key = m->join_unix_ns ^ ((uint64_t)m->pid << 32);
	m->weight = info->weight;
	m->priority = info->priority;
	m->ordinal = info->ordinal;
	m->abi_minor = CS_ABI_MINOR;
	m->declared_cap = info->declared_cap;
	const char *group = info->group != NULL ? info->group : "";
	strncpy(m->group, group, sizeof(m->group) - 1);
	m->group_hash = member_group_hash(m->group);
	if (info->note != NULL)
		strncpy(m->note, info->note, sizeof(m->note) - 1);
	m->bad_vars = info->bad_vars;
	m->card_total = info->card_total;
	m->src_mem = info->src_mem;
	m->src_weight = info->src_weight;
	m->src_priority = info->src_priority;
	if (info->pod_name != NULL)
		strncpy(m->pod_name, info->pod_name, sizeof(m->pod_name) - 1);
	if (info->pod_namespace != NULL)
		strncpy(m->pod_namespace, info->pod_namespace, sizeof(m->pod_namespace) - 1);
}

int member_join(struct gpufile *g, const struct member_info *info, member_cleaner *clean,
		void *arg, unsigned *slot)
{
	if (g->own_slot >= 0)
		return -EALREADY;
	for (unsigned i = 0; i < CS_MEMBERS_MAX; i++) {
		int err = slot_lock(g, i, F_OFD_SETLK, F_WRLCK, 0, NULL);
		if (err == -EAGAIN || err == -EACCES)
			continue; /* a live member holds it */
		if (err != 0)
			return err;
		struct cs_member *m = &g->map->members[i];
		if (atomic_load_explicit(&m->state, memory_order_acquire) == MEMBER_ACTIVE &&
		    clean != NULL)
			clean(g, i, arg);
		fill_slot(m, info);
		memcpy(g->joined, m, sizeof(g->joined));
		slot_lock(g, i, F_SETLK, F_WRLCK, 1, NULL); /* for member_local_pid */
		atomic_store_explicit(&m->state, MEMBER_ACTIVE, memory_order_release);
		g->own_slot = (int)i;
		*slot = i;
		return 0;
	}
	return -ENOSPC;
}

/* The identity: what fill_slot wrote before the note (which the owner
 * updates later) and after the GPU-time history (fields of later minors). */
#define IDENTITY_START sizeof(_Atomic uint32_t) /* after state */
#define IDENTITY_END offsetof(struct cs_member, note)
#define TAIL_START (offsetof(struct cs_member, hist_held_ns) + \
		    sizeof(((struct cs_member *)0)->hist_held_ns))

int member_repair(struct gpufile *g, unsigned slot)
{
	if (slot >= CS_MEMBERS_MAX || g->map == NULL)
		return 0;
	struct cs_member *m = &g->map->members[slot];
	char *at = (char *)m;
	if (atomic_load_explicit(&m->state, memory_order_acquire) == MEMBER_ACTIVE &&
	    memcmp(at + IDENTITY_START, g->joined + IDENTITY_START,
		   IDENTITY_END - IDENTITY_START) == 0 &&
	    memcmp(at + TAIL_START, g->joined + TAIL_START, CS_MEMBER_STRIDE - TAIL_START) == 0)
		return 0;
	memcpy(at + IDENTITY_START, g->joined + IDENTITY_START, IDENTITY_END - IDENTITY_START);
	memcpy(at + TAIL_START, g->joined + TAIL_START, CS_MEMBER_STRIDE - TAIL_START);
	atomic_store_explicit(&m->state, MEMBER_ACTIVE, memory_order_release);
	return 1;
}

void member_watch(struct gpufile *g, unsigned slot)
{
	if (g->map != NULL && !g->detached_said && mapguard_detached(g->map)) {
		g->detached_said = 1;
		log_unisolated("shared file %s was cut short and could not be grown back; this "
			       "process goes on alone, unthrottled, with its memory charged only "
			       "here", g->path);
	}
	member_repair(g, slot);
}

void member_leave(struct gpufile *g, unsigned slot)
{
	if (slot >= CS_MEMBERS_MAX || g->map == NULL || (int)slot != g->own_slot)
		return;
	atomic_store_explicit(&g->map->members[slot].state, MEMBER_FREE, memory_order_release);
	g->own_slot = -1;
	slot_lock(g, slot, F_SETLK, F_UNLCK, 1, NULL);
	slot_lock(g, slot, F_OFD_SETLK, F_UNLCK, 0, NULL);
}

int member_reap(struct gpufile *g, unsigned slot, member_cleaner *clean, void *arg)
{
	if (slot >= CS_MEMBERS_MAX || (int)slot == g->own_slot)
		return 0;
	struct cs_member *m = &g->map->members[slot];
	if (atomic_load_explicit(&m->state, memory_order_acquire) != MEMBER_ACTIVE)
		return 0;
	if (slot_lock(g, slot, F_OFD_SETLK, F_WRLCK, 0, NULL) != 0)
		return 0; /* alive, or being reaped by someone else */
	int reaped = 0;
	if (atomic_load_explicit(&m->state, memory_order_acquire) == MEMBER_ACTIVE) {
		if (clean != NULL)
			clean(g, slot, arg);
		atomic_store_explicit(&m->state, MEMBER_FREE, memory_order_release);
		reaped = 1;
	}
	slot_lock(g, slot, F_OFD_SETLK, F_UNLCK, 0, NULL);
	return reaped;
}

int member_reap_all(struct gpufile *g, member_cleaner *clean, void *arg)
{
	int n = 0;
	for (unsigned i = 0; i < CS_MEMBERS_MAX; i++)
		n += member_reap(g, i, clean, arg);
	return n;
}
