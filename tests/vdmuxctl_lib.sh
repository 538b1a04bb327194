# SPDX-License-Identifier: GPL-2.0
#
# Sourced by the vdmuxctl guest tests (vdmuxctl_test.sh,
# vdmuxctl_events_test.sh, vdmuxctl_device_test.sh): TAP results and running vdmuxctl. Not a test:
# it is installed without the executable bit, which the guest's /init skips.
#
# The sourcing script sets PLAN and T (a scratch directory), and ends with
# plan_done.

n=0
failed=0

# The page size (the kernel's, from smaps: not what vdmux says) and the
# default reserved size, 32768 rounded up to a page, also as vdmuxctl
# writes it (32K; 64K with 64 KiB pages).
PAGE=$(awk '/^KernelPageSize:/ { print $2 * 1024; exit }' /proc/self/smaps)
DEF=$(((32768 + PAGE - 1) / PAGE * PAGE))
DEF_K=$((DEF / 1024))K

pass() {
	n=$((n + 1))
	echo "ok $n - $1"
}

fail() {
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n - $1"
}

# Prints why an expectation failed, as TAP diagnostics.
diag() {
	echo "$*" | sed 's/^/# /'
}

# check DESC COMMAND...: one test, passed when COMMAND succeeds; when it
# fails, what the last vdmuxctl printed goes with it.
check() {
	desc=$1
	shift
	if "$@"; then
		pass "$desc"
	else
		fail "$desc"
		diag "last vdmuxctl: exit $rc, stderr: $(cat "$T/err")"
		diag "stdout: $(head -c 300 "$T/out")"
	fi
}

# vctl ARGS...: runs vdmuxctl; its output is in $T/out and $T/err, its exit
# status in $rc.
vctl() {
	vdmuxctl "$@" >"$T/out" 2>"$T/err"
	rc=$?
}

# as USER ARGS...: vctl as USER.
as() {
	u=$1
	shift
	# "--" keeps su from taking vdmuxctl's options for its own.
	su -s /bin/sh -c 'exec vdmuxctl "$@"' "$u" -- vdmuxctl "$@" >"$T/out" 2>"$T/err"
	rc=$?
}

# The exit status of the test: every planned test ran, and none failed.
plan_done() {
	if [ "$n" != "$PLAN" ]; then
		echo "# ran $n tests, planned $PLAN"
		return 1
	fi
	[ "$failed" = 0 ]
}
