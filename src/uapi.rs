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

// SAFETY: `vdmux_range` is `repr(C)`, two `__u64` with no padding: any bytes
// are a valid value.
unsafe impl kernel::transmute::FromBytes for vdmux_range {}

const _: () = assert!(core::mem::size_of::<vdmux_range>() == 16);

// SAFETY: `vdmux_ctxmgt` is `repr(C)`, two `__u32` with no padding: every
// byte is initialized, and any bytes are a valid value.
unsafe impl kernel::transmute::AsBytes for vdmux_ctxmgt {}
// SAFETY: As above.
unsafe impl kernel::transmute::FromBytes for vdmux_ctxmgt {}

const _: () = assert!(core::mem::size_of::<vdmux_ctxmgt>() == 8);

/// The name of a `VDMUX_STATE_*` code, as `show_fdinfo` prints it.
pub(crate) fn state_name(state: u32) -> &'static str {
    match state {
        VDMUX_STATE_FOREGROUND => "foreground",
        VDMUX_STATE_BACKGROUND => "background",
        VDMUX_STATE_REMOVED => "removed",
        VDMUX_STATE_CONTROL => "control",
        _ => "unknown",
    }
}
