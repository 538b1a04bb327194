#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Converts binary PPM screenshots (QMP screendump's) into PNG files.

    ppm2png.py IN.ppm OUT.png [IN.ppm OUT.png ...]

Python's standard library only: zlib and struct.
"""

import os
import struct
import sys
import zlib

# The screen check's reader of screendump's PPM files.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "qemu"))
from screen import read_ppm  # noqa: E402


def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def write_png(path, width, height, pixels):
    row = width * 3
    # Filter type 0 (none) before each row.
    raw = b"".join(b"\0" + pixels[y * row : (y + 1) * row] for y in range(height))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
        f.write(chunk(b"IEND", b""))


def main(args):
    if not args or len(args) % 2:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    for src, dst in zip(args[::2], args[1::2]):
        try:
            write_png(dst, *read_ppm(src))
        except ValueError as e:
            sys.exit(f"ppm2png: {e}")


if __name__ == "__main__":
    main(sys.argv[1:])
