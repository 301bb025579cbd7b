"""train.py - a PyTorch MLP training step in a loop (REFERENCE.md §4's workload).

Prints 'RESULT train name=<n> steps=<k> seconds=<s> rate=<steps/s> p50_ms p99_ms'.
usage: python3 train.py NAME SECONDS [START_AT_UNIX]
"""
import sys
import time

import torch

name, seconds = sys.argv[1], float(sys.argv[2])
start_at = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
torch.manual_seed(0)
dev = torch.device("cuda")
model = torch.nn.Sequential(torch.nn.Linear(4096, 4096), torch.nn.ReLU(),
                            torch.nn.Linear(4096, 4096), torch.nn.ReLU(),
                            torch.nn.Linear(4096, 4096)).to(dev)
opt = torch.optim.SGD(model.parameters(), lr=1e-3)
x = torch.randn(1024, 4096, device=dev)
y = torch.randn(1024, 4096, device=dev)


def step():
    opt.zero_grad(set_to_none=True)
    loss = torch.nn.functional.mse_loss(model(x), y)
    loss.backward()
    opt.step()
    return loss


for _ in range(10):
    step()
torch.cuda.synchronize()
while start_at and time.time() < start_at:
    time.sleep(0.001)
lat = []
t0 = time.perf_counter()
t = t0
while t - t0 < seconds:
    s = t
    loss = step()
    torch.cuda.synchronize()
    t = time.perf_counter()
    lat.append((t - s) * 1e3)
assert torch.isfinite(loss).item()
lat.sort()
n = len(lat)
print("RESULT train name=%s steps=%d seconds=%.3f rate=%.2f p50_ms=%.3f p99_ms=%.3f"
      % (name, n, t - t0, n / (t - t0), lat[n // 2], lat[int(n * 0.99)]), flush=True)
