#!/bin/bash
# run.sh - the ring on framework workloads (issue 13), native and cuslice
# side by side, REPS (3) repetitions in this one invocation:
#   mlp:    one MLP alone; the pair natively; under cuslice at 1:1, at 1:1
#           without loans (CUSLICE_BACKFILL_US=0), and at 2:1
#   server: the ResNet-18 server alone, beside the MLP natively, and as a
#           high member beside it under cuslice; gserver: the same with the
#           server replaying a CUDA graph (SERVER_GRAPH=1); server-qN and
#           gserver-qN: the high pair with the trainer's CUSLICE_HIGH_QUEUE=N
#           (N in QS, default "0": no queue bound). gserver-* and *-qN run
#           only when ONLY names them (the default set fills one 10-minute
#           device command)
#   spin:   the fixed-work kernel alone, pair and quad natively and under
#           cuslice, 3:1 under cuslice; a launch-bound member (tiny kernels,
#           a synchronize after each) alone and beside a compute-bound one
# usage: tests/gpu/frameworks/run.sh BUILD_DIR   (BUILD_DIR from tests/gpu/build.sh)
# ONLY="mlp-w21 mlp-cuslice …" runs only those scenarios (labels below);
# FIRST=N numbers the repetitions from N (to add runs to an earlier log).
# Writes $OUT/frameworks.log (every result line), $OUT/frameworks.md (medians
# and every repetition), $OUT/timelines.tar.gz (CUSLICE_TIMELINE files).
set -u
B=$1
here=$(cd "$(dirname "$0")" && pwd)
LIB=$B/hooks/libcuslice.so
SPIN=$B/examples/spin
OUT=${OUT:-/tmp/cuslice-out}
REPS=${REPS:-3}
SECS=${SECS:-4}         # PyTorch scenarios
SPIN_SECS=${SPIN_SECS:-3}
WORK=${WORK:-300000}    # compute-bound kernel (about 4.6 ms on an H100/H200)
TINY=${TINY:-200}       # launch-bound kernel
mkdir -p "$OUT"
LOG=$OUT/frameworks.log
TL=${TL:-$(mktemp -d /tmp/cuslice-tl.XXXX)}
[ -n "${APPEND:-}" ] || : >"$LOG"
export CUSLICE_DIR PYTHONUNBUFFERED=1
CUSLICE_DIR=$(mktemp -d /tmp/cuslice-fw.XXXX)
server=$here/../priority/server.py

# go N: wait until N processes are warm, then start them together.
go() {
	local n=$1 path=$2 t=0
	while [ "$(ls "$path".ready.* 2>/dev/null | wc -l)" -lt "$n" ] && [ $t -lt 1200 ]; do
		sleep 0.05
		t=$((t + 1))
	done
	touch "$path"
}

# torch_group LABEL SPEC...: SPEC is "kind:who:ENV=V,ENV=V" (kind mlp or
# server; env "-" for none); processes start together once warm.
# wanted LABEL: the scenario is in ONLY (or ONLY is empty).
wanted() {
	local s=${1%%/*}
	[ -z "${ONLY:-}" ] && [ "${s#gserver}" = "$s" ] && [ "${s%-q[0-9]*}" = "$s" ] && return 0
	case " ${ONLY:-} " in *" ${1%%/*} "*) return 0 ;; esac
	return 1
}

torch_group() {
	local label=$1 gof n=0
	shift
	wanted "$label" || return 0
	[ -n "${SKIP_TORCH:-}" ] && return 0  # a dry run of the script elsewhere
	gof=$(mktemp -u /tmp/cuslice-go.XXXX)
	for spec in "$@"; do
		IFS=: read -r kind who envs <<<"$spec"
		local e=()
		[ "$envs" != "-" ] && IFS=, read -ra e <<<"$envs"
		local prog=$here/mlp.py
		[ "$kind" = server ] && prog=$server
		env "${e[@]}" python3 "$prog" "$label/$who" "$SECS" "go:$gof" >>"$LOG" 2>&1 &
		n=$((n + 1))
	done
	go "$n" "$gof"
	wait
	rm -f "$gof" "$gof".ready.*
}

# spin_group LABEL SPEC...: SPEC is "who:work:ENV=V,…"
spin_group() {
	local label=$1 start
	shift
	wanted "$label" || return 0
	start=$(python3 -c 'import time; print("%.3f" % (time.time() + 1.2))')
	for spec in "$@"; do
		IFS=: read -r who work envs <<<"$spec"
		local e=()
		[ "$envs" != "-" ] && IFS=, read -ra e <<<"$envs"
		env "${e[@]}" "$SPIN" --seconds "$SPIN_SECS" --work "$work" --name "$label/$who" \
			--start-at "$start" >>"$LOG" 2>&1 &
	done
	wait
}

P="LD_PRELOAD=$LIB"
for r in $(seq "${FIRST:-1}" $((${FIRST:-1} + REPS - 1))); do
	echo "== repetition $r" >&2
	t() { echo "CUSLICE_TIMELINE=$TL/$1-r$r-%p.json"; }
	torch_group "mlp-alone/r$r" "mlp:a:-"
	torch_group "mlp-native/r$r" "mlp:a:-" "mlp:b:-"
	torch_group "mlp-cuslice/r$r" "mlp:a:$P,$(t pair11)" "mlp:b:$P,$(t pair11)"
	torch_group "mlp-noloans/r$r" "mlp:a:$P,CUSLICE_BACKFILL_US=0" "mlp:b:$P,CUSLICE_BACKFILL_US=0"
	torch_group "mlp-w21/r$r" "mlp:w2:$P,CUSLICE_WEIGHT=2,$(t pair21)" \
		"mlp:w1:$P,CUSLICE_WEIGHT=1,$(t pair21)"
	torch_group "server-alone/r$r" "server:s:-"
	torch_group "server-native/r$r" "server:s:-" "mlp:t:-"
	torch_group "server-cuslice/r$r" "server:s:$P,CUSLICE_PRIORITY=high,$(t server)" \
		"mlp:t:$P,$(t server)"
	G=SERVER_GRAPH=1
	for q in ${QS:-0}; do
		torch_group "server-q$q/r$r" "server:s:$P,CUSLICE_PRIORITY=high,$(t server-q$q)" \
			"mlp:t:$P,CUSLICE_HIGH_QUEUE=$q,$(t server-q$q)"
		torch_group "gserver-q$q/r$r" "server:s:$G,$P,CUSLICE_PRIORITY=high,$(t gserver-q$q)" \
			"mlp:t:$P,CUSLICE_HIGH_QUEUE=$q,$(t gserver-q$q)"
	done
	torch_group "gserver-alone/r$r" "server:s:$G"
	torch_group "gserver-native/r$r" "server:s:$G" "mlp:t:-"
	torch_group "gserver-cuslice/r$r" "server:s:$G,$P,CUSLICE_PRIORITY=high,$(t gserver)" \
		"mlp:t:$P,$(t gserver)"
	spin_group "spin-alone/r$r" "a:$WORK:-"
	spin_group "spin-native2/r$r" "a:$WORK:-" "b:$WORK:-"
	spin_group "spin-cuslice2/r$r" "a:$WORK:$P" "b:$WORK:$P"
	spin_group "spin-native4/r$r" "a:$WORK:-" "b:$WORK:-" "c:$WORK:-" "d:$WORK:-"
	spin_group "spin-cuslice4/r$r" "a:$WORK:$P" "b:$WORK:$P" "c:$WORK:$P" "d:$WORK:$P"
	spin_group "spin-w31/r$r" "w3:$WORK:$P,CUSLICE_WEIGHT=3" "w1:$WORK:$P,CUSLICE_WEIGHT=1"
	spin_group "launch-alone/r$r" "l:$TINY:-"
	spin_group "launch-native/r$r" "l:$TINY:-" "c:$WORK:-"
	spin_group "launch-cuslice/r$r" "l:$TINY:$P,$(t launch)" "c:$WORK:$P,$(t launch)"
done
[ -n "${APPEND:-}" ] && exit 0  # the caller summarizes
python3 "$here/summarize.py" "$LOG" "$TL" | tee "$OUT/frameworks.md"
tar czf "$OUT/timelines.tar.gz" -C "$TL" .
