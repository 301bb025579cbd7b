#!/bin/sh
# node-install.sh - puts cuslice on a machine (a GPU node) from an installed copy.
#
#   node-install.sh [--root DIR] [--prefix DIR] [--lib-dir DIR] [--ring-dir DIR]
#                   [--lib-only] [--from DIR]
#
# This file is a template: meson fills in the @...@ values and installs it as
# PREFIX/libexec/cuslice/node-install.sh (the container image has it at
# /usr/libexec/cuslice/node-install.sh). It copies the files that `meson
# install` put under its own prefix to the same places under --root, and
# prepares the ring folder:
#
#   --root DIR      the machine's root as this process sees it, e.g. the node's
#                   / mounted at /host (default /). Every path below is as the
#                   machine sees it, and is written under DIR.
#   --prefix DIR    where bin/, lib/, share/ go (default: @PREFIX@, this
#                   install's own prefix).
#   --lib-dir DIR   where libcuslice.so goes (default: PREFIX/@LIBDIR@). An
#                   injected LD_PRELOAD names DIR/libcuslice.so; the last line
#                   printed is that LD_PRELOAD.
#   --ring-dir DIR  the ring folder (CUSLICE_DIR; default @RINGDIR@): created
#                   with mode 1777 (owner root), or set to 1777 if it exists.
#   --lib-only      install only the library and the ring folder (a node
#                   whose /usr must not be touched: the Kubernetes node agent).
#   --from DIR      the prefix to copy from (default: found from where this
#                   script is, PREFIX/@LIBEXECDIR@/cuslice).
#
# Files are copied to a temporary name and renamed into place, so a process
# that has the old library mapped keeps running. Running it again is safe.
# Prints one line per file or folder written. Exit status 0, 1 when a source
# is missing or a copy fails (with a message), 2 on a usage error. Needs no
# tool beyond POSIX sh and coreutils.
set -eu

PREFIX='@PREFIX@'
BINDIR='@BINDIR@'
LIBDIR='@LIBDIR@'
LIBEXECDIR='@LIBEXECDIR@'
MANDIR='@MANDIR@'
TMPFILESDIR='@TMPFILESDIR@'
RINGDIR='@RINGDIR@'

die() { echo "node-install: $*" >&2; exit 1; }
usage() { echo "node-install: $*" >&2; sed -n '4,5p' "$0" >&2; exit 2; }

case $PREFIX in
@*) die "this is the template in scripts/; run the copy that meson installs" \
	"(PREFIX/libexec/cuslice/node-install.sh)" ;;
esac

root=/ prefix=$PREFIX lib_dir="" ring_dir=$RINGDIR lib_only=0 from=""
while [ $# -gt 0 ]; do
	case $1 in
	--root | --prefix | --lib-dir | --ring-dir | --from)
		if [ $# -lt 2 ] || [ -z "$2" ]; then usage "$1 needs a value"; fi
		case $1 in
		--root) root=$2 ;;
		--prefix) prefix=$2 ;;
		--lib-dir) lib_dir=$2 ;;
		--ring-dir) ring_dir=$2 ;;
		--from) from=$2 ;;
		esac
		shift 2 ;;
	--lib-only) lib_only=1; shift ;;
	-h | --help) sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) usage "unknown argument '$1'" ;;
	esac
done
for p in "$prefix" "$ring_dir" ${lib_dir:+"$lib_dir"}; do
	case $p in /*) ;; *) usage "'$p' is not an absolute path" ;; esac
done
[ -d "$root" ] || die "--root $root is not a folder"
[ -n "$lib_dir" ] || lib_dir=$prefix/$LIBDIR

# The prefix this script was installed under: strip LIBEXECDIR/cuslice.
if [ -z "$from" ]; then
	here=$(cd "$(dirname "$0")" && pwd -P)
	from=${here%/"$LIBEXECDIR"/cuslice}
	[ "$from" != "$here" ] || die "cannot tell the install prefix from $here; pass --from"
fi
[ -f "$from/$LIBDIR/libcuslice.so" ] || die "$from/$LIBDIR/libcuslice.so is missing (--from)"

# Copies $1 to the machine path $2 with mode $3, through a temporary name.
put() {
	dest=${root%/}$2
	mkdir -p "$(dirname "$dest")"
	tmp=$(dirname "$dest")/.$(basename "$dest").new.$$
	if ! { cp "$1" "$tmp" && chmod "$3" "$tmp" && mv -f "$tmp" "$dest"; }; then
		rm -f "$tmp"
		die "cannot write $dest"
	fi
	echo "installed $2"
}

put "$from/$LIBDIR/libcuslice.so" "$lib_dir/libcuslice.so" 0644
if [ "$lib_only" = 0 ]; then
	[ -f "$from/$BINDIR/cuslice" ] || die "$from/$BINDIR/cuslice is missing (--from)"
	put "$from/$BINDIR/cuslice" "$prefix/$BINDIR/cuslice" 0755
	put "$from/$LIBEXECDIR/cuslice/node-install.sh" \
		"$prefix/$LIBEXECDIR/cuslice/node-install.sh" 0755
	# The man page exists unless the build had -Dman=disabled.
	man=$MANDIR/man1/cuslice.1
	[ ! -f "$from/$man" ] || put "$from/$man" "$prefix/$man" 0644
	# The tmpfiles.d entry names the ring folder chosen here.
	# (under the prefix unless the build set -Dtmpfilesdir elsewhere)
	tdir=$TMPFILESDIR src_tdir=$TMPFILESDIR
	case $TMPFILESDIR in
	"$PREFIX"/*) tdir=$prefix${TMPFILESDIR#"$PREFIX"} src_tdir=$from${TMPFILESDIR#"$PREFIX"} ;;
	esac
	conf=$(mktemp)
	sed "s|^d $RINGDIR |d $ring_dir |" "$src_tdir/cuslice.conf" >"$conf" ||
		{ rm -f "$conf"; die "cannot read $src_tdir/cuslice.conf"; }
	put "$conf" "$tdir/cuslice.conf" 0644
	rm -f "$conf"
fi

ring=${root%/}$ring_dir
mkdir -p "$ring" || die "cannot create $ring"
[ "$(id -u)" != 0 ] || chown 0:0 "$ring" || die "cannot make root own $ring"
chmod 1777 "$ring" || die "cannot set mode 1777 on $ring"
echo "ring folder $ring_dir (mode 1777)"
echo "LD_PRELOAD=$lib_dir/libcuslice.so"
