// SPDX-License-Identifier: GPL-2.0

//! A virtual device node: its bytes, its mappings and its status.

use crate::{Access, Call, Ctxmgt, Error, Events, Mapping, Mux, Result, Status, node::Node, uapi};
use std::{
    ops::Range,
    os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd},
    path::{Path, PathBuf},
};

/// A virtual device (`/dev/vdmuxN`): memory that [`map`](Self::map) gives
/// to the process, and that [`read_at`](Self::read_at) and
/// [`write_at`](Self::write_at) copy.
///
/// Opening it needs no privilege beyond the node's permissions (group
/// `vdmux` with the project's udev rule). Its status, the reserved size and
/// [`wait_foreground`](Self::wait_foreground) work through it as through
/// the control node.
///
/// ```no_run
/// use vdmux::{Access, Vdev};
///
/// # fn main() -> vdmux::Result<()> {
/// let vdev = Vdev::open_index(0, Access::ReadWrite)?;
/// vdev.write_at(b"hello", 0)?;
/// let map = vdev.map(0, 4096)?;
/// let mut bytes = [0; 5];
/// map.read(0, &mut bytes)?;
/// assert_eq!(&bytes, b"hello");
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Vdev {
    node: Node,
    index: u32,
}

impl Vdev {
    /// Opens the virtual device node at `path`.
    ///
    /// Fails with [`Error::WrongNode`] when `path` is a control node.
    pub fn open(path: impl AsRef<Path>, access: Access) -> Result<Self> {
        let node = Node::open(path.as_ref(), access)?;
        match node.status()?.index {
            Some(index) => Ok(Self { node, index }),
            None => Err(Error::WrongNode {
                path: path.as_ref().to_path_buf(),
                expected: "virtual device",
            }),
        }
    }

    /// Opens virtual device `index` of the driver's multiplexer
    /// (`/dev/vdmuxN`), for a caller who may not open its control node;
    /// [`Mux::vdev`] does the same from an open control node.
    pub fn open_index(index: u32, access: Access) -> Result<Self> {
        let mut path = PathBuf::from(Mux::DEFAULT_PATH).into_os_string();
        path.push(index.to_string());
        Self::open(path, access)
    }

    /// Its index: 2 for `/dev/vdmux2`.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The path it was opened by.
    pub fn path(&self) -> &Path {
        self.node.path()
    }

    /// `VDMUX_IOC_GET_STATUS`: this virtual device's status, whose
    /// generation moves on each of its state changes.
    pub fn status(&self) -> Result<Status> {
        self.node.status()
    }

    /// `VDMUX_IOC_GET_RESERVED_SIZE`: its size.
    pub fn reserved_size(&self) -> Result<u64> {
        self.node.reserved_size()
    }

    /// `VDMUX_IOC_GET_CTXMGT`: whether context management is on, and its
    /// hold time (see [`Mux::ctxmgt`]).
    pub fn ctxmgt(&self) -> Result<Ctxmgt> {
        self.node.ctxmgt()
    }

    /// `VDMUX_IOC_WAIT_FOREGROUND`: returns once virtual device `index`
    /// (any of the multiplexer's, not only this one) is the foreground; see
    /// [`Mux::wait_foreground`].
    pub fn wait_foreground(&self, index: u32) -> Result<()> {
        self.node.wait_foreground(index)
    }

    /// `pread(2)` at byte `offset`: how many bytes were read, 0 at the end.
    /// `ENODEV` while the virtual device is removed.
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize> {
        self.node.read_at(buf, offset)
    }

    /// `pwrite(2)` at byte `offset`: how many bytes were written. `ENOSPC`
    /// past the end, `ENODEV` while the virtual device is removed.
    pub fn write_at(&self, buf: &[u8], offset: u64) -> Result<usize> {
        self.node.write_at(buf, offset)
    }

    /// `VDMUX_IOC_SET_AUTOGROW`: with `true`, writable mappings made
    /// through this open file from now on are autogrow mappings: they may
    /// reach past the reserved size, up to the driver's maximum, and a
    /// store there grows the reserved size to the end of its page (a load
    /// there raises `SIGBUS`). Needs a file open for writing (else `EBADF`).
    pub fn set_autogrow(&self, on: bool) -> Result<()> {
        self.node.by_value(
            Call::SetAutogrow,
            uapi::VDMUX_IOC_SET_AUTOGROW,
            u32::from(on),
        )
    }

    /// Maps `len` bytes from byte `offset` (a page multiple) with
    /// `MAP_SHARED`: readable, and writable too when the node is open for
    /// reading and writing. A file open for writing only cannot be mapped
    /// (`EACCES`). `ENOMEM` past the reserved size (but for an autogrow
    /// mapping), `ENODEV` while removed.
    ///
    /// See [`Mapping`] for when an access through it raises `SIGBUS`.
    pub fn map(&self, offset: u64, len: usize) -> Result<Mapping> {
        let writable = self.node.access() == Access::ReadWrite;
        Mapping::new(&self.node, offset, len, writable).map_err(|e| self.node.error(Call::Mmap, e))
    }

    /// `VDMUX_IOC_POPULATE`: maps every page of `mapping` now, as the first
    /// touch of each would, so that no access faults until the next state
    /// change. `mapping` must be of this virtual device (else `EFAULT`).
    pub fn populate(&self, mapping: &Mapping) -> Result<()> {
        self.populate_range(mapping, 0..mapping.len())
    }

    /// [`populate`](Self::populate) of bytes `range` of `mapping`, whose
    /// ends must be page multiples (else `EINVAL`).
    pub fn populate_range(&self, mapping: &Mapping, range: Range<usize>) -> Result<()> {
        let len = range.end.saturating_sub(range.start);
        mapping.check_range(range.start, len)?;
        self.node
            .populate(mapping.as_ptr() as usize + range.start, len)
    }

    /// A stream of this virtual device's changes: one
    /// [`Event`](crate::Event) whenever its generation moved.
    pub fn events(&self) -> Result<Events> {
        Events::new(&self.node)
    }
}

impl AsFd for Vdev {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.node.as_fd()
    }
}

impl AsRawFd for Vdev {
    fn as_raw_fd(&self) -> RawFd {
        self.node.as_fd().as_raw_fd()
    }
}
