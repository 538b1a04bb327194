// SPDX-License-Identifier: GPL-2.0

//! The one error type of the crate.

use std::{fmt, io, path::PathBuf};

/// What failed: each system call this crate makes on a vdmux node.
///
/// The errno of each request, and what it means, is in vdmux(4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Call {
    /// `VDMUX_IOC_GET_STATUS`.
    GetStatus,
    /// `VDMUX_IOC_GET_RESERVED_SIZE`.
    GetReservedSize,
    /// `VDMUX_IOC_SET_RESERVED_SIZE`.
    SetReservedSize,
    /// `VDMUX_IOC_SWITCH`.
    Switch,
    /// `VDMUX_IOC_EJECT`.
    Eject,
    /// `VDMUX_IOC_INSERT`.
    Insert,
    /// `VDMUX_IOC_WAIT_FOREGROUND`.
    WaitForeground,
    /// `VDMUX_IOC_SET_AUTOGROW`.
    SetAutogrow,
    /// `VDMUX_IOC_POPULATE`.
    Populate,
    /// `VDMUX_IOC_GET_CTXMGT`.
    GetCtxmgt,
    /// `VDMUX_IOC_SET_CTXMGT`.
    SetCtxmgt,
    /// `mmap(2)`.
    Mmap,
    /// `pread(2)`.
    Read,
    /// `pwrite(2)`.
    Write,
    /// `epoll_create1(2)`, `epoll_ctl(2)` or `epoll_wait(2)`.
    Epoll,
    /// Reading a sysfs attribute of a node.
    Sysfs,
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::GetStatus => "VDMUX_IOC_GET_STATUS",
            Self::GetReservedSize => "VDMUX_IOC_GET_RESERVED_SIZE",
            Self::SetReservedSize => "VDMUX_IOC_SET_RESERVED_SIZE",
            Self::Switch => "VDMUX_IOC_SWITCH",
            Self::Eject => "VDMUX_IOC_EJECT",
            Self::Insert => "VDMUX_IOC_INSERT",
            Self::WaitForeground => "VDMUX_IOC_WAIT_FOREGROUND",
            Self::SetAutogrow => "VDMUX_IOC_SET_AUTOGROW",
            Self::Populate => "VDMUX_IOC_POPULATE",
            Self::GetCtxmgt => "VDMUX_IOC_GET_CTXMGT",
            Self::SetCtxmgt => "VDMUX_IOC_SET_CTXMGT",
            Self::Mmap => "mmap",
            Self::Read => "pread",
            Self::Write => "pwrite",
            Self::Epoll => "epoll",
            Self::Sysfs => "sysfs",
        })
    }
}

/// Why an operation failed.
///
/// The messages name the operation only; the cause is the
/// [`source`](std::error::Error::source), an [`io::Error`] whose
/// [`raw_os_error`](io::Error::raw_os_error) is the errno ([`Error::errno`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `open(2)` of a node failed: `ENOENT` when the driver is not loaded,
    /// `EACCES` without the permission (the control node is root's, the
    /// virtual devices group `vdmux`'s with the project's udev rule).
    #[error("cannot open {}", path.display())]
    Open {
        /// The node.
        path: PathBuf,
        /// The error of `open(2)`.
        #[source]
        source: io::Error,
    },
    /// A system call on an open node failed.
    #[error("{call} on {} failed", path.display())]
    Call {
        /// What was called.
        call: Call,
        /// The node it was called on.
        path: PathBuf,
        /// The kernel's answer.
        #[source]
        source: io::Error,
    },
    /// A byte range that is not inside a [`Mapping`](crate::Mapping).
    #[error("bytes {offset}..{offset}+{len} are not inside the mapping of {size} bytes")]
    OutOfRange {
        /// First byte asked for.
        offset: usize,
        /// Bytes asked for.
        len: usize,
        /// Size of the mapping.
        size: usize,
    },
    /// The node answered like no vdmux node of the kind asked for: a
    /// virtual device node whose status is the control node's, say.
    #[error("{} is not a vdmux {expected}", path.display())]
    WrongNode {
        /// The node.
        path: PathBuf,
        /// What it should have been: "control node" or "virtual device".
        expected: &'static str,
    },
}

impl Error {
    /// The errno of the failed system call, if one failed.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Self::Open { source, .. } | Self::Call { source, .. } => source.raw_os_error(),
            Self::OutOfRange { .. } | Self::WrongNode { .. } => None,
        }
    }

    /// The system call that failed, for [`Error::Call`].
    pub fn call(&self) -> Option<Call> {
        match self {
            Self::Call { call, .. } => Some(*call),
            _ => None,
        }
    }
}

/// The crate's `Result`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
