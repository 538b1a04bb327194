// SPDX-License-Identifier: GPL-2.0

//! The Rust declarations of `c_helpers.c`, generated from `c_helpers.h`: the
//! kernel functions vdmux needs that are macros, static inlines, or missing
//! from the kernel crate's bindings.

// bindgen output keeps the C names. The kernel structures it points to are
// the kernel crate's bindings, some of which hold types Rust calls
// FFI-unsafe (the bindings crate allows that lint too).
#[allow(
    improper_ctypes,
    non_camel_case_types,
    non_upper_case_globals,
    dead_code,
    unreachable_pub,
    clippy::all
)]
mod generated {
    use kernel::{
        bindings::{
            delayed_work,
            fs_context,
            page,
            rw_semaphore,
            vm_area_struct,
            vm_fault,
            wait_queue_head,
            work_struct, //
        },
        ffi,
    };
    include!("c_helpers_generated.rs");
}

// rustc 1.85 (Debian's) reports this glob re-export of extern items as
// unused although they are used through it; newer compilers do not.
#[allow(unused_imports)]
pub(crate) use generated::*;
