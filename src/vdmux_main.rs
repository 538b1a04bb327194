// SPDX-License-Identifier: GPL-2.0

//! vdmux: one reserved buffer of device memory, multiplexed among virtual
//! devices that user space maps with mmap(2).
//!
//! The foreground virtual device's pages are the device memory; the others
//! live in backing stores. SWITCH, EJECT and INSERT on the control node move
//! bytes between them and invalidate every mapping involved, so the next
//! fault maps the right page, or SIGBUS for a removed device.

mod bar;
mod bar_choice;
mod config;
mod control;
mod device_memory;
mod events;
mod helpers;
mod ioctl;
mod kernel_ext;
mod module;
mod mux;
mod node_names;
mod pci;
mod pci_helpers;
mod range;
mod state;
mod store;
mod sysfs;
mod uapi;
mod vdev;

use kernel::prelude::*;

module! {
    type: module::VdmuxModule,
    name: "vdmux",
    authors: ["The vdmux authors"],
    description: "Reserved device memory multiplexed among mmap-able virtual devices",
    license: "GPL",
    params: {
        nr_vdevs: u32 {
            default: 4,
            description: "Number of virtual devices /dev/vdmux0..N-1, 1 to 64 (default 4)",
        },
        // A size not given is config::SIZE_UNSET: with device_memory=pci
        // (a C parameter, src/pci_helpers.c: the macro has no string type)
        // both sizes default to the BAR's.
        reserved_size: u64 {
            default: crate::config::SIZE_UNSET,
            description: "Initial reserved buffer size in bytes, rounded up to pages (default 32768)",
        },
        fault_around_pages: u32 {
            default: 16,
            description: "Pages one fault maps, a power of two from 1 (off) to 512 (default 16)",
        },
        max_reserved_size: u64 {
            default: crate::config::SIZE_UNSET,
            description: "Largest reserved size SET_RESERVED_SIZE accepts, up to 1 GiB (default 67108864)",
        },
        bar: i32 {
            default: crate::config::BAR_AUTO,
            description: "With device_memory=pci, the BAR that is the device memory, 0 to 5 (default -1: the largest prefetchable memory BAR)",
        },
    },
}
