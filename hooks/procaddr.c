/* procaddr.c - route (c): the driver's own symbol lookup.
 *
 * cudart, cuBLAS, PyTorch and CuPy get nearly every driver entry point from
 * cuGetProcAddress(_v2) with a base name, a CUDA version and flags. We never
 * choose the variant: the real lookup runs with the caller's exact arguments,
 * and only when the driver answers with the real address of an export we
 * hook do we hand back our hook for that same export (same ABI). Asked for
 * "cuGetProcAddress" itself, the driver answers with the legacy export at
 * 11030 and the _v2 one at 12000+, which become our 4- and 5-argument hooks.
 */
#include "hook.h"

static void *swap(void *fn)
{
	return fn != NULL ? hook_for_real(fn) : NULL;
}

HOOK_EXPORT CUresult cuGetProcAddress(const char *symbol, void **pfn, int cudaVersion,
				      cuuint64_t flags)
{
	HOOK_BEGIN(cuGetProcAddress, (symbol, pfn, cudaVersion, flags));
	CUresult r = real.cuGetProcAddress(symbol, pfn, cudaVersion, flags);
	if (r == CUDA_SUCCESS && pfn != NULL)
		*pfn = swap(*pfn);
	hook_leave();
	return r;
}

HOOK_EXPORT CUresult cuGetProcAddress_v2(const char *symbol, void **pfn, int cudaVersion,
					 cuuint64_t flags,
					 CUdriverProcAddressQueryResult *symbolStatus)
{
	HOOK_BEGIN(cuGetProcAddress_v2, (symbol, pfn, cudaVersion, flags, symbolStatus));
	CUresult r = real.cuGetProcAddress_v2(symbol, pfn, cudaVersion, flags, symbolStatus);
	if (r == CUDA_SUCCESS && pfn != NULL)
		*pfn = swap(*pfn);
	hook_leave();
	return r;
}
