#!/bin/bash
# stress-test.sh - runs the whole test command N times on a loaded machine.
#
#   scripts/stress-test.sh [N]     (N defaults to 5)
#
# While `stress-ng --cpu 4 --io 1` keeps every core of the (2-core CI kind
# of) machine busy, runs ./scripts/test.sh N times, one after the other, and
# prints one line per run and a summary: runs, passed, failed, wall time.
# The suite must pass it (docs/testing.md): a test that fails under load
# asserts a timing, which belongs in a benchmark. Installs the Debian package
# stress-ng if it is missing (root or sudo needed then). Logs of every run
# are kept in stress-logs/run-K.log. Exits non-zero if any run failed.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
runs=${1:-5}
case "$runs" in
'' | *[!0-9]*) echo "stress-test: N must be a whole number, not '$runs'" >&2; exit 2 ;;
esac

if ! command -v stress-ng >/dev/null; then
	echo "stress-test: installing stress-ng" >&2
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends stress-ng \
		>/dev/null || { echo "stress-test: cannot install stress-ng" >&2; exit 1; }
fi

mkdir -p stress-logs
stress-ng --cpu 4 --io 1 --timeout 0 --quiet &
load=$!
trap 'kill "$load" 2>/dev/null; wait "$load" 2>/dev/null' EXIT
sleep 1
kill -0 "$load" 2>/dev/null || { echo "stress-test: stress-ng did not start" >&2; exit 1; }

passed=0
failed=0
start=$(date +%s)
for k in $(seq 1 "$runs"); do
	t0=$(date +%s)
	if ./scripts/test.sh >"stress-logs/run-$k.log" 2>&1; then
		passed=$((passed + 1))
		verdict=passed
	else
		failed=$((failed + 1))
		verdict=FAILED
	fi
	echo "stress-test: run $k/$runs $verdict in $(($(date +%s) - t0)) s:" \
		"$(grep '^tests: ' "stress-logs/run-$k.log" | tail -1)"
	grep '^FAILED: ' "stress-logs/run-$k.log" | sed 's/^/    /'
done
echo "stress-test: $runs runs under stress-ng --cpu 4 --io 1 on $(nproc) cores:" \
	"$passed passed, $failed failed, $(($(date +%s) - start)) s wall"
[ "$failed" = 0 ]
