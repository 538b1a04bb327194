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
//! | `/sys/class/misc/vdmux/pmd_size` | bytes one PMD entry maps, decimal |
//! | `/sys/class/misc/vdmux/chunk_size` | bytes of one chunk of a store, decimal |
//! | `/sys/class/misc/vdmux/ctxmgt` | `1` with context management on, else `0` |
//! | `/sys/class/misc/vdmux/ctxmgt_timeout_ms` | the hold time, decimal |
//! | `/sys/class/misc/vdmux/ctxmgt_switches` | switches made by accesses |
//!
//! Every node's fdinfo shows the last three too.

use crate::{
    control::Control,
    events::state_name,
    kernel_ext::{
        node_attrs::node_attributes,
        vma_geometry::PMD_SIZE, //
    },
    mux::Mux,
    store,
    uapi,
    vdev::Vdev, //
};
use kernel::{
    prelude::*,
    seq_file::SeqFile,
    seq_print,
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
    PmdSize,
    ChunkSize,
    Ctxmgt,
    CtxmgtTimeoutMs,
    CtxmgtSwitches,
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
        c"pmd_size" => ControlAttr::PmdSize,
        c"chunk_size" => ControlAttr::ChunkSize,
        c"ctxmgt" => ControlAttr::Ctxmgt,
        c"ctxmgt_timeout_ms" => ControlAttr::CtxmgtTimeoutMs,
        c"ctxmgt_switches" => ControlAttr::CtxmgtSwitches,
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
        ControlAttr::PmdSize => CString::try_from_fmt(fmt!("{PMD_SIZE}\n")),
        // The backing stores' chunks, and the device memory's when it is
        // RAM: a chunk smaller than `pmd_size` is never mapped with a PMD
        // entry.
        ControlAttr::ChunkSize => {
            CString::try_from_fmt(fmt!("{}\n", store::chunk_size(control.max_reserved_size())))
        }
        ControlAttr::Ctxmgt => CString::try_from_fmt(fmt!("{}\n", control.mux().ctxmgt().enable)),
        ControlAttr::CtxmgtTimeoutMs => {
            CString::try_from_fmt(fmt!("{}\n", control.mux().ctxmgt().timeout_ms))
        }
        ControlAttr::CtxmgtSwitches => {
            CString::try_from_fmt(fmt!("{}\n", control.mux().ctxmgt_switches()))
        }
    }
}

/// Context management's lines of a node's fdinfo.
pub(crate) fn show_ctxmgt(m: &SeqFile, mux: &Mux) {
    let ctx = mux.ctxmgt();
    seq_print!(
        m,
        "vdmux-ctxmgt:\t{}\nvdmux-ctxmgt-timeout-ms:\t{}\nvdmux-ctxmgt-switches:\t{}\n",
        ctx.enable,
        ctx.timeout_ms,
        mux.ctxmgt_switches()
    );
}
