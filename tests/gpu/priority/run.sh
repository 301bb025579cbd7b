#!/bin/bash
# run.sh - priority classes on a real GPU (ResNet-18 server beside training).
#
# usage: tests/gpu/priority/run.sh BUILD_DIR
# Runs, each for $SECS seconds and all in this one invocation: the server
# alone, training alone, the pair natively, the pair under cuslice with the
# server high, the pair with both normal, and a low training job beside a
# normal one. Raw lines go to $OUT/priority.log, the table to
# $OUT/priority.md.
set -u
B=$1
here=$(cd "$(dirname "$0")" && pwd)
ring=$here/../ring
LIB=$B/hooks/libcuslice.so
OUT=${OUT:-/tmp/cuslice-out}
mkdir -p "$OUT"
LOG=$OUT/priority.log
: >"$LOG"
SECS=${SECS:-10}
export CUSLICE_DIR
CUSLICE_DIR=$(mktemp -d /tmp/cuslice-prio.XXXX)
at() { python3 -c "import time; print('%.3f' % (time.time() + $1))"; }

# pair LABEL SERVER_ENV TRAIN_ENV: server and training started together.
pair() {
	local label=$1 senv=$2 tenv=$3 start
	start=$(at 10)
	env $senv python3 "$here/server.py" "$label" "$SECS" "$start" >>"$LOG" 2>&1 &
	env $tenv python3 "$ring/train.py" "$label" "$SECS" "$start" >>"$LOG" 2>&1 &
	wait
}

python3 "$here/server.py" alone "$SECS" >>"$LOG" 2>&1
python3 "$ring/train.py" alone "$SECS" >>"$LOG" 2>&1
pair native "" ""
pair high-normal "LD_PRELOAD=$LIB CUSLICE_PRIORITY=high" "LD_PRELOAD=$LIB"
for g in ${GUARDS:-80 100}; do
	pair "high-normal-guard$g" "LD_PRELOAD=$LIB CUSLICE_PRIORITY=high CUSLICE_HIGH_MAX_SHARE=$g" \
		"LD_PRELOAD=$LIB CUSLICE_HIGH_MAX_SHARE=$g"
done
pair normal-normal "LD_PRELOAD=$LIB" "LD_PRELOAD=$LIB"
start=$(at 10)
LD_PRELOAD=$LIB CUSLICE_PRIORITY=low python3 "$ring/train.py" low-normal/low "$SECS" "$start" >>"$LOG" 2>&1 &
LD_PRELOAD=$LIB python3 "$ring/train.py" low-normal/normal "$SECS" "$start" >>"$LOG" 2>&1 &
wait
python3 "$here/summarize.py" "$LOG" | tee "$OUT/priority.md"
