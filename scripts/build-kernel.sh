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
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
KERNEL_SERIES=${KERNEL_SERIES:-7.3}
LLVM_SUFFIX=${LLVM_SUFFIX:--19}
CACHE=${VDMUX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vdmux}
TARBALL=/usr/src/linux-source-$KERNEL_SERIES.tar.xz
SRC=$CACHE/linux-source-$KERNEL_SERIES
JOBS=${JOBS:-$(($(nproc) + 1))}
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
# not met, and a test kernel without KASAN would pass everything.
verify_config() {
	local config=$1 frag line sym bad=0
	shift
	for frag in "$@"; do
		while IFS= read -r line; do
			case "$line" in
			CONFIG_*=*)
				grep -qx -- "$line" "$config" || {
					say "$(basename "$frag"): $line was dropped (now: $(grep -E "^(# )?${line%%=*}[= ]" "$config" || echo unset))"
					bad=1
				}
				;;
			"# CONFIG_"*" is not set")
				sym=${line#\# }
				sym=${sym%% *}
				if grep -q "^$sym=" "$config"; then
					say "$(basename "$frag"): $sym must be unset but is $(grep "^$sym=" "$config")"
					bad=1
				fi
				;;
			esac
		done <"$frag"
	done
	[ "$bad" = 0 ] || die "the kernel configuration lacks options vdmux needs (see above)"
}

build_flavour() {
	local flavour=$1 out frags stamp want
	out=$CACHE/build-$flavour
	frags=("$here/kconfig/base.config" "$here/kconfig/$flavour.config")
	[ -f "${frags[1]}" ] || die "unknown flavour '$flavour' (debug, release or kcsan)"
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
		[ -f "$out/arch/x86/boot/bzImage" ] && [ -f "$out/Module.symvers" ]; then
		echo "$out"
		return
	fi
	say "configuring the $flavour kernel in $out"
	mkdir -p "$out"
	rm -f "$stamp"
	local mk=(make -s -C "$SRC" O="$out" LLVM="$LLVM_SUFFIX")
	"${mk[@]}" allnoconfig >/dev/null
	"$SRC/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "${frags[@]}" >/dev/null
	"${mk[@]}" olddefconfig >/dev/null
	verify_config "$out/.config" "${frags[@]}"
	say "building the $flavour kernel with -j$JOBS (about 10 minutes the first time)"
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
