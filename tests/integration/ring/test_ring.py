"""test_ring.py - the token ring across real processes (issue: the token ring).

Every test runs real programs under LD_PRELOAD=libcuslice.so against the
simulated driver; SIMCUDA_LOG records each simulated kernel as
'pid start_ns end_ns', which says who ran on the GPU when, and ringdump
reads the ring's own accounting from the per-GPU file afterwards.

The tests assert only what no scheduler delay can blur (docs/testing.md):
exclusivity (check_exclusive), who ran and in what order, counted events
(grants, hand-offs, revocations, overruns), and weights in the ring's own
accounting of charged turn time. Wall-clock shares and latencies are printed
as figures with a verdict (harness.figure) and never decide pass or fail;
`meson test --benchmark` collects them.
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
    """Wall-clock kernel-time shares from the simulated driver's log, over the
    window in which every process ran: a figure, never asserted."""
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


def ring_of(box):
    files = harness.ring_files(box)
    assert len(files) == 1, files
    return harness.ring_state(files[0])


def check_weights(state, pids, weights, name, tolerance=0.25):
    """Weights in the ring's own accounting: each member's share of the
    charged turn time is its weight's share, within tolerance (relative).
    The ring hands the token to the waiter with the smallest charge/weight,
    so these differ by at most one turn's charge, whatever the machine's
    load does to how long a turn lasts; 0.25 relative leaves ten times that
    on a 5-second run of 5 ms slices. A ring that ignored weights would give
    equal charges and fail this."""
    got = harness.charged_shares(state, pids)
    total_w = sum(weights)
    for pid, w in zip(pids, weights):
        want = w / total_w
        assert abs(got[pid] - want) <= tolerance * want, (
            "%s: charged share %.3f, weight share %.3f" % (name, got[pid], want), got, state)
        assert state["members"][pid]["grants"] >= 2, ("took turns", state)
    return got


def shared_run(name, specs, weights, **env):
    """Runs spins together (specs as run_spins), then asserts exclusivity and
    the weights in the ring's accounting. Returns (pids, wall-clock shares)."""
    box = harness.Sandbox(name)
    try:
        pids, _ = run_spins(box, specs, **env)
        ks = box.kernels()
        state = ring_of(box)
        assert {k[0] for k in ks} == set(pids), "every member ran"
        harness.check_exclusive(ks, state)
        check_weights(state, pids, weights, name)
        return pids, shares(ks)[0]
    finally:
        box.cleanup()


def share_figure(name, share, want):
    harness.figure(name, share, "of GPU time", "%.3f +- 0.05" % want, abs(share - want) <= 0.05)


def fair_share(n):
    _, got = shared_run("fair%d" % n, [(["--seconds", "5", "--work", "1000"], {})] * n,
                        [1] * n, CUSLICE_SLICE_MS=5)
    worst = max(abs(v - 1.0 / n) for v in got.values())
    harness.figure("ring.fair_share_%d.worst_deviation" % n, worst, "of GPU time",
                   "<= %.4f" % (0.05 / n), worst <= 0.05 / n)


def test_fair_share_2():
    fair_share(2)


def test_fair_share_4():
    fair_share(4)


def test_fair_share_8():
    fair_share(8)


def test_without_cuslice_kernels_overlap():
    """The exclusivity check can fail: without the library the processes'
    kernels overlap, and check_exclusive says so."""
    box = harness.Sandbox("native")
    try:
        run_spins(box, [(["--seconds", "2", "--work", "1000"], {})] * 2, preload=False)
        ks = box.kernels()
        no_events = {"ring": {"overruns": 0, "revocations": 0}}
        try:
            harness.check_exclusive(ks, no_events)
        except AssertionError:
            pass
        else:
            raise AssertionError("check_exclusive passed kernels that overlapped")
        t0, t1 = window(ks)
        assert harness.overlap_ns(clipped(ks, t0, t1)) / (t1 - t0) > 0.5
    finally:
        box.cleanup()


def test_weights_three_to_one():
    spin = ["--seconds", "5", "--work", "1000"]
    pids, got = shared_run("weights", [(spin, {"CUSLICE_WEIGHT": 3}),
                                       (spin, {"CUSLICE_WEIGHT": 1})], [3, 1],
                           CUSLICE_SLICE_MS=5)
    share_figure("ring.weights_3_1.share_of_weight_3", got[pids[0]], 0.75)


def test_weights_hold_for_members_that_launch_in_batches():
    """Steps of 12 kernels then a synchronize, like a framework's training
    step: the idle probe must not end a turn early or skip the drain."""
    args = ["--seconds", "5", "--work", "500", "--batch", "12"]
    pids, got = shared_run("batched", [(args, {"CUSLICE_WEIGHT": 2}),
                                       (args, {"CUSLICE_WEIGHT": 1})], [2, 1])
    share_figure("ring.batched_2_1.share_of_weight_2", got[pids[0]], 2 / 3)


def test_short_and_long_kernels_get_equal_time():
    """A member of 20 ms kernels overruns 10 ms slices; the drain is charged,
    so the ring's accounting stays equal."""
    pids, got = shared_run("kernels", [(["--seconds", "6", "--work", "1000"], {}),
                                       (["--seconds", "6", "--work", "20000"], {})], [1, 1],
                           CUSLICE_SLICE_MS=10)
    share_figure("ring.short_long.share_of_short", got[pids[0]], 0.5)


def busy_fraction(box, pid):
    ks = [k for k in box.kernels() if k[0] == pid]
    t0, t1 = ks[0][1], ks[-1][2]
    return sum(e - s for _, s, e in ks) / (t1 - t0)


def test_lone_busy_member_among_idle_ones_loses_nothing():
    """Members that joined but never launch never wait, so the busy one keeps
    the token: one grant, no hand-off, none granted to an idle member."""
    alone = harness.Sandbox("alone")
    crowd = harness.Sandbox("crowd")
    try:
        pids, _ = run_spins(alone, [(["--seconds", "3", "--work", "1000"], {})])
        base = busy_fraction(alone, pids[0])
        specs = [(["--seconds", "3", "--work", "1000"], {})]
        specs += [(["--seconds", "4", "--idle"], {})] * 7
        pids, _ = run_spins(crowd, specs)
        state = ring_of(crowd)
        members = state["members"]
        assert set(members) == set(pids), ("all eight joined", state)
        assert members[pids[0]]["grants"] == 1, ("the busy member never lost the token", state)
        assert all(members[p]["grants"] == 0 for p in pids[1:]), state
        assert state["ring"]["handoffs"] <= 1, state
        assert {k[0] for k in crowd.kernels()} == {pids[0]}
        shared = busy_fraction(crowd, pids[0])
        harness.figure("ring.lone_busy.kept_of_alone", shared / base, "of its busy fraction alone",
                       ">= 0.98", shared >= 0.98 * base)
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


def test_killed_holder_is_replaced():
    """A holder killed in the middle of a 10-second slice: the waiter finds
    its lock gone and takes the token back (the dead slot is reaped, or the
    token revoked) instead of waiting for the slice to end; the dead
    member's bytes are given back."""
    box = harness.Sandbox("kill")
    try:
        env = {"CUSLICE_SLICE_MS": 10000}  # the largest slice
        # deep keeps its queue full, so its turn cannot end early as idle.
        a = box.spawn([harness.program("deep"), "30", "1000", "200"], **env)
        assert harness.wait_for(lambda: last_runner(box) == a.pid, timeout=30), "a runs"
        b = box.spawn([SPIN, "--seconds", "2", "--work", "1000"], **env)
        # b waits: a's slice outlasts the test. Wait until b has joined.
        assert harness.wait_for(lambda: b.pid in ring_of(box)["members"], timeout=30)
        assert b.pid not in {k[0] for k in box.kernels()}, "b ran inside a's slice"
        a.send_signal(signal.SIGKILL)
        killed_at = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        a.wait()
        # Hang detector only: b needs about 2 s.
        _, err = b.communicate(timeout=60)
        assert b.returncode == 0, err
        state = ring_of(box)
        dead = state["members"][a.pid]
        # a was killed, so it never left: a free slot means it was reaped.
        assert dead["state"] == "free" or state["ring"]["revocations"] >= 1, (
            "the dead holder's token was taken back", state)
        assert dead["charged"] == 0, ("a's bytes came back", state)
        ks = box.kernels()
        a_first = min(s for p, s, _ in ks if p == a.pid)
        b_first = min((s for p, s, _ in ks if p == b.pid), default=None)
        assert b_first is not None, "b ran after the kill"
        assert b_first < a_first + 10000 * 1e6, "b got the token before a's slice would end"
        # A dead process's queued work dies with it on a real GPU; the
        # simulated driver logs it anyway: cut a's kernels at the kill.
        alive = [(p, s, min(e, killed_at) if p == a.pid else e) for p, s, e in ks
                 if p != a.pid or s < killed_at]
        harness.check_exclusive(alive, state)
        gap = max_gap_after(box, b.pid, killed_at)
        harness.figure("ring.kill.first_kernel_after_kill", gap / 1e6, "ms", "<= 40 ms",
                       gap <= 40e6)
    finally:
        box.cleanup()


def test_stopped_holder_loses_the_token_and_reacquires():
    """SIGSTOP a member for ten times the hold timeout: the ring revokes its
    token (counted), the other member goes on, and after SIGCONT both run
    again, one at a time."""
    box = harness.Sandbox("stop")
    try:
        slice_ms, hold_ms = 20, 200
        env = {"CUSLICE_SLICE_MS": slice_ms, "CUSLICE_HOLD_TIMEOUT_MS": hold_ms}
        # 8 s: after a late start and the 2.2 s stop, both still have seconds
        # left to run.
        a = box.spawn([SPIN, "--seconds", "8", "--work", "1000"], **env)
        b = box.spawn([SPIN, "--seconds", "8", "--work", "1000"], **env)
        assert harness.wait_for(lambda: {k[0] for k in box.kernels()} == {a.pid, b.pid},
                                timeout=30), "both ran"
        victim = a if last_runner(box) == a.pid else b
        survivor = b if victim is a else a
        victim.send_signal(signal.SIGSTOP)
        stopped_at = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        # A spinning member is holding or waiting, so it is handed the token
        # within a slice; stopped, it keeps it until revoked.
        time.sleep(10 * (slice_ms + hold_ms) / 1000)
        victim.send_signal(signal.SIGCONT)
        resumed_at = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        for p in (a, b):
            _, err = p.communicate(timeout=60)
            assert p.returncode == 0, err
        state = ring_of(box)
        ks = box.kernels()
        assert state["ring"]["revocations"] >= 1, ("the stopped holder lost the token", state)
        during = [k[0] for k in ks if stopped_at < k[1] < resumed_at]
        # SIGSTOP lands asynchronously: a launch in flight as it was sent may
        # still start one kernel (spin synchronizes after each, so no more).
        assert survivor.pid in during and during.count(victim.pid) <= 1, (
            "only the survivor ran while the other was stopped",
            during.count(survivor.pid), during.count(victim.pid))
        later = [k for k in ks if k[1] >= resumed_at]
        assert {k[0] for k in later} == {a.pid, b.pid}, "both run after SIGCONT"
        harness.check_exclusive(ks, state)
        gap = max_gap_after(box, survivor.pid, stopped_at)
        limit = (slice_ms + hold_ms + 100) * 1e6
        harness.figure("ring.stop.survivor_gap", gap / 1e6, "ms",
                       "<= %d ms" % (limit / 1e6), gap <= limit)
    finally:
        box.cleanup()


def test_fork_child_joins_as_its_own_member():
    box = harness.Sandbox("fork")
    try:
        box.run([harness.program("forkspin"), "3"], CUSLICE_SLICE_MS=5)
        ks = box.kernels()
        pids = {k[0] for k in ks}
        assert len(pids) == 2, pids
        state = ring_of(box)
        assert set(state["members"]) == pids, ("parent and child are two members", state)
        assert all(state["members"][p]["grants"] >= 2 for p in pids), ("they took turns", state)
        harness.check_exclusive(ks, state)
        got, _, _ = shares(ks)
        harness.figure("ring.fork.smaller_share", min(got.values()), "of GPU time",
                       "> 0.3", min(got.values()) > 0.3)
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
    """A 6-second kernel against a 100 ms drain timeout: the ring counts an
    overrun and hands the token on while that kernel still runs, so the other
    member's first kernel starts before the long one ends (event order)."""
    box = harness.Sandbox("overrun")
    try:
        env = {"CUSLICE_SLICE_MS": 10, "CUSLICE_DRAIN_TIMEOUT_MS": 100,
               "CUSLICE_HOLD_TIMEOUT_MS": 5000}
        # 6 s: the short member has that long to start (a loaded machine
        # can take seconds) and still show the order.
        long = box.spawn([SPIN, "--seconds", "0.1", "--work", "6000000"], **env)
        assert harness.wait_for(lambda: last_runner(box) == long.pid, timeout=30)
        t = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        short = box.spawn([SPIN, "--seconds", "0.5", "--work", "1000"], **env)
        short.communicate(timeout=60)
        long.communicate(timeout=60)
        ks = box.kernels()
        state = ring_of(box)
        long_end = max(e for p, _, e in ks if p == long.pid)
        first = min(s for p, s, _ in ks if p == short.pid)
        assert state["ring"]["overruns"] >= 1, ("the drain gave up", state)
        assert first < long_end, "the short member ran before the long kernel ended"
        harness.check_exclusive(ks, state)
        harness.figure("ring.overrun.first_kernel_wait", (first - t) / 1e9, "s", "< 1.5 s",
                       first - t < 1_500_000_000)
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
        files = harness.ring_files(box)
        assert len(files) == 2, files
        for dev, spin in ((0, spins[0]), (1, spins[1])):
            ks = box.kernels(device=dev)
            assert {k[0] for k in ks} == {both.pid, spin.pid}, (dev, {k[0] for k in ks})
            # Which file is which GPU is not known here: the one with both
            # of this device's members in it.
            states = [harness.ring_state(f) for f in files]
            state = [st for st in states if spin.pid in st["members"]]
            assert len(state) == 1 and both.pid in state[0]["members"], states
            harness.check_exclusive(ks, state[0], "GPU %d:" % dev)
            got, _, _ = shares(ks)
            harness.figure("ring.multigpu.gpu%d_smaller_share" % dev, min(got.values()),
                           "of GPU time", "> 0.05", min(got.values()) > 0.05)
    finally:
        box.cleanup()


if __name__ == "__main__":
    harness.main(globals())
