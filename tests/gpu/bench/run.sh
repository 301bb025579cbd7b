#!/usr/bin/env bash
# tests/gpu/bench/run.sh - launch overhead of cuslice on a real GPU.
#
# Builds launch_overhead.cu (static cudart, the nvcc default) and runs it in
# one invocation without and with LD_PRELOAD=libcuslice.so, alternating, REPS
# times each (plain, cuslice, plain, cuslice, ...), so that clock and
# thermal drift hit both alike. With the library it also runs with
# CUSLICE_RING=off (interception and counting only), to tell the token
# ring's share of the cost from the hooks'. Prints a markdown table of the
# medians and the ratio of each mode to the plain run; a ratio of 1.010 is
# 1% extra cost per launch.
#
# usage: tests/gpu/bench/run.sh
# environment:
#   LIB      libcuslice.so (default: build it with meson into $WORK)
#   OUT      results folder (default ./gpu-out): bench.md (table),
#            bench-results.txt ("<mode> <rep> <metric> <value>" per run),
#            bench-raw.txt (every run's output and trace counts)
#   WORK     scratch folder (default: a new folder under /tmp, removed at exit)
#   NVCC     CUDA compiler (default: nvcc on PATH, else /usr/local/cuda/bin/nvcc)
#   REPS     repetitions of each mode (default 3)
#   ASYNC_N  launches in the async part (default 200000)
#   SYNC_N   launch+sync iterations (default 20000)
#   UTHASH_INCLUDE  folder holding uthash.h, passed to meson when LIB is built
# Takes about half a minute on an H100.
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
OUT=${OUT:-$PWD/gpu-out}
REPS=${REPS:-3}
ASYNC_N=${ASYNC_N:-200000}
SYNC_N=${SYNC_N:-20000}
if [ -z "${WORK:-}" ]; then
	WORK=$(mktemp -d /tmp/cuslice-gpu-bench.XXXXXX)
	trap 'rm -rf "$WORK"' EXIT
fi
mkdir -p "$OUT" "$WORK"
RAW=$OUT/bench-raw.txt
: >"$RAW"
if [ -z "${NVCC:-}" ]; then
	if command -v nvcc >/dev/null 2>&1; then NVCC=nvcc; else NVCC=/usr/local/cuda/bin/nvcc; fi
fi

if [ -z "${LIB:-}" ]; then
	opts=(-Dbuildtype=debugoptimized -Dtests=disabled)
	[ -n "${UTHASH_INCLUDE:-}" ] && opts+=("-Duthash_include=$UTHASH_INCLUDE")
	if ! meson setup "$WORK/build" "$ROOT" "${opts[@]}" >>"$RAW" 2>&1 ||
	   ! ninja -C "$WORK/build" hooks/libcuslice.so >>"$RAW" 2>&1; then
		echo "could not build libcuslice.so (see $RAW); set LIB or UTHASH_INCLUDE" >&2
		exit 2
	fi
	LIB=$WORK/build/hooks/libcuslice.so
fi
[ -f "$LIB" ] || { echo "LIB=$LIB does not exist" >&2; exit 2; }
LIB=$(cd "$(dirname "$LIB")" && pwd)/$(basename "$LIB")
export CUSLICE_DIR=$WORK/shm
mkdir -p "$CUSLICE_DIR"

BIN=$WORK/launch_overhead
echo "build: $NVCC -arch=sm_90 -O2 -o $BIN $HERE/launch_overhead.cu" >>"$RAW"
if ! "$NVCC" -arch=sm_90 -O2 -o "$BIN" "$HERE/launch_overhead.cu" >>"$RAW" 2>&1; then
	echo "could not build launch_overhead.cu (see $RAW)" >&2
	exit 2
fi

# One run: mode name, then extra environment. Appends "<mode> <rep> <metric>
# <value>" lines to $WORK/results and the raw output to $RAW.
run_mode() {
	local mode=$1 rep=$2
	shift 2
	local trace=$WORK/trace-$mode-$rep-%p.txt
	echo "===== $mode rep $rep: $* $BIN $ASYNC_N $SYNC_N" >>"$RAW"
	if ! env "$@" CUSLICE_TRACE="$trace" "$BIN" "$ASYNC_N" "$SYNC_N" >"$WORK/out" 2>&1; then
		cat "$WORK/out" >>"$RAW"
		echo "$mode run $rep failed (see $RAW)" >&2
		return 1
	fi
	cat "$WORK/out" >>"$RAW"
	awk -v m="$mode" -v r="$rep" '$1 == "RESULT" { print m, r, $2, $3 }' "$WORK/out" \
		>>"$WORK/results"
	# With the library: prove the launches went through it.
	for f in "$WORK"/trace-"$mode"-"$rep"-*.txt; do
		[ -e "$f" ] || continue
		echo "trace: $(grep -E '^cuLaunchKernel(_ptsz)? ' "$f" | tr '\n' ' ')" >>"$RAW"
		awk -v m="$mode" -v r="$rep" '$1 ~ /^cuLaunchKernel(_ptsz)?$/ { n += $2 }
			END { print m, r, "traced_launches", n + 0 }' "$f" >>"$WORK/results"
	done
}

GPU=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)
: >"$WORK/results"
failed=0
for rep in $(seq 1 "$REPS"); do
	run_mode plain "$rep" LD_PRELOAD= || failed=1
	run_mode cuslice "$rep" LD_PRELOAD="$LIB" || failed=1
	run_mode cuslice_ring_off "$rep" LD_PRELOAD="$LIB" CUSLICE_RING=off || failed=1
done
cp "$WORK/results" "$OUT/bench-results.txt"

# Medians per mode and metric, and each mode against plain.
{
	echo "## Launch overhead (tests/gpu/bench/launch_overhead.cu)"
	echo
	echo "GPU: ${GPU:-unknown}; $ASYNC_N async launches, $SYNC_N launch+sync; median of $REPS"
	echo "alternating runs per mode; ratio = mode / plain (1.010 = 1% more per launch)."
	echo
	awk '
	function median(key,   n, i, j, t, a) {
		n = split(vals[key], a, " ")
		for (i = 2; i <= n; i++)
			for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
				t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
			}
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	{
		key = $1 SUBSEP $3
		vals[key] = vals[key] (vals[key] == "" ? "" : " ") $4
		if (!($3 in seen_metric)) { seen_metric[$3] = 1; metrics[++nm] = $3 }
		if (!($1 in seen_mode)) { seen_mode[$1] = 1; modes[++nmo] = $1 }
	}
	END {
		printf "| metric |"
		for (i = 1; i <= nmo; i++) printf " %s |", modes[i]
		for (i = 2; i <= nmo; i++) printf " %s / plain |", modes[i]
		printf "\n|---|"
		for (i = 1; i < 2 * nmo; i++) printf "---|"
		printf "\n"
		for (m = 1; m <= nm; m++) {
			metric = metrics[m]
			printf "| %s |", metric
			for (i = 1; i <= nmo; i++) {
				k = modes[i] SUBSEP metric
				if (k in vals) printf " %s |", median(k); else printf " |"
			}
			base = modes[1] SUBSEP metric
			for (i = 2; i <= nmo; i++) {
				k = modes[i] SUBSEP metric
				if ((k in vals) && (base in vals) && median(base) + 0 > 0 &&
				    metric !~ /^(async_launches|sync_iterations|traced_launches)$/)
					printf " %.3f |", median(k) / median(base)
				else
					printf " |"
			}
			printf "\n"
		}
	}' "$WORK/results"
	echo
	echo "Lower is better for every *_us metric, higher for async_launches_per_s."
	echo "traced_launches: cuLaunchKernel calls cuslice counted in one run (warm-up included)."
} | tee "$OUT/bench.md"
exit $failed
