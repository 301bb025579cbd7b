#!/bin/bash
# gpu-top-capture.sh - on a real GPU: what `cuslice top`, `status`, `metrics`
# and `doctor` show while two PyTorch training jobs share the GPU.
#
# usage (on the GPU machine, e.g. through the device tool with .deps carried):
#   tools/gpu-top-capture.sh
# Builds with tests/gpu/build.sh, starts tests/gpu/ring/train.py twice under
# `cuslice run` (group train, 20G cap; group eval, 10G cap, weight 2), waits
# for their GPU-time history to fill, then captures `cuslice top` (with tmux
# if it is installed, else with tools/pty-screen.py) into $OUT/top.txt, and
# status, status --json, metrics and doctor beside it. Carry .deps.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-/tmp/cuslice-top-out}
mkdir -p "$OUT"
B=$("$root/tests/gpu/build.sh") || { echo "build failed"; exit 1; }
CLI=$B/tools/cuslice
# Where the machine lacks the ncurses headers (or the CLI did not build), a
# cuslice built elsewhere with ncurses linked in statically may be carried
# as .deps/cli/cuslice; it finds the library through CUSLICE_LIB.
TOPCLI=$CLI
export CUSLICE_LIB=$B/hooks/libcuslice.so
[ -x "$CLI" ] || CLI=$root/.deps/cli/cuslice
if "$CLI" top </dev/null 2>&1 | grep -q "not available"; then
	TOPCLI=$root/.deps/cli/cuslice
	echo "top: this build has no ncurses; using the carried $TOPCLI" >&2
fi
TRAIN=$root/tests/gpu/ring/train.py
W=$(mktemp -d /tmp/cuslice-top.XXXXXX)
export CUSLICE_DIR=$W/cuslice PYTHONUNBUFFERED=1
SECS=${SECS:-45}

"$CLI" run --group train --mem 20G -- python3 "$TRAIN" jobA "$SECS" >"$W/jobA.log" 2>&1 &
a=$!
"$CLI" run --group eval --mem 10G --weight 2 -- python3 "$TRAIN" jobB "$SECS" >"$W/jobB.log" 2>&1 &
b=$!
sleep "${SETTLE:-25}"

{
	echo "# $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader)"
	echo "# jobs: pid $a (group train, --mem 20G, weight 1), pid $b (group eval, --mem 10G, weight 2)"
} >"$OUT/top.txt"
if command -v tmux >/dev/null 2>&1; then
	tmux -L cuslice-top -f /dev/null new-session -d -s top -x 132 -y 20 "$TOPCLI top; sleep 30"
	sleep 3
	tmux -L cuslice-top capture-pane -p -t top >>"$OUT/top.txt"
	tmux -L cuslice-top send-keys -t top q
	sleep 1
	tmux -L cuslice-top kill-server
	echo "(captured with tmux)" >&2
else
	python3 "$root/tools/pty-screen.py" --cols 132 --rows 20 --seconds 3 -- "$TOPCLI" top \
		>>"$OUT/top.txt" 2>"$W/pty.log"
	echo "(captured with tools/pty-screen.py: no tmux on this machine; $(cat "$W/pty.log"))" >&2
fi
"$CLI" status >"$OUT/status.txt" 2>&1
"$CLI" status --json >"$OUT/status.json" 2>&1
"$CLI" metrics >"$OUT/metrics.txt" 2>&1
"$CLI" doctor >"$OUT/doctor.txt" 2>&1
wait $a; echo "jobA rc=$?" >>"$W/jobs.log"
wait $b; echo "jobB rc=$?" >>"$W/jobs.log"
cat "$W/jobA.log" "$W/jobB.log" "$W/jobs.log" >"$OUT/jobs.txt"
cat "$OUT/top.txt" "$OUT/status.txt" "$OUT/jobs.txt" "$OUT/doctor.txt"
