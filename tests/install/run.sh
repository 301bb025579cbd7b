#!/bin/bash
# tests/install/run.sh - the four ways cuslice is installed agree, and work.
#
#   tests/install/run.sh [BUILD]     (BUILD: a built meson tree, default build)
#
# 1. `meson install` of BUILD (its own prefix, /usr/local by default);
# 2. the Dockerfile's install lines, run on the build context that
#    .dockerignore leaves (tests/install/check-dockerfile.py also checks the
#    COPY sources and the packages of both stages);
# 3. the .deb that `dpkg-buildpackage -us -uc -b` builds from a copy of the tree;
# 4. node-install.sh (from 2, as in the image) into a scratch root.
# Each must hold the same files, modes and kinds relative to its prefix (the
# .deb adds only /usr/share/doc/cuslice and gzips the man page, which must
# unpack to the same page). Then: node-install's ring folder is mode 1777, a
# Kubernetes-style --lib-only install puts the library where its printed
# LD_PRELOAD names and that LD_PRELOAD works under the simulated driver; the
# tmpfiles.d entry creates the folder with that mode (systemd-tmpfiles
# --root); the installed `cuslice doctor` passes against the simulated driver,
# from the unpacked .deb and, as root, from a real `apt-get install ./cuslice_*.deb`
# (removed after);
# the man page has no groff warnings and holds every command's usage; every
# LD_PRELOAD=/usr/... path in README.md and docs/install.md is in the .deb.
# Prints TAP lines ("ok - ..." / "not ok - ..."); exits 1 if any failed.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(cd "${1:-$root/build}" && pwd)
T=$(mktemp -d /tmp/cuslice-install.XXXXXX)
installed_deb=0
cleanup() {
	[ "$installed_deb" = 0 ] || apt-get remove -y -qq -o DPkg::Lock::Timeout=300 cuslice >/dev/null 2>&1 || true
	rm -rf "$T"
}
trap cleanup EXIT
failed=0
ok() { echo "ok - $*"; }
bad() { echo "not ok - $*"; failed=$((failed + 1)); }
# check WHAT TEST...: ok WHAT if the test command succeeds, else FAIL WHAT.
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; return 1; fi
}
# Runs "$@" quietly; on failure shows its output and counts a failure.
run() {
	local what=$1
	shift
	if "$@" >"$T/out" 2>&1; then ok "$what"; return 0; fi
	bad "$what"; sed 's/^/     /' "$T/out" | tail -40; return 1
}
# Lists "kind mode path" under $1, paths relative to it, minus $2 (a regex).
listing() {
	(cd "$1" && find . -mindepth 1 \( -type f -o -type l \) -printf '%y %m %P\n') |
		grep -Ev "${2:-^$}" | sort -k3
}

ninja -C "$BUILD" >/dev/null || { bad "ninja -C $BUILD"; exit 1; }
prefix=$(meson introspect "$BUILD" --buildoptions |
	python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))')
SIM=$BUILD/tests/simcuda
[ -e "$SIM/libcuda.so.1" ] || { bad "$SIM/libcuda.so.1 missing (the simulated driver)"; exit 1; }

# 1. meson install
run "meson install of $BUILD (prefix $prefix)" \
	meson install -C "$BUILD" --no-rebuild --destdir "$T/meson" --quiet
listing "$T/meson$prefix" >"$T/list.meson"

# 3 (first: the Dockerfile check reads its Depends). The .deb, from a copy.
mkdir -p "$T/deb-src/cuslice"
(cd "$root" && git ls-files -co --exclude-standard |
	while read -r f; do [ ! -f "$f" ] || printf '%s\0' "$f"; done | tar --null -T - -cf -) |
	tar -xf - -C "$T/deb-src/cuslice"
if run "dpkg-buildpackage -us -uc -b" \
	sh -c "cd '$T/deb-src/cuslice' && dpkg-buildpackage -us -uc -b"; then
	deb=$(ls "$T"/deb-src/cuslice_*.deb)
	dpkg-deb -x "$deb" "$T/deb"
	man=share/man/man1/cuslice.1
	if [ -f "$T/deb/usr/$man.gz" ] && gunzip -c "$T/deb/usr/$man.gz" | cmp -s - "$T/meson$prefix/$man"; then
		ok ".deb's cuslice.1.gz unpacks to meson's cuslice.1"
	else
		bad ".deb's man page differs from meson's (or is missing)"
	fi
	listing "$T/deb/usr" '^[a-z] [0-7]+ share/doc/cuslice/' | sed 's/\(cuslice\.1\)\.gz$/\1/' >"$T/list.deb"
	echo "# Depends: $(dpkg-deb -f "$deb" Depends)"
	# One version everywhere: meson.build, debian/changelog, include/cuslice.h.
	v_meson=$("$BUILD/tools/cuslice" --version | awk '{ print $2 }')
	v_deb=$(dpkg-deb -f "$deb" Version)
	v_h=$(sed -n 's/^#define CUSLICE_VERSION "\(.*\)"$/\1/p' "$root/include/cuslice.h")
	check "one version: meson $v_meson, debian/changelog $v_deb, cuslice.h $v_h" \
		[ "$v_meson $v_meson" = "$v_deb $v_h" ]
else
	deb=""
fi

# 2. The Dockerfile: static checks, then its install lines on the context.
[ -n "$deb" ] && run "Dockerfile: COPY sources, .dockerignore, packages of both stages" \
	python3 "$root/tests/install/check-dockerfile.py" "$root" "$T/ctx" "$T/image-install.sh" "$deb"
if [ -f "$T/image-install.sh" ]; then
	run "Dockerfile: its meson setup/install lines on the build context" \
		env SRC="$T/ctx" BUILD="$T/image-build" STAGE="$T/image" sh "$T/image-install.sh" &&
		listing "$T/image/usr" >"$T/list.image"
fi

# 4. node-install.sh, as the image runs it, into a scratch root.
NI=$T/image/usr/libexec/cuslice/node-install.sh
mkdir -p "$T/node"
if [ -x "$NI" ] && run "node-install.sh --root scratch" "$NI" --root "$T/node"; then
	listing "$T/node/usr" >"$T/list.node"
	mode=$(stat -c %a "$T/node/dev/shm/cuslice" 2>/dev/null)
	check "node-install: ring folder /dev/shm/cuslice mode '$mode' (want 1777)" [ "$mode" = 1777 ]
fi

# The four lists.
for l in deb image node; do
	if [ ! -f "$T/list.$l" ]; then
		bad "no file list from the $l install (see above)"
	elif diff -u "$T/list.meson" "$T/list.$l" >"$T/diff"; then
		ok "$l install = meson install: $(wc -l <"$T/list.meson") files"
	else
		bad "$l install differs from meson install (- meson, + $l):"
		sed 's/^/     /' "$T/diff"
	fi
done
echo "# meson install: $(awk '{ print $3 }' "$T/list.meson" | tr '\n' ' ')"

# A Kubernetes node agent's install: only the library and the ring folder,
# the ring folder existing with a wrong mode, as a hostPath mount creates it.
K=$T/k8s
mkdir -p "$K/dev/shm/cuslice" && chmod 0755 "$K/dev/shm/cuslice"
if [ -x "$NI" ] && run "node-install.sh --lib-only --prefix /opt/cuslice --lib-dir /opt/cuslice/lib" \
	"$NI" --root "$K" --prefix /opt/cuslice --lib-dir /opt/cuslice/lib --lib-only; then
	preload=$(tail -n 1 "$T/out")
	got=$(cd "$K" && find . -mindepth 1 -printf '%y %m %P\n' | sort -k3 | tr '\n' ';')
	want="d 755 dev;d 755 dev/shm;d 1777 dev/shm/cuslice;d 755 opt;d 755 opt/cuslice;d 755 opt/cuslice/lib;f 644 opt/cuslice/lib/libcuslice.so;"
	check "node-install --lib-only wrote the library and the ring folder (fixed to 1777), nothing else: $got" \
		[ "$got" = "$want" ]
	check "node-install's last line: '$preload'" [ "$preload" = "LD_PRELOAD=/opt/cuslice/lib/libcuslice.so" ]
	mkdir -p "$T/sim" "$T/ring"
	LD_PRELOAD=$K${preload#LD_PRELOAD=} LD_LIBRARY_PATH=$SIM SIMCUDA_DIR=$T/sim CUSLICE_DIR=$T/ring \
		CUSLICE_TRACE=$T/trace.txt "$BUILD/examples/spin" --seconds 1 --work 100 >/dev/null 2>&1
	launches=$(awk '$1 == "cuLaunchKernel" { print $2 }' "$T/trace.txt" 2>/dev/null)
	check "that LD_PRELOAD works: spin under it counted '$launches' cuLaunchKernel (CUSLICE_TRACE)" \
		[ "${launches:-0}" -gt 0 ]
fi

# Bad input: a usage error exits 2, a missing source 1, each with a message.
if [ -x "$NI" ]; then
	"$NI" --root "$T/bad" --ring-dir relative/dir >"$T/out" 2>&1
	rc=$?
	check "node-install --ring-dir relative/dir: exit $rc (want 2), says: $(head -n 1 "$T/out")" \
		[ "$rc" = 2 ]
	mkdir -p "$T/bad"
	"$NI" --root "$T/bad" --from "$T/nothing" >"$T/out" 2>&1
	rc=$?
	written=$(ls -A "$T/bad")
	check "node-install --from an empty folder: exit $rc (want 1), says: $(head -n 1 "$T/out"); wrote '$written' (want nothing)" \
		[ "$rc:$written" = "1:" ]
fi

# The Kubernetes node agent's install step, as deploy/ runs it: its hostPath
# mounts are all it can write to, and the pods' injected LD_PRELOAD must name
# the library it installs.
DS=$root/deploy/kubernetes/base/daemonset.yaml
if [ ! -f "$DS" ]; then
	echo "# skip the node agent's install step (no $DS)"
elif [ -x "$NI" ] && run "read node-install.sh's arguments and mounts from daemonset.yaml" \
	python3 "$root/tests/install/daemonset-install.py" "$DS" "$root/deploy"; then
	mapfile -t args < <(sed -n 's/^arg //p' "$T/out")
	mapfile -t mounts < <(sed -n 's/^mount //p' "$T/out")
	mapfile -t preloads < <(sed -n 's/^preload //p' "$T/out" | sort -u)
	D=$T/ds ctr_root=/ argv=() prev=""
	for a in "${args[@]}"; do # the container's / is $D
		[ "$prev" != --root ] || { ctr_root=$a; a=$D$a; }
		argv+=("$a") prev=$a
	done
	[ "$ctr_root" != / ] || argv+=(--root "$D")
	for m in "${mounts[@]}"; do mkdir -p "$D$m"; done  # as kubelet makes them
	if run "node agent's install step: node-install.sh ${args[*]}" "$NI" "${argv[@]}"; then
		printed=$(tail -n 1 "$T/out")
		printed=${printed#LD_PRELOAD=}
		outside=""
		while read -r f; do
			inside=0
			for m in "${mounts[@]}"; do
				[ "$m" = /tmp ] || case $f in "$m"/*) inside=1 ;; esac
			done
			[ "$inside" = 1 ] || outside="$outside $f"
		done < <(cd "$D" && find . -mindepth 1 \( -type f -o -type l \) -printf '/%P\n')
		check "it writes only inside its hostPath mounts (${mounts[*]})${outside:+; outside:$outside}" \
			[ -z "$outside" ]
		check "the node has the library at $printed" [ -f "$D${ctr_root%/}$printed" ]
		for p in "${preloads[@]}"; do
			check "deploy/ injects LD_PRELOAD $p, where node-install put it" [ "$p" = "$printed" ]
		done
		check "deploy/ injects an LD_PRELOAD at all" [ "${#preloads[@]}" -gt 0 ]
	fi
fi

# The tmpfiles.d entry, applied to a scratch root.
conf=$T/meson$prefix/lib/tmpfiles.d/cuslice.conf
ringdir=$("$BUILD/tools/cuslice" help env | awk '/^  CUSLICE_DIR / { d = 1; next } d && $1 == "default:" { print $2; exit }')
if grep -qx "d $ringdir 1777 root root -" "$conf"; then
	ok "tmpfiles.d entry: d $ringdir 1777 root root - (CUSLICE_DIR's default)"
else
	bad "tmpfiles.d entry does not create $ringdir with mode 1777: $(grep -v '^#' "$conf")"
fi
if command -v systemd-tmpfiles >/dev/null && [ "$(id -u)" = 0 ]; then
	mkdir -p "$T/tmpf/usr/lib/tmpfiles.d" "$T/tmpf/dev/shm"
	cp "$conf" "$T/tmpf/usr/lib/tmpfiles.d/"
	systemd-tmpfiles --root="$T/tmpf" --create cuslice.conf >"$T/out" 2>&1
	mode=$(stat -c %a "$T/tmpf$ringdir" 2>/dev/null)
	check "systemd-tmpfiles --create makes $ringdir with mode '$mode' (want 1777)" [ "$mode" = 1777 ] ||
		sed 's/^/     /' "$T/out"
else
	echo "# skip systemd-tmpfiles --create (not installed, or not root)"
fi

# doctor, installed, against the simulated driver.
doctor() { # $1: cuslice binary, $2: the library it must find
	mkdir -p "$T/sim" && rm -rf "$T/ring"
	if ! LD_LIBRARY_PATH=$SIM SIMCUDA_DIR=$T/sim CUSLICE_DIR=$T/ring "$1" doctor >"$T/out" 2>&1; then
		bad "$1 doctor"; sed 's/^/     /' "$T/out"; return
	fi
	check "$1 doctor passes, with library $2" grep -q "^\[ ok \] library: $2\$" "$T/out" ||
		sed 's/^/     /' "$T/out"
}
multiarch=$(awk '{ print $3 }' "$T/list.meson" | sed -n 's|^\(lib/.*\)/libcuslice\.so$|\1|p')
if [ -n "$deb" ]; then
	doctor "$T/deb/usr/bin/cuslice" "$T/deb/usr/$multiarch/libcuslice.so"
	if [ "$(id -u)" != 0 ]; then
		echo "# skip dpkg -i (not root)"
	elif dpkg-query -W -f '${Status}' cuslice 2>/dev/null | grep -q 'ok installed'; then
		echo "# skip dpkg -i (a cuslice package is installed here already; left alone)"
	else
		exec 9>/tmp/cuslice-dpkg-test.lock && flock 9
		installed_deb=1
		# apt-get, as README says, waiting for a dpkg lock another job holds.
		lock=(-o DPkg::Lock::Timeout=300)
		if run "apt-get install ./$(basename "$deb")" \
			env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			"${lock[@]}" "$deb"; then
			doctor /usr/bin/cuslice "/usr/$multiarch/libcuslice.so"
		fi
		run "apt-get remove cuslice" apt-get remove -y -qq "${lock[@]}" cuslice && installed_deb=0
		flock -u 9
	fi
fi

# Every LD_PRELOAD=/usr/... path the docs give is a file the package installs.
if [ -n "$deb" ]; then
	paths=$(grep -ho 'LD_PRELOAD=/usr/[^ "`)]*\.so' "$root/README.md" "$root/docs/install.md" |
		sed 's/^LD_PRELOAD=//' | sort -u)
	for p in $paths; do
		check "LD_PRELOAD=$p (README.md, docs/install.md) is in the package" [ -f "$T/deb$p" ]
	done
	check "the docs give an LD_PRELOAD path at all" [ -n "$paths" ]
fi

# Optional features off: the command still builds and says what it lacks.
if run "meson setup -Dtop=disabled -Dhttp=disabled -Dman=disabled; ninja tools/cuslice" \
	sh -c "meson setup '$T/nofeat' '$root' -Dtop=disabled -Dhttp=disabled -Dman=disabled \
		-Dtests=disabled && ninja -C '$T/nofeat' tools/cuslice"; then
	"$T/nofeat/tools/cuslice" top >"$T/out" 2>&1
	rc=$?
	check "without top: 'cuslice top' exits $rc (want 1), says: $(head -n 1 "$T/out")" \
		[ "$rc:$(grep -c '^cuslice top: not available' "$T/out")" = "1:1" ]
	"$T/nofeat/tools/cuslice" metrics --listen 127.0.0.1:1 >"$T/out" 2>&1
	check "without http: 'cuslice metrics --listen' says: $(head -n 1 "$T/out")" \
		grep -q "^cuslice metrics: --listen is not available" "$T/out"
fi

# The man page.
page=$T/meson$prefix/share/man/man1/cuslice.1
if [ -f "$page" ]; then
	warn=$(groff -man -ww -z -Tutf8 "$page" 2>&1)
	check "cuslice.1: no groff warnings $warn" [ -z "$warn" ]
	text=$(MANWIDTH=200 man -l "$page" 2>/dev/null)
	missing=0
	for c in $("$BUILD/tools/cuslice" --help | awk '/^Commands:/ { c = 1; next } c && NF == 0 { exit } c { print $1 }'); do
		usage=$("$BUILD/tools/cuslice" "$c" --help | head -n 1)
		grep -qF -- "$usage" <<<"$text" || { bad "cuslice.1 lacks '$usage'"; missing=1; }
	done
	[ "$missing" = 1 ] || ok "cuslice.1 has every command's usage line"
else
	bad "no man page installed"
fi

echo "# install: $failed failed"
[ "$failed" = 0 ]
