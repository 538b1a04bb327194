#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Render the output of tests/bench/vdmux_bench.c into bench/.

    render-bench.py BENCH_LOG OUT_DIR ACCEL

Writes OUT_DIR/results.json (the raw figures), OUT_DIR/RESULTS.md (tables,
ratios against the baselines of the same boot, and the targets) and
OUT_DIR/first-touch.svg (throughput against size, one line per contender).
Prints RESULTS.md; exits non-zero only when the run produced no results.
"""

import json
import math
import os
import sys

# (name, numerator, denominator, target, how the ratio is computed)
TARGETS = [
    ("first touch 64 MiB, 4 KiB faults vs memfd", "vdmux-4k", "memfd", 3.0),
    ("first touch 64 MiB, fault-around vs memfd", "vdmux-fault-around", "memfd", 10.0),
    ("first touch 64 MiB, 2 MiB (PMD) mappings vs memfd", "vdmux-pmd", "memfd", 50.0),
]
COLORS = {
    "vdmux-4k": "#1f77b4",
    "vdmux-fault-around": "#2ca02c",
    "vdmux-pmd": "#9467bd",
    "memfd": "#d62728",
    "anon": "#7f7f7f",
}


def load(path):
    with open(path, errors="replace") as f:
        lines = f.read().replace("\r", "").split("\n")
    try:
        start = lines.index("# vdmux-json-begin")
        end = lines.index("# vdmux-json-end")
    except ValueError:
        return None
    return json.loads("\n".join(lines[start + 1:end]))


def human(size):
    for unit, shift in (("MiB", 20), ("KiB", 10)):
        if size >= 1 << shift:
            return f"{size >> shift} {unit}"
    return f"{size} B"


def table(rows, header):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def svg_plot(series, sizes, title, ylabel):
    """A log-log line plot of {contender: {size: value}}, as SVG text."""
    w, h, ml, mr, mt, mb = 720, 420, 80, 180, 40, 50
    values = [v for s in series.values() for v in s.values() if v > 0]
    ymin = 10 ** math.floor(math.log10(min(values)))
    ymax = 10 ** math.ceil(math.log10(max(values)))
    xmin, xmax = math.log2(min(sizes)), math.log2(max(sizes))

    def x(size):
        return ml + (math.log2(size) - xmin) / max(xmax - xmin, 1) * (w - ml - mr)

    def y(v):
        return mt + (1 - (math.log10(v) - math.log10(ymin)) /
                     (math.log10(ymax) - math.log10(ymin))) * (h - mt - mb)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<text x="{w / 2}" y="20" text-anchor="middle" font-size="14">{title}</text>']
    decade = ymin
    while decade <= ymax:
        out.append(f'<line x1="{ml}" x2="{w - mr}" y1="{y(decade):.1f}" y2="{y(decade):.1f}" '
                   f'stroke="#ddd"/>')
        out.append(f'<text x="{ml - 6}" y="{y(decade) + 4:.1f}" text-anchor="end">{decade:g}</text>')
        decade *= 10
    for size in sizes:
        out.append(f'<text x="{x(size):.1f}" y="{h - mb + 18}" text-anchor="middle">{human(size)}</text>')
    out.append(f'<text x="{(ml + w - mr) / 2}" y="{h - 10}" text-anchor="middle">mapping size</text>')
    out.append(f'<text x="16" y="{(mt + h - mb) / 2}" text-anchor="middle" '
               f'transform="rotate(-90 16 {(mt + h - mb) / 2})">{ylabel}</text>')
    for i, (name, pts) in enumerate(sorted(series.items())):
        color = COLORS.get(name, "#9467bd")
        path = " ".join(f"{x(s):.1f},{y(v):.1f}" for s, v in sorted(pts.items()) if v > 0)
        out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for s, v in sorted(pts.items()):
            if v > 0:
                out.append(f'<circle cx="{x(s):.1f}" cy="{y(v):.1f}" r="3" fill="{color}"/>')
        out.append(f'<line x1="{w - mr + 15}" x2="{w - mr + 35}" y1="{mt + 20 * i + 10}" '
                   f'y2="{mt + 20 * i + 10}" stroke="{color}" stroke-width="2"/>')
        out.append(f'<text x="{w - mr + 40}" y="{mt + 20 * i + 14}">{name}</text>')
    out.append("</svg>")
    return "\n".join(out)


def main():
    log, outdir, accel = sys.argv[1], sys.argv[2], sys.argv[3]
    data = load(log)
    if not data or not data.get("results"):
        print("render-bench: no results in " + log, file=sys.stderr)
        return 1
    res = data["results"]

    def get(bench, contender, size=None):
        for r in res:
            if r["bench"] == bench and r["contender"] == contender and (
                    size is None or r["size"] == size):
                return r["value"]
        return None

    sizes = sorted({r["size"] for r in res if r["bench"] == "first_touch"})
    contenders = ["vdmux-4k", "vdmux-fault-around", "vdmux-pmd", "memfd", "anon"]
    md = [f"# vdmux benchmarks",
          "",
          f"Release kernel, QEMU {accel.upper()}, clocksource `{data['clocksource']}`. "
          f"Every figure is the median of {data.get('reps', 5)} runs; every ratio compares figures "
          "measured in the same boot. Reproduce with `make bench`.",
          "",
          "## First-touch fault throughput (MiB/s, one write per page)",
          "",
          "![first-touch throughput](first-touch.svg)",
          ""]
    rows = []
    for s in sizes:
        v = {c: get("first_touch", c, s) for c in contenders}
        rows.append([human(s)] + [f"{v[c]:.0f}" for c in contenders] +
                    [f"{v['vdmux-4k'] / v['memfd']:.2f}x",
                     f"{v['vdmux-fault-around'] / v['memfd']:.2f}x",
                     f"{v['vdmux-pmd'] / v['memfd']:.2f}x"])
    md.append(table(rows, ["size"] + contenders +
                    ["4k / memfd", "fault-around / memfd", "pmd / memfd"]))
    md += ["", "`vdmux-4k` and `vdmux-fault-around` run with `PR_SET_THP_DISABLE`, "
           "so every fault maps 4 KiB pages; `vdmux-pmd` maps each whole 2 MiB "
           "block with one PMD entry (sizes below 2 MiB have no whole block and "
           "use fault-around)."]

    md += ["", "## Steady-state bandwidth, 64 MiB (MiB/s)", ""]
    rows = []
    for op in ("memset", "memcpy"):
        anon = get(op, "anon")
        vd = get(op, "vdmux-mmap")
        rows.append([op, f"{anon:.0f}", f"{vd:.0f}", f"{vd / anon:.2f}x"])
    md.append(table(rows, ["operation", "anon", "vdmux mapping", "vdmux / anon"]))
    mm, wr, rd = get("memcpy", "vdmux-mmap"), get("memcpy", "vdmux-write"), get("memcpy", "vdmux-read")
    md += ["", table([["write()", f"{wr:.0f}", f"{mm / wr:.2f}x"],
                      ["read()", f"{rd:.0f}", f"{mm / rd:.2f}x"]],
                     ["copy path", "MiB/s", "mmap memcpy / copy path"])]

    md += ["", "## SWITCH latency (ms)", ""]
    rows = []
    for s in sorted({r["size"] for r in res if r["bench"] == "switch"}):
        one, four = get("switch", "switch-1-mapper", s), get("switch", "switch-4-mappers", s)
        floor = get("switch", "memcpy-2x", s)
        rows.append([human(s), f"{one:.3f}", f"{four:.3f}", f"{floor:.3f}",
                     f"{four / floor:.2f}x", f"{get('switch', 'retouch', s):.3f}"])
    md.append(table(rows, ["size", "1 mapper", "4 mappers", "memcpy of 2x size",
                           "4 mappers / memcpy", "re-touch after switch"]))

    one, two = get("scaling", "1-thread"), get("scaling", "2-threads")
    md += ["", "## Fault scaling, 64 MiB, 4 KiB faults", "",
           table([["1", f"{one:.1f}", "1.00x"], ["2", f"{two:.1f}", f"{one / two:.2f}x"]],
                 ["threads", "ms", "speed-up"])]

    big = max(sizes)
    targets = []
    for name, num, den, target in TARGETS:
        ratio = get("first_touch", num, big) / get("first_touch", den, big)
        targets.append([name, f"{ratio:.2f}x", f"{target:g}x", "met" if ratio >= target else "not met"])
    ratio = get("memset", "vdmux-mmap") / get("memset", "anon")
    targets.append(["mapped write bandwidth vs anon", f"{ratio:.2f}x", "0.95x",
                    "met" if ratio >= 0.95 else "not met"])
    ratio = mm / wr
    targets.append(["mmap vs write() copy path, 64 MiB", f"{ratio:.2f}x", "2x",
                    "met" if ratio >= 2 else "not met"])
    # memcpy-2x at size s copies 2 * s bytes: the floor for save + load.
    sw = get("switch", "switch-4-mappers", 1 << 20)
    floor = get("switch", "memcpy-2x", 1 << 20)
    if sw and floor:
        targets.append(["SWITCH 1 MiB, 4 mappers vs memcpy of 2 MiB", f"{sw / floor:.2f}x",
                        "<= 3x", "met" if sw / floor <= 3 else "not met"])
    md += ["", "## Targets", "", table(targets, ["target", "measured", "wanted", ""])]

    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "results.json"), "w") as f:
        json.dump(data, f, indent=1)
    series = {c: {s: get("first_touch", c, s) for s in sizes} for c in contenders}
    with open(os.path.join(outdir, "first-touch.svg"), "w") as f:
        f.write(svg_plot(series, sizes, "First-touch fault throughput", "MiB/s"))
    text = "\n".join(md) + "\n"
    with open(os.path.join(outdir, "RESULTS.md"), "w") as f:
        f.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
