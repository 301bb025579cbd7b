/* ledger.h - memory accounting in the per-GPU file (see ledger.c). */
#ifndef CUSLICE_LEDGER_H
#define CUSLICE_LEDGER_H

#include "layout.h"

/* Returns every byte charged to the member in slot (it died or left). */
void ledger_forget(struct cs_file *f, unsigned slot);

#endif
