#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Converts binary PPM screenshots (QMP screendump's) into PNG files.

    ppm2png.py IN.ppm OUT.png [IN.ppm OUT.png ...]

Python's standard library only: zlib and struct.
"""

import struct
import sys
import zlib


def read_ppm(path):
    """(width, height, RGB rows) of a P6 PPM of maxval 255."""
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
        sys.exit(f"ppm2png: {path}: not a P6 PPM of maxval 255")
    width, height = int(fields[1]), int(fields[2])
    pixels = data[pos + 1 : pos + 1 + width * height * 3]
    if len(pixels) != width * height * 3:
        sys.exit(f"ppm2png: {path}: short")
    return width, height, pixels


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
        write_png(dst, *read_ppm(src))


if __name__ == "__main__":
    main(sys.argv[1:])
