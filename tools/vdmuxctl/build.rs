// SPDX-License-Identifier: GPL-2.0

//! Generates the Rust mirror of `include/uapi/vdmux.h` with the project's own
//! generator, so that the tool, the driver and the header cannot disagree on
//! an ioctl number or a structure layout.

use std::{env, path::PathBuf, process::Command};

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let top = manifest.join("../..");
    let header = top.join("include/uapi/vdmux.h");
    let script = top.join("scripts/gen-uapi-rs.sh");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR")).join("uapi_generated.rs");
    println!("cargo::rerun-if-changed={}", header.display());
    println!("cargo::rerun-if-changed={}", script.display());
    let status = Command::new(&script)
        .arg(&header)
        .arg(&out)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(
        status.success(),
        "{} failed ({status}): is bindgen installed?",
        script.display()
    );
}
