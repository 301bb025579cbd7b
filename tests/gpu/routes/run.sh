#!/usr/bin/env bash
# tests/gpu/routes/run.sh - does cuslice see every workload on a real GPU?
#
# Runs each workload once under LD_PRELOAD=libcuslice.so with
# CUSLICE_TRACE=$OUT/trace-<name>-%p.txt and prints a markdown table: did the
# workload pass its own correctness check, and how many calls of the launch
# and allocation entry points the trace counted (all of the workload's
# processes added up). The machine's GPU, driver and library versions are
# printed first. Workloads whose toolchain is missing are reported as SKIP.
#
# usage: tests/gpu/routes/run.sh            (from anywhere)
# environment:
#   LIB      libcuslice.so to preload (default: build it with meson into $WORK)
#   OUT      where the results go (default ./gpu-out); at most 8 files:
#            routes.md (versions + table), routes-logs.txt (every workload's
#            output), routes-traces.txt (every trace file), routes-raw.tar.gz
#   WORK     scratch folder for builds, kept (default: a new folder under /tmp,
#            removed at exit)
#   NVCC     the CUDA compiler (default: nvcc on PATH, else /usr/local/cuda/bin/nvcc)
#   PYTHON   the Python that holds PyTorch, JAX and CuPy (default python3)
#   ONLY     space-separated workload names to run (default: all)
#   BASELINE=1  also run each workload without the library (correctness only)
#   UTHASH_INCLUDE  folder holding uthash.h, passed to meson when LIB is built
#   CUSLICE_COMMIT  the commit to print when the tree has no .git
# Needs no network. Takes about two minutes on an H100.
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
OUT=${OUT:-$PWD/gpu-out}
if [ -z "${WORK:-}" ]; then
	WORK=$(mktemp -d /tmp/cuslice-gpu-routes.XXXXXX)
	trap 'rm -rf "$WORK"' EXIT
fi
PYTHON=${PYTHON:-python3}
ONLY=${ONLY:-}
BASELINE=${BASELINE:-0}
TIMEOUT=${TIMEOUT:-300}
mkdir -p "$OUT" "$WORK"
LOGS=$OUT/routes-logs.txt
: >"$LOGS"

if [ -z "${NVCC:-}" ]; then
	if command -v nvcc >/dev/null 2>&1; then NVCC=nvcc; else NVCC=/usr/local/cuda/bin/nvcc; fi
fi

note() { echo "$*" | tee -a "$LOGS" >&2; }

# ---- the library ----
build_lib() {
	local opts=(-Dbuildtype=debugoptimized -Dtests=disabled)
	[ -n "${UTHASH_INCLUDE:-}" ] && opts+=("-Duthash_include=$UTHASH_INCLUDE")
	note "building libcuslice.so in $WORK/build"
	if ! meson setup "$WORK/build" "$ROOT" "${opts[@]}" >>"$LOGS" 2>&1 ||
	   ! ninja -C "$WORK/build" hooks/libcuslice.so >>"$LOGS" 2>&1; then
		note "could not build libcuslice.so (see $LOGS); set LIB or UTHASH_INCLUDE"
		exit 2
	fi
	LIB=$WORK/build/hooks/libcuslice.so
}
if [ -z "${LIB:-}" ]; then
	build_lib
fi
if [ ! -f "$LIB" ]; then
	note "LIB=$LIB does not exist"
	exit 2
fi
LIB=$(cd "$(dirname "$LIB")" && pwd)/$(basename "$LIB")
export CUSLICE_DIR=$WORK/shm   # the per-GPU files stay out of $OUT
mkdir -p "$CUSLICE_DIR"

# ---- versions ----
pyver() { "$PYTHON" -c "import $1 as m; print(m.__version__)" 2>/dev/null || echo "absent"; }
GPU=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
DRIVER=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -1)
NVCC_VER=$("$NVCC" --version 2>/dev/null | sed -n 's/.*release \([0-9.]*\).*/\1/p')
GLIBC=$(ldd --version 2>/dev/null | head -1 | awk '{print $NF}')
COMMIT=${CUSLICE_COMMIT:-$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)}
DIRTY=$(git -C "$ROOT" status --porcelain 2>/dev/null | grep -qv '^??' && echo "+changes")
TORCH=$(pyver torch)
JAX=$(pyver jax)
CUPY=$(pyver cupy)

# ---- workloads: name, then the command ----
declare -a NAMES=() CMDS=()
add() { NAMES+=("$1"); CMDS+=("$2"); }

# Builds a CUDA program into $WORK; prints ok, skip (no nvcc) or fail.
build_cuda() {
	local name=$1 src=$2
	shift 2
	if ! command -v "$NVCC" >/dev/null 2>&1; then
		echo skip
		return
	fi
	echo "building $name: $NVCC -arch=sm_90 -O2 $* -o $WORK/$name $src" >>"$LOGS"
	if "$NVCC" -arch=sm_90 -O2 "$@" -o "$WORK/$name" "$src" >>"$LOGS" 2>&1; then
		echo ok
	else
		echo fail
	fi
}
CUDA_C=$(build_cuda cuda_c "$HERE/cuda_c.cu")
CUDA_C_SHARED=$(build_cuda cuda_c_shared "$HERE/cuda_c.cu" -cudart shared)
CUBLAS=$(build_cuda cublas_sgemm "$HERE/cublas_sgemm.cu" -lcublas)

add cuda_c "$WORK/cuda_c"
add cuda_c_shared "$WORK/cuda_c_shared"
add cublas "$WORK/cublas_sgemm"
add torch "$PYTHON $HERE/torch_mlp.py"
add torch_expandable "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True $PYTHON $HERE/torch_mlp.py"
add torch_mallocasync "PYTORCH_CUDA_ALLOC_CONF=backend:cudaMallocAsync $PYTHON $HERE/torch_mlp.py"
add jax "$PYTHON $HERE/jax_matmul.py"
add cupy "$PYTHON $HERE/cupy_ops.py"

# ok, skip (toolchain absent) or fail (the build failed).
available() {
	case $1 in
	cuda_c) echo "$CUDA_C" ;;
	cuda_c_shared) echo "$CUDA_C_SHARED" ;;
	cublas) echo "$CUBLAS" ;;
	torch*) [ "$TORCH" != absent ] && echo ok || echo skip ;;
	jax) [ "$JAX" != absent ] && echo ok || echo skip ;;
	cupy) [ "$CUPY" != absent ] && echo ok || echo skip ;;
	esac
}

# Sums symbol counts over the trace files of one workload: "sym count" lines.
sum_traces() {
	cat "$OUT"/trace-"$1"-*.txt 2>/dev/null |
		awk '{ n[$1] += $2 } END { for (s in n) print s, n[s] }'
}
count() { awk -v s="$2" '$1 == s { print $2; f = 1 } END { if (!f) print 0 }' <<<"$1"; }
# Base name plus its _ptsz variant.
both() { echo $(( $(count "$1" "$2") + $(count "$1" "${2}_ptsz") )); }

# The other launch, allocation and memory-query entry points worth a mention.
OTHER='^(cuLaunchCooperativeKernel|cuGraphLaunch|cuMemAllocAsync|cuMemAllocFromPoolAsync'
OTHER+='|cuMemAllocManaged|cuMemAllocPitch|cuMemGetInfo|nvmlDeviceGetMemoryInfo)'
ROWS=()
FAILED=0
for i in "${!NAMES[@]}"; do
	name=${NAMES[$i]} cmd=${CMDS[$i]}
	[ -n "$ONLY" ] && [[ " $ONLY " != *" $name "* ]] && continue
	case $(available "$name") in
	skip)
		ROWS+=("| $name | SKIP (toolchain absent) | | | | | | \`$cmd\` |")
		continue ;;
	fail)
		ROWS+=("| $name | FAIL (build, see routes-logs.txt) | | | | | | \`$cmd\` |")
		FAILED=$((FAILED + 1))
		continue ;;
	esac
	base=""
	if [ "$BASELINE" = 1 ]; then
		echo "===== $name (without cuslice): $cmd" >>"$LOGS"
		base=" (alone: FAIL)"
		timeout "$TIMEOUT" env $cmd >>"$LOGS" 2>&1 && base=" (alone: pass)"
	fi
	echo "===== $name: LD_PRELOAD=$LIB CUSLICE_TRACE=$OUT/trace-$name-%p.txt $cmd" >>"$LOGS"
	start=$(date +%s.%N)
	timeout "$TIMEOUT" env LD_PRELOAD="$LIB" CUSLICE_TRACE="$OUT/trace-$name-%p.txt" \
		$cmd >>"$LOGS" 2>&1
	rc=$?
	secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	echo "===== $name: exit $rc after ${secs}s" >>"$LOGS"
	totals=$(sum_traces "$name")
	if [ -z "$totals" ]; then
		result="FAIL (no trace)"
	elif [ $rc -eq 0 ]; then
		result="pass"
	else
		result="FAIL (exit $rc)"
	fi
	[ "$result" = pass ] || FAILED=$((FAILED + 1))
	lk=$(both "$totals" cuLaunchKernel)
	lkx=$(both "$totals" cuLaunchKernelEx)
	ma=$(count "$totals" cuMemAlloc_v2)
	mc=$(count "$totals" cuMemCreate)
	other=$(sort <<<"$totals" | awk -v re="$OTHER" \
		'$2 > 0 && $1 ~ re { printf "%s%s=%s", sep, $1, $2; sep = " " }')
	procs=$(ls "$OUT"/trace-"$name"-*.txt 2>/dev/null | wc -l)
	ROWS+=("| $name | $result$base | $lk | $lkx | $ma | $mc | $other | \`$cmd\` ($procs proc, ${secs}s) |")
done

{
	echo "## cuslice interception on a real GPU"
	echo
	echo "| | |"
	echo "|---|---|"
	echo "| GPU | ${GPU:-unknown} |"
	echo "| driver | ${DRIVER:-unknown} |"
	echo "| CUDA (nvcc) | ${NVCC_VER:-unknown} |"
	echo "| glibc | ${GLIBC:-unknown} |"
	echo "| PyTorch | $TORCH |"
	echo "| JAX | $JAX |"
	echo "| CuPy | $CUPY |"
	echo "| cuslice | $COMMIT$DIRTY, $LIB |"
	echo "| date | $(date -u +%Y-%m-%dT%H:%MZ) |"
	echo
	echo "Counts are calls seen by cuslice (CUSLICE_TRACE, all processes of the workload"
	echo "added up); launch columns include the \`_ptsz\` variants."
	echo
	echo "| workload | result | cuLaunchKernel | cuLaunchKernelEx | cuMemAlloc_v2 | cuMemCreate | other launch/alloc/query calls | command |"
	echo "|---|---|---|---|---|---|---|---|"
	printf '%s\n' "${ROWS[@]}"
} | tee "$OUT/routes.md"

# Keep $OUT to a few files: every trace in one text file, the raw ones packed.
for f in "$OUT"/trace-*.txt; do
	[ -e "$f" ] || continue
	echo "===== $(basename "$f")"
	grep -v ' 0$' "$f"
done >"$OUT/routes-traces.txt"
if ls "$OUT"/trace-*.txt >/dev/null 2>&1; then
	(cd "$OUT" && tar -czf routes-raw.tar.gz trace-*.txt) && rm -f "$OUT"/trace-*.txt
fi
exit $((FAILED > 0))
