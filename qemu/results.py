#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Judge one run of the vdmux test guest.

Reads the test output (ttyS1: one framed TAP section per program) and the
kernel log (ttyS0: splats and the KTAP of vdmux's KUnit suites), prints every
failure with its reason, and ends with exactly one line "N passed, N failed".
The exit status is 0 only when nothing failed and the kernel log is clean.

    results.py --console console.log --tap tap.log [--qemu-status RC] NAME...

NAME... are the sections that must be present, in any order.
"""

import argparse
import re
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
    r"unreferenced object",
]
SPLAT_RE = re.compile("|".join(SPLATS))
# Boot banners of the debug kernel that match a pattern above.
BENIGN_RE = re.compile(r"RCU lockdep checking is enabled")
# --stock-kernel: a distribution kernel taints itself when it loads vdmux,
# an out-of-tree module without a signature it trusts. Those two lines are
# expected; any other taint fails the run.
TAINT_RE = re.compile(r"taints kernel|Tainted: |module verification failed")
EXPECTED_TAINT_RE = re.compile(
    r"^vdmux: (loading out-of-tree module taints kernel\.|"
    r"module verification failed: signature and/or required key missing - tainting kernel)$")
RELEASE_RE = re.compile(r"^Linux version (\S+)")
TIMESTAMP_RE = re.compile(r"^\[\s*\d+\.\d+\]\s?")
RESULT_RE = re.compile(r"^(not ok|ok)\s+(\d+)\s*(?:-\s*)?([^#]*?)\s*(?:#\s*(\S+)(.*))?$")
PLAN_RE = re.compile(r"^1\.\.(\d+)")
BEGIN_RE = re.compile(r"^# vdmux-begin: (\S+)")
END_RE = re.compile(r"^# vdmux-end: (\S+) rc=(\d+)")


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


def judge_section(name, lines, rc, tally):
    """Count one program's TAP (top level only) and check it is complete."""
    plan = None
    seen = 0
    bail = False
    for line in lines:
        if line.startswith("Bail out!"):
            bail = True
        m = PLAN_RE.match(line)
        if m and plan is None:
            plan = int(m.group(1))
            continue
        m = RESULT_RE.match(line)
        if m:
            seen += 1
            ok = m.group(1) == "ok"
            tally.result(ok, m.group(4), f"{name}: {m.group(3) or m.group(2)}")
    if plan is None:
        tally.fail(f"{name}: no TAP plan (the program did not run or crashed)")
    elif seen < plan:
        tally.fail(f"{name}: planned {plan} tests, ran {seen}")
    if bail:
        tally.fail(f"{name}: bailed out")
    # kselftest exits 4 when everything was skipped.
    if rc is None:
        tally.fail(f"{name}: never finished (guest died or timed out)")
    elif rc not in (0, 4) and tally.failed == 0:
        tally.fail(f"{name}: exit status {rc} with no failing test")


def parse_tap(path, expected, tally):
    sections = {}
    current = None
    done = False
    try:
        with open(path, errors="replace") as f:
            text = f.read().replace("\r", "")
    except OSError:
        text = ""
    for line in text.split("\n"):
        m = BEGIN_RE.match(line)
        if m:
            current = m.group(1)
            sections[current] = {"lines": [], "rc": None}
            continue
        m = END_RE.match(line)
        if m and current == m.group(1):
            sections[current]["rc"] = int(m.group(2))
            current = None
            continue
        if line.startswith("# vdmux-done"):
            done = True
        elif current is not None:
            sections[current]["lines"].append(line)
    for name in expected:
        if name not in sections:
            tally.fail(f"{name}: did not run")
            continue
        sub = Tally()
        judge_section(name, sections[name]["lines"], sections[name]["rc"], sub)
        elapsed = [l.split(": ", 1)[1] for l in sections[name]["lines"]
                   if l.startswith("# vdmux-elapsed: ")]
        took = f" ({elapsed[-1]} s)" if elapsed else ""
        print(f"{name}: {sub.passed} passed, {sub.failed} failed, {sub.skipped} skipped{took}")
        tally.passed += sub.passed
        tally.failed += sub.failed
        tally.skipped += sub.skipped
        tally.failures += sub.failures
    if not done:
        tally.fail("guest: the test run did not reach its end")


def parse_console(path, tally, stock_kernel=False):
    """Splats anywhere, and the KTAP of the vdmux KUnit suites."""
    try:
        with open(path, errors="replace") as f:
            lines = [TIMESTAMP_RE.sub("", l.rstrip("\r\n")) for l in f]
    except OSError:
        tally.fail("guest: no kernel log")
        return
    splats = [l for l in lines if SPLAT_RE.search(l) and not BENIGN_RE.search(l)]
    for l in splats[:20]:
        print(f"kernel: {l}")
    if splats:
        tally.fail(f"kernel: {len(splats)} splat lines in the kernel log")
    release = next((m.group(1) for m in map(RELEASE_RE.match, lines) if m), None)
    if release:
        print(f"kernel: uname -r {release}")
    if stock_kernel:
        taints = [l for l in lines if TAINT_RE.search(l) and not EXPECTED_TAINT_RE.match(l)]
        for l in taints[:20]:
            print(f"kernel: {l}")
        if taints:
            tally.fail(f"kernel: {len(taints)} unexpected taint lines")

    # Every insmod runs the suites again: each case counts once, and fails
    # if it failed in any run.
    suite = None
    indent = None
    runs = 0
    cases = {}
    for line in lines:
        stripped = line.lstrip(" ")
        depth = len(line) - len(stripped)
        m = re.match(r"# Subtest: (vdmux\S*)", stripped)
        if m:
            suite, indent = m.group(1), depth
            runs += 1
            continue
        if suite is None:
            continue
        if depth < indent:
            suite = None
            continue
        m = RESULT_RE.match(stripped)
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
            sub.skipped += 1
        else:
            sub.passed += 1
    if runs:
        print(f"kunit: {sub.passed} passed, {sub.failed} failed, {sub.skipped} skipped "
              f"({runs} suite runs)")
    tally.passed += sub.passed
    tally.failed += sub.failed
    tally.skipped += sub.skipped
    tally.failures += sub.failures


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--console", required=True)
    ap.add_argument("--tap", required=True)
    ap.add_argument("--qemu-status", type=int, default=0)
    ap.add_argument("--stock-kernel", action="store_true",
                    help="accept only the taint lines of an unsigned out-of-tree module")
    ap.add_argument("expected", nargs="*")
    args = ap.parse_args()

    tally = Tally()
    parse_tap(args.tap, args.expected, tally)
    parse_console(args.console, tally, args.stock_kernel)
    if args.qemu_status in (124, 137):
        tally.fail("guest: timed out")
    for f in tally.failures:
        print(f"FAIL {f}")
    line = f"{tally.passed} passed, {tally.failed} failed"
    if tally.skipped:
        line += f", {tally.skipped} skipped"
    print(line)
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
