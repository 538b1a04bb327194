// SPDX-License-Identifier: GPL-2.0

//! The Rust declarations of `pci_helpers.c`, generated from
//! `pci_helpers.h`: the module parameter, PCI and I/O memory functions of
//! the BAR device memory that are macros or static inlines.

// bindgen output keeps the C names; see `helpers.rs`.
#[allow(
    improper_ctypes,
    non_camel_case_types,
    non_upper_case_globals,
    dead_code,
    unreachable_pub,
    clippy::all
)]
mod generated {
    use kernel::{bindings::pci_dev, ffi};
    include!("pci_helpers_generated.rs");
}

// See `helpers.rs` for why rustc 1.85 needs this.
#[allow(unused_imports)]
pub(crate) use generated::*;
