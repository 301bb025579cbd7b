#!/bin/bash
# build.sh - builds libcuslice.so, the CLI and the examples on the GPU machine.
#
# That machine has meson (or not: a carried copy under .deps/mesonpkg is
# used then), ninja and the CUDA headers, but no Check and no uthash:
# uthash.h is carried in .deps/uthash (never committed) and the Check unit
# tests are disabled. Prints the build folder's path last.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
if command -v meson >/dev/null 2>&1; then
	meson=(meson)
else
	meson=(env "PYTHONPATH=$root/.deps/mesonpkg/usr/lib/python3/dist-packages"
	       python3 -m mesonbuild.mesonmain)
fi
opts=(-Dtests=disabled --buildtype=release)
[ -f /usr/include/uthash.h ] || opts+=("-Duthash_include=$root/.deps/uthash")
"${meson[@]}" setup build-gpu "${opts[@]}" >/dev/null
ninja -C build-gpu hooks/libcuslice.so examples/spin tests/bench/fastpath >/dev/null
# The CLI is optional here (status/top captures use it).
ninja -C build-gpu tools/cuslice >/dev/null 2>&1 || echo "build.sh: no cuslice CLI" >&2
echo "$root/build-gpu"
