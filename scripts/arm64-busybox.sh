#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The arm64 test guest's busybox: Debian's busybox-static for arm64, from
# the archive this host's apt already uses, unpacked into the cache once.
#
#   arm64-busybox.sh    print the path of the static arm64 busybox
#
# The host's dpkg is not made multi-arch: apt runs with a state directory of
# its own ($CACHE/arm64/apt) that lists arm64 packages of the host's own
# sources only, so that the host's apt sees nothing of it.
set -euo pipefail

CACHE=${VDMUX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vdmux}
dir=$CACHE/arm64
out=$dir/busybox

say() { printf 'arm64-busybox: %s\n' "$*" >&2; }
die() { printf 'arm64-busybox: error: %s\n' "$*" >&2; exit 1; }

is_arm64_static() {
	file "$1" 2>/dev/null | grep -q 'ARM aarch64.*statically linked'
}

if [ -f "$out" ] && is_arm64_static "$out"; then
	echo "$out"
	exit 0
fi
state=$dir/apt
mkdir -p "$state/lists/partial" "$state/cache/archives/partial" "$dir/deb"
apt_arm64=(-o APT::Architecture=arm64 -o APT::Architectures::=arm64
	-o Dir::State::Lists="$state/lists" -o Dir::Cache="$state/cache"
	-o Dir::State::status=/dev/null -o Debug::NoLocking=1)
say "fetching the arm64 package lists of the host's sources"
apt-get -qq "${apt_arm64[@]}" update || die "apt-get update (arm64 lists) failed"
rm -f "$dir/deb"/busybox-static_*.deb
# apt's download user cannot write into root's cache: download as root.
(cd "$dir/deb" && apt-get -qq "${apt_arm64[@]}" -o APT::Sandbox::User=root \
	download busybox-static:arm64) || die "apt-get download busybox-static:arm64 failed"
deb=("$dir/deb"/busybox-static_*_arm64.deb)
[ -f "${deb[0]}" ] || die "no busybox-static arm64 package was downloaded"
rm -rf "$dir/unpacked"
dpkg-deb -x "${deb[0]}" "$dir/unpacked"
is_arm64_static "$dir/unpacked/bin/busybox" || die "${deb[0]##*/} holds no static arm64 busybox"
install -m 0755 "$dir/unpacked/bin/busybox" "$out"
say "$(basename "${deb[0]}") unpacked into $out"
echo "$out"
