// SPDX-License-Identifier: GPL-2.0

//! The control node: the multiplexer as a whole.

use crate::{Access, Call, Ctxmgt, Error, Events, Result, Status, Vdev, node::Node, uapi};
use std::{
    os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd},
    path::{Path, PathBuf},
};

/// A multiplexer, through its control node (`/dev/vdmux`).
///
/// Its status and the reserved size can be read by anyone who may open the
/// node (root only, with the project's udev rule); [`resize`](Self::resize),
/// [`switch`](Self::switch), [`eject`](Self::eject) and
/// [`insert`](Self::insert) also need `CAP_SYS_ADMIN` (else `EPERM`).
///
/// ```no_run
/// # fn main() -> vdmux::Result<()> {
/// let mux = vdmux::Mux::open()?;
/// let status = mux.status()?;
/// println!("{} virtual devices of {} bytes", status.nr_vdevs, status.reserved_size);
/// mux.switch(1)?;
/// assert_eq!(mux.status()?.foreground, Some(1));
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Mux {
    node: Node,
}

impl Mux {
    /// The control node of the driver's multiplexer.
    pub const DEFAULT_PATH: &'static str = "/dev/vdmux";

    /// Opens [`DEFAULT_PATH`](Self::DEFAULT_PATH) for reading and writing.
    pub fn open() -> Result<Self> {
        Self::open_path(Self::DEFAULT_PATH, Access::ReadWrite)
    }

    /// Opens the control node at `path`. The driver allows every request
    /// on a file open for reading only; opening for writing too says that
    /// the caller means to change something.
    ///
    /// Fails with [`Error::WrongNode`] when `path` is a virtual device.
    pub fn open_path(path: impl AsRef<Path>, access: Access) -> Result<Self> {
        let node = Node::open(path.as_ref(), access)?;
        if node.status()?.index.is_some() {
            return Err(Error::WrongNode {
                path: path.as_ref().to_path_buf(),
                expected: "control node",
            });
        }
        Ok(Self { node })
    }

    /// The path this control node was opened by.
    pub fn path(&self) -> &Path {
        self.node.path()
    }

    /// `VDMUX_IOC_GET_STATUS`: the multiplexer's status, whose generation
    /// moves on every change of any virtual device and on every resize.
    pub fn status(&self) -> Result<Status> {
        self.node.status()
    }

    /// `VDMUX_IOC_GET_RESERVED_SIZE`: the size of every virtual device.
    pub fn reserved_size(&self) -> Result<u64> {
        self.node.reserved_size()
    }

    /// The largest reserved size the driver accepts (its
    /// `max_reserved_size`), from the control node's sysfs attribute;
    /// `None` for a driver that does not show it.
    pub fn max_reserved_size(&self) -> Result<Option<u64>> {
        self.node.sysfs_u64("max_reserved_size")
    }

    /// `VDMUX_IOC_SET_RESERVED_SIZE`: sets the reserved size to `bytes`
    /// rounded up to a page. Bytes below the new size are kept and new ones
    /// are zero. While any virtual device is mapped the size may only grow
    /// (else `EBUSY`); 0 and sizes past the maximum are `EINVAL`.
    pub fn resize(&self, bytes: u64) -> Result<()> {
        self.node.set_reserved_size(bytes)
    }

    /// `VDMUX_IOC_SWITCH`: brings virtual device `index` to the foreground.
    /// Its pages become the device memory; the previous foreground's go to
    /// its backing store. Mappings of both stay valid and see their own
    /// bytes. `EINVAL` for an index that does not exist, `ENODEV` for a
    /// removed virtual device.
    pub fn switch(&self, index: u32) -> Result<()> {
        self.node
            .by_value(Call::Switch, uapi::VDMUX_IOC_SWITCH, index)
    }

    /// `VDMUX_IOC_EJECT`: removes virtual device `index`. Its bytes are
    /// kept for [`insert`](Self::insert); until then, reads, writes and new
    /// mappings fail with `ENODEV` and accesses through existing mappings
    /// raise `SIGBUS`. `EINVAL` when it is removed already.
    pub fn eject(&self, index: u32) -> Result<()> {
        self.node
            .by_value(Call::Eject, uapi::VDMUX_IOC_EJECT, index)
    }

    /// `VDMUX_IOC_INSERT`: brings removed virtual device `index` back, in
    /// the background, with the bytes it had. `EINVAL` when it is not
    /// removed.
    pub fn insert(&self, index: u32) -> Result<()> {
        self.node
            .by_value(Call::Insert, uapi::VDMUX_IOC_INSERT, index)
    }

    /// `VDMUX_IOC_WAIT_FOREGROUND`: returns once virtual device `index` is
    /// the foreground, at once if it is. Sleeps for as long as it takes,
    /// which may be for ever; a signal handler's `EINTR` waits again (a
    /// thread that gives up can leave the waiting thread behind, or the
    /// caller can use [`events`](Self::events) with a timeout instead).
    pub fn wait_foreground(&self, index: u32) -> Result<()> {
        self.node.wait_foreground(index)
    }

    /// `VDMUX_IOC_GET_CTXMGT`: whether context management is on, and its
    /// hold time.
    pub fn ctxmgt(&self) -> Result<Ctxmgt> {
        self.node.ctxmgt()
    }

    /// `VDMUX_IOC_SET_CTXMGT`: with context management on, an access to a
    /// background virtual device through a mapping (or a populate) makes
    /// it the foreground, as [`switch`](Self::switch) would, once the
    /// foreground has held the device memory for the hold time. `EINVAL`
    /// for a hold time above 10 s.
    pub fn set_ctxmgt(&self, ctx: Ctxmgt) -> Result<()> {
        self.node.set_ctxmgt(ctx)
    }

    /// The number of switches context management made for accesses, from
    /// the control node's sysfs attribute; `None` for a driver that does
    /// not show it.
    pub fn ctxmgt_switches(&self) -> Result<Option<u64>> {
        self.node.sysfs_u64("ctxmgt_switches")
    }

    /// The path of virtual device `index` of this multiplexer (see
    /// [`vdev_path_of`](Self::vdev_path_of)).
    pub fn vdev_path(&self, index: u32) -> PathBuf {
        Self::vdev_path_of(self.path(), index)
    }

    /// The path of virtual device `index` of the multiplexer whose control
    /// node is `control`, by the driver's naming: `/dev/vdmux2` for
    /// `/dev/vdmux` (the first multiplexer, or the only one), and
    /// `/dev/vdmux-1.2` for `/dev/vdmux-1` (another PCI device's). A link
    /// to a control node (udev's `/dev/vdmux-by-path/pci-…`) is followed
    /// first; a path that cannot be followed is taken as it is.
    pub fn vdev_path_of(control: &Path, index: u32) -> PathBuf {
        let control = std::fs::canonicalize(control).unwrap_or_else(|_| control.to_path_buf());
        let mut path = control.into_os_string();
        let instance = Path::new(&path)
            .file_name()
            .is_some_and(|name| name.to_string_lossy().starts_with("vdmux-"));
        if instance {
            path.push(".");
        }
        path.push(index.to_string());
        PathBuf::from(path)
    }

    /// Opens virtual device `index` of this multiplexer.
    pub fn vdev(&self, index: u32, access: Access) -> Result<Vdev> {
        Vdev::open(self.vdev_path(index), access)
    }

    /// A stream of the multiplexer's changes: one [`Event`](crate::Event)
    /// whenever its generation moved.
    pub fn events(&self) -> Result<Events> {
        Events::new(&self.node)
    }
}

impl AsFd for Mux {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.node.as_fd()
    }
}

impl AsRawFd for Mux {
    fn as_raw_fd(&self) -> RawFd {
        self.node.as_fd().as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vdev_paths_follow_the_driver_naming() {
        let none = Path::new("/nonexistent-vdmux-dir");
        assert_eq!(
            Mux::vdev_path_of(&none.join("vdmux"), 2),
            none.join("vdmux2")
        );
        assert_eq!(
            Mux::vdev_path_of(&none.join("vdmux-1"), 2),
            none.join("vdmux-1.2")
        );
        assert_eq!(
            Mux::vdev_path_of(&none.join("vdmux-12"), 0),
            none.join("vdmux-12.0")
        );
    }

    #[test]
    fn vdev_paths_of_a_link_are_its_targets() {
        let dir = std::env::temp_dir().join(format!("vdmux-path-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("by-path")).unwrap();
        std::fs::write(dir.join("vdmux-3"), b"").unwrap();
        std::os::unix::fs::symlink("../vdmux-3", dir.join("by-path/pci-0000:00:04.0")).unwrap();
        let link = dir.join("by-path/pci-0000:00:04.0");
        let want = std::fs::canonicalize(&dir).unwrap().join("vdmux-3.1");
        assert_eq!(Mux::vdev_path_of(&link, 1), want);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
