"""mlp.py - an MLP training step (4096 wide, batch 1024, SGD) in a loop, one
synchronize per step: the PyTorch workload of issue 13 (2 layers), and of
tests/gpu/ring/train.py (3 layers, which imports this).

Prints 'RESULT <tag> name=<n> steps=<k> seconds=<s> rate=<steps/s> p50_ms
p99_ms mono0 mono1' (mono: CLOCK_MONOTONIC ns of the measured part's ends,
the clock of CUSLICE_TIMELINE).
usage: python3 mlp.py NAME SECONDS [START_AT_UNIX | go:PATH]
"""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sync  # noqa: E402


def main(layers=2, tag="mlp"):
    name, seconds = sys.argv[1], float(sys.argv[2])
    torch.manual_seed(0)
    dev = torch.device("cuda")
    mods = []
    for i in range(layers):
        mods += [torch.nn.Linear(4096, 4096)] + ([torch.nn.ReLU()] if i < layers - 1 else [])
    model = torch.nn.Sequential(*mods).to(dev)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    x = torch.randn(1024, 4096, device=dev)
    y = torch.randn(1024, 4096, device=dev)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        return loss

    for _ in range(20):
        step()
    torch.cuda.synchronize()
    sync.wait_for_go(sys.argv[3] if len(sys.argv) > 3 else "")
    lat = []
    mono0 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    t0 = time.perf_counter()
    t = t0
    while t - t0 < seconds:
        s = t
        loss = step()
        torch.cuda.synchronize()
        t = time.perf_counter()
        lat.append((t - s) * 1e3)
    mono1 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    assert torch.isfinite(loss).item()
    lat.sort()
    n = len(lat)
    print("RESULT %s name=%s steps=%d seconds=%.3f rate=%.2f p50_ms=%.3f p99_ms=%.3f "
          "mono0=%d mono1=%d" % (tag, name, n, t - t0, n / (t - t0), lat[n // 2],
                                 lat[int(n * 0.99)], mono0, mono1), flush=True)


if __name__ == "__main__":
    main()
