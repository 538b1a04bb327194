#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make check-dkms: Debian's dkms adds, builds, installs and removes vdmux
# against a built kernel tree (the cached test kernel by default), in private
# dkms, source and install trees: nothing of the host's /lib/modules or
# /var/lib/dkms is touched. Then the two refusals: a kernel without
# CONFIG_RUST (BUILD_EXCLUSIVE_CONFIG) and headers without the Rust build
# files (dkms-check.sh's message).
#
#   check-dkms.sh KDIR
set -euo pipefail
kdir=$(readlink -f "$1")
top=$(cd "$(dirname "$0")/.." && pwd)
say() { printf 'check-dkms: %s\n' "$*" >&2; }
die() { printf 'check-dkms: FAIL %s\n' "$*" >&2; exit 1; }

if ! command -v dkms >/dev/null; then
	say "apt-get install dkms"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dkms >/dev/null ||
		die "cannot install Debian's dkms package"
fi
name=$(sed -n 's/^PACKAGE_NAME="\(.*\)"/\1/p' "$top/dkms.conf")
version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$top/dkms.conf")
release=$(cat "$kdir/include/config/kernel.release")
T=$(mktemp -d /tmp/vdmux-dkms.XXXXXX)
trap 'rm -rf "$T"' EXIT
src=$T/src/$name-$version
mkdir -p "$src/scripts" "$T/dkms" "$T/install/$release"
# What a source package of vdmux holds for dkms.
cp -r "$top/dkms.conf" "$top/Makefile" "$top/Kbuild" "$top/src" "$top/include" "$src/"
cp "$top/scripts/gen-uapi-rs.sh" "$top/scripts/gen-helpers-rs.sh" "$top/scripts/dkms-check.sh" \
	"$top/scripts/dkms-debian-tree.sh" "$src/scripts/"
# A source package carries no generated file: dkms's build makes them.
rm -f "$src"/src/*_generated.rs "$src"/src/*.o "$src"/src/.*.cmd
trees=(--sourcetree "$T/src" --dkmstree "$T/dkms" --installtree "$T/install")
mv_=(-m "$name" -v "$version")
start=$SECONDS
log=$T/dkms.log

dkms add "${mv_[@]}" "${trees[@]}" >"$log" 2>&1 || { cat "$log"; die "dkms add"; }
say "dkms add: ok"
dkms build "${mv_[@]}" "${trees[@]}" -k "$release" --kernelsourcedir "$kdir" >"$log" 2>&1 || {
	cat "$log"
	cat "$T/dkms/$name/$version/build/make.log" 2>/dev/null | tail -n 20
	die "dkms build against $kdir"
}
say "dkms build -k $release: ok ($((SECONDS - start)) s)"
dkms install "${mv_[@]}" "${trees[@]}" -k "$release" --kernelsourcedir "$kdir" --no-depmod >"$log" 2>&1 || {
	cat "$log"
	die "dkms install"
}
ko=$(find "$T/install/$release" -name "$name.ko*" | head -n1)
[ -n "$ko" ] || { cat "$log"; find "$T/install"; die "dkms install put no $name.ko under the install tree"; }
vermagic=$(modinfo -F vermagic "$ko")
[ "${vermagic%% *}" = "$release" ] || die "the installed module's vermagic is '$vermagic', not $release"
say "dkms install: ok, ${ko#"$T/install/"}: vermagic $vermagic"
dkms status "${mv_[@]}" "${trees[@]}" -k "$release" 2>&1 | grep -q 'installed' ||
	die "dkms status does not say installed: $(dkms status "${trees[@]}" 2>&1)"
say "dkms status: $(dkms status "${mv_[@]}" "${trees[@]}" -k "$release" 2>&1)"
if [ -n "${CHECK_DKMS_KO:-}" ]; then cp "$ko" "$CHECK_DKMS_KO"; fi
dkms remove "${mv_[@]}" "${trees[@]}" -k "$release" --no-depmod >"$log" 2>&1 || { cat "$log"; die "dkms remove"; }
[ -z "$(find "$T/install/$release" -name "$name.ko*")" ] || die "dkms remove left $name.ko installed"
say "dkms remove: ok"

# A kernel without Rust: dkms skips the module (BUILD_EXCLUSIVE_CONFIG).
fake=$T/norust
mkdir -p "$fake/include/config"
echo "$release-norust" >"$fake/include/config/kernel.release"
grep -v '^CONFIG_RUST=' "$kdir/.config" >"$fake/.config"
dkms add "${mv_[@]}" "${trees[@]}" >/dev/null 2>&1 || true
rc=0
dkms build "${mv_[@]}" "${trees[@]}" -k "$release-norust" --kernelsourcedir "$fake" >"$log" 2>&1 || rc=$?
grep -q 'BUILD_EXCLUSIVE' "$log" || { cat "$log"; die "a kernel without CONFIG_RUST was not refused by BUILD_EXCLUSIVE_CONFIG"; }
say "kernel without CONFIG_RUST: refused (dkms exit $rc): $(grep -m1 -i 'exclusive' "$log")"

# Headers with CONFIG_RUST but without the Rust build files (Debian's).
cp "$kdir/.config" "$fake/.config"
echo "$release+deb-headers" >"$fake/include/config/kernel.release"
rc=0
dkms build "${mv_[@]}" "${trees[@]}" -k "$release+deb-headers" --kernelsourcedir "$fake" >"$log" 2>&1 || rc=$?
make_log=$T/dkms/$name/$version/build/make.log
if [ "$rc" = 0 ] || ! grep -q 'lacks the Rust build files' "$make_log" 2>/dev/null; then
	cat "$log"
	cat "$make_log" 2>/dev/null
	die "headers without the Rust build files were not refused with dkms-check.sh's message"
fi
say "headers without the Rust build files: refused, make.log says:"
sed -n '/^vdmux: /,$p' "$make_log" | grep -v '^make' | sed 's/^/    /' >&2
say "ok ($((SECONDS - start)) s)"
