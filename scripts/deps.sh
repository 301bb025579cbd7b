#!/bin/bash
# deps.sh - installs the Debian packages the build and tests need, if missing.
#
# Needs root (or sudo) only when something is missing. CUDA's headers are not
# a Debian package here: cuda.h is looked for in /usr/local/cuda/include
# (meson option cuda-include); no GPU and no driver are needed to build.
set -eu
want=(meson ninja-build gcc pkg-config python3 uthash-dev check libncurses-dev
      libmicrohttpd-dev tmux
      build-essential debhelper dpkg-dev man-db groff-base   # tests/install: the .deb, the man page
      clang libclang-rt-dev)                 # tests/fuzz: the libFuzzer harnesses
missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
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
