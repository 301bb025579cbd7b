#!/usr/bin/env python3
"""tally.py - one 'tests: N passed, M failed' line over every stage of test.sh.

Arguments are meson JSON test logs (meson-logs/<logbase>.json) and files
holding the stdout of a Check binary run outside meson, as STAGE=PATH pairs.
A stage whose file is missing (its build failed) counts as one failure.

Counting, per meson test: a TAP test (the Python integration scripts) counts
its 'ok' and 'not ok' lines; a Check binary counts its closing 'Checks: N,
Failures: F, Errors: E' line; anything else counts as one. A test that
failed without reporting a failure of its own (a crash, a timeout, a TAP
test that stopped early) adds one failure, so no failing stage reads green.
Prints the names of what failed, then the closing line; exits 1 if anything
failed.
"""
import json
import re
import sys

CHECK = re.compile(r"Checks: (\d+), Failures: (\d+), Errors: (\d+)")
TAP = re.compile(r"^(not ok|ok)\b[ \t]*\d*[ \t]*-?[ \t]*([^#\n]*)", re.M)
CHECK_BAD = re.compile(r"^[^:\n]+:\d+:[FE]:[^:\n]*:([^:\n]+):", re.M)
GOOD = ("OK", "SKIP", "EXPECTEDFAIL")


def count_output(text):
    """(passed, failed, failed names) read from a test's stdout, or None."""
    m = CHECK.findall(text or "")
    if m:
        n, f, e = (int(x) for x in m[-1])
        return n - f - e, f + e, CHECK_BAD.findall(text)
    taps = TAP.findall(text or "")
    if taps:
        bad = [name.strip() for res, name in taps if res == "not ok"]
        return len(taps) - len(bad), len(bad), bad
    return None


def tally_stage(stage, path, ok_code=None):
    """ok_code: for a raw output file, the exit status written beside it."""
    passed = failed = 0
    names = []
    try:
        text = open(path).read()
    except OSError:
        return 0, 1, ["%s: no results (%s missing: did its build fail?)" % (stage, path)]
    if path.endswith(".json"):
        runs = [json.loads(line) for line in text.splitlines() if line.strip()]
    else:
        runs = [{"name": stage, "stdout": text, "result": "OK" if ok_code == 0 else "FAIL"}]
    for r in runs:
        got = count_output(r.get("stdout"))
        p, f, bad = got if got else ((1, 0, []) if r.get("result") in GOOD else (0, 1, []))
        where = stage if r["name"] == stage else "%s / %s" % (stage, r["name"])
        names += ["%s / %s" % (where, b) for b in bad]
        if got is None and f:
            names.append("%s: %s" % (where, r.get("result")))
        if r.get("result") not in GOOD and f == 0:
            f = 1
            names.append("%s: %s without a failing check (crash or timeout?)"
                         % (where, r.get("result")))
        if r.get("result") == "SKIP" and not got:
            p = 0
        passed += p
        failed += f
    return passed, failed, names


def main(args):
    passed = failed = 0
    names = []
    for arg in args:
        stage, _, path = arg.partition("=")
        code = None
        if not path.endswith(".json"):
            try:
                code = int(open(path + ".rc").read())
            except (OSError, ValueError):
                code = 1
        p, f, n = tally_stage(stage, path, code)
        passed, failed, names = passed + p, failed + f, names + n
    for n in names:
        print("FAILED: " + n)
    print("tests: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
