#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# vdmuxctl --device: the multiplexer to act on, chosen by its control node's
# path, a link to that node (as udev's /dev/vdmux-by-path/ ones), or the
# address of its PCI device. TAP output.
#
# Runs twice in make check: with RAM device memory (one multiplexer,
# /dev/vdmux), and in the pci pass (VDMUX_MODULE_PARAMS has
# device_memory=pci), whose guest has two ivshmem devices: both bound, the
# first as instance 0 (/dev/vdmux, /dev/vdmuxN), the second as instance 1
# (/dev/vdmux-1, /dev/vdmux-1.N), each with 4 virtual devices of 32768
# bytes.

export PATH=/usr/bin:/bin:/sbin
T=$(mktemp -d)
. "$(dirname "$0")/vdmuxctl_lib.sh"

case " $VDMUX_MODULE_PARAMS " in
*" device_memory=pci "*) pci=1 PLAN=14 ;;
*) pci= PLAN=7 ;;
esac

echo "TAP version 13"
echo "1..$PLAN"


# expect RC STDERR: the last vctl exited with RC and printed exactly STDERR.
expect() {
	[ "$rc" = "$1" ] && [ "$(cat "$T/err")" = "$2" ]
}

# The foreground of the control node $1 (vdmux, vdmux-1), from sysfs.
fg() {
	cat "/sys/class/misc/$1/foreground"
}

# The address of the PCI device of node $1.
pci_of() {
	basename "$(readlink "/sys/class/misc/$1/device")"
}

# The address of the first ivshmem device (bound or not).
first_ivshmem() {
	for d in /sys/bus/pci/devices/*; do
		if [ "$(cat "$d/vendor")" = 0x1af4 ] && [ "$(cat "$d/device")" = 0x1110 ]; then
			basename "$d"
			return
		fi
	done
}

[ -d /sys/module/vdmux ] || insmod "${VDMUX_KO:-/lib/modules/vdmux.ko}" $VDMUX_MODULE_PARAMS

# --- any mode: /dev/vdmux by default, by path, through a link --------------

vdmuxctl status >"$T/default" 2>&1
vctl --device /dev/vdmux status
check "--device /dev/vdmux: the default's status" eval '[ "$rc" = 0 ] && cmp -s "$T/out" "$T/default"'

ln -s /dev/vdmux "$T/link"
vctl --device "$T/link" switch 2
check "--device LINK switch 2: the linked multiplexer switches" eval '[ "$rc" = 0 ] && [ "$(fg vdmux)" = 2 ]'
vctl switch 0

printf 'through the link' | dd of=/dev/vdmux1 conv=notrunc 2>/dev/null
vctl --device "$T/link" dump 1 --raw --length 16
check "--device LINK dump 1: /dev/vdmux1's bytes" eval '[ "$rc" = 0 ] && [ "$(cat "$T/out")" = "through the link" ]'

vctl --device /dev/vdmux0 status
check "--device of a virtual device: refused, exit 1" eval '[ "$rc" = 1 ] && grep -q "/dev/vdmux0" "$T/err"'

vctl --device vdmux-1 status
check "--device that is neither a path nor an address: exit 1" \
	expect 1 "vdmuxctl: --device vdmux-1: neither a path nor a PCI address (0000:00:04.0)"

vctl --device 00:1e.7 status
check "--device of a PCI address with no device: exit 1" \
	expect 1 "vdmuxctl: --device 00:1e.7: no PCI device 0000:00:1e.7"

if [ -z "$pci" ]; then
	addr=$(first_ivshmem)
	vctl --device "$addr" status
	check "--device of a PCI device not bound (RAM mode): exit 1" \
		expect 1 "vdmuxctl: --device $addr: PCI device $addr has no vdmux nodes (is it bound to vdmux?)"
	# What the next program expects: the module as loaded, all zero.
	rmmod vdmux && insmod "${VDMUX_KO:-/lib/modules/vdmux.ko}"
	rm -rf "$T"
	plan_done
	exit
fi

# --- pci pass: two multiplexers ------------------------------------------

addr0=$(pci_of vdmux)
addr1=$(pci_of vdmux-1)
check "two PCI devices, each with its own nodes" eval '[ -n "$addr0" ] && [ -n "$addr1" ] &&
	[ "$addr0" != "$addr1" ] && [ "$(pci_of vdmux-1.3)" = "$addr1" ]'

vctl --device /dev/vdmux-1 status --json
check "--device /dev/vdmux-1 status: instance 1's" eval '[ "$rc" = 0 ] &&
	grep -q "^{\"nr_vdevs\":4,\"reserved_size\":$DEF,\"foreground\":0," "$T/out"'

vctl --device "$addr1" switch 3
check "--device ADDRESS switch 3: that device's multiplexer switches, not the other" eval \
	'[ "$rc" = 0 ] && [ "$(fg vdmux-1)" = 3 ] && [ "$(fg vdmux)" = 0 ]'

vctl --device "${addr0#0000:}" switch 2
check "--device short ADDRESS switch 2: the first device's, the second keeps 3" eval \
	'[ "$rc" = 0 ] && [ "$(fg vdmux)" = 2 ] && [ "$(fg vdmux-1)" = 3 ]'

vctl --device "$addr1" status
check "--device ADDRESS status: foreground 3" eval '[ "$rc" = 0 ] &&
	head -n 1 "$T/out" | grep -q "foreground 3,"'

mkdir "$T/by-path"
ln -s /dev/vdmux-1 "$T/by-path/pci-$addr1"
printf 'instance one, two' | dd of=/dev/vdmux-1.2 conv=notrunc 2>/dev/null
vctl --device "$T/by-path/pci-$addr1" dump 2 --raw --length 17
check "--device BY-PATH-LINK dump 2: /dev/vdmux-1.2's bytes" eval \
	'[ "$rc" = 0 ] && [ "$(cat "$T/out")" = "instance one, two" ]'
vctl dump 2 --raw --length 17
check "dump 2 without --device: /dev/vdmux2's bytes, not those" eval \
	'[ "$rc" = 0 ] && [ "$(cat "$T/out")" != "instance one, two" ]'

vctl --device "$addr1" fill 1 abc --length 6
dd if=/dev/vdmux-1.1 bs=6 count=1 2>/dev/null >"$T/bytes"
check "--device ADDRESS fill 1: /dev/vdmux-1.1 written" eval '[ "$rc" = 0 ] && [ "$(cat "$T/bytes")" = abcabc ]'

vdmuxctl --device "$addr1" switch 0 && vdmuxctl switch 0
rm -rf "$T"
plan_done
