// SPDX-License-Identifier: GPL-2.0

//! The ioctl commands of both kinds of node.

use crate::{
    kernel_ext::misc_node::capable_sys_admin,
    mux::Mux,
    uapi, //
};
use core::sync::atomic::{
    AtomicU64,
    Ordering, //
};
use kernel::{
    prelude::*,
    uaccess::{
        UserPtr,
        UserSlice, //
    },
};

/// Which node an ioctl came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NodeKind {
    Control,
    Vdev(usize),
}

/// An ioctl command both kinds of node know, decoded once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Command {
    GetReservedSize,
    GetStatus,
    WaitForeground,
    SetReservedSize,
    Switch,
    Eject,
    Insert,
    GetCtxmgt,
    SetCtxmgt,
}

impl Command {
    /// `None` for a command that is not ours, or that only a virtual
    /// device's open file handles (SET_AUTOGROW, POPULATE): `ENOTTY` here.
    fn decode(cmd: u32) -> Option<Self> {
        Some(match cmd {
            uapi::VDMUX_IOC_GET_RESERVED_SIZE => Self::GetReservedSize,
            uapi::VDMUX_IOC_GET_STATUS => Self::GetStatus,
            uapi::VDMUX_IOC_WAIT_FOREGROUND => Self::WaitForeground,
            uapi::VDMUX_IOC_SET_RESERVED_SIZE => Self::SetReservedSize,
            uapi::VDMUX_IOC_SWITCH => Self::Switch,
            uapi::VDMUX_IOC_EJECT => Self::Eject,
            uapi::VDMUX_IOC_INSERT => Self::Insert,
            uapi::VDMUX_IOC_GET_CTXMGT => Self::GetCtxmgt,
            uapi::VDMUX_IOC_SET_CTXMGT => Self::SetCtxmgt,
            _ => return None,
        })
    }

    /// Whether it changes state: the control node's, with `CAP_SYS_ADMIN`.
    fn changes_state(self) -> bool {
        match self {
            Self::GetReservedSize | Self::GetStatus | Self::WaitForeground | Self::GetCtxmgt => {
                false
            }
            Self::SetReservedSize | Self::Switch | Self::Eject | Self::Insert | Self::SetCtxmgt => {
                true
            }
        }
    }
}

/// Runs ioctl `cmd` with argument `arg` issued on `node` through an open
/// file whose last returned generation is `seen`.
///
/// Commands that change state exist on the control node only (`ENOTTY`
/// elsewhere) and need `CAP_SYS_ADMIN` at the time of the call (`EPERM`),
/// whoever opened the file.
pub(crate) fn dispatch(
    mux: &Mux,
    node: NodeKind,
    seen: &AtomicU64,
    cmd: u32,
    arg: usize,
) -> Result<isize> {
    let command = Command::decode(cmd).ok_or(ENOTTY)?;
    if command.changes_state() {
        if node != NodeKind::Control {
            return Err(ENOTTY);
        }
        if !capable_sys_admin() {
            return Err(EPERM);
        }
    }
    match command {
        Command::GetReservedSize => {
            let size = mux.reserved_size() as u64;
            UserSlice::new(UserPtr::from_addr(arg), size_of::<u64>())
                .writer()
                .write(&size)?;
        }
        Command::GetStatus => {
            let vdev = match node {
                NodeKind::Control => None,
                NodeKind::Vdev(v) => Some(v),
            };
            let status = mux.status(vdev);
            UserSlice::new(UserPtr::from_addr(arg), size_of::<uapi::vdmux_status>())
                .writer()
                .write(&status)?;
            // Only a status that reached user space counts as seen by poll.
            seen.store(status.generation, Ordering::Relaxed);
        }
        Command::WaitForeground => mux.wait_foreground(index(arg)?)?,
        Command::SetReservedSize => {
            let size: u64 = UserSlice::new(UserPtr::from_addr(arg), size_of::<u64>())
                .reader()
                .read()?;
            mux.resize(size)?;
        }
        Command::Switch => mux.switch(index(arg)?)?,
        Command::Eject => mux.eject(index(arg)?)?,
        Command::Insert => mux.insert(index(arg)?)?,
        Command::GetCtxmgt => {
            let ctx = mux.ctxmgt();
            UserSlice::new(UserPtr::from_addr(arg), size_of::<uapi::vdmux_ctxmgt>())
                .writer()
                .write(&ctx)?;
        }
        Command::SetCtxmgt => {
            let ctx: uapi::vdmux_ctxmgt =
                UserSlice::new(UserPtr::from_addr(arg), size_of::<uapi::vdmux_ctxmgt>())
                    .reader()
                    .read()?;
            mux.set_ctxmgt(ctx)?;
        }
    }
    Ok(0)
}

/// A virtual device's index, passed by value: one that does not fit a
/// `__u32` is as invalid as one past the last device.
fn index(arg: usize) -> Result<u32> {
    u32::try_from(arg).map_err(|_| EINVAL)
}
