// SPDX-License-Identifier: GPL-2.0

//! The vdmux user-space ABI: the vdmux crate's bindings of
//! `include/uapi/vdmux.h`.

pub use vdmux::uapi::*;

/// An all-zero status, for the kernel to fill in.
pub fn zeroed_status() -> vdmux_status {
    vdmux_status {
        index: 0,
        state: 0,
        foreground: 0,
        nr_vdevs: 0,
        reserved_size: 0,
        generation: 0,
    }
}
