#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# trinity restricted to the nodes (its victim files are mknod aliases of
# /dev/vdmux and /dev/vdmux0..2, its other fd providers off) and to mmap,
# ioctl, read, write, lseek, munmap, mremap, mprotect, madvise and msync, as
# root (so its ioctls reach SWITCH, EJECT, INSERT and resizes), while a churn
# loop switches, ejects and inserts vdevs 0 to 2 and two companions fault
# on vdevs 0 and 1; at 32 KiB and at a chunk (2 MiB). vdev 3, which trinity cannot
# open, is the control: its bytes must be intact afterwards, unless trinity
# resized the buffer. A splat fails the run (the host's judge reads the
# console); vdmux must still answer GET_STATUS.
. /usr/bin/clients-lib.sh

count=${VDMUX_TRINITY_COUNT:-1000000}
secs=${VDMUX_TRINITY_SECONDS:-40}
plan 12

vic=$W/victims
mkdir -p "$vic"

for size in $(sizes); do
	reload reserved_size=$size
	rm -f "$vic"/*
	for node in vdmux vdmux0 vdmux1 vdmux2; do
		set -- $(stat -c '%t %T' "/dev/$node")
		mknod "$vic/$node" c $((0x$1)) $((0x$2))
	done
	vdmuxctl fill 3 'vdmux control vdev ' >/dev/null
	sum3=$(vdmuxctl dump 3 --raw | md5sum)
	gen3=$(vdmuxctl status --json | sed 's/.*"index":3,[^}]*"generation":\([0-9]*\).*/\1/')
	b0=$(faults /dev/vdmux0) b1=$(faults /dev/vdmux1)
	faulter_start /dev/vdmux0 $((secs * 4))
	faulter_start /dev/vdmux1 $((secs * 4))
	churn_start all "0 1 2"
	# trinity runs until -N syscalls or SIGINT, after which it reports what
	# it ran; SIGKILL only if it does not stop.
	(cd "$W" && exec trinity --dangerous -q -l off -V "$vic" \
		--disable-fds=sockets,pipes,perf,epoll,eventfd,timerfd,testfile,memfd,drm \
		-c mmap -c ioctl -c read -c write -c lseek -c munmap -c mremap -c mprotect \
		-c madvise -c msync -C 2 -N "$count" -s $((size + 1)) >"$W/trinity.out" 2>&1) &
	tpid=$!
	t=0
	while kill -0 "$tpid" 2>/dev/null && [ "$t" -lt "$secs" ]; do sleep 1; t=$((t + 1)); done
	kill -INT "$tpid" 2>/dev/null
	while kill -0 "$tpid" 2>/dev/null && [ "$t" -lt $((secs + 30)) ]; do sleep 1; t=$((t + 1)); done
	kill -KILL "$tpid" 2>/dev/null
	wait "$tpid"
	rc=$?
	ran=$(sed -n 's/.*Ran \([0-9]*\) syscalls.*/\1/p' "$W/trinity.out" | tail -n1)
	diag "trinity exit $rc after $t s, ${ran:-no} syscalls reported"
	grep -v '^\[child\|^$' "$W/trinity.out" | tail -8 | sed 's/^/# /'
	check "$size: trinity ran syscalls and stopped when told" test "$rc" != 137 -a "${ran:-0}" -gt 0
	churn_stop
	check "$size: the faulting companions exited cleanly" faulter_wait
	check "$size: vdmux answers GET_STATUS afterwards" status_ok
	size_now=$(vdmuxctl status --json | sed 's/.*"reserved_size":\([0-9]*\).*/\1/')
	gen3_now=$(vdmuxctl status --json | sed 's/.*"index":3,[^}]*"generation":\([0-9]*\).*/\1/')
	diag "reserved size $size -> $size_now, vdev 3 generation $gen3 -> $gen3_now"
	if [ "$size_now" != "$size" ]; then
		pass "$size: vdev 3's bytes # SKIP trinity resized the buffer"
	else
		check "$size: vdev 3's bytes are intact" test "$(vdmuxctl dump 3 --raw | md5sum)" = "$sum3"
	fi
	a0=$(faults /dev/vdmux0) a1=$(faults /dev/vdmux1)
	check "$size: vdev 0 took faults" fault_check /dev/vdmux0 "$b0" "$a0" any
	check "$size: vdev 1 took faults" fault_check /dev/vdmux1 "$b1" "$a1" any
done
rm -f "$vic"/*
reload
finish
