// SPDX-License-Identifier: GPL-2.0

//! `/dev/vdmuxN`: one virtual device, mapped with mmap(2) or copied with
//! read(2) and write(2).

use crate::{
    ioctl::{
        self,
        NodeKind, //
    },
    misc::{
        self,
        Node,
        NodeDevice, //
    },
    mux::Mux,
    uapi,
    vm::{
        self,
        FaultDone,
        FaultError,
        VmFault,
        VmaHandler, //
    },
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
    sync::{
        Arc,
        ArcBorrow, //
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
}

#[vtable]
impl MiscDevice for Vdev {
    type Ptr = Arc<Vdev>;

    fn open(file: &File, misc: &MiscDeviceRegistration<Self>) -> Result<Arc<Vdev>> {
        let vdev = Node::<Vdev>::data_of(misc).clone();
        vdev.mux.attach(vdev.index, file);
        Ok(vdev)
    }

    fn mmap(vdev: ArcBorrow<'_, Vdev>, file: &File, vma: &VmaNew) -> Result {
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
        vdev.mux
            .map(vdev.index, vm::vma_pgoff(vma), vma.end() - vma.start())?;
        vma.set_dontdump();
        // `install` refuses only COW mappings, which MAYSHARE rules out; if
        // it ever does, the mapping counted above never comes to be.
        vm::install(vma, vdev.into()).inspect_err(|_| vdev.mux.vma_closed(vdev.index))
    }

    fn read_iter(mut kiocb: Kiocb<'_, Self::Ptr>, iov: &mut IovIterDest<'_>) -> Result<usize> {
        let vdev = kiocb.file();
        vdev.mux.read(vdev.index, kiocb.ki_pos_mut(), iov)
    }

    fn write_iter(mut kiocb: Kiocb<'_, Self::Ptr>, iov: &mut IovIterSource<'_>) -> Result<usize> {
        let vdev = kiocb.file();
        vdev.mux.write(vdev.index, kiocb.ki_pos_mut(), iov)
    }

    fn ioctl(vdev: ArcBorrow<'_, Vdev>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        ioctl::dispatch(&vdev.mux, NodeKind::Vdev(vdev.index), cmd, arg)
    }

    fn show_fdinfo(vdev: ArcBorrow<'_, Vdev>, m: &SeqFile, _file: &File) {
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
    }
}

impl NodeDevice for Vdev {
    type NodeData = Arc<Vdev>;

    fn llseek(vdev: ArcBorrow<'_, Vdev>, file: &File, offset: i64, whence: u32) -> Result<i64> {
        misc::llseek_sized(file, offset, whence, vdev.mux.reserved_size())
    }
}

impl VmaHandler for Vdev {
    fn vma_opened(&self) {
        self.mux.vma_opened(self.index);
    }

    fn vma_closed(&self) {
        self.mux.vma_closed(self.index);
    }

    fn fault(&self, fault: &VmFault) -> Result<FaultDone, FaultError> {
        self.mux.fault(self.index, fault)
    }

    fn huge_fault(&self, fault: &VmFault) -> Result<FaultDone, FaultError> {
        self.mux.huge_fault(self.index, fault)
    }
}
