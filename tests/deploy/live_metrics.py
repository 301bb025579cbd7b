#!/usr/bin/env python3
"""live_metrics.py - `cuslice metrics` of a live node, for promtool.

Starts two members under libcuslice.so against the simulated driver, set up
as the injection policies set up a pod (CUSLICE_GROUP = a pod UID,
CUSLICE_POD_NAME/NAMESPACE, one with an annotation-given cap, one taking
the node policy's default), with a node policy in the ring folder. Then
writes what `cuslice metrics` prints to OUT, checks that /healthz answers
200 and that /metrics serves the same families, and stops the members.

    live_metrics.py BUILD_DIR OUT
Exits 1 with the reason on stderr when something is not as expected.
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

build, out = os.path.abspath(sys.argv[1]), sys.argv[2]
cuslice = os.path.join(build, "tools", "cuslice")
memprobe = os.path.join(build, "tests", "integration", "memory", "memprobe")
root = tempfile.mkdtemp(prefix="cuslice-deploy-")
ring = os.path.join(root, "ring")
os.makedirs(ring)
os.makedirs(os.path.join(root, "sim"))
with open(os.path.join(ring, "node-policy"), "w") as f:
    f.write("CUSLICE_MEM_LIMIT=card/10\nCUSLICE_WEIGHT=1\nCUSLICE_PRIORITY=normal\n")
os.chmod(os.path.join(ring, "node-policy"), 0o644)  # a group-writable policy is ignored

base = {k: v for k, v in os.environ.items() if not k.startswith(("CUSLICE_", "SIMCUDA_"))}
base.update(LD_LIBRARY_PATH=os.path.join(build, "tests", "simcuda"), CUSLICE_DIR=ring,
            SIMCUDA_DIR=os.path.join(root, "sim"), SIMCUDA_MEM_TOTAL="16G", CUSLICE_RING="off")


def member(pod, uid, **extra):
    env = dict(base, LD_PRELOAD=os.path.join(build, "hooks", "libcuslice.so"), CUSLICE_GROUP=uid,
               CUSLICE_POD_NAME=pod, CUSLICE_POD_NAMESPACE="ml", **extra)
    p = subprocess.Popen([memprobe, "repl"], env=env, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    p.stdin.write("alloc alloc 268435456\n")
    p.stdin.flush()
    answer = p.stdout.readline().strip()
    if answer != "alloc 0":
        sys.exit("live_metrics: a member could not allocate: %r" % answer)
    return p


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    members = [member("trainer-0", "uid-trainer-0", CUSLICE_MEM_LIMIT="4G", CUSLICE_WEIGHT="2"),
               member("notebook-0", "uid-notebook-0")]
    server = None
    try:
        text = subprocess.run([cuslice, "metrics"], env=base, capture_output=True, text=True,
                              check=True).stdout
        with open(out, "w") as f:
            f.write(text)
        for needle in ('namespace="ml",pod="trainer-0"', 'setting="memory",source="policy"',
                       'setting="memory",source="env"', "cuslice_gpu_memory_total_bytes{"):
            if needle not in text:
                sys.exit("live_metrics: %r missing from cuslice metrics" % needle)
        port = free_port()
        server = subprocess.Popen([cuslice, "metrics", "--listen", "127.0.0.1:%d" % port],
                                  env=base, stderr=subprocess.DEVNULL)
        url = "http://127.0.0.1:%d" % port
        for _ in range(100):
            try:
                health = urllib.request.urlopen(url + "/healthz", timeout=2)
                break
            except OSError:
                time.sleep(0.05)
        else:
            sys.exit("live_metrics: /healthz did not answer")
        served = urllib.request.urlopen(url + "/metrics", timeout=5).read().decode()
        if health.status != 200 or set(re.findall(r"^# TYPE \S+", served, re.M)) != \
                set(re.findall(r"^# TYPE \S+", text, re.M)):
            sys.exit("live_metrics: /healthz or /metrics over HTTP not as expected")
    finally:
        if server:
            server.terminate()
            server.wait(timeout=10)
        for p in members:
            p.stdin.close()
            p.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)


main()
