#!/bin/bash
# run-all.sh - the real-GPU suites, as one command for the device tool.
#
# usage: tests/gpu/run-all.sh STAGE...
#   stages: routes bench memory ring priority frameworks sharedfile fastpath k8s
# Builds the library (build.sh) unless build-gpu/ is already there, runs the
# named suites with LIB pointing at it, and leaves in $OUT at most 8 files:
# <stage>.md summaries, env.txt (GPU, driver, versions) and all.tar.gz (every
# log and trace). Each stage's own output goes to $WORK/<stage>.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-/tmp/cuslice-gpu-out}
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/cuslice-gpu.XXXXXX)
B=$("$root/tests/gpu/build.sh") || { echo "build failed"; exit 1; }
export LIB=$B/hooks/libcuslice.so PYTHONUNBUFFERED=1
{
	date -u
	nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
	nvcc --version 2>/dev/null | tail -1
	python3 -c 'import torch; print("torch", torch.__version__)' 2>/dev/null
	python3 -c 'import jax; print("jax", jax.__version__)' 2>/dev/null
	python3 -c 'import cupy; print("cupy", cupy.__version__)' 2>/dev/null
	ldd --version | head -1
	git -C "$root" rev-parse --short HEAD 2>/dev/null
} >"$OUT/env.txt" 2>&1

for stage in "$@"; do
	echo "=== $stage" >&2
	mkdir -p "$WORK/$stage"
	case $stage in
	routes) OUT=$WORK/$stage timeout 400 "$root/tests/gpu/routes/run.sh" >"$WORK/$stage/stdout" 2>&1
		cp "$WORK/$stage/routes.md" "$OUT/routes.md" 2>/dev/null ;;
	bench) OUT=$WORK/$stage timeout 200 "$root/tests/gpu/bench/run.sh" >"$WORK/$stage/stdout" 2>&1
		cp "$WORK/$stage/bench.md" "$OUT/bench.md" 2>/dev/null ;;
	memory) OUT=$WORK/$stage timeout 400 "$root/tests/gpu/memory/run.sh" >"$WORK/$stage/stdout" 2>&1
		cp "$WORK/$stage/results.txt" "$OUT/memory.txt" 2>/dev/null ;;
	ring) OUT=$WORK/$stage timeout 560 "$root/tests/gpu/ring/run.sh" "$B" >"$WORK/$stage/stdout" 2>&1
		cp "$WORK/$stage/ring-summary.md" "$OUT/ring.md" 2>/dev/null ;;
	priority) OUT=$WORK/$stage timeout 400 "$root/tests/gpu/priority/run.sh" "$B" >"$WORK/$stage/stdout" 2>&1
		cp "$WORK/$stage/priority.md" "$OUT/priority.md" 2>/dev/null ;;
	frameworks) OUT=$WORK/$stage timeout 560 "$root/tests/gpu/frameworks/run.sh" "$B" >"$WORK/$stage/stdout" 2>&1
		cp "$WORK/$stage/frameworks.md" "$OUT/frameworks.md" 2>/dev/null ;;
	sharedfile) OUT=$WORK/$stage timeout 300 "$root/tests/gpu/sharedfile/run.sh" "$B" >"$WORK/$stage/stdout" 2>&1
		cp "$WORK/$stage/sharedfile.md" "$OUT/sharedfile.md" 2>/dev/null ;;
	k8s) OUT=$WORK/$stage timeout 300 "$root/tests/gpu/k8s/run.sh" >"$WORK/$stage/stdout" 2>&1
		cp "$WORK/$stage/k8s-gpu.md" "$OUT/k8s.md" 2>/dev/null ;;
	fastpath) "$B/tests/bench/fastpath" >"$WORK/$stage/stdout" 2>&1
		cp "$WORK/$stage/stdout" "$OUT/fastpath.txt" ;;
	*) echo "unknown stage $stage" >&2 ;;
	esac
	echo "=== $stage rc=$?" >&2
	tail -n 25 "$WORK/$stage/stdout" >&2
done
tar czf "$OUT/all.tar.gz" -C "$WORK" .
ls -la "$OUT" >&2
