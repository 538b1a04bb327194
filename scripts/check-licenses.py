#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Licence sanity of vdmuxctl's crates, in the manner of cargo deny: every
package in Cargo.lock must be under a licence compatible with GPL-2.0.

    cargo metadata --format-version 1 --locked | check-licenses.py
"""
import json
import re
import sys

# Permissive licences that GPL-2.0 code may use, and GPL-2.0 itself.
ALLOWED = {"MIT", "Apache-2.0", "Apache-2.0 WITH LLVM-exception", "BSD-2-Clause",
           "BSD-3-Clause", "ISC", "Zlib", "Unlicense", "Unicode-3.0", "0BSD", "CC0-1.0",
           "GPL-2.0", "GPL-2.0-only", "GPL-2.0-or-later", "LGPL-2.1-or-later", "MPL-2.0"}


def ok(expr):
    """An SPDX expression: OR needs one allowed side, AND needs both."""
    expr = expr.replace("/", " OR ").strip()
    if expr.startswith("(") and expr.endswith(")"):
        expr = expr[1:-1]
    for alternative in re.split(r"\s+OR\s+", expr):
        parts = [p.strip("() ") for p in re.split(r"\s+AND\s+", alternative)]
        if all(p in ALLOWED for p in parts):
            return True
    return False


def main():
    meta = json.load(sys.stdin)
    bad = []
    for pkg in meta["packages"]:
        lic = pkg.get("license") or ""
        if not ok(lic):
            bad.append(f"{pkg['name']} {pkg['version']}: {lic or 'no licence field'}")
    for b in bad:
        print(f"licence not GPL-2.0 compatible: {b}", file=sys.stderr)
    if bad:
        print(f"licences: {len(meta['packages'])} crates, {len(bad)} refused", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
