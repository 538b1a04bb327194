#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# vdmuxctl's event commands against the real driver: watch, which sleeps in
# epoll on the nodes' EPOLLPRI (and context management's sysfs attributes),
# and wait, which sleeps in
# VDMUX_IOC_WAIT_FOREGROUND. Their output, counts and exit statuses. TAP
# output.
#
# Expects vdmux loaded with its defaults (4 virtual devices of 32768 bytes, rounded up to a page),
# the guest's users "user" (in group vdmux) and "nobody", and the demo's
# terminal (demo_term) on the PATH: its autogrow store grows the device.

export PATH=/usr/bin:/bin:/sbin
T=$(mktemp -d)
. "$(dirname "$0")/vdmuxctl_lib.sh"
PLAN=31

echo "TAP version 13"
echo "1..$PLAN"

# check DESC COMMAND...: one test, passed when COMMAND succeeds.

# expect RC STDERR: the last vctl exited with RC, printed exactly STDERR and
# nothing on stdout.
expect() {
	if [ "$rc" = "$1" ] && [ "$(cat "$T/err")" = "$2" ] && [ ! -s "$T/out" ]; then
		return 0
	fi
	diag "exit $rc (want $1), stderr: $(cat "$T/err"), stdout: $(head -c 200 "$T/out")"
	return 1
}

# same FILE TEXT: FILE holds exactly TEXT (and a final newline).
same() {
	if [ "$(cat "$1")" = "$2" ]; then
		return 0
	fi
	diag "got:"
	diag "$(cat "$1")"
	diag "want:"
	diag "$2"
	return 1
}

# The control node's generation.
generation() {
	vdmux-status
}

# Back to the load-time state: everything inserted, vdev 0 in front, the
# default size.
reset() {
	for i in 0 1 2 3; do vdmuxctl insert "$i" 2>/dev/null; done
	vdmuxctl switch 0 && vdmuxctl resize "$DEF"
}

# lines FILE N: waits up to 10 s until FILE has N lines.
lines() {
	i=0
	while [ "$(wc -l <"$1")" -lt "$2" ] && [ "$i" -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ "$(wc -l <"$1")" -ge "$2" ]
}

# watcher ARGS...: starts 'vdmuxctl watch ARGS' in the background, its
# output in $T/watch, its pid in $watcher, and returns once it printed its
# first line (after which it reports every change).
watcher() {
	: >"$T/watch"
	vdmuxctl watch "$@" >"$T/watch" 2>"$T/watch.err" &
	watcher=$!
	lines "$T/watch" 1
	is_vdmuxctl "$watcher"
}

# The background job $1 is vdmuxctl itself (the shell exec'd it), whose CPU
# time and state the checks read.
is_vdmuxctl() {
	[ "$(cat "/proc/$1/comm" 2>/dev/null)" = vdmuxctl ] || diag "pid $1 is not vdmuxctl"
}

# finish: waits for the watcher; its exit status in $wrc.
finish() {
	wait "$watcher"
	wrc=$?
	[ "$wrc" = 0 ] || diag "watch exited $wrc: $(cat "$T/watch.err")"
}

# A process' state letter (R, S, T...) from /proc/PID/stat.
proc_state() {
	sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f1
}

# The CPU time of process $1 in clock ticks, user and system.
cpu_ticks() {
	sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'
}

# The CPU ticks process $1 uses in one second, into $ticks. Fails when the
# process is gone at either reading: no reading is no evidence that it slept.
ticks_in_a_second() {
	ticks=
	t0=$(cpu_ticks "$1")
	sleep 1
	t1=$(cpu_ticks "$1")
	[ -n "$t0" ] && [ -n "$t1" ] || { diag "pid $1 gone: CPU ticks '$t0' -> '$t1'"; return 1; }
	ticks=$((t1 - t0))
}

HEADER="watching vdmux: 4 virtual devices of $DEF bytes ($DEF_K), foreground 0"

if ! reset; then
	echo "Bail out! cannot bring vdmux to its default state with vdmuxctl"
	exit 1
fi

# --- watch: every change, none lost ---------------------------------------

# switch 1, switch 0, switch 1 as fast as the shell runs them. However they
# fall between the watcher's reads, each line must say exactly what the
# changes since the previous line did, and the lines must add up to 3.
fg_after() { # the foreground after change $1 of the sequence
	case $1 in 0 | 2) echo 0 ;; *) echo 1 ;; esac
}
state_after() { # the state of vdev $1 after change $2
	if [ "$(fg_after "$2")" = "$1" ]; then echo foreground; else echo background; fi
}
# The line for changes $1+1 .. $2 of the sequence, starting at generation $gen.
line_for() {
	k=$(($2 - $1))
	l="generation $((gen + $2))"
	[ "$k" -gt 1 ] && l="$l ($k changes)"
	sep=": "
	for v in 0 1; do
		s1=$(state_after "$v" "$1")
		s2=$(state_after "$v" "$2")
		if [ "$s1" != "$s2" ]; then
			p="vdev $v $s1 -> $s2"
			[ "$k" -gt 1 ] && p="$p ($k changes)"
		else
			p="vdev $v $s1 again ($k changes)"
		fi
		l="$l$sep$p"
		sep=", "
	done
	echo "$l"
}

gen=$(generation)
watcher --count 3 --timeout 20
vdmuxctl switch 1 && vdmuxctl switch 0 && vdmuxctl switch 1
finish
want="$HEADER, generation $gen"
prev=0
for g in $(sed -n 's/^generation \([0-9]*\)[ :].*/\1/p' "$T/watch"); do
	want="$want
$(line_for "$prev" $((g - gen)))"
	prev=$((g - gen))
done
check "watch: three quick switches, every line says what changed since the last one" \
	eval '[ "$wrc" = 0 ] && [ "$prev" = 3 ] && same "$T/watch" "$want"'
diag "$(($(wc -l <"$T/watch") - 1)) lines for the 3 switches"

# One line per switch when the watcher looks between them: generations
# gen+1, gen+2, gen+3.
vdmuxctl switch 0
gen=$(generation)
watcher --count 3 --timeout 20
vdmuxctl switch 2 && lines "$T/watch" 2 &&
	vdmuxctl switch 3 && lines "$T/watch" 3 && vdmuxctl switch 1
finish
check "watch: one line per switch, with consecutive generations" eval '[ "$wrc" = 0 ] &&
	same "$T/watch" "$HEADER, generation $gen
generation $((gen + 1)): vdev 0 foreground -> background, vdev 2 background -> foreground
generation $((gen + 2)): vdev 2 foreground -> background, vdev 3 background -> foreground
generation $((gen + 3)): vdev 1 background -> foreground, vdev 3 foreground -> background"'

# Changes that come while the watcher is stopped reach it together: one
# line, "3 changes".
vdmuxctl switch 0
gen=$(generation)
watcher --count 3 --timeout 20
kill -STOP "$watcher"
i=0
while [ "$(proc_state "$watcher")" != T ] && [ "$i" -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
vdmuxctl switch 1 && vdmuxctl switch 0 && vdmuxctl switch 1
kill -CONT "$watcher"
finish
check "watch: three switches while it was stopped: one line, 3 changes" eval '[ "$wrc" = 0 ] &&
	same "$T/watch" "$HEADER, generation $gen
generation $((gen + 3)) (3 changes): vdev 0 foreground -> background (3 changes), vdev 1 background -> foreground (3 changes)"'

# --interval MS: at most one line per MS; the switches made meanwhile share
# it. Three switches take well under 4 s.
vdmuxctl switch 0
gen=$(generation)
watcher --count 3 --timeout 20 --interval 4000
vdmuxctl switch 1 && vdmuxctl switch 0 && vdmuxctl switch 1
finish
check "watch --interval 4000: three switches in one line, 3 changes" eval '[ "$wrc" = 0 ] &&
	same "$T/watch" "$HEADER, generation $gen
generation $((gen + 3)) (3 changes): vdev 0 foreground -> background (3 changes), vdev 1 background -> foreground (3 changes)"'

# --count counts changes, not lines: two changes in one line satisfy
# --count 2; with --count 4 the same line leaves watch waiting, and it
# times out with 2.
vdmuxctl switch 0
gen=$(generation)
watcher --count 4 --timeout 3 --interval 2000
vdmuxctl switch 1 && vdmuxctl switch 0
wait "$watcher"
wrc=$?
check "watch --count 4 after 2 changes: exit 3, saw 2 of 4" eval '[ "$wrc" = 3 ] &&
	same "$T/watch.err" "vdmuxctl: watch: saw 2 of 4 changes in 3 s" &&
	same "$T/watch" "$HEADER, generation $gen
generation $((gen + 2)) (2 changes): vdev 0 foreground again (2 changes), vdev 1 background again (2 changes)"'

# Eject and insert.
gen=$(generation)
watcher --count 2 --timeout 20
vdmuxctl eject 3 && lines "$T/watch" 2 && vdmuxctl insert 3
finish
check "watch: eject and insert" eval '[ "$wrc" = 0 ] &&
	same "$T/watch" "$HEADER, generation $gen
generation $((gen + 1)): vdev 3 background -> removed
generation $((gen + 2)): vdev 3 removed -> background"'

# A resize shows the sizes.
gen=$(generation)
watcher --count 1 --timeout 20
vdmuxctl resize $((2 * DEF))
finish
check "watch: a resize shows the old and the new size" eval '[ "$wrc" = 0 ] &&
	same "$T/watch" "$HEADER, generation $gen
generation $((gen + 1)): reserved size $DEF -> $((2 * DEF))"'
vdmuxctl resize "$DEF"

# Nothing happens: exit 3 at the timeout, no line but the first; it slept
# rather than polled in a loop.
gen=$(generation)
watcher --count 1 --timeout 2
ticks_in_a_second "$watcher"
slept=$?
wait "$watcher"
wrc=$?
check "watch --count 1 --timeout 2 with nothing happening: exit 3" eval '[ "$wrc" = 3 ] &&
	same "$T/watch.err" "vdmuxctl: watch: saw 0 of 1 changes in 2 s" &&
	same "$T/watch" "$HEADER, generation $gen"'
check "watch sleeps while nothing happens ($ticks CPU ticks in 1 s)" \
	eval '[ "$slept" = 0 ] && [ "$ticks" -le 5 ]'

# --- watch without the control node --------------------------------------

# What the udev rule sets up: group vdmux may use the virtual devices, the
# control node is root's. A removed virtual device (EPOLLERR for as long as
# it is removed) must not make the watcher spin.
chgrp vdmux /dev/vdmux[0-3] && chmod 0660 /dev/vdmux[0-3]
vdmuxctl eject 2
: >"$T/watch"
su -s /bin/sh -c 'exec vdmuxctl watch --count 3 --timeout 20' user >"$T/watch" 2>"$T/watch.err" &
watcher=$!
lines "$T/watch" 1
is_vdmuxctl "$watcher"
ticks_in_a_second "$watcher"
slept=$?
check "watch as a member of group vdmux sleeps with a removed vdev ($ticks CPU ticks in 1 s)" \
	eval '[ "$slept" = 0 ] && [ "$ticks" -le 5 ]'
vdmuxctl switch 1 && lines "$T/watch" 2 &&
	vdmuxctl insert 2 && lines "$T/watch" 3 && vdmuxctl resize $((2 * DEF))
finish
check "watch as a member of group vdmux: polls the vdevs and sysfs, one change a line" \
	eval '[ "$wrc" = 0 ] && same "$T/watch" "$HEADER
change: vdev 0 foreground -> background, vdev 1 background -> foreground
change: vdev 2 removed -> background
change: reserved size $DEF -> $((2 * DEF))"'
chgrp root /dev/vdmux[0-3] && chmod 0600 /dev/vdmux[0-3]
reset

# --- watch and a growth ---------------------------------------------------

# grow: a terminal maps 8 pages past the default size of vdev 3 with
# autogrow and writes a line in the second page past the end (at byte 40000
# with 4 KiB pages): the device grows by two pages, to GROWN bytes. A
# terminal that failed stops the watcher $watcher, whose check then fails.
GROWN=$((DEF + 2 * PAGE))
grow() {
	if ! printf 'write-at %s grown\nquit\n' $((DEF + PAGE + 3136)) |
		demo_term G 3 --autogrow $((DEF + 8 * PAGE)) >"$T/term" 2>&1; then
		diag "demo_term: $(cat "$T/term")"
		kill "$watcher"
	fi
}

gen=$(generation)
watcher --count 1 --timeout 10
grow
finish
check "watch: a store past the end through an autogrow mapping, one change with the sizes" \
	eval '[ "$wrc" = 0 ] && same "$T/watch" "$HEADER, generation $gen
generation $((gen + 1)): reserved size $DEF -> $GROWN"'
vctl status --json
check "status after a growth: the new size, for every vdev" eval '[ "$rc" = 0 ] &&
	grep -q "\"reserved_size\":$GROWN," "$T/out" &&
	[ "$(grep -o "\"size\":$GROWN," "$T/out" | wc -l)" = 4 ]' || diag "$(cat "$T/out")"
vdmuxctl resize "$DEF"

# Without the control node: the size in sysfs tells.
chgrp vdmux /dev/vdmux[0-3] && chmod 0660 /dev/vdmux[0-3]
: >"$T/watch"
su -s /bin/sh -c 'exec vdmuxctl watch --count 1 --timeout 10' user >"$T/watch" 2>"$T/watch.err" &
watcher=$!
lines "$T/watch" 1
grow
finish
check "watch as a member of group vdmux: a growth, seen in sysfs" eval '[ "$wrc" = 0 ] &&
	same "$T/watch" "$HEADER
change: reserved size $DEF -> $GROWN"'
chgrp root /dev/vdmux[0-3] && chmod 0600 /dev/vdmux[0-3]
reset

# --- wait -----------------------------------------------------------------

vctl wait 0
check "wait 0 while 0 is the foreground: exit 0 at once" expect 0 ""
vctl wait 0 --timeout 0
check "wait 0 --timeout 0 while 0 is the foreground: exit 0" expect 0 ""

vdmuxctl wait 2 --timeout 20 >"$T/wait" 2>&1 &
waiter=$!
sleep 1
kill -0 "$waiter" 2>/dev/null
running=$?
check "wait 2 sleeps while 2 is in the background" [ "$running" = 0 ]
vdmuxctl switch 2
wait "$waiter"
wrc=$?
check "wait 2 returns 0 after switch 2, silently" eval '[ "$wrc" = 0 ] && [ ! -s "$T/wait" ]'

# Without --timeout, and through a virtual device's node: a member of group
# vdmux, who cannot open the control node.
chgrp vdmux /dev/vdmux[0-3] && chmod 0660 /dev/vdmux[0-3]
su -s /bin/sh -c 'exec vdmuxctl wait 1' user >"$T/wait" 2>&1 &
waiter=$!
sleep 1
kill -0 "$waiter" 2>/dev/null
running=$?
vdmuxctl switch 1
wait "$waiter"
wrc=$?
check "wait 1 as a member of group vdmux: sleeps, then exit 0 after switch 1" \
	eval '[ "$running" = 0 ] && [ "$wrc" = 0 ] && [ ! -s "$T/wait" ]'
as user wait 9
check "wait 9 as a member of group vdmux: EINVAL through a vdev node" \
	expect 1 "vdmuxctl: wait 9: no such virtual device (EINVAL)"
chgrp root /dev/vdmux[0-3] && chmod 0600 /dev/vdmux[0-3]
as nobody wait 1
check "wait as a user who can open no node: EACCES, exit 1" \
	expect 1 "vdmuxctl: wait 1: cannot open /dev/vdmux: permission denied (EACCES)"

vctl wait 3 --timeout 0.5
check "wait 3 --timeout 0.5 while 3 stays in the background: exit 3" \
	expect 3 "vdmuxctl: wait 3: virtual device 3 is not in the foreground after 0.5 s"
vdmuxctl eject 3
vctl wait 3 --timeout 0.3
check "wait for a removed vdev times out: exit 3" \
	expect 3 "vdmuxctl: wait 3: virtual device 3 is not in the foreground after 0.3 s"
vdmuxctl insert 3

vctl wait 9
check "wait 9: no such virtual device, EINVAL, exit 1" \
	expect 1 "vdmuxctl: wait 9: no such virtual device (EINVAL)"
vctl wait 9 --timeout 0
check "wait 9 --timeout 0: EINVAL, not a timeout" \
	expect 1 "vdmuxctl: wait 9: no such virtual device (EINVAL)"
vctl wait 4294967295 --timeout 5
check "wait 4294967295: EINVAL, exit 1" \
	expect 1 "vdmuxctl: wait 4294967295: no such virtual device (EINVAL)"

# --- watch: context management, which moves no generation -----------------

# SET_CTXMGT notifies the mode's sysfs attributes, which watch sleeps on: a
# line at once for each change of the mode or of its hold, with nothing else
# changing (the generation, from the ioctl, stays).
reset && vdmuxctl ctx on --timeout 0 && vdmuxctl ctx off
gen=$(generation)
watcher --count 2 --timeout 10
vdmuxctl ctx on --timeout 10ms && lines "$T/watch" 2 && vdmuxctl ctx on --timeout 250ms
finish
check "watch: a line when context management goes on, and one when its hold changes" eval '[ "$wrc" = 0 ] &&
	same "$T/watch" "$HEADER, generation $gen
generation $gen: context management off (hold 0 ms) -> on (hold 10 ms)
generation $gen: context management on (hold 10 ms) -> on (hold 250 ms)"'

watcher --count 1 --timeout 10
vdmuxctl ctx off
finish
check "watch: its first line names the mode on, then a line when it goes off" eval '[ "$wrc" = 0 ] &&
	same "$T/watch" "$HEADER, generation $gen; context management on, hold 250 ms
generation $gen: context management on (hold 250 ms) -> off (hold 250 ms)"'
vdmuxctl ctx on --timeout 0 && vdmuxctl ctx off

vctl wait
check "wait without an index: usage error, exit 2" eval '[ "$rc" = 2 ] &&
	same "$T/err" "error: the following required arguments were not provided:
  <N>

Usage: vdmuxctl wait <N>

For more information, try '"'--help'"'." && [ ! -s "$T/out" ]'
vctl wait 1 --timeout soon
check "wait --timeout soon: usage error, exit 2" eval '[ "$rc" = 2 ] &&
	[ "$(head -n 1 "$T/err")" = "error: invalid value '"'soon'"' for '"'--timeout <S>'"': not a number of seconds" ] &&
	[ ! -s "$T/out" ]'

vctl wait --help
check "wait --help" eval '[ "$rc" = 0 ] && grep -q "^Usage: vdmuxctl wait \[OPTIONS\] <N>$" "$T/out"'

reset || echo "# could not reset the device"
rm -rf "$T"
plan_done
