// SPDX-License-Identifier: GPL-2.0

//! The user-space ABI, generated from `include/uapi/vdmux.h`.

// bindgen output keeps the C names.
#[allow(
    non_camel_case_types,
    non_upper_case_globals,
    dead_code,
    unreachable_pub,
    clippy::all
)]
mod generated {
    use kernel::ffi;
    include!("uapi_generated.rs");
}

pub(crate) use generated::*;

// SAFETY: `vdmux_status` is `repr(C)`, made of integers only, with no
// padding (four `__u32` then two `__u64`: 32 bytes, naturally aligned), so
// every byte of it is initialized.
unsafe impl kernel::transmute::AsBytes for vdmux_status {}

const _: () = assert!(core::mem::size_of::<vdmux_status>() == 32);
