/* fuzz_gpufile.c - libFuzzer harness of the shared-file readers: header
 * validation (gpufile_check), the CLI's opening (gpufile_open_readonly),
 * the snapshot that status/top/metrics render (snapshot_take), and the
 * ledger's readers of other members' slots (ledger_group_usage,
 * ledger_explain). A file anyone on the node may write is their input.
 *
 * The input is a list of patches over a valid file with three members, so
 * that most inputs pass the header check and reach the readers behind it:
 *   byte 0       how to cut the file: 0-199 keep it whole, else cut it to
 *                (input bytes 1-3) modulo its size
 *   then, repeated: offset (3 bytes, little-endian, modulo the file's size),
 *                   length (1 byte), that many bytes to write there.
 * Beyond crashes and undefined behaviour, it checks what readers promise:
 * counts within bounds, shares within 0..1, texts terminated. */
#include <errno.h>
#include <fcntl.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gpufile.h"
#include "ledger.h"
#include "member.h"
#include "snapshot.h"

#define UUID "GPU-8f3a1234-5678-9abc-def0-123456789abc"

static alignas(4096) unsigned char base[sizeof(struct cs_file)];
static alignas(4096) unsigned char work[sizeof(struct cs_file)];
static char path[400];
static int out_fd = -1;

/* A valid file with three members, made by the library itself. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	char dir[] = "/tmp/cuslice-fuzz-XXXXXX";
	if (mkdtemp(dir) == NULL)
		abort();
	struct gpufile g[3];
	char why[300];
	const char *groups[] = { "train", "train", "" };
	for (int i = 0; i < 3; i++) {
		struct member_info info = { .weight = 1 + i, .priority = 1, .ordinal = 0,
					    .declared_cap = (uint64_t)(i + 1) << 30,
					    .group = groups[i] };
		unsigned slot;
		if (gpufile_open(&g[i], dir, UUID, 20, why, sizeof(why)) != 0 ||
		    member_join(&g[i], &info, NULL, NULL, &slot) != 0)
			abort();
		atomic_store(&g[i].map->members[slot].charged, (uint64_t)(i + 1) << 28);
	}
	int fd = open(g[0].path, O_RDONLY);
	if (fd < 0 || pread(fd, base, sizeof(base), 0) != (ssize_t)sizeof(base))
		abort();
	close(fd);
	snprintf(path, sizeof(path), "%s/gpu-fuzzed.shm", dir);
	out_fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (out_fd < 0)
		abort();
	return 0; /* the members stay open: their slots look alive */
}

static size_t build(const uint8_t *data, size_t size)
{
	memcpy(work, base, sizeof(work));
	size_t len = sizeof(work);
	if (size >= 4 && data[0] >= 200)
		len = ((size_t)data[1] | (size_t)data[2] << 8 | (size_t)data[3] << 16) % len;
	for (size_t i = 4; i + 4 <= size;) {
		size_t off = ((size_t)data[i] | (size_t)data[i + 1] << 8 |
			      (size_t)data[i + 2] << 16) % sizeof(work);
		size_t n = data[i + 3];
		i += 4;
		if (n > size - i)
			n = size - i;
		if (n > sizeof(work) - off)
			n = sizeof(work) - off;
		memcpy(work + off, data + i, n);
		i += n;
	}
	return len;
}

static void check_snapshot(const struct snap_gpu *s)
{
	if (s->nmembers > CS_MEMBERS_MAX || s->nalive + s->ndead != s->nmembers ||
	    s->ngroups > CS_MEMBERS_MAX || s->nordinals > CS_MEMBERS_MAX)
		abort();
	if (memchr(s->uuid, '\0', sizeof(s->uuid)) == NULL)
		abort();
	if (!(s->high_share >= 0 && s->high_share <= 1))
		abort();
	for (unsigned i = 0; i < s->nmembers; i++) {
		const struct snap_member *m = &s->members[i];
		if (m->slot >= CS_MEMBERS_MAX || memchr(m->group, '\0', CS_NAME_MAX) == NULL ||
		    memchr(m->note, '\0', CS_NOTE_MAX) == NULL)
			abort();
		if (!(m->share_window >= 0 && m->share_window <= 1) ||
		    !(m->share_life >= 0 && m->share_life <= 1))
			abort();
		if (m->group_index >= (int)s->ngroups)
			abort();
	}
}

static void read_ledger(const struct cs_file *f)
{
	char text[512];
	for (unsigned slot = 0; slot < CS_MEMBERS_MAX; slot += 7) {
		uint64_t used, cap;
		ledger_group_usage(f, slot, &used, &cap);
		ledger_explain(f, slot, UINT64_C(1) << 30, text, sizeof(text));
		if (memchr(text, '\0', sizeof(text)) == NULL)
			abort();
	}
	uint64_t used, cap;
	ledger_group_usage_by_name(f, "train", 0, &used, &cap);
}

/* The CLI's way: write the bytes to a file, open it read-only, snapshot. */
static void through_file(size_t len)
{
	char why[300];
	if (ftruncate(out_fd, 0) != 0 || pwrite(out_fd, work, len, 0) != (ssize_t)len)
		abort();
	static struct snap_gpu s;
	struct gpufile g;
	if (gpufile_open_readonly(&g, path, why, sizeof(why)) == 0) {
		if (snapshot_take(&g, &s) == 0)
			check_snapshot(&s);
		read_ledger(g.map);
		gpufile_close(&g);
	} else if (memchr(why, '\0', sizeof(why)) == NULL) {
		abort();
	}
}

/* A member's way: the mapping itself, once its header checked (no file
 * I/O, so most inputs take this faster path). */
static void in_memory(size_t len)
{
	char why[300];
	if (gpufile_check((const struct cs_header *)work, len, NULL, why, sizeof(why)) != 0)
		return;
	static struct snap_gpu s;
	struct gpufile g = { .fd = -1, .own_slot = -1, .map = (struct cs_file *)work };
	if (snapshot_take(&g, &s) == 0)
		check_snapshot(&s);
	read_ledger(g.map);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t len = build(data, size);
	in_memory(len);
	if (size < 4 || data[0] % 8 == 0 || data[0] >= 200)
		through_file(len);
	return 0;
}
