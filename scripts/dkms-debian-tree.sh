#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The kernel tree to build vdmux against, for 'make kbuild' (what dkms.conf
# runs): KDIR itself when it has the Rust build files an out-of-tree Rust
# module needs, else, for a Debian kernel, a tree prepared once from the
# kernel's linux-source package with the headers' .config and
# Module.symvers and Debian's own rustc (Debian's linux-headers ship no
# rust/*.rmeta, rust/libmacros.so or scripts/target.json, and Debian has no
# linux-lib-rust package). Prints the tree's path; anything else goes to
# standard error. Without linux-source it prints KDIR, and
# scripts/dkms-check.sh says what is missing.
#
#   dkms-debian-tree.sh KDIR [RELEASE]
#
# Environment: VDMUX_TREES (default /var/lib/vdmux-dkms: one tree per
# kernel release, made once, removed with the vdmux-dkms package), JOBS.
set -euo pipefail
kdir=$1
release=${2:-$(cat "$kdir/include/config/kernel.release" 2>/dev/null || true)}
trees=${VDMUX_TREES:-/var/lib/vdmux-dkms}
say() { printf 'vdmux: %s\n' "$*" >&2; }
found() { echo "$1"; exit 0; }

[ -e "$kdir/rust/libmacros.so" ] && found "$kdir"
case "$release" in
*deb*) ;;
*) found "$kdir" ;;
esac
# The headers' .config and Module.symvers are in the -common package's tree
# for some releases.
headers_file() {
	local f
	for f in "$kdir/$1" "$(dirname "$(readlink -f "$kdir")")/linux-headers-${release%-*}-common/$1"; do
		[ -f "$f" ] && { echo "$f"; return; }
	done
	return 0
}
config=$(headers_file .config)
symvers=$(headers_file Module.symvers)
[ -n "$config" ] && [ -n "$symvers" ] || found "$kdir"
grep -q '^CONFIG_RUST=y' "$config" || found "$kdir"
series=$(echo "$release" | cut -d. -f1-2)
tarball=/usr/src/linux-source-$series.tar.xz
if [ ! -f "$tarball" ]; then
	say "$tarball is missing: install linux-source-$series to build vdmux for $release"
	found "$kdir"
fi
# The compiler and the rustc that built the kernel: a Rust symbol's name
# depends on the exact rustc.
cc=$(sed -n 's/^CONFIG_CC_VERSION_TEXT="\([^ ]*\) .*/\1/p' "$config")
command -v "$cc" >/dev/null || cc=gcc
krustc=$(sed -n 's/^CONFIG_RUSTC_VERSION_TEXT="\(.*\)"/\1/p' "$config")
if [ "$(rustc --version 2>/dev/null)" != "$krustc" ]; then
	say "rustc is '$(rustc --version 2>/dev/null)', $release was built with '$krustc'"
	found "$kdir"
fi

tree=$trees/$release/linux
want="$krustc/$("$cc" --version | head -n1)/$(md5sum <"$config" | cut -c1-32)/$(md5sum <"$symvers" | cut -c1-32)"
[ "$(cat "$tree/.vdmux-prepared" 2>/dev/null)" = "$want" ] && found "$tree"

say "preparing the Rust build files of $release from linux-source-$series in $tree (once: several minutes)"
rm -rf "$tree" "$tree.tmp"
mkdir -p "$tree.tmp"
tar -C "$tree.tmp" -xf "$tarball" --strip-components=1
mv "$tree.tmp" "$tree"
cp "$config" "$tree/.config"
mk=(make -C "$tree" -s CC="$cc" HOSTCC="$cc" KERNELRELEASE="$release")
"${mk[@]}" olddefconfig >&2
grep -q '^CONFIG_RUST=y' "$tree/.config" || {
	say "CONFIG_RUST got disabled by olddefconfig: this toolchain cannot build Rust for $release"
	found "$kdir"
}
"${mk[@]}" -j"${JOBS:-$(nproc)}" prepare modules_prepare >&2
cp "$symvers" "$tree/Module.symvers"
echo "$release" >"$tree/include/config/kernel.release"
echo "$want" >"$tree/.vdmux-prepared"
found "$tree"
