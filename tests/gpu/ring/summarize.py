"""summarize.py - tables from tests/gpu/ring/run.sh's log (markdown)."""
import re
import sys
from collections import defaultdict

spins = defaultdict(list)
trains = defaultdict(list)
other = []
for line in open(sys.argv[1]):
    kv = dict(re.findall(r"(\w+)=(\S+)", line))
    if line.startswith("spin ") and "rate" in kv:
        group, _, who = kv["name"].partition("/")
        spins[group].append((who, float(kv["rate"]), float(kv["step_p50_ms"]),
                             float(kv["step_p99_ms"])))
    elif line.startswith("RESULT train"):
        group, _, who = kv["name"].partition("/")
        trains[group].append((who, float(kv["rate"]), float(kv["p50_ms"]), float(kv["p99_ms"])))
    elif line.startswith(("RESULT", "kill", "ringstat")):
        other.append(line.strip())
    elif "rror" in line or "Traceback" in line:
        other.append("LOG: " + line.strip())


def jain(xs):
    return sum(xs) ** 2 / (len(xs) * sum(x * x for x in xs)) if xs else 0


alone = spins.get("alone", [(None, 0, 0, 0)])[0][1]
print("| run | processes | rates (kernels/s) | aggregate / alone | max share dev. | Jain | step p50 / p99 ms |")
print("|---|---|---|---|---|---|---|")
for group, rows in spins.items():
    rates = [r for _, r, _, _ in rows]
    agg = sum(rates)
    dev = max(abs(r / agg - 1 / len(rates)) * len(rates) for r in rates) if agg else 0
    p50 = max(p for _, _, p, _ in rows)
    p99 = max(p for _, _, _, p in rows)
    print("| %s | %d | %s | %.3f | %.1f%% | %.4f | %.2f / %.2f |"
          % (group, len(rows), " + ".join("%.1f" % r for r in rates),
             agg / alone if alone else 0, dev * 100, jain(rates), p50, p99))
if trains:
    talone = trains.get("alone", [(None, 0, 0, 0)])[0][1]
    print()
    print("| PyTorch run | steps/s | aggregate / alone | p50 / p99 ms |")
    print("|---|---|---|---|")
    for group, rows in trains.items():
        rates = [r for _, r, _, _ in rows]
        print("| %s | %s | %.3f | %s |" % (
            group, " + ".join("%.1f" % r for r in rates), sum(rates) / talone if talone else 0,
            ", ".join("%.2f / %.2f" % (p, q) for _, _, p, q in rows)))
print()
for line in other:
    print("    " + line)
