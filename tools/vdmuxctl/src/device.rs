// SPDX-License-Identifier: GPL-2.0

//! The device nodes and the system calls on them.

use crate::{
    status::{Snapshot, VdevStatus, foreground_of},
    uapi::{self, vdmux_status},
};
use nix::{errno::Errno, libc};
use std::{
    fs::{File, OpenOptions},
    io,
    os::{
        fd::{AsFd, AsRawFd, BorrowedFd},
        unix::fs::FileExt,
    },
};

/// The control node.
pub const CONTROL_PATH: &str = "/dev/vdmux";

/// Where the driver says how large the reserved buffer may grow. Rust
/// module parameters may not be in sysfs, so this is only a hint.
const MAX_RESERVED_PARAM: &str = "/sys/module/vdmux/parameters/max_reserved_size";

/// The node of virtual device `index`.
pub fn vdev_path(index: u32) -> String {
    format!("/dev/vdmux{index}")
}

// The requests, with the numbers the header's _IO*() macros give.
mod ioc {
    use super::{uapi, vdmux_status};
    nix::ioctl_read_bad!(get_status, uapi::VDMUX_IOC_GET_STATUS, vdmux_status);
    nix::ioctl_read_bad!(get_reserved_size, uapi::VDMUX_IOC_GET_RESERVED_SIZE, u64);
    nix::ioctl_write_ptr_bad!(set_reserved_size, uapi::VDMUX_IOC_SET_RESERVED_SIZE, u64);
}

/// How a node is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    /// Read and write: for state changes on the control node, which the
    /// driver allows on any open file but which are writes in spirit.
    ReadWrite,
}

/// An open vdmux node.
pub struct Node {
    file: File,
}

/// An `open(2)` that failed.
#[derive(Debug)]
pub struct OpenError {
    pub path: String,
    pub errno: i32,
}

impl Node {
    pub fn open(path: &str, access: Access) -> Result<Self, OpenError> {
        // std opens with O_CLOEXEC.
        OpenOptions::new()
            .read(access != Access::Write)
            .write(access != Access::Read)
            .open(path)
            .map(|file| Self { file })
            .map_err(|e| OpenError {
                path: path.to_string(),
                errno: errno_of(&e),
            })
    }

    /// `VDMUX_IOC_GET_STATUS`.
    pub fn status(&self) -> io::Result<vdmux_status> {
        let mut status = uapi::zeroed_status();
        // SAFETY: The request writes one `vdmux_status` into `status`.
        unsafe { ioc::get_status(self.file.as_raw_fd(), &mut status) }?;
        Ok(status)
    }

    /// `VDMUX_IOC_GET_RESERVED_SIZE`.
    pub fn reserved_size(&self) -> io::Result<u64> {
        let mut size = 0;
        // SAFETY: The request writes one `__u64` into `size`.
        unsafe { ioc::get_reserved_size(self.file.as_raw_fd(), &mut size) }?;
        Ok(size)
    }

    /// `VDMUX_IOC_SET_RESERVED_SIZE`.
    pub fn set_reserved_size(&self, size: u64) -> io::Result<()> {
        // SAFETY: The request reads one `__u64` from `size`.
        unsafe { ioc::set_reserved_size(self.file.as_raw_fd(), &size) }?;
        Ok(())
    }

    /// `VDMUX_IOC_SWITCH`, `_EJECT`, `_INSERT` or `_WAIT_FOREGROUND`, whose
    /// argument is the virtual device index by value (an unsigned long:
    /// nix's int-valued ioctls take a C int).
    pub fn control(&self, request: u32, index: u32) -> io::Result<()> {
        // SAFETY: These requests take an integer, not a pointer.
        let ret = unsafe {
            libc::ioctl(
                self.file.as_raw_fd(),
                libc::c_ulong::from(request),
                libc::c_ulong::from(index),
            )
        };
        Errno::result(ret)?;
        Ok(())
    }

    /// `VDMUX_IOC_WAIT_FOREGROUND`: returns once virtual device `index` is
    /// the foreground, which may be never. `EINTR` (a stop signal and
    /// SIGCONT; vdmuxctl installs no handlers) waits again.
    pub fn wait_foreground(&self, index: u32) -> io::Result<()> {
        retry(|| self.control(uapi::VDMUX_IOC_WAIT_FOREGROUND, index))
    }

    /// `pread(2)`, retried on `EINTR`.
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        retry(|| self.file.read_at(buf, offset))
    }

    /// `pwrite(2)`, retried on `EINTR`.
    pub fn write_at(&self, buf: &[u8], offset: u64) -> io::Result<usize> {
        retry(|| self.file.write_at(buf, offset))
    }
}

impl AsFd for Node {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}

fn retry<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// The errno of a failed system call; `EIO` for an error that has none,
/// which std only makes up for calls this tool does not use.
pub fn errno_of(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(libc::EIO)
}

/// The largest reserved size the loaded driver accepts, if it says.
pub fn max_reserved_size() -> Option<u64> {
    std::fs::read_to_string(MAX_RESERVED_PARAM)
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Every node, open read-only, for `status` and `watch`.
pub struct Device {
    /// `None` when the caller may not open the control node: then the
    /// virtual devices alone tell the status.
    control: Option<Node>,
    vdevs: Vec<Node>,
}

/// How often [`Device::snapshot`] retries when the device changes under it.
const SNAPSHOT_TRIES: usize = 8;

impl Device {
    /// Opens the control node, or virtual device 0 if the control node is
    /// not accessible, learns the number of virtual devices from it and
    /// opens all of them.
    pub fn open() -> Result<Self, DeviceError> {
        let (control, first) = match Node::open(CONTROL_PATH, Access::Read) {
            Ok(node) => (Some(node), None),
            Err(e) if e.errno == libc::EACCES => match Node::open(&vdev_path(0), Access::Read) {
                Ok(node) => (None, Some(node)),
                // The control node's error says more than vdmux0's.
                Err(_) => return Err(DeviceError::Open(e)),
            },
            Err(e) => return Err(DeviceError::Open(e)),
        };
        let probe = control
            .as_ref()
            .or(first.as_ref())
            .expect("one node is open");
        let nr_vdevs = probe.status().map_err(DeviceError::Status)?.nr_vdevs;
        let mut vdevs = Vec::with_capacity(nr_vdevs as usize);
        vdevs.extend(first);
        for index in vdevs.len() as u32..nr_vdevs {
            vdevs.push(Node::open(&vdev_path(index), Access::Read).map_err(DeviceError::Open)?);
        }
        Ok(Self { control, vdevs })
    }

    /// The control node, when it could be opened.
    pub fn control(&self) -> Option<&Node> {
        self.control.as_ref()
    }

    /// Every virtual device, in index order.
    pub fn vdevs(&self) -> &[Node] {
        &self.vdevs
    }

    /// The status of every node. With the control node, it is read again
    /// until its generation did not move while the virtual devices were
    /// read, so the snapshot is one consistent state.
    pub fn snapshot(&self) -> io::Result<Snapshot> {
        for tries in 1.. {
            let before = self.control.as_ref().map(Node::status).transpose()?;
            let raw = self
                .vdevs
                .iter()
                .map(Node::status)
                .collect::<io::Result<Vec<_>>>()?;
            let after = self.control.as_ref().map(Node::status).transpose()?;
            let stable = before.map(|s| s.generation) == after.map(|s| s.generation);
            if stable || tries == SNAPSHOT_TRIES {
                // The last node read is the most recent word on the
                // foreground and the size.
                let last = after.as_ref().or(raw.last()).copied();
                return Ok(Snapshot {
                    generation: after.map(|s| s.generation),
                    foreground: last.as_ref().and_then(foreground_of),
                    reserved_size: last.map_or(0, |s| s.reserved_size),
                    vdevs: raw.iter().map(VdevStatus::from_raw).collect(),
                });
            }
        }
        unreachable!("the loop returns at the last try")
    }
}

/// Why [`Device::open`] failed.
#[derive(Debug)]
pub enum DeviceError {
    Open(OpenError),
    Status(io::Error),
}
