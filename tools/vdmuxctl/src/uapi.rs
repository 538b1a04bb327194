// SPDX-License-Identifier: GPL-2.0

//! The vdmux user-space ABI, generated at build time from
//! `include/uapi/vdmux.h` by `scripts/gen-uapi-rs.sh` (see `build.rs`).

// bindgen output keeps the C names and defines every item of the header,
// whether this tool uses it or not.
#[allow(non_camel_case_types, non_upper_case_globals, dead_code, clippy::all)]
mod generated {
    // The generator writes `ffi::c_uint` and friends for the kernel crate;
    // std has the same names.
    use std::ffi;
    include!(concat!(env!("OUT_DIR"), "/uapi_generated.rs"));
}

pub use generated::*;

// The header promises one layout for 32-bit and 64-bit user space.
const _: () = assert!(size_of::<vdmux_status>() == 32);

impl vdmux_status {
    /// An all-zero status, for the kernel to fill in.
    pub fn zeroed() -> Self {
        Self {
            index: 0,
            state: 0,
            foreground: 0,
            nr_vdevs: 0,
            reserved_size: 0,
            generation: 0,
        }
    }
}
