#!/usr/bin/env python3
"""figures.py - runs a test program and reports its timing figures.

    figures.py PROGRAM [ARGS...]

The ring, priority and memory tests assert only invariants; the timings
they used to assert (shares of GPU time, latencies, hand-off times) they
print as 'figure NAME = VALUE UNIT (target T): meets|MISSES' lines
(harness.figure in Python, figure() in tests/unit/test_ring.c). This runs
one such program and prints those lines and a summary. It always exits 0:
a figure that misses its target is a signal to look at, never a failure
(docs/testing.md). On the simulated driver the figures are a regression
signal only; docs/benchmarks.md has the GPU's.
"""
import subprocess
import sys


def main(argv):
    if not argv:
        print("usage: figures.py PROGRAM [ARGS...]")
        return 0
    p = subprocess.run(argv, capture_output=True, text=True)
    lines = [line.lstrip("# ") for line in p.stdout.splitlines()]
    figures = [line for line in lines if line.startswith("figure ")]
    for line in figures:
        print(line)
    missed = sum(line.endswith("MISSES") for line in figures)
    print("figures: %d, meeting their target: %d, missing it: %d"
          % (len(figures), len(figures) - missed, missed))
    if p.returncode != 0:
        print("note: the program's own checks failed in this run (exit %d); "
              "`meson test` says which" % p.returncode)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
