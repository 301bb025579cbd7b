"""test_routes.py - the three routes to the driver, shown intercepted.

Every program here really takes its route: route_a is linked with -lcuda,
route_b looks versioned names up with dlsym on a dlopened libcuda.so.1 (as
cuBLASLt and XLA do), route_c goes through cuGetProcAddress_v2 (as cudart
does). Each is run twice against the simulated driver, without and with
LD_PRELOAD=libcuslice.so, and the test checks:

  - without the interposer no trace is written, so these tests fail if
    interception stops working;
  - with it, CUSLICE_TRACE counts each call under the hooked export's name;
  - SIMCUDA_COUNTS shows the calls reached the driver, as many as the trace
    says;
  - every result the program saw (codes, sizes, error codes injected with
    SIMCUDA_FAIL, the driver's lookup status) is the same in both runs.

Plus fork, a constructor of another library, RTLD_NEXT, silence by default,
a bad CUSLICE_* value and a machine without a driver.
"""
import glob
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402
from harness import Sandbox, program, read_trace  # noqa: E402

SOURCE_ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                           "..", "..", ".."))
LAUNCHES = 5
CUDA_ERROR_INVALID_VALUE = 1
CUDA_ERROR_OUT_OF_MEMORY = 2
CUDA_ERROR_OPERATING_SYSTEM = 304
CUDA_ERROR_NOT_FOUND = 500
CUDA_ERROR_LAUNCH_FAILED = 719
CUDA_ERROR_UNKNOWN = 999


def hooked_names():
    """Every symbol of the hook table (hooks/table.h), in table order."""
    with open(os.path.join(SOURCE_ROOT, "hooks", "table.h")) as f:
        text = f.read()
    return re.findall(r"X\(\w+, (?:cuda|nvml), (\w+),", text)


HOOKED = hooked_names()


def parse(text):
    """A program's "key value..." lines as {key: [value, ...]}."""
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        out.setdefault(key, []).append(value)
    return out


def one(lines, key):
    values = lines.get(key)
    assert values is not None, "no line %r" % key
    assert len(values) == 1, "%r appears %d times" % (key, len(values))
    return values[0]


def read_counts_by_pid(folder, prefix):
    """{pid: {symbol: count}} from folder/<prefix>-<pid>.txt files."""
    out = {}
    for path in glob.glob(os.path.join(folder, prefix + "-*.txt")):
        pid = int(os.path.basename(path)[len(prefix) + 1:-4])
        out[pid] = read_trace(path)
    return out


class Run:
    def __init__(self, proc, folder):
        self.proc = proc
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.lines = parse(proc.stdout)
        self.traces = read_counts_by_pid(folder, "trace")
        self.sim = read_counts_by_pid(folder, "sim")
        self.folder = folder

    def trace(self):
        assert len(self.traces) == 1, "want one trace file, got %s" % sorted(self.traces)
        return next(iter(self.traces.values()))

    def sim_counts(self):
        assert len(self.sim) == 1, "want one SIMCUDA_COUNTS file, got %s" % sorted(self.sim)
        return next(iter(self.sim.values()))


def run(sb, tag, argv, preload, check=True, **extra):
    """Runs argv in sb with its own folder for traces and driver counts."""
    folder = sb.path(tag)
    os.makedirs(folder)
    env = sb.env(preload, CUSLICE_TRACE=os.path.join(folder, "trace-%p.txt"),
                 SIMCUDA_COUNTS=os.path.join(folder, "sim-%p.txt"), **extra)
    p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120,
                       cwd=folder)
    if check and p.returncode != 0:
        raise AssertionError("%s exited %d\nstdout:\n%s\nstderr:\n%s"
                             % (argv, p.returncode, p.stdout, p.stderr))
    return Run(p, folder)


def run_both(name, args=(), check=True, **extra):
    """(without, with) the interposer, same program and settings."""
    sb = Sandbox(name)
    try:
        argv = [program(name)] + [str(a) for a in args]
        plain = run(sb, "plain", argv, False, check, **extra)
        hooked = run(sb, "preload", argv, True, check, **extra)
    finally:
        sb.cleanup()
    assert plain.traces == {}, "a trace was written without the interposer"
    return plain, hooked


def strip_owner(value):
    """A lookup value without its library: "<codes...> <symbol>"."""
    words = value.split()
    return " ".join(words[:-2] + words[-1:])


def expect_same_results(plain, hooked, owner_keys=()):
    """Every line is identical in both runs, except that for owner_keys
    (lines ending in "<library> <symbol>") only the library may differ."""
    assert sorted(plain.lines) == sorted(hooked.lines), \
        "different lines:\n%s\n---\n%s" % (plain.stdout, hooked.stdout)
    for key, values in plain.lines.items():
        got = hooked.lines[key]
        if key in owner_keys:
            assert [strip_owner(v) for v in values] == [strip_owner(v) for v in got], \
                "%s: %s without, %s with the interposer" % (key, values, got)
        else:
            assert values == got, "%s: %s without, %s with the interposer" % (key, values, got)


def expect_trace(trace, want):
    """The trace lists every hooked symbol once; the counts are want's, and
    zero for every symbol not in want."""
    assert sorted(trace) == sorted(HOOKED), \
        "trace symbols differ from the hook table: %s" % sorted(set(trace) ^ set(HOOKED))
    for name in HOOKED:
        assert trace[name] == want.get(name, 0), \
            "trace %s = %d, want %d" % (name, trace[name], want.get(name, 0))


def expect_reached_driver(plain, hooked, want):
    """Each counted call reached the driver: the driver saw at least as many
    calls with the interposer as the trace counted (the library may make a
    few of its own), exactly as many for launches, and the program's own
    calls match the run without the interposer."""
    trace = hooked.trace()
    sim = hooked.sim_counts()
    sim_plain = plain.sim_counts()
    for name, n in want.items():
        assert sim.get(name, 0) >= trace[name], \
            "%s: traced %d, driver saw %d" % (name, trace[name], sim.get(name, 0))
        assert sim_plain.get(name, 0) == n, \
            "%s: the program made %d calls without the interposer, want %d" % (
                name, sim_plain.get(name, 0), n)
        if "Launch" in name:
            assert sim.get(name, 0) == n, \
                "%s: driver saw %d launches, want %d" % (name, sim.get(name, 0), n)


def lib_of(value):
    return value.split()[-2]


def sym_of(value):
    return value.split()[-1]


# ---- route (a): linked with -lcuda ----

ROUTE_A_WANT = {
    "cuLaunchKernel": LAUNCHES + 2,  # two more launched into a capture
    "cuLaunchKernelEx": 1,
    "cuLaunchCooperativeKernel": 1,
    "cuGraphLaunch": 1,
    "cuMemAlloc_v2": 1,
    "cuMemAllocAsync": 1,
    "cuMemFreeAsync": 1,
    "cuMemCreate": 1,
    "cuMemRelease": 1,
    "cuMemFree_v2": 2,
    "cuMemGetInfo_v2": 1,
    "cuDeviceTotalMem_v2": 1,
    "cuCtxSynchronize": 1,
    "cuCtxSynchronize_v2": 1,
    "cuStreamBeginCapture_v2": 1,
    "cuStreamEndCapture": 1,
    "cuStreamIsCapturing": 1,
    "cuDevicePrimaryCtxRelease_v2": 1,  # hooked: the primary's end frees its memory
}


def ptsz(want):
    """The names a per-thread-default-stream build calls instead."""
    renamed = {"cuLaunchKernel", "cuLaunchKernelEx", "cuLaunchCooperativeKernel",
               "cuGraphLaunch", "cuMemAllocAsync", "cuMemFreeAsync",
               "cuStreamBeginCapture_v2", "cuStreamEndCapture", "cuStreamIsCapturing"}
    return {(k + "_ptsz" if k in renamed else k): v for k, v in want.items()}


def test_route_a_linked():
    plain, hooked = run_both("route_a", [LAUNCHES])
    expect_same_results(plain, hooked)
    lines = hooked.lines
    for key, values in lines.items():
        if key != "cuMemFree_v2_again":
            assert values[0].split()[0] == "0", "%s failed: %s" % (key, values)
    assert one(lines, "cuMemFree_v2_again") != "0"  # the driver's own error, passed on
    assert one(lines, "cuLaunchKernel") == "0 x%d" % LAUNCHES
    expect_trace(hooked.trace(), ROUTE_A_WANT)
    expect_reached_driver(plain, hooked, ROUTE_A_WANT)


def test_route_a_per_thread_stream():
    plain, hooked = run_both("route_a_ptsz", [LAUNCHES])
    expect_same_results(plain, hooked)
    want = ptsz(ROUTE_A_WANT)
    assert "cuLaunchKernel_ptsz" in want and "cuLaunchKernel" not in want
    expect_trace(hooked.trace(), want)
    expect_reached_driver(plain, hooked, want)


def test_route_a_errors_pass_through():
    fail = ("cuLaunchKernel:%d,cuLaunchKernelEx:%d,cuMemAlloc_v2:%d,cuCtxSynchronize:%d"
            % (CUDA_ERROR_LAUNCH_FAILED, CUDA_ERROR_INVALID_VALUE, CUDA_ERROR_OUT_OF_MEMORY,
               CUDA_ERROR_UNKNOWN))
    plain, hooked = run_both("route_a", [LAUNCHES], SIMCUDA_FAIL=fail)
    expect_same_results(plain, hooked)
    lines = hooked.lines
    assert one(lines, "cuLaunchKernel") == "%d x%d" % (CUDA_ERROR_LAUNCH_FAILED, LAUNCHES)
    assert one(lines, "cuLaunchKernelEx") == str(CUDA_ERROR_INVALID_VALUE)
    assert one(lines, "cuMemAlloc_v2") == "%d null" % CUDA_ERROR_OUT_OF_MEMORY
    assert one(lines, "cuCtxSynchronize") == str(CUDA_ERROR_UNKNOWN)
    assert one(lines, "cuCtxSynchronize_v2") == "0"
    # Failed calls are still calls: counted, and forwarded.
    trace = hooked.trace()
    assert trace["cuLaunchKernel"] == LAUNCHES + 2
    assert trace["cuMemAlloc_v2"] == 1
    assert hooked.sim_counts()["cuLaunchKernel"] == LAUNCHES + 2


# ---- route (c): cuGetProcAddress, as cudart ----

def lookup_keys(lines):
    return [k for k in lines if "@" in k]


def test_route_c_get_proc_address():
    plain, hooked = run_both("route_c", [LAUNCHES])
    owner_keys = lookup_keys(plain.lines) + ["dlsym:cuGetProcAddress_v2"]
    expect_same_results(plain, hooked, owner_keys)
    lines, base = hooked.lines, plain.lines

    assert one(lines, "dlsym:cuGetProcAddress_v2") == "libcuslice.so cuGetProcAddress_v2"
    assert one(base, "dlsym:cuGetProcAddress_v2") == "libcuda.so.1 cuGetProcAddress_v2"
    # The variant is always the driver's choice; the hook is that export's.
    expected_variant = {
        "cuLaunchKernel@4000/0": "cuLaunchKernel",
        "cuLaunchKernel@12000/1": "cuLaunchKernel",
        "cuLaunchKernel@12000/2": "cuLaunchKernel_ptsz",
        "cuLaunchKernel@4000/2": "cuLaunchKernel",
        "cuLaunchKernelEx@11060/0": "cuLaunchKernelEx",
        "cuLaunchKernelEx@12000/2": "cuLaunchKernelEx_ptsz",
        "cuGraphLaunch@10000/2": "cuGraphLaunch_ptsz",
        "cuMemAllocAsync@11020/2": "cuMemAllocAsync_ptsz",
        "cuMemFreeAsync@11020/0": "cuMemFreeAsync",
        "cuMemGetInfo@3020/0": "cuMemGetInfo_v2",
        "cuCtxSynchronize@2000/0": "cuCtxSynchronize",
        "cuCtxSynchronize@13000/0": "cuCtxSynchronize_v2",
        "cuGetProcAddress@11030/0": "cuGetProcAddress",
        "cuGetProcAddress@12000/0": "cuGetProcAddress_v2",
        "cuMemAlloc@3020/0": "cuMemAlloc_v2",   # looked up through the 12000 wrapper
        "gpa4:cuMemFree@3020/0": "cuMemFree_v2",  # through the 11030 wrapper
    }
    for key, sym in expected_variant.items():
        value = one(lines, key)
        assert value.split()[0] == "0", "%s failed: %s" % (key, value)
        assert sym_of(value) == sym, "%s gave %s, want %s" % (key, value, sym)
        assert lib_of(value) == "libcuslice.so", "%s not hooked: %s" % (key, value)
        assert lib_of(one(base, key)) == "libcuda.so.1"
    # Names we do not hook come back untouched.
    for key in ("cuInit@2000/0", "cuDeviceGet@2000/0", "cuCtxSetCurrent@4000/0"):
        assert lib_of(one(lines, key)) == "libcuda.so.1", "%s: %s" % (key, one(lines, key))
    # Not found: the driver's code and status, unchanged, and no pointer.
    for key in ("(empty)@0/0", "cuNoSuchFunction@12000/0", "cuMemAlloc_v2@12000/0",
                "cuLaunchKernel_ptsz@12000/2", "cuLaunchKernelEx@11000/0"):
        value = one(lines, key)
        assert value.split()[0] == str(CUDA_ERROR_NOT_FOUND), "%s: %s" % (key, value)
        assert value.endswith("none none"), "%s: %s" % (key, value)
    assert one(lines, "cuLaunchKernelEx@11000/0").split()[1] != \
        one(lines, "cuNoSuchFunction@12000/0").split()[1]  # too old vs unknown
    assert one(lines, "gpa4:cuNoSuchFunction@12000/0") == "%d none none" % CUDA_ERROR_NOT_FOUND
    assert one(lines, "cuMemAlloc@3020/0:nullpfn") != "0"
    assert one(lines, "cuMemAlloc@3020/256").split()[0] != "0"
    # Calls through the returned pointers.
    for key, values in lines.items():
        if key.startswith("call:"):
            assert all(v.split()[0] == "0" for v in values), "%s: %s" % (key, values)

    n_lookups = len([k for k in lookup_keys(lines) if not k.startswith("gpa4:")])
    want = {
        "cuLaunchKernel": LAUNCHES + 1,
        "cuLaunchKernel_ptsz": 2,
        "cuLaunchKernelEx": 1,
        "cuLaunchKernelEx_ptsz": 1,
        "cuMemGetInfo_v2": 1,
        "cuMemAlloc_v2": 1,
        "cuMemAllocAsync_ptsz": 1,
        "cuMemFree_v2": 1,
        "cuCtxSynchronize": 1,
        "cuCtxSynchronize_v2": 1,
        "cuGetProcAddress": 2,
        "cuGetProcAddress_v2": n_lookups,
    }
    expect_trace(hooked.trace(), want)
    expect_reached_driver(plain, hooked, want)


def test_route_c_errors_pass_through():
    fail = "cuLaunchKernel_ptsz:%d,cuMemAlloc_v2:%d,cuCtxSynchronize_v2:%d" % (
        CUDA_ERROR_LAUNCH_FAILED, CUDA_ERROR_OUT_OF_MEMORY, CUDA_ERROR_UNKNOWN)
    plain, hooked = run_both("route_c", [LAUNCHES], SIMCUDA_FAIL=fail)
    expect_same_results(plain, hooked, lookup_keys(plain.lines) + ["dlsym:cuGetProcAddress_v2"])
    lines = hooked.lines
    assert lines["call:cuLaunchKernel_ptsz"] == [str(CUDA_ERROR_LAUNCH_FAILED)] * 2
    assert one(lines, "call:cuLaunchKernel") == "0 x%d" % LAUNCHES
    assert one(lines, "call:cuMemAlloc_v2") == "%d null" % CUDA_ERROR_OUT_OF_MEMORY
    assert one(lines, "call:cuCtxSynchronize_v2") == str(CUDA_ERROR_UNKNOWN)
    assert hooked.trace()["cuLaunchKernel_ptsz"] == 2


def test_route_c_lookup_error_passes_through():
    # The driver's cuGetProcAddress_v2 itself fails: code, status and *pfn
    # are what the driver left (here: untouched).
    fail = "cuGetProcAddress_v2:%d" % CUDA_ERROR_OPERATING_SYSTEM
    plain, hooked = run_both("route_c", [LAUNCHES], check=False, SIMCUDA_FAIL=fail)
    assert plain.proc.returncode == hooked.proc.returncode == 1
    assert plain.stdout.replace("libcuda.so.1", "libcuslice.so") == hooked.stdout
    assert one(hooked.lines, "(empty)@0/0").startswith("%d 77 " % CUDA_ERROR_OPERATING_SYSTEM)
    assert one(hooked.lines, "cuInit@2000/0").startswith("%d " % CUDA_ERROR_OPERATING_SYSTEM)
    n_lookups = len(lookup_keys(hooked.lines))
    assert n_lookups == 5  # the empty name, then cuInit ... cuCtxSetCurrent
    assert hooked.trace()["cuGetProcAddress_v2"] == n_lookups
    assert hooked.sim_counts()["cuGetProcAddress_v2"] == n_lookups


# ---- route (b): dlsym of versioned names, as cuBLASLt and XLA ----

ROUTE_B_HOOKED = ["cuLaunchKernel", "cuLaunchKernel_ptsz", "cuMemAlloc_v2", "cuMemFree_v2",
                  "cuMemGetInfo_v2", "cuDeviceTotalMem_v2", "cuCtxSynchronize", "cuMemCreate",
                  "cuGetProcAddress", "cuGetProcAddress_v2"]
ROUTE_B_NVML_HOOKED = ["nvmlDeviceGetMemoryInfo", "nvmlDeviceGetMemoryInfo_v2"]


def test_route_b_dlsym():
    total = 8 << 30
    plain, hooked = run_both("route_b", [LAUNCHES], SIMCUDA_MEM_TOTAL="8G")
    owner_keys = [k for k in plain.lines if k.startswith("dlsym:") or k.startswith("gpa:")]
    expect_same_results(plain, hooked, owner_keys)
    lines, base = hooked.lines, plain.lines
    for name in ROUTE_B_HOOKED:
        assert one(lines, "dlsym:" + name) == "libcuslice.so " + name
        assert one(base, "dlsym:" + name) == "libcuda.so.1 " + name
    for name in ROUTE_B_NVML_HOOKED:
        assert one(lines, "dlsym:" + name) == "libcuslice.so " + name
        assert one(base, "dlsym:" + name) == "libnvidia-ml.so.1 " + name
    for name in ("cuInit", "cuDeviceGet", "cuDevicePrimaryCtxRetain", "cuCtxSetCurrent"):
        assert one(lines, "dlsym:" + name) == "libcuda.so.1 " + name
    for name in ("nvmlInit_v2", "nvmlDeviceGetHandleByIndex_v2"):
        assert one(lines, "dlsym:" + name) == "libnvidia-ml.so.1 " + name
    # Not in the driver: not found, hooked name or not, and a hooked name
    # looked up in another library is not found either.
    assert one(lines, "dlsym:cuNoSuchFunction") == "none none"
    assert one(lines, "dlsym:cuMemAlloc") == "none none"
    assert one(lines, "dlsym:libm:cuLaunchKernel") == "none"
    # The cuGetProcAddress_v2 found by dlsym answers with hooks.
    assert one(lines, "gpa:cuMemAlloc@3020/0") == "0 libcuslice.so cuMemAlloc_v2"
    # Results, NVML's included, are the driver's.
    assert one(lines, "cuMemGetInfo_v2") == "0 %d %d" % (total, total)
    assert one(lines, "cuDeviceTotalMem_v2") == "0 %d" % total
    assert one(lines, "nvmlDeviceGetMemoryInfo").split()[:2] == ["0", str(total)]
    assert one(lines, "nvmlDeviceGetMemoryInfo_v2").split()[:2] == ["0", str(total)]
    assert one(lines, "nvmlDeviceGetMemoryInfo:null") not in ("", "0")
    assert one(lines, "nvmlDeviceGetMemoryInfo_v2:badversion") not in ("", "0")
    for key in ("cuMemAlloc_v2", "cuLaunchKernel", "cuLaunchKernel_ptsz", "cuCtxSynchronize",
                "cuMemFree_v2"):
        assert one(lines, key).split()[0] == "0", "%s: %s" % (key, one(lines, key))
    want = {
        "cuLaunchKernel": LAUNCHES,
        "cuLaunchKernel_ptsz": 1,
        "cuMemAlloc_v2": 1,
        "cuMemFree_v2": 1,
        "cuMemGetInfo_v2": 1,
        "cuDeviceTotalMem_v2": 1,
        "cuCtxSynchronize": 1,
        "cuGetProcAddress_v2": 1,
        "nvmlDeviceGetMemoryInfo": 2,
        "nvmlDeviceGetMemoryInfo_v2": 2,
    }
    expect_trace(hooked.trace(), want)
    expect_reached_driver(plain, hooked, {k: v for k, v in want.items()
                                          if not k.startswith("nvml")})


def test_route_b_errors_pass_through():
    fail = "cuLaunchKernel:%d,cuMemAlloc_v2:%d" % (CUDA_ERROR_LAUNCH_FAILED,
                                                    CUDA_ERROR_OUT_OF_MEMORY)
    plain, hooked = run_both("route_b", [LAUNCHES], SIMCUDA_FAIL=fail)
    owner_keys = [k for k in plain.lines if k.startswith("dlsym:") or k.startswith("gpa:")]
    expect_same_results(plain, hooked, owner_keys)
    assert one(hooked.lines, "cuLaunchKernel") == "%d x%d" % (CUDA_ERROR_LAUNCH_FAILED,
                                                              LAUNCHES)
    assert one(hooked.lines, "cuMemAlloc_v2") == "%d null" % CUDA_ERROR_OUT_OF_MEMORY
    assert one(hooked.lines, "cuLaunchKernel_ptsz") == "0"
    assert hooked.trace()["cuLaunchKernel"] == LAUNCHES


# ---- processes and loading ----

def test_fork_child_has_its_own_trace():
    plain, hooked = run_both("route_fork")
    assert plain.sim and not plain.traces
    lines = hooked.lines
    for key in ("parent_start", "parent_before", "child_start", "child_launches",
                "child_alloc", "child_status", "parent_after"):
        assert one(lines, key) == "0", "%s: %s" % (key, one(lines, key))
    parent, child = int(one(lines, "parent_pid")), int(one(lines, "child_pid"))
    assert sorted(hooked.traces) == sorted([parent, child])
    # route_fork.c: PARENT_BEFORE + PARENT_AFTER = 3, CHILD_LAUNCHES = 7.
    expect_trace(hooked.traces[parent], {"cuLaunchKernel": 3, "cuCtxSynchronize": 2,
                                         "cuGetProcAddress_v2": 6})
    expect_trace(hooked.traces[child], {"cuLaunchKernel": 7, "cuCtxSynchronize": 1,
                                        "cuMemAlloc_v2": 1, "cuGetProcAddress_v2": 1})
    assert hooked.sim[child]["cuLaunchKernel"] == 7
    assert hooked.sim[parent]["cuLaunchKernel"] == 3


def test_call_from_another_librarys_constructor():
    plain, hooked = run_both("route_ctor")
    owner_keys = [k for k in plain.lines if k.startswith("ctor:dlsym:") or "@" in k]
    expect_same_results(plain, hooked, owner_keys)
    lines = hooked.lines
    assert hooked.stdout.splitlines()[-1] == "main ran"
    assert one(lines, "ctor:dlsym:cuGetProcAddress_v2") == "libcuslice.so cuGetProcAddress_v2"
    assert one(lines, "ctor:dlsym:cuMemAlloc_v2") == "libcuslice.so cuMemAlloc_v2"
    assert one(lines, "ctor:cuLaunchKernel@4000/0") == "0 libcuslice.so cuLaunchKernel"
    assert one(lines, "ctor:cuInit@2000/0") == "0 libcuda.so.1 cuInit"
    assert one(lines, "ctor:cuLaunchKernel") == "0 x4"
    assert one(lines, "ctor:cuMemAlloc_v2") == "0 ptr"
    expect_trace(hooked.trace(), {"cuLaunchKernel": 4, "cuMemAlloc_v2": 1,
                                  "cuGetProcAddress_v2": 5})
    expect_reached_driver(plain, hooked, {"cuLaunchKernel": 4, "cuMemAlloc_v2": 1})


def test_rtld_next_is_relative_to_the_caller():
    plain, hooked = run_both("route_next")
    lines = hooked.lines
    assert one(lines, "a:RTLD_NEXT") == "B", \
        "dlsym(RTLD_NEXT) from a library loaded after libcuslice found %s (want B): " \
        "was dlsym's tail call to glibc lost?" % one(lines, "a:RTLD_NEXT")
    assert one(lines, "main:RTLD_NEXT") == "A"
    assert one(lines, "a:RTLD_NEXT:getpid") == "libc"
    assert plain.stdout == hooked.stdout
    expect_trace(hooked.trace(), {})


# ---- what the user sees ----

def test_silent_by_default():
    for name in ("route_a", "route_b", "route_c", "route_fork", "route_ctor"):
        plain, hooked = run_both(name)
        assert hooked.stderr == "" and plain.stderr == "", \
            "%s wrote to stderr: %r" % (name, hooked.stderr)
        if name == "route_a":
            assert hooked.stdout == plain.stdout
    # A program that never touches CUDA is not changed at all, and nothing
    # is written anywhere when CUSLICE_TRACE is unset.
    sb = Sandbox("quiet")
    try:
        argv = [sys.executable, "-c", "import ctypes, os; print('hello', os.getpid() > 0)"]
        env = sb.env(True)
        p1 = subprocess.run(argv, env=env, capture_output=True, text=True, cwd=sb.root)
        p0 = subprocess.run(argv, env=sb.env(False), capture_output=True, text=True,
                            cwd=sb.root)
        assert p1.returncode == 0 and p1.stdout == p0.stdout == "hello True\n"
        assert p1.stderr == "" == p0.stderr
        p2 = subprocess.run([program("route_a")], env=env, capture_output=True, text=True,
                            cwd=sb.root)
        assert p2.returncode == 0 and p2.stderr == ""
        left = [f for f in os.listdir(sb.root) if f not in ("sim", "cuslice", "sim.log")]
        assert left == [], "files written without CUSLICE_TRACE: %s" % left
    finally:
        sb.cleanup()


def cuslice_lines(text):
    return [l for l in text.splitlines() if l.startswith("cuslice")]


def test_bad_value_gives_one_clear_message():
    plain, hooked = run_both("route_a", CUSLICE_WEIGHT="abc", CUSLICE_LOG="error")
    assert hooked.stdout == plain.stdout  # the program runs as usual
    msgs = cuslice_lines(hooked.stderr)
    assert len(msgs) == 1, "want one message, got %r" % hooked.stderr
    assert "CUSLICE_WEIGHT" in msgs[0] and "abc" in msgs[0] and "1..100" in msgs[0], msgs[0]
    assert hooked.stderr.strip() == msgs[0]
    # Two bad values, two messages.
    _, hooked = run_both("route_a", CUSLICE_WEIGHT="abc", CUSLICE_SLICE_MS="0",
                         CUSLICE_LOG="error")
    msgs = cuslice_lines(hooked.stderr)
    assert len(msgs) == 2 and "CUSLICE_SLICE_MS" in hooked.stderr, hooked.stderr
    # Without CUSLICE_LOG: nothing at all.
    plain, hooked = run_both("route_a", CUSLICE_WEIGHT="abc")
    assert hooked.stderr == "" and hooked.stdout == plain.stdout
    # With CUSLICE_LOG_FILE the message goes there, not to stderr.
    sb = Sandbox("logfile")
    try:
        log = sb.path("cuslice.log")
        p = sb.run([program("route_a")], CUSLICE_WEIGHT="abc", CUSLICE_LOG="error",
                   CUSLICE_LOG_FILE=log)
        assert p.stderr == ""
        with open(log) as f:
            text = f.read()
        assert len(cuslice_lines(text)) == 1 and "CUSLICE_WEIGHT" in text, text
    finally:
        sb.cleanup()


def test_missing_driver_does_not_crash():
    plain, hooked = run_both("route_nodriver", LD_LIBRARY_PATH="/nonexistent")
    assert one(plain.lines, "dlopen") == "failed"
    assert one(plain.lines, "dlsym:cuLaunchKernel") == "none none"
    lines = hooked.lines
    assert one(lines, "dlopen") == "failed"
    assert one(lines, "alive") == "yes"
    assert one(lines, "dlsym:cuLaunchKernel") == "libcuslice.so cuLaunchKernel"
    for key in ("cuLaunchKernel", "cuMemAlloc_v2", "cuGetProcAddress_v2",
                "nvmlDeviceGetMemoryInfo"):
        assert one(lines, key) not in ("", "0"), "%s: %s" % (key, one(lines, key))
    assert hooked.stderr == ""
    trace = hooked.trace()
    assert trace["cuLaunchKernel"] == 1 and trace["cuMemAlloc_v2"] == 1
    # Asked to, it says why.
    _, hooked = run_both("route_nodriver", LD_LIBRARY_PATH="/nonexistent",
                         CUSLICE_LOG="error")
    assert "libcuda.so.1" in hooked.stderr, hooked.stderr
    assert one(hooked.lines, "alive") == "yes"


if __name__ == "__main__":
    harness.main(globals())
