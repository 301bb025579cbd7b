"""torch_mlp.py - PyTorch workload for the real-GPU interception suite.

A few SGD steps of a small MLP and a torch.matmul, on the GPU and on the CPU
from the same initial weights; the results must agree. run.sh runs it with
the default caching allocator, with PYTORCH_CUDA_ALLOC_CONF=
expandable_segments:True (cuMemCreate / cuMemMap) and with
backend:cudaMallocAsync (cuMemAllocAsync). Prints "PASS" or exits 1.
"""
import copy
import os
import sys

import torch


def main():
    assert torch.cuda.is_available(), "no CUDA device"
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    conf = os.environ.get("PYTORCH_CUDA_ALLOC_CONF", "")
    backend = torch.cuda.memory.get_allocator_backend()
    print("torch", torch.__version__, "device", torch.cuda.get_device_name(0))
    print("alloc_conf", repr(conf), "allocator backend", backend)
    if "cudaMallocAsync" in conf and backend != "cudaMallocAsync":
        print("FAIL the allocator backend was not switched")
        return 1

    # torch.matmul, fp32 without TF32.
    a = torch.randn(1024, 768)
    b = torch.randn(768, 512)
    ref = a.double() @ b.double()
    got = (a.cuda() @ b.cuda()).cpu().double()
    mm_err = ((got - ref).abs().max() / ref.abs().max()).item()
    print("matmul relative error %.3g" % mm_err)

    # A small MLP, five training steps on each device from the same start.
    model = torch.nn.Sequential(
        torch.nn.Linear(256, 512), torch.nn.ReLU(),
        torch.nn.Linear(512, 512), torch.nn.ReLU(),
        torch.nn.Linear(512, 10))
    x = torch.randn(128, 256)
    y = torch.randint(0, 10, (128,))
    losses = {}
    params = {}
    for device in ("cpu", "cuda"):
        m = copy.deepcopy(model).to(device)
        opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9)
        xs, ys = x.to(device), y.to(device)
        trace = []
        for _ in range(5):
            opt.zero_grad(set_to_none=True)
            loss = torch.nn.functional.cross_entropy(m(xs), ys)
            loss.backward()
            opt.step()
            trace.append(loss.item())
        losses[device] = trace
        params[device] = [p.detach().cpu() for p in m.parameters()]
    torch.cuda.synchronize()
    loss_err = max(abs(c - g) for c, g in zip(losses["cpu"], losses["cuda"]))
    param_err = max((pc - pg).abs().max().item()
                    for pc, pg in zip(params["cpu"], params["cuda"]))
    print("losses cpu", ["%.5f" % v for v in losses["cpu"]])
    print("losses gpu", ["%.5f" % v for v in losses["cuda"]])
    print("max loss difference %.3g, max parameter difference %.3g" % (loss_err, param_err))
    print("max memory allocated %d bytes" % torch.cuda.max_memory_allocated())
    decreasing = losses["cuda"][-1] < losses["cuda"][0]
    if mm_err < 1e-5 and loss_err < 1e-3 and param_err < 1e-3 and decreasing:
        print("PASS")
        return 0
    print("FAIL results differ from the CPU")
    return 1


if __name__ == "__main__":
    sys.exit(main())
