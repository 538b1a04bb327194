// SPDX-License-Identifier: GPL-2.0

//! What every node has: an open file, the requests any node answers, and
//! its sysfs directory.

use crate::{Access, Call, Ctxmgt, Error, Result, Status, uapi};
use nix::{errno::Errno, libc};
use std::{
    fs::{File, OpenOptions},
    io,
    os::{
        fd::{AsFd, AsRawFd, BorrowedFd},
        unix::fs::{FileExt, MetadataExt},
    },
    path::{Path, PathBuf},
};

// The pointer requests, with the numbers the header's _IO*() macros give.
mod ioc {
    use crate::uapi::{self, vdmux_ctxmgt, vdmux_range, vdmux_status};
    nix::ioctl_read_bad!(get_status, uapi::VDMUX_IOC_GET_STATUS, vdmux_status);
    nix::ioctl_read_bad!(get_reserved_size, uapi::VDMUX_IOC_GET_RESERVED_SIZE, u64);
    nix::ioctl_write_ptr_bad!(set_reserved_size, uapi::VDMUX_IOC_SET_RESERVED_SIZE, u64);
    nix::ioctl_write_ptr_bad!(populate, uapi::VDMUX_IOC_POPULATE, vdmux_range);
    nix::ioctl_read_bad!(get_ctxmgt, uapi::VDMUX_IOC_GET_CTXMGT, vdmux_ctxmgt);
    nix::ioctl_write_ptr_bad!(set_ctxmgt, uapi::VDMUX_IOC_SET_CTXMGT, vdmux_ctxmgt);
}

/// An open node of the driver, and the path it was opened by.
#[derive(Debug)]
pub(crate) struct Node {
    file: File,
    path: PathBuf,
    access: Access,
}

/// Runs `f` again while it fails with `EINTR`.
fn retry<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

fn open_file(path: &Path, access: Access) -> io::Result<File> {
    // std opens with O_CLOEXEC.
    OpenOptions::new()
        .read(access != Access::WriteOnly)
        .write(access != Access::ReadOnly)
        .open(path)
}

impl Node {
    pub(crate) fn open(path: &Path, access: Access) -> Result<Self> {
        let file = open_file(path, access).map_err(|source| Error::Open {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self {
            file,
            path: path.to_path_buf(),
            access,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn access(&self) -> Access {
        self.access
    }

    /// The error of `call`, which failed with `source`.
    pub(crate) fn error(&self, call: Call, source: impl Into<io::Error>) -> Error {
        Error::Call {
            call,
            path: self.path.clone(),
            source: source.into(),
        }
    }

    /// A second open file of the same node, with the same access: its own
    /// file position and its own last-read generation.
    pub(crate) fn reopen(&self) -> Result<File> {
        open_file(&self.path, self.access).map_err(|source| Error::Open {
            path: self.path.clone(),
            source,
        })
    }

    /// `VDMUX_IOC_GET_STATUS` on `file`, an open file of a node.
    pub(crate) fn status_of(file: &impl AsRawFd) -> io::Result<Status> {
        let mut raw = uapi::vdmux_status {
            index: 0,
            state: 0,
            foreground: 0,
            nr_vdevs: 0,
            reserved_size: 0,
            generation: 0,
        };
        // SAFETY: The request writes one `vdmux_status` into `raw`, which
        // lives for the call.
        unsafe { ioc::get_status(file.as_raw_fd(), &mut raw) }?;
        Ok(Status::from_raw(&raw))
    }

    /// `VDMUX_IOC_GET_STATUS`.
    pub(crate) fn status(&self) -> Result<Status> {
        Self::status_of(&self.file).map_err(|e| self.error(Call::GetStatus, e))
    }

    /// `VDMUX_IOC_GET_RESERVED_SIZE`.
    pub(crate) fn reserved_size(&self) -> Result<u64> {
        let mut size = 0;
        // SAFETY: The request writes one `__u64` into `size`.
        unsafe { ioc::get_reserved_size(self.file.as_raw_fd(), &mut size) }
            .map_err(|e| self.error(Call::GetReservedSize, e))?;
        Ok(size)
    }

    /// `VDMUX_IOC_SET_RESERVED_SIZE`.
    pub(crate) fn set_reserved_size(&self, size: u64) -> Result<()> {
        // SAFETY: The request reads one `__u64` from `size`.
        unsafe { ioc::set_reserved_size(self.file.as_raw_fd(), &size) }
            .map_err(|e| self.error(Call::SetReservedSize, e))?;
        Ok(())
    }

    /// `VDMUX_IOC_POPULATE` of `[addr, addr + len)` of this process.
    pub(crate) fn populate(&self, addr: usize, len: usize) -> Result<()> {
        let range = uapi::vdmux_range {
            addr: addr as u64,
            len: len as u64,
        };
        // SAFETY: The request reads one `vdmux_range` from `range`. The
        // driver checks that the range is this node's mappings, and only
        // maps their pages: no memory of the process changes.
        unsafe { ioc::populate(self.file.as_raw_fd(), &range) }
            .map_err(|e| self.error(Call::Populate, e))?;
        Ok(())
    }

    /// `VDMUX_IOC_GET_CTXMGT`.
    pub(crate) fn ctxmgt(&self) -> Result<Ctxmgt> {
        let mut raw = uapi::vdmux_ctxmgt {
            enable: 0,
            timeout_ms: 0,
        };
        // SAFETY: The request writes one `vdmux_ctxmgt` into `raw`.
        unsafe { ioc::get_ctxmgt(self.file.as_raw_fd(), &mut raw) }
            .map_err(|e| self.error(Call::GetCtxmgt, e))?;
        Ok(Ctxmgt::from_raw(&raw))
    }

    /// `VDMUX_IOC_SET_CTXMGT`.
    pub(crate) fn set_ctxmgt(&self, ctx: Ctxmgt) -> Result<()> {
        let raw = ctx.to_raw();
        // SAFETY: The request reads one `vdmux_ctxmgt` from `raw`.
        unsafe { ioc::set_ctxmgt(self.file.as_raw_fd(), &raw) }
            .map_err(|e| self.error(Call::SetCtxmgt, e))?;
        Ok(())
    }

    /// A request whose argument is an integer by value (an unsigned long:
    /// nix's integer requests take a C int, which would sign-extend
    /// `u32::MAX`).
    pub(crate) fn by_value(&self, call: Call, request: u32, arg: u32) -> Result<()> {
        // SAFETY: These requests take an integer, not a pointer.
        let ret = unsafe {
            libc::ioctl(
                self.file.as_raw_fd(),
                libc::c_ulong::from(request),
                libc::c_ulong::from(arg),
            )
        };
        Errno::result(ret).map_err(|e| self.error(call, e))?;
        Ok(())
    }

    /// `VDMUX_IOC_WAIT_FOREGROUND`, waiting again after `EINTR`.
    pub(crate) fn wait_foreground(&self, index: u32) -> Result<()> {
        retry(|| {
            // SAFETY: The request takes an integer, not a pointer.
            let ret = unsafe {
                libc::ioctl(
                    self.file.as_raw_fd(),
                    libc::c_ulong::from(uapi::VDMUX_IOC_WAIT_FOREGROUND),
                    libc::c_ulong::from(index),
                )
            };
            Errno::result(ret).map(drop).map_err(io::Error::from)
        })
        .map_err(|e| self.error(Call::WaitForeground, e))
    }

    /// `pread(2)`, again after `EINTR`.
    pub(crate) fn read_at(&self, buf: &mut [u8], offset: u64) -> Result<usize> {
        retry(|| self.file.read_at(buf, offset)).map_err(|e| self.error(Call::Read, e))
    }

    /// `pwrite(2)`, again after `EINTR`.
    pub(crate) fn write_at(&self, buf: &[u8], offset: u64) -> Result<usize> {
        retry(|| self.file.write_at(buf, offset)).map_err(|e| self.error(Call::Write, e))
    }

    /// The node's directory in sysfs, `/sys/dev/char/MAJOR:MINOR`, found by
    /// its device number rather than its name.
    pub(crate) fn sysfs_dir(&self) -> Result<PathBuf> {
        let rdev = self
            .file
            .metadata()
            .map_err(|e| self.error(Call::Sysfs, e))?
            .rdev();
        // The kernel's encoding of a dev_t for user space (glibc's
        // gnu_dev_major and gnu_dev_minor).
        let major = ((rdev >> 32) & 0xffff_f000) | ((rdev >> 8) & 0xfff);
        let minor = ((rdev >> 12) & 0xffff_ff00) | (rdev & 0xff);
        Ok(PathBuf::from(format!("/sys/dev/char/{major}:{minor}")))
    }

    /// Sysfs attribute `name` of the node as a number; `None` when the
    /// driver has no such attribute.
    pub(crate) fn sysfs_u64(&self, name: &str) -> Result<Option<u64>> {
        let path = self.sysfs_dir()?.join(name);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.error(Call::Sysfs, e)),
        };
        text.trim().parse().map(Some).map_err(|_| {
            let msg = format!("{}: not a number: {:?}", path.display(), text.trim());
            self.error(Call::Sysfs, io::Error::new(io::ErrorKind::InvalidData, msg))
        })
    }
}

impl AsFd for Node {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }
}
