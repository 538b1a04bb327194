#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# fio against a virtual device: the mmap and psync engines, randrw with
# crc32c verify; a written vdev verified again after a SWITCH away (its
# bytes in its backing store) and after the SWITCH back (in the device
# memory); and a verifying randrw job while a churn loop keeps switching the
# foreground under it. At 32 KiB (single pages) and at a chunk, 2 MiB (PMD
# entries with 4 KiB pages).
# Each fio run passes when fio exits 0 and reports err=0.
. /usr/bin/clients-lib.sh

plan 18

# fio_ok DESC ARGS...: one fio run.
fio_ok() {
	d=$1
	shift
	if fio --eta=never --output="$W/fio.out" "$@" && grep -q 'err= *0' "$W/fio.out" &&
		! grep -qi 'verify.*fail\|bad magic\|crc32c.*wanted' "$W/fio.out"; then
		pass "$d"
	else
		fail "$d"
		sed 's/^/# /' "$W/fio.out" | head -40
	fi
}

for size in $(sizes); do
	reload reserved_size=$size
	common="--filename=/dev/vdmux0 --size=$size --bs=4k --verify=crc32c --verify_fatal=1 --randrepeat=1"
	before=$(faults /dev/vdmux0)
	fio_ok "$size: mmap engine, randrw, crc32c verify" --name=mmap-randrw $common \
		--ioengine=mmap --rw=randrw --loops=4
	fio_ok "$size: psync engine, randrw, crc32c verify" --name=psync-randrw $common \
		--ioengine=psync --rw=randrw --loops=4

	# Write the whole vdev with verify headers, then verify only.
	fio_ok "$size: mmap engine writes the vdev" --name=fill $common --ioengine=mmap \
		--rw=randwrite --do_verify=0
	vdmuxctl switch 2 >/dev/null
	fio_ok "$size: verify after SWITCH away (mmap, from the backing store)" --name=fill $common \
		--ioengine=mmap --rw=randwrite --verify_only
	vdmuxctl switch 0 >/dev/null
	fio_ok "$size: verify after SWITCH back (psync)" --name=fill $common \
		--ioengine=psync --rw=randwrite --verify_only

	# The foreground moves under a running job: every byte must follow.
	# About 10 s of I/O at either size (8 blocks of 4 KiB, or 512).
	loops=20
	[ "$size" = 32768 ] && loops=600
	churn_start switch "1 0 2 0 3 0"
	fio_ok "$size: mmap randrw verify while SWITCH churns" --name=churn $common \
		--ioengine=mmap --rw=randrw --loops=$loops
	fio_ok "$size: psync writes the vdev while SWITCH churns" --name=fill2 $common \
		--ioengine=psync --rw=randwrite --do_verify=0 --loops=$((loops / 4))
	churn_stop
	fio_ok "$size: verify after the churn (mmap)" --name=fill2 $common \
		--ioengine=mmap --rw=randwrite --verify_only --loops=$((loops / 4))
	after=$(faults /dev/vdmux0)
	if [ "$size" != 32768 ] && [ "$(huge_blocks /dev/vdmux0)" -gt 0 ]; then
		check "$size: fio's mappings took PMD faults" fault_check /dev/vdmux0 "$before" "$after" huge
	else
		check "$size: fio's mappings took faults" fault_check /dev/vdmux0 "$before" "$after" page
	fi
done
reload
finish
