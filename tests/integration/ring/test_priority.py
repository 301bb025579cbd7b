"""test_priority.py - priority classes on the token ring (issue: priority classes).

A high member must beat the slice, a low member must stay out of the way,
and the starvation guard must leave normal members their share. Real
processes under LD_PRELOAD against the simulated driver.
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402

SPIN = harness.program("spin")
PULSE = harness.program("pulse")


def pulse_latencies(box, proc_out, pid):
    calls = [int(line.split()[1]) for line in proc_out.splitlines() if line.startswith("call ")]
    starts = sorted(s for p, s, _ in box.kernels() if p == pid)
    assert len(starts) == len(calls), (len(starts), len(calls))
    return sorted(s - c for c, s in zip(calls, starts))


def high_beside_normal(priority):
    box = harness.Sandbox("prio-" + priority)
    try:
        env = {"CUSLICE_SLICE_MS": 20}
        normal = box.spawn([SPIN, "--seconds", "4", "--work", "1000"], **env)
        time.sleep(0.5)
        high = box.spawn([PULSE, "3", "5000", "200"], CUSLICE_PRIORITY=priority, **env)
        hout, herr = high.communicate(timeout=60)
        assert high.returncode == 0, herr
        normal.communicate(timeout=60)
        lat = pulse_latencies(box, hout, high.pid)
        p99 = lat[int(len(lat) * 0.99)]
        ks = box.kernels()
        hk = [k for k in ks if k[0] == high.pid]
        t0, t1 = hk[0][1], hk[-1][2]
        high_busy = harness.busy_by_pid(ks, t0, t1)[high.pid]
        normal_busy = harness.busy_by_pid(ks, t0, t1)[normal.pid]
        remaining = (t1 - t0) - high_busy
        return p99, normal_busy / remaining
    finally:
        box.cleanup()


def test_high_member_beats_the_slice():
    p99, normal_share = high_beside_normal("high")
    print("  high p99 launch-to-start %.3f ms, normal kept %.3f" % (p99 / 1e6, normal_share))
    assert p99 <= 1_500_000, "high p99 launch-to-start %.2f ms" % (p99 / 1e6)
    assert normal_share >= 0.90, "normal kept %.3f of the remaining time" % normal_share


def test_without_classes_the_pulse_waits_for_slices():
    """The check above can fail: as a normal member the pulse waits."""
    p99, _ = high_beside_normal("normal")
    assert p99 > 1_500_000, "normal-class p99 %.2f ms" % (p99 / 1e6)


def test_low_member_stays_out_of_the_way():
    alone = harness.Sandbox("low-alone")
    pair = harness.Sandbox("low-pair")
    try:
        a = alone.spawn([SPIN, "--seconds", "3", "--work", "1000"])
        a.communicate(timeout=60)
        base = sum(e - s for _, s, e in alone.kernels())
        normal = pair.spawn([SPIN, "--seconds", "3", "--work", "1000"])
        low = pair.spawn([SPIN, "--seconds", "5", "--work", "1000"], CUSLICE_PRIORITY="low")
        normal.communicate(timeout=60)
        low.communicate(timeout=60)
        ks = pair.kernels()
        mine = sum(e - s for p, s, e in ks if p == normal.pid)
        assert mine >= 0.97 * base, (mine / base)
        normal_end = max(e for p, _, e in ks if p == normal.pid)
        after = [k for k in ks if k[0] == low.pid and k[1] >= normal_end]
        assert sum(e - s for _, s, e in after) > 1.0e9, "low runs once normal idles"
    finally:
        alone.cleanup()
        pair.cleanup()


def test_starvation_guard_leaves_normal_its_share():
    box = harness.Sandbox("guard")
    try:
        env = {"CUSLICE_SLICE_MS": 10, "CUSLICE_HIGH_MAX_SHARE": 50}
        start = time.time() + 0.5
        high = box.spawn([SPIN, "--seconds", "5", "--work", "1000", "--start-at", "%.3f" % start],
                         CUSLICE_PRIORITY="high", **env)
        normal = box.spawn([SPIN, "--seconds", "5", "--work", "1000", "--start-at",
                            "%.3f" % start], **env)
        high.communicate(timeout=60)
        normal.communicate(timeout=60)
        ks = box.kernels()
        pids = {high.pid, normal.pid}
        t0 = max(min(s for p, s, _ in ks if p == q) for q in pids)
        t1 = min(max(e for p, _, e in ks if p == q) for q in pids)
        busy = harness.busy_by_pid(ks, t0, t1)
        share = busy[normal.pid] / sum(busy.values())
        assert share >= 0.45, "normal share %.3f under an always-busy high member" % share
    finally:
        box.cleanup()


if __name__ == "__main__":
    harness.main(globals())
