#!/usr/bin/env python3
"""graph_ctx.py - on a real GPU: is graph memory charged, and is what a
context's end frees given back (issue 14, finding 7)?

    LIB=.../libcuslice.so CUSLICE=.../cuslice PROBE=.../graphprobe [OUT=dir] \\
        python3 tests/gpu/memory/graph_ctx.py

PROBE is tests/integration/memory/graphprobe.c built against the real
driver (cc -I$CUDA_HOME/include graphprobe.c -ldl). It runs under
LD_PRELOAD=$LIB with an 8 GiB cap, alone in its group, no context reserve,
and after each step this script reads two things: what the ledger charges
the member (`cuslice status --json`) and what the driver says the process
holds on the GPU (nvidia-smi --query-compute-apps). It prints one markdown
table, writes it to $OUT/graph-ctx.md with the raw lines in
$OUT/graph-ctx.log, and exits 1 when a step's charge is not what the rule
says: after a graph launch at least the graph's bytes, after a trim or a
context's end back to what is left.
"""
import json
import os
import subprocess
import sys
import tempfile

MiB = 1 << 20
GiB = 1 << 30


def status_used(cuslice, folder, pid):
    p = subprocess.run([cuslice, "status", "--json", "--dir", folder], capture_output=True,
                       text=True, timeout=60)
    try:
        doc = json.loads(p.stdout)
    except ValueError:
        return None
    for gpu in doc.get("gpus", []):
        for m in gpu.get("members", []):
            if m["pid"] == pid:
                return m["memory"]["used_bytes"]
    return 0


def driver_used(pid):
    try:
        p = subprocess.run(["nvidia-smi", "--query-compute-apps=pid,used_memory",
                            "--format=csv,noheader,nounits"], capture_output=True, text=True)
    except OSError:
        return None  # no nvidia-smi (the simulated driver)
    for line in p.stdout.splitlines():
        parts = [x.strip() for x in line.split(",")]
        if len(parts) == 2 and parts[0] == str(pid):
            return int(parts[1]) * MiB
    return None


def main():
    lib, cuslice, probe = os.environ["LIB"], os.environ["CUSLICE"], os.environ["PROBE"]
    out = os.environ.get("OUT") or tempfile.mkdtemp(prefix="graph-ctx-")
    os.makedirs(out, exist_ok=True)
    folder = tempfile.mkdtemp(prefix="cuslice-graph-ctx-")
    env = dict(os.environ, LD_PRELOAD=lib, CUSLICE_DIR=folder, CUSLICE_MEM_LIMIT="8G",
               CUSLICE_GROUP="graphctx", CUSLICE_CTX_RESERVE="0", CUSLICE_RING="off")
    p = subprocess.Popen([probe], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, bufsize=1)
    assert p.stdout.readline().strip() == "ready"
    log = open(os.path.join(out, "graph-ctx.log"), "w")

    def cmd(line):
        p.stdin.write(line + "\n")
        p.stdin.flush()
        answer = p.stdout.readline().split()
        log.write("> %s\n< %s\n" % (line, " ".join(answer)))
        return answer

    # (command, what the charge must be at least, at most), in bytes
    dptr = {}
    steps = [
        ("alloc %d" % (64 * MiB), 64 * MiB, 64 * MiB),      # joins the GPU
        ("node %d 0" % GiB, 64 * MiB + GiB, None),          # graph pool holds >= 1 GiB
        ("trim", 64 * MiB, 64 * MiB),
        ("capture %d" % (512 * MiB), 64 * MiB, 64 * MiB),   # a node: nothing yet
        ("launch", 64 * MiB + 512 * MiB, None),
        ("free {capture}", 64 * MiB + 512 * MiB, None),    # the pool keeps it
        ("trim", 64 * MiB, 64 * MiB),
        ("ctx %d" % GiB, 64 * MiB, 64 * MiB),               # made, filled, destroyed
        ("reset", 0, 0),                                     # the primary's 64 MiB too
        ("alloc %d" % (256 * MiB), 256 * MiB, 256 * MiB),
    ]
    rows, bad = [], 0
    for line, lo, hi in steps:
        line = line.format(**dptr)
        answer = cmd(line)
        if answer and answer[0] == "capture" and len(answer) > 2:
            dptr["capture"] = answer[2]
        rc = answer[1] if len(answer) > 1 else "?"
        used = status_used(cuslice, folder, p.pid)
        drv = driver_used(p.pid)
        ok = rc == "0" and used is not None and used >= lo and (hi is None or used <= hi)
        bad += not ok
        rows.append("| `%s` | %s | %s | %s | %s | %s |" % (
            line, rc, "%.0f MiB" % (used / MiB) if used is not None else "?",
            "%.0f MiB" % (lo / MiB) + ("" if hi is None else " .. %.0f MiB" % (hi / MiB)),
            "%.0f MiB" % (drv / MiB) if drv is not None else "?", "ok" if ok else "**FAIL**"))
    cmd("quit")
    p.wait(timeout=60)
    table = ["| step | rc | charged | rule | driver: process holds | |", "|---|---|---|---|---|---|"]
    text = "\n".join(table + rows) + "\n"
    with open(os.path.join(out, "graph-ctx.md"), "w") as f:
        f.write(text)
    print(text)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
