/* ledger_dump.c - prints the ledger of a per-GPU file, for test_memory.py.
 *
 *   ledger_dump FILE
 *
 * One line per ACTIVE member slot:
 *   member SLOT group=NAME charged=N peak=N refusals=N allocations=N cap=N alive=0|1
 * and one line per group: group NAME used=N cap=N (from ledger_group_usage).
 * Exits 1 when the file cannot be opened or fails its checks.
 */
#include <stdio.h>
#include <string.h>

#include "gpufile.h"
#include "ledger.h"
#include "member.h"

int main(int argc, char **argv)
{
	struct gpufile g;
	char why[200] = "";
	if (argc != 2) {
		fprintf(stderr, "usage: ledger_dump FILE\n");
		return 2;
	}
	if (gpufile_open_readonly(&g, argv[1], why, sizeof(why)) != 0) {
		printf("error %s\n", why);
		return 1;
	}
	int shown[CS_MEMBERS_MAX] = { 0 };
	for (unsigned i = 0; i < CS_MEMBERS_MAX; i++) {
		const struct cs_member *m = &g.map->members[i];
		if (atomic_load(&m->state) != MEMBER_ACTIVE)
			continue;
		printf("member %u group=%s charged=%llu peak=%llu refusals=%llu allocations=%llu "
		       "cap=%llu alive=%d\n", i, m->group[0] ? m->group : "-",
		       (unsigned long long)atomic_load(&m->charged),
		       (unsigned long long)atomic_load(&m->peak),
		       (unsigned long long)atomic_load(&m->refusals),
		       (unsigned long long)atomic_load(&m->allocations),
		       (unsigned long long)m->declared_cap, member_alive(&g, i) == 1);
	}
	for (unsigned i = 0; i < CS_MEMBERS_MAX; i++) {
		const struct cs_member *m = &g.map->members[i];
		if (atomic_load(&m->state) != MEMBER_ACTIVE || shown[i])
			continue;
		for (unsigned j = i; j < CS_MEMBERS_MAX; j++)
			if (atomic_load(&g.map->members[j].state) == MEMBER_ACTIVE &&
			    member_same_group(m, &g.map->members[j]))
				shown[j] = 1;
		uint64_t used = 0, cap = 0;
		ledger_group_usage(g.map, i, &used, &cap);
		printf("group %s used=%llu cap=%llu\n", m->group[0] ? m->group : "-",
		       (unsigned long long)used, (unsigned long long)cap);
	}
	gpufile_close(&g);
	return 0;
}
