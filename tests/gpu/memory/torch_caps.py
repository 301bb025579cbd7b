"""torch_caps.py - PyTorch under a cap (issue 3 evidence).

run.sh runs it under LD_PRELOAD=libcuslice.so with CUSLICE_MEM_LIMIT=4G,
once per allocator: default, PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True
and PYTORCH_CUDA_ALLOC_CONF=backend:cudaMallocAsync. Checks that
mem_get_info reports the cap, that allocating past it raises
torch.OutOfMemoryError, and that the process then frees and goes on.

RESULT torch_info mode=M total=N free=N cap=N ok=0|1
RESULT torch_oom mode=M allocated=N raised=0|1 reserved=N real_used=N ok=0|1
RESULT torch_after mode=M allocated_again=N matmul=0|1 ok=0|1
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nvml_ctypes  # noqa: E402

CAP = int(os.environ.get("CAP_BYTES", 4 << 30))
CHUNK = 256 << 20
MODE = os.environ.get("PYTORCH_CUDA_ALLOC_CONF") or "default"


def fill():
    held, raised = [], 0
    try:
        while len(held) < 4096:
            held.append(torch.empty(CHUNK, dtype=torch.uint8, device="cuda"))
    except torch.OutOfMemoryError:
        raised = 1
    return held, raised


def main():
    free, total = torch.cuda.mem_get_info()
    print("RESULT torch_info mode=%s total=%d free=%d cap=%d ok=%d"
          % (MODE, total, free, CAP, int(total == CAP and free <= CAP)), flush=True)
    held, raised = fill()
    allocated = len(held) * CHUNK
    try:
        real = nvml_ctypes.process_used(nvml_ctypes.device(0))
    except Exception:  # NVML unavailable: report 0, the other checks stand
        real = 0
    ok = raised and CAP - 2 * (1 << 30) <= allocated <= CAP and (real == 0 or real <= CAP)
    print("RESULT torch_oom mode=%s allocated=%d raised=%d reserved=%d real_used=%d ok=%d"
          % (MODE, allocated, raised, torch.cuda.memory_reserved(), real, int(bool(ok))),
          flush=True)
    del held
    torch.cuda.empty_cache()
    held, raised = fill()  # the cap is whole again
    again = len(held) * CHUNK
    del held
    torch.cuda.empty_cache()
    a = torch.randn(4096, 4096, device="cuda")
    b = (a @ a).sum().item()
    matmul = int(b == b)  # not NaN: the kernel ran
    print("RESULT torch_after mode=%s allocated_again=%d matmul=%d ok=%d"
          % (MODE, again, matmul, int(again == allocated and matmul == 1)), flush=True)


if __name__ == "__main__":
    main()
