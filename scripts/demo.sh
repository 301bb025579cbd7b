#!/bin/bash
# demo.sh - three processes share one GPU under cuslice.
#
# On a machine with an NVIDIA GPU and driver, the real GPU is used; otherwise
# the simulated driver that the build makes for tests stands in (and the
# demo says so). Each process runs fixed-work kernels for a few seconds and
# prints its throughput; the shares follow the weights 2:1:1. Midway, the
# demo prints `cuslice status`.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
"$root/scripts/deps.sh" demo
# Where uthash-dev is not installed, a copy in .deps/uthash (never committed;
# how the GPU machines here build, see tests/gpu/build.sh) serves.
opts=()
[ -f /usr/include/uthash.h ] || opts+=("-Duthash_include=$root/.deps/uthash")
[ -d build ] || meson setup build "${opts[@]}" >/dev/null
ninja -C build >/dev/null

spin=$root/build/examples/spin
cli=$root/build/tools/cuslice
secs=${DEMO_SECONDS:-6}
export CUSLICE_DIR
CUSLICE_DIR=$(mktemp -d /tmp/cuslice-demo.XXXXXX)
trap 'rm -rf "$CUSLICE_DIR"' EXIT

if nvidia-smi -L >/dev/null 2>&1; then
	echo "GPU: $(nvidia-smi -L | head -1)"
	work=150000
else
	echo "No NVIDIA GPU here: using cuslice's simulated driver (a test double;" \
	     "its numbers say nothing about real GPUs)."
	export LD_LIBRARY_PATH=$root/build/tests/simcuda${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
	export SIMCUDA_DIR=$CUSLICE_DIR/sim
	mkdir -p "$SIMCUDA_DIR"
	work=1000
fi

out=$CUSLICE_DIR/out
mkdir -p "$out"
start=$(python3 -c 'import time; print("%.3f" % (time.time() + 1.0))')
i=0
for weight in 2 1 1; do
	i=$((i + 1))
	"$cli" run --weight "$weight" -- "$spin" --seconds "$secs" --work "$work" \
		--name "job$i(weight=$weight)" --start-at "$start" >"$out/$i" &
done
sleep $(( secs / 2 + 1 ))
echo
"$cli" status || true
wait
echo
python3 - "$out" <<'PY'
import os, re, sys
rows = []
for name in sorted(os.listdir(sys.argv[1])):
    line = open(os.path.join(sys.argv[1], name)).read()
    kv = dict(re.findall(r"(\w+)=(\S+)", line))
    rows.append((line.split()[1].split("=", 1)[1], float(kv["rate"])))
total = sum(r for _, r in rows)
print("%-20s %12s %8s" % ("process", "kernels/s", "share"))
for name, rate in rows:
    print("%-20s %12.1f %7.1f%%" % (name, rate, 100 * rate / total))
PY
