#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot the vdmux test guest under QEMU.
#
#   run.sh check|demo|shell --kernel KDIR --module KO --tests DIR --out DIR
#          [--extra DIR] [--only "name ..."] [--bzimage FILE] [--stock-kernel]
#          [--allow-skips FILE] [--ivshmem SIZE [--ivshmem2 SIZE] [--pci-pass "name ..."]]
#          [--vga [--pci-pass "name ..." --pci-pass-device VENDOR:DEVICE]]
#          [--lockdown integrity|confidentiality] [--screen] [--arch arm64]
#
# --ivshmem gives the guest an ivshmem-plain device (1af4:1110) whose BAR 2,
# SIZE bytes (a power of two, e.g. 64M), is the file OUT/ivshmem.bin of a
# shared memory-backend-file, created zero-filled for each boot and left in
# place when the guest ends: the host reads what the guest last wrote to the
# BAR there (check mode hands it to the judge, whose --ivshmem check compares
# it with pci_test's report; bench mode gives the benchmarks' bar section its
# device). --ivshmem2 gives the guest a second ivshmem-plain device, after
# the first (a later PCI address, so that it binds second: instance 1) and
# of another size (how the judge tells the two devices' reports apart),
# backed by OUT/ivshmem2.bin, which the judge checks as it checks the first
# (multi_test). --pci-pass names test programs that the guest
# runs a second time with vdmux loaded with device_memory=pci, as sections
# NAME@pci, before the others (see qemu/init).
#
# --vga gives the guest QEMU's standard VGA (1234:1111: video memory in BAR 0,
# the bochs display registers in BAR 2), which the test kernel has no driver
# for: tests hand it to vdmux through driver_override; so does the guest for
# the pci pass with --pci-pass-device 1234:1111, which makes the VGA's video
# memory the device memory of that pass. --screen (check and demo modes;
# implies --vga) lets the guest ask the host for screenshots: its ttyS2 is
# the request/acknowledge channel of qemu/screen.py, which takes each shot
# with QMP screendump into OUT/screen/, compares it with the picture the
# guest says must be on the screen, and fails the run on a mismatch.
#
# --lockdown boots the kernel with lockdown=MODE, as a distribution kernel
# runs under Secure Boot (make check-lockdown); the module must be signed
# with a key the kernel trusts (make module signs it for the test kernels).
#
# --arch arm64 boots KDIR's arch/arm64/boot/Image on QEMU's virt machine
# (-cpu max, TCG, GICv3, PCIe with the ivshmem devices), the kernel log on
# ttyAMA0 and the test output on ttyAMA1, the virt machine's two PL011s.
#
# --bzimage boots FILE rather than KDIR's arch/x86/boot/bzImage (Debian's own
# vmlinuz for make check-debian); --stock-kernel has the judge accept the
# taint lines of an unsigned out-of-tree module, and nothing else;
# --allow-skips adds an allow-list of SKIPs to the judge's (a kernel flavour
# without kmemleak: make check FLAVOUR=kcsan).
#
# check: runs every test program, then judges the run on the host
#        (qemu/results.py): exit status 0 only when every test passed and the
#        kernel log has no splat. The last line is "N passed, N failed".
# demo:  prints the demonstration to stdout.
# shell: an interactive shell on the serial console.
#
# bench:  runs the benchmarks (BENCH_DIR) in BOOTS boots (5 by default; logs
#         OUT/bench-N.log), then renders them into bench/ against
#         bench/targets (scripts/render-bench.py): each target carried by
#         the median across the boots, every boot's figure beside it, and
#         the run appended to bench/runs.log, met or not.
#
# Environment: GUEST_ENV (see below), ACCEL=tcg (default, bench included) or kvm (probed first, TCG
# if the probe fails), QEMU_TIMEOUT (seconds), QEMU_MEM (default 1G; 2G for bench, whose
# contenders map 64 MiB each), ICOUNT=1 (TCG only: -icount shift=0, one TCG thread for both
# vCPUs, so that the guest's clock counts instructions, 1 ns each: timings become
# instruction counts, the same in every boot; for comparing code paths, not bandwidth or
# scaling).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
mode=$1
shift
kdir= module= tests= out= extra= only= bzimage= judge=() ivshmem= ivshmem2= pci_pass= pci_pass_device=
lockdown= vga= screen= arch=x86_64
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kdir=$2; shift 2 ;;
	--module) module=$2; shift 2 ;;
	--tests) tests=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--extra) extra=$2; shift 2 ;;
	--only) only=$2; shift 2 ;;
	--bzimage) bzimage=$2; shift 2 ;;
	--stock-kernel) judge+=(--stock-kernel); shift ;;
	--allow-skips) judge+=(--allow-skips "$2"); shift 2 ;;
	--ivshmem) ivshmem=$2; shift 2 ;;
	--ivshmem2) ivshmem2=$2; shift 2 ;;
	--pci-pass) pci_pass=$2; shift 2 ;;
	--pci-pass-device) pci_pass_device=$2; shift 2 ;;
	--lockdown) lockdown=$2; shift 2 ;;
	--vga) vga=1; shift ;;
	--screen) screen=1; vga=1; shift ;;
	--arch) arch=$2; shift 2 ;;
	*) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
ksrc=$kdir
[ -e "$kdir/source" ] && ksrc=$(readlink -f "$kdir/source")
case "$arch" in
x86_64 | x86) bzimage=${bzimage:-$kdir/arch/x86/boot/bzImage} ;;
arm64)
	bzimage=${bzimage:-$kdir/arch/arm64/boot/Image}
	# The guest's busybox must be an arm64 one (scripts/setup.sh puts it there).
	export BUSYBOX=${BUSYBOX:-${VDMUX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vdmux}/arm64/busybox}
	[ -n "$vga" ] && { echo "run.sh: --vga and --screen are x86 only" >&2; exit 2; }
	;;
*) echo "run.sh: --arch $arch is neither x86_64 nor arm64" >&2; exit 2 ;;
esac
[ -f "$bzimage" ] || { echo "run.sh: no kernel image at $bzimage" >&2; exit 1; }
mkdir -p "$out"

initrd=$out/initramfs.cpio
"$top/scripts/mkinitramfs.sh" "$initrd" "$ksrc" "$module" "$tests" "$extra"

default_accel=tcg default_mem=1G
# The debug guest's memory is what kmemleak scans: 1G keeps a scan short.
# Bench figures are compared across runs: TCG there too, unless ACCEL=kvm.
[ "$mode" = bench ] && default_mem=2G
accel=${ACCEL:-$default_accel}
# Words of GUEST_ENV (NAME=value) reach /init, and so the tests, as
# environment variables: e.g. GUEST_ENV="VDMUX_STRESS_SECONDS=600".
# Only NAME=value words with an upper-case NAME: a kernel parameter there
# (loglevel=, quiet, printk.*) could hide WARN or lockdep output from the
# judge. ignore_loglevel comes last, and the judge checks that it is there.
for w in ${GUEST_ENV:-}; do
	if ! [[ "$w" =~ ^[A-Z][A-Z0-9_]*=.*$ ]]; then
		echo "run.sh: GUEST_ENV word '$w' is not NAME=value with an upper-case NAME" >&2
		exit 2
	fi
done
# The kernel command line, with the words $@ for /init. VDMUX_TTY is the
# serial port /init writes the test output to, if not ttyS1.
console=ttyS0 tap_tty=
[ "$arch" = arm64 ] && console=ttyAMA0 tap_tty=VDMUX_TTY=ttyAMA1
guest_cmdline() {
	echo "console=$console,115200 panic=-1 oops=panic nokaslr kmemleak=on page_table_check=on ${tap_tty:+$tap_tty }$* ignore_loglevel"
}
case "$lockdown" in
'' | integrity | confidentiality) ;;
*) echo "run.sh: --lockdown $lockdown is neither integrity nor confidentiality" >&2; exit 2 ;;
esac
cmdline=$(guest_cmdline ${lockdown:+lockdown=$lockdown} ${GUEST_ENV:-})
# Two NUMA nodes, one CPU (a socket of its own: CPUs of one socket on two
# nodes make the scheduler's topology check warn) and half the memory each,
# as on a two-socket host: the stores' allocations follow the allocating task's node.
mem_mib=$(( $(numfmt --from=iec "${QEMU_MEM:-$default_mem}") >> 20 ))
numa_args=(-object "memory-backend-ram,id=node0,size=$((mem_mib / 2))M"
	-object "memory-backend-ram,id=node1,size=$((mem_mib - mem_mib / 2))M"
	-numa node,nodeid=0,cpus=0,memdev=node0 -numa node,nodeid=1,cpus=1,memdev=node1)
if [ "$arch" = arm64 ]; then
	# pauth-impdef: -cpu max's pointer authentication with QEMU's cheap
	# algorithm rather than QARMA5, which is many times slower under TCG
	# (only where the kernel or the tests sign pointers).
	qemu_base=(qemu-system-aarch64 -machine virt,gic-version=3 -cpu max,pauth-impdef=on
		-smp 2,sockets=2,cores=1,threads=1 -m "${mem_mib}M"
		"${numa_args[@]}" -kernel "$bzimage" -initrd "$initrd" -no-reboot -display none
		-nodefaults)
else
	# la57 is off: with 5-level paging an early-boot interrupt trips KASAN.
	qemu_base=(qemu-system-x86_64 -machine q35 -cpu max,la57=off -smp 2,sockets=2,cores=1,threads=1 -m "${mem_mib}M"
		"${numa_args[@]}" -kernel "$bzimage" -initrd "$initrd" -no-reboot -display none -vga none
		-nodefaults)
fi

# An ivshmem BAR's backing file: fresh for each boot, read by the host after.
ivshmem_file=$out/ivshmem.bin
ivshmem2_file=$out/ivshmem2.bin
ivshmem_args=()
# ivshmem_device ID SIZE FILE OPTION: the QEMU arguments of one device.
ivshmem_device() {
	local id=$1 size=$2 file=$3 option=$4 bytes
	bytes=$(numfmt --from=iec "$size" 2>/dev/null) ||
		{ echo "run.sh: $option $size is not a size (4M, 64M, 1G)" >&2; exit 2; }
	if [ "$bytes" -lt 4096 ] || [ $((bytes & (bytes - 1))) != 0 ]; then
		echo "run.sh: $option $size: a BAR is a power of two of at least 4K" >&2
		exit 2
	fi
	rm -f "$file"
	truncate -s "$bytes" "$file"
	ivshmem_args+=(-object "memory-backend-file,id=$id,share=on,mem-path=$file,size=$bytes"
		-device ivshmem-plain,memdev=$id)
	judge+=(--ivshmem "$file")
}
rm -f "$ivshmem2_file"
if [ -n "$ivshmem" ]; then
	ivshmem_device ivshmem0 "$ivshmem" "$ivshmem_file" --ivshmem
	if [ -n "$ivshmem2" ]; then
		if [ "$(numfmt --from=iec "$ivshmem2" 2>/dev/null)" = "$(numfmt --from=iec "$ivshmem")" ]; then
			echo "run.sh: --ivshmem2 $ivshmem2: the judge tells the devices apart by size" >&2
			exit 2
		fi
		ivshmem_device ivshmem2 "$ivshmem2" "$ivshmem2_file" --ivshmem2
	fi
elif [ -n "$ivshmem2" ] || { [ -n "$pci_pass" ] && [ -z "$pci_pass_device" ]; }; then
	echo "run.sh: --ivshmem2, and --pci-pass without --pci-pass-device, need --ivshmem" >&2
	exit 2
fi
case "$pci_pass_device" in
'') ;;
1234:1111) [ -n "$vga" ] || { echo "run.sh: --pci-pass-device 1234:1111 needs --vga" >&2; exit 2; } ;;
*) echo "run.sh: --pci-pass-device $pci_pass_device: only the standard VGA (1234:1111)" >&2; exit 2 ;;
esac
qemu_base+=(${ivshmem_args[@]+"${ivshmem_args[@]}"})
[ -n "$vga" ] && qemu_base+=(-device VGA)

# KVM is opt-in: on some hosts a KVM guest hangs before its first console
# line, so a short boot must prove it works before a real run relies on it.
if [ "$accel" = kvm ]; then
	if [ -w /dev/kvm ] && timeout -k 2 30 "${qemu_base[@]}" -accel kvm -monitor none \
		-serial null -serial "file:$out/probe.log" \
		-append "$cmdline VDMUX_MODE=probe" </dev/null >/dev/null 2>&1 &&
		grep -q vdmux-probe-ok "$out/probe.log"; then
		echo "run.sh: using KVM" >&2
	else
		echo "run.sh: KVM probe failed, using TCG" >&2
		accel=tcg
	fi
fi
if [ "$accel" = tcg ]; then
	if [ -n "${ICOUNT:-}" ]; then
		qemu=("${qemu_base[@]}" -accel tcg -icount shift=0)
	else
		qemu=("${qemu_base[@]}" -accel tcg,thread=multi)
	fi
else
	qemu=("${qemu_base[@]}" -accel kvm)
fi

# --screen: qemu/screen.py listens on the sockets that QEMU's monitor and the
# guest's ttyS2 connect to (QEMU as the client, so that nothing the guest
# writes is lost before the host listens); screen_args has QEMU's side.
screen_args=() screen_pid=
screen_start() {
	[ -n "$screen" ] || return 0
	rm -rf "$out/screen" "$out/qmp.sock" "$out/screen.sock"
	python3 "$here/screen.py" --qmp "$out/qmp.sock" --channel "$out/screen.sock" \
		--shots "$out/screen" >"$out/screen.log" 2>&1 &
	screen_pid=$!
	for _ in $(seq 100); do
		[ -S "$out/qmp.sock" ] && [ -S "$out/screen.sock" ] && break
		sleep 0.1
	done
	screen_args=(-qmp "unix:$out/qmp.sock" -chardev "socket,id=screen,path=$out/screen.sock"
		-serial chardev:screen)
}

# The host's verdict on the screen, once the guest ended: 0 if every shot
# matched.
screen_end() {
	local rc=0
	[ -n "$screen_pid" ] || return 0
	wait "$screen_pid" || rc=$?
	sed 's/^/screen: /' "$out/screen.log" >&2
	echo "run.sh: the screenshots are in $out/screen" >&2
	return "$rc"
}

case "$mode" in
check)
	# An arm64 guest is emulated instruction by instruction on an x86 host.
	timeout_s=1500
	[ "$arch" = arm64 ] && timeout_s=5400
	timeout_s=${QEMU_TIMEOUT:-$timeout_s}
	rm -f "$out/console.log" "$out/tap.log"
	names=(insmod)
	# The device_memory=pci pass: each NAME (a program of the tests, picked
	# by --only as NAME or NAME@pci) runs as section NAME@pci.
	pass=()
	for p in $pci_pass; do
		[ -x "$tests/$p" ] || { echo "run.sh: --pci-pass $p: no such test program" >&2; exit 2; }
		if [ -n "$only" ] && [[ " $only " != *" $p "* ]] && [[ " $only " != *" $p@pci "* ]]; then
			continue
		fi
		pass+=("$p")
		names+=("$p@pci")
	done
	for t in "$tests"/* ${extra:+"$extra"/*}; do
		[ -f "$t" ] && [ -x "$t" ] || continue
		if [ -n "$only" ] && [[ " $only " != *" ${t##*/} "* ]]; then continue; fi
		names+=("${t##*/}")
	done
	names+=(kmemleak)
	echo "run.sh: booting the test guest ($accel, log in $out/console.log)" >&2
	start=$SECONDS
	rc=0
	screen_start
	timeout -k 10 "$timeout_s" "${qemu[@]}" -monitor none \
		-serial "file:$out/console.log" -serial "file:$out/tap.log" ${screen_args[@]+"${screen_args[@]}"} \
		-append "$cmdline VDMUX_MODE=check VDMUX_ONLY=$(echo $only | tr ' ' ',') VDMUX_PCI_PASS=$(echo ${pass[@]+"${pass[@]}"} | tr ' ' ',')${pci_pass_device:+ VDMUX_PCI_PASS_DEVICE=$pci_pass_device}" \
		</dev/null >"$out/qemu.log" 2>&1 || rc=$?
	echo "run.sh: guest ran $((SECONDS - start)) s" >&2
	screen_rc=0
	screen_end || screen_rc=$?
	if [ -n "$ivshmem" ]; then
		echo "run.sh: the ivshmem BAR's content is in $ivshmem_file" >&2
	fi
	if [ -n "$ivshmem2" ]; then
		echo "run.sh: the second ivshmem BAR's content is in $ivshmem2_file" >&2
	fi
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		echo "run.sh: the guest did not finish within ${timeout_s} s" >&2
	fi
	judge_rc=0
	python3 "$here/results.py" --console "$out/console.log" --tap "$out/tap.log" \
		--qemu-status "$rc" ${judge[@]+"${judge[@]}"} "${names[@]}" || judge_rc=$?
	if [ "$screen_rc" != 0 ]; then
		echo "run.sh: the host's screen check failed (see above)" >&2
		exit 1
	fi
	exit "$judge_rc"
	;;
demo)
	screen_start
	rc=0
	timeout -k 10 "${QEMU_TIMEOUT:-600}" "${qemu[@]}" -monitor none \
		-serial "file:$out/console.log" -serial stdio ${screen_args[@]+"${screen_args[@]}"} \
		-append "$cmdline quiet VDMUX_MODE=demo" </dev/null || rc=$?
	screen_end || rc=1
	exit "$rc"
	;;
shell)
	exec "${qemu[@]}" -serial mon:stdio -append "$cmdline VDMUX_MODE=shell"
	;;
bench)
	boots=${BOOTS:-5}
	[[ "$boots" =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: BOOTS=$boots is not a number of boots" >&2; exit 2; }
	clock=
	[ "$accel" = tcg ] && [ -n "${ICOUNT:-}" ] && clock=VDMUX_BENCH_CLOCK=instructions
	rm -f "$out"/bench.log "$out"/bench-[0-9]*.log "$out"/bench-icount.log
	# The commit the boots run, flagged when the sources differ from it
	# (the rendered results themselves excepted).
	rev=$(git -C "$top" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
	if git -C "$top" status --porcelain --untracked-files=no -- . ':!bench/RESULTS.md' \
		':!bench/results.json' ':!bench/first-touch.svg' ':!bench/runs.log' 2>/dev/null | grep -q .; then
		rev="$rev + uncommitted changes"
	fi
	logs=()
	for boot in $(seq 1 "$boots"); do
		log=$out/bench-$boot.log
		echo "run.sh: benchmark boot $boot of $boots ($accel, log in $log)" >&2
		timeout -k 10 "${QEMU_TIMEOUT:-3600}" "${qemu[@]}" -monitor none \
			-serial "file:$out/console-$boot.log" -serial "file:$log" \
			-append "$cmdline $clock VDMUX_MODE=bench" </dev/null >"$out/qemu-$boot.log" 2>&1 || true
		grep -v '^# vdmux-json' "$log" | sed -n '/^# \(==\|  target\|  ratio\|total\)/p;/^Bail/p' >&2 || true
		logs+=("$log")
	done
	exec python3 "$top/scripts/render-bench.py" --targets "$top/bench/targets" \
		--out "$top/bench" --accel "$accel${clock:+, icount}" --commit "$rev" "${logs[@]}"
	;;
*)
	echo "run.sh: unknown mode $mode (check, demo or shell)" >&2
	exit 2
	;;
esac
