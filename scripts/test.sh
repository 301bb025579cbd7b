#!/bin/bash
# test.sh - builds cuslice and runs every test that needs no GPU.
#
#   1. the normal build: Check unit tests of lib/ and the integration tests
#      (real programs under LD_PRELOAD against the simulated driver);
#   2. a ThreadSanitizer build of the ring's unit test (threads and a forked
#      process stand in for members);
#   3. an AddressSanitizer + UndefinedBehaviorSanitizer build of the unit
#      tests and the simulated driver's self-test.
# Exits non-zero if anything fails.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
"$root/scripts/deps.sh"

[ -d build ] || meson setup build >/dev/null
meson setup --reconfigure build >/dev/null
ninja -C build
meson test -C build --print-errorlogs --num-processes 2

echo "== ThreadSanitizer: the ring's unit test"
[ -d build-tsan ] || meson setup build-tsan -Db_sanitize=thread -Db_lundef=false >/dev/null
ninja -C build-tsan tests/unit/test_ring
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" ./build-tsan/tests/unit/test_ring

echo "== AddressSanitizer + UndefinedBehaviorSanitizer: unit tests and simulator self-test"
[ -d build-asan ] || meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
ninja -C build-asan
export ASAN_OPTIONS="detect_leaks=1:handle_segv=0" UBSAN_OPTIONS="halt_on_error=1 print_stacktrace=1"
meson test -C build-asan --suite unit --print-errorlogs --num-processes 2
cp build-asan/meson-logs/testlog.json build-asan/meson-logs/testlog-unit.json
meson test -C build-asan simcuda-selftest --print-errorlogs

# One closing line over every suite that ran above.
python3 - build/meson-logs/testlog.json build-asan/meson-logs/testlog-unit.json \
	build-asan/meson-logs/testlog.json <<'PY'
import json, sys
passed = failed = 0
for path in sys.argv[1:]:
    for line in open(path):
        r = json.loads(line)
        if r.get("result") == "OK":
            passed += 1
        elif r.get("result") not in ("SKIP", None):
            failed += 1
passed += 1  # the ThreadSanitizer ring run (set -e stops the script if it fails)
print("tests: %d passed, %d failed" % (passed, failed))
PY
