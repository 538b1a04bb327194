// SPDX-License-Identifier: GPL-2.0

//! The ioctl commands of both kinds of node.

use crate::{
    misc::capable_sys_admin,
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
    match cmd {
        uapi::VDMUX_IOC_GET_RESERVED_SIZE => {
            let size = mux.reserved_size() as u64;
            UserSlice::new(UserPtr::from_addr(arg), size_of::<u64>())
                .writer()
                .write(&size)?;
        }
        uapi::VDMUX_IOC_GET_STATUS => {
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
        uapi::VDMUX_IOC_WAIT_FOREGROUND => {
            mux.wait_foreground(u32::try_from(arg).map_err(|_| EINVAL)?)?;
        }
        uapi::VDMUX_IOC_SET_RESERVED_SIZE
        | uapi::VDMUX_IOC_SWITCH
        | uapi::VDMUX_IOC_EJECT
        | uapi::VDMUX_IOC_INSERT => {
            if node != NodeKind::Control {
                return Err(ENOTTY);
            }
            if !capable_sys_admin() {
                return Err(EPERM);
            }
            control(mux, cmd, arg)?;
        }
        // Handled by the virtual device's open file.
        uapi::VDMUX_IOC_SET_AUTOGROW | uapi::VDMUX_IOC_POPULATE => return Err(ENOTTY),
        _ => return Err(ENOTTY),
    }
    Ok(0)
}

fn control(mux: &Mux, cmd: u32, arg: usize) -> Result {
    if cmd == uapi::VDMUX_IOC_SET_RESERVED_SIZE {
        let size: u64 = UserSlice::new(UserPtr::from_addr(arg), size_of::<u64>())
            .reader()
            .read()?;
        return mux.resize(size);
    }
    // The index is passed by value; one that does not fit a __u32 is as
    // invalid as one past the last device.
    let vdev = u32::try_from(arg).map_err(|_| EINVAL)?;
    match cmd {
        uapi::VDMUX_IOC_SWITCH => mux.switch(vdev),
        uapi::VDMUX_IOC_EJECT => mux.eject(vdev),
        _ => mux.insert(vdev),
    }
}
