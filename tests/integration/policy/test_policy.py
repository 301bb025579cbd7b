"""test_policy.py - the node policy (issue 10): defaults from
CUSLICE_DIR/node-policy for processes that set nothing, their own variables
winning, a bad policy treated like a bad variable, and `cuslice status` /
`cuslice metrics` saying where each setting came from.

Members are memprobe processes (tests/integration/memory) reaching the
simulated driver as cudart does; the simulated card has SIMCUDA_MEM_TOTAL
bytes, so a policy cap of card/N is exactly SIMCUDA_MEM_TOTAL / N.
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402

MiB = 1 << 20
GiB = 1 << 30
CARD = 4 * GiB
CHUNK = 32 * MiB
OOM = 2  # CUDA_ERROR_OUT_OF_MEMORY
BASE = dict(CUSLICE_RING="off", CUSLICE_CTX_RESERVE="0", SIMCUDA_MEM_TOTAL=CARD)
CUSLICE = harness.program("cuslice")


def memprobe():
    return harness.program("memprobe")


def write_policy(box, text):
    os.makedirs(box.cuslice_dir, exist_ok=True)
    path = os.path.join(box.cuslice_dir, "node-policy")
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o644)  # whatever the umask: a group-writable policy is refused
    return path


def fill(box, **env):
    """Allocates CHUNK at a time until refused; returns (bytes, last error, stderr)."""
    merged = dict(BASE)
    merged.update(env)
    p = box.run([memprobe(), "fill", "alloc", str(CHUNK)], timeout=60, **merged)
    words = dict(line.split(None, 1) for line in p.stdout.splitlines() if " " in line)
    got, last = words["allocated"].split()
    return int(got), int(last), p.stderr


class Member:
    """A memprobe repl that stays a member until closed."""

    def __init__(self, box, **env):
        merged = dict(BASE)
        merged.update(env)
        self.p = subprocess.Popen([memprobe(), "repl"], env=box.env(**merged),
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        assert self.p.stdout.readline().strip() == "ready"

    def cmd(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        return self.p.stdout.readline().strip()

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=30)


def cli(box, *args):
    return subprocess.run([CUSLICE] + list(args), env=box.env(preload=False), capture_output=True,
                          text=True, timeout=60)


def members(box):
    p = cli(box, "status", "--json")
    doc = json.loads(p.stdout)
    return [m for g in doc["gpus"] for m in g["members"] if m["alive"]]


def test_policy_card_share_is_the_default_cap():
    box = harness.Sandbox("policy")
    write_policy(box, "# ten pods per card\nCUSLICE_MEM_LIMIT=card/8\n")
    got, last, _ = fill(box)
    assert got == CARD // 8, (got, CARD // 8)
    assert last == OOM


def test_policy_size_cap():
    box = harness.Sandbox("policy")
    write_policy(box, "CUSLICE_MEM_LIMIT=256M\n")
    got, last, _ = fill(box)
    assert got == 256 * MiB and last == OOM, got


def test_own_variable_wins_over_policy():
    box = harness.Sandbox("policy")
    write_policy(box, "CUSLICE_MEM_LIMIT=card/8\n")
    got, _, _ = fill(box, CUSLICE_MEM_LIMIT="128M")
    assert got == 128 * MiB, got


def test_no_policy_no_cap():
    box = harness.Sandbox("policy")
    got, last, _ = fill(box)
    assert got == CARD and last == OOM, got  # the simulated card itself refuses


def test_bad_policy_cap_refuses_and_says_so():
    box = harness.Sandbox("policy")
    write_policy(box, "CUSLICE_MEM_LIMIT=card/zero\n")
    got, last, err = fill(box, CUSLICE_LOG="error")
    assert got == 0 and last == OOM, got  # a cap is never lifted silently
    assert "node-policy line 1: CUSLICE_MEM_LIMIT='card/zero' is not valid" in err, err


def test_bad_policy_weight_keeps_running_with_default():
    box = harness.Sandbox("policy")
    write_policy(box, "CUSLICE_WEIGHT=heavy\nCUSLICE_MEM_LIMIT=card/8\n")
    m = Member(box)
    try:
        assert m.cmd("alloc alloc %d" % (64 * MiB)) == "alloc 0"
        (me,) = members(box)
        assert me["weight"] == 1, me
        assert me["sources"] == {"memory": "policy", "weight": "default",
                                 "priority": "default"}, me
        assert "CUSLICE_WEIGHT='heavy' is not valid" in me["note"], me
    finally:
        m.close()


def test_status_and_metrics_show_sources_and_pod():
    box = harness.Sandbox("policy")
    write_policy(box, "CUSLICE_MEM_LIMIT=card/8\nCUSLICE_WEIGHT=3\nCUSLICE_PRIORITY=low\n")
    pod = dict(CUSLICE_GROUP="0b7c5a6e-uid", CUSLICE_POD_NAME="trainer-0",
               CUSLICE_POD_NAMESPACE="ml")
    a = Member(box, CUSLICE_PRIORITY="high", **pod)
    b = Member(box, CUSLICE_MEM_LIMIT="1G", **pod)  # same pod: one cap, the smaller
    try:
        assert a.cmd("alloc alloc %d" % MiB) == "alloc 0"
        assert b.cmd("alloc alloc %d" % MiB) == "alloc 0"
        ms = members(box)
        assert len(ms) == 2, ms
        by_prio = {m["priority"]: m for m in ms}
        ma, mb = by_prio["high"], by_prio["low"]
        assert ma["sources"] == {"memory": "policy", "weight": "policy", "priority": "env"}
        assert mb["sources"] == {"memory": "env", "weight": "policy", "priority": "policy"}
        assert ma["weight"] == 3 and mb["weight"] == 3
        assert ma["memory"]["declared_cap_bytes"] == CARD // 8
        assert ma["memory"]["cap_bytes"] == 512 * MiB == CARD // 8  # the pod's: the smaller
        assert ma["pod"] == {"namespace": "ml", "name": "trainer-0"}, ma
        table = cli(box, "status").stdout
        assert "CAP-FROM" in table and "ml/trainer-0" in table, table
        text = cli(box, "metrics").stdout
        assert ('cuslice_member_setting_source{gpu_uuid="%s",member="%d",group="0b7c5a6e-uid",'
                'namespace="ml",pod="trainer-0",setting="priority",source="env"} 1'
                % (gpu_uuid(box), ma["slot"])) in text, text
        assert "cuslice_gpu_memory_total_bytes{gpu_uuid=\"%s\"} %d" % (gpu_uuid(box), CARD) in text
        # The pod's cap counts once: 512M, not 512M + 1G.
        assert "cuslice_gpu_memory_caps_bytes{gpu_uuid=\"%s\"} %d" % (gpu_uuid(box),
                                                                       512 * MiB) in text
    finally:
        a.close()
        b.close()


def gpu_uuid(box):
    doc = json.loads(cli(box, "status", "--json").stdout)
    return doc["gpus"][0]["uuid"]


def test_policy_command_installs_only_good_files():
    box = harness.Sandbox("policy")
    good, bad = box.path("good"), box.path("bad")
    with open(good, "w") as f:
        f.write("CUSLICE_MEM_LIMIT=card/10\nCUSLICE_WEIGHT=2\n")
    with open(bad, "w") as f:
        f.write("CUSLICE_MEM_LIMIT=card/10\nCUSLICE_SLICE_MS=5\n")
    os.makedirs(box.cuslice_dir)
    p = cli(box, "policy", "install", good)
    assert p.returncode == 0, p.stderr
    p = cli(box, "policy", "install", bad)
    assert p.returncode == 1 and "CUSLICE_SLICE_MS=5 is not a setting" in p.stderr, p.stderr
    with open(os.path.join(box.cuslice_dir, "node-policy")) as f:
        assert f.read() == "CUSLICE_MEM_LIMIT=card/10\nCUSLICE_WEIGHT=2\n"
    p = cli(box, "policy", "show")
    assert p.returncode == 0 and "CUSLICE_WEIGHT=2" in p.stdout, p.stdout
    got, _, _ = fill(box)
    assert got == (CARD // 10) // CHUNK * CHUNK, got


def test_policy_of_another_user_is_ignored():
    """A node-policy that another local user put in the (1777) ring folder
    sets nothing: the member stays uncapped with the defaults, and status
    shows why."""
    if os.geteuid() != 0:
        print("skipped: giving the policy to uid 65534 needs root")
        return
    box = harness.Sandbox("policy")
    path = write_policy(box, "CUSLICE_MEM_LIMIT=1\nCUSLICE_WEIGHT=7\nCUSLICE_PRIORITY=low\n")
    os.chown(path, 65534, 65534)
    got, last, err = fill(box, CUSLICE_LOG="error")
    assert got == CARD and last == OOM, got  # no cap: the simulated card refuses
    assert "refused and ignored" in err and "owner uid 65534, mode 0644" in err, err
    m = Member(box)
    try:
        assert m.cmd("alloc alloc %d" % (64 * MiB)) == "alloc 0"
        (me,) = members(box)
        assert me["weight"] == 1 and me["priority"] == "normal", me
        assert me["memory"]["declared_cap_bytes"] in (0, None), me
        assert me["sources"] == {"memory": "default", "weight": "default",
                                 "priority": "default"}, me
        assert "refused and ignored" in me["note"], me
    finally:
        m.close()
    p = cli(box, "doctor")
    assert p.returncode == 1 and "[FAIL] policy: node policy %s refused" % path in p.stdout, p.stdout


def test_install_follows_a_configmap_link_and_writes_0644():
    """A ConfigMap volume's key is a link (node-policy -> ..data/node-policy);
    install checks its target and writes a file processes accept."""
    box = harness.Sandbox("policy")
    cm = box.path("configmap")
    os.makedirs(os.path.join(cm, "..2026_12_02"))
    with open(os.path.join(cm, "..2026_12_02", "node-policy"), "w") as f:
        f.write("CUSLICE_WEIGHT=4\n")
    os.chmod(os.path.join(cm, "..2026_12_02", "node-policy"), 0o600)
    os.symlink("..2026_12_02", os.path.join(cm, "..data"))
    os.symlink("..data/node-policy", os.path.join(cm, "node-policy"))
    os.makedirs(box.cuslice_dir)
    old_umask = os.umask(0o077)  # install must not depend on the caller's umask
    try:
        p = cli(box, "policy", "install", os.path.join(cm, "node-policy"))
    finally:
        os.umask(old_umask)
    assert p.returncode == 0, p.stderr
    st = os.stat(os.path.join(box.cuslice_dir, "node-policy"))
    assert st.st_mode & 0o7777 == 0o644 and st.st_uid == os.geteuid(), oct(st.st_mode)
    p = cli(box, "policy", "show")
    assert p.returncode == 0 and "CUSLICE_WEIGHT=4" in p.stdout, (p.stdout, p.stderr)
    writable = box.path("writable")
    with open(writable, "w") as f:
        f.write("CUSLICE_WEIGHT=5\n")
    os.chmod(writable, 0o666)
    p = cli(box, "policy", "install", writable)
    assert p.returncode == 1 and "writable by group or others" in p.stderr, p.stderr


def test_doctor_reports_the_policy():
    box = harness.Sandbox("policy")
    write_policy(box, "CUSLICE_WEIGHT=2\n")
    p = cli(box, "doctor")
    assert "[ ok ] policy: %s/node-policy gives CUSLICE_WEIGHT=2" % box.cuslice_dir in p.stdout, p.stdout
    write_policy(box, "CUSLICE_WEIGHT=2\nCUSLICE_PRIORITY=urgent\n")
    p = cli(box, "doctor")
    assert p.returncode == 1, p.stdout
    assert "[FAIL] policy: node policy %s/node-policy line 2: CUSLICE_PRIORITY='urgent' is not valid" \
        % box.cuslice_dir in p.stdout, p.stdout


if __name__ == "__main__":
    harness.main(globals())
