"""test_cli.py - the `cuslice` command (issue 5) against live members.

Members are real `spin` processes started through `cuslice run` under the
simulated driver; `cuslice status --json`, `metrics`, `top` (in tmux) and
`doctor` then read their per-GPU file. The Prometheus output is checked by a
strict line-by-line parser of the text exposition format written here.
"""
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402

CUSLICE = harness.program("cuslice")
SPIN = harness.program("spin")
MiB = 1 << 20
GiB = 1 << 30


class Members:
    """Processes started through `cuslice run`, killed at the end."""

    def __init__(self, box):
        self.box = box
        self.procs = []

    def start(self, options, spin_args, **env):
        p = self.box.spawn([CUSLICE, "run"] + options + ["--", SPIN] + spin_args,
                           preload=False, **env)
        self.procs.append(p)
        return p

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.communicate()


def cli(box, *args, check=True, **env):
    return box.run([CUSLICE] + list(args), preload=False, check=check, timeout=60, **env)


def status(box):
    p = cli(box, "status", "--json")
    return json.loads(p.stdout)


def members_by_pid(doc):
    out = {}
    for gpu in doc["gpus"]:
        for m in gpu["members"]:
            out[m["pid"]] = m
    return out


def wait_members(box, pids, timeout=15):
    """Waits until every pid is a live member; returns the last status."""
    doc = {}

    def ready():
        nonlocal doc
        doc = status(box)
        live = {p for p, m in members_by_pid(doc).items() if m["alive"]}
        return set(pids) <= live
    assert harness.wait_for(ready, timeout=timeout, step=0.1), doc
    return doc


# ---- a strict parser of the Prometheus text exposition format 0.0.4 ----

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
VALUE = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$|^[-+]?Inf$|^NaN$")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


def parse_labels(text, pos, where):
    """Parses '{a="x",b="y"}' from text[pos] == '{'; returns (labels, next pos)."""
    labels = {}
    assert text[pos] == "{", where
    pos += 1
    while text[pos] != "}":
        m = LABEL.match(text, pos)
        assert m, "bad label name: " + where
        name = m.group(0)
        pos = m.end()
        assert text[pos:pos + 2] == '="', "label without =\": " + where
        pos += 2
        value = []
        while text[pos] != '"':
            if text[pos] == "\\":
                esc = text[pos + 1]
                assert esc in '\\"n', "bad escape: " + where
                value.append("\n" if esc == "n" else esc)
                pos += 2
            else:
                assert text[pos] != "\n", where
                value.append(text[pos])
                pos += 1
        pos += 1
        assert name not in labels, "label twice: " + where
        labels[name] = "".join(value)
        if text[pos] == ",":
            pos += 1
            assert text[pos] != "}", "trailing comma: " + where
        else:
            assert text[pos] == "}", "label list: " + where
    return labels, pos + 1


def parse_exposition(text):
    """Returns {family: {"type", "help", "samples": [(name, labels, value)]}}."""
    assert text.endswith("\n"), "must end with a newline"
    families = {}
    current = None
    series = set()
    for n, line in enumerate(text[:-1].split("\n"), 1):
        where = "line %d: %r" % (n, line)
        assert line and line == line.rstrip(), "empty or trailing space: " + where
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            assert NAME.fullmatch(name) and help_text, where
            assert name not in families, "family twice: " + where
            families[name] = {"type": None, "help": help_text, "samples": []}
            current = name
        elif line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            assert name == current, "TYPE of another family than its HELP: " + where
            assert families[name]["type"] is None and kind in TYPES, where
            assert not families[name]["samples"], "TYPE after samples: " + where
            families[name]["type"] = kind
        elif line.startswith("#"):
            continue
        else:
            m = NAME.match(line)
            assert m, "bad metric name: " + where
            name = m.group(0)
            pos = m.end()
            labels = {}
            if line[pos] == "{":
                labels, pos = parse_labels(line, pos, where)
            assert line[pos] == " ", where
            fields = line[pos + 1:].split(" ")
            assert len(fields) in (1, 2) and VALUE.match(fields[0]), "bad value: " + where
            value = float(fields[0])
            assert current is not None and families[current]["type"], "no TYPE: " + where
            kind = families[current]["type"]
            base = name
            if kind == "histogram":
                for suffix in ("_bucket", "_sum", "_count"):
                    if name.endswith(suffix):
                        base = name[:-len(suffix)]
                assert base != name, "histogram sample without suffix: " + where
                assert (name.endswith("_bucket")) == ("le" in labels), where
            assert base == current, "sample outside its family: " + where
            if kind == "counter":
                assert name.endswith("_total"), "counter without _total: " + where
                assert value >= 0 and not math.isnan(value), where
            key = (name, tuple(sorted(labels.items())))
            assert key not in series, "series twice: " + where
            series.add(key)
            families[current]["samples"].append((name, labels, value))
    for name, fam in families.items():
        assert fam["type"], "family without TYPE: " + name
        if fam["type"] == "histogram":
            check_histogram(name, fam["samples"])
    return families


def check_histogram(name, samples):
    groups = {}
    for sname, labels, value in samples:
        key = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        groups.setdefault(key, {"buckets": [], "sum": None, "count": None})
        g = groups[key]
        if sname.endswith("_bucket"):
            g["buckets"].append((float(labels["le"]), value))
        elif sname.endswith("_sum"):
            g["sum"] = value
        else:
            g["count"] = value
    for key, g in groups.items():
        les = [le for le, _ in g["buckets"]]
        assert les == sorted(les) and les[-1] == math.inf, (name, key, les)
        counts = [c for _, c in g["buckets"]]
        assert counts == sorted(counts), ("buckets not cumulative", name, key, counts)
        assert g["count"] == counts[-1] and g["sum"] is not None, (name, key)


def values(families, kind=None):
    """{(sample name, labels): value} of every family (of one type)."""
    out = {}
    for fam in families.values():
        if kind is None or fam["type"] == kind:
            for name, labels, value in fam["samples"]:
                out[(name, tuple(sorted(labels.items())))] = value
    return out


def test_parser_rejects_what_it_should():
    good = "# HELP a_total x\n# TYPE a_total counter\na_total{l=\"v\"} 1\n"
    parse_exposition(good)
    bad = [
        "a_total 1\n",                                            # no HELP/TYPE
        "# HELP a x\n# TYPE a counter\na 1\n",                    # counter without _total
        "# HELP a x\n# TYPE a gauge\na{l=\"v\",} 1\n",            # trailing comma
        "# HELP a x\n# TYPE a gauge\na{l=\"v\"} one\n",           # bad value
        "# HELP a x\n# TYPE a gauge\nb 1\n",                      # outside its family
        "# HELP a x\n# TYPE a gauge\na 1\na 2\n",                 # series twice
        "# HELP a x\n# TYPE a gauge\na 1",                        # no final newline
    ]
    for text in bad:
        try:
            parse_exposition(text)
        except AssertionError:
            continue
        raise AssertionError("accepted: %r" % text)


# ---- run ----

def test_run_applies_cap_weight_priority_group_and_slice():
    box = harness.Sandbox("cli-run")
    ms = Members(box)
    try:
        p = ms.start(["--mem", "1536M", "--group", "g1", "--weight", "7",
                      "--priority", "high", "--slice-ms", "5"], ["--idle", "--seconds", "30"])
        doc = wait_members(box, [p.pid])  # same pid: cuslice exec'd the command
        m = members_by_pid(doc)[p.pid]
        assert m["memory"]["declared_cap_bytes"] == 1536 * MiB, m
        assert m["memory"]["cap_bytes"] == 1536 * MiB, m
        assert m["weight"] == 7 and m["priority"] == "high" and m["group"] == "g1", m
        assert m["state"] == "idle" and m["memory"]["used_bytes"] > 0, m
        assert doc["gpus"][0]["ring"]["slice_ms"] == 5, doc["gpus"][0]["ring"]
        assert m["note"] == "", m
        # A variable cuslice run does not own passes through; the library's
        # complaint about it is published in the slot and shown.
        q = ms.start([], ["--idle", "--seconds", "30"], CUSLICE_CTX_RESERVE="lots")
        m = members_by_pid(wait_members(box, [q.pid]))[q.pid]
        assert "CUSLICE_CTX_RESERVE" in m["note"], m
        assert "says: " in cli(box, "status").stdout
    finally:
        ms.stop()
        box.cleanup()


def test_run_cap_is_enforced():
    """The context reserve (512M) alone passes a 256M cap: spin's first
    allocation is refused; with 1G it fits."""
    box = harness.Sandbox("cli-cap")
    try:
        small = cli(box, "run", "--mem", "256M", "--", SPIN, "--idle", "--seconds", "0",
                    check=False)
        assert small.returncode == 1 and "cuMemAlloc failed (CUresult 2)" in small.stderr, small
        big = cli(box, "run", "--mem", "1G", "--", SPIN, "--idle", "--seconds", "0")
        assert "idle" in big.stdout
    finally:
        box.cleanup()


def test_run_trace_relative_to_cwd():
    box = harness.Sandbox("cli-trace")
    try:
        os.makedirs(box.path("traces"))
        p = subprocess.run([CUSLICE, "run", "--trace", "traces/t.%p", "--", SPIN,
                            "--seconds", "0.3", "--work", "100"],
                           env=box.env(preload=False), cwd=box.root, capture_output=True,
                           text=True, timeout=60)
        assert p.returncode == 0, p
        pid = int(re.search(r"pid=(\d+)", p.stdout).group(1))
        kernels = int(re.search(r"kernels=(\d+)", p.stdout).group(1))
        # The library wrote the trace at exit, under the folder cuslice ran in.
        counts = harness.read_trace(box.path("traces/t.%d" % pid))
        assert counts["cuLaunchKernel"] == kernels > 0, (counts.get("cuLaunchKernel"), kernels)
    finally:
        box.cleanup()


def test_run_trace_path_is_made_absolute():
    box = harness.Sandbox("cli-trace2")
    try:
        p = subprocess.run([CUSLICE, "run", "--trace", "t.%p", "--", "sh", "-c",
                            "echo $CUSLICE_TRACE"], env=box.env(preload=False), cwd=box.root,
                           capture_output=True, text=True, timeout=60)
        assert p.stdout.strip() == os.path.join(os.path.realpath(box.root), "t.%p"), p.stdout
    finally:
        box.cleanup()


def test_run_environment_and_preload_list():
    box = harness.Sandbox("cli-env")
    try:
        lib = os.path.realpath(os.path.join(os.path.dirname(CUSLICE), "..", "hooks",
                                            "libcuslice.so"))
        p = cli(box, "run", "--group", "g", "--weight", "3", "--slice-ms", "7", "--priority",
                "low", "--mem", "0=2G", "--dir", box.path("d"), "--", "sh", "-c",
                "echo $LD_PRELOAD; echo $CUSLICE_GROUP $CUSLICE_WEIGHT $CUSLICE_SLICE_MS "
                "$CUSLICE_PRIORITY $CUSLICE_MEM_LIMIT $CUSLICE_DIR",
                LD_PRELOAD="/x/libcuslice.so " + box.path("none.so") + ":" + box.path("n2.so"))
        lines = p.stdout.splitlines()
        assert lines[0] == "%s:%s:%s" % (lib, box.path("none.so"), box.path("n2.so")), lines
        assert lines[1] == "g 3 7 low 0=2G " + box.path("d"), lines
        # Twice through cuslice: the library is not listed twice.
        p = cli(box, "run", "--", CUSLICE, "run", "--", "sh", "-c", "echo $LD_PRELOAD")
        assert p.stdout.strip() == lib, p.stdout
    finally:
        box.cleanup()


def test_run_finds_the_library_of_an_installed_layout():
    """bin/cuslice finds <prefix>/lib/libcuslice.so, not the build tree's."""
    box = harness.Sandbox("cli-install")
    try:
        lib = os.path.join(os.path.dirname(CUSLICE), "..", "hooks", "libcuslice.so")
        for sub in ("bin", "lib"):
            os.makedirs(box.path("prefix/" + sub))
        shutil.copy(CUSLICE, box.path("prefix/bin/cuslice"))
        shutil.copy(lib, box.path("prefix/lib/libcuslice.so"))
        p = box.run([box.path("prefix/bin/cuslice"), "run", "--", "sh", "-c", "echo $LD_PRELOAD"],
                    preload=False)
        assert p.stdout.strip() == os.path.realpath(box.path("prefix/lib/libcuslice.so")), p.stdout
        os.unlink(box.path("prefix/lib/libcuslice.so"))
        p = box.run([box.path("prefix/bin/cuslice"), "run", "--", "true"], preload=False,
                    check=False)
        assert p.returncode == 1 and "libcuslice.so not found" in p.stderr, p
        assert box.path("prefix/bin/../lib/libcuslice.so") in p.stderr, p.stderr
    finally:
        box.cleanup()


def test_run_exit_status_and_signals_pass_through():
    box = harness.Sandbox("cli-exit")
    try:
        assert cli(box, "run", "--", "sh", "-c", "exit 7", check=False).returncode == 7
        p = cli(box, "run", "--", "sh", "-c", "kill -TERM $$", check=False)
        assert p.returncode == -signal.SIGTERM, p.returncode
        many = ["x%d" % i for i in range(300)]  # arguments of the command are not options
        p = cli(box, "run", "--weight", "2", "--", "sh", "-c", 'echo $#', "sh", *many)
        assert p.stdout.strip() == "300", p.stdout
        p = cli(box, "run", "--", "no-such-command-x", check=False)
        assert p.returncode == 127 and "no-such-command-x: command not found" in p.stderr, p
        p = cli(box, "run", "--", "/etc/passwd", check=False)
        assert p.returncode == 126 and "/etc/passwd" in p.stderr, p
        p = box.spawn([CUSLICE, "run", "--", "sleep", "30"], preload=False)
        time.sleep(0.3)
        os.kill(p.pid, signal.SIGINT)  # cuslice is gone: sleep itself gets it
        p.communicate(timeout=10)
        assert p.returncode == -signal.SIGINT, p.returncode
    finally:
        box.cleanup()


def test_run_rejects_bad_values_before_running_anything():
    box = harness.Sandbox("cli-bad")
    try:
        marker = box.path("ran")
        cases = [(["--mem", "4X"], "CUSLICE_MEM_LIMIT"), (["--mem", "0"], "size"),
                 (["--weight", "0"], "1..100"), (["--weight", "101"], "1..100"),
                 (["--slice-ms", "0"], "1..10000"), (["--priority", "urgent"], "high|normal|low"),
                 (["--group", "a b"], "A-Za-z0-9"), (["--group", ""], "CUSLICE_GROUP"),
                 (["--bogus"], "unknown option"), (["--mem"], "needs a value"), ([], "no command")]
        for opts, expect in cases:
            tail = ["--", "touch", marker] if opts not in (["--mem"], []) else []
            argv = ["run"] + opts + tail
            p = cli(box, *argv, check=False)
            assert p.returncode == 2, (opts, p)
            assert expect in p.stderr and p.stdout == "", (opts, p.stderr)
            assert not os.path.exists(marker), opts
    finally:
        box.cleanup()


# ---- status ----

def test_status_three_members_two_groups_and_a_kill():
    box = harness.Sandbox("cli-status")
    ms = Members(box)
    try:
        a = ms.start(["--group", "train", "--mem", "2G"], ["--seconds", "30", "--work", "2000"],
                     CUSLICE_SLICE_MS=5)
        b = ms.start(["--group", "train", "--mem", "3G"], ["--seconds", "30", "--work", "2000"],
                     CUSLICE_SLICE_MS=5)
        c = ms.start(["--group", "eval", "--mem", "1G"], ["--idle", "--seconds", "30"])
        wait_members(box, [a.pid, b.pid, c.pid])
        doc = {}

        def both_took_turns():
            """Both spinners launched, waited and held the token, and one
            holds it now: what status must show once they share the GPU.
            Polled rather than slept for: a loaded machine is only slower."""
            nonlocal doc
            doc = status(box)
            m = members_by_pid(doc)
            ring = doc["gpus"][0]["ring"] if doc["gpus"] else {}
            return all(m[p]["launches"] > 0 and m[p]["gpu_share_10s"] > 0 and
                       m[p]["wait_p50_us"] is not None and
                       m[p]["state"] in ("holding", "waiting") for p in (a.pid, b.pid)) and \
                (ring.get("holder") or {}).get("pid") in (a.pid, b.pid) and \
                ring.get("handoffs_per_second", 0) > 0
        assert harness.wait_for(both_took_turns, timeout=30, step=0.2), doc
        assert doc["schema_version"] == 1 and doc["errors"] == [], doc
        gpu = doc["gpus"][0]
        assert gpu["ordinal"] == 0 and gpu["uuid"].startswith("GPU-"), gpu
        m = members_by_pid(doc)
        assert m[c.pid]["state"] == "idle", m[c.pid]
        smaller = min(m[a.pid]["gpu_share_10s"], m[b.pid]["gpu_share_10s"])
        harness.figure("cli.status.smaller_share_10s", smaller, "of GPU time", "> 0.1",
                       smaller > 0.1)
        assert m[c.pid]["gpu_share_10s"] == 0 and m[c.pid]["launches"] == 0
        groups = {g["name"]: g for g in gpu["groups"]}
        assert set(groups) == {"train", "eval"}, groups
        train = groups["train"]
        assert sorted(train["members"]) == sorted([m[a.pid]["slot"], m[b.pid]["slot"]])
        assert train["cap_bytes"] == 2 * GiB, train  # the smallest declared cap
        used = m[a.pid]["memory"]["used_bytes"] + m[b.pid]["memory"]["used_bytes"]
        assert train["used_bytes"] == used and used >= 2 * 512 * MiB, (train, used)
        assert m[a.pid]["memory"]["cap_bytes"] == 2 * GiB == m[b.pid]["memory"]["cap_bytes"]
        assert groups["eval"]["cap_bytes"] == 1 * GiB and groups["eval"]["members"] == [
            m[c.pid]["slot"]]

        human = cli(box, "status").stdout
        for word in ["train", "eval", "holding", str(a.pid), str(b.pid), str(c.pid), "2G"]:
            assert word in human, (word, human)

        a.kill()
        a.communicate()

        def a_gone():
            d = status(box)
            mm = members_by_pid(d)
            return a.pid not in mm or not mm[a.pid]["alive"], d
        assert harness.wait_for(lambda: a_gone()[0], timeout=10, step=0.1)
        doc = status(box)
        m = members_by_pid(doc)
        assert a.pid not in m or m[a.pid]["state"] == "dead", m.get(a.pid)
        train = {g["name"]: g for g in doc["gpus"][0]["groups"]}["train"]
        assert train["members"] == [m[b.pid]["slot"]], train
        assert train["cap_bytes"] == 3 * GiB, train  # b's own cap now
        assert train["used_bytes"] == m[b.pid]["memory"]["used_bytes"], train
    finally:
        ms.stop()
        box.cleanup()


def test_status_lists_every_bad_variable():
    """Issue 14 (8): status kept only the last bad variable of a member."""
    box = harness.Sandbox("cli-badvars")
    p = box.spawn([SPIN, "--idle", "--seconds", "30"], CUSLICE_WEIGHT="x",
                  CUSLICE_RING="maybe", CUSLICE_CTX_RESERVE="lots")
    try:
        doc = wait_members(box, [p.pid])
        m = members_by_pid(doc)[p.pid]
        assert m["bad_variables"] == ["CUSLICE_CTX_RESERVE", "CUSLICE_WEIGHT",
                                      "CUSLICE_RING"], m
        assert "CUSLICE_RING='maybe'" in m["note"], m  # the last message, as before
        human = cli(box, "status").stdout
        want = "has bad values in: CUSLICE_CTX_RESERVE, CUSLICE_WEIGHT, CUSLICE_RING"
        assert want in human, human
    finally:
        p.kill()
        p.communicate()
        box.cleanup()


def test_bad_log_value_is_reported():
    """Issue 14 (8): a bad CUSLICE_LOG fell back to "off" and hid its own error."""
    box = harness.Sandbox("cli-badlog")
    try:
        p = box.run([SPIN, "--seconds", "0.2", "--work", "1000"], CUSLICE_LOG="verbose")
        assert "CUSLICE_LOG='verbose' is not valid" in p.stderr, p.stderr
        assert p.stderr.count("\n") == 1, p.stderr  # errors only: not info or warnings
        quiet = box.run([SPIN, "--seconds", "0.2", "--work", "1000"], CUSLICE_LOG="off")
        assert quiet.stderr == "", quiet.stderr
    finally:
        box.cleanup()


def test_long_dir_is_an_error_not_the_default_folder():
    """Issue 14 (7): a CUSLICE_DIR over 255 bytes silently fell back to the
    default folder, another sharing domain."""
    box = harness.Sandbox("cli-longdir")
    try:
        long_dir = os.path.join(box.root, "d" * 300)
        p = box.run([SPIN, "--seconds", "0.2", "--work", "1000"], CUSLICE_DIR=long_dir,
                    CUSLICE_LOG="error")
        assert "CUSLICE_DIR='" in p.stderr and "no shared file is used" in p.stderr, p.stderr
        # It did not join any folder: the join itself says why.
        assert "CUSLICE_DIR is not a usable path" in p.stderr, p.stderr
        assert "runs unthrottled" in p.stderr, p.stderr
        # The CLI refuses it too, rather than reading the default folder.
        q = cli(box, "status", check=False, CUSLICE_DIR=long_dir)
        assert q.returncode == 2 and "CUSLICE_DIR" in q.stderr, (q.returncode, q.stderr)
    finally:
        box.cleanup()


def test_status_without_a_ring():
    box = harness.Sandbox("cli-none")
    try:
        p = cli(box, "status")
        assert "No cuslice ring" in p.stdout and "does not exist" in p.stdout, p.stdout
        assert json.loads(cli(box, "status", "--json").stdout)["dir_exists"] is False
        os.makedirs(box.cuslice_dir)
        p = cli(box, "status")
        assert "No cuslice ring" in p.stdout and "no per-GPU file" in p.stdout, p.stdout
        doc = json.loads(cli(box, "status", "--json").stdout)
        assert doc["gpus"] == [] and doc["errors"] == [] and doc["dir_exists"], doc
    finally:
        box.cleanup()


def write_file(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def test_status_names_a_corrupt_file_and_fails():
    box = harness.Sandbox("cli-corrupt")
    try:
        bad = os.path.join(box.cuslice_dir, "gpu-GPU-bad.shm")
        short = os.path.join(box.cuslice_dir, "gpu-GPU-short.shm")
        write_file(bad, b"\x42" * 20000)
        write_file(short, b"CUSL")
        p = cli(box, "status", check=False)
        assert p.returncode == 1, p
        assert bad + " is not a cuslice file (bad magic)" in p.stderr, p.stderr
        assert short + " is truncated" in p.stderr, p.stderr
        p = cli(box, "status", "--json", check=False)
        assert p.returncode == 1
        errors = {e["file"]: e["reason"] for e in json.loads(p.stdout)["errors"]}
        assert set(errors) == {bad, short}, errors
        p = cli(box, "metrics", check=False)
        assert p.returncode == 1 and bad in p.stderr, p
        fams = parse_exposition(p.stdout)
        assert fams["cuslice_files_unreadable"]["samples"][0][2] == 2, fams
        assert fams["cuslice_gpu_files"]["samples"][0][2] == 0, fams
    finally:
        box.cleanup()


def test_status_flags_a_file_named_for_another_gpu():
    """Issue 14 (8): status did not flag a file whose UUID does not match its
    name (the library never opens it for either GPU)."""
    box = harness.Sandbox("cli-misnamed")
    try:
        box.run([SPIN, "--seconds", "0.1", "--work", "1000"])
        real = [f for f in os.listdir(box.cuslice_dir) if f.endswith(".shm")]
        assert len(real) == 1, real
        wrong = os.path.join(box.cuslice_dir, "gpu-GPU-00000000-0000-0000-0000-000000000000.shm")
        shutil.copyfile(os.path.join(box.cuslice_dir, real[0]), wrong)
        p = cli(box, "status", "--json", check=False)
        assert p.returncode == 1, p
        doc = json.loads(p.stdout)
        errors = {e["file"]: e["reason"] for e in doc["errors"]}
        assert list(errors) == [wrong] and "not the GPU its name says" in errors[wrong], errors
        assert len(doc["gpus"]) == 1, doc  # the rightly named file is still shown
    finally:
        box.cleanup()


# ---- metrics ----

def handoffs_of(families):
    samples = families["cuslice_ring_handoffs_total"]["samples"]
    return samples[0][2] if samples else 0


def test_metrics_parse_and_counters_only_grow():
    box = harness.Sandbox("cli-metrics")
    ms = Members(box)
    try:
        a = ms.start(["--group", "train", "--mem", "2G"], ["--seconds", "30", "--work", "1000"],
                     CUSLICE_SLICE_MS=5)
        b = ms.start([], ["--seconds", "30", "--work", "1000"], CUSLICE_SLICE_MS=5)
        wait_members(box, [a.pid, b.pid])
        first = parse_exposition(cli(box, "metrics").stdout)
        second = {}

        def handed_off_since():
            """A second scrape taken after at least one more hand-off."""
            nonlocal second
            second = parse_exposition(cli(box, "metrics").stdout)
            return handoffs_of(second) > handoffs_of(first)
        assert harness.wait_for(handed_off_since, timeout=30, step=0.2), "no hand-off in 30 s"
        assert set(first) == set(second)
        for name, fam in second.items():
            if "memory" in name or name.endswith("_seconds") or "_seconds_" in name:
                assert re.search(r"_(bytes|seconds|seconds_total)$", name) or \
                    fam["type"] == "histogram", name
        c1, c2 = values(first, "counter"), values(second, "counter")
        assert c1 and set(c1) == set(c2), (set(c1) ^ set(c2))
        for key, v in c1.items():
            assert c2[key] >= v, ("counter went back", key, v, c2[key])
        h1, h2 = values(first, "histogram"), values(second, "histogram")
        for key, v in h1.items():  # buckets, sums and counts are counters too
            assert h2[key] >= v, ("histogram went back", key)
        handoffs = [v for (n, _), v in c2.items() if n == "cuslice_ring_handoffs_total"]
        assert handoffs and handoffs[0] > [v for (n, _), v in c1.items()
                                           if n == "cuslice_ring_handoffs_total"][0]
        info = second["cuslice_member_info"]["samples"]
        pids = {int(labels["pid"]) for _, labels, _ in info}
        assert pids == {a.pid, b.pid}, info
        for _, labels, _ in info:
            assert 0 <= int(labels["member"]) < 64 and set(labels) == {
                "gpu_uuid", "member", "group", "namespace", "pod", "pid", "host_pid", "priority",
                "ordinal"}
        groups = {labels["group"]: v for _, labels, v in
                  second["cuslice_group_memory_cap_bytes"]["samples"]}
        assert groups == {"train": 2 * GiB}, groups
        assert second["cuslice_member_gpu_seconds_total"]["type"] == "counter"
        assert second["cuslice_member_memory_used_bytes"]["type"] == "gauge"
        assert second["cuslice_member_wait_seconds"]["type"] == "histogram"
    finally:
        ms.stop()
        box.cleanup()


def test_metrics_textfile_is_written_atomically():
    box = harness.Sandbox("cli-textfile")
    ms = Members(box)
    try:
        a = ms.start([], ["--idle", "--seconds", "30"])
        wait_members(box, [a.pid])
        out = box.path("prom/cuslice.prom")
        os.makedirs(os.path.dirname(out))
        p = cli(box, "metrics", "--textfile", out)
        assert p.stdout == "", p.stdout
        with open(out) as f:
            fams = parse_exposition(f.read())
        assert fams["cuslice_ring_members"]["samples"][0][2] == 1
        assert os.listdir(os.path.dirname(out)) == ["cuslice.prom"]
        assert os.stat(out).st_mode & 0o044 == 0o044  # readable by the collector
        p = cli(box, "metrics", "--textfile", box.path("nope/x.prom"), check=False)
        assert p.returncode == 1 and "cannot write" in p.stderr, p
    finally:
        ms.stop()
        box.cleanup()


def listening_addresses(port):
    """Local addresses of TCP sockets listening on port (IPv4 and IPv6)."""
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        with open(table) as f:
            next(f)
            for line in f:
                fields = line.split()
                addr, hexport = fields[1].split(":")
                if int(hexport, 16) == port and fields[3] == "0A":
                    out.append(addr)
    return out


def test_metrics_listen_on_loopback():
    box = harness.Sandbox("cli-listen")
    ms = Members(box)
    server = None
    try:
        a = ms.start([], ["--idle", "--seconds", "30"])
        wait_members(box, [a.pid])
        server = subprocess.Popen([CUSLICE, "metrics", "--listen", "0"],
                                  env=box.env(preload=False), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        line = server.stderr.readline()
        m = re.search(r"serving http://127\.0\.0\.1:(\d+)/metrics", line)
        assert m, line
        port = int(m.group(1))
        assert listening_addresses(port) == ["0100007F"], listening_addresses(port)
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
            assert r.status == 200
            assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            fams = parse_exposition(r.read().decode())
        assert [int(l["pid"]) for _, l, _ in fams["cuslice_member_info"]["samples"]] == [a.pid]
        try:
            urllib.request.urlopen("http://127.0.0.1:%d/nope" % port, timeout=10)
            raise AssertionError("no 404")
        except urllib.error.HTTPError as e:
            assert e.code == 404
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=10) == 0
        # An explicit address, and a bad one.
        p = cli(box, "metrics", "--listen", "localhost:notaport", check=False)
        assert p.returncode == 1 and "not valid" in p.stderr, p
    finally:
        if server is not None and server.poll() is None:
            server.kill()
        if server is not None:
            server.communicate()
        ms.stop()
        box.cleanup()


# ---- top ----

def tmux(sock, *args):
    """tmux on our own server: its own socket file (-S, in the sandbox, so no
    other tmux server on the machine is seen or disturbed) and no config
    (-f /dev/null), outside any tmux session the tests may run in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TMUX")}
    return subprocess.run(["tmux", "-S", sock, "-f", "/dev/null"] + list(args),
                          capture_output=True, text=True, timeout=30, env=env)


def pane(sock):
    return tmux(sock, "capture-pane", "-p", "-t", "top").stdout


def start_session(sock, cmd):
    """Starts session 'top' running cmd, and waits until tmux answers for it.
    A server that fails to start is retried once, with a message saying so."""
    why = ""
    for attempt in (1, 2):
        r = tmux(sock, "new-session", "-d", "-s", "top", "-x", "160", "-y", "40", cmd)
        if r.returncode == 0 and harness.wait_for(
                lambda: tmux(sock, "has-session", "-t", "top").returncode == 0, timeout=30):
            return
        why = "exit %d: %s" % (r.returncode, (r.stderr or r.stdout).strip())
        print("tmux server on %s did not start (attempt %d, %s)%s"
              % (sock, attempt, why, "; retrying once" if attempt == 1 else ""))
        tmux(sock, "kill-server")
    raise AssertionError("tmux could not start a server on its own socket %s twice (%s)"
                         % (sock, why))


def test_top_in_tmux_shows_members_and_quits_cleanly():
    if shutil.which("tmux") is None:
        raise AssertionError("tmux is not installed")
    box = harness.Sandbox("cli-top")
    ms = Members(box)
    sock = box.path("tmux.sock")
    try:
        a = ms.start(["--group", "train", "--mem", "2G"], ["--seconds", "30", "--work", "1000"],
                     CUSLICE_SLICE_MS=5)
        b = ms.start(["--group", "eval"], ["--seconds", "30", "--work", "1000"],
                     CUSLICE_SLICE_MS=5)
        wait_members(box, [a.pid, b.pid])
        for key in ("q", "C-c"):
            done = box.path("exit-%s" % key)
            cmd = "%s top --dir %s --interval 0.5; echo EXIT=$? > %s.tmp; mv %s.tmp %s; " \
                  "sleep 30" % (CUSLICE, box.cuslice_dir, done, done, done)
            start_session(sock, cmd)
            # Readiness is what the pane shows, not a sleep; 30 s only
            # detects a hang (top draws within its 0.5 s interval).
            assert harness.wait_for(
                lambda: str(a.pid) in pane(sock) and str(b.pid) in pane(sock), timeout=30), \
                pane(sock)
            shown = pane(sock)
            for word in ["cuslice top", "GPU 0", "train", "eval", "[#", "%"]:
                assert word in shown, (word, shown)
            tmux(sock, "send-keys", "-t", "top", key)
            assert harness.wait_for(lambda: os.path.exists(done), timeout=30), pane(sock)
            with open(done) as f:
                status_line = f.read().strip()
            assert status_line == "EXIT=0", (key, status_line)
            after = pane(sock)
            assert "cuslice top" not in after, after  # the screen was restored
            tmux(sock, "kill-session", "-t", "top")
    finally:
        tmux(sock, "kill-server")
        ms.stop()
        box.cleanup()


def test_top_needs_a_terminal():
    box = harness.Sandbox("cli-top2")
    try:
        p = cli(box, "top", check=False)
        assert p.returncode == 1 and "needs a terminal" in p.stderr, p
    finally:
        box.cleanup()


# ---- doctor ----

def test_doctor_healthy():
    box = harness.Sandbox("cli-doctor")
    ms = Members(box)
    try:
        p = cli(box, "doctor")
        out = p.stdout
        for line in ["[ ok ] driver:", "[ ok ] library:", "[ ok ] preload: LD_PRELOAD takes",
                     "[ ok ] folder: %s does not exist yet" % box.cuslice_dir, "0 problems"]:
            assert line in out, (line, out)
        a = ms.start([], ["--idle", "--seconds", "30"])
        wait_members(box, [a.pid])
        out = cli(box, "doctor").stdout
        assert "[ ok ] folder: %s is writable, mode 1777" % box.cuslice_dir in out, out
        assert "1 live member" in out and "[FAIL]" not in out, out
    finally:
        ms.stop()
        box.cleanup()


def test_doctor_folder_that_cannot_exist():
    """A path under a regular file fails for root too."""
    box = harness.Sandbox("cli-doctor2")
    try:
        blocker = box.path("file")
        write_file(blocker, b"x")
        p = cli(box, "doctor", CUSLICE_DIR=os.path.join(blocker, "cuslice"), check=False)
        assert p.returncode == 1, p
        assert "[FAIL] folder: %s/cuslice cannot be used: Not a directory" % blocker in p.stdout, \
            p.stdout
        assert "fix: point CUSLICE_DIR" in p.stdout, p.stdout
        p = cli(box, "doctor", "--dir", blocker, check=False)
        assert p.returncode == 1 and "[FAIL] folder: %s is not a folder" % blocker in p.stdout
    finally:
        box.cleanup()


def test_doctor_corrupt_and_stale_files():
    box = harness.Sandbox("cli-doctor3")
    ms = Members(box)
    try:
        a = ms.start([], ["--idle", "--seconds", "30"])
        wait_members(box, [a.pid])
        a.kill()
        a.communicate()
        # Nobody else is there to reap it: the slot stays, its owner dead.
        doc = status(box)
        assert members_by_pid(doc)[a.pid]["state"] == "dead", doc
        assert "dead" in cli(box, "status").stdout
        p = cli(box, "doctor")
        assert "[warn] file:" in p.stdout and "is stale" in p.stdout, p.stdout
        bad = os.path.join(box.cuslice_dir, "gpu-GPU-bad.shm")
        write_file(bad, b"\0" * 40000)
        p = cli(box, "doctor", check=False)
        assert p.returncode == 1, p
        assert "[FAIL] file: %s is not a cuslice file (bad magic)" % bad in p.stdout, p.stdout
        assert "fix: " in p.stdout and "rm %s" % bad in p.stdout, p.stdout
    finally:
        ms.stop()
        box.cleanup()


def test_doctor_bad_variable_and_missing_driver():
    box = harness.Sandbox("cli-doctor4")
    try:
        p = cli(box, "doctor", CUSLICE_WEIGHT="0", check=False)
        assert p.returncode == 1, p
        assert "[FAIL] environment: CUSLICE_WEIGHT='0' is not valid" in p.stdout, p.stdout
        env = box.env(preload=False)
        env["LD_LIBRARY_PATH"] = box.path("empty")
        loads = subprocess.run([sys.executable, "-c", "import ctypes; ctypes.CDLL('libcuda.so.1')"],
                               env=env, capture_output=True)
        if loads.returncode == 0:
            return  # a real driver is installed: it cannot be made missing here
        p = subprocess.run([CUSLICE, "doctor"], env=env, capture_output=True, text=True,
                           timeout=60)
        assert p.returncode == 1, p
        assert "[FAIL] driver: libcuda.so.1 cannot be loaded" in p.stdout, p.stdout
        assert "LD_LIBRARY_PATH (now: %s)" % box.path("empty") in p.stdout, p.stdout
    finally:
        box.cleanup()


def test_doctor_library_not_found():
    box = harness.Sandbox("cli-doctor5")
    try:
        p = cli(box, "doctor", CUSLICE_LIB=box.path("missing.so"), check=False)
        assert p.returncode == 1 and "[FAIL] library: libcuslice.so not found" in p.stdout, p
        p = cli(box, "run", "--", "true", CUSLICE_LIB=box.path("missing.so"), check=False)
        assert p.returncode == 1 and "libcuslice.so not found" in p.stderr, p
        write_file(box.path("text.so"), b"not a shared object\n")
        p = cli(box, "doctor", CUSLICE_LIB=box.path("text.so"), check=False)
        assert p.returncode == 1, p
        assert "[FAIL] preload: a child process run with LD_PRELOAD=%s wrote no trace" % \
            box.path("text.so") in p.stdout, p.stdout
        assert "cannot be preloaded" in p.stdout, p.stdout  # what ld.so said
    finally:
        box.cleanup()


# ---- help ----

def test_help_version_and_usage_errors():
    box = harness.Sandbox("cli-help")
    try:
        assert re.fullmatch(r"cuslice \d+\.\d+\.\d+\n", cli(box, "--version").stdout)
        names = cli(box, "__commands").stdout.split()
        assert names == ["run", "status", "top", "metrics", "doctor", "policy", "help"], names
        for name in names:
            p = cli(box, name, "--help")
            assert p.stdout.startswith("Usage: cuslice %s" % name) and p.stderr == "", name
        assert "CUSLICE_MEM_LIMIT" in cli(box, "help", "env").stdout
        assert '"schema_version": 1' in cli(box, "help", "json").stdout
        assert "# TYPE cuslice_member_gpu_seconds_total counter" in \
            cli(box, "help", "prometheus").stdout
        for argv in (["nope"], ["status", "--nope"], ["status", "extra"], ["top", "--interval",
                     "0"], ["metrics", "--interval", "5"], []):
            p = cli(box, *argv, check=False)
            assert p.returncode == 2 and p.stderr and p.stdout == "", (argv, p)
    finally:
        box.cleanup()


if __name__ == "__main__":
    harness.main(globals())
