/* mapguard.c - SIGBUS repair of shrunk shared files; see mapguard.h. */
#include "mapguard.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct guard {
	_Atomic int used;          /* claimed by mapguard_add */
	_Atomic uintptr_t addr;    /* published last; 0: not guarding */
	size_t len;
	int fd;
	_Atomic int detached;
	struct cs_header header;
};

static struct guard guards[MAPGUARD_MAX];
static struct sigaction previous;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static int install_err;
static _Atomic unsigned long repairs;

static struct guard *find(uintptr_t a)
{
	for (unsigned i = 0; i < MAPGUARD_MAX; i++) {
		uintptr_t base = atomic_load_explicit(&guards[i].addr, memory_order_acquire);
		if (base != 0 && a >= base && a - base < guards[i].len)
			return &guards[i];
	}
	return NULL;
}

/* Puts back what a cut took that others need: the header and a free token. */
static void restore(struct guard *g, uint64_t kept)
{
	struct cs_file *f = (struct cs_file *)atomic_load(&g->addr);
	if (kept < sizeof(struct cs_header))
		memcpy(&f->header, &g->header, sizeof(f->header));
	if (kept < offsetof(struct cs_file, ring) + sizeof(f->ring))
		atomic_store(&f->ring.token, TOKEN_MAKE(0, CS_NO_HOLDER));
}

static int repair(struct guard *g)
{
	struct stat st;
	if (fstat(g->fd, &st) != 0)
		st.st_size = 0;
	if ((uint64_t)st.st_size >= g->len)
		return 0; /* another member grew it back already */
	if (ftruncate(g->fd, (off_t)g->len) == 0) {
		restore(g, (uint64_t)st.st_size);
		return 0;
	}
	void *p = mmap((void *)atomic_load(&g->addr), g->len, PROT_READ | PROT_WRITE,
		       MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	atomic_store(&g->detached, 1);
	restore(g, 0);
	return 0;
}

/* Hands a fault that is not ours to whoever handled SIGBUS before us. */
static void pass_on(int sig, siginfo_t *si, void *uc)
{
	if (previous.sa_flags & SA_SIGINFO) {
		if (previous.sa_sigaction != NULL)
			previous.sa_sigaction(sig, si, uc);
		return;
	}
	if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
		previous.sa_handler(sig);
		return;
	}
	/* The default action: a fault repeats when we return, a signal sent
	 * with kill() is raised again. */
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigaction(sig, &dfl, NULL);
	if (si->si_code <= 0)
		raise(sig);
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	struct guard *g = si->si_code > 0 ? find((uintptr_t)si->si_addr) : NULL;
	if (g != NULL && repair(g) == 0)
		atomic_fetch_add(&repairs, 1);
	else
		pass_on(sig, si, uc);
	errno = saved;
}

static void install(void)
{
	struct sigaction sa = { .sa_sigaction = on_sigbus,
				.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART };
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &previous) != 0)
		install_err = -errno;
}

int mapguard_add(void *addr, size_t len, int fd, const struct cs_header *header)
{
	pthread_once(&install_once, install);
	if (install_err != 0)
		return install_err;
	for (unsigned i = 0; i < MAPGUARD_MAX; i++) {
		int expect = 0;
		struct guard *g = &guards[i];
		if (!atomic_compare_exchange_strong(&g->used, &expect, 1))
			continue;
		g->len = len;
		g->fd = fd;
		g->header = *header;
		atomic_store(&g->detached, 0);
		atomic_store_explicit(&g->addr, (uintptr_t)addr, memory_order_release);
		return 0;
	}
	return -ENOSPC;
}

void mapguard_remove(void *addr)
{
	for (unsigned i = 0; i < MAPGUARD_MAX; i++) {
		struct guard *g = &guards[i];
		if (atomic_load(&g->addr) == (uintptr_t)addr && addr != NULL) {
			atomic_store(&g->addr, 0);
			atomic_store(&g->used, 0);
		}
	}
}

unsigned long mapguard_repairs(void)
{
	return atomic_load(&repairs);
}

int mapguard_detached(const void *addr)
{
	struct guard *g = find((uintptr_t)addr);
	return g != NULL && atomic_load(&g->detached);
}
