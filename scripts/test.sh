#!/bin/bash
# test.sh - builds cuslice and runs every test that needs no GPU.
#
#   1. the normal build: Check unit tests of lib/ and the integration tests
#      (real programs under LD_PRELOAD against the simulated driver; each
#      Python script reports TAP, so meson names every failing test);
#   2. a ThreadSanitizer build of the ring's unit test (threads and a forked
#      process stand in for members);
#   3. an AddressSanitizer + UndefinedBehaviorSanitizer build of the unit
#      tests and the simulated driver's self-test;
#   4. packaging: meson install, the .deb, the Dockerfile's install lines and
#      node-install.sh put the same files in the same places, and the
#      installed cuslice doctor passes (tests/install/run.sh);
#   5. the offline checks of the Kubernetes bundle (tests/deploy/check.sh);
#   6. a short chaos soak (tests/soak/soak.py, about 40 s);
#   7. the libFuzzer harnesses of the parsers and the shared-file readers,
#      20 s each (tests/fuzz/run.sh).
# Every stage runs even when an earlier one failed. The script ends with one
# line, 'tests: N passed, M failed', over all stages (scripts/tally.py) and
# exits non-zero if anything failed, a build included. Timings are not tested
# here: `meson test -C build --benchmark` prints them (docs/testing.md).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
"$root/scripts/deps.sh" || exit 1

# A stage whose build fails writes no log; tally.py counts that as a failure.
logs=(build/meson-logs/testlog.json build-tsan/ring.out build-tsan/ring.out.rc
      build-asan/meson-logs/asan-unit.json build-asan/meson-logs/asan-sim.json
      build-pkg/install.out build-pkg/install.out.rc build/soak.out build/soak.out.rc
      build-fuzz/fuzz.out build-fuzz/fuzz.out.rc)
rm -f "${logs[@]}"

echo "== Unit and integration tests"
{ [ -d build ] || meson setup build >/dev/null; } &&
	meson setup --reconfigure build >/dev/null && ninja -C build
meson test -C build --print-errorlogs --num-processes 2

echo "== ThreadSanitizer: the ring's unit test"
if { [ -d build-tsan ] || meson setup build-tsan -Db_sanitize=thread -Db_lundef=false >/dev/null; } &&
	ninja -C build-tsan tests/unit/test_ring; then
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" ./build-tsan/tests/unit/test_ring \
		2>&1 | tee build-tsan/ring.out
	echo "${PIPESTATUS[0]}" >build-tsan/ring.out.rc
fi

echo "== AddressSanitizer + UndefinedBehaviorSanitizer: unit tests and simulator self-test"
{ [ -d build-asan ] || meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false >/dev/null; } &&
	ninja -C build-asan
export ASAN_OPTIONS="detect_leaks=1:handle_segv=0" UBSAN_OPTIONS="halt_on_error=1 print_stacktrace=1"
meson test -C build-asan --suite unit --print-errorlogs --num-processes 2 --logbase asan-unit
meson test -C build-asan simcuda-selftest --print-errorlogs --logbase asan-sim

# ---- Packaging (owner: pkg; tests/install/run.sh says what it checks) ----
echo "== Packaging: meson install, the .deb, the Dockerfile's install and node-install.sh agree"
mkdir -p build-pkg
tests/install/run.sh build 2>&1 | tee build-pkg/install.out
echo "${PIPESTATUS[0]}" >build-pkg/install.out.rc
# ---- end of packaging ----

# ---- Kubernetes bundle (owner: k8s) ----
echo "== Kubernetes bundle: offline checks of deploy/kubernetes (tests/deploy/check.sh)"
# yamllint, kubectl kustomize + tests/deploy/render.mjs, schema validation
# with unknown fields refused (npm ci, validate.mjs), the injected pod spec
# against the library's table, promtool on the rules and on live metrics.
# Nothing is applied to a cluster. Uses the normal build above.
rm -f build/deploy.out build/deploy.out.rc
tests/deploy/check.sh build 2>&1 | tee build/deploy.out
echo "${PIPESTATUS[0]}" >build/deploy.out.rc
# ---- end of Kubernetes bundle ----

# ---- stage 6 (harden-mem, issue 14): the chaos soak, short ----
# 8 members for 20 s against the simulated driver: random starts, SIGKILL,
# SIGSTOP/SIGCONT; then no hang, no stale member, ledger at 0, no member
# starved after it resumed. The long run is in docs/testing.md.
echo "== Chaos soak (short)"
if [ -x build/tests/soak/soakmember ]; then
	python3 tests/soak/soak.py --build build --members 8 --seconds 20 2>&1 | tee build/soak.out
	echo "${PIPESTATUS[0]}" >build/soak.out.rc
fi
# ---- end of stage 6 ----

# ---- stage 7 (harden-file, issue 14): the fuzzers (tests/fuzz/run.sh) ----
echo "== Fuzzers: each libFuzzer harness for 20 s on the corpus in tests/fuzz/corpus"
mkdir -p build-fuzz
tests/fuzz/run.sh 20 2>&1 | tee build-fuzz/fuzz.out
echo "${PIPESTATUS[0]}" >build-fuzz/fuzz.out.rc
# ---- end of stage 7 ----

echo "== All stages"
python3 "$root/scripts/tally.py" main=build/meson-logs/testlog.json \
	tsan=build-tsan/ring.out asan-unit=build-asan/meson-logs/asan-unit.json \
	asan-sim=build-asan/meson-logs/asan-sim.json install=build-pkg/install.out \
	deploy=build/deploy.out soak=build/soak.out \
	fuzz=build-fuzz/fuzz.out
