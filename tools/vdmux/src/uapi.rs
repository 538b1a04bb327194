// SPDX-License-Identifier: GPL-2.0

//! The driver's user-space ABI, `include/uapi/vdmux.h` in Rust.
//!
//! `uapi_generated.rs` is bindgen's output for the header
//! (`scripts/gen-uapi-rs.sh`), committed so that building this crate needs
//! no bindgen; `tests/uapi_drift.rs` fails when it no longer matches the
//! header. Most programs need none of it: the rest of the crate wraps every
//! request.

// bindgen keeps the C names, and defines every item of the header.
#[expect(non_camel_case_types, reason = "the header's names")]
#[allow(dead_code, reason = "not every item of the header is used here")]
mod generated {
    // The generator writes `ffi::c_uint` and friends for the kernel crate;
    // core has the same names.
    use core::ffi;
    include!("uapi_generated.rs");
}

pub use generated::*;

// The header promises one layout for 32-bit and 64-bit user space.
const _: () = assert!(size_of::<vdmux_status>() == 32);
const _: () = assert!(size_of::<vdmux_range>() == 16);
const _: () = assert!(size_of::<vdmux_ctxmgt>() == 8);
