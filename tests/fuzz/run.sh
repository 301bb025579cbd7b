#!/bin/bash
# run.sh - builds the libFuzzer harnesses with clang (ASan + UBSan) and runs
# each one on a copy of its corpus.
#
#   tests/fuzz/run.sh [SECONDS [HARNESS...]]
#
# SECONDS per harness (default 20); HARNESS: size, config, gpufile (default
# all). The corpus in tests/fuzz/corpus/<harness>/ is read, never written:
# new inputs go to build-fuzz/corpus/<harness>/, crashes to
# build-fuzz/crash-<harness>-*. Prints one TAP line per harness ('ok N -
# fuzz_<harness>') and exits non-zero if any harness did not build or found
# a crash.
# Long runs (docs/testing.md): tests/fuzz/run.sh 3600 gpufile, and add
# -jobs=N with FUZZ_ARGS="-jobs=2 -workers=2".
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${FUZZ_BUILD:-$root/build-fuzz}
secs=${1:-20}
shift || true
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(size config gpufile)
cc=${CLANG:-clang}

mkdir -p "$out"
# The lib/ modules the harnesses reach (none of them needs cuda.h).
lib=(size config policy log gpufile mapguard member snapshot ledger clock textfile)
srcs=()
for m in "${lib[@]}"; do
	[ -f "$root/lib/$m.c" ] && srcs+=("$root/lib/$m.c")
done
flags=(-std=gnu11 -D_GNU_SOURCE -g -O1 -I"$root/include" -I"$root/lib"
       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -Wno-unused-command-line-argument)
failed=0
n=0
for h in "${harnesses[@]}"; do
	n=$((n + 1))
	exe="$out/fuzz_$h"
	if ! "$cc" "${flags[@]}" -o "$exe" "$root/tests/fuzz/fuzz_$h.c" "${srcs[@]}" -lpthread; then
		echo "not ok $n - fuzz_$h (does not build: is clang with libFuzzer installed?)"
		failed=1
		continue
	fi
	mkdir -p "$out/corpus/$h"
	echo "== fuzz $h for ${secs}s"
	# shellcheck disable=SC2086
	if ! (cd "$out" && "$exe" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$out/crash-$h-" ${FUZZ_ARGS:-} \
		"$out/corpus/$h" "$root/tests/fuzz/corpus/$h" 2>"$out/fuzz_$h.log"); then
		tail -40 "$out/fuzz_$h.log" >&2
		echo "not ok $n - fuzz_$h (log: $out/fuzz_$h.log)"
		failed=1
	else
		grep -E "stat::number_of_executed_units|Done [0-9]+ runs" "$out/fuzz_$h.log" | tail -2
		echo "ok $n - fuzz_$h"
	fi
done
exit $failed
