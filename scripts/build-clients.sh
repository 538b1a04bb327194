#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the outside clients that `make check-clients` runs in the test guest
# (fio, stress-ng, trinity) as static programs, from Debian bookworm's source
# packages. The guest has no libc, hence -static.
#
#   build-clients.sh OUTDIR
#
# Each source package is fetched from the Debian mirror this host's apt
# already uses (found in /etc/apt as scripts/setup.sh finds it), checked
# against the SHA-256 of its .dsc pinned below (and the .dsc's own checksums
# for the tarballs), unpacked with its Debian patches, and built once into
# $CACHE/clients/ (~/.cache/vdmux/clients): a second run only copies the three
# programs into OUTDIR. Nothing of the tools' code enters the repository.
#
# Environment: VDMUX_CACHE (default ~/.cache/vdmux), DEBIAN_MIRROR (a URI of a
# Debian mirror, overriding the one found in /etc/apt), JOBS (default 2).
set -euo pipefail

out=${1:?usage: build-clients.sh OUTDIR}
cache=${VDMUX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vdmux}/clients
jobs=${JOBS:-2}

say() { printf 'build-clients: %s\n' "$*" >&2; }
die() { printf 'build-clients: error: %s\n' "$*" >&2; exit 1; }

# package  version  SHA-256 of the .dsc (bookworm main)
PACKAGES=(
	"fio 3.33-3 c2f0b96e94e7484369d4010b083b022a5f831bc688d92e4e517c20137947dfbc"
	"stress-ng 0.15.06-2 e6dd90893370ebcd62e16c087a8c6619540ec2a3acf2b40c844a7dd0fac18411"
	"trinity 1.9+git20230109.87f1530-1 cc37b291f2163dca2eb8c5352519e1496be055c0aa5d0f7f31e890d79642c3eb"
)

. "$(dirname "$0")/apt-mirror.sh"

fetch() { # URL FILE
	curl -sSfL --retry 3 -o "$2.part" "$1" || { rm -f "$2.part"; say "cannot download $1"; return 1; }
	mv "$2.part" "$2"
}

# The Debian source package $1 version $2 (.dsc SHA-256 $3) into $4.
unpack_debian() {
	local pkg=$1 ver=$2 sum=$3 dir=$4 dl=$cache/dl mirror pool dsc f s
	mkdir -p "$dl"
	mirror=${DEBIAN_MIRROR:-$(mirror_uri)}
	[ -n "$mirror" ] || { say "no bookworm mirror in /etc/apt (set DEBIAN_MIRROR)"; return 1; }
	pool=$mirror/pool/main/${pkg:0:1}/$pkg
	dsc=${pkg}_$ver.dsc
	[ -f "$dl/$dsc" ] || { say "downloading $dsc from $mirror"; fetch "$pool/$dsc" "$dl/$dsc" || return 1; }
	echo "$sum  $dl/$dsc" | sha256sum -c --quiet - || die "$dsc does not match its pinned SHA-256"
	while read -r s f; do
		[ -f "$dl/$f" ] || fetch "$pool/$f" "$dl/$f" || return 1
		echo "$s  $dl/$f" | sha256sum -c --quiet - || die "$f does not match $dsc"
	done < <(sed -n '/^Checksums-Sha256:/,/^[^ C]/p' "$dl/$dsc" | awk 'NF == 3 { print $1, $3 }')
	dpkg-source --no-check -x "$dl/$dsc" "$dir" >/dev/null || die "dpkg-source -x $dsc failed"
}

# Unpack package $1 into $cache/src/$1-$2 (once). Only Debian's archive is
# used: a version the mirror no longer serves is an error that names it, to
# be pinned anew above.
unpack() {
	local pkg=$1 ver=$2 sum=$3 dir=$cache/src/$1-$2
	[ -f "$dir/.unpacked" ] && return 0
	rm -rf "$dir"
	mkdir -p "$cache/src"
	unpack_debian "$pkg" "$ver" "$sum" "$dir" ||
		{ rm -rf "$dir"; die "$pkg $ver: the mirror does not serve its source package (pin the version bookworm has now)"; }
	touch "$dir/.unpacked"
}

is_static() { file -L "$1" | grep -q 'statically linked'; }

# The test kernel has no System V IPC: --disable-shm makes fio run its jobs
# as threads.
build_fio() {
	local dir=$1
	(cd "$dir" && ./configure --build-static --disable-native --disable-numa --disable-rdma \
		--disable-rados --disable-rbd --disable-http --disable-gfapi --disable-libnfs \
		--disable-pmem --disable-xnvme --disable-libzbc --disable-dfs \
		--disable-lex --disable-tcmalloc --disable-optimizations --disable-shm \
		--extra-cflags=-O2 >configure.log 2>&1) || die "fio: configure failed (see $dir/configure.log)"
	make -C "$dir" -j"$jobs" fio >"$dir/build.log" 2>&1 || die "fio: build failed (see $dir/build.log)"
	echo "$dir/fio"
}

build_stress_ng() {
	local dir=$1
	make -C "$dir" -j"$jobs" STATIC=1 stress-ng >"$dir/build.log" 2>&1 ||
		die "stress-ng: build failed (see $dir/build.log)"
	echo "$dir/stress-ng"
}

build_trinity() {
	local dir=$1
	(cd "$dir" && ./configure >configure.log 2>&1) || die "trinity: configure failed"
	# Its DRM and KVM ioctl tables want definitions (drm/i810_drm.h,
	# KVM_DEBUG_GUEST) that newer kernel headers (linux-libc-dev 6.4 and
	# later) no longer have; vdmux is neither.
	sed -i '/USE_DRM/d; /USE_KVM/d' "$dir/config.h"
	make -C "$dir" -j"$jobs" LDFLAGS=-static trinity >"$dir/build.log" 2>&1 ||
		die "trinity: build failed (see $dir/build.log)"
	echo "$dir/trinity"
}

# What the builds need from the host, installed once.
need=()
command -v dpkg-source >/dev/null || need+=(dpkg-dev)
command -v file >/dev/null || need+=(file)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
	say "installing ${need[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null ||
		die "cannot install ${need[*]} (apt-get install ${need[*]})"
fi
mkdir -p "$out" "$cache/bin"
for entry in "${PACKAGES[@]}"; do
	read -r pkg ver sum <<<"$entry"
	# The cached program is named after its build function too, so that a
	# change of flags builds it afresh, from a fresh tree.
	fn=build_${pkg//-/_}
	bin=$cache/bin/$pkg-$ver-$(declare -f "$fn" | sha256sum | cut -c1-12)
	if [ ! -x "$bin" ]; then
		rm -f "$cache/src/$pkg-$ver/.built"
		[ -f "$cache/src/$pkg-$ver/.unpacked" ] && [ -e "$cache/src/$pkg-$ver/.dirty" ] &&
			rm -f "$cache/src/$pkg-$ver/.unpacked"
		unpack "$pkg" "$ver" "$sum"
		touch "$cache/src/$pkg-$ver/.dirty"
		say "building $pkg $ver (static, -j$jobs)"
		start=$SECONDS
		built=$("$fn" "$cache/src/$pkg-$ver")
		is_static "$built" || die "$pkg: $built is not statically linked"
		strip -o "$bin.tmp" "$built" && mv "$bin.tmp" "$bin"
		say "built $pkg in $((SECONDS - start)) s"
	fi
	cmp -s "$bin" "$out/$pkg" || install -m 0755 "$bin" "$out/$pkg"
done
