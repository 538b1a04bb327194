// SPDX-License-Identifier: GPL-2.0

//! `/dev/vdmux`: the control node.

use crate::{
    ioctl::{
        self,
        NodeKind, //
    },
    kernel_ext::{
        misc_node::{
            Node,
            NodeDevice,
            SeekFile, //
        },
        node_attrs::AttributeGroups,
        poll_events::PollEvents,
    },
    mux::Mux,
    sysfs::{
        self,
        ControlAttr, //
    },
    uapi,
};
use core::sync::atomic::{
    AtomicU64,
    Ordering, //
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
    str::CString,
    sync::{
        poll::PollTable,
        Arc, //
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

    /// `VDMUX_IOC_GET_STATUS` of the control node.
    pub(crate) fn status(&self) -> uapi::vdmux_status {
        self.mux.status(None)
    }

    /// The largest reserved size: a module parameter, which a Rust module
    /// does not show in /sys/module/vdmux/parameters/.
    pub(crate) fn max_reserved_size(&self) -> usize {
        self.mux.max_reserved_size()
    }

    pub(crate) fn mux(&self) -> &Mux {
        &self.mux
    }
}

/// An open file of the control node.
pub(crate) struct ControlFile {
    control: Arc<Control>,
    /// The table generation this file last returned from GET_STATUS (at
    /// open, the current one): `poll` reports EPOLLPRI while it differs.
    seen: AtomicU64,
}

#[vtable]
impl MiscDevice for Control {
    type Ptr = KBox<ControlFile>;

    fn open(_file: &File, misc: &MiscDeviceRegistration<Self>) -> Result<KBox<ControlFile>> {
        // SAFETY: The control node is registered only through `Node<Control>`.
        let control = unsafe { Node::<Control>::data_of(misc) }.clone();
        control.mux.check_reachable()?;
        let seen = AtomicU64::new(control.status().generation);
        Ok(KBox::new(ControlFile { control, seen }, GFP_KERNEL)?)
    }

    fn ioctl(open: &ControlFile, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        ioctl::dispatch(&open.control.mux, NodeKind::Control, &open.seen, cmd, arg)
    }

    fn show_fdinfo(open: &ControlFile, m: &SeqFile, _file: &File) {
        let status = open.control.status();
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
        sysfs::show_ctxmgt(m, &open.control.mux);
    }
}

impl NodeDevice for Control {
    type NodeData = Arc<Control>;

    type AttributeId = ControlAttr;

    fn attribute_groups() -> &'static AttributeGroups<Self> {
        &sysfs::CONTROL_ATTRIBUTES
    }

    fn show_attribute(control: &Arc<Control>, attr: ControlAttr) -> Result<CString> {
        sysfs::control_text(control, attr)
    }

    fn llseek(
        _open: &ControlFile,
        _file: &SeekFile<'_>,
        _offset: i64,
        _whence: u32,
    ) -> Result<i64> {
        Err(ESPIPE)
    }

    /// `EPOLLPRI` while the generation differs from the one this file
    /// last returned; nothing else (the node is neither read nor written).
    fn poll(open: &ControlFile, file: &File, table: PollTable<'_>) -> PollEvents {
        // Registered before the generation is read, so no change is missed.
        open.control.mux.poll_wait(file, &table);
        let changed = open.control.status().generation != open.seen.load(Ordering::Relaxed);
        PollEvents::PRI.when(changed)
    }

    fn fsync(_open: &ControlFile) -> Result {
        Err(EINVAL)
    }
}
