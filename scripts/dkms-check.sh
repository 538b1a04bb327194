#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Can an out-of-tree Rust module be built against KDIR? dkms.conf runs this
# (through 'make kbuild') before the build, so that a kernel whose headers
# lack the Rust build files fails with the missing piece named.
#
#   dkms-check.sh KDIR
set -euo pipefail
kdir=$1
die() {
	printf 'vdmux: %s\n' "$1" >&2
	shift
	[ $# = 0 ] || printf '  %s\n' "$@" >&2
	exit 1
}
[ -f "$kdir/.config" ] || die "$kdir is not a configured kernel tree (no .config)"
grep -q '^CONFIG_RUST=y' "$kdir/.config" ||
	die "the kernel in $kdir is built without CONFIG_RUST=y: vdmux is a Rust module and cannot be built for it"
missing=()
for f in rust/libkernel.rmeta rust/libcore.rmeta rust/libmacros.so scripts/target.json Module.symvers; do
	[ -e "$kdir/$f" ] || missing+=("$f")
done
[ ${#missing[@]} = 0 ] && exit 0
release=$(cat "$kdir/include/config/kernel.release" 2>/dev/null || basename "$kdir")
msg=("the kernel tree $kdir lacks the Rust build files an out-of-tree Rust module needs:"
	"missing: ${missing[*]}")
case "$release" in
*deb*)
	msg+=("Debian's linux-headers-$release ship none of them (Debian has no linux-lib-rust"
		"package). With linux-source-$(echo "$release" | cut -d. -f1-2) and the rustc that built the kernel installed,"
		"the build prepares them (scripts/dkms-debian-tree.sh): install it, then"
		"  sudo dkms autoinstall -k $release"
		"or, from a clone of vdmux, 'sudo make install KDIR=$kdir'.") ;;
*)
	msg+=("Install the package that ships them (Ubuntu: linux-lib-rust-$release), or"
		"point dkms at a built kernel tree: dkms build -k $release --kernelsourcedir DIR") ;;
esac
die "${msg[@]}"
