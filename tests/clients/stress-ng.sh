#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# stress-ng's dev stressor (open, read, lseek, poll, select, fcntl, flock,
# fsync, mmap of every kind, and its table of ioctls) on a virtual device and
# on the control node, while a churn loop switches, ejects and inserts and
# two companions map vdevs 0 and 1 and fault on them; at 32 KiB and at
# a chunk (2 MiB). stress-ng itself maps one page and unmaps it untouched: the faults
# come from the companions. Each run passes when stress-ng exits 0 and says
# "successful run completed"; then vdmux must still answer GET_STATUS and the
# vdevs' fault counts must have grown.
. /usr/bin/clients-lib.sh

secs=${VDMUX_CLIENTS_SECONDS:-15}
plan 12

# sng_ok DESC ARGS...: one stress-ng run.
sng_ok() {
	d=$1
	shift
	if stress-ng "$@" >"$W/sng.out" 2>&1 && grep -q 'successful run completed' "$W/sng.out"; then
		pass "$d"
		grep 'dev ' "$W/sng.out" | grep -v 'dispatching\|passed' | sed 's/^/# /' | head -5
	else
		fail "$d (exit $?)"
		sed 's/^/# /' "$W/sng.out" | tail -40
	fi
}

for size in $(sizes); do
	reload reserved_size=$size
	b0=$(faults /dev/vdmux0) b1=$(faults /dev/vdmux1)
	faulter_start /dev/vdmux0 $((2 * secs + 20))
	faulter_start /dev/vdmux1 $((2 * secs + 20))
	churn_start all "0 1 2 3"
	sng_ok "$size: stress-ng --dev on /dev/vdmux0 under churn" --dev 2 --dev-file /dev/vdmux0 \
		--timeout "${secs}s" --metrics-brief --temp-path /tmp
	sng_ok "$size: stress-ng --dev on /dev/vdmux under churn" --dev 2 --dev-file /dev/vdmux \
		--timeout "${secs}s" --metrics-brief --temp-path /tmp
	churn_stop
	check "$size: the faulting companions exited cleanly" faulter_wait
	check "$size: vdmux answers GET_STATUS afterwards" status_ok
	a0=$(faults /dev/vdmux0) a1=$(faults /dev/vdmux1)
	check "$size: vdev 0 took faults" fault_check /dev/vdmux0 "$b0" "$a0" any
	check "$size: vdev 1 took faults" fault_check /dev/vdmux1 "$b1" "$a1" any
done
reload
finish
