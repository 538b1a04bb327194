// SPDX-License-Identifier: GPL-2.0

//! `/dev/vdmuxN`: one virtual device, mapped with mmap(2) or copied with
//! read(2) and write(2).

use crate::{
    ioctl::{
        self,
        NodeKind, //
    },
    kernel_ext::{
        fault::{
            AroundFault,
            HugeFault,
            PageFault, //
        },
        misc_node::{
            self,
            Node,
            NodeDevice,
            SeekFile, //
        },
        node_attrs::AttributeGroups,
        pfnmap::{
            FaultDone,
            FaultError, //
        },
        poll_events::PollEvents,
        vma_ops::{
            NewMapping,
            VmaHandler, //
        },
    },
    mux::Mux,
    state::VdevState,
    sysfs::{
        self,
        VdevAttr, //
    },
    uapi, //
};
use core::sync::atomic::{
    AtomicBool,
    AtomicU64,
    Ordering, //
};
use kernel::{
    fs::{
        file,
        File,
        Kiocb, //
    },
    iov::{
        IovIterDest,
        IovIterSource, //
    },
    miscdevice::{
        MiscDevice,
        MiscDeviceRegistration, //
    },
    mm::virt::{
        flags,
        VmaNew, //
    },
    prelude::*,
    seq_file::SeqFile,
    seq_print,
    str::CString,
    sync::{
        poll::PollTable,
        Arc, //
    },
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};

/// One virtual device. Every open file and every VMA of it holds a
/// reference.
pub(crate) struct Vdev {
    mux: Arc<Mux>,
    index: usize,
}

impl Vdev {
    pub(crate) fn new(mux: Arc<Mux>, index: usize) -> Result<Arc<Self>> {
        Ok(Arc::new(Self { mux, index }, GFP_KERNEL)?)
    }

    /// The state and generation of the virtual device.
    pub(crate) fn state(&self) -> (VdevState, u64) {
        self.mux.vdev_state(self.index)
    }
}

/// An open file of a virtual device.
pub(crate) struct VdevFile {
    vdev: Arc<Vdev>,
    /// The generation this file last returned from GET_STATUS (at open, the
    /// current one): `poll` reports EPOLLPRI while the vdev's differs.
    seen: AtomicU64,
    /// `VDMUX_IOC_SET_AUTOGROW`: whether writable mappings made through this
    /// file from now on are autogrow mappings.
    autogrow: AtomicBool,
}

/// One mapping (VMA, and every copy of it) of a virtual device: what its
/// faults need to know beyond the device.
pub(crate) struct VdevMapping {
    vdev: Arc<Vdev>,
    /// A store past the reserved size grows it (IRIX `MAP_AUTOGROW`).
    autogrow: bool,
}

impl VdevFile {
    /// The ioctls that act on this open file; `None` for the others.
    fn file_ioctl(&self, file: &File, cmd: u32, arg: usize) -> Option<Result> {
        match cmd {
            uapi::VDMUX_IOC_SET_AUTOGROW => Some(self.set_autogrow(file, arg)),
            uapi::VDMUX_IOC_POPULATE => Some(self.populate(arg)),
            _ => None,
        }
    }

    fn set_autogrow(&self, file: &File, arg: usize) -> Result {
        if file.flags() & file::flags::O_ACCMODE == file::flags::O_RDONLY {
            return Err(EBADF);
        }
        let on = match arg {
            0 => false,
            1 => true,
            _ => return Err(EINVAL),
        };
        self.autogrow.store(on, Ordering::Relaxed);
        Ok(())
    }

    fn populate(&self, arg: usize) -> Result {
        let range: uapi::vdmux_range =
            UserSlice::new(UserPtr::from_addr(arg), size_of::<uapi::vdmux_range>())
                .reader()
                .read()?;
        let vdev = &self.vdev;
        vdev.mux.populate(vdev.index, range.addr, range.len)
    }
}

#[vtable]
impl MiscDevice for Vdev {
    type Ptr = KBox<VdevFile>;

    fn open(file: &File, misc: &MiscDeviceRegistration<Self>) -> Result<KBox<VdevFile>> {
        // SAFETY: `Vdev` nodes are registered only through `Node<Vdev>`.
        let vdev = unsafe { Node::<Vdev>::data_of(misc) }.clone();
        vdev.mux.check_reachable()?;
        let seen = AtomicU64::new(vdev.state().1);
        // SAFETY: We are in the file's `open`; the `Arc<Vdev>` in the
        // `VdevFile` we return becomes the file's private data and keeps the
        // `Mux` alive until the file is released.
        unsafe { vdev.mux.attach(vdev.index, file) };
        Ok(KBox::new(
            VdevFile {
                vdev,
                seen,
                autogrow: AtomicBool::new(false),
            },
            GFP_KERNEL,
        )?)
    }

    fn mmap(open: &VdevFile, file: &File, vma: &VmaNew) -> Result {
        let vdev = &open.vdev;
        // MAP_SHARED only. A shared mapping of a read-only file loses
        // VM_SHARED but keeps VM_MAYSHARE, so test the latter.
        if vma.flags() & flags::MAYSHARE == 0 {
            return Err(EINVAL);
        }
        if vma.executable() {
            return Err(EACCES);
        }
        vma.try_clear_mayexec()?;
        if file.flags() & file::flags::O_ACCMODE == file::flags::O_RDONLY {
            vma.try_clear_maywrite()?;
        }
        let mapping = NewMapping::new(vma)?;
        vma.set_dontdump();
        if vdev.mux.device_memory_is_io() {
            // The foreground's pages are a device's memory (a PCI BAR).
            vma.set_io();
        }
        // Autogrow needs stores: a mapping that cannot write is an ordinary
        // one, whatever the file asked for.
        let autogrow = open.autogrow.load(Ordering::Relaxed) && vma.writable();
        let handler = Arc::new(
            VdevMapping {
                vdev: vdev.clone(),
                autogrow,
            },
            GFP_KERNEL,
        )?;
        vdev.mux
            .map(vdev.index, mapping.pgoff(), mapping.len(), autogrow)?;
        // The last step, which cannot fail: from here on only the VMA's
        // `close` undoes the count taken by `map`.
        mapping.install(handler);
        Ok(())
    }

    fn read_iter(mut kiocb: Kiocb<'_, Self::Ptr>, iov: &mut IovIterDest<'_>) -> Result<usize> {
        let vdev = kiocb.file().vdev.clone();
        vdev.mux.read(vdev.index, kiocb.ki_pos_mut(), iov)
    }

    fn write_iter(mut kiocb: Kiocb<'_, Self::Ptr>, iov: &mut IovIterSource<'_>) -> Result<usize> {
        let vdev = kiocb.file().vdev.clone();
        vdev.mux.write(vdev.index, kiocb.ki_pos_mut(), iov)
    }

    fn ioctl(open: &VdevFile, file: &File, cmd: u32, arg: usize) -> Result<isize> {
        if let Some(result) = open.file_ioctl(file, cmd, arg) {
            return result.map(|()| 0);
        }
        let vdev = &open.vdev;
        ioctl::dispatch(&vdev.mux, NodeKind::Vdev(vdev.index), &open.seen, cmd, arg)
    }

    fn show_fdinfo(open: &VdevFile, m: &SeqFile, _file: &File) {
        let vdev = &open.vdev;
        let status = vdev.mux.status(Some(vdev.index));
        let (huge_blocks, faults) = vdev.mux.map_stats(vdev.index);
        seq_print!(
            m,
            "vdmux-index:\t{}\nvdmux-state:\t{}\nvdmux-generation:\t{}\n",
            status.index,
            uapi::state_name(status.state),
            status.generation
        );
        seq_print!(
            m,
            "vdmux-huge-blocks:\t{}\nvdmux-page-faults:\t{}\nvdmux-huge-faults:\t{}\n",
            huge_blocks,
            faults.pages,
            faults.huge
        );
        seq_print!(
            m,
            "vdmux-vma-lock-faults:\t{}\nvdmux-map-pages-faults:\t{}\nvdmux-autogrow:\t{}\n",
            faults.vma_lock,
            faults.map_pages,
            u8::from(open.autogrow.load(Ordering::Relaxed))
        );
        sysfs::show_ctxmgt(m, &vdev.mux);
    }
}

impl NodeDevice for Vdev {
    type NodeData = Arc<Vdev>;

    type AttributeId = VdevAttr;

    fn attribute_groups() -> &'static AttributeGroups<Self> {
        &sysfs::VDEV_ATTRIBUTES
    }

    fn show_attribute(vdev: &Arc<Vdev>, attr: VdevAttr) -> Result<CString> {
        sysfs::vdev_text(vdev, attr)
    }

    fn llseek(open: &VdevFile, file: &SeekFile<'_>, offset: i64, whence: u32) -> Result<i64> {
        misc_node::llseek_sized(file, offset, whence, open.vdev.mux.reserved_size())
    }

    /// `EPOLLPRI` while the generation differs from the one this file
    /// last returned; `EPOLLERR` while removed, else ready to read and
    /// write.
    fn poll(open: &VdevFile, file: &File, table: PollTable<'_>) -> PollEvents {
        let vdev = &open.vdev;
        // Registered before the state is read, so no change is missed.
        vdev.mux.poll_wait(file, &table);
        let (state, generation) = vdev.state();
        let changed = PollEvents::PRI.when(generation != open.seen.load(Ordering::Relaxed));
        let ready = match state {
            VdevState::Removed => PollEvents::ERR,
            VdevState::Foreground | VdevState::Background => {
                PollEvents::IN | PollEvents::RDNORM | PollEvents::OUT | PollEvents::WRNORM
            }
        };
        changed | ready
    }

    fn fsync(open: &VdevFile) -> Result {
        // The bytes are in the device memory or the backing store already:
        // there is nothing to write back.
        match open.vdev.state().0 {
            VdevState::Removed => Err(ENODEV),
            _ => Ok(()),
        }
    }
}

impl VmaHandler for VdevMapping {
    fn vma_opened(&self) {
        self.vdev.mux.vma_opened(self.vdev.index);
    }

    fn vma_closed(&self) {
        self.vdev.mux.vma_closed(self.vdev.index);
    }

    fn fault(&self, fault: &PageFault) -> Result<FaultDone, FaultError> {
        self.vdev.mux.fault(self.vdev.index, fault, self.autogrow)
    }

    fn map_pages(&self, fault: &AroundFault, _start: usize, _end: usize) -> bool {
        self.vdev.mux.map_pages(self.vdev.index, fault)
    }

    fn huge_fault(&self, fault: &HugeFault) -> Result<FaultDone, FaultError> {
        self.vdev.mux.huge_fault(self.vdev.index, fault)
    }
}
