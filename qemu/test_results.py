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

# "after 266240": O (vdmux is out of tree) and N (its KUnit suites ran).
GOOD_TAP = """# vdmux-taint: before 0
# vdmux-begin: insmod
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
# vdmux-taint: after 266240
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


# A report with another splat's line printed amid it ({other}).
KASAN_REPORT = """==================================================================
BUG: KASAN: slab-use-after-free in vdmux_copy+0x2e/0x60 [vdmux]
Read of size 8 at addr ffff888003a1b2c0 by task ioctl_test/120

CPU: 1 UID: 0 PID: 120 Comm: ioctl_test Tainted: G           O       N  7.3.0 #1
Call Trace:
 <TASK>
 dump_stack_lvl+0x5d/0x80
{other}
 kasan_report+0xb5/0xf0
 vdmux_copy+0x2e/0x60 [vdmux]
 </TASK>
==================================================================
"""
LOCKDEP_REPORT = """======================================================
WARNING: possible circular locking dependency detected
7.3.0 #1 Tainted: G           O       N
------------------------------------------------------
ioctl_test/120 is trying to acquire lock:
ffff888003a1b2c0 (&dev->lock){+.+.}-{4:4}, at: vdmux_ioctl+0x2e/0x60 [vdmux]
{other}
but task is already holding lock:
ffff888003a1b2d0 (&mm->mmap_lock){++++}-{4:4}, at: do_user_addr_fault+0x1/0x2
"""
INTERLEAVED = "WARNING: CPU: 0 PID: 121 at mm/memory.c:4321 handle_mm_fault+0x1/0x2"


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


def run(tap, console, skips="", names=("insmod", "prog", "kmemleak"), ivshmem=None,
        qemu_status=None, stock=False, ivshmem2=None):
    with tempfile.TemporaryDirectory() as d:
        paths = {}
        for name, text in (("tap", tap), ("console", console), ("skips", skips)):
            paths[name] = os.path.join(d, name)
            with open(paths[name], "w") as f:
                f.write(text)
        extra = ["--stock-kernel"] if stock else []
        if qemu_status is not None:
            extra += ["--qemu-status", str(qemu_status)]
        for name, data in (("ivshmem.bin", ivshmem), ("ivshmem2.bin", ivshmem2)):
            if data is not None:
                extra += ["--ivshmem", os.path.join(d, name)]
                with open(extra[-1], "wb") as f:
                    f.write(data)
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


# multi_test's section with its reports on both devices: instance 0 on an
# 8 KiB BAR, instance 1 on a 16 KiB one.
MULTI_SECTION = """# vdmux-begin: multi_test
TAP version 13
1..1
# vdmux-ivshmem: wired=1 foreground=1 size=4096 bar=8192 seeds=100,101,102,103 instance=0
# vdmux-ivshmem: wired=1 foreground=3 size=4096 bar=16384 seeds=200,201,202,203 instance=1
ok 1 global.signatures_for_the_host
# vdmux-end: multi_test rc=0
"""
MULTI_NAMES = ("insmod", "prog", "multi_test", "kmemleak")


def multi_cases(console):
    """{what: (tap, first file, second file, should pass)} for the host's
    check of two ivshmem BARs (results.py --ivshmem twice)."""
    import results
    tap = GOOD_TAP.replace("# vdmux-begin: kmemleak", MULTI_SECTION + "# vdmux-begin: kmemleak")
    first = [results.pattern(v, 100 + v, 4096) for v in range(4)]
    second = [results.pattern(v, 200 + v, 4096) for v in range(4)]
    zero = bytes(4096)
    return {
        "each BAR holding its instance's foreground":
            (tap, first[1] + zero, second[3] + 3 * zero, True),
        "the second BAR holding the first instance's foreground":
            (tap, first[1] + zero, first[1] + 3 * zero, False),
        "the second BAR holding one of its background vdevs":
            (tap, first[1] + zero, second[1] + 3 * zero, False),
        "the second BAR all zero": (tap, first[1] + zero, 4 * zero, False),
        "no report on the second BAR": (
            tap.replace("bar=16384", "bar=32768"), first[1] + zero, second[3] + 3 * zero, False),
    }


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
        "an arm64 kernel fault": (GOOD_TAP, console.replace(
            "vdmux-check", "Unable to handle kernel paging request at virtual address "
            "dead000000000108\nvdmux-check"), ""),
        "an arm64 SError": (GOOD_TAP, console.replace(
            "vdmux-check", "SError Interrupt on CPU1, code 0x00000000be000000 -- SError\n"
            "vdmux-check"), ""),
        "an arm64 backtrace": (GOOD_TAP, console.replace(
            "vdmux-check", "Call trace:\n show_stack+0x18/0x24 (C)\nvdmux-check"), ""),
    }
    # {what: (tap, console, reasons, run's options)}: each run must fail, with
    # a FAIL line holding each of reasons.
    prog = GOOD_TAP[GOOD_TAP.index("# vdmux-begin: prog"):
                    GOOD_TAP.index("# vdmux-begin: kmemleak")]
    died = GOOD_TAP[:GOOD_TAP.index("ok 2 global.b")]
    cut = console.replace("[   99.000000] vdmux-check: end of run\n", "")
    stock_console = console.split("\n")[0] + "\nvdmux-check: end of run\n"

    def taint(before, after):
        return GOOD_TAP.replace("before 0", f"before {before}").replace(
            "after 266240", f"after {after}")

    def log(text):
        return console.replace("vdmux-check", text + "\nvdmux-check")

    refused = {
        "output outside a section": (
            GOOD_TAP.replace("# vdmux-begin: kmemleak", "a child's line\n# vdmux-begin: kmemleak"),
            console, ["guest: 1 lines of test output outside the sections", "a child's line"], {}),
        "an end marker of another section": (
            GOOD_TAP.replace("# vdmux-begin: kmemleak", "# vdmux-end: insmod rc=0\n"
                             "# vdmux-begin: kmemleak"),
            console, ["outside the sections, the first: '# vdmux-end: insmod rc=0'"], {}),
        "two sections of one name": (GOOD_TAP.replace(prog, prog + prog), console,
                                     ["prog: 2 sections of that name"], {}),
        "a requested program that does not exist": (
            GOOD_TAP.replace("# vdmux-begin: insmod",
                             "# vdmux-no-such-test: nosuch_test\n# vdmux-begin: insmod"),
            console, ["nosuch_test: requested (TESTS=), but the guest has no such test "
                      "program"], {}),
        "an XFAIL": (GOOD_TAP.replace("ok 2 global.b", "ok 2 global.b # XFAIL known bug"),
                     console, ["prog: global.b: XFAIL: an expected failure does not pass: "
                               "known bug"], {}),
        "a not ok XFAIL": (GOOD_TAP.replace("ok 2 global.b", "not ok 2 global.b # XFAIL x"),
                           console, ["prog: global.b: XFAIL"], {}),
        "a KUnit suite not ok with every case ok": (
            GOOD_TAP, console.replace(f"\nok 1 {first}\n", f"\nnot ok 1 {first}\n"),
            [f"kunit {first}: the suite reported not ok, though none of its cases failed"], {}),
        "a KUnit case failure": (GOOD_TAP, console.replace("    ok 1 case_1\n",
                                                           "    not ok 1 case_1\n", 1),
                                 [f"kunit {first}: case_1"], {}),
        "a taint flag added during the run": (
            taint(0, 266240 | 512), console,
            ["kernel: tainted during the run: W (bit 9) (/proc/sys/kernel/tainted 0 before, "
             "266752 after)"], {}),
        "an unsigned module's taint, not on a stock kernel": (
            taint(0, 4096 | 8192), console, ["tainted during the run: E (bit 13)"], {}),
        "no taint recorded": (taint(0, 0).replace("# vdmux-taint: before 0\n", "").replace(
            "# vdmux-taint: after 0\n", ""), console,
            ["guest: taint not recorded before the tests",
             "guest: taint not recorded after the tests"], {}),
        "the taint recorded by a test program, in its section": (
            GOOD_TAP.replace("# vdmux-taint: before 0\n", "").replace(
                "ok 1 global.a", "ok 1 global.a\n# vdmux-taint: before 0"),
            console, ["guest: taint not recorded before the tests"], {}),
        "VM_FAULT_OOM leaked out": (
            GOOD_TAP, log("Huh VM_FAULT_OOM leaked out to the #PF handler. Retrying PF"),
            ["splat lines in the kernel log: Huh VM_FAULT_OOM leaked out"], {}),
        "a WARNING amid a KASAN report": (
            GOOD_TAP, log(KASAN_REPORT.replace("{other}", INTERLEAVED).rstrip("\n")),
            ["BUG: KASAN: slab-use-after-free in vdmux_copy", INTERLEAVED], {}),
        "a WARNING amid a lockdep report": (
            GOOD_TAP, log(LOCKDEP_REPORT.replace("{other}", INTERLEAVED).rstrip("\n")),
            ["WARNING: possible circular locking dependency detected", INTERLEAVED], {}),
        "a WARNING amid a KCSAN report from outside vdmux": (
            GOOD_TAP, log(KCSAN_REPORT.format(frame="tick_sched_do_timer+0x2e/0x60").replace(
                "\nread to", f"\n{INTERLEAVED}\nread to").rstrip("\n")),
            [f"1 splat lines in the kernel log: {INTERLEAVED}"], {}),
        "a program that did not run": (GOOD_TAP.replace(prog, ""), console,
                                       ["prog: did not run"], {}),
        "the guest died": (died, cut, ["prog: never finished",
                                       "prog: planned 3 tests, no result for 2, 3",
                                       "kmemleak: did not run",
                                       "guest: the test run did not reach its end",
                                       "guest: taint not recorded after the tests",
                                       "kernel: the log has no"], {}),
        "a QEMU timeout": (died, cut, ["guest: timed out", "prog: never finished"],
                           {"qemu_status": 124}),
        "a QEMU timeout ended by SIGKILL": (died, cut, ["guest: timed out"], {"qemu_status": 137}),
    }
    # {what: (tap, console, run's options)}: the clean siblings, which pass.
    accepted = {
        "a taint flag set before the run": (taint(512, 512 | 266240), console, {}),
        "an unsigned module's taint on a stock kernel": (
            taint(0, 4096 | 8192), stock_console, {"stock": True}),
        "QEMU's exit status 0": (GOOD_TAP, console, {"qemu_status": 0}),
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
    for what, (tap, con, reasons, opts) in refused.items():
        rc, out = run(tap, con, **opts)
        fails = [l for l in out.split("\n") if l.startswith("FAIL ")]
        lost = [r for r in reasons if not any(r in l for l in fails)]
        if rc == 0 or lost:
            print(f"not ok: the judge passes a run with {what}, or not for "
                  f"{' / '.join(lost)}:\n{out}")
            failed += 1
    for what, (tap, con, opts) in accepted.items():
        rc, out = run(tap, con, **opts)
        if rc != 0:
            print(f"not ok: the judge fails a run with {what}:\n{out}")
            failed += 1
    cases = ivshmem_cases(console)
    for what, (tap, data, good) in cases.items():
        rc, out = run(tap, console, names=PCI_NAMES, ivshmem=data)
        if (rc == 0) != good:
            print(f"not ok: the judge {'fails' if good else 'passes'} a run with {what}:\n{out}")
            failed += 1
    multi = multi_cases(console)
    for what, (tap, data, data2, good) in multi.items():
        rc, out = run(tap, console, names=MULTI_NAMES, ivshmem=data, ivshmem2=data2)
        if (rc == 0) != good:
            print(f"not ok: the judge {'fails' if good else 'passes'} a run with {what}:\n{out}")
            failed += 1
    total = len(bad) + len(refused) + len(accepted) + 3 + len(cases) + len(multi)
    print(f"judge self-test: {total - failed} of {total} cases right")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
