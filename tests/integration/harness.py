"""harness.py - runs real programs under libcuslice.so against the simulated driver.

Every test gets a Sandbox: a fresh temporary folder with its own CUSLICE_DIR
(the shared ring/ledger files) and SIMCUDA_DIR (the simulated GPU's memory),
so tests never see each other's state. meson passes the paths of the built
library and simulator in CUSLICE_LIB, SIMCUDA_LIBDIR and SIMCUDA_STAT.

main(globals()) runs every test_* function of the calling script and
reports in TAP (see main), closing with a '# N passed, M failed' comment; it
exits non-zero if anything failed. Each test script is one meson test with
protocol: 'tap', so meson names each failing test function.
"""
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

LIB = os.environ.get("CUSLICE_LIB", "")
SIM_LIBDIR = os.environ.get("SIMCUDA_LIBDIR", "")
SIM_STAT = os.environ.get("SIMCUDA_STAT", "")
BUILD_ROOT = os.environ.get("CUSLICE_BUILD_ROOT", "")


class Sandbox:
    def __init__(self, name="t"):
        self.root = tempfile.mkdtemp(prefix="cuslice-%s-" % name)
        self.cuslice_dir = os.path.join(self.root, "cuslice")
        self.sim_dir = os.path.join(self.root, "sim")
        self.sim_log = os.path.join(self.root, "sim.log")
        os.makedirs(self.sim_dir)

    def path(self, name):
        return os.path.join(self.root, name)

    def env(self, preload=True, **extra):
        """The environment for a program: the simulated driver first on the
        library path, our library preloaded unless preload=False."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("CUSLICE_") and not k.startswith("SIMCUDA_")}
        env["LD_LIBRARY_PATH"] = SIM_LIBDIR + (":" + env["LD_LIBRARY_PATH"]
                                               if env.get("LD_LIBRARY_PATH") else "")
        env["CUSLICE_DIR"] = self.cuslice_dir
        env["SIMCUDA_DIR"] = self.sim_dir
        env["SIMCUDA_LOG"] = self.sim_log
        if preload:
            env["LD_PRELOAD"] = LIB
        else:
            env.pop("LD_PRELOAD", None)
        for k, v in extra.items():
            env[k] = str(v)
        # HARNESS_EXTRA_ENV="CUSLICE_RING=off ..." forces settings on every
        # program a test runs, over the test's own: how docs/testing.md
        # shows that the checks fail without the feature they guard.
        for item in os.environ.get("HARNESS_EXTRA_ENV", "").split():
            k, _, v = item.partition("=")
            env[k] = v
        return env

    def run(self, argv, preload=True, timeout=120, check=True, **extra):
        p = subprocess.run(argv, env=self.env(preload, **extra), capture_output=True,
                           text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError("%s exited %d\nstdout:\n%s\nstderr:\n%s"
                                 % (argv, p.returncode, p.stdout, p.stderr))
        return p

    def spawn(self, argv, preload=True, **extra):
        return subprocess.Popen(argv, env=self.env(preload, **extra),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def kernels(self, device=None, queued=False):
        """The simulated driver's log: [(pid, start_ns, end_ns)], of one
        physical device when device is given; with queued, each tuple ends
        with the time the kernel was submitted."""
        out = []
        if not os.path.exists(self.sim_log):
            return out
        with open(self.sim_log) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 5 and (device is None or int(parts[3]) == device):
                    k = (int(parts[0]), int(parts[1]), int(parts[2]))
                    out.append(k + (int(parts[4]),) if queued else k)
        return out

    def sim_stat(self, device=0):
        """used/peak/total bytes the simulated GPU holds for all processes."""
        p = subprocess.run([SIM_STAT, "--dir", self.sim_dir, "--device", str(device)],
                           capture_output=True, text=True, check=True)
        words = p.stdout.split()
        return {words[i]: int(words[i + 1]) for i in range(0, len(words) - 1, 2)}

    def cleanup(self):
        shutil.rmtree(self.root, ignore_errors=True)


def read_trace(path):
    counts = {}
    with open(path) as f:
        for line in f:
            name, n = line.split()
            counts[name] = int(n)
    return counts


def program(name):
    """Path of a test program built by meson under tests/integration."""
    places = [os.path.join(BUILD_ROOT, "tests", "integration", sub, name)
              for sub in ("routes", "memory", "ring", "cli")]
    places += [os.path.join(BUILD_ROOT, "examples", name),
               os.path.join(BUILD_ROOT, "tools", name)]
    for p in places:
        if os.path.exists(p):
            return p
    raise FileNotFoundError(name)


def busy_by_pid(kernels, t0=None, t1=None):
    """Kernel time per pid, clipped to [t0, t1] when given."""
    out = {}
    for pid, s, e in kernels:
        if t0 is not None:
            s = max(s, t0)
        if t1 is not None:
            e = min(e, t1)
        if e > s:
            out[pid] = out.get(pid, 0) + (e - s)
    return out


def overlap_ns(kernels):
    """Time during which kernels of two or more different processes ran."""
    events = []
    for pid, s, e in kernels:
        events.append((s, 1, pid))
        events.append((e, -1, pid))
    events.sort()
    running = {}
    total = 0
    last = None
    for t, kind, pid in events:
        if last is not None and len([p for p, n in running.items() if n > 0]) >= 2:
            total += t - last
        running[pid] = running.get(pid, 0) + kind
        last = t
    return total


def ring_files(box):
    """The per-GPU files of a sandbox, sorted (one per simulated GPU used)."""
    if not os.path.isdir(box.cuslice_dir):
        return []
    return sorted(os.path.join(box.cuslice_dir, f) for f in os.listdir(box.cuslice_dir)
                  if f.startswith("gpu-") and f.endswith(".shm"))


def ring_state(path):
    """The ring's own accounting in a per-GPU file (ringdump): {"ring": {...},
    "members": {pid: {...}}}; numbers as ints. A member's fields stay in its
    slot after it exits, so this is read once every process has finished."""
    p = subprocess.run([program("ringdump"), path], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, (path, p.stdout, p.stderr)
    state = {"ring": {}, "members": {}}
    for line in p.stdout.splitlines():
        words = line.split()
        fields = {}
        if words[0] == "member":
            fields["slot"] = int(words.pop(1))
        for w in words[1:]:
            k, _, v = w.partition("=")
            fields[k] = int(v) if v.isdigit() else v
        if words[0] == "ring":
            state["ring"] = fields
        elif words[0] == "member":
            state["members"][fields["pid"]] = fields
    return state


def charged_shares(state, pids):
    """Each member's share of the time the ring charged for contested turns:
    weight * vtime_ns (vtime is the charge divided by the weight)."""
    members = state["members"]
    charged = {p: members[p]["weight"] * members[p]["vtime_ns"] for p in pids}
    total = sum(charged.values())
    assert total > 0, ("the ring charged nothing", state)
    return {p: c / total for p, c in charged.items()}


def check_exclusive(kernels, state, what=""):
    """The ring's exclusivity, as the simulated driver saw it: kernels of two
    different processes never run at the same time, except for work already
    queued when the token moved without a drain: a drain that hit
    CUSLICE_DRAIN_TIMEOUT_MS (ring overruns), a holder whose token was
    revoked (revocations), or a holder preempted by a high member (at most
    one per grant to a high member; ring.c lets the preempted holder's queued
    work finish beside the high member's). Each such event may overlap by at
    most the longest kernel. Returns the overlap in ns."""
    over = overlap_ns(kernels)
    high_grants = sum(m.get("grants", 0) for m in state.get("members", {}).values()
                      if m.get("priority") == 2)
    events = state["ring"]["overruns"] + state["ring"]["revocations"] + high_grants
    longest = max((e - s for _, s, e in kernels), default=0)
    assert over <= events * longest, (
        "%s kernels of two members overlapped for %.3f ms with %d overrun, revocation or "
        "preemption events (longest kernel %.3f ms)"
        % (what, over / 1e6, events, longest / 1e6))
    return over


def figure(name, value, unit, target, meets):
    """Reports a timing figure: never asserted (a loaded machine moves it),
    printed with a verdict against its target. The benchmark target
    (tests/bench/figures.py, `meson test --benchmark`) collects these lines."""
    print("figure %s = %s %s (target %s): %s"
          % (name, ("%.3f" % value) if isinstance(value, float) else value, unit, target,
             "meets" if meets else "MISSES"))


def wait_for(cond, timeout=10.0, step=0.02):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step)
    return cond()


def main(namespace):
    """Runs the test_* functions of namespace (or those named on the command
    line) and reports them in TAP, which meson reads (protocol: 'tap'): a
    plan line, 'ok N - name' or 'not ok N - name' per test, and everything
    else (what a test prints, a failure's traceback) as '# ' comments."""
    tests = [(n, f) for n, f in sorted(namespace.items())
             if n.startswith("test_") and callable(f)]
    only = sys.argv[1:]
    tests = [(n, f) for n, f in tests if not only or n in only]
    real_stdout = sys.stdout
    print("1..%d" % len(tests), flush=True)
    failed = 0
    for number, (name, fn) in enumerate(tests, 1):
        t0 = time.monotonic()
        sys.stdout = captured = io.StringIO()
        ok = True
        try:
            fn()
        except Exception:
            ok = False
            traceback.print_exc(file=captured)
        finally:
            sys.stdout = real_stdout
        failed += 0 if ok else 1
        for line in captured.getvalue().splitlines():
            print("# " + line)
        if not ok:  # meson shows a failing test's stderr, not its TAP comments
            sys.stderr.write("FAIL %s:\n%s\n" % (name, captured.getvalue()))
        print("%s %d - %s" % ("ok" if ok else "not ok", number, name))
        print("# %s took %.1fs" % (name, time.monotonic() - t0), flush=True)
    print("# %d passed, %d failed" % (len(tests) - failed, failed))
    sys.exit(1 if failed else 0)
