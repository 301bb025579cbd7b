"""server.py - a latency-sensitive ResNet-18 server: batch 1, one request every 5 ms.

Requests are due on a fixed schedule. A request's latency runs from the
moment the server starts it (its due time, or later if the previous one
overran) to the end of its inference (torch.cuda.synchronize), so time
spent waiting for the GPU counts but a backlog does not snowball into the
next requests. 'late' counts requests that started after their due time.
Prints 'RESULT server name=<n> requests=<k> p50_ms p99_ms max_ms late=<k>'.
With SERVER_GRAPH=1 the forward pass is captured once into a CUDA graph
(torch.cuda.CUDAGraph) and each request replays it: one launch per request
instead of the eager pass's many, so the server's CPU time per request is
small and its holds are about as long as its GPU work.
usage: [SERVER_GRAPH=1] python3 server.py NAME SECONDS [START_AT_UNIX | go:PATH]
"""
import os
import sys
import time

import torch
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "frameworks"))
import sync  # noqa: E402

name, seconds = sys.argv[1], float(sys.argv[2])
torch.manual_seed(0)
model = torchvision.models.resnet18(weights=None).cuda().eval()
x = torch.randn(1, 3, 224, 224, device="cuda")
with torch.no_grad():
    for _ in range(30):
        model(x)
    torch.cuda.synchronize()
    infer = model
    if os.environ.get("SERVER_GRAPH") == "1":
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                model(x)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            graph_y = model(x)

        def infer(_):
            graph.replay()
            return graph_y
        for _ in range(10):
            infer(x)
        torch.cuda.synchronize()
    sync.wait_for_go(sys.argv[3] if len(sys.argv) > 3 else "")
    period = 0.005
    lat = []
    late = 0
    t0 = time.perf_counter()
    due = t0
    while due - t0 < seconds:
        now = time.perf_counter()
        if now < due:
            time.sleep(due - now)
        else:
            late += 1
        start = max(due, now)
        y = infer(x)
        torch.cuda.synchronize()
        lat.append((time.perf_counter() - start) * 1e3)
        due += period
assert torch.isfinite(y).all().item()
lat.sort()
n = len(lat)
print("RESULT server name=%s requests=%d p50_ms=%.3f p99_ms=%.3f max_ms=%.3f late=%d"
      % (name, n, lat[n // 2], lat[int(n * 0.99)], lat[-1], late), flush=True)
