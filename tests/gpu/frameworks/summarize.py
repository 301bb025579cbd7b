"""summarize.py - tables from run.sh's log and timelines (markdown).

usage: python3 summarize.py frameworks.log TIMELINE_DIR
Every figure is printed for each repetition and as the median. "GPU time"
is what the ring charged each member (holds and loans, from its
CUSLICE_TIMELINE file) over the window in which all members ran.
"""
import glob
import json
import re
import statistics
import sys
from collections import defaultdict

res = defaultdict(dict)   # (scenario, rep) -> who -> fields
for line in open(sys.argv[1]):
    kv = dict(re.findall(r"(\w+)=(\S+)", line))
    if "name" not in kv or not (line.startswith("RESULT") or line.startswith("spin ")):
        if "Error" in line or "Traceback" in line:
            print("LOG: " + line.strip())
        continue
    parts = kv["name"].split("/")
    if len(parts) == 3:
        res[(parts[0], parts[1])][parts[2]] = kv
reps = sorted({r for _, r in res})


def load(path):
    text = open(path).read().strip().rstrip(",")
    return json.loads(text if text.endswith("]") else text + "]")


def timelines(kind, rep):
    """{who: events} of a scenario's CUSLICE_TIMELINE files in one
    repetition; who is the member's name in the run (a, w2, s, t …)."""
    out = {}
    for path in glob.glob("%s/%s-%s-*.json" % (sys.argv[2], kind, rep)):
        ev = load(path)
        names = [e["args"]["name"] for e in ev if e.get("name") == "process_name"]
        who = re.search(r"/(r\d+)/(\w+)", names[0]).group(2) if names else path
        out[who] = ev
    return out


def gpu_time(kind, rep):
    """{who: charged ns} over the common window, from the timelines."""
    spans = {who: [(float(e["ts"]), float(e["ts"]) + float(e["dur"]), e["args"]["charged_ns"])
                   for e in ev if e.get("ph") == "X" and e["name"] in ("hold", "backfill")]
             for who, ev in timelines(kind, rep).items()}
    if len(spans) < 2 or not all(spans.values()):
        return {}
    t0 = max(min(s for s, _, _ in v) for v in spans.values())
    t1 = min(max(e for _, e, _ in v) for v in spans.values())
    # The measured part of the run (warm-up excluded) when the processes
    # say when it was (CLOCK_MONOTONIC, the timeline's clock, in ns).
    scen = {"pair11": "mlp-cuslice", "pair21": "mlp-w21", "server": "server-cuslice",
            "gserver": "gserver-cuslice"}.get(kind)
    marks = [kv for kv in res.get((scen, rep), {}).values() if "mono0" in kv]
    if marks:
        t0 = max(t0, max(float(kv["mono0"]) / 1e3 for kv in marks))
        t1 = min(t1, min(float(kv["mono1"]) / 1e3 for kv in marks))
    return {w: sum(c for s, _, c in v if t0 <= s < t1) for w, v in spans.items()}


def median_hold(kind, rep, who):
    """A member's median hold in ms (its timeline's hold events)."""
    ev = timelines(kind, rep).get(who)
    if not ev:
        return float("nan")
    return statistics.median(float(e["dur"]) / 1e3 for e in ev
                             if e.get("ph") == "X" and e["name"] == "hold")


def rate(scen, rep, who):
    """A member's rate; for a reference run (alone) missing in this
    repetition, the median of the repetitions that have it."""
    kv = res.get((scen, rep), {}).get(who)
    if kv:
        return float(kv["rate"])
    if scen.endswith("alone"):
        got = [float(v[who]["rate"]) for (s, _), v in res.items() if s == scen and who in v]
        if got:
            return statistics.median(got)
    return float("nan")


def agg(scen, rep):
    return sum(float(kv["rate"]) for kv in res.get((scen, rep), {}).values()) or float("nan")


rows = []


def salone(rep, kind="server", q="p99_ms"):
    """The server's p99 (or q) alone in this repetition, else the median of
    those run."""
    kv = res.get((kind + "-alone", rep), {}).get("s")
    if kv:
        return float(kv[q])
    return statistics.median(float(v["s"][q]) for (s, _), v in res.items()
                             if s == kind + "-alone" and "s" in v)


def row(label, fn, fmt="%.3f"):
    vals = []
    for r in reps:
        try:
            vals.append(fn(r))
        except (KeyError, ZeroDivisionError, TypeError, ValueError, IndexError):
            vals.append(float("nan"))
    good = [v for v in vals if v == v]
    med = statistics.median(good) if good else float("nan")
    rows.append("| %s | %s | **%s** |" % (label, " | ".join(fmt % v for v in vals), fmt % med))


def share(d, who):
    return 100.0 * d[who] / sum(d.values())


def dev(scen, r):
    rs = [float(kv["rate"]) for kv in res[(scen, r)].values()]
    return 100.0 * max(abs(x / sum(rs) - 1 / len(rs)) for x in rs)


row("MLP alone, steps/s", lambda r: rate("mlp-alone", r, "a"), "%.1f")
row("MLP pair native, aggregate / alone", lambda r: agg("mlp-native", r) / rate("mlp-alone", r, "a"))
row("MLP pair cuslice 1:1, aggregate / alone", lambda r: agg("mlp-cuslice", r) / rate("mlp-alone", r, "a"))
row("MLP pair cuslice 1:1, aggregate / native", lambda r: agg("mlp-cuslice", r) / agg("mlp-native", r))
row("MLP pair cuslice 1:1 no loans, aggregate / alone", lambda r: agg("mlp-noloans", r) / rate("mlp-alone", r, "a"))
row("MLP pair cuslice 1:1, share of steps a %", lambda r: 100 * rate("mlp-cuslice", r, "a") / agg("mlp-cuslice", r), "%.1f")
row("MLP pair cuslice 1:1, share of GPU time a %", lambda r: share(gpu_time("pair11", r), "a"), "%.1f")
row("MLP pair cuslice 2:1, aggregate / alone", lambda r: agg("mlp-w21", r) / rate("mlp-alone", r, "a"))
row("MLP pair cuslice 2:1, share of steps w2 % (target 66.7 ± 3)", lambda r: 100 * rate("mlp-w21", r, "w2") / agg("mlp-w21", r), "%.1f")
row("MLP pair cuslice 2:1, share of GPU time w2 % (target 66.7 ± 3)", lambda r: share(gpu_time("pair21", r), "w2"), "%.1f")
row("MLP pair p99 step ms, native", lambda r: max(float(kv["p99_ms"]) for kv in res[("mlp-native", r)].values()), "%.1f")
row("MLP pair p99 step ms, cuslice 1:1", lambda r: max(float(kv["p99_ms"]) for kv in res[("mlp-cuslice", r)].values()), "%.1f")


def server_rows(kind, what):
    """The server's latency and the trainer's rate beside it (kind: server
    or gserver, the graph-replaying one): natively, under cuslice with the
    trainer's default CUSLICE_HIGH_QUEUE and, where run, with
    CUSLICE_HIGH_QUEUE=N (kind-qN)."""
    def lat(scen, q):
        return lambda r: float(res[(scen, r)]["s"][q])

    def ratio(scen, q):
        return lambda r: float(res[(scen, r)]["s"][q]) / salone(r, kind, q)
    variants = [("cuslice", "")]
    for q in sorted({s[len(kind) + 2:] for s, _ in res if re.fullmatch(kind + r"-q\d+", s)},
                    key=int):
        variants.append(("q" + q, " trainer CUSLICE_HIGH_QUEUE=" + q))
    row("%s alone p50 ms" % what, lat(kind + "-alone", "p50_ms"), "%.2f")
    row("%s alone p99 ms" % what, lat(kind + "-alone", "p99_ms"), "%.2f")
    row("%s beside MLP native, p50 / alone" % what, ratio(kind + "-native", "p50_ms"))
    row("%s beside MLP native, p99 / alone" % what, ratio(kind + "-native", "p99_ms"))
    row("trainer beside %s native, / alone" % what,
        lambda r: rate(kind + "-native", r, "t") / rate("mlp-alone", r, "a"))
    for v, how in variants:
        scen = kind + "-" + v
        tl = kind if v == "cuslice" else scen
        row("%s high beside MLP cuslice%s, p50 ms" % (what, how), lat(scen, "p50_ms"), "%.2f")
        row("%s high beside MLP cuslice%s, p99 ms" % (what, how), lat(scen, "p99_ms"), "%.2f")
        row("%s high beside MLP cuslice%s, p50 / alone" % (what, how), ratio(scen, "p50_ms"))
        row("%s high beside MLP cuslice%s, p99 / alone (target 0.65-0.98)" % (what, how),
            ratio(scen, "p99_ms"))
        row("trainer beside high %s cuslice%s, / alone (target 0.84-0.85)" % (what, how),
            lambda r, scen=scen: rate(scen, r, "t") / rate("mlp-alone", r, "a"))
        row("%s high beside MLP cuslice%s, median hold ms" % (what, how),
            lambda r, tl=tl: median_hold(tl, r, "s"), "%.2f")


server_rows("server", "server")
server_rows("gserver", "graph server")
row("spin alone, kernels/s", lambda r: rate("spin-alone", r, "a"), "%.1f")
row("spin pair native, aggregate / alone", lambda r: agg("spin-native2", r) / rate("spin-alone", r, "a"))
row("spin pair cuslice, aggregate / alone (target >= 0.98)", lambda r: agg("spin-cuslice2", r) / rate("spin-alone", r, "a"))
row("spin pair cuslice, max share deviation % (target <= 3)", lambda r: dev("spin-cuslice2", r), "%.2f")
row("spin quad native, aggregate / alone", lambda r: agg("spin-native4", r) / rate("spin-alone", r, "a"))
row("spin quad cuslice, aggregate / alone (target >= 0.98)", lambda r: agg("spin-cuslice4", r) / rate("spin-alone", r, "a"))
row("spin quad cuslice, max share deviation % (target <= 3)", lambda r: dev("spin-cuslice4", r), "%.2f")
row("spin 3:1 cuslice, share of w3 % (target 75 ± 5)", lambda r: 100 * rate("spin-w31", r, "w3") / agg("spin-w31", r), "%.1f")
row("launch-bound alone, kernels/s", lambda r: rate("launch-alone", r, "l"), "%.0f")
row("launch-bound beside compute native, / alone", lambda r: rate("launch-native", r, "l") / rate("launch-alone", r, "l"))
row("compute beside launch-bound native, / alone", lambda r: rate("launch-native", r, "c") / rate("spin-alone", r, "a"))
row("launch-bound beside compute cuslice, / alone", lambda r: rate("launch-cuslice", r, "l") / rate("launch-alone", r, "l"))
row("compute beside launch-bound cuslice, / alone", lambda r: rate("launch-cuslice", r, "c") / rate("spin-alone", r, "a"))
row("launch-bound cuslice, share of GPU time % (weight 1:1)", lambda r: share(gpu_time("launch", r), "l"), "%.1f")

print("| figure | %s | median |" % " | ".join(reps))
print("|---|%s---|" % ("---|" * len(reps)))
print("\n".join(rows))
