#!/bin/bash
# deps.sh - installs the Debian packages the build and tests need, if missing.
#
#   scripts/deps.sh         everything scripts/test.sh needs
#   scripts/deps.sh demo    only what scripts/demo.sh needs: a C compiler,
#                           meson, ninja, python3 and uthash.h, each looked
#                           for as a command or file (so a GPU machine that
#                           has them from elsewhere, and no package mirror,
#                           needs nothing installed)
#
# Needs root (or sudo) only when something is missing. CUDA's headers are not
# a Debian package here: cuda.h is looked for in /usr/local/cuda/include
# (meson option cuda-include); no GPU and no driver are needed to build.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
missing=()
if [ "${1:-}" = demo ]; then
	command -v cc >/dev/null || missing+=(gcc)
	command -v meson >/dev/null || missing+=(meson)
	command -v ninja >/dev/null || missing+=(ninja-build)
	command -v python3 >/dev/null || missing+=(python3)
	[ -f /usr/include/uthash.h ] || [ -f "$root/.deps/uthash/uthash.h" ] || missing+=(uthash-dev)
else
	want=(meson ninja-build gcc pkg-config python3 uthash-dev check libncurses-dev
	      libmicrohttpd-dev tmux
	      build-essential debhelper dpkg-dev lintian man-db groff-base  # tests/install
	      clang libclang-rt-dev)                 # tests/fuzz: the libFuzzer harnesses
	for p in "${want[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing+=("$p")
	done
fi
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}" >&2
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq
	$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ ! -f /usr/local/cuda/include/cuda.h ] && ! pkg-config --exists cuda 2>/dev/null; then
	echo "deps: cuda.h not found in /usr/local/cuda/include; install the CUDA toolkit" \
	     "headers or pass -Dcuda-include=DIR to meson" >&2
	exit 1
fi
