#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The host's eye on the guest's display (run.sh --screen).

Listens on two unix sockets that QEMU connects to: its QMP monitor
(--qmp) and the guest's ttyS2 (--channel). The guest writes one request a
line:

    shot NAME EXPECT    take a screenshot now and compare it with EXPECT
    done N              the guest asked for N shots and is finished

and waits for the answer to each shot, "ok NAME" or "bad NAME: why", so
that every shot shows the screen at the moment the guest chose. A shot is
QMP's screendump (a PPM of what the display shows, with -display none too),
kept as --shots/NN-NAME.ppm.

EXPECT names a picture that this program draws on its own, from the same
description as the guest's drawing program (tests/screen/screen_test.c),
not from its code:

    black           every pixel 0
    vdevK           vdev K's picture, K from 0 to 3: a background colour
                    of K's, textured in 8x8 blocks, with the digit K in
                    white, 40 pixels a dot of a 5x7 font, at (220, 100)
    vdevK+box       the same with a yellow square of 160 pixels at (40, 40)

Exit status 0 only if the guest said done with as many shots as were
taken, at least one, and every shot matched.
"""

import argparse
import functools
import json
import os
import socket
import sys
import time

WIDTH, HEIGHT = 640, 480
BASES = [(0x1F, 0x4E, 0xA8), (0x2E, 0x8B, 0x57), (0xB0, 0x30, 0x30), (0x80, 0x40, 0xA0)]
FONT = {
    0: ["01110", "10001", "10011", "10101", "11001", "10001", "01110"],
    1: ["00100", "01100", "00100", "00100", "00100", "00100", "01110"],
    2: ["01110", "10001", "00001", "00010", "00100", "01000", "11111"],
    3: ["11110", "00001", "00001", "01110", "00001", "00001", "11110"],
}
DOT, DIGIT_X, DIGIT_Y = 40, 220, 100
BOX_X, BOX_Y, BOX_SIZE, BOX_RGB = 40, 40, 160, (0xFF, 0xD7, 0x00)


@functools.lru_cache(maxsize=None)
def picture(expect):
    """The RGB bytes (rows top down) of picture @expect, or None if unknown."""
    if expect == "black":
        return bytes(WIDTH * HEIGHT * 3)
    name, _, extra = expect.partition("+")
    if not name.startswith("vdev") or not name[4:].isdigit() or extra not in ("", "box"):
        return None
    k = int(name[4:])
    if k not in FONT:
        return None
    out = bytearray(WIDTH * HEIGHT * 3)
    base = BASES[k]
    for y in range(HEIGHT):
        for x in range(WIDTH):
            t = ((x >> 3) ^ (y >> 3)) & 0x0F
            rgb = (base[0] ^ t, base[1] ^ t, base[2] ^ t)
            gx, gy = (x - DIGIT_X) // DOT, (y - DIGIT_Y) // DOT
            if x >= DIGIT_X and y >= DIGIT_Y and gx < 5 and gy < 7 and FONT[k][gy][gx] == "1":
                rgb = (0xFF, 0xFF, 0xFF)
            if extra == "box" and BOX_X <= x < BOX_X + BOX_SIZE and BOX_Y <= y < BOX_Y + BOX_SIZE:
                rgb = BOX_RGB
            i = (y * WIDTH + x) * 3
            out[i : i + 3] = bytes(rgb)
    return bytes(out)


def read_ppm(path):
    """(width, height, RGB bytes) of a binary PPM with maxval 255."""
    with open(path, "rb") as f:
        data = f.read()
    fields, pos = [], 0
    while len(fields) < 4:
        while data[pos : pos + 1].isspace():
            pos += 1
        if data[pos : pos + 1] == b"#":
            pos = data.index(b"\n", pos) + 1
            continue
        end = pos
        while not data[end : end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    if fields[0] != b"P6" or fields[3] != b"255":
        raise ValueError(f"{path}: not a P6 PPM of maxval 255")
    width, height = int(fields[1]), int(fields[2])
    pixels = data[pos + 1 : pos + 1 + width * height * 3]
    if len(pixels) != width * height * 3:
        raise ValueError(f"{path}: short")
    return width, height, pixels


def compare(path, expect):
    """None if the shot at @path is picture @expect, else why not."""
    want = picture(expect)
    if want is None:
        return f"no picture is called {expect}"
    width, height, got = read_ppm(path)
    if (width, height) != (WIDTH, HEIGHT):
        return f"the screen is {width}x{height}, not {WIDTH}x{HEIGHT}"
    if got == want:
        return None
    wrong = [i for i in range(0, len(got), 3) if got[i : i + 3] != want[i : i + 3]]
    x, y = (wrong[0] // 3) % WIDTH, (wrong[0] // 3) // WIDTH
    i = wrong[0]
    return (
        f"{len(wrong)} of {WIDTH * HEIGHT} pixels differ, the first at ({x}, {y}): "
        f"#{got[i:i + 3].hex()} where {expect} has #{want[i:i + 3].hex()}"
    )


class Qmp:
    """A QMP connection: commands in, their returns out (events skipped)."""

    def __init__(self, conn):
        self.file = conn.makefile("rw", encoding="utf-8", newline="\n")
        self.recv()  # the greeting
        self.command("qmp_capabilities")

    def recv(self):
        while True:
            line = self.file.readline()
            if not line:
                raise EOFError("QMP closed")
            msg = json.loads(line)
            if "event" not in msg:
                return msg

    def command(self, name, **args):
        self.file.write(json.dumps({"execute": name, "arguments": args}) + "\n")
        self.file.flush()
        reply = self.recv()
        if "error" in reply:
            raise RuntimeError(f"QMP {name}: {reply['error']}")
        return reply["return"]


def listen(path):
    if os.path.exists(path):
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    sock.listen(1)
    return sock


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--qmp", required=True)
    ap.add_argument("--channel", required=True)
    ap.add_argument("--shots", required=True)
    ap.add_argument("--timeout", type=float, default=1800)
    args = ap.parse_args()
    os.makedirs(args.shots, exist_ok=True)
    qmp_sock, chan_sock = listen(args.qmp), listen(args.channel)
    qmp_sock.settimeout(60)
    chan_sock.settimeout(60)
    # QEMU connects to the monitor, then to the serial port's chardev.
    qmp = Qmp(qmp_sock.accept()[0])
    chan = chan_sock.accept()[0]
    chan.settimeout(args.timeout)
    reader = chan.makefile("rb")
    shots, bad, done = 0, [], None
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        try:
            raw = reader.readline()
        except (socket.timeout, OSError):
            break
        if not raw:
            break
        words = raw.decode("ascii", "replace").split()
        if len(words) == 3 and words[0] == "shot":
            name, expect = words[1], words[2]
            shots += 1
            path = os.path.abspath(os.path.join(args.shots, f"{shots:02d}-{name}.ppm"))
            try:
                qmp.command("screendump", filename=path)
                why = compare(path, expect)
            except (OSError, ValueError, RuntimeError) as e:
                why = f"no screenshot: {e}"
            if why:
                bad.append(f"{name}: {why}")
                print(f"shot {shots} {name}: expected {expect}: MISMATCH: {why}")
                chan.sendall(f"bad {name}: {why}\n".encode())
            else:
                print(f"shot {shots} {name}: {expect}: ok")
                chan.sendall(f"ok {name}\n".encode())
        elif len(words) == 2 and words[0] == "done" and words[1].isdigit():
            done = int(words[1])
        elif words:
            bad.append(f"unknown request {raw!r}")
            print(f"unknown request {raw!r}")
    ok = not bad and shots > 0 and done == shots
    if done is None:
        print("the guest never said it was done")
    elif done != shots:
        print(f"the guest asked for {done} shots, {shots} were taken")
    print(f"{shots} shots, {len(bad)} mismatches{'' if ok else ': FAILED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
