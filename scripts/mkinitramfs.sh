#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the test guest's initramfs: static busybox, qemu/init, vdmux.ko, the
# statically linked test programs, and the static tools in $VDMUX_BIN (in
# /usr/bin). gen_init_cpio (from the kernel source) writes the archive, so
# device nodes need no root.
#
#   mkinitramfs.sh OUT.cpio KSRC MODULE TESTDIR [EXTRADIR]
set -euo pipefail
out=$1 ksrc=$2 module=$3 tests=$4 extra=${5:-}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(dirname "$out")
busybox=${BUSYBOX:-/bin/busybox}

die() { printf 'mkinitramfs: error: %s\n' "$*" >&2; exit 1; }
file "$busybox" 2>/dev/null | grep -q 'statically linked' ||
	ldd "$busybox" 2>&1 | grep -q 'not a dynamic' || die "$busybox is not static (install busybox-static)"
[ -f "$module" ] || die "no module at $module"

gen=$work/gen_init_cpio
if [ ! -x "$gen" ] || [ "$ksrc/usr/gen_init_cpio.c" -nt "$gen" ]; then
	gcc -O2 -o "$gen" "$ksrc/usr/gen_init_cpio.c" || die "cannot build gen_init_cpio"
fi

# Users for the tests that need an unprivileged one: "user" is in group
# vdmux, as the udev rule expects of the virtual devices' users; "nobody" is
# in no group.
printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'user:x:1000:1000:user:/tmp:/bin/sh' \
	'nobody:x:65534:65534:nobody:/nonexistent:/bin/sh' >"$work/passwd"
printf '%s\n' 'root:x:0:' 'vdmux:x:990:user' 'user:x:1000:' 'nogroup:x:65534:' >"$work/group"

spec=$work/initramfs.spec
{
	for d in /bin /sbin /usr /usr/bin /dev /proc /sys /tmp /lib /lib/modules /tests /tests/extra /root /etc; do
		echo "dir $d 0755 0 0"
	done
	echo "nod /dev/console 0600 0 0 c 5 1"
	echo "nod /dev/null 0666 0 0 c 1 3"
	echo "file /bin/busybox $busybox 0755 0 0"
	echo "file /init $here/qemu/init 0755 0 0"
	echo "file /lib/modules/vdmux.ko $module 0644 0 0"
	echo "file /etc/passwd $work/passwd 0644 0 0"
	echo "file /etc/group $work/group 0644 0 0"
	if [ -n "${VDMUX_BIN:-}" ]; then
		for b in "$VDMUX_BIN"/*; do
			[ -f "$b" ] && [ -x "$b" ] && echo "file /usr/bin/${b##*/} $b 0755 0 0"
		done
	fi
	for t in "$tests"/*; do
		# A file without the executable bit is shell code the tests
		# source; /init runs only the executable ones.
		[ -f "$t" ] || continue
		if [ -x "$t" ]; then
			echo "file /tests/${t##*/} $t 0755 0 0"
		else
			echo "file /tests/${t##*/} $t 0644 0 0"
		fi
	done
	# Benchmarks (make bench) live apart from /tests, which check mode runs.
	if [ -n "${BENCH_DIR:-}" ]; then
		echo "dir /bench 0755 0 0"
		for t in "$BENCH_DIR"/*; do
			[ -f "$t" ] && [ -x "$t" ] && echo "file /bench/${t##*/} $t 0755 0 0"
		done
	fi
	if [ -n "$extra" ]; then
		[ -d "$extra" ] || die "EXTRA_TESTS=$extra is not a directory"
		for t in "$extra"/*; do
			[ -f "$t" ] && [ -x "$t" ] && echo "file /tests/extra/${t##*/} $(readlink -f "$t") 0755 0 0"
		done
	fi
} >"$spec"
"$gen" "$spec" >"$out.tmp"
mv "$out.tmp" "$out"
