#!/bin/bash
# check.sh - offline checks of the Kubernetes bundle (deploy/kubernetes,
# issue 10), as one TAP stream: "ok N - ..." / "not ok N - ...", closing with
# "# N passed, M failed". No cluster and no image is involved: nothing here
# is applied anywhere.
#
#   tests/deploy/check.sh [BUILD_DIR]     (default: build; needs tools/cuslice,
#                                          hooks/libcuslice.so, the simulated
#                                          driver and memprobe built there)
#
#  1. yamllint (Debian) on every YAML file of deploy/kubernetes;
#  2. kubectl kustomize renders the base, base + each component and each
#     overlay, and tests/deploy/render.mjs must render the same objects.
#     Debian's kubectl (kubernetes-client 1.20, kustomize v2.0.3) has no
#     kustomize components: with it, only the base is rendered by kubectl and
#     the rest by render.mjs alone (said as "# SKIP" on those lines);
#  3. validate.mjs (npm ci first: pinned package-lock.json): every rendered
#     object against its schema with unknown fields refused, the injected pod
#     spec against the library's own table (`cuslice help pod`), and the
#     consistency checks (see validate.mjs);
#  4. promtool check rules on the PrometheusRule's groups, and promtool check
#     metrics on a live `cuslice metrics` of members running under the
#     library against the simulated driver (live_metrics.py).
# Installs what it needs with apt-get when missing. Exits 1 if a check failed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
deploy="$root/deploy/kubernetes"
work="$build/deploy-check"
rm -rf "$work" && mkdir -p "$work"

n=0
failed=0
tap() { # tap STATUS NAME [LOGFILE]: one TAP line, the log as comments on failure
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		failed=$((failed + 1))
		echo "not ok $n - $2"
		[ -n "${3:-}" ] && [ -f "$3" ] && sed 's/^/# /' "$3" | head -60
	fi
}

need=()
command -v yamllint >/dev/null || need+=(yamllint)
command -v promtool >/dev/null || need+=(prometheus)
command -v kubectl >/dev/null || need+=(kubernetes-client)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
	echo "# installing ${need[*]}"
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq >/dev/null &&
		$sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >"$work/apt.log" 2>&1
	tap $? "apt-get install ${need[*]}" "$work/apt.log"
fi

# The pinned npm packages render.mjs and validate.mjs need.
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error) >"$work/npm.log" 2>&1
tap $? "npm ci (tests/deploy/package-lock.json)" "$work/npm.log"

# 1. yamllint: every manifest, example, value file and the kustomizations.
yamllint -s -c "$deploy/.yamllint" "$deploy" >"$work/yamllint.log" 2>&1
tap $? "yamllint (strict) on deploy/kubernetes" "$work/yamllint.log"

# 2. kubectl kustomize, and render.mjs against it.
targets=("base")
for c in "$deploy"/components/*/; do targets+=("components/$(basename "$c")"); done
for o in "$deploy"/overlays/*/; do targets+=("overlays/$(basename "$o")"); done
for t in "${targets[@]}"; do
	dir="$deploy/$t"
	comps=()
	if [[ $t == components/* ]]; then
		# A component renders on top of the base: an overlay made for it.
		dir="$work/with-$(basename "$t")"
		mkdir -p "$dir"
		printf 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - %s\ncomponents:\n  - %s\n' \
			"$(realpath --relative-to="$dir" "$deploy/base")" \
			"$(realpath --relative-to="$dir" "$deploy/$t")" >"$dir/kustomization.yaml"
	fi
	out="$work/$(echo "$t" | tr / _).yaml"
	if kubectl kustomize "$dir" >"$out" 2>"$out.err"; then
		(cd "$here" && node render.mjs --compare "$out" "$dir" "${comps[@]}") >"$out.cmp" 2>&1
		tap $? "kubectl kustomize $t, and render.mjs renders the same objects" "$out.cmp"
	elif grep -q 'unknown field "components"\|kind should be Kustomization' "$out.err"; then
		echo "ok $((n + 1)) - kubectl kustomize $t # SKIP this kubectl's kustomize has no components: render.mjs alone renders it"
		n=$((n + 1))
	else
		tap 1 "kubectl kustomize $t" "$out.err"
	fi
done

# 3. Schemas, injection and consistency.
node "$here/validate.mjs" --cuslice "$build/tools/cuslice" --deploy "$deploy" \
	--rules-out "$work/rules.yaml" >"$work/validate.tap" 2>&1
vrc=$?
# Its lines join this stream; its own tally line is dropped.
while IFS= read -r line; do
	case $line in
	"ok "*) n=$((n + 1)); echo "ok $n - ${line#ok * - }" ;;
	"not ok "*) n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - ${line#not ok * - }" ;;
	"# "*passed,*failed) ;;
	*) echo "# $line" ;;
	esac
done <"$work/validate.tap"
[ "$vrc" = 0 ] || grep -q "^not ok" "$work/validate.tap" || tap 1 "validate.mjs exited $vrc" "$work/validate.tap"

# 4. promtool.
promtool check rules "$work/rules.yaml" >"$work/rules.log" 2>&1
tap $? "promtool check rules (the PrometheusRule's groups)" "$work/rules.log"
python3 "$here/live_metrics.py" "$build" "$work/metrics.txt" >"$work/live.log" 2>&1
tap $? "cuslice metrics of live members under the simulated driver (live_metrics.py)" "$work/live.log"
promtool check metrics <"$work/metrics.txt" >"$work/metrics.log" 2>&1
tap $? "promtool check metrics on that live output" "$work/metrics.log"

echo "# $((n - failed)) passed, $failed failed"
[ "$failed" = 0 ]
