#!/bin/bash
# run.sh - the H100 evidence for memory caps (issue 3), in one go.
#
#   LIB=/path/to/libcuslice.so [OUT=dir] [CUDA_HOME=/usr/local/cuda] tests/gpu/memory/run.sh
#
# Builds caps.cu (nvcc -arch=sm_90) and ctx_overhead.c, then runs, each with
# a fresh CUSLICE_DIR: the context-overhead measurements WITHOUT the library,
# caps.cu under a 2 GiB cap (context reserve 0, then the default), PyTorch
# under 4 GiB with each allocator, JAX under 4 GiB, two processes sharing a
# group, and NVML. Everything goes to $OUT/gpu-memory.log; the RESULT lines
# also to $OUT/results.txt. Needs python3 with torch (and jax for its step;
# a missing framework is reported and skipped). Run alone on an idle GPU.
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${LIB:?set LIB to the built libcuslice.so}"
LIB=$(readlink -f "$LIB")
cuda=${CUDA_HOME:-/usr/local/cuda}
out=${OUT:-$(mktemp -d /tmp/cuslice-gpu-memory.XXXXXX)}
mkdir -p "$out"
work=$(mktemp -d /tmp/cuslice-gpu-work.XXXXXX)
log=$out/gpu-memory.log
: > "$log"
PY=${PYTHON:-python3}

say() { echo "$*" | tee -a "$log"; }

# run NAME CMD... : one step, in a fresh ledger folder, output logged.
run() {
	local name=$1; shift
	say "### $name: $*"
	CUSLICE_DIR="$work/dir-$name-$RANDOM" "$@" 2>&1 | tee -a "$log"
	say "### $name rc=${PIPESTATUS[0]}"
}

nvcc=$(command -v nvcc || echo "$cuda/bin/nvcc")
say "### build: $nvcc -arch=sm_90"
"$nvcc" -arch=sm_90 -o "$work/caps" "$here/caps.cu" 2>&1 | tee -a "$log"
cc -O2 -I"$cuda/include" -o "$work/ctx_overhead" "$here/ctx_overhead.c" -ldl 2>&1 | tee -a "$log"
nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv 2>&1 | tee -a "$log"

# 1. What the driver takes for a context, without the library.
run ctx_overhead env -u LD_PRELOAD "$work/ctx_overhead"
run torch_overhead env -u LD_PRELOAD "$PY" "$here/torch_overhead.py"

# 2. A 2 GiB cap on every allocation path (issue: stops at 2 GiB +-1 chunk).
G2=$((2 << 30))
run caps_reserve0 env LD_PRELOAD="$LIB" CUSLICE_MEM_LIMIT=2G CUSLICE_CTX_RESERVE=0 CAP_BYTES=$G2 \
	"$work/caps"
run caps_default_reserve env LD_PRELOAD="$LIB" CUSLICE_MEM_LIMIT=2G CAP_BYTES=$G2 "$work/caps"
# Control: the same program without the library goes far past 2 GiB.
run caps_without_library env -u LD_PRELOAD CAPS_TAG=caps_control "$work/caps"

# 3. PyTorch under 4 GiB, each allocator.
G4=$((4 << 30))
for conf in "" expandable_segments:True backend:cudaMallocAsync; do
	run "torch${conf:+-${conf%%:*}}" env LD_PRELOAD="$LIB" CUSLICE_MEM_LIMIT=4G CAP_BYTES=$G4 \
		${conf:+PYTORCH_CUDA_ALLOC_CONF=$conf} "$PY" "$here/torch_caps.py"
done

# 4. JAX under 4 GiB: preallocates 75% of the cap, runs a jitted matmul.
run jax env LD_PRELOAD="$LIB" CUSLICE_MEM_LIMIT=4G CAP_BYTES=$G4 "$PY" "$here/jax_caps.py"

# 5. Two processes in one group share the cap.
run group_share env LIB="$LIB" CUSLICE_MEM_LIMIT=4G CAP_BYTES=$G4 "$PY" "$here/group_share.py"

# 6. NVML reports the cap, with and without a context.
run nvml env LD_PRELOAD="$LIB" CUSLICE_MEM_LIMIT=4G CAP_BYTES=$G4 "$PY" "$here/nvml_caps.py"

grep '^RESULT' "$log" > "$out/results.txt"
say "### results in $out/results.txt; $(grep -v '^RESULT caps_control' "$out/results.txt" | grep -c ' ok=0') RESULT lines with ok=0 (the control run not counted)"
rm -rf "$work"
