"""nvml_caps.py - NVML under the library reports the cap (issue 3 evidence).

Queried first with no CUDA context (a monitor), then after this process
made a context and allocated 1 GiB through the driver (ctypes, no
framework). pynvml is used too when it is installed.
run.sh runs it under LD_PRELOAD=libcuslice.so with CUSLICE_MEM_LIMIT=4G.

RESULT nvml stage=S api=v1|v2|pynvml total=N used=N free=N ok=0|1
"""
import ctypes
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nvml_ctypes  # noqa: E402

CAP = int(os.environ.get("CAP_BYTES", 4 << 30))
GiB = 1 << 30


def report(stage, min_used):
    h = nvml_ctypes.device(0)
    for api, fn in (("v1", nvml_ctypes.memory_info), ("v2", nvml_ctypes.memory_info_v2)):
        rc, total, used, free = fn(h)
        ok = rc == 0 and total == CAP and used >= min_used and used + free == total
        print("RESULT nvml stage=%s api=%s total=%d used=%d free=%d ok=%d"
              % (stage, api, total, used, free, int(ok)), flush=True)
    try:
        import pynvml
    except ImportError:
        return
    pynvml.nvmlInit()
    m = pynvml.nvmlDeviceGetMemoryInfo(pynvml.nvmlDeviceGetHandleByIndex(0))
    print("RESULT nvml stage=%s api=pynvml total=%d used=%d free=%d ok=%d"
          % (stage, m.total, m.used, m.free, int(m.total == CAP and m.used >= min_used)),
          flush=True)


def cuda_alloc(nbytes):
    cu = ctypes.CDLL("libcuda.so.1")
    dev, ctx, ptr = ctypes.c_int(), ctypes.c_void_p(), ctypes.c_ulonglong()
    assert cu.cuInit(0) == 0
    assert cu.cuDeviceGet(ctypes.byref(dev), 0) == 0
    assert cu.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), dev) == 0
    assert cu.cuCtxSetCurrent(ctx) == 0
    rc = cu.cuMemAlloc_v2(ctypes.byref(ptr), ctypes.c_size_t(nbytes))
    assert rc == 0, rc
    return ptr


def main():
    report("no_context", 0)
    keep = cuda_alloc(GiB)  # noqa: F841 (held until exit)
    report("after_1GiB", GiB)


if __name__ == "__main__":
    main()
