#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make deb: the vdmux source package (debian/) built into vdmux-dkms and
# vdmuxctl with Debian's own tools (dpkg-buildpackage, debhelper, dh-dkms,
# trixie's cargo and rustc) in a Debian 13 trixie build root, then checked
# with lintian --pedantic: any tag fails it, but those overridden in debian/
# with their reason. The crates are vendored with cargo vendor into the copy of
# the source (debian/vendor, not part of the source package): the build in
# the root is offline.
#
#   debian-pkg.sh [OUT]      (default OUT: build/deb)
#
# The root is $CACHE/debian-pkg-root (debootstrap --variant=minbase trixie
# from the mirror the host's apt uses), made once; the build dependencies
# are installed from debian/control with apt-get build-dep each time (a
# no-op when nothing changed). Environment: VDMUX_CACHE, DEBIAN_MIRROR.
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${VDMUX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vdmux}
ROOT=$CACHE/debian-pkg-root
OUT=${1:-$TOP/build/deb}
say() { printf 'deb: %s\n' "$*" >&2; }
die() {
	printf 'deb: error: %s\n' "$1" >&2
	shift
	for l in "$@"; do printf '  %s\n' "$l" >&2; done
	exit 1
}
[ "$(id -u)" = 0 ] || die "run as root: the build root needs debootstrap and chroot"
. "$TOP/scripts/trixie-root.sh"

run() { trixie_run "$ROOT" "$@"; }

# --- the build root ---------------------------------------------------------
trixie_root "$ROOT" "$CACHE/debian-pkg-debootstrap.log" "deb trixie" "deb-src trixie"
if [ ! -f "$ROOT/.vdmux-tools" ]; then
	say "installing dpkg-dev and lintian in the build root (once)"
	run apt-get update -qq || die "apt-get update failed in the build root"
	run apt-get install -y -qq --no-install-recommends dpkg-dev lintian >/dev/null ||
		die "dpkg-dev or lintian could not be installed in the build root"
	touch "$ROOT/.vdmux-tools"
fi

# --- the source ---------------------------------------------------------------
version=$(sed -n '1s/^vdmux (\([^)]*\)).*/\1/p' "$TOP/debian/changelog")
build=$ROOT/build/pkg
src=$build/vdmux-$version
rm -rf "$build"
mkdir -p "$src"
# What git tracks (or would: new files not ignored), as it is in the work tree.
(cd "$TOP" && git ls-files -z --cached --others --exclude-standard |
	while IFS= read -r -d '' f; do [ -e "$f" ] || [ -L "$f" ] && printf '%s\0' "$f"; done |
	tar --null -T - -cf -) | tar -C "$src" -xf -
say "cargo vendor into the copy's debian/vendor"
(cd "$src/tools" && cargo vendor --locked --quiet "$src/debian/vendor" >/dev/null) ||
	die "cargo vendor failed"

say "installing the build dependencies (debian/control) in the build root"
run apt-get build-dep -y -qq "/build/pkg/vdmux-$version" >"$build/build-dep.log" 2>&1 ||
	die "apt-get build-dep failed; its log is $build/build-dep.log" "$(tail -n 3 "$build/build-dep.log")"

# --- build and check --------------------------------------------------------
say "dpkg-buildpackage -us -uc in the build root"
run sh -c "cd /build/pkg/vdmux-$version && dpkg-buildpackage -us -uc" >"$build/build.log" 2>&1 ||
	die "dpkg-buildpackage failed; its log is $build/build.log" "$(tail -n 12 "$build/build.log")"
changes=vdmux_${version}_$(run dpkg --print-architecture).changes
say "lintian $changes"
lint=0
run lintian --info --pedantic --fail-on error,warning,info,pedantic "/build/pkg/$changes" >"$build/lintian.log" 2>&1 || lint=$?
sed 's/^/  lintian: /' "$build/lintian.log" >&2
mkdir -p "$OUT"
rm -f "$OUT"/*.deb
cp "$build"/*.deb "$build"/*.dsc "$build"/*.tar.* "$build/$changes" "$build/lintian.log" "$OUT"/
[ "$lint" = 0 ] || die "lintian found errors or warnings (above; $OUT/lintian.log)"
say "ok: $(cd "$OUT" && ls *.deb | tr '\n' ' ')in $OUT"
