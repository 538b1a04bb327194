// SPDX-License-Identifier: GPL-2.0

//! `/dev/vdmux`: the control node.

use crate::{
    ioctl::{
        self,
        NodeKind, //
    },
    misc::{
        Node,
        NodeDevice, //
    },
    mux::Mux,
    uapi,
};
use kernel::{
    fs::File,
    miscdevice::{
        MiscDevice,
        MiscDeviceRegistration, //
    },
    prelude::*,
    seq_file::SeqFile,
    seq_print,
    sync::{
        Arc,
        ArcBorrow, //
    },
};

/// The control node: resize, switch, eject, insert and status. It cannot be
/// mapped (`ENODEV`), read or written.
pub(crate) struct Control {
    mux: Arc<Mux>,
}

impl Control {
    pub(crate) fn new(mux: Arc<Mux>) -> Result<Arc<Self>> {
        Ok(Arc::new(Self { mux }, GFP_KERNEL)?)
    }
}

#[vtable]
impl MiscDevice for Control {
    type Ptr = Arc<Control>;

    fn open(_file: &File, misc: &MiscDeviceRegistration<Self>) -> Result<Arc<Control>> {
        Ok(Node::<Control>::data_of(misc).clone())
    }

    fn ioctl(control: ArcBorrow<'_, Control>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        ioctl::dispatch(&control.mux, NodeKind::Control, cmd, arg)
    }

    fn show_fdinfo(control: ArcBorrow<'_, Control>, m: &SeqFile, _file: &File) {
        let status = control.mux.status(None);
        // -1 when no virtual device is in the foreground.
        let foreground = match status.foreground {
            uapi::VDMUX_NONE => -1,
            f => i64::from(f),
        };
        seq_print!(
            m,
            "vdmux-index:\tcontrol\nvdmux-foreground:\t{}\nvdmux-generation:\t{}\n",
            foreground,
            status.generation
        );
    }
}

impl NodeDevice for Control {
    type NodeData = Arc<Control>;

    fn llseek(
        _control: ArcBorrow<'_, Control>,
        _file: &File,
        _offset: i64,
        _whence: u32,
    ) -> Result<i64> {
        Err(ESPIPE)
    }
}
