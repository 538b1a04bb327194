// SPDX-License-Identifier: GPL-2.0

//! Sleeping until the device changes, for `watch`: epoll on its nodes.
//!
//! The driver reports EPOLLPRI on a node while the node's generation differs
//! from the one this open file last read with `VDMUX_IOC_GET_STATUS` (the
//! current one counts as read at open). So a change that comes after a
//! snapshot wakes the next wait, and one that comes while the snapshot is
//! taken is either in it or wakes the next wait: none is missed.
//!
//! The nodes are watched edge-triggered (`EPOLLET`): a removed virtual
//! device reports EPOLLERR for as long as it is removed, which level
//! triggering would report again and again. Edge-triggered, a node is
//! reported once per wake-up of the driver's wait queue (one per change),
//! and its EPOLLPRI still reflects the generation at that moment.
//!
//! A change of context management moves no generation: the driver notifies
//! its sysfs attributes instead, which are watched beside the nodes.

use crate::{
    device::Device,
    target, //
};
use nix::{
    errno::Errno,
    sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout},
};
use std::{
    fs::File,
    io,
    os::{fd::AsFd, unix::fs::FileExt},
    path::{Path, PathBuf},
    time::Duration,
};

/// The reserved size in sysfs, notified on every resize: without the
/// control node, the virtual devices' generations do not count resizes.
pub const RESERVED_SIZE_ATTR: &str = "/sys/class/misc/vdmux/reserved_size";

/// Context management's mode and hold time, attributes of the control
/// node in sysfs, notified when `VDMUX_IOC_SET_CTXMGT` changes them.
pub const CTXMGT_ATTRS: [&str; 2] = ["ctxmgt", "ctxmgt_timeout_ms"];

/// The sysfs attribute `name` of the multiplexer chosen.
fn control_attr(name: &str) -> PathBuf {
    let node = target::control().file_name().unwrap_or_default();
    Path::new("/sys/class/misc").join(node).join(name)
}

/// What `watch` sleeps on.
pub struct Changes {
    epoll: Epoll,
    /// The sysfs attributes watched, each read after a wake-up: the
    /// context management ones that can be opened, and without the control
    /// node [`RESERVED_SIZE_ATTR`].
    attrs: Vec<File>,
}

/// The events asked for: EPOLLERR and EPOLLHUP come anyway.
const EVENTS: EpollFlags = EpollFlags::EPOLLPRI.union(EpollFlags::EPOLLET);

impl Changes {
    /// Watches the control node of `device` or, when it has none (an
    /// unprivileged caller), each of its virtual devices and the reserved
    /// size in sysfs; and context management's attributes in sysfs.
    pub fn new(device: &Device) -> io::Result<Self> {
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
        let add = |fd: &dyn AsFd| epoll.add(fd.as_fd(), EpollEvent::new(EVENTS, 0));
        let mut paths: Vec<PathBuf> = CTXMGT_ATTRS.iter().map(|a| control_attr(a)).collect();
        match device.control() {
            Some(control) => add(control)?,
            None => {
                device.vdevs().iter().try_for_each(|v| add(v))?;
                paths.push(PathBuf::from(RESERVED_SIZE_ATTR));
            }
        }
        // Without sysfs, these changes are seen with the next state change.
        let attrs: Vec<File> = paths.iter().filter_map(|p| File::open(p).ok()).collect();
        for attr in &attrs {
            // Read once: sysfs reports EPOLLPRI for a file that never read.
            let _ = attr.read_at(&mut [0; 32], 0);
            add(attr)?;
        }
        Ok(Self { epoll, attrs })
    }

    /// Sleeps until something may have changed (`true`) or `timeout` has
    /// passed (`false`); `None` waits for ever. A wake-up can be spurious:
    /// the caller compares snapshots.
    pub fn wait(&self, timeout: Option<Duration>) -> io::Result<bool> {
        let mut events = [EpollEvent::empty(); 8];
        let woken = match self.epoll.wait(&mut events, epoll_timeout(timeout)) {
            Ok(n) => n > 0,
            // A stop signal and SIGCONT: look again.
            Err(Errno::EINTR) => true,
            Err(e) => return Err(e.into()),
        };
        if woken {
            for attr in &self.attrs {
                // sysfs reports EPOLLPRI until the attribute is read again.
                let _ = attr.read_at(&mut [0; 32], 0);
            }
        }
        Ok(woken)
    }
}

/// `timeout` in whole milliseconds, rounded up so that a wait never ends
/// early, and capped at what epoll takes (24 days: the caller waits again).
pub fn epoll_timeout(timeout: Option<Duration>) -> EpollTimeout {
    match timeout {
        None => EpollTimeout::NONE,
        Some(t) => {
            let ms = t.as_nanos().div_ceil(1_000_000);
            EpollTimeout::try_from(ms.min(i32::MAX as u128)).unwrap_or(EpollTimeout::MAX)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_round_up_to_milliseconds() {
        assert_eq!(epoll_timeout(None), EpollTimeout::NONE);
        assert_eq!(epoll_timeout(Some(Duration::ZERO)), EpollTimeout::ZERO);
        let ms = |t| epoll_timeout(Some(t)).as_millis();
        assert_eq!(ms(Duration::from_nanos(1)), Some(1));
        assert_eq!(ms(Duration::from_millis(1500)), Some(1500));
        assert_eq!(ms(Duration::from_micros(1500)), Some(2));
        assert_eq!(ms(Duration::from_secs(u64::MAX)), Some(i32::MAX as u32));
    }
}
