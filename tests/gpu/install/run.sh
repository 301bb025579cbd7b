#!/bin/bash
# tests/gpu/install/run.sh - the installed library runs a PyTorch job under a cap.
#
#   OUT=dir [PYTHON=python3] tests/gpu/install/run.sh
#
# Self-contained, for the GPU machine (meson, ninja, PyTorch; no Check; uthash
# from .deps/uthash and meson from .deps/mesonpkg when absent, as
# tests/gpu/build.sh does):
#   1. `meson install` with prefix /usr into a staging folder (what the image
#      and the .deb hold);
#   2. that install's node-install.sh into two scratch roots: the default
#      (everything) and the Kubernetes node agent's way (--lib-only,
#      --prefix /opt/cuslice --lib-dir /opt/cuslice/lib);
#   3. a PyTorch job with LD_PRELOAD naming the library node-install.sh put in
#      place (the path it printed) and CUSLICE_MEM_LIMIT=2G: mem_get_info must
#      report the 2 GiB cap, a 3 GiB tensor must raise OutOfMemoryError, and
#      the job must go on (a 512 MiB tensor, a matmul, a few SGD steps);
#   4. the same job through the installed `cuslice run --mem 2G`, and the
#      installed `cuslice doctor` against the real driver;
#   5. a control: the job without the library sees the whole card.
# Writes $OUT/install-gpu.md (the table) and $OUT/install-gpu.log (every
# command and its output). Exit status 0 when every step passed.
set -u
root=$(cd "$(dirname "$0")/../../.." && pwd)
out=${OUT:?set OUT to the folder for the results}
mkdir -p "$out"
PY=${PYTHON:-python3}
W=$(mktemp -d /tmp/cuslice-gpu-install.XXXXXX)
trap 'rm -rf "$W"' EXIT
log=$out/install-gpu.log
: >"$log"
rows=()
failed=0
say() { echo "$*" | tee -a "$log"; }
# step NAME CMD...: runs CMD, output logged; returns its status.
step() {
	local name=$1
	shift
	say "### $name: $*"
	"$@" >>"$log" 2>&1
	local rc=$?
	say "### $name rc=$rc"
	return $rc
}
row() { # row NAME PASS|FAIL DETAIL
	rows+=("| $1 | $2 | $3 |")
	[ "$2" = pass ] || failed=$((failed + 1))
}

cd "$root" || exit 1
if command -v meson >/dev/null 2>&1; then
	meson=(meson)
else
	meson=(env "PYTHONPATH=$root/.deps/mesonpkg/usr/lib/python3/dist-packages"
	       python3 -m mesonbuild.mesonmain)
fi
opts=(--prefix=/usr --buildtype=release -Dtests=disabled)
[ -f /usr/include/uthash.h ] || opts+=("-Duthash_include=$root/.deps/uthash")

# 1. meson install
B=$W/build
if step build "${meson[@]}" setup "$B" "${opts[@]}" && step ninja ninja -C "$B" &&
	step install "${meson[@]}" install -C "$B" --no-rebuild --destdir "$W/stage"; then
	files=$(cd "$W/stage" && find . -type f | sort | tr '\n' ' ')
	row "meson install (prefix /usr)" pass "$files"
else
	row "meson install (prefix /usr)" FAIL "see install-gpu.log"
	echo "meson install failed; see $log" >&2
fi
NI=$W/stage/usr/libexec/cuslice/node-install.sh

# 2. node-install.sh, both ways.
mkdir -p "$W/node" "$W/k8s"
if step node-install "$NI" --root "$W/node"; then
	row "node-install.sh --root R" pass "$(cd "$W/node" && find . -type f | sort | tr '\n' ' ')"
else
	row "node-install.sh --root R" FAIL "see install-gpu.log"
fi
preload=""
if step node-install-k8s "$NI" --root "$W/k8s" --prefix /opt/cuslice --lib-dir /opt/cuslice/lib \
	--lib-only; then
	preload=$(grep '^LD_PRELOAD=' "$log" | tail -n 1)
	preload=$W/k8s${preload#LD_PRELOAD=}
	mode=$(stat -c %a "$W/k8s/dev/shm/cuslice")
	ok=FAIL; [ -f "$preload" ] && [ "$mode" = 1777 ] && ok=pass
	row "node-install.sh --lib-only (Kubernetes node agent)" $ok \
		"library $preload; ring folder mode $mode"
else
	row "node-install.sh --lib-only (Kubernetes node agent)" FAIL "see install-gpu.log"
fi

# The PyTorch job: RESULT lines, checked below.
cat >"$W/job.py" <<'PY'
import os
import torch

CAP = 2 << 30
free, total = torch.cuda.mem_get_info()
print("RESULT info total=%d free=%d cap=%d" % (total, free, CAP), flush=True)
print("RESULT env LD_PRELOAD=%s" % os.environ.get("LD_PRELOAD", ""), flush=True)
try:
    big = torch.empty(3 << 30, dtype=torch.uint8, device="cuda")
    raised = 0
    del big
except torch.OutOfMemoryError:
    raised = 1
print("RESULT oom raised=%d" % raised, flush=True)
torch.cuda.empty_cache()
x = torch.empty(512 << 20, dtype=torch.uint8, device="cuda")
del x
model = torch.nn.Sequential(torch.nn.Linear(1024, 1024), torch.nn.ReLU(),
                            torch.nn.Linear(1024, 10)).cuda()
opt = torch.optim.SGD(model.parameters(), lr=0.01)
for _ in range(5):
    loss = model(torch.randn(256, 1024, device="cuda")).square().mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
torch.cuda.synchronize()
print("RESULT after loss=%.4f finite=%d torch=%s" % (loss.item(), int(torch.isfinite(loss).item()),
                                                       torch.__version__), flush=True)
PY
# check_job NAME LIB: reads the last job's RESULT lines from $W/job.out; LIB
# is the library its LD_PRELOAD must name.
check_job() {
	local total raised finite env
	total=$(sed -n 's/^RESULT info total=\([0-9]*\).*/\1/p' "$W/job.out")
	raised=$(sed -n 's/^RESULT oom raised=\([01]\).*/\1/p' "$W/job.out")
	finite=$(sed -n 's/^RESULT after .*finite=\([01]\).*/\1/p' "$W/job.out")
	env=$(sed -n 's/^RESULT env LD_PRELOAD=//p' "$W/job.out")
	local ok=FAIL
	[ "$total" = $((2 << 30)) ] && [ "$raised" = 1 ] && [ "$finite" = 1 ] && [ "$env" = "$2" ] && ok=pass
	row "$1" $ok "LD_PRELOAD=${env:-?}; mem_get_info total=${total:-?} (cap 2147483648); 3 GiB raised OutOfMemoryError=${raised:-?}; training went on, finite loss=${finite:-?}"
}
job() { # job NAME ENV-AND-COMMAND...
	local name=$1
	shift
	say "### $name: $*"
	"$@" >"$W/job.out" 2>&1
	say "### $name rc=$?"
	cat "$W/job.out" >>"$log"
}

# 3. LD_PRELOAD naming the node-installed library.
if [ -n "$preload" ]; then
	job torch-preload env CUSLICE_DIR="$W/ring1" CUSLICE_MEM_LIMIT=2G LD_PRELOAD="$preload" \
		"$PY" "$W/job.py"
	check_job "PyTorch, LD_PRELOAD=<node-installed>/opt/cuslice/lib/libcuslice.so CUSLICE_MEM_LIMIT=2G" "$preload"
fi

# 4. The installed CLI, which finds the installed library relative to itself.
CLI=$W/node/usr/bin/cuslice
if [ -x "$CLI" ]; then
	job torch-cli env CUSLICE_DIR="$W/ring2" "$CLI" run --mem 2G -- "$PY" "$W/job.py"
	check_job "PyTorch, installed \`cuslice run --mem 2G\`" "$(readlink -f "$(find "$W/node" -name libcuslice.so | head -n 1)")"
	if step doctor env CUSLICE_DIR="$W/ring3" "$CLI" doctor; then
		lib=$(sed -n 's/^\[ ok \] library: //p' "$log" | tail -n 1)
		ok=FAIL; [ "$lib" = "$(readlink -f "$(find "$W/node" -name libcuslice.so | head -n 1)")" ] && ok=pass
		row "installed \`cuslice doctor\`, real driver" $ok "library: $lib"
	else
		row "installed \`cuslice doctor\`, real driver" FAIL "$(grep '^\[FAIL\]' "$log" | tr '\n' ' ')"
	fi
fi

# 5. Control: without the library the job sees the whole card (and so the
# check above can fail).
job torch-control env -u LD_PRELOAD "$PY" "$W/job.py"
total=$(sed -n 's/^RESULT info total=\([0-9]*\).*/\1/p' "$W/job.out")
ok=FAIL; [ -n "$total" ] && [ "$total" -gt $((2 << 30)) ] && ok=pass
row "control: PyTorch without the library" $ok "mem_get_info total=${total:-?} (the whole card)"

{
	echo "# Installed library on a GPU (tests/gpu/install/run.sh)"
	echo
	echo "- GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | head -n 1)"
	echo "- commit: ${CUSLICE_COMMIT:-unknown}; $(grep -m1 '^RESULT after' "$log" | sed 's/.*torch=/PyTorch /')"
	echo "- date: $(date -u +%Y-%m-%dT%H:%MZ)"
	echo
	echo "| step | result | detail |"
	echo "|---|---|---|"
	printf '%s\n' "${rows[@]}"
	echo
	echo "$failed step(s) failed. Every command and its output: install-gpu.log."
} >"$out/install-gpu.md"
cat "$out/install-gpu.md"
[ "$failed" = 0 ]
