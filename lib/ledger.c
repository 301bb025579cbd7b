/* ledger.c - memory accounting in the per-GPU file. */
#include "ledger.h"

#include <stddef.h>

void ledger_forget(struct cs_file *f, unsigned slot)
{
	if (f == NULL || slot >= CS_MEMBERS_MAX)
		return;
	atomic_store(&f->members[slot].charged, 0);
}
