#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Self-test of the judge: each broken run below must fail, the good one pass.

    test_results.py    (run by make check on the host before the guest boots)
"""

import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

GOOD_TAP = """# vdmux-begin: insmod
1..1
ok 1 insmod vdmux.ko
# vdmux-end: insmod rc=0
# vdmux-begin: prog
TAP version 13
1..3
ok 1 global.a
ok 2 global.b
ok 3 global.c
# vdmux-end: prog rc=0
# vdmux-begin: kmemleak
1..3
ok 1 rmmod vdmux after the tests
ok 2 kmemleak: two scans and the report read
ok 3 kmemleak: no unreferenced object from vdmux
# vdmux-end: kmemleak rc=0
# vdmux-done
"""


KCSAN_REPORT = """==================================================================
BUG: KCSAN: data-race in a / b

write to 0xffff888003a1b2c0 of 8 bytes by task 120 on cpu 1:
 {frame}
 ksys_ioctl+0x8a/0xd0

read to 0xffff888003a1b2c0 of 8 bytes by task 121 on cpu 0:
 do_something+0x10/0x20
==================================================================
"""


def kunit(suite, n, indent="    "):
    out = [f"{indent}# Subtest: {suite}", f"{indent}# module: vdmux", f"{indent}1..{n}"]
    out += [f"{indent}ok {i} case_{i}" for i in range(1, n + 1)]
    return out


def good_console(suites):
    lines = ["[    0.000000] Kernel command line: console=ttyS0,115200 kmemleak=on "
             "VDMUX_MODE=check ignore_loglevel"]
    for i, (s, n) in enumerate(sorted(suites.items()), 1):
        lines += kunit(s, n)
        lines.append(f"ok {i} {s}")
    lines.append("[   99.000000] vdmux-check: end of run")
    return "\n".join(lines) + "\n"


def run(tap, console, skips="", names=("insmod", "prog", "kmemleak"), ivshmem=None):
    with tempfile.TemporaryDirectory() as d:
        paths = {}
        for name, text in (("tap", tap), ("console", console), ("skips", skips)):
            paths[name] = os.path.join(d, name)
            with open(paths[name], "w") as f:
                f.write(text)
        extra = []
        if ivshmem is not None:
            extra = ["--ivshmem", os.path.join(d, "ivshmem.bin")]
            with open(extra[1], "wb") as f:
                f.write(ivshmem)
        r = subprocess.run([sys.executable, os.path.join(HERE, "results.py"),
                            "--console", paths["console"], "--tap", paths["tap"],
                            "--skips", paths["skips"], *extra, *names],
                           capture_output=True, text=True)
        return r.returncode, r.stdout


# pci_test's section with its report of what it left in the ivshmem BAR.
PCI_SECTION = """# vdmux-begin: pci_test
TAP version 13
1..1
# vdmux-ivshmem: wired={wired} foreground=2 size=4096 bar=8192 seeds=20736,20737,20738,20739
ok 1 global.signatures_for_the_host
# vdmux-end: pci_test rc=0
"""
PCI_NAMES = ("insmod", "prog", "pci_test", "kmemleak")


def pci_tap(wired):
    return GOOD_TAP.replace("# vdmux-begin: kmemleak",
                            PCI_SECTION.format(wired=wired) + "# vdmux-begin: kmemleak")


def ivshmem_cases(console):
    """{what: (tap, file, names, should pass)} for the host's check of the
    ivshmem BAR (results.py --ivshmem)."""
    import results
    sig = [results.pattern(v, 20736 + v, 4096) for v in range(4)]
    zero = bytes(4096)
    return {
        "the BAR holding the final foreground's signature": (pci_tap(1), sig[2] + zero, True),
        "the BAR all zero before the wiring": (pci_tap(0), zero + zero, True),
        "the BAR holding a background vdev's signature": (pci_tap(1), sig[1] + zero, False),
        "the BAR holding half the foreground's, half a background's signature": (
            pci_tap(1), sig[2][:2048] + sig[3][2048:] + zero, False),
        "the BAR all zero after the wiring": (pci_tap(1), zero + zero, False),
        "the BAR holding the foreground's signature before the wiring": (
            pci_tap(0), sig[2] + zero, False),
        "bytes past the reserved size": (pci_tap(1), sig[2] + zero[:-1] + b"x", False),
        "a BAR file of another size": (pci_tap(1), sig[2], False),
        "no report from pci_test": (pci_tap(1).replace("# vdmux-ivshmem:", "# other:"),
                                    sig[2] + zero, False),
    }


def main():
    sys.path.insert(0, HERE)
    import results
    suites = results.kunit_suites(os.path.join(HERE, "..", "src"))
    assert suites, "no KUnit suite in src/"
    console = good_console(suites)
    first = sorted(suites)[0]
    bad = {
        "numbers 1, 1, 2 of plan 1..3": (
            GOOD_TAP.replace("ok 2 global.b\nok 3 global.c", "ok 1 global.b\nok 2 global.c"),
            console, ""),
        "plan 1..0": (GOOD_TAP.replace("1..3\nok 1 global.a\nok 2 global.b\nok 3 global.c",
                                       "1..0"), console, ""),
        "a result past the plan": (GOOD_TAP.replace("ok 3 global.c", "ok 3 global.c\nok 4 x"),
                                   console, ""),
        "every test skipped": (
            GOOD_TAP.replace("ok 1 global.a\nok 2 global.b\nok 3 global.c",
                             "ok 1 global.a # SKIP x\nok 2 global.b # SKIP x\n"
                             "ok 3 global.c # SKIP x").replace("prog rc=0", "prog rc=4"),
            console, ""),
        "one SKIP not on the list": (GOOD_TAP.replace("ok 2 global.b", "ok 2 global.b # SKIP x"),
                                     console, "prog: global.a  # another one\n"),
        "an empty console log": (GOOD_TAP, "", ""),
        "a console cut short": (GOOD_TAP, console.replace("vdmux-check: end of run", ""), ""),
        "a KUnit suite missing": (GOOD_TAP, "\n".join(
            l for l in console.split("\n") if first not in l and "case_" not in l) + "\n", ""),
        "a KUnit case missing": (GOOD_TAP, console.replace(
            f"    ok {suites[first]} case_{suites[first]}\n", "", 1), ""),
        "printk messages dropped": (GOOD_TAP, console.replace(
            "vdmux-check", "** 12 printk messages dropped **\nvdmux-check"), ""),
        "kmemleak disabled itself": (GOOD_TAP, console.replace(
            "vdmux-check", "kmemleak: Kernel memory leak detector disabled\nvdmux-check"), ""),
        "loglevel on the command line": (GOOD_TAP, console.replace(
            "VDMUX_MODE=check", "loglevel=1 VDMUX_MODE=check"), ""),
        "no ignore_loglevel": (GOOD_TAP, console.replace(" ignore_loglevel", ""), ""),
        "a WARNING": (GOOD_TAP, console.replace(
            "vdmux-check", "WARNING: CPU: 0 PID: 1 at mm/x.c:1\nvdmux-check"), ""),
        "rmmod failed": (GOOD_TAP.replace("ok 1 rmmod", "not ok 1 rmmod"), console, ""),
        "an RCU stall": (GOOD_TAP, console.replace(
            "vdmux-check", "rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:\nvdmux-check"), ""),
        "a hung task": (GOOD_TAP, console.replace(
            "vdmux-check", "INFO: task vdmux_test:99 blocked for more than 120 seconds.\n"
            "vdmux-check"), ""),
        "a KCSAN report with a vdmux frame": (GOOD_TAP, console.replace(
            "vdmux-check", KCSAN_REPORT.format(frame="vdmux_copy+0x2e/0x60 [vdmux]") +
            "vdmux-check"), ""),
        "exit status 4": (GOOD_TAP.replace("prog rc=0", "prog rc=4"), console, ""),
    }
    failed = 0
    rc, out = run(GOOD_TAP, console)
    if rc != 0:
        print(f"not ok: the good run fails:\n{out}")
        failed += 1
    rc, out = run(GOOD_TAP.replace("ok 2 global.b", "ok 2 global.b # SKIP allowed"), console,
                  "prog: global.b  # allowed for the test\n")
    if rc != 0:
        print(f"not ok: an allow-listed SKIP fails:\n{out}")
        failed += 1
    # A KCSAN report from elsewhere in the kernel is listed, not failed.
    rc, out = run(GOOD_TAP, console.replace(
        "vdmux-check", KCSAN_REPORT.format(frame="tick_sched_do_timer+0x2e/0x60") +
        "vdmux-check"))
    if rc != 0 or "KCSAN report outside vdmux" not in out:
        print(f"not ok: a KCSAN report outside vdmux fails the run:\n{out}")
        failed += 1
    for what, (tap, con, skips) in bad.items():
        rc, out = run(tap, con, skips)
        if rc == 0:
            print(f"not ok: the judge passes a run with {what}:\n{out}")
            failed += 1
    cases = ivshmem_cases(console)
    for what, (tap, data, good) in cases.items():
        rc, out = run(tap, console, names=PCI_NAMES, ivshmem=data)
        if (rc == 0) != good:
            print(f"not ok: the judge {'fails' if good else 'passes'} a run with {what}:\n{out}")
            failed += 1
    total = len(bad) + 3 + len(cases)
    print(f"judge self-test: {total - failed} of {total} cases right")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
