"""test_memory.py - memory caps against the simulated driver (issue 3).

Every allocation path stops at the cap, frees give it back, queries report
it, a group of processes shares one cap without ever overshooting, a killed
member's bytes come back at once, and bad input fails safe. Each test runs
memprobe (tests/integration/memory/memprobe.c), which reaches the driver as
cudart does, under LD_PRELOAD=libcuslice.so; control runs without the
library show that the simulated device alone would have allowed more.
"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402

MiB = 1 << 20
GiB = 1 << 30
CAP = GiB
CHUNK = 64 * MiB
OOM = 2  # CUDA_ERROR_OUT_OF_MEMORY

# Quiet and focused: no time slicing, no context reserve unless asked for.
BASE = dict(CUSLICE_RING="off", CUSLICE_CTX_RESERVE="0")


def probe():
    return harness.program("memprobe")


def parse(out):
    """memprobe's lines as {word: [numbers...]}; a word seen twice keeps a list
    of its occurrences under word + '#2', ..."""
    seen = {}
    for line in out.splitlines():
        parts = line.split()
        if not parts:
            continue
        key = parts[0]
        n = 2
        while key in seen:
            key = "%s#%d" % (parts[0], n)
            n += 1
        vals = []
        for p in parts[1:]:
            try:
                vals.append(int(p))
            except ValueError:
                vals.append(p)
        seen[key] = vals
    return seen


def fill(sb, path, chunk=CHUNK, preload=True, **env):
    merged = dict(BASE)
    merged.update(env)
    p = sb.run([probe(), "fill", path, str(chunk)], preload=preload, timeout=60, **merged)
    return parse(p.stdout), p


class Repl:
    """A memprobe repl process driven line by line."""

    def __init__(self, sb, **env):
        merged = dict(BASE)
        merged.update(env)
        self.p = subprocess.Popen([probe(), "repl"], env=sb.env(**merged),
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, bufsize=1)
        ready = self.p.stdout.readline().strip()
        assert ready == "ready", "memprobe repl said %r" % ready

    def cmd(self, line, lines=1):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        out = [self.p.stdout.readline().strip() for _ in range(lines)]
        if any(o.startswith("error") or o == "" for o in out):
            raise AssertionError("memprobe %r answered %r" % (line, out))
        return parse("\n".join(out))

    def alloc(self, nbytes, path="alloc"):
        return self.cmd("alloc %s %d" % (path, nbytes))["alloc"][0]

    def info(self):
        d = self.cmd("info", 2)
        return d["info"][1], d["info"][2], d["total"][1]  # free, total, device total

    def quit(self):
        try:
            self.p.stdin.write("quit\n")
            self.p.stdin.flush()
        except BrokenPipeError:
            pass
        out, err = self.p.communicate(timeout=30)
        return err

    def kill(self):
        self.p.kill()
        self.p.wait()


def sim_uuid(sb):
    r = Repl(sb)
    r.info()  # the first memory call joins the GPU's file
    uuid = r.cmd("uuid")["uuid"][0]
    r.quit()
    return uuid


def ledger_file(sb, uuid):
    return os.path.join(sb.cuslice_dir, "gpu-%s.shm" % uuid)


def ledger(sb, uuid):
    """The ledger_dump lines of the GPU's file: (members, groups)."""
    p = subprocess.run([harness.program("ledger_dump"), ledger_file(sb, uuid)],
                       capture_output=True, text=True, check=True)
    members, groups = [], {}
    for line in p.stdout.splitlines():
        parts = line.split()
        fields = dict(kv.split("=", 1) for kv in parts[2:])
        if parts[0] == "member":
            members.append(fields)
        elif parts[0] == "group":
            groups[parts[1]] = {k: int(v) for k, v in fields.items()}
    return members, groups


def sandbox(name):
    return harness.Sandbox(name)


# ---- one process, one path ----

def test_alloc_stops_at_cap_and_queries_report_it():
    sb = sandbox("cap")
    try:
        counts = sb.path("counts")
        out, _ = fill(sb, "alloc", CUSLICE_MEM_LIMIT="1G", SIMCUDA_COUNTS=counts)
        assert out["allocated"] == [CAP, OOM], out
        assert out["info"] == [0, 0, CAP], out          # full: free 0 of 1G
        assert out["total"] == [0, CAP], out            # cuDeviceTotalMem_v2
        assert out["info#2"] == [0, CAP, CAP], out      # all freed
        assert out["again"] == [CAP, OOM], out
        stat = sb.sim_stat()
        assert stat["peak"] <= CAP and stat["used"] == 0, stat
        # The refusals never reached the driver: 16 + 16 successful calls.
        calls = harness.read_trace(counts)
        assert calls.get("cuMemAlloc_v2") == 2 * (CAP // CHUNK), calls
    finally:
        sb.cleanup()


def test_without_the_library_the_device_gives_more():
    sb = sandbox("control")
    try:
        out, _ = fill(sb, "alloc", chunk=GiB, preload=False, CUSLICE_MEM_LIMIT="1G")
        assert out["allocated"][0] == 16 * GiB, out
        assert out["info#2"][2] == 16 * GiB, out
    finally:
        sb.cleanup()


# Bytes the simulated driver takes for one memprobe chunk on each path
# (pitch: width 1000 is padded to 1024, which is what memprobe's chunk
# assumes; mipmaps: three levels of 1, 1/4 and 1/16 of the chunk).
PATHS = {
    "pitch": CHUNK,
    "managed": CHUNK,
    "async": CHUNK,
    "async_ptsz": CHUNK,
    "pool": CHUNK,
    "create": CHUNK,
    "array": CHUNK,
    "array3d": CHUNK,
    "mipmap": CHUNK + CHUNK // 4 + CHUNK // 16,
}


def test_every_path_stops_at_cap_and_frees_give_back():
    failures = []
    for path, real in sorted(PATHS.items()):
        sb = sandbox("path-" + path)
        try:
            out, _ = fill(sb, path, CUSLICE_MEM_LIMIT="1G")
            n = CAP // real
            stat = sb.sim_stat()
            if out["allocated"] != [n * CHUNK, OOM]:
                failures.append("%s: allocated %s, want %d chunks" % (path, out["allocated"], n))
            if out["again"] != out["allocated"]:
                failures.append("%s: after freeing got %s, first %s"
                                % (path, out["again"], out["allocated"]))
            if out["info"][2] != CAP or out["info#2"][1] != CAP:
                failures.append("%s: cuMemGetInfo %s / %s" % (path, out["info"], out["info#2"]))
            if not (stat["peak"] <= CAP and stat["peak"] > CAP - real and stat["used"] == 0):
                failures.append("%s: simulated device %s" % (path, stat))
        finally:
            sb.cleanup()
    assert not failures, "\n".join(failures)


def test_managed_can_be_excluded():
    sb = sandbox("managed-exclude")
    try:
        out, _ = fill(sb, "managed", chunk=GiB, CUSLICE_MEM_LIMIT="1G",
                      CUSLICE_MANAGED="exclude")
        assert out["allocated"][0] == 16 * GiB, out
    finally:
        sb.cleanup()


def test_context_reserve_counts_against_the_cap():
    sb = sandbox("reserve")
    try:
        env = dict(CUSLICE_MEM_LIMIT="1G", CUSLICE_CTX_RESERVE="256M",
                   SIMCUDA_CTX_OVERHEAD="256M")
        for _ in range(2):  # the reserve is given back when the process leaves
            out, _ = fill(sb, "alloc", **env)
            assert out["allocated"] == [CAP - 256 * MiB, OOM], out
            assert out["info#2"][1:] == [CAP - 256 * MiB, CAP], out
        assert sb.sim_stat()["peak"] <= CAP
    finally:
        sb.cleanup()


def test_reserve_that_cannot_fit_refuses_only_its_member():
    """Issue 14 (3): one member's context reserve was charged whether or not
    it fit, so the whole group was refused. Now it is refused alone, told
    who holds the bytes, and gets in once they are freed."""
    sb = sandbox("reserve-fit")
    try:
        env = dict(CUSLICE_MEM_LIMIT="1G", CUSLICE_GROUP="pod")
        holder = Repl(sb, **env)
        assert holder.alloc(768 * MiB) == 0
        late = Repl(sb, CUSLICE_CTX_RESERVE="512M", CUSLICE_LOG="error", **env)
        assert late.alloc(MiB) == OOM            # its reserve does not fit: it is refused
        assert holder.alloc(128 * MiB) == 0      # and the group is not blocked
        members, groups = ledger(sb, sim_uuid(sb))
        assert groups["pod"]["used"] == 896 * MiB, groups  # the reserve was not charged
        holder.cmd("freeall")
        assert late.alloc(MiB) == 0              # room now: reserve and allocation fit
        members, groups = ledger(sb, sim_uuid(sb))
        assert groups["pod"]["used"] == 513 * MiB, groups
        holder.quit()
        err = late.quit()
        want = ("CUSLICE_CTX_RESERVE=512M on GPU-")
        assert want in err and "group 'pod' holds 768M of its 1G cap" in err, err
        assert "most of it, 768M, by pid %d" % holder.p.pid in err, err
        assert err.count("CUSLICE_CTX_RESERVE") == 1, err  # said once, not per retry
    finally:
        sb.cleanup()


def test_reserve_larger_than_the_card_is_refused():
    """Issue 14 (3): CUSLICE_CTX_RESERVE=4T was accepted silently and showed a
    4 GiB group 4 TiB used. It is now refused against the card."""
    sb = sandbox("reserve-card")
    try:
        env = dict(CUSLICE_MEM_LIMIT="4G", CUSLICE_GROUP="pod")
        other = Repl(sb, **env)
        big = Repl(sb, CUSLICE_CTX_RESERVE="4T", CUSLICE_LOG="error",
                   SIMCUDA_CTX_OVERHEAD="0", **env)
        assert big.alloc(MiB) == 0
        assert other.alloc(GiB) == 0
        members, groups = ledger(sb, sim_uuid(sb))
        assert groups["pod"]["used"] == 704 * MiB + MiB + GiB, groups  # the default reserve
        other.quit()
        err = big.quit()
        assert "CUSLICE_CTX_RESERVE=4T is larger than the card" in err, err
        assert "using 704M" in err, err
    finally:
        sb.cleanup()


# ---- memory no allocation hook sees (issue 14, finding 7) ----

class GraphProbe:
    """A graphprobe process (graph memory, context ends) driven line by line."""

    def __init__(self, sb, **env):
        merged = dict(BASE)
        merged.update(env)
        self.p = subprocess.Popen([harness.program("graphprobe")], env=sb.env(**merged),
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, bufsize=1)
        assert self.p.stdout.readline().strip() == "ready"

    def cmd(self, line, lines=1):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        out = [self.p.stdout.readline().split() for _ in range(lines)]
        return [[int(w) for w in o[1:]] for o in out] if lines > 1 else [int(w) for w in out[0][1:]]

    def quit(self):
        self.p.stdin.write("quit\n")
        self.p.stdin.flush()
        return self.p.communicate(timeout=30)[1]


def group_used(sb, uuid, group="pod"):
    """The group's usage; 0 when none of its members has joined the GPU yet."""
    return ledger(sb, uuid)[1].get(group, {"used": 0})["used"]


def test_graph_memory_nodes_are_charged():
    """A graph's memory nodes are allocated when it runs, from the driver's
    graph pool: charged from what the driver says the pool holds."""
    sb = sandbox("graphmem")
    try:
        env = dict(CUSLICE_MEM_LIMIT="1G", CUSLICE_GROUP="pod")
        g = GraphProbe(sb, **env)
        other = Repl(sb, **env)
        uuid = sim_uuid(sb)
        assert g.cmd("node %d 0" % (512 * MiB))[0] == 0  # allocated and freed in the graph
        assert group_used(sb, uuid) == 512 * MiB  # the pool keeps it
        assert other.alloc(600 * MiB) == OOM      # so the group has only 512M left
        assert other.alloc(512 * MiB) == 0
        assert sb.sim_stat()["used"] == 1024 * MiB
        other.cmd("freeall")
        assert g.cmd("trim") == [0]
        assert group_used(sb, uuid) == 0
        rc, dptr = g.cmd("node %d 1" % (256 * MiB))  # kept past the launch
        assert rc == 0 and group_used(sb, uuid) == 256 * MiB
        assert g.cmd("free %d" % dptr) == [0]      # back to the pool, still held
        assert g.cmd("trim") == [0] and group_used(sb, uuid) == 0
        other.quit()
        g.quit()
    finally:
        sb.cleanup()


def test_captured_stream_ordered_allocation_is_graph_memory():
    """cuMemAllocAsync into a capturing stream allocates nothing then (it was
    charged at capture, and never at each launch): it is charged when the
    graph runs."""
    sb = sandbox("graphcap")
    try:
        env = dict(CUSLICE_MEM_LIMIT="1G", CUSLICE_GROUP="pod")
        g = GraphProbe(sb, **env)
        uuid = sim_uuid(sb)
        rc, dptr = g.cmd("capture %d" % (300 * MiB))
        assert rc == 0 and dptr != 0
        assert group_used(sb, uuid) == 0           # a node: nothing allocated yet
        assert g.cmd("launch") == [0]
        assert group_used(sb, uuid) == 300 * MiB   # allocated by the launch
        assert g.cmd("launch") == [1]              # not freed yet: the driver refuses
        assert g.cmd("free %d" % dptr) == [0]
        assert group_used(sb, uuid) == 300 * MiB   # the graph pool keeps it
        assert g.cmd("launch") == [0]              # and lends it again
        assert group_used(sb, uuid) == 300 * MiB
        assert g.cmd("free %d" % dptr) == [0]
        assert g.cmd("trim") == [0] and group_used(sb, uuid) == 0
        g.quit()
    finally:
        sb.cleanup()


def test_context_destroy_and_reset_give_back():
    """cuCtxDestroy and cuDevicePrimaryCtxReset free what was allocated in the
    context: it is given back (it stayed charged until the process left)."""
    sb = sandbox("ctxend")
    try:
        env = dict(CUSLICE_MEM_LIMIT="1G", CUSLICE_GROUP="pod")
        g = GraphProbe(sb, **env)
        uuid = sim_uuid(sb)
        assert g.cmd("ctx %d" % (700 * MiB)) == [0]
        assert group_used(sb, uuid) == 0
        assert g.cmd("alloc %d" % (700 * MiB)) == [0]  # room again
        assert group_used(sb, uuid) == 700 * MiB
        assert g.cmd("node %d 0" % (200 * MiB))[0] == 0
        assert group_used(sb, uuid) == 900 * MiB
        assert g.cmd("reset") == [0]                   # frees both
        assert group_used(sb, uuid) == 0
        assert g.cmd("alloc %d" % (900 * MiB)) == [0]
        g.quit()
        assert sb.sim_stat()["used"] == 0
    finally:
        sb.cleanup()


# ---- many processes, one group ----

def test_group_of_8x4_never_exceeds_cap_and_returns_to_zero():
    sb = sandbox("stress")
    try:
        env = dict(BASE, CUSLICE_MEM_LIMIT="1G", CUSLICE_GROUP="crowd")
        procs = [subprocess.Popen([probe(), "stress", "4", "150", str(128 * MiB), str(i)],
                                  env=sb.env(**env), stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for i in range(8)]
        for p in procs:
            assert p.stdout.readline().strip() == "ready", p.stderr.read()
        for p in procs:  # all start together
            p.stdin.write("go\n")
            p.stdin.flush()
        ok = refused = 0
        for p in procs:
            line = p.stdout.readline().split()
            assert line and line[0] == "done", (line, p.stderr.read() if p.poll() else "")
            ok += int(line[1])
            refused += int(line[2])
        # Everyone has freed everything but is still a member.
        members, groups = ledger(sb, sim_uuid(sb))
        crowd = [m for m in members if m["group"] == "crowd"]
        assert len(crowd) == 8, members
        assert all(int(m["charged"]) == 0 for m in crowd), crowd
        assert groups["crowd"]["used"] == 0 and groups["crowd"]["cap"] == CAP, groups
        assert sum(int(m["refusals"]) for m in crowd) == refused
        for p in procs:
            out, _ = p.communicate("go\n", timeout=30)
            info = parse(out)["info"]
            assert info == [0, CAP, CAP], out  # free = total = cap: usage 0
        stat = sb.sim_stat()
        assert stat["peak"] <= CAP, stat
        assert stat["used"] == 0, stat
        assert refused > 0 and ok > 100, (ok, refused)  # the cap was really contended
        assert stat["peak"] > CAP - 128 * MiB, stat
    finally:
        sb.cleanup()


def test_killed_member_bytes_come_back_within_a_second():
    sb = sandbox("sigkill")
    try:
        env = dict(CUSLICE_MEM_LIMIT="1G", CUSLICE_GROUP="pod")
        holder = Repl(sb, **env)
        taker = Repl(sb, **env)
        assert holder.alloc(900 * MiB) == 0
        assert taker.alloc(900 * MiB) == OOM  # the group is full
        holder.p.send_signal(signal.SIGKILL)
        holder.p.wait()
        # The real driver frees a dead process's memory as it dies; the
        # simulated one when asked: let it, so that its peak means the group.
        subprocess.run([harness.SIM_STAT, "--dir", sb.sim_dir, "--reset"], check=True,
                       capture_output=True)
        t0 = time.monotonic()
        got = taker.cmd("grab %d 1000" % (900 * MiB))["grab"]
        elapsed = time.monotonic() - t0
        # The invariant: the dead member's bytes came back and the grab got
        # them. How fast is a figure; 10 s is only a hang detector (ten times
        # the grab's own 1-second retry budget, for a loaded machine).
        assert got[0] == 0, got
        assert elapsed < 10.0, elapsed
        harness.figure("memory.kill.bytes_back_after", elapsed, "s", "< 1.0 s", elapsed < 1.0)
        free, total, _ = taker.info()
        assert (free, total) == (CAP - 900 * MiB, CAP)
        taker.quit()
        assert sb.sim_stat()["peak"] <= CAP
    finally:
        sb.cleanup()


def test_group_disagreement_smallest_cap_wins():
    sb = sandbox("disagree")
    try:
        big = Repl(sb, CUSLICE_MEM_LIMIT="2G", CUSLICE_GROUP="pod", CUSLICE_LOG="warn")
        assert big.alloc(512 * MiB) == 0
        assert big.info()[1] == 2 * GiB
        small = Repl(sb, CUSLICE_MEM_LIMIT="1G", CUSLICE_GROUP="pod", CUSLICE_LOG="warn")
        assert small.info()[:2] == (512 * MiB, GiB)
        assert small.cmd("fill alloc %d" % CHUNK)["allocated"] == [512 * MiB, OOM]
        assert big.info()[:2] == (0, GiB)       # the 2G member is held to 1G too
        assert big.alloc(CHUNK) == OOM
        errs = small.quit()
        assert "different memory caps" in errs, errs
        assert big.info()[1] == 2 * GiB         # the 1G member left
        assert big.alloc(GiB) == 0
        errs = big.quit()
        assert errs.count("different memory caps") == 1, errs  # said once
        assert sb.sim_stat()["peak"] <= 2 * GiB
    finally:
        sb.cleanup()


def test_groups_do_not_share_with_strangers():
    sb = sandbox("groups")
    try:
        a = Repl(sb, CUSLICE_MEM_LIMIT="1G", CUSLICE_GROUP="a")
        b = Repl(sb, CUSLICE_MEM_LIMIT="1G", CUSLICE_GROUP="b")
        alone = Repl(sb, CUSLICE_MEM_LIMIT="1G")
        for r in (a, b, alone):
            assert r.cmd("fill alloc %d" % CHUNK)["allocated"] == [CAP, OOM]
        for r in (a, b, alone):
            r.quit()
        assert sb.sim_stat()["peak"] == 3 * CAP
    finally:
        sb.cleanup()


def test_unknown_pointer_is_forwarded_and_fork_keeps_charges():
    sb = sandbox("unknown")
    try:
        counts = sb.path("counts")
        r = Repl(sb, CUSLICE_MEM_LIMIT="1G", SIMCUDA_COUNTS=counts)
        assert r.alloc(256 * MiB) == 0
        assert r.cmd("freeptr 0x1234")["freeptr"][0] != 0  # the driver's answer
        assert r.info()[:2] == (CAP - 256 * MiB, CAP)      # nothing given back
        assert r.cmd("fork")["fork"] == [0]                # a child came and went
        assert r.info()[:2] == (CAP - 256 * MiB, CAP)      # the parent's charge stays
        r.cmd("freeall")
        assert r.info()[:2] == (CAP, CAP)
        r.quit()
        assert harness.read_trace(counts)["cuMemFree_v2"] == 2
    finally:
        sb.cleanup()


# ---- NVML ----

def test_nvml_reports_the_cap():
    sb = sandbox("nvml")
    try:
        def nvml(**env):
            merged = dict(BASE)
            merged.update(env)
            return parse(sb.run([probe(), "nvml"], **merged).stdout)

        plain = nvml()
        assert plain["nvml"][1] == 16 * GiB, plain            # no cap: untouched
        assert nvml(preload=False, CUSLICE_MEM_LIMIT="1G")["nvml"][1] == 16 * GiB
        alone = nvml(CUSLICE_MEM_LIMIT="1G")
        assert alone["nvml"] == [0, GiB, 0, GiB], alone
        assert alone["nvml2"] == [0, GiB, 0, GiB], alone
        uuid = sim_uuid(sb)
        by_uuid = nvml(CUSLICE_MEM_LIMIT="%s=512M" % uuid)
        assert by_uuid["nvml"][1] == 512 * MiB, by_uuid
        # A group member holds 256M; a monitor of the group (no context) sees it.
        holder = Repl(sb, CUSLICE_MEM_LIMIT="1G", CUSLICE_GROUP="pod")
        assert holder.alloc(256 * MiB) == 0
        seen = nvml(CUSLICE_MEM_LIMIT="1G", CUSLICE_GROUP="pod")
        assert seen["nvml"] == [0, GiB, 256 * MiB, 768 * MiB], seen
        assert seen["nvml2"] == [0, GiB, 256 * MiB, 768 * MiB], seen
        inside = holder.cmd("nvml", 2)
        assert inside["nvml"] == [0, GiB, 256 * MiB, 768 * MiB], inside
        # No cap of its own, but in the group: bound by the group's cap.
        assert nvml(CUSLICE_GROUP="pod")["nvml"][1] == GiB
        holder.quit()
    finally:
        sb.cleanup()


# ---- bad input ----

def corrupt_and_fill(sb, uuid, why):
    """Runs a capped fill against a damaged file; the file must stay as it was."""
    path = ledger_file(sb, uuid)
    before = open(path, "rb").read() if os.path.exists(path) else None
    out, p = fill(sb, "alloc", CUSLICE_MEM_LIMIT="1G", CUSLICE_LOG="error")
    assert out["allocated"] == [CAP, OOM], (why, out)   # still capped, per process
    assert out["info"][2] == CAP, (why, out)
    errors = [l for l in p.stderr.splitlines() if "error" in l and "shared file" in l]
    assert len(errors) == 1, (why, p.stderr)
    if before is not None:
        assert open(path, "rb").read() == before, why    # never modified
    return errors[0]


def make_valid_file(sb):
    uuid = sim_uuid(sb)
    assert os.path.exists(ledger_file(sb, uuid))
    return uuid, open(ledger_file(sb, uuid), "rb").read()


def test_bad_ledger_files_fail_safe():
    sb = sandbox("badfile")
    try:
        uuid, valid = make_valid_file(sb)
        path = ledger_file(sb, uuid)
        cases = {
            "garbage": os.urandom(len(valid)),
            "truncated": valid[:4096],
            "tiny": valid[:10],
            "wrong-abi": valid[:8] + (99).to_bytes(4, "little") + valid[12:],
            "foreign": valid[:40] + b"GPU-0000" + valid[48:],
        }
        words = {"garbage": "not a cuslice file", "truncated": "size",
                 "tiny": "truncated", "wrong-abi": "ABI", "foreign": "belongs to GPU"}
        for why, data in sorted(cases.items()):
            with open(path, "wb") as f:
                f.write(data)
            msg = corrupt_and_fill(sb, uuid, why)
            assert words[why] in msg, (why, msg)
    finally:
        sb.cleanup()


def test_unwritable_folder_fails_safe():
    sb = sandbox("nodir")
    try:
        blocker = sb.path("a-file")
        open(blocker, "w").close()
        out, p = fill(sb, "alloc", CUSLICE_MEM_LIMIT="1G", CUSLICE_LOG="error",
                      CUSLICE_DIR=os.path.join(blocker, "cuslice"))
        assert out["allocated"] == [CAP, OOM], out
        assert out["info"][2] == CAP, out
        errors = [l for l in p.stderr.splitlines() if "shared file" in l]
        assert len(errors) == 1 and "cannot be created" in errors[0], p.stderr
    finally:
        sb.cleanup()


def test_cap_larger_than_card_is_clamped():
    sb = sandbox("bigcap")
    try:
        out, p = fill(sb, "alloc", chunk=GiB, CUSLICE_MEM_LIMIT="64G", CUSLICE_LOG="warn")
        assert out["allocated"] == [16 * GiB, OOM], out
        assert out["info#2"][1:] == [16 * GiB, 16 * GiB], out
        assert out["total"][1] == 16 * GiB, out
        assert "larger than the card" in p.stderr, p.stderr
    finally:
        sb.cleanup()


def test_zero_or_unparseable_cap_fails_closed():
    for value in ("0", "lots", "4Q", ""):
        sb = sandbox("zerocap")
        try:
            counts = sb.path("counts")
            out, p = fill(sb, "alloc", CUSLICE_MEM_LIMIT=value, CUSLICE_LOG="error",
                          SIMCUDA_COUNTS=counts)
            assert out["allocated"] == [0, OOM], (value, out)
            assert out["info"] == [0, 0, 0], (value, out)
            assert out["total"] == [0, 0], (value, out)
            assert "CUSLICE_MEM_LIMIT" in p.stderr, (value, p.stderr)
            calls = harness.read_trace(counts) if os.path.exists(counts) else {}
            assert "cuMemAlloc_v2" not in calls, (value, calls)
        finally:
            sb.cleanup()


if __name__ == "__main__":
    harness.main(globals())
