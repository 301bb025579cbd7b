"""test_ring.py - the token ring across real processes (issue: the token ring).

Every test runs real programs under LD_PRELOAD=libcuslice.so against the
simulated driver; SIMCUDA_LOG records each simulated kernel as
'pid start_ns end_ns', which says who ran on the GPU when. Shares are
measured over the window in which every process was running.
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402

SPIN = harness.program("spin")


def window(kernels):
    pids = {p for p, _, _ in kernels}
    t0 = max(min(s for p, s, _ in kernels if p == q) for q in pids)
    t1 = min(max(e for p, _, e in kernels if p == q) for q in pids)
    return t0, t1


def clipped(kernels, t0, t1):
    return [(p, max(s, t0), min(e, t1)) for p, s, e in kernels if e > t0 and s < t1]


def shares(kernels):
    t0, t1 = window(kernels)
    busy = harness.busy_by_pid(kernels, t0, t1)
    total = sum(busy.values())
    return {p: b / total for p, b in busy.items()}, t0, t1


def run_spins(box, specs, preload=True, **env):
    """specs: list of (extra args, extra env) per process; all start together."""
    start_at = time.time() + 0.5
    procs = []
    for args, penv in specs:
        merged = dict(env)
        merged.update(penv)
        procs.append(box.spawn([SPIN, "--start-at", "%.3f" % start_at] + args,
                               preload=preload, **merged))
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, (p.returncode, out, err)
        outs.append(out)
    return [p.pid for p in procs], outs


def fair_share(n):
    box = harness.Sandbox("fair%d" % n)
    try:
        pids, _ = run_spins(box, [(["--seconds", "5", "--work", "1000"], {})] * n,
                            CUSLICE_SLICE_MS=5)
        ks = box.kernels()
        got, t0, t1 = shares(ks)
        assert set(got) == set(pids), (got, pids)
        for pid, share in got.items():
            assert abs(share - 1.0 / n) <= 0.05 / n, ("share", n, pid, share, got)
        over = harness.overlap_ns(clipped(ks, t0, t1)) / (t1 - t0)
        assert over < 0.01, ("overlap", over)
    finally:
        box.cleanup()


def test_fair_share_2():
    fair_share(2)


def test_fair_share_4():
    fair_share(4)


def test_fair_share_8():
    fair_share(8)


def test_without_cuslice_kernels_overlap():
    """The check above can fail: without the library the processes overlap."""
    box = harness.Sandbox("native")
    try:
        run_spins(box, [(["--seconds", "2", "--work", "1000"], {})] * 2, preload=False)
        ks = box.kernels()
        t0, t1 = window(ks)
        over = harness.overlap_ns(clipped(ks, t0, t1)) / (t1 - t0)
        assert over > 0.5, over
    finally:
        box.cleanup()


def test_weights_three_to_one():
    box = harness.Sandbox("weights")
    try:
        pids, _ = run_spins(box, [(["--seconds", "5", "--work", "1000"], {"CUSLICE_WEIGHT": 3}),
                                  (["--seconds", "5", "--work", "1000"], {"CUSLICE_WEIGHT": 1})],
                            CUSLICE_SLICE_MS=5)
        got, _, _ = shares(box.kernels())
        assert abs(got[pids[0]] - 0.75) <= 0.05, got
    finally:
        box.cleanup()


def test_weights_hold_for_members_that_launch_in_batches():
    """Steps of 12 kernels then a synchronize, like a framework's training
    step: the idle probe must not end a turn early or skip the drain."""
    box = harness.Sandbox("batched")
    try:
        args = ["--seconds", "5", "--work", "500", "--batch", "12"]
        pids, _ = run_spins(box, [(args, {"CUSLICE_WEIGHT": 2}), (args, {"CUSLICE_WEIGHT": 1})])
        ks = box.kernels()
        got, t0, t1 = shares(ks)
        assert abs(got[pids[0]] - 2 / 3) <= 0.05, got
        over = harness.overlap_ns(clipped(ks, t0, t1)) / (t1 - t0)
        assert over < 0.01, over
    finally:
        box.cleanup()


def test_short_and_long_kernels_get_equal_time():
    box = harness.Sandbox("kernels")
    try:
        pids, _ = run_spins(box, [(["--seconds", "6", "--work", "1000"], {}),
                                  (["--seconds", "6", "--work", "20000"], {})],
                            CUSLICE_SLICE_MS=10)
        got, _, _ = shares(box.kernels())
        for pid in pids:
            assert abs(got[pid] - 0.5) <= 0.05, got
    finally:
        box.cleanup()


def busy_fraction(box, pid):
    ks = [k for k in box.kernels() if k[0] == pid]
    t0, t1 = ks[0][1], ks[-1][2]
    return sum(e - s for _, s, e in ks) / (t1 - t0)


def test_lone_busy_member_among_idle_ones_loses_nothing():
    alone = harness.Sandbox("alone")
    crowd = harness.Sandbox("crowd")
    try:
        pids, _ = run_spins(alone, [(["--seconds", "3", "--work", "1000"], {})])
        base = busy_fraction(alone, pids[0])
        specs = [(["--seconds", "3", "--work", "1000"], {})]
        specs += [(["--seconds", "4", "--idle"], {})] * 7
        pids, _ = run_spins(crowd, specs)
        shared = busy_fraction(crowd, pids[0])
        assert shared >= 0.98 * base, (shared, base)
    finally:
        alone.cleanup()
        crowd.cleanup()


def last_runner(box):
    ks = box.kernels()
    return ks[-1][0] if ks else None


def max_gap_after(box, pid, t_ns):
    ks = sorted(k for k in box.kernels() if k[0] == pid)
    ends = [e for _, _, e in ks if e <= t_ns]
    last = ends[-1] if ends else t_ns
    gaps = []
    for _, s, e in ks:
        if s >= t_ns:
            gaps.append(s - last)
            last = e
    return max(gaps) if gaps else None


def test_killed_holder_is_replaced_within_two_slices():
    box = harness.Sandbox("kill")
    try:
        slice_ms = 20
        env = {"CUSLICE_SLICE_MS": slice_ms}
        a = box.spawn([SPIN, "--seconds", "4", "--work", "1000"], **env)
        b = box.spawn([SPIN, "--seconds", "4", "--work", "1000"], **env)
        time.sleep(1.5)
        victim = a if last_runner(box) == a.pid else b
        survivor = b if victim is a else a
        victim.send_signal(signal.SIGKILL)
        killed_at = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        victim.wait()
        out, err = survivor.communicate(timeout=30)
        assert survivor.returncode == 0, err
        gap = max_gap_after(box, survivor.pid, killed_at)
        assert gap is not None and gap <= 2 * slice_ms * 1e6, gap
    finally:
        box.cleanup()


def test_stopped_holder_loses_the_token_and_reacquires():
    box = harness.Sandbox("stop")
    try:
        slice_ms, hold_ms = 20, 200
        env = {"CUSLICE_SLICE_MS": slice_ms, "CUSLICE_HOLD_TIMEOUT_MS": hold_ms}
        a = box.spawn([SPIN, "--seconds", "4", "--work", "1000"], **env)
        b = box.spawn([SPIN, "--seconds", "4", "--work", "1000"], **env)
        time.sleep(1.0)
        victim = a if last_runner(box) == a.pid else b
        survivor = b if victim is a else a
        victim.send_signal(signal.SIGSTOP)
        stopped_at = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        time.sleep(1.0)
        victim.send_signal(signal.SIGCONT)
        resumed_at = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        for p in (a, b):
            _, err = p.communicate(timeout=30)
            assert p.returncode == 0, err
        gap = max_gap_after(box, survivor.pid, stopped_at)
        assert gap <= (slice_ms + hold_ms + 100) * 1e6, gap
        later = [k for k in box.kernels() if k[1] >= resumed_at + 100_000_000]
        assert {k[0] for k in later} == {a.pid, b.pid}, "both run after SIGCONT"
        t1 = max(e for _, _, e in later)
        over = harness.overlap_ns(later) / (t1 - (resumed_at + 100_000_000))
        assert over < 0.01, over
    finally:
        box.cleanup()


def test_fork_child_joins_as_its_own_member():
    box = harness.Sandbox("fork")
    try:
        box.run([harness.program("forkspin"), "3"], CUSLICE_SLICE_MS=5)
        ks = box.kernels()
        pids = {k[0] for k in ks}
        assert len(pids) == 2, pids
        got, t0, t1 = shares(ks)
        for share in got.values():
            assert 0.3 < share < 0.7, got
        over = harness.overlap_ns(clipped(ks, t0, t1)) / (t1 - t0)
        assert over < 0.01, over
    finally:
        box.cleanup()


def test_corrupt_ring_file_runs_unthrottled_with_a_message():
    box = harness.Sandbox("corrupt")
    try:
        os.makedirs(box.cuslice_dir)
        garbage = os.urandom(65536)
        # The simulated GPU 0's UUID, as the library names its file.
        path = os.path.join(box.cuslice_dir, "gpu-GPU-515ecda0-5173-4000-8000-000000000000.shm")
        with open(path, "wb") as f:
            f.write(garbage)
        p = box.run([SPIN, "--seconds", "0.5"], CUSLICE_LOG="error")
        assert "kernels=" in p.stdout
        assert "is not a cuslice file" in p.stderr, p.stderr
        assert p.stderr.count("\n") == 1, p.stderr
        with open(path, "rb") as f:
            assert f.read() == garbage, "a foreign file must be left alone"
        # Without CUSLICE_LOG the library still says, in one line, that the
        # process runs without the isolation it asked for.
        quiet = box.run([SPIN, "--seconds", "0.2"])
        assert quiet.stderr.count("\n") == 1, quiet.stderr
        assert "is not a cuslice file" in quiet.stderr and "unthrottled" in quiet.stderr
    finally:
        box.cleanup()


def test_graph_capture_survives_hand_offs():
    box = harness.Sandbox("capture")
    try:
        env = {"CUSLICE_SLICE_MS": 2}
        other = box.spawn([SPIN, "--seconds", "3", "--work", "1000"], **env)
        cap = box.run([harness.program("capture"), "2.5"], **env)
        assert "captures=" in cap.stdout
        other.communicate(timeout=30)
        pids = {k[0] for k in box.kernels()}
        assert len(pids) == 2, "both members ran, so hand-offs happened"
    finally:
        box.cleanup()


def test_long_kernel_cannot_stall_the_ring_past_the_drain_timeout():
    box = harness.Sandbox("overrun")
    try:
        env = {"CUSLICE_SLICE_MS": 10, "CUSLICE_DRAIN_TIMEOUT_MS": 100,
               "CUSLICE_HOLD_TIMEOUT_MS": 5000}
        long = box.spawn([SPIN, "--seconds", "0.1", "--work", "3000000"], **env)
        time.sleep(0.3)
        t = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        short = box.spawn([SPIN, "--seconds", "0.5", "--work", "1000"], **env)
        short.communicate(timeout=30)
        long.communicate(timeout=30)
        first = min(s for p, s, _ in box.kernels() if p == short.pid)
        assert first - t < 1_500_000_000, (first - t) / 1e9
    finally:
        box.cleanup()


def test_a_process_on_two_gpus_is_a_member_of_each_ring():
    box = harness.Sandbox("multigpu")
    try:
        env = {"SIMCUDA_DEVICES": 2, "CUSLICE_SLICE_MS": 5}
        both = box.spawn([harness.program("multigpu"), "3"], **env)
        spins = [box.spawn([SPIN, "--seconds", "3", "--work", "1000", "--device", str(i)], **env)
                 for i in (0, 1)]
        for p in [both] + spins:
            _, err = p.communicate(timeout=60)
            assert p.returncode == 0, err
        files = sorted(f for f in os.listdir(box.cuslice_dir) if f.startswith("gpu-"))
        assert len(files) == 2, files
        for dev, spin in ((0, spins[0]), (1, spins[1])):
            ks = box.kernels(device=dev)
            assert {k[0] for k in ks} == {both.pid, spin.pid}, (dev, {k[0] for k in ks})
            # The two-GPU process uses each GPU half of the time, and waits
            # for a turn on each: it gets less, but must get some.
            got, t0, t1 = shares(ks)
            assert min(got.values()) > 0.05, (dev, got)
            over = harness.overlap_ns(clipped(ks, t0, t1)) / (t1 - t0)
            assert over < 0.01, (dev, over)
    finally:
        box.cleanup()


if __name__ == "__main__":
    harness.main(globals())
