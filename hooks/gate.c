/* gate.c - the launch gate; see gate.h. (Foundation: every launch passes.) */
#include "gate.h"

void gate_enter(struct gate_pass *pass, CUstream stream)
{
	(void)stream;
	pass->member = NULL;
}

void gate_leave(struct gate_pass *pass)
{
	(void)pass;
}

void gate_after_fork(void)
{
}
