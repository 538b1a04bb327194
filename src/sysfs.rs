// SPDX-License-Identifier: GPL-2.0

//! The nodes' sysfs attributes: their text. The attribute tables are C
//! (`c_helpers.c`, built with the kernel's `DEVICE_ATTR_RO`), and each show
//! callback there calls [`vdmux_attr_show`] with the node's miscdevice.
//!
//! | file | text |
//! |---|---|
//! | `/sys/class/misc/vdmuxN/state` | `foreground`, `background` or `removed` |
//! | `/sys/class/misc/vdmuxN/generation` | the vdev's generation |
//! | `/sys/class/misc/vdmux/foreground` | the foreground's index, or `none` |
//! | `/sys/class/misc/vdmux/reserved_size` | bytes, decimal |
//! | `/sys/class/misc/vdmux/nr_vdevs` | decimal |
//! | `/sys/class/misc/vdmux/max_reserved_size` | bytes, decimal |

use crate::{
    control::Control,
    events::state_name,
    helpers,
    kernel_ext::misc_node::Node,
    uapi,
    vdev::Vdev, //
};
use core::ffi::{
    c_char,
    c_long,
    c_uint, //
};
use kernel::{
    bindings,
    page::PAGE_SIZE,
    prelude::*,
    str::CString, //
};

/// The text of attribute `attr` of the node registered as `misc`.
///
/// # Safety
///
/// `misc` must be the miscdevice of a live `Node<Vdev>` for the vdev
/// attributes, of a live `Node<Control>` for the control node's.
unsafe fn attr_text(misc: *mut bindings::miscdevice, attr: c_uint) -> Result<CString> {
    match attr {
        helpers::vdmux_attr_VDMUX_ATTR_STATE | helpers::vdmux_attr_VDMUX_ATTR_GENERATION => {
            // SAFETY: A vdev attribute: `misc` is a live `Node<Vdev>`.
            let vdev = unsafe { Node::<Vdev>::data_of_raw(misc) };
            let (state, generation) = vdev.state();
            if attr == helpers::vdmux_attr_VDMUX_ATTR_STATE {
                CString::try_from_fmt(fmt!("{}\n", state_name(state)))
            } else {
                CString::try_from_fmt(fmt!("{generation}\n"))
            }
        }
        _ => {
            // SAFETY: A control node attribute: `misc` is a live
            // `Node<Control>`.
            let control = unsafe { Node::<Control>::data_of_raw(misc) };
            let status = control.status();
            match attr {
                helpers::vdmux_attr_VDMUX_ATTR_FOREGROUND => match status.foreground {
                    uapi::VDMUX_NONE => CString::try_from_fmt(fmt!("none\n")),
                    f => CString::try_from_fmt(fmt!("{f}\n")),
                },
                helpers::vdmux_attr_VDMUX_ATTR_RESERVED_SIZE => {
                    CString::try_from_fmt(fmt!("{}\n", status.reserved_size))
                }
                helpers::vdmux_attr_VDMUX_ATTR_NR_VDEVS => {
                    CString::try_from_fmt(fmt!("{}\n", status.nr_vdevs))
                }
                helpers::vdmux_attr_VDMUX_ATTR_MAX_RESERVED_SIZE => {
                    CString::try_from_fmt(fmt!("{}\n", control.max_reserved_size()))
                }
                _ => Err(EINVAL),
            }
        }
    }
}

/// The show callback of every attribute, called by `c_helpers.c` (whose
/// header declares it): writes the text of `attr` of the node registered
/// as `misc` into `buf`, a page, and returns its length or `-errno`.
///
/// # Safety
///
/// `misc` must be the drvdata of the device whose attribute is read (the
/// node's miscdevice: `misc_register` sets it), `attr` one of that node's
/// attributes, and `buf` a writable page.
#[no_mangle]
unsafe extern "C" fn vdmux_attr_show(
    misc: *mut bindings::miscdevice,
    attr: c_uint,
    buf: *mut c_char,
) -> c_long {
    // SAFETY: The attribute tables give the vdev attributes to vdev nodes
    // only and the others to the control node only, and a node outlives
    // reads of its attributes (deregistration drains them).
    let text = match unsafe { attr_text(misc, attr) } {
        Ok(text) => text,
        Err(e) => return e.to_errno().into(),
    };
    let bytes = text.to_bytes();
    let len = bytes.len().min(PAGE_SIZE - 1);
    // SAFETY: `buf` is a writable page (the function's safety requirements)
    // and `len` is less than a page.
    unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), buf.cast::<u8>(), len) };
    len as c_long
}
