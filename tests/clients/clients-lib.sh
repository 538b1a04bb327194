# SPDX-License-Identifier: GPL-2.0
#
# Shared by the check-clients wrappers (sourced from /usr/bin in the guest):
# TAP output, module reloads, fdinfo fault counts, the state-change churn
# and the faulting companions.

export PATH=/usr/bin:/bin:/sbin
n=0
failed=0
W=$(mktemp -d)

plan() { echo "TAP version 13"; echo "1..$1"; }
pass() { n=$((n + 1)); echo "ok $n - $1"; }
fail() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
diag() { echo "$*" | sed 's/^/# /'; }
# check DESC COMMAND...: one result, ok when COMMAND succeeds.
check() { d=$1; shift; if "$@"; then pass "$d"; else fail "$d"; fi; }
finish() { rm -rf "$W"; [ "$failed" = 0 ]; }

# reload PARAMS...: vdmux afresh with these parameters (the fault counts in
# fdinfo start again from 0).
reload() {
	rmmod vdmux 2>/dev/null
	insmod "$VDMUX_KO" "$@"
}

# sizes: the reserved sizes the wrappers run at: 32 KiB, and one chunk of
# a store (the driver's chunk_size: 2 MiB, a PMD block with 4 KiB pages,
# mapped with PMD entries where chunk_size equals pmd_size).
sizes() {
	reload
	echo "32768 $(cat /sys/class/misc/vdmux/chunk_size)"
}

# faults DEV: "PAGE HUGE", the fault counts of DEV's fdinfo.
faults() {
	exec 9<"$1" || { echo "0 0"; return; }
	awk '/^vdmux-page-faults:/ { p = $2 } /^vdmux-huge-faults:/ { h = $2 }
		END { print p + 0, h + 0 }' /proc/self/fdinfo/9
	exec 9<&-
}

# huge_blocks DEV: vdmux-huge-blocks of DEV's fdinfo.
huge_blocks() {
	exec 9<"$1" || { echo 0; return; }
	awk '/^vdmux-huge-blocks:/ { print $2 + 0 }' /proc/self/fdinfo/9
	exec 9<&-
}

# churn_start MODE "VDEVS": state changes in the background until churn_stop.
# MODE switch: SWITCH among VDEVS only (content stays where fio expects it);
# MODE all: SWITCH, EJECT and INSERT among them.
churn_start() {
	rm -f "$W/churn.stop"
	(
		ops=0 fails=0
		while [ ! -e "$W/churn.stop" ]; do
			for v in $2; do
				vdmuxctl switch "$v" >/dev/null 2>&1 && ops=$((ops + 1)) || fails=$((fails + 1))
				if [ "$1" = all ]; then
					vdmuxctl eject "$v" >/dev/null 2>&1 && ops=$((ops + 1)) || fails=$((fails + 1))
					usleep 20000
					vdmuxctl insert "$v" >/dev/null 2>&1 && ops=$((ops + 1)) || fails=$((fails + 1))
				fi
				usleep 10000
			done
		done
		echo "$ops $fails" >"$W/churn.count"
	) &
	churn_pid=$!
}

# churn_stop: stops the churn; "# churn: ..." and every vdev back in.
churn_stop() {
	touch "$W/churn.stop"
	wait "$churn_pid"
	read -r ops fails <"$W/churn.count"
	diag "churn: $ops state changes, $fails refused (switch to a removed vdev)"
	churn_ops=$ops
	for v in 0 1 2 3; do vdmuxctl insert "$v" >/dev/null 2>&1; done
}

# faulter_start DEV SECONDS: a companion that maps DEV and faults.
faulters=
faulter_start() {
	vdmux_faulter "$1" "$2" >"$W/faulter.${1##*/}" 2>&1 &
	faulters="$faulters $!"
}

# faulter_wait: waits for the companions; ok when each exited 0.
faulter_wait() {
	local rc=0 p
	for p in $faulters; do
		kill "$p" 2>/dev/null
		wait "$p" || rc=1
	done
	faulters=
	cat "$W"/faulter.* 2>/dev/null
	rm -f "$W"/faulter.*
	return $rc
}

# status_ok: vdmux still answers GET_STATUS on the control node and a vdev.
status_ok() {
	vdmuxctl status >"$W/status" 2>&1 && diag "$(cat "$W/status")" && vdmuxctl dump 0 --length 16 >/dev/null
}

# fault_check DEV "BEFORE" "AFTER" WHAT: ok when the fault counts grew (WHAT: page,
# huge or any).
fault_check() {
	set -- "$1" $2 $3 "$4"
	diag "$1: vdmux-page-faults $2 -> $4, vdmux-huge-faults $3 -> $5"
	case $6 in
	page) [ "$4" -gt "$2" ] ;;
	huge) [ "$5" -gt "$3" ] ;;
	*) [ "$4" -gt "$2" ] || [ "$5" -gt "$3" ] ;;
	esac
}
