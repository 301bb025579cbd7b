"""server.py - a latency-sensitive ResNet-18 server: batch 1, one request every 5 ms.

Requests are due on a fixed schedule. A request's latency runs from the
moment the server starts it (its due time, or later if the previous one
overran) to the end of its inference (torch.cuda.synchronize), so time
spent waiting for the GPU counts but a backlog does not snowball into the
next requests. 'late' counts requests that started after their due time.
Prints 'RESULT server name=<n> requests=<k> p50_ms p99_ms max_ms late=<k>'.
usage: python3 server.py NAME SECONDS [START_AT_UNIX]
"""
import sys
import time

import torch
import torchvision

name, seconds = sys.argv[1], float(sys.argv[2])
start_at = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
torch.manual_seed(0)
model = torchvision.models.resnet18(weights=None).cuda().eval()
x = torch.randn(1, 3, 224, 224, device="cuda")
with torch.no_grad():
    for _ in range(30):
        model(x)
    torch.cuda.synchronize()
    while start_at and time.time() < start_at:
        time.sleep(0.001)
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
        y = model(x)
        torch.cuda.synchronize()
        lat.append((time.perf_counter() - start) * 1e3)
        due += period
assert torch.isfinite(y).all().item()
lat.sort()
n = len(lat)
print("RESULT server name=%s requests=%d p50_ms=%.3f p99_ms=%.3f max_ms=%.3f late=%d"
      % (name, n, lat[n // 2], lat[int(n * 0.99)], lat[-1], late), flush=True)
