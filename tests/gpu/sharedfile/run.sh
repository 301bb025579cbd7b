#!/bin/bash
# run.sh BUILD - the per-GPU file against another node user, on a real GPU
# (issue 14, findings 1 and 6).
#
# Two PyTorch training processes (../ring/train.py) share the GPU under
# libcuslice.so while this script, playing another process on the node,
# truncates their live file to 0 bytes, cuts it through the second member's
# slot, overwrites the ring's page with random bytes and grows it to 64 MiB.
# Both must finish their 30 s with exit status 0, and `cuslice status` must
# list both again afterwards. Then a third process of another ABI major
# (libcuslice_abi_major.so, built with -DCUSLICE_TEST_ABI_MAJOR=99 as in CI) must
# train too and say, without CUSLICE_LOG, that it runs unfenced.
# Writes $OUT/sharedfile.md and $OUT/sharedfile-logs.txt. About 1.5 min.
set -u
B=${1:?usage: run.sh BUILD}
root=$(cd "$(dirname "$0")/../../.." && pwd)
OUT=${OUT:-/tmp/cuslice-gpu-out}
LIB=${LIB:-$B/hooks/libcuslice.so}
PY=${PYTHON:-python3}
CLI=$B/tools/cuslice
mkdir -p "$OUT"
work=$(mktemp -d /tmp/cuslice-sharedfile.XXXXXX)
log=$OUT/sharedfile-logs.txt
: >"$log"
export CUSLICE_DIR=$work/ring CUSLICE_SLICE_MS=20 PYTHONUNBUFFERED=1
fail=0
note() { echo "$*" | tee -a "$log"; }

live() { "$CLI" status --json 2>/dev/null | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
print(sum(1 for g in d["gpus"] for m in g["members"] if m["alive"]))' 2>/dev/null || echo 0; }

pids=()
for n in a b; do
	LD_PRELOAD=$LIB "$PY" "$root/tests/gpu/ring/train.py" "$n" 30 >"$work/train-$n.txt" 2>&1 &
	pids+=($!)
done
for _ in $(seq 120); do [ "$(live)" = 2 ] && break; sleep 0.5; done
f=$(ls "$CUSLICE_DIR"/gpu-*.shm 2>/dev/null | head -1)
note "members before: $(live) file: $f size $(stat -c %s "$f" 2>/dev/null)"
sleep 4; truncate -s 0 "$f"; note "$(date +%T) truncate -s 0"
sleep 4; truncate -s $((8192 + 2048 + 100)) "$f"; note "$(date +%T) cut through slot 1"
sleep 4; "$PY" -c "import os; fd = os.open('$f', os.O_WRONLY); os.pwrite(fd, os.urandom(4096), 4096)"
note "$(date +%T) ring page overwritten"
sleep 4; truncate -s 64M "$f"; note "$(date +%T) grown to 64 MiB"
sleep 2
after=$(live)
note "members after: $after size $(stat -c %s "$f")"
[ "$after" = 2 ] || fail=1
rcs=()
for i in 0 1; do
	wait "${pids[$i]}"; rc=$?; rcs+=("$rc")
	[ "$rc" = 0 ] || fail=1
done
"$CLI" status >>"$log" 2>&1

# Another ABI major on the same folder: refused, visibly, and still runs.
LIB99=$B/tests/integration/sharedfile/libcuslice_abi_major.so
ninja -C "$B" tests/integration/sharedfile/libcuslice_abi_major.so >>"$log" 2>&1 ||
	note "cannot build $LIB99 (the CI's second build, ABI 99)"
LD_PRELOAD=$LIB99 "$PY" "$root/tests/gpu/ring/train.py" c 5 \
	>"$work/train-c.txt" 2>"$work/train-c.err"
rc_c=$?
grep -q "ABI 2, this library speaks ABI 99.*not fenced" "$work/train-c.err" || fail=1
[ "$rc_c" = 0 ] || fail=1

{
	echo "# Shared file under another node user (GPU)"
	echo
	echo "| process | exit | result |"
	echo "|---|---|---|"
	for i in 0 1; do
		n=$([ $i = 0 ] && echo a || echo b)
		echo "| train $n (ABI 2) | ${rcs[$i]} | $(grep RESULT "$work/train-$n.txt" | tail -1) |"
	done
	echo "| train c (ABI 99) | $rc_c | $(grep RESULT "$work/train-c.txt" | tail -1) |"
	echo
	echo "Members listed by \`cuslice status\` after the cuts: $after of 2."
	echo
	echo "ABI 99's stderr (no CUSLICE_LOG):"
	echo
	sed 's/^/    /' "$work/train-c.err" | tail -3
	echo
	echo "Result: $([ $fail = 0 ] && echo PASS || echo FAIL)"
} >"$OUT/sharedfile.md"
for n in a b c; do echo "== train-$n" >>"$log"; cat "$work/train-$n.txt" >>"$log"; done
cat "$OUT/sharedfile.md"
rm -rf "$work"
exit $fail
