#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Judge one run of the vdmux test guest.

Reads the test output (ttyS1: one framed TAP section per program) and the
kernel log (ttyS0: splats and the KTAP of vdmux's KUnit suites), prints every
failure with its reason, and ends with exactly one line "N passed, N failed".
The exit status is 0 only when nothing failed and the kernel log is clean.

    results.py --console console.log --tap tap.log [--qemu-status RC]
               [--ivshmem FILE] NAME...

NAME... are the sections that must be present, in any order. Outside the
sections the test output may have only qemu/init's own lines (see DONE).

--ivshmem FILE is the backing file of the guest's ivshmem BAR (run.sh
--ivshmem): the judge checks it against what pci_test reported it left
there (see check_ivshmem). A second --ivshmem FILE is the second device's
(run.sh --ivshmem2), which multi_test reports on.
"""

import argparse
import os
import re
import struct
import sys

# A line of the kernel log that matches one of these fails the run. The boot
# banners of the debugging options use other spellings ("kasan:", "kfence:",
# "MAX_LOCKDEP_SUBCLASSES"), which these do not match.
SPLATS = [
    r"BUG:",
    r"WARNING:",
    r"KASAN",
    r"possible circular locking",
    r"possible recursive locking",
    r"\blockdep\b",
    r"KFENCE",
    r"Oops",
    r"Kernel panic",
    r"Call Trace",
    r"UBSAN",
    r"rust_panic",
    r"general protection fault",
    # arm64's spellings (its die() says "Internal error: Oops..."): a
    # kernel fault, an SError, and the backtrace.
    r"Unable to handle kernel",
    r"SError Interrupt",
    r"Call trace:",
    r"unreferenced object",
    # A log that lost lines may have lost a splat.
    r"printk messages dropped",
    # kmemleak that stopped (its pool ran out, e.g. under fault injection)
    # reports no leak: that must not read as "no leak".
    r"kmemleak: .*(disabled|Memory pool empty|Cannot allocate a kmemleak_object)",
    # Work that hogs a CPU or a lock: a soft lockup says "BUG:" already.
    r"rcu: INFO: .*detected stall",
    r"rcu: .*self-detected stall",
    r"INFO: task .* blocked for more than",
    r"hard LOCKUP",
    # A fault that returned VM_FAULT_OOM with no OOM killer behind it: the
    # fault is retried, maybe without end.
    r"VM_FAULT_OOM leaked out to the #PF handler",
]
SPLAT_RE = re.compile("|".join(SPLATS))
# Splat lines that start no report. Each of the others names one, and the
# failure lists them all, so that a report printed amid another is not lost.
CONTINUATION_RE = re.compile(r"Call [Tt]race")
# Boot banners of the debug kernel that match a pattern above.
BENIGN_RE = re.compile(r"RCU lockdep checking is enabled")
# --stock-kernel: a distribution kernel taints itself when it loads vdmux,
# an out-of-tree module without a signature it trusts. Those two lines are
# expected; any other taint fails the run.
TAINT_RE = re.compile(r"taints kernel|Tainted: |module verification failed")
EXPECTED_TAINT_RE = re.compile(
    r"^vdmux: (loading out-of-tree module taints kernel\.|"
    r"module verification failed: signature and/or required key missing - tainting kernel)$")
# /proc/sys/kernel/tainted, as qemu/init prints it before the first test
# and after the last. Loading vdmux (out of tree) sets O, and its KUnit
# suites N; a distribution kernel adds E (an unsigned module). Any other
# flag the run added fails it.
TAINT_FLAGS = "PFSRMBUDAWCIOELKXTNJ"
TAINT_EXPECTED = (1 << 12) | (1 << 18)
TAINT_EXPECTED_STOCK = TAINT_EXPECTED | (1 << 13)
RELEASE_RE = re.compile(r"^Linux version (\S+)")
TIMESTAMP_RE = re.compile(r"^\[\s*\d+\.\d+\]\s?")
RESULT_RE = re.compile(r"^(not ok|ok)\s+(\d+)\s*(?:-\s*)?([^#]*?)\s*(?:#\s*(\S+)(.*))?$")
PLAN_RE = re.compile(r"^1\.\.(\d+)")
# The guest writes this to /dev/kmsg after the last test: a console log
# without it was cut short, and what it lost may have been a splat.
CONSOLE_END = "vdmux-check: end of run"
# The console must print every level: a GUEST_ENV word (loglevel=, quiet)
# must not hide WARN or lockdep output.
CMDLINE_RE = re.compile(r"Kernel command line: (.*)")
BEGIN_RE = re.compile(r"^# vdmux-begin: (\S+)")
END_RE = re.compile(r"^# vdmux-end: (\S+) rc=(\d+)")
# The lines of qemu/init outside the sections: anything else there is output
# that no section judged (a program's child that outlived it, an insmod
# between the sections that failed).
DONE = "# vdmux-done"
TAINT_LINE_RE = re.compile(r"^# vdmux-taint: (before|after) (\d+)$")
NO_SUCH_TEST_RE = re.compile(r"^# vdmux-no-such-test: (\S+)$")


class Tally:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.failures = []

    def result(self, ok, directive, what):
        if ok and directive and directive.upper() == "SKIP":
            self.skipped += 1
        elif ok:
            self.passed += 1
        else:
            self.failed += 1
            self.failures.append(what)

    def fail(self, what):
        self.failed += 1
        self.failures.append(what)


def load_skips(path):
    """The allow-list of SKIPs: "program: test name" lines, # comments."""
    allowed = set()
    try:
        with open(path) as f:
            for line in f:
                line = line.split("#", 1)[0].strip()
                if line:
                    prog, _, test = line.partition(":")
                    allowed.add((prog.strip(), test.strip()))
    except OSError:
        pass
    return allowed


def judge_section(name, lines, rc, tally, skips=frozenset()):
    """Count one program's TAP (top level only) and check it is complete:
    a plan 1..N with N > 0, each number 1..N exactly once, no SKIP that the
    allow-list does not name."""
    plan = None
    numbers = {}
    bail = False
    for line in lines:
        if line.startswith("Bail out!"):
            bail = True
        m = PLAN_RE.match(line)
        if m:
            if plan is not None:
                tally.fail(f"{name}: a second plan 1..{m.group(1)}")
            else:
                plan = int(m.group(1))
            continue
        m = RESULT_RE.match(line)
        if m:
            ok = m.group(1) == "ok"
            num = int(m.group(2))
            what = m.group(3) or m.group(2)
            numbers[num] = numbers.get(num, 0) + 1
            directive = m.group(4)
            # kselftest's "ok N # XFAIL": a failure it expected is no pass.
            if directive and directive.upper() == "XFAIL":
                tally.fail(f"{name}: {what}: XFAIL: an expected failure does not "
                           f"pass: {m.group(5).strip()}")
                continue
            if ok and directive and directive.upper() == "SKIP" \
                    and (name, what) not in skips:
                tally.fail(f"{name}: {what}: skipped, and not on the allow-list "
                           f"(qemu/skips): {m.group(5).strip()}")
                continue
            tally.result(ok, directive, f"{name}: {what}")
    if plan is None:
        tally.fail(f"{name}: no TAP plan (the program did not run or crashed)")
    elif plan == 0:
        tally.fail(f"{name}: plan 1..0: no test ran")
    else:
        missing = [n for n in range(1, plan + 1) if n not in numbers]
        twice = sorted(n for n, c in numbers.items() if c > 1)
        outside = sorted(n for n in numbers if not 1 <= n <= plan)
        if missing:
            tally.fail(f"{name}: planned {plan} tests, no result for "
                       f"{', '.join(map(str, missing[:10]))}")
        if twice:
            tally.fail(f"{name}: results numbered {', '.join(map(str, twice[:10]))} "
                       f"more than once")
        if outside:
            tally.fail(f"{name}: results numbered {', '.join(map(str, outside[:10]))} "
                       f"outside the plan 1..{plan}")
    if bail:
        tally.fail(f"{name}: bailed out")
    # kselftest exits 4 when everything was skipped: a failure now too.
    if rc is None:
        tally.fail(f"{name}: never finished (guest died or timed out)")
    elif rc != 0 and tally.failed == 0:
        tally.fail(f"{name}: exit status {rc} with no failing test")


def taint_flags(mask):
    return " ".join(f"{TAINT_FLAGS[b] if b < len(TAINT_FLAGS) else '?'} (bit {b})"
                    for b in range(mask.bit_length()) if mask >> b & 1)


def parse_tap(path, expected, tally, skips=frozenset(), stock_kernel=False):
    sections = {}
    current = None
    done = False
    outside = []
    taint = {}
    try:
        with open(path, errors="replace") as f:
            text = f.read().replace("\r", "")
    except OSError:
        text = ""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    for line in lines:
        m = BEGIN_RE.match(line)
        if m:
            current = {"lines": [], "rc": None}
            sections.setdefault(m.group(1), []).append(current)
            name = m.group(1)
            continue
        m = END_RE.match(line)
        if m and current is not None and name == m.group(1):
            current["rc"] = int(m.group(2))
            current = None
            continue
        if current is not None:
            current["lines"].append(line)
            continue
        # A test program can print these too: only qemu/init's count.
        m = TAINT_LINE_RE.match(line)
        if m:
            if m.group(1) in taint:
                tally.fail(f"guest: two lines of the taint {m.group(1)} the tests")
            taint[m.group(1)] = int(m.group(2))
            continue
        m = NO_SUCH_TEST_RE.match(line)
        if m:
            tally.fail(f"{m.group(1)}: requested (TESTS=), but the guest has no such "
                       f"test program")
        elif line == DONE:
            done = True
        else:
            outside.append(line)
    for line in outside[:10]:
        print(f"outside the sections: {line}")
    if outside:
        tally.fail(f"guest: {len(outside)} lines of test output outside the sections, "
                   f"the first: {outside[0]!r}")
    for name, runs in sections.items():
        if len(runs) > 1:
            tally.fail(f"{name}: {len(runs)} sections of that name")
    for name in expected:
        if name not in sections:
            tally.fail(f"{name}: did not run")
            continue
        for section in sections[name]:
            sub = Tally()
            judge_section(name, section["lines"], section["rc"], sub, skips)
            elapsed = [l.split(": ", 1)[1] for l in section["lines"]
                       if l.startswith("# vdmux-elapsed: ")]
            took = f" ({elapsed[-1]} s)" if elapsed else ""
            print(f"{name}: {sub.passed} passed, {sub.failed} failed, "
                  f"{sub.skipped} skipped{took}")
            tally.passed += sub.passed
            tally.failed += sub.failed
            tally.skipped += sub.skipped
            tally.failures += sub.failures
    if not done:
        tally.fail("guest: the test run did not reach its end")
    for when in ("before", "after"):
        if when not in taint:
            tally.fail(f"guest: taint not recorded {when} the tests")
    if len(taint) == 2:
        allowed = TAINT_EXPECTED_STOCK if stock_kernel else TAINT_EXPECTED
        added = taint["after"] & ~taint["before"] & ~allowed
        if added:
            tally.fail(f"kernel: tainted during the run: {taint_flags(added)} "
                       f"(/proc/sys/kernel/tainted {taint['before']} before, "
                       f"{taint['after']} after)")


def kunit_suites(src):
    """{suite: number of cases} of the #[kunit_tests(NAME)] modules in src/*.rs."""
    import glob
    suites = {}
    for path in sorted(glob.glob(os.path.join(src, "**", "*.rs"), recursive=True)):
        with open(path) as f:
            text = f.read()
        m = re.search(r"#\[kernel::macros::kunit_tests\((\w+)\)\]", text)
        if m:
            suites[m.group(1)] = len(re.findall(r"^\s*#\[test\]", text[m.end():], re.M))
    return suites


KCSAN_BEGIN_RE = re.compile(r"BUG: KCSAN: ")
KCSAN_RULE_RE = re.compile(r"^={20,}$")
VDMUX_FRAME_RE = re.compile(r"\[vdmux\]|_5vdmux|vdmux_")


def judge_kcsan(lines, tally):
    """KCSAN reports (the kcsan flavour): one whose report names a vdmux
    frame fails the run; one from elsewhere in the kernel is listed, and
    does not. Returns the log without the reports from elsewhere, for the
    splat scan."""
    kept, i = [], 0
    while i < len(lines):
        if not KCSAN_BEGIN_RE.search(lines[i]):
            kept.append(lines[i])
            i += 1
            continue
        end = i + 1
        while end < len(lines) and not KCSAN_RULE_RE.match(lines[end].strip()):
            end += 1
        report = lines[i:end + 1]
        if any(VDMUX_FRAME_RE.search(l) for l in report):
            for l in report[:40]:
                print(f"kernel: {l}")
            tally.fail(f"kernel: a KCSAN report with a vdmux frame: {lines[i].strip()}")
        else:
            print(f"kernel: KCSAN report outside vdmux (listed, not failed): {lines[i].strip()}")
            # Another report's lines printed amid this one still count.
            kept += [l for l in report[1:] if SPLAT_RE.search(l)]
        # The rule line before the report belongs to it too.
        if kept and KCSAN_RULE_RE.match(kept[-1].strip()):
            kept.pop()
        i = end + 1
    return kept


def parse_console(path, tally, suites=None, stock_kernel=False):
    """Splats anywhere, the end marker, the console level, and the KTAP of
    the vdmux KUnit suites: each of @suites ({name: cases}) must have run
    with every case. On a @stock_kernel, only the taint lines of an unsigned
    out-of-tree module are expected."""
    try:
        with open(path, errors="replace") as f:
            lines = [TIMESTAMP_RE.sub("", l.rstrip("\r\n")) for l in f]
    except OSError:
        lines = None
    if not lines:
        tally.fail("guest: no kernel log")
        return
    lines = judge_kcsan(lines, tally)
    splats = [l for l in lines if SPLAT_RE.search(l) and not BENIGN_RE.search(l)]
    for l in splats[:20]:
        print(f"kernel: {l}")
    if splats:
        # Each report once, by its first line with the numbers left out.
        heads = {}
        for l in splats:
            if not CONTINUATION_RE.search(l):
                heads.setdefault(re.sub(r"0x[0-9a-f]+|\d+", "#", l), l.strip())
        listed = list(heads.values())
        more = f" and {len(listed) - 5} more" if len(listed) > 5 else ""
        tally.fail(f"kernel: {len(splats)} splat lines in the kernel log"
                   + (f": {' | '.join(listed[:5])}{more}" if listed else ""))
    if not any(CONSOLE_END in l for l in lines):
        tally.fail(f"kernel: the log has no \"{CONSOLE_END}\": it was cut short")
    cmdlines = [m.group(1) for m in map(CMDLINE_RE.search, lines) if m]
    if not cmdlines:
        tally.fail("kernel: no \"Kernel command line:\" in the log")
    for c in cmdlines[:1]:
        words = c.split()
        if "ignore_loglevel" not in words:
            tally.fail("kernel: command line without ignore_loglevel: "
                       "messages below the console level would be hidden")
        hiding = [w for w in words if w == "quiet" or w.startswith("loglevel=")
                  or w.startswith("printk.")]
        if hiding:
            tally.fail(f"kernel: command line sets {' '.join(hiding)}")
    release = next((m.group(1) for m in map(RELEASE_RE.match, lines) if m), None)
    if release:
        print(f"kernel: uname -r {release}")
    if stock_kernel:
        taints = [l for l in lines if TAINT_RE.search(l) and not EXPECTED_TAINT_RE.match(l)]
        for l in taints[:20]:
            print(f"kernel: {l}")
        if taints:
            tally.fail(f"kernel: {len(taints)} unexpected taint lines")

    # Every insmod may run the suites again: each case counts once, and fails
    # if it failed in any run.
    suite = None
    indent = None
    runs = 0
    cases = {}
    # A suite's own result, below its cases: "not ok" with every case ok is
    # a suite_init or suite_exit that failed.
    opened, suite_failed = set(), set()
    for line in lines:
        stripped = line.lstrip(" ")
        depth = len(line) - len(stripped)
        m = re.match(r"# Subtest: (vdmux\S*)", stripped)
        if m:
            suite, indent = m.group(1), depth
            opened.add(suite)
            runs += 1
            continue
        m = RESULT_RE.match(stripped)
        if m and m.group(3) in opened and (suite is None or depth < indent):
            if m.group(1) != "ok":
                suite_failed.add(m.group(3))
            suite = None
            continue
        if suite is None:
            continue
        if depth < indent:
            suite = None
            continue
        if m and depth == indent:
            key = (suite, m.group(3))
            skip = bool(m.group(4)) and m.group(4).upper() == "SKIP"
            outcome = "fail" if m.group(1) != "ok" else ("skip" if skip else "pass")
            if cases.get(key) != "fail":
                cases[key] = outcome
    sub = Tally()
    for (suite, case), outcome in sorted(cases.items()):
        if outcome == "fail":
            sub.fail(f"kunit {suite}: {case}")
        elif outcome == "skip":
            sub.fail(f"kunit {suite}: {case}: skipped")
        else:
            sub.passed += 1
    for name in sorted(suite_failed):
        if not any(s == name and o == "fail" for (s, _), o in cases.items()):
            sub.fail(f"kunit {name}: the suite reported not ok, though none of its cases failed")
    for name, want in sorted((suites or {}).items()):
        got = sum(1 for (s, _) in cases if s == name)
        if got != want:
            sub.fail(f"kunit {name}: {got} cases ran, the source has {want}")
    for name in sorted({s for (s, _) in cases} - set(suites or {})):
        if suites is not None:
            sub.fail(f"kunit {name}: a suite the source does not have")
    print(f"kunit: {sub.passed} passed, {sub.failed} failed ({runs} suite runs)")
    tally.passed += sub.passed
    tally.failed += sub.failed
    tally.skipped += sub.skipped
    tally.failures += sub.failures


# pci_test's and multi_test's reports of what they left in an ivshmem BAR,
# one line each:
# "# vdmux-ivshmem: wired=W foreground=F size=S bar=B seeds=S0,S1,...".
# The BAR's size B tells the devices apart (run.sh gives them two sizes).
IVSHMEM_RE = re.compile(r"^# vdmux-ivshmem: (.*)$")
# Who must report on the first device's BAR, and on every other's.
IVSHMEM_REPORTERS = ("pci_test", "multi_test")
IVSHMEM2_REPORTERS = ("multi_test",)
MASK64 = (1 << 64) - 1


def mix64(x):
    """tests/vdmux_test.h's mix64 (splitmix64's finalizer)."""
    x ^= x >> 30
    x = (x * 0xbf58476d1ce4e5b9) & MASK64
    x ^= x >> 27
    x = (x * 0x94d049bb133111eb) & MASK64
    x ^= x >> 31
    return x


def pattern(vdev, seed, size):
    """The first @size bytes (a multiple of 8) of vdev @vdev's tagged pattern
    @seed, as tests/vdmux_test.h's fill_tagged writes them (little-endian)."""
    key = mix64((((vdev << 32) | seed) + 0x9e3779b97f4a7c15) & MASK64)
    words = [mix64((key + i * 0xd6e8feb86659fd93) & MASK64) for i in range(size // 8)]
    return struct.pack(f"<{len(words)}Q", *words)


def ivshmem_reports(path):
    """[(section, {field: value})] of the report lines in the TAP log."""
    reports, section = [], None
    try:
        with open(path, errors="replace") as f:
            lines = f.read().replace("\r", "").split("\n")
    except OSError:
        lines = []
    for line in lines:
        m = BEGIN_RE.match(line)
        if m:
            section = m.group(1)
            continue
        m = IVSHMEM_RE.match(line)
        if m:
            fields = dict(w.split("=", 1) for w in m.group(1).split() if "=" in w)
            reports.append((section, fields))
    return reports


def check_ivshmem(path, tap, expected, tally, reporters):
    """The BAR's file after the guest ended holds what the last report on a
    BAR of its size said was left there (the test programs @reporters
    report on this device): with the BAR as the device memory (wired=1),
    exactly the final foreground vdev's signature in its first `size` bytes
    and nothing of a background vdev's; before that (wired=0), no vdev's
    bytes at all. The rest of the BAR is zero (binding zero-fills it)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        tally.fail(f"ivshmem: cannot read {path}: {e}")
        return
    reports = [(section, r) for section, r in ivshmem_reports(tap)
               if r.get("bar") == str(len(data))]
    if not reports:
        ran = [n for n in reporters if n in expected]
        if ran:
            tally.fail(f"ivshmem: {' and '.join(ran)} did not report what it left in "
                       f"the BAR of {path} ({len(data)} bytes)")
        else:
            print(f"ivshmem: no report ({' or '.join(reporters)} did not run): "
                  f"{path} not checked")
        return
    section, r = reports[-1]
    try:
        wired = r["wired"] == "1"
        fg = int(r["foreground"])
        size = int(r["size"])
        bar = int(r["bar"])
        seeds = [int(x, 0) for x in r["seeds"].split(",")]
    except (KeyError, ValueError):
        tally.fail(f"ivshmem: a report that cannot be read: {r}")
        return
    if len(data) != bar or not 0 < size <= bar or size % 8 or not 0 <= fg < len(seeds):
        tally.fail(f"ivshmem: {path} has {len(data)} bytes; the report says {r}")
        return
    head, rest = data[:size], data[size:]
    sigs = [pattern(v, seeds[v], size) for v in range(len(seeds))]
    # The vdevs with words where their signature has them (the signatures
    # differ word by word, and from zero).
    seen = [v for v, sig in enumerate(sigs)
            if any(head[i:i + 8] == sig[i:i + 8] for i in range(0, size, 8))]
    problems = []
    if wired:
        what = f"vdev {fg}'s signature, {size} bytes"
        if head != sigs[fg]:
            problems.append(f"its first {size} bytes are not vdev {fg}'s signature")
        others = [v for v in seen if v != fg]
        if others:
            problems.append(f"it holds words of background vdev {', '.join(map(str, others))}")
    else:
        what = "all zero: the BAR is not the device memory yet"
        if seen:
            problems.append(f"it holds words of vdev {', '.join(map(str, seen))}")
        if any(head):
            problems.append(f"{size - head.count(0)} of its first {size} bytes are not zero")
    if any(rest):
        problems.append(f"{len(rest) - rest.count(0)} bytes past the first {size} are not zero")
    if problems:
        tally.fail(f"ivshmem: {path} should hold {what}: {'; '.join(problems)}")
    else:
        print(f"ivshmem: {path} holds what {section} left there: {what}")
        tally.passed += 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--console", required=True)
    ap.add_argument("--tap", required=True)
    ap.add_argument("--qemu-status", type=int, default=0)
    ap.add_argument("--stock-kernel", action="store_true",
                    help="accept only the taint lines of an unsigned out-of-tree module")
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--src", default=os.path.join(here, "..", "src"),
                    help="the driver's sources, whose KUnit suites must all run")
    ap.add_argument("--allow-skips", action="append", default=[],
                    help="another allow-list of SKIPs (a kernel flavour without kmemleak)")
    ap.add_argument("--skips", default=os.path.join(here, "skips"),
                    help="the allow-list of SKIP results")
    ap.add_argument("--ivshmem", action="append", default=[],
                    help="the guest's ivshmem BAR files (run.sh --ivshmem, --ivshmem2)")
    ap.add_argument("expected", nargs="*")
    args = ap.parse_args()

    tally = Tally()
    skips = load_skips(args.skips)
    for extra in args.allow_skips:
        skips |= load_skips(extra)
    suites = kunit_suites(args.src)
    if args.stock_kernel:
        # A distribution kernel has no kmemleak, no fault injection and
        # may have no KUnit: what its own allow-list says may be skipped.
        skips |= load_skips(args.skips + "-stock")
        suites = {}
    parse_tap(args.tap, args.expected, tally, skips, args.stock_kernel)
    parse_console(args.console, tally, suites, args.stock_kernel)
    for i, path in enumerate(args.ivshmem):
        check_ivshmem(path, args.tap, args.expected, tally,
                      IVSHMEM2_REPORTERS if i else IVSHMEM_REPORTERS)
    if args.qemu_status in (124, 137):
        tally.fail("guest: timed out")
    for f in tally.failures:
        print(f"FAIL {f}")
    if tally.skipped:
        print(f"{tally.skipped} skipped, each on an allow-list")
    # The last line, which CI reads: exactly "N passed, N failed".
    print(f"{tally.passed} passed, {tally.failed} failed")
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
