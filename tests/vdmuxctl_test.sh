#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# vdmuxctl against the real driver: its output, the state changes it makes,
# its messages and exit statuses, and fill/dump byte for byte. TAP output.
#
# Expects vdmux loaded with its defaults (4 virtual devices of 32768 bytes, rounded up to a page),
# and the guest's users "user" (in group vdmux) and "nobody".

export PATH=/usr/bin:/bin:/sbin
T=$(mktemp -d)
. "$(dirname "$0")/vdmuxctl_lib.sh"
PLAN=57

echo "TAP version 13"
echo "1..$PLAN"


# expect RC STDERR: the last vctl exited with RC and printed exactly STDERR
# (and nothing on stdout when RC is not 0).
expect() {
	if [ "$rc" = "$1" ] && [ "$(cat "$T/err")" = "$2" ] &&
		{ [ "$1" = 0 ] || [ ! -s "$T/out" ]; }; then
		return 0
	fi
	diag "exit $rc (want $1), stderr: $(cat "$T/err"), stdout: $(head -c 200 "$T/out")"
	return 1
}

# expect_usage LINE: the last vctl was refused as a usage error whose first
# line is LINE.
expect_usage() {
	if [ "$rc" = 2 ] && [ "$(head -n 1 "$T/err")" = "$1" ] && [ ! -s "$T/out" ]; then
		return 0
	fi
	diag "exit $rc (want 2), stderr: $(cat "$T/err")"
	return 1
}

# The status line of vdev $1 in the last status output: "STATE FG SIZE GEN".
row() {
	awk -v i="$1" 'NR > 2 && $1 == i { print $2, $3, $4, $5 }' "$T/out"
}

# The fields of vdev $1 in the last status --json output.
json_vdev() {
	sed 's/.*"vdevs":\[//; s/},{/}|{/g' "$T/out" | tr '|' '\n' | grep "^{\"index\":$1,"
}

# Back to the load-time state: everything inserted, vdev 0 in front, the
# default size, all bytes zero.
reset() {
	for i in 0 1 2 3; do vdmuxctl insert "$i" 2>/dev/null; done
	vdmuxctl switch 0 && vdmuxctl resize "$DEF" &&
		for i in 0 1 2 3; do vdmuxctl fill "$i" '\0' || return 1; done
}

generation() {
	vdmux-status
}

if ! reset; then
	echo "Bail out! cannot bring vdmux to its default state with vdmuxctl"
	exit 1
fi

# --- help -----------------------------------------------------------------

vctl --help
lists_everything() {
	[ "$rc" = 0 ] || return 1
	for c in status switch eject insert resize dump fill watch; do
		grep -q "^  $c " "$T/out" || return 1
	done
	grep -q "^Exit status: 0 success, 1 the operation failed, 2 usage error," "$T/out"
}
check "--help lists every command and the exit statuses" lists_everything

every_help() {
	for c in status switch eject insert resize dump fill watch; do
		vctl "$c" --help
		if [ "$rc" != 0 ] || ! grep -q -e "^Usage: vdmuxctl $c$" -e "^Usage: vdmuxctl $c " "$T/out"; then
			diag "$c --help: exit $rc, $(head -n 3 "$T/out")"
			return 1
		fi
	done
}
check "every command has --help" every_help

# --- status ---------------------------------------------------------------

vctl status
gen=$(generation)
check "status: summary line" [ "$(head -n 1 "$T/out")" = \
	"4 virtual devices of $DEF bytes ($DEF_K), foreground 0, generation $gen" ]
initial_rows() {
	[ "$(row 0 | cut -d" " -f1-3)" = "foreground yes $DEF" ] &&
		[ "$(row 1 | cut -d" " -f1-3)" = "background no $DEF" ] &&
		[ "$(row 3 | cut -d" " -f1-3)" = "background no $DEF" ] &&
		[ "$(awk 'NR > 2' "$T/out" | wc -l)" = 5 ] &&
		[ "$(tail -n 1 "$T/out")" = "context management: off" ]
}
check "status: vdev 0 in the foreground, 1-3 in the background, context management off" initial_rows

vctl status --json
check "status --json: the device's fields" eval \
	'[ "$rc" = 0 ] && [ "$(wc -l <"$T/out")" = 1 ] &&
	grep -q "^{\"nr_vdevs\":4,\"reserved_size\":$DEF,\"foreground\":0,\"generation\":$gen,\"vdevs\":\[" "$T/out" &&
	json_vdev 0 | grep -q "\"state\":\"foreground\",\"foreground\":true,\"size\":$DEF," &&
	json_vdev 2 | grep -q "\"state\":\"background\",\"foreground\":false,\"size\":$DEF," &&
	grep -q "\],\"ctxmgt\":{\"enabled\":false,\"timeout_ms\":0}}\$" "$T/out"'

# --- context management ---------------------------------------------------

vctl ctx on --timeout 10ms
check "ctx on --timeout 10ms succeeds silently" expect 0 ""
vctl status
check "status: context management on, hold 10 ms (GET_CTXMGT)" eval \
	'[ "$rc" = 0 ] && [ "$(tail -n 1 "$T/out")" = "context management: on, hold 10 ms" ] &&
	[ "$(cat /sys/class/misc/vdmux/ctxmgt) $(cat /sys/class/misc/vdmux/ctxmgt_timeout_ms)" = "1 10" ]'
vctl status --json
check "status --json: ctxmgt on, 10 ms" \
	grep -q "\],\"ctxmgt\":{\"enabled\":true,\"timeout_ms\":10}}\$" "$T/out"
vctl watch --timeout 0.2
check "watch: its first line names context management when on" eval \
	'[ "$rc" = 0 ] && head -n 1 "$T/out" |
	grep -q "^watching vdmux: .*, generation [0-9]*; context management on, hold 10 ms\$"'
vctl ctx off
vctl status
check "ctx off: status says off, the hold kept" eval \
	'[ "$rc" = 0 ] && [ "$(tail -n 1 "$T/out")" = "context management: off" ] &&
	[ "$(cat /sys/class/misc/vdmux/ctxmgt) $(cat /sys/class/misc/vdmux/ctxmgt_timeout_ms)" = "0 10" ] &&
	vdmuxctl ctx on --timeout 0 && vdmuxctl ctx off'

# --- switch, eject, insert -------------------------------------------------

vctl status --json
g2=$(vdmux-status 2)
vctl switch 2
check "switch 2 succeeds silently" expect 0 ""
vctl status
check "switch 2: vdev 2 is the foreground, vdev 0 the background" eval \
	'[ "$(row 2)" = "foreground yes $DEF $((g2 + 1))" ] &&
	[ "$(row 0 | cut -d" " -f1-2)" = "background no" ] &&
	head -n 1 "$T/out" | grep -q "foreground 2, generation $((gen + 1))\$"'

vctl eject 1
check "eject 1 succeeds" expect 0 ""
vctl status --json
check "eject 1: status says removed" eval \
	'json_vdev 1 | grep -q "\"state\":\"removed\",\"foreground\":false"'
vctl eject 1
check "eject 1 again: already removed, EINVAL, exit 1" \
	expect 1 "vdmuxctl: eject 1: virtual device 1 is already removed (EINVAL)"
vctl switch 1
check "switch to a removed device: ENODEV, exit 1" \
	expect 1 "vdmuxctl: switch 1: virtual device 1 is removed, insert it first (ENODEV)"
vctl insert 1
check "insert 1 succeeds" expect 0 ""
vctl status
check "insert 1: back in the background" [ "$(row 1 | cut -d" " -f1-2)" = "background no" ]
vctl insert 1
check "insert a device that is not removed: EINVAL, exit 1" \
	expect 1 "vdmuxctl: insert 1: virtual device 1 is not removed, it is in the background (EINVAL)"

vctl eject 2
vctl status
check "eject the foreground: no foreground left" eval \
	'[ "$(row 2 | cut -d" " -f1-2)" = "removed no" ] &&
	head -n 1 "$T/out" | grep -q ", no foreground, generation"'
vdmuxctl insert 2 && vdmuxctl switch 0

# --- errors ---------------------------------------------------------------

vctl switch 9
check "switch 9: no such virtual device, EINVAL, exit 1" \
	expect 1 "vdmuxctl: switch 9: no such virtual device (EINVAL)"
vctl eject 4
check "eject 4: no such virtual device" \
	expect 1 "vdmuxctl: eject 4: no such virtual device (EINVAL)"
vctl insert 4294967295
check "insert 4294967295: no such virtual device" \
	expect 1 "vdmuxctl: insert 4294967295: no such virtual device (EINVAL)"

vctl switch
check "switch without an index: usage error, exit 2" \
	expect_usage "error: the following required arguments were not provided:"
vctl switch -1
check "switch -1: usage error" \
	expect_usage "error: invalid value '-1' for '<N>': not a virtual device index (0 to 4294967295)"
vctl frobnicate
check "unknown command: usage error" expect_usage "error: unrecognized subcommand 'frobnicate'"
vctl status --yaml
check "unknown option: usage error" expect_usage "error: unexpected argument '--yaml' found"

# An unprivileged user who may open the control node (as a group may) still
# cannot change anything: the driver wants CAP_SYS_ADMIN.
chgrp vdmux /dev/vdmux && chmod 0660 /dev/vdmux
gen=$(generation)
as user switch 1
check "switch as an unprivileged user: EPERM, exit 1" \
	expect 1 "vdmuxctl: switch 1: permission denied, needs CAP_SYS_ADMIN (EPERM)"
as user resize 64K
check "resize as an unprivileged user: EPERM, exit 1" \
	expect 1 "vdmuxctl: resize 64K: permission denied, needs CAP_SYS_ADMIN (EPERM)"
check "nothing changed for EPERM" [ "$(generation)" = "$gen" ]
chgrp root /dev/vdmux && chmod 0600 /dev/vdmux

as nobody eject 1
check "eject as a user who cannot open /dev/vdmux: EACCES, exit 1" \
	expect 1 "vdmuxctl: eject 1: cannot open /dev/vdmux: permission denied (EACCES)"

# What the udev rule sets up: group vdmux may use the virtual devices, the
# control node is root's. status then works from the virtual devices alone.
chgrp vdmux /dev/vdmux[0-3] && chmod 0660 /dev/vdmux[0-3]
as user status
check "status as a member of group vdmux, without the control node" eval \
	'[ "$rc" = 0 ] &&
	[ "$(head -n 1 "$T/out")" = "4 virtual devices of $DEF bytes ($DEF_K), foreground 0" ] &&
	[ "$(row 0 | cut -d" " -f1-3)" = "foreground yes $DEF" ] &&
	[ "$(tail -n 1 "$T/out")" = "context management: off" ]'
as user fill 3 'group member'
check "fill as a member of group vdmux" expect 0 ""
as user dump 3 --raw --length 12
check "dump as a member of group vdmux" eval \
	'[ "$rc" = 0 ] && [ "$(cat "$T/out")" = "group member" ]'
as nobody dump 3
check "dump as a user outside group vdmux: EACCES" \
	expect 1 "vdmuxctl: dump 3: cannot open /dev/vdmux3: permission denied (EACCES)"
chgrp root /dev/vdmux[0-3] && chmod 0600 /dev/vdmux[0-3]
vdmuxctl fill 3 '\0'

# --- resize ---------------------------------------------------------------

vctl resize 64K
check "resize 64K" eval '[ "$rc" = 0 ] &&
	vdmuxctl status | head -n 1 | grep -q "^4 virtual devices of 65536 bytes (64K),"'
vctl resize $((PAGE + 1))
check "resize a page and a byte rounds up to two pages" eval '[ "$rc" = 0 ] &&
	vdmuxctl status --json | grep -q "\"reserved_size\":$((2 * PAGE)),"'
# The message names the maximum the control node shows in sysfs.
max=64M
vctl resize 1G
check "resize past the maximum: EINVAL, exit 1" \
	expect 1 "vdmuxctl: resize 1G: size out of range: 1 byte to $max (EINVAL)"
vctl resize 0
check "resize 0: EINVAL, exit 1" \
	expect 1 "vdmuxctl: resize 0: size out of range: 1 byte to $max (EINVAL)"
vctl resize 1.5M
check "resize 1.5M: usage error" expect_usage \
	"error: invalid value '1.5M' for '<SIZE>': not a size (a number of bytes, optionally with K, M or G)"
vctl resize 18446744073709551616
check "resize 2^64: usage error, too large" expect_usage \
	"error: invalid value '18446744073709551616' for '<SIZE>': size too large"
check "resize 32K restores the default" eval 'vdmuxctl resize 32K &&
	vdmuxctl status --json | grep -q "\"reserved_size\":$DEF,"'
# A shell cannot map (mmap_test and ioctl_test check EBUSY while mapped),
# but it can hold the node open: an open file alone does not block a resize.
exec 3</dev/vdmux0
check "resize with a vdev open but not mapped works" eval 'vdmuxctl resize 64K &&
	vdmuxctl status --json | grep -q "\"reserved_size\":65536," && vdmuxctl resize 32K'
exec 3<&-

# --- fill and dump --------------------------------------------------------

vctl fill 2 'vdmux\0\xff' --offset 4K --length 14
printf 'vdmux\000\377vdmux\000\377\000\000' >"$T/want"
vdmuxctl dump 2 --raw --offset 4096 --length 16 >"$T/got"
check "fill then dump --raw: exact bytes, untouched bytes still zero" eval \
	'[ "$rc" = 0 ] && cmp "$T/want" "$T/got"'
vctl dump 2 --offset 4K --length 16
check "dump: hexdump -C format" [ "$(cat "$T/out")" = \
"00001000  76 64 6d 75 78 00 ff 76  64 6d 75 78 00 ff 00 00  |vdmux..vdmux....|
00001010" ]
vdmuxctl dump 2 >"$T/ours"
vdmuxctl dump 2 --raw | hexdump -C >"$T/theirs"
check "dump of a whole device equals busybox hexdump -C of its bytes" cmp "$T/ours" "$T/theirs"
vctl dump 3
check "other devices untouched" [ "$(cat "$T/out")" = \
"00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|
*
$(printf %08x "$DEF")" ]
vctl fill 1 'ab'
vdmuxctl dump 1 --raw >"$T/got"
check "fill without a range covers the whole device" eval \
	'[ "$rc" = 0 ] && [ "$(wc -c <"$T/got")" = "$DEF" ] &&
	[ "$(tr -d ab <"$T/got" | wc -c)" = 0 ] && [ "$(head -c 5 "$T/got")" = ababa ]'

vctl fill 0 x --offset $((DEF - 8)) --length 16
check "fill past the end: ENOSPC, exit 1" \
	expect 1 "vdmuxctl: fill 0: the range goes past the end of the device, byte $DEF (ENOSPC)"
vctl dump 0 --offset "$DEF_K"
check "dump past the end: exit 1" \
	expect 1 "vdmuxctl: dump 0: offset $DEF is past the end of the device ($DEF bytes, $DEF_K)"
vdmuxctl eject 3
vctl dump 3
check "dump of a removed device: ENODEV, exit 1" \
	expect 1 "vdmuxctl: dump 3: virtual device 3 is removed (ENODEV)"
vctl fill 3 x
check "fill of a removed device: ENODEV, exit 1" \
	expect 1 "vdmuxctl: fill 3: virtual device 3 is removed (ENODEV)"
vdmuxctl insert 3

# --- watch ----------------------------------------------------------------

gen=$(generation)
vdmuxctl watch --count 1 --timeout 30 >"$T/watch" 2>&1 &
watcher=$!
# Its first line says it has taken its first look.
i=0
while [ ! -s "$T/watch" ] && [ "$i" -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
vdmuxctl switch 3
wait "$watcher"
wrc=$?
check "watch sees a switch made meanwhile" eval '[ "$wrc" = 0 ] &&
	[ "$(cat "$T/watch")" = "watching vdmux: 4 virtual devices of $DEF bytes ($DEF_K), foreground 0, generation $gen
generation $((gen + 1)): vdev 0 foreground -> background, vdev 3 background -> foreground" ]' ||
	diag "$(cat "$T/watch")"

vctl watch --count 1 --timeout 0.3
check "watch --count with nothing happening: exit 3 at the timeout" eval \
	'[ "$rc" = 3 ] && [ "$(cat "$T/err")" = "vdmuxctl: watch: saw 0 of 1 changes in 0.3 s" ] &&
	[ "$(wc -l <"$T/out")" = 1 ]'
vctl watch --timeout 0.2
check "watch --timeout alone: exit 0" [ "$rc" = 0 ]

# --- no driver ------------------------------------------------------------

if reset && rmmod vdmux; then
	vctl status
	check "status without the driver: ENOENT, exit 1" \
		expect 1 "vdmuxctl: status: /dev/vdmux does not exist, is the vdmux module loaded? (ENOENT)"
else
	fail "status without the driver: cannot unload vdmux"
fi
check "vdmux loads again" eval '[ -d /sys/module/vdmux ] || insmod "${VDMUX_KO:-/lib/modules/vdmux.ko}"'

reset || echo "# could not reset the device"
rm -rf "$T"
plan_done
