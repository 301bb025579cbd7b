"""summarize.py - the priority table from tests/gpu/priority/run.sh's log."""
import re
import sys

server, train = {}, {}
for line in open(sys.argv[1]):
    kv = dict(re.findall(r"(\w+)=(\S+)", line))
    if line.startswith("RESULT server"):
        server[kv["name"]] = kv
    elif line.startswith("RESULT train"):
        train[kv["name"]] = kv
    elif "Error" in line or "Traceback" in line:
        print("LOG: " + line.strip())

s0, t0 = server.get("alone"), train.get("alone")
print("| run | server p50 ms | server p99 ms | p99 / alone | server max ms | late requests | training steps/s | training / alone |")
print("|---|---|---|---|---|---|---|---|")
for label in ["alone", "native", "high-normal"] + sorted(k for k in server if "guard" in k) + ["normal-normal"]:
    s, t = server.get(label), train.get(label)
    if not s:
        continue
    print("| %s | %s | %s | %.2f | %s | %s | %s | %s |" % (
        label, s["p50_ms"], s["p99_ms"], float(s["p99_ms"]) / float(s0["p99_ms"]), s["max_ms"],
        s.get("late", "-"),
        t["rate"] if t else "-", "%.3f" % (float(t["rate"]) / float(t0["rate"])) if t else "-"))
lo, no = train.get("low-normal/low"), train.get("low-normal/normal")
if lo and no:
    print()
    print("| low beside normal | steps/s | / alone |")
    print("|---|---|---|")
    print("| normal | %s | %.3f |" % (no["rate"], float(no["rate"]) / float(t0["rate"])))
    print("| low | %s | %.3f |" % (lo["rate"], float(lo["rate"]) / float(t0["rate"])))
