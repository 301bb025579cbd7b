#!/usr/bin/env python3
"""soak.py - the chaos soak (issue 14): members come and go, are killed,
paused and resumed, and afterwards nothing is left behind.

For --seconds, it keeps about --members soakmember processes running under
LD_PRELOAD=libcuslice.so against the simulated driver, all in one memory
group with a cap, with short slices: each allocates and frees random chunks
and launches 2 ms kernels. Members start at random times with random
lifetimes; at random it sends one of them SIGKILL, or SIGSTOP and SIGCONT
after a random pause (0.5-3 s; a paused member is sometimes killed
instead). Then it resumes everything, lets every member finish, and checks:

  no hang      every member that was not killed exits by itself, with status
               0, by its own end plus a grace period; a fresh member then
               joins, runs kernels and exits 0;
  no stale     after that member has run (its agent reaps dead slots), the
               per-GPU file has no member slot left, live or dead;
  ledger at 0  so the group's ledger is 0 bytes, and the simulated GPU holds
               0 bytes;
  no starving  after each SIGCONT of a member that then lived on, the other
               members ran at most STARVE_KERNELS kernels each, on average,
               before the resumed one ran its next kernel. The bound counts
               kernels, not seconds: with slices of 10 ms and 2 ms kernels a
               member that is not charged for its pause waits a few slices;
               one charged for a 3 s pause waits until every other member
               has used 3 s more (about 1500 kernels each).

Usage: soak.py [--build DIR] [--members N] [--seconds T] [--seed S]
               [--slice-ms MS] [--cap SIZE] [--report FILE]
Exit status 0 when every check holds, 1 otherwise. It prints a summary of
what it did and every check that failed.
"""
import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
STARVE_KERNELS = 100      # per other busy member, on average (see above)
KERNEL_US = 2000
GRACE_S = 60              # past its own end, a member that is still there hangs
PROBE_SECONDS = 3         # the last member: longer than the agent's reap period


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--members", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--slice-ms", type=int, default=10)
    ap.add_argument("--cap", default="1G")
    ap.add_argument("--report", default=None, help="write the summary as JSON here")
    return ap.parse_args()


def setup_harness(build):
    os.environ.setdefault("CUSLICE_LIB", os.path.join(build, "hooks", "libcuslice.so"))
    os.environ.setdefault("SIMCUDA_LIBDIR", os.path.join(build, "tests", "simcuda"))
    os.environ.setdefault("SIMCUDA_STAT", os.path.join(build, "tests", "simcuda",
                                                       "simcuda-stat"))
    os.environ.setdefault("CUSLICE_BUILD_ROOT", build)
    sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
    import harness  # noqa: E402
    return harness


class Member:
    def __init__(self, proc, seconds, start):
        self.proc = proc
        self.pid = proc.pid
        self.end = start + seconds
        self.own_end = start + seconds  # by its own clock, which runs on while paused
        self.killed = False
        self.stopped_until = None   # monotonic time of the planned SIGCONT
        self.resumes = []           # monotonic times of its SIGCONTs
        self.stops = []             # (monotonic time, was the last runner) of its SIGSTOPs


class Soak:
    def __init__(self, harness, args):
        self.h = harness
        self.args = args
        self.rng = random.Random(args.seed)
        self.box = harness.Sandbox("soak")
        self.member_bin = os.path.join(args.build, "tests", "soak", "soakmember")
        self.members = []
        self.failures = []
        self.counts = {"started": 0, "sigkill": 0, "sigstop": 0, "sigcont": 0}
        self.env = dict(CUSLICE_MEM_LIMIT=args.cap, CUSLICE_GROUP="soak",
                        CUSLICE_SLICE_MS=args.slice_ms, CUSLICE_HOLD_TIMEOUT_MS=100,
                        CUSLICE_CTX_RESERVE="32M", SIMCUDA_CTX_OVERHEAD="32M")
        self.max_chunk = 256 << 20  # with 8 members, a 1G cap is contended

    def fail(self, what):
        self.failures.append(what)
        print("FAIL %s" % what, flush=True)

    # ---- members ----

    def start_member(self, lifetime):
        seed = self.rng.randrange(1 << 30)
        p = self.box.spawn([self.member_bin, "%.2f" % lifetime, str(self.max_chunk),
                            str(KERNEL_US), str(seed)], **self.env)
        self.members.append(Member(p, lifetime, time.monotonic()))
        self.counts["started"] += 1

    def running(self):
        return [m for m in self.members if not m.killed and m.proc.poll() is None]

    def chaos_step(self, now):
        live = self.running()
        for m in live:
            if m.stopped_until is not None and now >= m.stopped_until:
                self.resume(m)
        live = self.running()
        if len(live) < self.args.members and self.rng.random() < 0.5:
            self.start_member(self.rng.uniform(1.0, 10.0))
        if not live:
            return
        m = self.rng.choice(live)
        holder = self.last_runner()
        if self.rng.random() < 0.5 and holder in live:
            m = holder  # pause or kill the holder itself: the hard case
        r = self.rng.random()
        if r < 0.04:
            m.proc.send_signal(signal.SIGKILL)
            m.killed = True
            m.stopped_until = None
            self.counts["sigkill"] += 1
        elif r < 0.10 and m.stopped_until is None:
            m.proc.send_signal(signal.SIGSTOP)
            m.stops.append((now, m is holder))
            pause = self.rng.uniform(0.5, 3.0)
            m.stopped_until = now + pause
            m.end += pause  # its own clock keeps running, but it cannot finish paused
            self.counts["sigstop"] += 1

    def last_runner(self):
        """The member whose kernel was logged last: the token's holder, or
        the one that held it last."""
        try:
            with open(self.box.sim_log, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 256))
                lines = f.read().decode(errors="replace").splitlines()
        except OSError:
            return None
        parts = lines[-1].split() if lines else []
        if len(parts) != 5:  # pid start end device queued (tests/simcuda)
            return None
        pid = int(parts[0])
        return next((m for m in self.members if m.pid == pid), None)

    def resume(self, m):
        m.proc.send_signal(signal.SIGCONT)
        m.resumes.append(time.monotonic())
        m.stopped_until = None
        self.counts["sigcont"] += 1

    # ---- the run ----

    def run(self):
        t_end = time.monotonic() + self.args.seconds
        while time.monotonic() < t_end:
            self.chaos_step(time.monotonic())
            time.sleep(self.rng.uniform(0.02, 0.1))
        for m in self.running():
            if m.stopped_until is not None:
                self.resume(m)
        self.wait_all()
        self.probe()

    def wait_all(self):
        for m in self.members:
            if m.killed:
                m.proc.wait()
                m.proc.communicate()
                continue
            left = m.end + GRACE_S - time.monotonic()
            try:
                m.proc.wait(timeout=max(left, 1))
            except subprocess.TimeoutExpired:
                self.fail("hang: member %d did not exit %d s after its end" % (m.pid, GRACE_S))
                self.diagnose(m.pid)
                m.proc.kill()
                m.proc.wait()
            out, err = m.proc.communicate()
            if m.proc.returncode != 0:
                self.fail("member %d exited %d: %s" % (m.pid, m.proc.returncode, err.strip()))

    def diagnose(self, pid):
        """What a hung member is doing: its threads' stacks (gdb, if there is
        one) and the ring's state, printed for the log."""
        try:
            with open("/proc/%d/status" % pid) as f:
                print("# /proc/%d/status State: %s" % (pid, next(
                    (l.split(":", 1)[1].strip() for l in f if l.startswith("State")), "?")))
        except OSError:
            pass
        try:
            bt = subprocess.run(["gdb", "-p", str(pid), "-batch", "-ex", "thread apply all bt"],
                                capture_output=True, text=True, timeout=120)
            for line in bt.stdout.splitlines():
                if line.startswith(("#", "Thread")):
                    print("# " + line)
        except (OSError, subprocess.TimeoutExpired) as e:
            print("# no stacks: %s" % e)
        ringdump = os.path.join(self.args.build, "tests", "integration", "ring", "ringdump")
        for f in os.listdir(self.box.cuslice_dir):
            if f.endswith(".shm") and os.path.exists(ringdump):
                out = subprocess.run([ringdump, os.path.join(self.box.cuslice_dir, f)],
                                     capture_output=True, text=True)
                for line in out.stdout.splitlines():
                    print("# ring: " + line)

    def probe(self):
        p = self.box.spawn([self.member_bin, str(PROBE_SECONDS), str(self.max_chunk),
                            str(KERNEL_US), "1"], **self.env)
        try:
            out, err = p.communicate(timeout=PROBE_SECONDS + GRACE_S)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            self.fail("hang: the last member did not finish")
        if p.returncode != 0:
            self.fail("the last member exited %d: %s" % (p.returncode, err.strip()))
        if not any(pid == p.pid for pid, _, _ in self.box.kernels()):
            self.fail("the last member ran no kernel")

    # ---- checks ----

    def check_ledger(self):
        files = [f for f in os.listdir(self.box.cuslice_dir) if f.endswith(".shm")]
        if len(files) != 1:
            self.fail("expected one per-GPU file, found %s" % files)
            return
        dump = subprocess.run([os.path.join(self.args.build, "tests", "integration", "memory",
                                            "ledger_dump"),
                               os.path.join(self.box.cuslice_dir, files[0])],
                              capture_output=True, text=True)
        if dump.returncode != 0:
            self.fail("ledger_dump: %s" % dump.stdout.strip())
        stale = [line for line in dump.stdout.splitlines() if line.startswith("member")]
        if stale:
            self.fail("stale member slots: %s" % stale)
        for line in dump.stdout.splitlines():
            if line.startswith("group") and "used=0 " not in line + " ":
                self.fail("ledger not at 0: %s" % line)
        used = self.box.sim_stat()["used"]
        if used != 0:
            self.fail("the simulated GPU still holds %d bytes" % used)

    def check_starvation(self):
        kernels = sorted(self.box.kernels(), key=lambda k: k[1])
        by_pid = {}
        for pid, s, _ in kernels:
            by_pid.setdefault(pid, []).append(s)
        worst = 0.0
        checked = 0
        self.waits = []
        for m in self.members:
            for k, t in enumerate(m.resumes):
                t_ns = int(t * 1e9)
                mine = [s for s in by_pid.get(m.pid, []) if s >= t_ns]
                if not mine and m.killed:
                    continue  # killed before it could run again
                # A member whose own end came while it was paused leaves
                # without another kernel: count the others until that end.
                until = mine[0] if mine else int(m.own_end * 1e9)
                others = [(pid, s) for pid, s, _ in kernels
                          if pid != m.pid and t_ns <= s < until]
                busy = len({pid for pid, _ in others}) or 1
                per_member = len(others) / busy
                worst = max(worst, per_member)
                stop_t, was_runner = m.stops[k] if k < len(m.stops) else (t, False)
                self.waits.append((round(per_member, 1), round(t - stop_t, 2), was_runner))
                checked += 1
                if per_member > STARVE_KERNELS:
                    self.fail("starved: member %d resumed and then waited while %d other "
                              "members ran %.0f kernels each%s" %
                              (m.pid, busy, per_member, "" if mine else " (it never ran again)"))
        return checked, worst

    def summary(self, checked, worst):
        return {"members": self.args.members, "seconds": self.args.seconds,
                "seed": self.args.seed, "slice_ms": self.args.slice_ms, "cap": self.args.cap,
                "counts": self.counts, "kernels": len(self.box.kernels()),
                "resumes_checked": checked, "worst_wait_kernels_per_member": round(worst, 1),
                "starve_bound": STARVE_KERNELS, "failures": self.failures,
                "waits": sorted(self.waits, reverse=True)[:5]}


def main():
    args = parse_args()
    if args.seed is None:
        args.seed = random.randrange(1 << 30)
    harness = setup_harness(os.path.abspath(args.build))
    args.build = os.path.abspath(args.build)
    soak = Soak(harness, args)
    try:
        soak.run()
        soak.check_ledger()
        checked, worst = soak.check_starvation()
        report = soak.summary(checked, worst)
    finally:
        for m in soak.members:
            if m.proc.poll() is None:
                m.proc.kill()
        soak.box.cleanup()
    print("soak: %s" % json.dumps(report, sort_keys=True), flush=True)
    if args.report:
        with open(args.report, "w") as f:
            json.dump(report, f, indent=1, sort_keys=True)
    print("soak: %s" % ("ok" if not soak.failures else "%d check(s) failed" % len(soak.failures)))
    sys.exit(1 if soak.failures else 0)


if __name__ == "__main__":
    main()
