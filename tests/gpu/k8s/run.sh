#!/bin/bash
# tests/gpu/k8s/run.sh - two PyTorch "pods" share the GPU the way the
# Kubernetes bundle sets them up (issue 10), with a node default cap.
#
#   OUT=dir [PYTHON=python3] [SECONDS_EACH=20] tests/gpu/k8s/run.sh
#
# Self-contained, for the GPU machine: builds the library and the CLI with
# tests/gpu/build.sh (uthash from .deps/uthash, meson from .deps/mesonpkg when
# absent), then stands in for a node:
#   1. a ring folder (the node's /dev/shm/cuslice) with a node policy
#      installed by `cuslice policy install`, as the agent's init step does:
#      CUSLICE_MEM_LIMIT=card/4, CUSLICE_WEIGHT=1, CUSLICE_PRIORITY=normal;
#   2. two PyTorch processes with exactly the environment the injection
#      policies give a labelled pod, built from `cuslice help pod` (the same
#      table tests/deploy checks the policies against): LD_PRELOAD, CUSLICE_DIR,
#      CUSLICE_GROUP = a pod UID, CUSLICE_POD_NAME, CUSLICE_POD_NAMESPACE, and
#      a variable for each annotation the pod has. Pod "trainer-a" has none;
#      pod "trainer-b" has cuslice.io/weight: "2";
#   3. each checks that mem_get_info reports the node's default cap (a quarter
#      of the card) and that a tensor larger than the cap raises
#      OutOfMemoryError, holds half its cap, then both run matmuls together
#      for SECONDS_EACH seconds;
#   4. while both run: `cuslice status` (table and --json) and `cuslice
#      metrics` on the ring folder, which must show two members on one GPU,
#      each with its pod and where each setting came from (a: policy for all
#      three; b: env for the weight, policy for the rest).
# Writes $OUT/k8s-gpu.md (the result table, status and the shares seen) and
# $OUT/k8s-gpu.log (every command and its output). The GPU-time shares are
# reported, not judged (timings belong in benchmarks). Exit status 0 when
# every check passed.
set -u
root=$(cd "$(dirname "$0")/../../.." && pwd)
out=${OUT:?set OUT to the folder for the results}
mkdir -p "$out"
PY=${PYTHON:-python3}
SECS=${SECONDS_EACH:-20}
W=$(mktemp -d /tmp/cuslice-gpu-k8s.XXXXXX)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$W"' EXIT
log=$out/k8s-gpu.log
md=$out/k8s-gpu.md
: >"$log"
rows=()
failed=0
say() { echo "$*" | tee -a "$log"; }
row() { # row NAME pass|FAIL DETAIL
	rows+=("| $1 | $2 | $3 |")
	[ "$2" = pass ] || failed=$((failed + 1))
}
finish() {
	{
		echo "## Kubernetes setting on the GPU: two pods, node default cap (tests/gpu/k8s/run.sh)"
		echo
		echo "GPU: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | head -1)"
		echo "PyTorch: $($PY -c 'import torch; print(torch.__version__, torch.version.cuda)' 2>/dev/null)"
		echo "Commit: ${CUSLICE_COMMIT:-unknown}"
		echo
		echo "| check | result | detail |"
		echo "|---|---|---|"
		printf '%s\n' "${rows[@]}"
		echo
		[ -f "$W/status.txt" ] && { echo '`cuslice status` while both ran:'; echo; echo '```'; cat "$W/status.txt"; echo '```'; }
		echo
		echo "$failed check(s) failed."
	} >"$md"
	cat "$md"
	exit $((failed > 0))
}

cd "$root" || exit 1
B=$(tests/gpu/build.sh 2>>"$log" | tail -n 1)
LIB=$B/hooks/libcuslice.so
CUSLICE=$B/tools/cuslice
if [ -f "$LIB" ] && [ -x "$CUSLICE" ]; then
	row "build (tests/gpu/build.sh)" pass "$LIB, $CUSLICE"
else
	row "build (tests/gpu/build.sh)" FAIL "no library or no CLI; see k8s-gpu.log"
	finish
fi

# 1. The node: ring folder and node policy, installed as the agent does.
RING=$W/ring
mkdir -p "$RING" && chmod 1777 "$RING"
printf '# node policy (deploy/kubernetes/base/node-policy.yaml, with card/4)\nCUSLICE_MEM_LIMIT=card/4\nCUSLICE_WEIGHT=1\nCUSLICE_PRIORITY=normal\n' >"$W/node-policy"
if "$CUSLICE" policy --dir "$RING" install "$W/node-policy" >>"$log" 2>&1; then
	row "cuslice policy install" pass "$(tr '\n' ' ' <"$RING/node-policy")"
else
	row "cuslice policy install" FAIL "see k8s-gpu.log"
	finish
fi

# 2. The environment of a labelled pod, from the library's own table.
# pod_env NAME UID [ANNOTATION=VALUE...]: prints NAME=VALUE lines.
pod_env() {
	local name=$1 uid=$2
	shift 2
	"$CUSLICE" help pod | while IFS=$'\t' read -r var src; do
		case $src in
		library) echo "$var=$LIB" ;;
		mount) echo "$var=$RING" ;;
		field:metadata.uid) echo "$var=$uid" ;;
		field:metadata.name) echo "$var=$name" ;;
		field:metadata.namespace) echo "$var=ml" ;;
		annotation:*)
			for a in "$@"; do
				[ "${a%%=*}" = "${src#annotation:}" ] && echo "$var=${a#*=}"
			done ;;
		*) echo "UNKNOWN_SOURCE_$var=$src" ;;
		esac
	done
}

cat >"$W/job.py" <<'PY'
import os
import sys
import time
import torch

go, secs = sys.argv[1], float(sys.argv[2])
free, total = torch.cuda.mem_get_info()
print("RESULT info total=%d free=%d" % (total, free), flush=True)
try:
    big = torch.empty(int(total * 1.25), dtype=torch.uint8, device="cuda")
    raised = 0
    del big
except torch.OutOfMemoryError:
    raised = 1
print("RESULT oom raised=%d" % raised, flush=True)
torch.cuda.empty_cache()
hold = torch.empty(total // 2, dtype=torch.uint8, device="cuda")
a = torch.randn(4096, 4096, device="cuda")
torch.cuda.synchronize()
print("RESULT ready", flush=True)
while not os.path.exists(go):
    time.sleep(0.05)
t0, n = time.time(), 0
while time.time() - t0 < secs:
    for _ in range(10):
        b = a @ a
    torch.cuda.synchronize()
    n += 10
print("RESULT done iters=%d seconds=%.2f finite=%d" % (n, time.time() - t0,
      int(torch.isfinite(b).all().item())), flush=True)
PY

start_pod() { # start_pod NAME UID [ANNOTATION=VALUE...]
	local name=$1
	pod_env "$@" >"$W/$name.env"
	say "### pod $name environment:"
	cat "$W/$name.env" >>"$log"
	# The machine's environment stands for the image's; of cuslice's own
	# variables the pod has exactly what the injection gives it.
	local unset=(-u LD_PRELOAD)
	for v in $(env | sed -n 's/^\(CUSLICE_[A-Z_]*\)=.*/\1/p'); do unset+=(-u "$v"); done
	env "${unset[@]}" $(cat "$W/$name.env") \
		"$PY" "$W/job.py" "$W/go" "$SECS" >"$W/$name.out" 2>&1 &
	pids+=($!)
}
start_pod trainer-a 7f1c0a52-aaaa-4000-8000-00000000000a
start_pod trainer-b 7f1c0a52-bbbb-4000-8000-00000000000b cuslice.io/weight=2
for _ in $(seq 600); do
	[ "$(cat "$W"/trainer-*.out 2>/dev/null | grep -c '^RESULT ready')" = 2 ] && break
	sleep 0.2
done
touch "$W/go"
sleep $((SECS / 2))
"$CUSLICE" status --dir "$RING" >"$W/status.txt" 2>>"$log"
"$CUSLICE" status --json --dir "$RING" >"$W/status.json" 2>>"$log"
"$CUSLICE" metrics --dir "$RING" >"$W/metrics.txt" 2>>"$log"
for p in "${pids[@]}"; do wait "$p"; done
pids=()
for f in trainer-a.out trainer-b.out status.txt status.json metrics.txt; do
	say "### $f"
	cat "$W/$f" >>"$log"
done

# 3 and 4. The checks.
card=$(sed -n 's/^cuslice_gpu_memory_total_bytes{[^}]*} \([0-9]*\)$/\1/p' "$W/metrics.txt" | head -1)
cap=$(( ${card:-0} / 4 ))
for pod in trainer-a trainer-b; do
	total=$(sed -n 's/^RESULT info total=\([0-9]*\).*/\1/p' "$W/$pod.out")
	raised=$(sed -n 's/^RESULT oom raised=\([0-9]*\)/\1/p' "$W/$pod.out")
	done_line=$(grep '^RESULT done' "$W/$pod.out")
	ok=FAIL; [ -n "$card" ] && [ "${total:-x}" = "$cap" ] && ok=pass
	row "$pod: mem_get_info total is the node default cap (card/4)" $ok "total $total, card $card, card/4 $cap"
	ok=FAIL; [ "$raised" = 1 ] && ok=pass
	row "$pod: a tensor of 1.25 x cap raises OutOfMemoryError" $ok "raised=$raised"
	ok=FAIL; [[ $done_line == *finite=1* ]] && ok=pass
	row "$pod: ran its matmuls beside the other pod" $ok "${done_line#RESULT }"
done
"$PY" - "$W/status.json" >>"$W/checks.txt" 2>&1 <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
members = [m for g in doc["gpus"] for m in g["members"] if m["alive"]]
gpus = {g["uuid"] for g in doc["gpus"] if any(m["alive"] for m in g["members"])}
by_pod = {(m.get("pod") or {}).get("name"): m for m in members}
want = {"trainer-a": {"memory": "policy", "weight": "policy", "priority": "policy"},
        "trainer-b": {"memory": "policy", "weight": "env", "priority": "policy"}}
print("CHECK members %s %d members on %d GPU" % ("pass" if len(members) == 2 and len(gpus) == 1 else "FAIL", len(members), len(gpus)))
for pod, w in want.items():
    m = by_pod.get(pod)
    ok = m is not None and m["sources"] == w and m["pod"]["namespace"] == "ml"
    print("CHECK %s %s sources=%s weight=%s cap=%s share10s=%s" % (
        pod, "pass" if ok else "FAIL", m and m["sources"], m and m["weight"],
        m and m["memory"]["cap_bytes"], m and m["gpu_share_10s"]))
PY
cat "$W/checks.txt" >>"$log"
while read -r _ what res detail; do
	row "cuslice status: $what" "$res" "$detail"
done < <(grep '^CHECK ' "$W/checks.txt")
grep -q '^CHECK ' "$W/checks.txt" || row "cuslice status --json read" FAIL "see k8s-gpu.log"
ia=$(sed -n 's/^RESULT done iters=\([0-9]*\).*/\1/p' "$W/trainer-a.out")
ib=$(sed -n 's/^RESULT done iters=\([0-9]*\).*/\1/p' "$W/trainer-b.out")
if [ -n "$ia" ] && [ -n "$ib" ] && [ $((ia + ib)) -gt 0 ]; then
	rows+=("| matmul iterations a : b (weights 1 : 2; reported, not judged) | - | $ia : $ib, b's share $(awk "BEGIN{printf \"%.2f\", $ib/($ia+$ib)}") |")
fi
finish
