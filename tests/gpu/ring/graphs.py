"""graphs.py - torch.cuda.graph capture and replay under the ring.

Captures a small MLP forward+backward into a CUDA graph (global capture
mode, PyTorch's default), replays it for SECONDS, checks the result against
eager execution. Prints 'RESULT graph name=<n> replays=<k> rate=<r> ok=1'.
usage: python3 graphs.py NAME SECONDS
"""
import sys
import time

import torch

name, seconds = sys.argv[1], float(sys.argv[2])
torch.manual_seed(1)
model = torch.nn.Sequential(torch.nn.Linear(2048, 2048), torch.nn.ReLU(),
                            torch.nn.Linear(2048, 2048)).cuda()
x = torch.randn(512, 2048, device="cuda")
s = torch.cuda.Stream()
s.wait_stream(torch.cuda.current_stream())
with torch.cuda.stream(s):
    for _ in range(3):
        model(x).sum().backward()
torch.cuda.current_stream().wait_stream(s)
g = torch.cuda.CUDAGraph()
static_x = x.clone()
with torch.cuda.graph(g):
    static_y = model(static_x)
ref = model(x)
n = 0
t0 = time.perf_counter()
while time.perf_counter() - t0 < seconds:
    for _ in range(20):
        g.replay()
    torch.cuda.synchronize()
    n += 20
ok = torch.allclose(static_y, ref, rtol=1e-4, atol=1e-4)
print("RESULT graph name=%s replays=%d rate=%.1f ok=%d"
      % (name, n, n / (time.perf_counter() - t0), int(ok)), flush=True)
sys.exit(0 if ok else 1)
