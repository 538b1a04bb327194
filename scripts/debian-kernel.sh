#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# vdmux.ko for Debian's stock kernel, built with Debian's own toolchain.
#
# Debian's linux-headers package ships none of what an out-of-tree Rust module
# needs (rust/*.rmeta, libmacros.so, scripts/target.json), and a Rust symbol's
# name depends on the exact rustc that built the kernel. So this script
# prepares a kernel tree from linux-source with the headers' .config and
# Debian's Module.symvers, using Debian trixie's gcc, rustc and bindgen, in a
# trixie build root (or on the host when it is trixie with that toolchain),
# and builds vdmux.ko there. Every step is cached and skipped when done:
#
#   $CACHE/debian-root/              the trixie build root (debootstrap)
#   $CACHE/debian-root/build/linux-$RELEASE
#                                    the prepared kernel tree, one per release
#   $CACHE/debian-$RELEASE/          vdmux.ko, vmlinuz (Debian's, extracted
#                                    from linux-image, not installed)
#
#   debian-kernel.sh [module|tree|image|all|dkms|print-dir|print-tree]
#                                    (default: all = module and image;
#                                    dkms: scripts/check-dkms.sh in the root
#                                    against the prepared tree)
#
# Environment: DEBIAN_KERNEL (default 7.3.4+deb13-amd64), VDMUX_CACHE,
# DEBIAN_MIRROR (default: the mirror the host's apt already uses),
# DEBIAN_ROOT=host (build on the host: it must run trixie with Debian's
# rustc, gcc-14 and bindgen), JOBS (default 2).
set -euo pipefail

RELEASE=${DEBIAN_KERNEL:-7.3.4+deb13-amd64}
SERIES=${RELEASE%%.*}.$(echo "$RELEASE" | cut -d. -f2)
TOP=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${VDMUX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vdmux}
OUT=$CACHE/debian-$RELEASE
JOBS=${JOBS:-2}
what=${1:-all}

say() { printf 'debian: %s\n' "$*" >&2; }
die() {
	printf 'debian: error: %s\n' "$1" >&2
	shift
	for l in "$@"; do printf '  %s\n' "$l" >&2; done
	exit 1
}

case "$what" in
print-dir) echo "$OUT"; exit 0 ;;
module | tree | image | all | dkms | print-tree) ;;
*) die "unknown step '$what' (module, tree, image, all, dkms, print-dir or print-tree)" ;;
esac

[ "$(id -u)" = 0 ] || die "run as root: the build root needs debootstrap and chroot" \
	"(or DEBIAN_ROOT=host on a trixie host with Debian's toolchain)"

# The packages of the build root: Debian's toolchain, the kernel's build
# needs, and what the headers and the source come in.
PKGS=(gcc-14 gcc make bc flex bison libelf-dev libssl-dev python3 kmod cpio xz-utils
	rustc rust-src bindgen libclang-dev clang)
BPO_PKGS=("linux-source-$SERIES" "linux-headers-$RELEASE")

# --- where commands run --------------------------------------------------
if [ "${DEBIAN_ROOT:-}" = host ]; then
	ROOT=
	run() { (cd / && "$@"); }
else
	ROOT=$CACHE/debian-root
	run() { trixie_run "$ROOT" "$@"; }
fi
TREE_IN=/build/linux-$RELEASE
TREE=$ROOT$TREE_IN
[ "$what" = print-tree ] && { echo "$TREE"; exit 0; }

. "$(dirname "$0")/trixie-root.sh"

# --- 1. the build root -----------------------------------------------------
step_root() {
	if [ -z "$ROOT" ]; then
		grep -q '^VERSION_CODENAME=trixie' /etc/os-release ||
			die "DEBIAN_ROOT=host needs a Debian trixie host"
		return
	fi
	trixie_root "$ROOT" "$CACHE/debian-debootstrap.log" \
		"deb trixie" "deb trixie-updates" "deb trixie-backports"
	local want="${PKGS[*]} ${BPO_PKGS[*]}"
	# One record per release: the releases' packages live side by side.
	if [ "$(cat "$ROOT/.vdmux-packages-$RELEASE" 2>/dev/null)" != "$want" ]; then
		say "installing Debian's toolchain and linux-source-$SERIES, linux-headers-$RELEASE in the build root"
		run apt-get update -qq || die "apt-get update failed in the build root"
		run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			"${PKGS[@]}" >/dev/null ||
			die "apt-get install of Debian's toolchain failed in the build root" "${PKGS[*]}"
		run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			-t trixie-backports "${BPO_PKGS[@]}" >/dev/null ||
			die "linux-source-$SERIES or linux-headers-$RELEASE is not in trixie-backports" \
				"(DEBIAN_KERNEL=<release> picks another Debian kernel)"
		echo "$want" >"$ROOT/.vdmux-packages-$RELEASE"
	fi
}

# --- 2. the prepared kernel tree ------------------------------------------
HEADERS_IN=/usr/src/linux-headers-$RELEASE
# The headers' Module.symvers and .config are in the -common package's tree
# for some releases: take them where they are.
find_headers_file() {
	local f
	for f in "$ROOT$HEADERS_IN/$1" "$ROOT/usr/src/linux-headers-${RELEASE%-*}-common/$1"; do
		[ -f "$f" ] && { echo "$f"; return; }
	done
	die "linux-headers-$RELEASE has no $1"
}

step_tree() {
	local config symvers
	[ -d "$ROOT$HEADERS_IN" ] || die "linux-headers-$RELEASE is not installed${ROOT:+ in the build root}" \
		"apt-get install -t trixie-backports linux-headers-$RELEASE"
	config=$(find_headers_file .config)
	symvers=$(find_headers_file Module.symvers)
	grep -q '^CONFIG_RUST=y' "$config" ||
		die "Debian's $RELEASE is not built with CONFIG_RUST=y: vdmux cannot be built for it"
	local want
	want=$(run rustc --version)/$(run gcc-14 --version | head -n1)/$(md5sum <"$config" | cut -c1-32)
	if [ "$(cat "$TREE/.vdmux-prepared" 2>/dev/null)" = "$want" ]; then
		return
	fi
	# The toolchain must be the kernel's, or no Rust symbol resolves.
	local krustc
	krustc=$(sed -n 's/^CONFIG_RUSTC_VERSION_TEXT="\(.*\)"/\1/p' "$config")
	if [ -n "$krustc" ] && [ "$(run rustc --version)" != "$krustc" ]; then
		die "rustc is '$(run rustc --version)', the kernel's is '$krustc'" \
			"Rust symbols would not match Debian's: build in a trixie root with its rustc package"
	fi
	local tarball=/usr/src/linux-source-$SERIES.tar.xz
	[ -f "$ROOT$tarball" ] || die "no $tarball${ROOT:+ in the build root}" "apt-get install -t trixie-backports linux-source-$SERIES"
	say "unpacking linux-source-$SERIES"
	rm -rf "$TREE" "$TREE.tmp"
	mkdir -p "$TREE.tmp"
	tar -C "$TREE.tmp" -xf "$ROOT$tarball" --strip-components=1 || die "cannot unpack $tarball"
	mv "$TREE.tmp" "$TREE"
	cp "$config" "$TREE/.config"
	local mk=(make -C "$TREE_IN" -s CC=gcc-14 HOSTCC=gcc-14)
	say "make olddefconfig"
	run "${mk[@]}" olddefconfig || die "make olddefconfig failed in $TREE"
	# Only the compiler's version text may differ from Debian's .config.
	local diff
	diff=$(diff <(grep '^CONFIG_' "$config" | grep -v CC_VERSION_TEXT) \
		<(grep '^CONFIG_' "$TREE/.config" | grep -v CC_VERSION_TEXT) || true)
	[ -z "$diff" ] || say "warning: the configuration differs from Debian's: $(echo "$diff" | head -n 4 | tr '\n' ' ')"
	grep -q '^CONFIG_RUST=y' "$TREE/.config" ||
		die "CONFIG_RUST got disabled by olddefconfig: the toolchain in the root is not the one Debian used" \
			"$(run make -C "$TREE_IN" -s CC=gcc-14 rustavailable 2>&1 | tail -n 3)"
	say "make -j$JOBS prepare (builds the Rust core and kernel crates: 2 to 5 minutes)"
	run "${mk[@]}" -j"$JOBS" KERNELRELEASE="$RELEASE" prepare >"$OUT/prepare.log" 2>&1 ||
		die "make prepare failed in $TREE; the log is $OUT/prepare.log" "$(tail -n 5 "$OUT/prepare.log")"
	run "${mk[@]}" -j"$JOBS" KERNELRELEASE="$RELEASE" modules_prepare >>"$OUT/prepare.log" 2>&1 ||
		die "make modules_prepare failed in $TREE; the log is $OUT/prepare.log" "$(tail -n 5 "$OUT/prepare.log")"
	for f in rust/libkernel.rmeta rust/libmacros.so scripts/target.json; do
		[ -e "$TREE/$f" ] || die "make prepare left no $f in $TREE"
	done
	cp "$symvers" "$TREE/Module.symvers"
	echo "$RELEASE" >"$TREE/include/config/kernel.release"
	echo "$want" >"$TREE/.vdmux-prepared"
}

# --- 3. vdmux.ko ------------------------------------------------------------
step_module() {
	local src=$ROOT/build/vdmux-$RELEASE src_in=/build/vdmux-$RELEASE
	mkdir -p "$src"
	# A fresh copy of the driver's sources: Kbuild, src/ and the UAPI header.
	local sum
	sum=$(cd "$TOP" && cat Kbuild include/uapi/vdmux.h scripts/gen-uapi-rs.sh scripts/gen-helpers-rs.sh \
		$(find src -name '*.[ch]' | sort) $(find src -name '*.rs' ! -name '*_generated.rs' | sort) | md5sum |
		cut -c1-32)/$(cat "$TREE/.vdmux-prepared")
	if [ -f "$OUT/vdmux.ko" ] && [ "$(cat "$OUT/.vdmux-module" 2>/dev/null)" = "$sum" ]; then
		return
	fi
	say "building vdmux.ko for $RELEASE with $(run rustc --version | cut -d' ' -f1-2) and Debian's Module.symvers"
	rm -rf "$src"
	mkdir -p "$src/src" "$src/include/uapi" "$src/scripts"
	cp "$TOP/Kbuild" "$src/"
	cp -r "$TOP"/src/. "$src/src/"
	rm -f "$src"/src/*_generated.rs "$src"/src/*.o "$src"/src/.*.cmd "$src"/src/*.d
	cp "$TOP/include/uapi/vdmux.h" "$src/include/uapi/"
	cp "$TOP/scripts/gen-uapi-rs.sh" "$TOP/scripts/gen-helpers-rs.sh" "$src/scripts/"
	run env LIBCLANG_PATH=/usr/lib/llvm-19/lib "$src_in/scripts/gen-uapi-rs.sh" \
		"$src_in/include/uapi/vdmux.h" "$src_in/src/uapi_generated.rs" >"$OUT/module.log" 2>&1 ||
		die "bindgen could not generate the UAPI mirror; the log is $OUT/module.log" "$(tail -n 3 "$OUT/module.log")"
	run env LIBCLANG_PATH=/usr/lib/llvm-19/lib "$src_in/scripts/gen-helpers-rs.sh" \
		"$src_in/src/c_helpers.h" "$src_in/src/c_helpers_generated.rs" >>"$OUT/module.log" 2>&1 ||
		die "bindgen could not generate the C helpers' declarations; the log is $OUT/module.log" "$(tail -n 3 "$OUT/module.log")"
	run env LIBCLANG_PATH=/usr/lib/llvm-19/lib "$src_in/scripts/gen-helpers-rs.sh" \
		"$src_in/src/pci_helpers.h" "$src_in/src/pci_helpers_generated.rs" >>"$OUT/module.log" 2>&1 ||
		die "bindgen could not generate the PCI helpers' declarations; the log is $OUT/module.log" "$(tail -n 3 "$OUT/module.log")"
	run make -C "$TREE_IN" M="$src_in" CC=gcc-14 HOSTCC=gcc-14 KERNELRELEASE="$RELEASE" \
		-j"$JOBS" modules >>"$OUT/module.log" 2>&1 ||
		die "vdmux.ko did not build against $TREE; the log is $OUT/module.log" "$(tail -n 8 "$OUT/module.log")"
	local vermagic
	vermagic=$(run modinfo -F vermagic "$src_in/vdmux.ko")
	case "$vermagic" in
	"$RELEASE "*) ;;
	*) die "vdmux.ko has vermagic '$vermagic', not $RELEASE" ;;
	esac
	install -m 0644 "$src/vdmux.ko" "$OUT/vdmux.ko"
	echo "$sum" >"$OUT/.vdmux-module"
	say "$OUT/vdmux.ko: vermagic $vermagic"
}

# --- 4. Debian's kernel image ----------------------------------------------
step_image() {
	[ -f "$OUT/vmlinuz" ] && return
	say "extracting Debian's vmlinuz-$RELEASE from its package (not installed)"
	local dl=$ROOT/build/debs
	rm -rf "$dl"
	mkdir -p "$dl"
	# linux-image-* held the image (boot/vmlinuz-*) in older releases; 7.x
	# moved it into linux-binary-* (usr/lib/modules/*/vmlinuz).
	local pkg deb= tried=() image f
	for pkg in "linux-binary-$RELEASE" "linux-image-$RELEASE-unsigned" "linux-image-$RELEASE"; do
		tried+=("$pkg")
		rm -rf "$dl"/*
		run sh -c "cd /build/debs && apt-get download -qq -t trixie-backports $pkg" >/dev/null 2>&1 || continue
		deb=$(ls "$dl"/*.deb | head -n1)
		mkdir -p "$dl/x"
		dpkg-deb -x "$deb" "$dl/x" || die "cannot unpack $deb"
		image=
		for f in "$dl/x/boot/vmlinuz-$RELEASE" "$dl/x/usr/lib/modules/$RELEASE/vmlinuz"; do
			[ -f "$f" ] && image=$f
		done
		[ -n "$image" ] && break
		deb=
	done
	[ -n "$deb" ] || die "no vmlinuz in any of ${tried[*]}"
	install -m 0644 "$image" "$OUT/vmlinuz.tmp"
	basename "$deb" >"$OUT/vmlinuz.package"
	mv "$OUT/vmlinuz.tmp" "$OUT/vmlinuz"
	rm -rf "$dl"
}

# --- 5. dkms against the prepared tree ----------------------------------------
# What a Debian user's dkms does with vdmux's source package, in the root
# with trixie's dkms: add, build (make kbuild, bindgen included), install
# with Debian's vermagic, remove, and the two refusals (check-dkms.sh).
step_dkms() {
	local src=$ROOT/build/dkms-$RELEASE src_in=/build/dkms-$RELEASE
	rm -rf "$src"
	mkdir -p "$src/scripts"
	cp -r "$TOP/dkms.conf" "$TOP/Makefile" "$TOP/Kbuild" "$TOP/rust-toolchain.toml" "$TOP/src" \
		"$TOP/include" "$src/"
	cp "$TOP"/scripts/check-dkms.sh "$TOP"/scripts/dkms-check.sh "$TOP"/scripts/dkms-debian-tree.sh "$TOP"/scripts/gen-*-rs.sh "$src/scripts/"
	say "dkms add, build, install, remove against $TREE_IN, in the root"
	run "$src_in/scripts/check-dkms.sh" "$TREE_IN" >"$OUT/dkms.log" 2>&1 ||
		die "dkms against $RELEASE failed; the log is $OUT/dkms.log" "$(tail -n 8 "$OUT/dkms.log")"
	sed -n 's/^check-dkms: /debian: dkms: /p; s/^    /debian: dkms:     /p' "$OUT/dkms.log" >&2
	rm -rf "$src"
}

mkdir -p "$OUT"
step_root
case "$what" in
tree) step_tree ;;
dkms) step_tree && step_dkms ;;
module) step_tree && step_module ;;
image) step_image ;;
all) step_tree && step_module && step_image ;;
esac
say "ok: $OUT"
