#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The vdmux crate's documented examples (tools/vdmux/examples/, built
# static as vdmux-example-*) against the real driver: each exits 0, and
# what it prints agrees with the driver's own word, the generation from
# vdmux-status (a C program) and the foreground from sysfs. TAP output.
#
# Expects vdmux loaded with its defaults (4 virtual devices of 32768 bytes).

export PATH=/usr/bin:/bin:/sbin
T=$(mktemp -d)
. "$(dirname "$0")/vdmuxctl_lib.sh"
PLAN=6

echo "TAP version 13"
echo "1..$PLAN"

foreground() {
	cat /sys/class/misc/vdmux/foreground
}

# Both examples start from vdev 0 in the foreground; a switch to the
# foreground changes nothing, so each makes exactly two changes.
for i in 0 1 2 3; do vdmuxctl insert "$i" 2>/dev/null; done
vdmuxctl switch 0

g=$(vdmux-status)
vdmux-example-map-and-switch >"$T/out" 2>"$T/err"
rc=$?
if [ "$rc" = 0 ] && [ "$(cat "$T/out")" = "generation $((g + 1)): foreground Some(1), vdev 0 maps \"bytes of vdev 0\", vdev 1 maps \"bytes of vdev 1\"
generation $((g + 2)): foreground Some(0), vdev 0 maps \"bytes of vdev 0\", vdev 1 maps \"bytes of vdev 1\"" ]; then
	pass "map_and_switch: each mapping keeps its bytes across two switches"
else
	fail "map_and_switch: each mapping keeps its bytes across two switches"
	diag "exit $rc, stdout: $(cat "$T/out"), stderr: $(cat "$T/err")"
fi
if [ "$(vdmux-status)" = $((g + 2)) ] && [ "$(foreground)" = 0 ]; then
	pass "map_and_switch: two changes, vdev 0 in the foreground again"
else
	fail "map_and_switch: two changes, vdev 0 in the foreground again"
	diag "generation $(vdmux-status) (want $((g + 2))), foreground $(foreground)"
fi
# The bytes went through the mappings to the devices themselves.
if [ "$(vdmuxctl dump 1 --raw --length 15)" = "bytes of vdev 1" ]; then
	pass "map_and_switch: its bytes are vdev 1's for read(2)"
else
	fail "map_and_switch: its bytes are vdev 1's for read(2)"
fi
vdmuxctl fill 0 '\0' --length 4K && vdmuxctl fill 1 '\0' --length 4K

g=$(vdmux-status)
vdmux-example-wait-for-events >"$T/out" 2>"$T/err"
rc=$?
if [ "$rc" = 0 ] && [ "$(head -n 1 "$T/out")" = "virtual device 1 is in the foreground" ]; then
	pass "wait_for_events: the wait for vdev 1 returns"
else
	fail "wait_for_events: the wait for vdev 1 returns"
	diag "exit $rc, stdout: $(cat "$T/out"), stderr: $(cat "$T/err")"
fi
# Its events count the two switches, whether they came one by one or
# together, and end at the generation the driver has.
events=$(sed -n 's/^generation \([0-9]*\) (\([0-9]*\) changes): foreground .*/\1 \2/p' "$T/out")
last=$(echo "$events" | tail -n 1 | cut -d" " -f1)
sum=$(echo "$events" | awk '{ s += $2 } END { print s }')
if [ "$rc" = 0 ] && [ "$sum" = 2 ] && [ "$last" = $((g + 2)) ] && [ "$(vdmux-status)" = $((g + 2)) ]; then
	pass "wait_for_events: its events count both switches"
else
	fail "wait_for_events: its events count both switches"
	diag "events: $events, generation $(vdmux-status) (want $((g + 2)))"
fi
if tail -n 1 "$T/out" | grep -q "foreground Some(0)$" && [ "$(foreground)" = 0 ]; then
	pass "wait_for_events: the last event has vdev 0 in the foreground"
else
	fail "wait_for_events: the last event has vdev 0 in the foreground"
	diag "$(cat "$T/out")"
fi

rm -rf "$T"
plan_done
