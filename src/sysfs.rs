// SPDX-License-Identifier: GPL-2.0

//! The nodes' sysfs attributes, all read-only, in the misc devices' own
//! directories:
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
    kernel_ext::node_attrs::node_attributes,
    uapi,
    vdev::Vdev, //
};
use kernel::{
    prelude::*,
    str::CString, //
};

/// An attribute of a virtual device node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VdevAttr {
    State,
    Generation,
}

/// An attribute of the control node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ControlAttr {
    Foreground,
    ReservedSize,
    NrVdevs,
    MaxReservedSize,
}

node_attributes! {
    pub(crate) static VDEV_ATTRIBUTES: Vdev = [
        c"state" => VdevAttr::State,
        c"generation" => VdevAttr::Generation,
    ];
}

node_attributes! {
    pub(crate) static CONTROL_ATTRIBUTES: Control = [
        c"foreground" => ControlAttr::Foreground,
        c"reserved_size" => ControlAttr::ReservedSize,
        c"nr_vdevs" => ControlAttr::NrVdevs,
        c"max_reserved_size" => ControlAttr::MaxReservedSize,
    ];
}

/// The text of attribute `attr` of `vdev`'s node.
pub(crate) fn vdev_text(vdev: &Vdev, attr: VdevAttr) -> Result<CString> {
    let (state, generation) = vdev.state();
    match attr {
        VdevAttr::State => CString::try_from_fmt(fmt!("{}\n", state_name(state))),
        VdevAttr::Generation => CString::try_from_fmt(fmt!("{generation}\n")),
    }
}

/// The text of attribute `attr` of the control node.
pub(crate) fn control_text(control: &Control, attr: ControlAttr) -> Result<CString> {
    let status = control.status();
    match attr {
        ControlAttr::Foreground => match status.foreground {
            uapi::VDMUX_NONE => CString::try_from_fmt(fmt!("none\n")),
            f => CString::try_from_fmt(fmt!("{f}\n")),
        },
        ControlAttr::ReservedSize => CString::try_from_fmt(fmt!("{}\n", status.reserved_size)),
        ControlAttr::NrVdevs => CString::try_from_fmt(fmt!("{}\n", status.nr_vdevs)),
        ControlAttr::MaxReservedSize => {
            CString::try_from_fmt(fmt!("{}\n", control.max_reserved_size()))
        }
    }
}
