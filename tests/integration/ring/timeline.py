"""timeline.py - reads CUSLICE_TIMELINE files (Trace Event JSON, one per process).

A file a process wrote may lack its closing bracket (the process was killed);
the array form allows that, and load() accepts it.
"""
import glob
import json
import os


def load(path):
    with open(path) as f:
        text = f.read().strip()
    if text.endswith(","):
        text = text[:-1]
    if not text.endswith("]"):
        text += "]"
    return json.loads(text)


def load_all(pattern):
    """{pid: [event, ...]} for every file matching the glob pattern."""
    out = {}
    for path in sorted(glob.glob(pattern)):
        for e in load(path):
            out.setdefault(e["pid"], []).append(e)
    return out


def spans(events, *names):
    """[(t0_ns, t1_ns, args)] of the complete events with these names."""
    out = []
    for e in events:
        if e.get("ph") == "X" and e["name"] in names:
            t0 = int(round(float(e["ts"]) * 1000))
            out.append((t0, t0 + int(round(float(e["dur"]) * 1000)), e.get("args", {})))
    return sorted(out, key=lambda s: s[0])


def member(events):
    """The cuslice_member metadata of a process's first lane."""
    for e in events:
        if e.get("ph") == "M" and e["name"] == "cuslice_member":
            return e["args"]
    return None


def charged(events, t0=None, t1=None):
    """GPU time the ring charged a process for its holds and loans that
    started in [t0, t1)."""
    total = 0
    for s, _, a in spans(events, "hold", "backfill"):
        if (t0 is None or s >= t0) and (t1 is None or s < t1):
            total += a["charged_ns"]
    return total


def max_charge(by_pid):
    return max((a["charged_ns"] for ev in by_pid.values()
                for _, _, a in spans(ev, "hold", "backfill")), default=0)


def files(box):
    return os.path.join(box.root, "timeline-*.json")
