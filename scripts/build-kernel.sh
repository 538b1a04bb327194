#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the vdmux test kernel into a cache outside the repository.
#
#   build-kernel.sh [debug|release|kcsan]   build (or reuse) that flavour, print its dir
#   build-kernel.sh --print-src-dir   unpack the source if needed, print its dir
#
# The source is unpacked once into $VDMUX_CACHE/linux-source-$KERNEL_SERIES and
# each flavour is built out of tree next to it (build-debug, build-release)
# from allnoconfig plus the fragments in scripts/kconfig/. A flavour is rebuilt
# only when the source version, a fragment or the toolchain changed.
#
# ARCH=arm64 cross-builds with the same LLVM for QEMU's virt machine, with
# PAGE_SIZE=4K (the default), 16K or 64K pages: the fragments arm64.config
# and arm64-$PAGE_SIZE.config come after base.config, and the tree is
# build-arm64-FLAVOUR (4K) or build-arm64-16k-FLAVOUR, build-arm64-64k-FLAVOUR.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
KERNEL_SERIES=${KERNEL_SERIES:-7.3}
LLVM_SUFFIX=${LLVM_SUFFIX:--19}
CACHE=${VDMUX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vdmux}
TARBALL=/usr/src/linux-source-$KERNEL_SERIES.tar.xz
SRC=$CACHE/linux-source-$KERNEL_SERIES
JOBS=${JOBS:-$(($(nproc) + 1))}
ARCH=${ARCH:-x86_64}
PAGE_SIZE=${PAGE_SIZE:-4K}
export LIBCLANG_PATH=${LIBCLANG_PATH:-/usr/lib/llvm${LLVM_SUFFIX}/lib}
# rustc is the pinned one (rust-toolchain.toml), and its --version is in the
# stamp: a new pin rebuilds the kernel, a new stable release does not.
. "$here/rust-toolchain.sh"

say() { printf 'build-kernel: %s\n' "$*" >&2; }
die() { printf 'build-kernel: error: %s\n' "$*" >&2; exit 1; }

source_version() {
	dpkg-query -W -f='${Version}' "linux-source-$KERNEL_SERIES" 2>/dev/null ||
		stat -c %Y "$TARBALL"
}

unpack_source() {
	local want top
	[ -f "$TARBALL" ] || die "$TARBALL is missing: run scripts/setup.sh, or set KDIR to a built Rust-enabled kernel tree"
	want=$(source_version)
	if [ -f "$SRC/.vdmux-source" ] && [ "$(cat "$SRC/.vdmux-source")" = "$want" ]; then
		return
	fi
	say "unpacking $TARBALL ($want)"
	rm -rf "$SRC" "$SRC.tmp"
	mkdir -p "$SRC.tmp"
	tar -xf "$TARBALL" -C "$SRC.tmp"
	top=("$SRC.tmp"/*)
	[ ${#top[@]} = 1 ] && [ -d "${top[0]}" ] || die "unexpected layout of $TARBALL"
	mv "${top[0]}" "$SRC"
	rmdir "$SRC.tmp"
	echo "$want" >"$SRC/.vdmux-source"
}

# Every CONFIG_X=v and "# CONFIG_X is not set" line of the fragments must
# survive olddefconfig: Kconfig silently drops options whose dependencies are
# not met, and a test kernel without KASAN would pass everything. A symbol
# that several fragments set is checked against the last of them, as
# merge_config.sh applies it (arm64.config unsets base.config's x86 options).
verify_config() {
	local config=$1 frag line sym bad=0
	local -A want from
	local -a order=()
	shift
	for frag in "$@"; do
		while IFS= read -r line; do
			case "$line" in
			CONFIG_*=*) sym=${line%%=*} ;;
			"# CONFIG_"*" is not set")
				sym=${line#\# }
				sym=${sym%% *}
				;;
			*) continue ;;
			esac
			[ -n "${want[$sym]+set}" ] || order+=("$sym")
			want[$sym]=$line
			from[$sym]=$(basename "$frag")
		done <"$frag"
	done
	for sym in ${order[@]+"${order[@]}"}; do
		line=${want[$sym]}
		case "$line" in
		CONFIG_*=*)
			grep -qx -- "$line" "$config" || {
				say "${from[$sym]}: $line was dropped (now: $(grep -E "^(# )?$sym[= ]" "$config" || echo unset))"
				bad=1
			}
			;;
		*)
			if grep -q "^$sym=" "$config"; then
				say "${from[$sym]}: $sym must be unset but is $(grep "^$sym=" "$config")"
				bad=1
			fi
			;;
		esac
	done
	[ "$bad" = 0 ] || die "the kernel configuration lacks options vdmux needs (see above)"
}

build_flavour() {
	local flavour=$1 out frags stamp want image arch_args=()
	[ -f "$here/kconfig/$flavour.config" ] || die "unknown flavour '$flavour' (debug, release or kcsan)"
	frags=("$here/kconfig/base.config")
	case "$ARCH" in
	x86_64 | x86)
		out=$CACHE/build-$flavour
		image=arch/x86/boot/bzImage
		;;
	arm64)
		case "$PAGE_SIZE" in
		4K) out=$CACHE/build-arm64-$flavour ;;
		16K | 64K) out=$CACHE/build-arm64-${PAGE_SIZE,,}-$flavour ;;
		*) die "PAGE_SIZE=$PAGE_SIZE: arm64 pages are 4K, 16K or 64K" ;;
		esac
		frags+=("$here/kconfig/arm64.config" "$here/kconfig/arm64-$PAGE_SIZE.config")
		image=arch/arm64/boot/Image
		arch_args=(ARCH=arm64)
		;;
	*) die "ARCH=$ARCH: x86_64 or arm64" ;;
	esac
	frags+=("$here/kconfig/$flavour.config")
	unpack_source
	want=$( {
		source_version
		cat "${frags[@]}"
		rustc --version
		"clang$LLVM_SUFFIX" --version | head -n1
		bindgen --version
	} | sha256sum | cut -d' ' -f1)
	stamp=$out/.vdmux-stamp
	if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
		[ -f "$out/$image" ] && [ -f "$out/Module.symvers" ]; then
		echo "$out"
		return
	fi
	say "configuring the $ARCH $flavour kernel in $out"
	mkdir -p "$out"
	rm -f "$stamp"
	local mk=(make -s -C "$SRC" O="$out" LLVM="$LLVM_SUFFIX" ${arch_args[@]+"${arch_args[@]}"})
	"${mk[@]}" allnoconfig >/dev/null
	"$SRC/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "${frags[@]}" >/dev/null
	"${mk[@]}" olddefconfig >/dev/null
	verify_config "$out/.config" "${frags[@]}"
	say "building the $ARCH $flavour kernel with -j$JOBS (about 10 minutes the first time)"
	local t0=$SECONDS
	# 'all' builds bzImage and the in-tree modules, so Module.symvers exists
	# and modpost accepts out-of-tree Rust modules.
	"${mk[@]}" -j"$JOBS" all >&2 || die "the kernel build failed"
	say "built in $((SECONDS - t0)) s"
	echo "$want" >"$stamp"
	echo "$out"
}

case "${1:-debug}" in
--print-src-dir)
	unpack_source
	echo "$SRC"
	;;
debug | release | kcsan)
	build_flavour "${1:-debug}"
	;;
*)
	die "usage: $0 [debug|release|kcsan|--print-src-dir]"
	;;
esac
