#!/bin/bash
# run.sh - the token ring on a real GPU: fairness, throughput, weights, slice
# sweep, PyTorch pairs, kill -9 of the holder, CUDA graphs, hand-off latency.
#
# usage: tests/gpu/ring/run.sh BUILD_DIR        (BUILD_DIR from tests/gpu/build.sh)
# Every comparison (native vs cuslice, 1 vs N processes) is measured in this
# one run. Raw lines go to $OUT/ring.log; summarize.py prints the tables.
set -u
B=$1
here=$(cd "$(dirname "$0")" && pwd)
LIB=$B/hooks/libcuslice.so
SPIN=$B/examples/spin
CLI=$B/tools/cuslice
OUT=${OUT:-/tmp/cuslice-out}
mkdir -p "$OUT"
LOG=$OUT/ring.log
: > "$LOG"
export CUSLICE_DIR
CUSLICE_DIR=$(mktemp -d /tmp/cuslice-ring.XXXX)
WORK=${WORK:-150000}
SECS=${SECS:-6}

now_plus() { python3 -c "import time; print('%.3f' % (time.time() + $1))"; }

# spin_group LABEL PRELOAD N [VAR=VALUE ...]: N spins started together.
spin_group() {
	local label=$1 pre=$2 n=$3
	shift 3
	local start
	start=$(now_plus 1.5)
	for i in $(seq "$n"); do
		local envs=("$@")
		[ "$pre" = 1 ] && envs+=("LD_PRELOAD=$LIB")
		env "${envs[@]}" "$SPIN" --seconds "$SECS" --work "$WORK" --name "$label/$i" \
			--start-at "$start" >>"$LOG" 2>&1 &
	done
	wait
}

echo "== calibration and fairness" >&2
spin_group alone 0 1
spin_group native2 0 2
spin_group cuslice2 1 2
spin_group native4 0 4
spin_group cuslice4 1 4

echo "== weights 3:1" >&2
start=$(now_plus 1.5)
CUSLICE_WEIGHT=3 LD_PRELOAD=$LIB "$SPIN" --seconds "$SECS" --work "$WORK" --name w31/w3 --start-at "$start" >>"$LOG" 2>&1 &
CUSLICE_WEIGHT=1 LD_PRELOAD=$LIB "$SPIN" --seconds "$SECS" --work "$WORK" --name w31/w1 --start-at "$start" >>"$LOG" 2>&1 &
wait

echo "== slice sweep" >&2
for s in ${SWEEP:-2 5 10 20 50 100}; do
	spin_group "slice$s" 1 2 CUSLICE_SLICE_MS=$s
done

echo "== hand-off latency and status while a pair runs" >&2
start=$(now_plus 1)
for i in 1 2; do
	LD_PRELOAD=$LIB "$SPIN" --seconds 5 --work "$WORK" --name status/$i --start-at "$start" >>"$LOG" 2>&1 &
done
sleep 4
[ -x "$CLI" ] && "$CLI" status --json >"$OUT/status-pair.json" 2>>"$LOG"
[ -x "$CLI" ] && "$CLI" status >"$OUT/status-pair.txt" 2>>"$LOG"
python3 "$here/ringstat.py" "$CUSLICE_DIR" >>"$LOG" 2>&1
wait

echo "== kill -9 of the holder" >&2
LD_PRELOAD=$LIB "$SPIN" --seconds 8 --work "$WORK" --name kill/victim >>"$LOG" 2>&1 &
victim=$!
LD_PRELOAD=$LIB "$SPIN" --seconds 8 --work "$WORK" --name kill/survivor >>"$LOG" 2>&1 &
survivor=$!
sleep 3
kill -9 $victim
wait $survivor
echo "kill survivor_exit=$?" >>"$LOG"

echo "== PyTorch training pairs" >&2
T=${TSECS:-10}
python3 "$here/train.py" alone "$T" >>"$LOG" 2>&1
start=$(now_plus 8)
python3 "$here/train.py" native/1 "$T" "$start" >>"$LOG" 2>&1 &
python3 "$here/train.py" native/2 "$T" "$start" >>"$LOG" 2>&1 &
wait
start=$(now_plus 8)
LD_PRELOAD=$LIB python3 "$here/train.py" cuslice/1 "$T" "$start" >>"$LOG" 2>&1 &
LD_PRELOAD=$LIB python3 "$here/train.py" cuslice/2 "$T" "$start" >>"$LOG" 2>&1 &
wait

start=$(now_plus 8)
CUSLICE_WEIGHT=2 LD_PRELOAD=$LIB python3 "$here/train.py" weights21/w2 "$T" "$start" >>"$LOG" 2>&1 &
CUSLICE_WEIGHT=1 LD_PRELOAD=$LIB python3 "$here/train.py" weights21/w1 "$T" "$start" >>"$LOG" 2>&1 &
wait

echo "== CUDA graphs with two members" >&2
LD_PRELOAD=$LIB python3 "$here/graphs.py" g1 5 >>"$LOG" 2>&1 &
LD_PRELOAD=$LIB python3 "$here/graphs.py" g2 5 >>"$LOG" 2>&1 &
wait

python3 "$here/summarize.py" "$LOG" | tee "$OUT/ring-summary.md"
