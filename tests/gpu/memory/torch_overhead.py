"""torch_overhead.py - device memory PyTorch holds outside its allocator
(context, kernel images, cuBLAS handles), to size CUSLICE_CTX_RESERVE.
Run WITHOUT the library, alone on the GPU.

RESULT torch_overhead stage=S proc_used=N reserved=N overhead=N
"""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import nvml_ctypes  # noqa: E402


def report(stage):
    torch.cuda.synchronize()
    time.sleep(0.3)  # NVML's numbers lag a little
    used = nvml_ctypes.process_used(nvml_ctypes.device(0))
    reserved = torch.cuda.memory_reserved()
    print("RESULT torch_overhead stage=%s proc_used=%d reserved=%d overhead=%d"
          % (stage, used, reserved, used - reserved), flush=True)


def main():
    torch.zeros(1, device="cuda")
    report("init")
    a = torch.randn(4096, 4096, device="cuda")
    (a @ a).sum().item()
    report("matmul")
    torch.nn.functional.conv2d(torch.randn(8, 64, 56, 56, device="cuda"),
                               torch.randn(64, 64, 3, 3, device="cuda")).sum().item()
    report("conv")


if __name__ == "__main__":
    main()
