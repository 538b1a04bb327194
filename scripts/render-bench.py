#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Render the boots of one `make bench` into bench/, judged against bench/targets.

    render-bench.py --targets FILE --out DIR --accel ACCEL BOOT_LOG...

Each BOOT_LOG is the output of tests/bench/vdmux_bench.c in one boot. Every
line of the targets file is a ratio of two figures of the same boot, each
figure with the page size it must be observed with (see the file's header):
its ratio is computed in every boot, and the median across the boots carries
it. A figure missing in any boot, or observed with another page size, makes
the target not met; so does a boot that gave no results. The renderer reads
the targets and nothing else: it adds none and drops none.

Writes DIR/results.json (every boot's figures), DIR/RESULTS.md (the targets,
each with every boot's figure and the median, then boot 1's tables) and
DIR/first-touch.svg (boot 1's first-touch throughput), and appends the run to
DIR/runs.log with the date and commit, met or not. Prints RESULTS.md. Exits 0
when every target is met, 1 when one is not, 2 when no boot gave results.
"""

import argparse
import datetime
import json
import math
import os
import re
import statistics
import subprocess
import sys

COLORS = {
    "vdmux-4k-fa1": "#1f77b4",
    "vdmux-4k": "#2ca02c",
    "vdmux-4k-populate": "#98df8a",
    "vdmux-pmd": "#9467bd",
    "vdmux-pmd-populate": "#c5b0d5",
    "memfd-resident": "#d62728",
    "memfd-resident-populate": "#ff9896",
    "memfd-resident-thp": "#8c564b",
    "memfd-resident-thp-populate": "#c49c94",
    "memfd-fresh": "#ff7f0e",
    "anon": "#7f7f7f",
}

# Section name in the guest's JSON "time" records -> title.
SECTIONS = ["switch-first", "first-touch", "bandwidth", "copy", "scaling", "switch-second",
            "switch-mappers", "latency", "growth", "ctxmgt", "bar"]


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
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift} {unit}"
    return f"{size} B"


def table(rows, header):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def num(v, digits=1):
    if v is None:
        return "n/a"
    if v == 0:
        return "0"
    if abs(v) >= 100:
        return f"{v:.0f}"
    return f"{v:.{digits}f}" if abs(v) >= 1 else f"{v:.3f}"


def cell(r, digits=1, page=True):
    """A figure as table text: the value (or n/a and why), with its page size."""
    if r is None:
        return "-"
    if r.get("value") is None:
        return f"n/a ({r.get('error', '?')})"
    text = num(r["value"], digits)
    if page and r.get("page") not in (None, "-", ""):
        text += f" ({r['page']})"
    return text


def ratio_text(q):
    if q.get("value") is None:
        return f"n/a ({q.get('error', '?')})"
    return f"{q['value']:.4f}x" if abs(q["value"]) < 0.1 else f"{q['value']:.2f}x"


def pct(r):
    if r is None or r.get("value") is None:
        return "-"
    return f"{r['value']:.0f}%"


def svg_plot(series, sizes, title, ylabel):
    """A log-log line plot of {contender: {size: value}}, as SVG text."""
    w, h, ml, mr, mt, mb = 760, 440, 80, 220, 40, 50
    values = [v for s in series.values() for v in s.values() if v and v > 0]
    if not values:
        values = [1]
    ymin = 10 ** math.floor(math.log10(min(values)))
    ymax = 10 ** math.ceil(math.log10(max(values)))
    if ymax <= ymin:
        ymax = ymin * 10
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
    for i, (name, pts) in enumerate(series.items()):
        color = COLORS.get(name, "#17becf")
        good = [(s, v) for s, v in sorted(pts.items()) if v and v > 0]
        if not good:
            continue
        path = " ".join(f"{x(s):.1f},{y(v):.1f}" for s, v in good)
        out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for s, v in good:
            out.append(f'<circle cx="{x(s):.1f}" cy="{y(v):.1f}" r="3" fill="{color}"/>')
        out.append(f'<line x1="{w - mr + 15}" x2="{w - mr + 35}" y1="{mt + 20 * i + 10}" '
                   f'y2="{mt + 20 * i + 10}" stroke="{color}" stroke-width="2"/>')
        out.append(f'<text x="{w - mr + 40}" y="{mt + 20 * i + 14}">{name}</text>')
    out.append("</svg>")
    return "\n".join(out)


class Results:
    def __init__(self, data):
        self.res = data.get("results", [])
        self.ratios = data.get("ratios", [])

    def find(self, bench, contender=None, size=None, metric=""):
        for r in self.res:
            if (r["bench"] == bench and (contender is None or r["contender"] == contender)
                    and (size is None or r["size"] == size) and r.get("metric", "") == metric):
                return r
        return None

    def value(self, *args, **kw):
        r = self.find(*args, **kw)
        return None if r is None else r.get("value")

    def contenders(self, bench, metric=""):
        seen = []
        for r in self.res:
            if r["bench"] == bench and r.get("metric", "") == metric and r["contender"] not in seen:
                seen.append(r["contender"])
        return seen

    def sizes(self, bench):
        return sorted({r["size"] for r in self.res if r["bench"] == bench})

    def group(self, name):
        return [q for q in self.ratios if q["group"] == name]


def ratios_table(qs):
    """The guest's ratios of a section: informational, the targets are bench/targets'."""
    if not qs:
        return []
    rows = [[q["name"], ratio_text(q)] for q in qs]
    return ["", table(rows, ["ratio (this boot)", "measured"])]


def first_touch(R):
    md = []
    sizes = R.sizes("first_touch")
    if not sizes:
        return md
    names = R.contenders("first_touch")
    md += ["## First touch: mmap + one access per page (MiB/s)", "",
           "![first-touch throughput](first-touch.svg)", "",
           "Each run maps afresh and touches every page once; the time includes the `mmap` "
           "(and `VDMUX_IOC_POPULATE` or `MAP_POPULATE`). The contenders take turns: each "
           "round runs every one of them once at every size. The page size each contender was "
           "mapped with is in brackets, as observed in the page tables after the run: "
           "`/proc/self/smaps` (`AnonHugePages`, `ShmemPmdMapped`, `FilePmdMapped`) for memfd and "
           "anonymous memory; for vdmux, whose `VM_PFNMAP` mappings every procfs page walker "
           "skips, an `mprotect` of the second page of each 2 MiB block, which zaps a PMD entry "
           "there and leaves 4 KiB entries mapped, then a load of the block's first page, which "
           "faults (in `ru_minflt`) only where the entry was a PMD. *Faults* is what "
           "`ru_minflt` counted during the last 64 MiB run (16384 is one page per fault).", "",
           "Stores (one byte written per page):", ""]
    rows = [[n] + [cell(R.find("first_touch", n, s), 0) for s in sizes] +
            [num(R.value("first_touch", n, sizes[-1], "faults"), 0)] for n in names]
    md.append(table(rows, ["contender"] + [human(s) for s in sizes] +
                    [f"faults, {human(sizes[-1])}"]))
    loads = R.contenders("first_touch_load")
    if loads:
        md += ["", "Loads (one byte read per page), 64 MiB: shmem maps read faults with its "
               "fault-around (16 pages), write faults one page at a time. So loads compare "
               "like with like (16 pages a fault on both sides, or one PMD entry against a "
               "2 MiB shmem page) and carry no target; the first-touch targets are for stores.",
               ""]
        md.append(table([[n, cell(R.find("first_touch_load", n), 0)] for n in loads],
                        ["contender", "MiB/s"]))
    md += ["", "- `vdmux-4k-fa1`: `fault_around_pages=1`, one 4 KiB page per fault; "
           "`vdmux-4k`: the default fault-around (16 pages); both under `PR_SET_THP_DISABLE`.",
           "- `vdmux-pmd`: 2 MiB blocks mapped with one PMD entry each (below 2 MiB there is "
           "no whole block, and 4 KiB pages with fault-around are used).",
           "- `*-populate`: vdmux with `VDMUX_IOC_POPULATE` on the vdev right after `mmap`; "
           "the memfd with `MAP_POPULATE`.",
           "- vdmux's device memory is made resident the same way: written whole after each "
           "resize, before the round's runs at that size (a shrink frees the chunks past the "
           "new size, and the first contender would otherwise time their allocation).",
           "- `memfd-resident`: one memfd written once, then mapped afresh for every run, so "
           "that its faults find the pages in the page cache; `memfd-resident-thp` the same "
           "with 2 MiB shmem pages (`shmem_enabled=advise` and `MADV_HUGEPAGE` while filling), "
           "`memfd-resident-thp-populate` that with `MAP_POPULATE`.",
           "- `memfd-fresh`: a new memfd per run, whose faults allocate and zero pages inside "
           "the timing (not like for like: no target uses it); `anon`: private anonymous memory "
           "(THP allowed)."]
    md += ratios_table(R.group("first_touch"))
    return md


def bandwidth(R):
    md = []
    if not R.contenders("memset"):
        return md
    md += ["", "## Steady-state bandwidth of a faulted 64 MiB mapping (MiB/s)", ""]
    rows = []
    for op in ("memset", "memcpy"):
        for pg in ("4k", "2m"):
            a, v = R.find(op, f"anon-{pg}"), R.find(op, f"vdmux-mmap-{pg}")
            if a is None or v is None:
                continue
            ratio = (f"{v['value'] / a['value']:.2f}x"
                     if a.get("value") and v.get("value") is not None else "n/a")
            rows.append([op, cell(a), cell(v), ratio])
    md.append(table(rows, ["operation", "anonymous memory", "vdmux mapping", "vdmux / anon"]))
    md += ratios_table(R.group("bandwidth"))
    return md


def copy(R):
    md = []
    if not R.contenders("pread"):
        return md
    md += ["", "## Copy path: pread/pwrite over 64 MiB (MiB/s)", "",
           "vdmux's `read()`/`write()` copy straight between the store and the user's buffer; "
           "the baseline is a resident memfd. The page size in brackets is the user buffer's "
           "(resident, observed in smaps; the memfd's page cache too, after a slash, when it "
           "differs). The contenders are timed in turns.", ""]
    rows = []
    for size in R.sizes("pread"):
        for op in ("pread", "pwrite"):
            v, m = R.find(op, "vdmux", size), R.find(op, "memfd-resident", size)
            ratio = (f"{v['value'] / m['value']:.2f}x"
                     if v and m and v.get("value") and m.get("value") else "n/a")
            rows.append([human(size), op, cell(v), cell(m), ratio])
    md.append(table(rows, ["request", "op", "vdmux", "resident memfd", "vdmux / memfd"]))
    md += ratios_table(R.group("copy"))
    return md


def scaling(R):
    md = []
    names = R.contenders("scaling")
    if not names:
        return md
    md += ["", "## Fault scaling: 64 MiB of 4 KiB faults, one page per fault (stores)", "",
           "`vdmux-1-vdev`: two threads fault the two halves of one vdev's mapping; "
           "`vdmux-2-vdevs`: each thread faults 32 MiB of a vdev of its own (vdevs 0 and 1); "
           "`memfd-resident`: two threads fault the halves of a resident memfd mapping. "
           "One thread does the same work alone. Every side is resident before the timing. "
           "*Faults* is what `ru_minflt` counted in the last run with 1 and with 2 threads "
           "(16384: one page per fault).", ""]
    rows = []
    for n in names:
        one, two = R.find("scaling", n), R.find("scaling", n, metric="2-threads")
        f1, f2 = R.value("scaling", n, metric="faults"), R.value("scaling", n,
                                                                  metric="faults-2-threads")
        rows.append([n, one.get("page", "-"), num(one["value"]), num(two["value"]),
                     f"{one['value'] / two['value']:.2f}x",
                     f"{num(f1, 0)} / {num(f2, 0)}"])
    md.append(table(rows, ["contender", "page", "1 thread ms", "2 threads ms", "speed-up",
                           "faults"]))
    md += ratios_table(R.group("scaling"))
    return md


def switch(R):
    md = []
    names = R.contenders("switch")
    if not names:
        return md
    md += ["", "## SWITCH (ms, ioctl round trip)", "",
           "The floor is two kernel copies of the size, as a SWITCH makes (save the "
           "foreground, load the new one): two `pread`s of that size from a resident memfd "
           "into a resident buffer, timed in turns with the SWITCH. Mappers are processes "
           "mapping vdevs 0 and 1 whole that fault them all in again before every switch, so "
           "each switch has every page of both to unmap; their page size is in the second "
           "column. The 0-mapper run is made first in the boot and again right after the "
           "copy-path and scaling runs. *Slowest* is the slowest of the runs. *Its CPU "
           "time* is the switching thread's CPU time in the ioctl (median): a SWITCH much "
           "slower than its CPU time waited in the guest, for the CPU or a lock. Under TCG "
           "a vCPU that the host does not run keeps its clock and gets no tick: *no tick* "
           "is the share of the switches' CPU time that the ticks of their CPU did not see "
           "(`/proc/stat`): TCG loses some ticks anyway, so compare rows, a slow row whose "
           "share is well above a fast row's was held back by the host. *Other CPUs* is how "
           "busy the other vCPU was meanwhile. Both need 0.2 s of switches to mean anything. "
           "*Re-touch* is one mapper's time to fault both mappings in again after a "
           "switch. The mappers' page size is observed in their page tables after the last "
           "switch (see first touch), the floor's is the memfd's page cache's. *memcpy of 2x "
           "size* is a user `memcpy` of the bytes a SWITCH copies, between resident buffers.",
           ""]
    rows = []
    for r in R.res:
        if r["bench"] != "switch":
            continue
        n, size = r["contender"], r["size"]
        fl, mc, rt, cpu, hi, lost, other = (R.find(b, n, size) for b in (
            "switch_floor", "switch_memcpy", "switch_retouch", "switch_cpu", "switch_max",
            "switch_no_tick", "switch_other_cpus"))
        rows.append([n, r.get("page", "-"), human(size), num(r["value"], 3),
                     num(hi["value"], 3) if hi else "-",
                     num(cpu["value"], 3) if cpu else "-", pct(lost), pct(other),
                     num(fl["value"], 3) if fl else "-",
                     f"{r['value'] / fl['value']:.2f}x" if fl and fl.get("value") else "-",
                     num(mc["value"], 3) if mc else "-",
                     f"{r['value'] / mc['value']:.2f}x" if mc and mc.get("value") else "-",
                     num(rt["value"], 3) if rt else "-"])
    md.append(table(rows, ["mappers", "page", "size", "SWITCH", "slowest", "its CPU time",
                           "no tick", "other CPUs", "2 x pread (floor)",
                           "SWITCH / floor", "memcpy of 2x size", "SWITCH / memcpy",
                           "re-touch"]))
    md += ratios_table(R.group("switch"))
    return md


def latency(R):
    md = []
    names = R.contenders("fault_latency", "p50")
    if not names:
        return md
    md += ["", "## Fault latency under SWITCH (1 MiB buffer, µs)", "",
           "A reader maps a vdev afresh and loads one byte of every page, timing each load: "
           "with `fault_around_pages=1` and 4 KiB pages every load is one fault (the *faults* "
           "column counts them in fdinfo). Each load follows a random pause of up to 1 ms, so "
           "that the faults fall at random points of the switching loop. Meanwhile "
           "another process switches vdevs 0 and 1 back to back (or nothing happens: idle). "
           "vdev 2 is not involved in the switches; vdev 0 is, and its mapping is zapped by "
           "each. Idle windows and switching windows alternate, as many of each as there are "
           "runs per figure, and the percentiles are over all samples of each condition. "
           "*Median SWITCH* is the switching process's, in µs.", ""]
    rows = []
    for n in names:
        sw = R.find("fault_latency", n, metric="switch")
        nsw = R.find("fault_latency", n, metric="switches")
        rows.append([n, R.find("fault_latency", n, metric="p50").get("page", "-"),
                     num(R.value("fault_latency", n, metric="samples"), 0),
                     num(R.value("fault_latency", n, metric="faults"), 0),
                     num(R.value("fault_latency", n, metric="p50")),
                     num(R.value("fault_latency", n, metric="p99")),
                     num(R.value("fault_latency", n, metric="max")),
                     num(sw["value"] * 1e3) if sw else "-",
                     num(nsw["value"], 0) if nsw else "-"])
    md.append(table(rows, ["reader", "page", "samples", "faults", "p50", "p99", "max",
                           "median SWITCH", "switches meanwhile"]))
    bound = R.value("fault_latency_bound")
    if bound is not None:
        md += ["", f"One SWITCH + one fault (the median SWITCH during the involved run plus "
               f"the idle reader's p50): {bound:.1f} µs."]
    md += ratios_table(R.group("latency"))
    return md


def fill_table(R, names, autogrow, bulk, unit="ms"):
    """The autogrow fill against the bulk one, a row per vdev count."""
    rows = []
    for n in names:
        a, b = R.find(autogrow, n), R.find(bulk, n)
        ratio = (f"{a['value'] / b['value']:.2f}x"
                 if a and b and a.get("value") is not None and b.get("value") else "n/a")
        rows.append([n, cell(a, 1), cell(b, 1), ratio])
    return table(rows, ["vdevs", f"autogrow {unit}", f"bulk {unit}", "autogrow / bulk"])


def growth(R):
    md = []
    if not any(R.contenders(b) for b in ("autogrow_bulk", "autogrow_bulk_instr",
                                         "grow_one_page")):
        return md
    md += ["", "## Growth", ""]
    names = R.contenders("autogrow_bulk")
    if names:
        md += ["Filling 64 MiB from a 32 KiB buffer: an autogrow mapping "
               "(`VDMUX_IOC_SET_AUTOGROW`, then `mmap` of 64 MiB and one store per page, each "
               "store past the reserved size growing it) against the same end state in bulk "
               "(`SET_RESERVED_SIZE` 64 MiB, then `mmap` and one store per page). 4 KiB pages, "
               "default fault-around; `max_reserved_size` 128 MiB. With 4 vdevs, vdevs 1 to 3 "
               "have backing stores, which every growth grows too. Wall time. The autogrow "
               "fill takes one fault per page (a growth maps no page ahead of the end), the "
               "bulk one a fault per 16 pages (`ru_minflt`, last run: "
               + ", ".join(f"{n}: {num(R.value('autogrow', n, metric='faults'), 0)} against "
                           f"{num(R.value('autogrow_bulk', n, metric='faults'), 0)}"
                           for n in names) + ").", "",
               "Both sides allocate and zero the same 32 chunks inside their timing, a term "
               "that pulls the ratio toward 1. The second table takes it out: the bulk fill "
               "timed again on chunks allocated beforehand (mmap and stores only), and the "
               "difference (the allocation both pay) subtracted from the autogrow fill too.", ""]
        md.append(fill_table(R, names, "autogrow", "autogrow_bulk"))
        if R.contenders("autogrow_bulk_no_alloc"):
            md += [""]
            md.append(fill_table(R, R.contenders("autogrow_bulk_no_alloc"), "autogrow_no_alloc",
                                 "autogrow_bulk_no_alloc", "ms, without the allocation"))
    names = R.contenders("autogrow_whole_bulk")
    if names:
        md += ["", "The same, for a writer that fills every byte: each page written whole "
               "(`memset`), in order, on both sides. The faults and growths are the same; "
               "the writes are what a program filling the mapping pays anyway.", ""]
        md.append(fill_table(R, names, "autogrow_whole", "autogrow_whole_bulk"))
    names = R.contenders("autogrow_bulk_instr")
    if names:
        md += ["", "The same fills counted in instructions, in a guest whose clock counts "
               "them (`ICOUNT=1`: QEMU's `-icount shift=0`, 1 ns each).", ""]
        md.append(fill_table(R, names, "autogrow_instr", "autogrow_bulk_instr",
                             "M instructions"))
        names = R.contenders("autogrow_whole_bulk_instr")
        if names:
            md += [""]
            md.append(fill_table(R, names, "autogrow_whole_instr", "autogrow_whole_bulk_instr",
                                 "M instructions"))
    sizes = R.sizes("grow_one_page")
    if sizes:
        md += ["", "`SET_RESERVED_SIZE` growing the buffer by one page (µs per growth) at each "
               "size, with nothing mapped and while 4 processes map vdev 0 whole (4 vdevs, "
               "vdevs 1 to 3 with backing stores). A flat row is O(1 page), a rising one "
               "O(size).", ""]
        names = R.contenders("grow_one_page")
        rows = [[n] + [cell(R.find("grow_one_page", n, s), 1, page=False) for s in sizes]
                for n in names]
        md.append(table(rows, ["mapping processes"] + [human(s) for s in sizes]))
    md += ratios_table(R.group("growth"))
    return md


def bar_ratio(b, r):
    """BAR / RAM of two figures, as table text."""
    if b is None or r is None or b.get("value") is None or not r.get("value"):
        return "n/a"
    return f"{b['value'] / r['value']:.2f}x"


def pci_bar(R):
    md = []
    dev = R.find("bar_device")
    if dev is None:
        return md
    md += ["", "## PCI BAR device memory", ""]
    if dev.get("value") is None:
        md.append(f"n/a ({dev.get('error', '?')}).")
        return md
    bar_len = human(round(dev["value"] * (1 << 20)))
    md += [f"vdmux loaded with `device_memory=pci`, its device memory BAR 2 of the guest's "
           f"ivshmem-plain device ({dev['contender']}, {bar_len}), against "
           f"RAM device memory (`device_memory=ram`), both with a reserved size of "
           f"{human(dev['size'])} and the default fault-around. The modes take turns: each "
           "round loads the module in RAM mode, then in PCI mode (a bind, which zeroes the "
           "BAR), fills vdevs 0 and 1 (every store allocated) and measures every figure once. "
           "The page size each mapping got is in brackets, as observed from vdmux's fault "
           "counts in fdinfo.", "",
           "What this measures under TCG: the BAR is host RAM (the shared file behind "
           "ivshmem) and TCG ignores the guest's memory types, so write-combining costs "
           "nothing here, and the differences are those of the driver's paths. Faults insert "
           "the BAR's frames into a `VM_IO` mapping one `vmf_insert_pfn` at a time, so that "
           "PAT gives each the memory type reserved for it (write-combining), where RAM mode "
           "maps runs of up to 32 of its write-back pages under one page-table lock: hence "
           "the slower 4 KiB first touch. A SWITCH copies with "
           "`memcpy_fromio`/`memcpy_toio` (`rep movsl`) where RAM mode uses `memcpy` (one "
           "`rep movsb`: the guest CPU has FSRM), and TCG runs a string instruction element "
           "by element: four bytes a step for the BAR's copies, one for RAM's. On "
           "hardware, loads from a write-combining BAR bypass the caches: `memcpy-out`, and "
           "a SWITCH (which reads the BAR to save the foreground), would be far slower than "
           "from RAM.", ""]
    sizes = R.sizes("bar_first_touch")
    if sizes:
        md += ["First touch of vdev 0 (the foreground): `mmap` + one store per page (MiB/s). "
               "The RAM device memory was allocated by the fill, as the BAR always is: unlike "
               "the first-touch section's, these runs time no allocation.", ""]
        rows = []
        for pg, text in (("4k", "4 KiB pages"), ("pmd", "PMD where allowed")):
            for size in sizes:
                r, b = R.find("bar_first_touch", f"ram-{pg}", size), R.find(
                    "bar_first_touch", f"bar-{pg}", size)
                rows.append([text, human(size), cell(r, 0), cell(b, 0), bar_ratio(b, r)])
        md.append(table(rows, ["pages", "size", "RAM", "BAR", "BAR / RAM"]))
    ops = [o for o in ("memset", "memcpy", "memcpy-out")
           if R.find("bar_bandwidth", metric=o) is not None]
    if ops:
        size = R.find("bar_bandwidth", metric=ops[0])["size"]
        md += ["", f"Steady-state bandwidth of a faulted {human(size)} mapping of vdev 0 "
               "(MiB/s): `memset`, `memcpy` into it from resident anonymous memory, and "
               "`memcpy-out` from it into resident anonymous memory.", ""]
        rows = []
        for pg, text in (("4k", "4 KiB pages"), ("pmd", "PMD where allowed")):
            for op in ops:
                r = R.find("bar_bandwidth", f"ram-{pg}", metric=op)
                b = R.find("bar_bandwidth", f"bar-{pg}", metric=op)
                rows.append([op, text, cell(r), cell(b), bar_ratio(b, r)])
        md.append(table(rows, ["operation", "pages", "RAM", "BAR", "BAR / RAM"]))
    sizes = R.sizes("bar_switch")
    if sizes:
        md += ["", "SWITCH between vdevs 0 and 1, nothing mapped (ms, the mean of one switch "
               "each way; both vdevs hold all their bytes). In PCI mode a SWITCH saves the "
               "old foreground from the BAR and loads the new one into it.", ""]
        rows = []
        for size in sizes:
            r, b = R.find("bar_switch", "ram", size), R.find("bar_switch", "bar", size)
            rows.append([human(size), cell(r, 3, page=False), cell(b, 3, page=False),
                         bar_ratio(b, r)])
        md.append(table(rows, ["size", "RAM", "BAR", "BAR / RAM"]))
    md += ratios_table(R.group("bar"))
    return md


REF = re.compile(r'(\w+) "([^"]*)" (\d+)([KM])(?: (\S+))? \((\S+)\)')
WANTED = re.compile(r'(>=|<=) ([0-9.]+)(?: over (\d+) boots)?')


class Target:
    """One line of bench/targets."""

    def __init__(self, line, lineno):
        fields = [f.strip() for f in line.split(" | ")]
        if len(fields) != 6:
            raise ValueError(f"line {lineno}: {len(fields)} fields, not 6")
        self.name, self.kind, num_ref, den_ref, wanted, self.why = fields
        if self.kind not in ("target", "shown"):
            raise ValueError(f"line {lineno}: kind {self.kind!r}, not target or shown")
        self.refs = []
        for ref in (num_ref, den_ref):
            m = REF.fullmatch(ref)
            if not m:
                raise ValueError(f"line {lineno}: figure {ref!r} is not "
                                 f'bench "contender" size [metric] (page)')
            bench, contender, n, unit, metric, page = m.groups()
            size = int(n) << (10 if unit == "K" else 20)
            self.refs.append((bench, contender, size, metric or "", page, ref))
        self.op = self.want = None
        self.min_boots = 1
        if wanted != "-":
            m = WANTED.fullmatch(wanted)
            if not m:
                raise ValueError(f"line {lineno}: wanted {wanted!r} is not >= R, <= R or -")
            self.op, self.want = m.group(1), float(m.group(2))
            self.min_boots = int(m.group(3) or 1)
        elif self.kind == "target":
            raise ValueError(f"line {lineno}: a target needs a wanted ratio")
        self.wanted = wanted

    def pair(self):
        return " / ".join(r[5] for r in self.refs)

    def in_boot(self, R):
        """This boot's ratio, or (None, why)."""
        if R is None:
            return None, "no results from this boot"
        vals = []
        for bench, contender, size, metric, page, ref in self.refs:
            r = R.find(bench, contender, size, metric)
            if r is None:
                return None, f"no figure {ref}"
            if r.get("value") is None:
                return None, f"{contender}: n/a ({r.get('error', '?')})"
            if r.get("page", "-") != page:
                return None, f"{contender} observed {r.get('page')}, not {page}"
            vals.append(r["value"])
        if not vals[1]:
            return None, "zero denominator"
        return vals[0] / vals[1], None

    def judge(self, boots):
        """(per-boot texts, median or None, status text, met)"""
        per, vals, why = [], [], None
        for R in boots:
            v, err = self.in_boot(R)
            per.append(f"{v:.2f}x" if v is not None else f"n/a ({err})")
            if v is None:
                why = why or err
            else:
                vals.append(v)
        med = statistics.median(vals) if vals else None
        if self.kind == "shown":
            return per, med, "shown, not counted", None
        if why:
            return per, med, f"**NOT met**: {why}", False
        if len(boots) < self.min_boots:
            return per, med, f"**NOT met**: {len(boots)} boots, {self.min_boots} wanted", False
        ok = med >= self.want if self.op == ">=" else med <= self.want
        return per, med, "met" if ok else "**NOT met**", ok


def read_targets(path):
    targets = []
    with open(path) as f:
        for i, line in enumerate(f, 1):
            line = line.strip()
            if line and not line.startswith("#"):
                targets.append(Target(line, i))
    names = [t.name for t in targets]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ValueError("targets named twice: " + ", ".join(sorted(dup)))
    return targets


def commit(top):
    """The commit of the tree, flagged when its sources differ from it."""
    def git(*args):
        return subprocess.run(["git", "-C", top, *args], capture_output=True,
                              text=True).stdout.strip()
    head = git("rev-parse", "--short=12", "HEAD") or "unknown"
    outputs = [":!bench/RESULTS.md", ":!bench/results.json", ":!bench/first-touch.svg",
               ":!bench/runs.log"]
    if git("status", "--porcelain", "--untracked-files=no", "--", ".", *outputs):
        head += " + uncommitted changes"
    return head


def ctxmgt(R):
    sizes = R.sizes("ctx_switch")
    if not sizes:
        return []
    md = ["", "## Context management (ms)", "",
          "Two processes each store into a one-page mapping of its own vdev (0 and 1), both "
          "vdevs holding all their bytes; with `VDMUX_IOC_SET_CTXMGT` on, a store of the one "
          "whose vdev is in the background makes it the foreground. *SWITCH*: one ioctl "
          "SWITCH between the two vdevs while both map them. *Hand-over*: timeout 0, both "
          "storing in a loop, the wall time per hand-over (hand-overs counted by `getrusage`, "
          "minor and major faults: one completed fault of the new holder's page each; the "
          "driver's own count beside it). *Share*: with a 10 ms hold, both storing for 1 s, "
          "the time the less served one was on the device (1 s less its stores that waited "
          "over 0.5 ms). *Wait*: with a 10 ms hold, one process storing into its pages of "
          "vdevs 0 and 1 in turn, each store at a random time in the first 8 ms of the hold "
          "the store before started; how long after that hold's end (the store before done "
          "+ 10 ms) it completed.", ""]
    rows = []
    for size in sizes:
        def v(bench, contender, metric=""):
            return R.value(bench, contender, size, metric=metric)
        sw, ho = v("ctx_switch", "ioctl"), v("ctx_handover", "timeout 0")
        share = v("ctx_timeshare", "on device, the lesser of two")
        wall = v("ctx_timeshare", "wall")
        rows.append([human(size), num(sw, 3), num(ho, 3),
                     f"{ho / sw:.2f}x" if sw and ho is not None else "n/a",
                     num(v("ctx_handover", "timeout 0", "hand-overs"), 0),
                     num(v("ctx_handover", "timeout 0", "driver-switches"), 0),
                     f"{100 * share / wall:.0f}%" if share is not None and wall else "n/a",
                     num(v("ctx_wait", "past the hold's end", "p50"), 3),
                     num(v("ctx_wait", "past the hold's end", "p99"), 3),
                     num(v("ctx_wait", "past the hold's end", "samples"), 0)])
    md.append(table(rows, ["size", "SWITCH", "hand-over", "hand-over / SWITCH", "hand-overs",
                           "(driver)", "share", "wait p50", "wait p99", "samples"]))
    return md


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--targets", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--accel", required=True)
    ap.add_argument("--commit", help="the commit the boots ran (default: the tree's now)")
    ap.add_argument("logs", nargs="+")
    args = ap.parse_args()
    targets = read_targets(args.targets)
    datas = [load(p) for p in args.logs]
    datas = [d if d and d.get("results") else None for d in datas]
    boots = [Results(d) if d else None for d in datas]
    n = len(boots)
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    rev = args.commit or commit(top)
    env = os.environ.get("GUEST_ENV", "")

    judged = [(t, *t.judge(boots)) for t in targets]
    counted = [j for j in judged if j[0].kind == "target"]
    met = sum(1 for j in counted if j[4])
    summary = f"{met} of {len(counted)} targets met, {len(counted) - met} not met"

    first = next((d for d in datas if d), None)
    R = Results(first) if first else None
    reps = first.get("reps", "?") if first else "?"
    md = ["# vdmux benchmarks", "",
          f"{when}, commit {rev}. Release kernel {first.get('kernel', '') if first else '?'}, "
          f"QEMU {args.accel.upper()}, 2 vCPUs, clocksource "
          f"`{first.get('clocksource', '?') if first else '?'}`; {n} boots"
          + (f", `GUEST_ENV={env}`" if env else "") + ". In each boot every figure is the "
          f"median of {reps} runs and every ratio divides two figures of that boot; under TCG "
          "absolute times mean little. Reproduce with `make bench`; every run, met or not, is "
          "in [runs.log](runs.log).", "",
          "## Targets", "",
          "Fixed in [targets](targets) before the runs. Each is the ratio of two figures, each "
          "observed with the page size given (in brackets); the median across the boots "
          "carries it, every boot's figure beside it. A figure missing in any boot, or "
          "observed with another page size, is not met. *Shown* lines are not like for like "
          "(a design advantage, or a term taken out): printed, never counted.", ""]
    rows = []
    for t, per, med, text, _ in judged:
        rows.append([t.name, t.pair(), t.wanted] + per +
                    [f"{med:.2f}x" if med is not None else "n/a", text])
    md.append(table(rows, ["target", "numerator / denominator", "wanted"] +
                    [f"boot {i + 1}" for i in range(n)] + ["median", ""]))
    md += ["", summary + ".", "", "Why each pair is fair:", ""]
    md += [f"- `{t.name}`: {t.why}." for t in targets]
    md += ["", f"The tables below are boot 1's"
           + (" (boot 1 gave no results: the first boot that did)" if not datas[0] else "")
           + "; `results.json` has every boot's figures.", ""]

    if R:
        for part in (first_touch, bandwidth, copy, scaling, switch, latency, growth, ctxmgt,
                     pci_bar):
            md += part(R)
        total = R.value("time", "total")
        times = [(s, R.value("time", s)) for s in SECTIONS if R.value("time", s) is not None]
        if times:
            md += ["", "## Run time (s, in the guest, boot 1)", "",
                   table([[s, f"{t:.1f}"] for s, t in times] +
                         ([["total", f"{total:.1f}"]] if total else []), ["section", "s"])]

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"date": when, "commit": rev, "accel": args.accel, "guest_env": env,
                   "boots": datas}, f, indent=1)
    if R and R.sizes("first_touch"):
        sizes = R.sizes("first_touch")
        series = {c: {s: R.value("first_touch", c, s) for s in sizes}
                  for c in R.contenders("first_touch")}
        with open(os.path.join(args.out, "first-touch.svg"), "w") as f:
            f.write(svg_plot(series, sizes, "First touch (mmap + one store per page), boot 1",
                             "MiB/s"))
    text = "\n".join(md) + "\n"
    with open(os.path.join(args.out, "RESULTS.md"), "w") as f:
        f.write(text)

    log = [f"== {when}  commit {rev}  {args.accel}  {n} boots"
           + (f"  GUEST_ENV={env}" if env else "")]
    if not any(datas):
        log.append("no boot gave results")
    for t, per, med, status_text, _ in judged:
        log.append(f"{t.name:<26} {t.wanted:<20} " + " ".join(f"{p.split(' ')[0]:>6}" for p in per)
                   + f"  median {f'{med:.2f}x' if med is not None else 'n/a':>6}  "
                   + status_text.replace("**", ""))
    log.append(summary)
    with open(os.path.join(args.out, "runs.log"), "a") as f:
        f.write("\n".join(log) + "\n\n")
    print(text)
    print(summary, file=sys.stderr)
    if not any(datas):
        print("render-bench: no boot gave results", file=sys.stderr)
        return 2
    return 0 if met == len(counted) else 1


if __name__ == "__main__":
    sys.exit(main())
