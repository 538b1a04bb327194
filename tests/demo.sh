#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The vdmux demonstration, run by the guest's /init for 'make demo': two
# "terminals" map their own virtual devices while vdmuxctl switches, ejects
# and inserts them, and a third one, whose mapping is an autogrow one, grows
# the device by writing a line past its end. Every command is shown before
# its output, as typed.

here=$(cd "$(dirname "$0")" && pwd)
export PATH=/usr/bin:/bin:/sbin

step() {
	echo
	echo "== $*"
}

# Shows a command, runs it, and shows its exit status when it is not 0.
run() {
	echo "\$ $*"
	"$@" 2>&1
	rc=$?
	[ "$rc" = 0 ] || echo "(exit status $rc)"
}

# term_start NAME N [--autogrow LEN]: terminal NAME maps /dev/vdmuxN. It
# reads commands from a FIFO and answers each with one line on another, so
# that every answer is printed in its place in the transcript.
term_start() {
	name=$1
	shift
	mkfifo "/tmp/$name.in" "/tmp/$name.out"
	"$here/demo_term" "$name" "$@" <"/tmp/$name.in" >"/tmp/$name.out" 2>&1 &
}

# term NAME COMMAND: sends COMMAND to terminal NAME and prints its answer.
# A terminal that exited (it could not map its device) answers no more.
term() {
	case $1 in
	A) echo "$2" >&3 && read -r answer <&4 ;;
	B) echo "$2" >&5 && read -r answer <&6 ;;
	C) echo "$2" >&7 && read -r answer <&8 ;;
	esac || answer="(terminal $1 is gone)"
	echo "$answer"
}
# Writing to a terminal that is gone fails rather than ending the demo.
trap '' PIPE

echo "vdmux demo"
echo
echo "vdmux reserves one buffer of device memory and shares it among virtual"
echo "devices, the way video memory is shared among virtual terminals: the"
echo "foreground device's pages are the device memory, the others wait in"
echo "backing stores. Whoever maps a virtual device sees its bytes and no one"
echo "else's, whichever is in the foreground."

step "Load the driver: 4 virtual devices of 32K, and the control node"
run modprobe vdmux
run ls -l /dev/vdmux /dev/vdmux0 /dev/vdmux1 /dev/vdmux2 /dev/vdmux3
run vdmuxctl status

step "Terminal A maps /dev/vdmux0 and terminal B maps /dev/vdmux1; each writes a line"
term_start A 0
exec 3>/tmp/A.in 4</tmp/A.out
read -r answer <&4 && echo "$answer"
term_start B 1
exec 5>/tmp/B.in 6</tmp/B.out
read -r answer <&6 && echo "$answer"
term A "write hello from terminal A"
term B "write hello from terminal B"
echo "A's line is in the device memory itself (vdev 0 is in the foreground);"
echo "B's is in vdev 1's backing store. read(2) finds both:"
run vdmuxctl dump 0 --length 32
run vdmuxctl dump 1 --length 32

step "Bring terminal B to the foreground, with 'vdmuxctl watch' and 'vdmuxctl wait 1' looking on"
vdmuxctl watch --count 1 --timeout 60 >/tmp/watch.log 2>&1 &
watcher=$!
# watch prints its first line once it has looked: wait for it.
while [ ! -s /tmp/watch.log ]; do sleep 0.1; done
echo "\$ vdmuxctl wait 1 &"
vdmuxctl wait 1 --timeout 60 >/tmp/wait.log 2>&1 &
waiter=$!
sleep 0.5
if kill -0 "$waiter" 2>/dev/null; then
	echo "(wait 1 is still waiting: vdev 1 is in the background)"
else
	echo "(wait 1 has already returned: that is wrong)"
fi
run vdmuxctl switch 1
wait "$waiter"
echo "wait 1 returned, exit status $?"
[ -s /tmp/wait.log ] && sed 's/^/    /' /tmp/wait.log
wait "$watcher"
echo "watch printed:"
sed 's/^/    /' /tmp/watch.log
run vdmuxctl status
echo "sysfs says the same, and notifies pollers of each change:"
run cat /sys/class/misc/vdmux/foreground /sys/class/misc/vdmux1/state /sys/class/misc/vdmux1/generation
echo "The bytes moved between device memory and backing stores, yet each"
echo "terminal still sees its own line through the same mapping:"
term A read
term B read

step "Eject B's virtual device, like pulling a card out of its slot"
run vdmuxctl eject 1
run vdmuxctl status
term B read
term A read
run vdmuxctl dump 1 --length 16
run vdmuxctl switch 1

step "Insert it again: it comes back in the background, with its bytes"
run vdmuxctl insert 1
run vdmuxctl status
term B read
run vdmuxctl switch 1
run vdmuxctl status

step "Terminal C maps 64K of /dev/vdmux2 with autogrow; its line past the end grows the device"
term_start C 2 --autogrow 65536
exec 7>/tmp/C.in 8</tmp/C.out
read -r answer <&8 && echo "$answer"
vdmuxctl watch --count 1 --timeout 60 >/tmp/watch-growth.log 2>&1 &
watcher=$!
while [ ! -s /tmp/watch-growth.log ]; do sleep 0.1; done
echo "Reading past the end of the device is SIGBUS; writing there grows it"
echo "to the end of that page, for every virtual device:"
term C "read-at 40000"
term C "write-at 40000 a line past the end of the device"
wait "$watcher"
echo "watch printed:"
sed 's/^/    /' /tmp/watch-growth.log
run vdmuxctl status
run cat /sys/class/misc/vdmux/reserved_size
run vdmuxctl dump 2 --offset 40000 --length 48
echo "The others kept their bytes, and the new ones are zero:"
term A read
term B read
run vdmuxctl dump 0 --offset 40000 --length 16
term C "read-at 45056"

step "Mistakes get a clear message and an exit status scripts can test"
run vdmuxctl switch 9
run vdmuxctl resize 16K
run vdmuxctl resize 64Q

step "The terminals close; with nothing mapped the buffer can shrink"
term A quit
term B quit
term C quit
exec 3>&- 4<&- 5>&- 6<&- 7>&- 8<&-
wait
run vdmuxctl resize 16K
run vdmuxctl status

# make demo SCREEN=1: the guest has QEMU's standard VGA, and the host takes
# the screenshots screen_test asks for.
if [ -x "$here/screen_test" ]; then
	step "Virtual terminals you can see: three vdevs take turns on the VGA's video memory"
	echo "screen_test sets a 640x480 mode, binds vdmux to the VGA (its BAR 0),"
	echo "draws a picture into each vdev and switches; the host keeps a shot of each step."
	run "$here/screen_test"
fi
echo
echo "End of the demo."
