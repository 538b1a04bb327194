// SPDX-License-Identifier: GPL-2.0

//! Every node of the device at once, for `status` and `watch`.

use crate::{
    status::{Snapshot, VdevStatus},
    target,
};
use nix::libc;
use vdmux::{Access, Mux, Result, Vdev};

/// How often [`Device::snapshot`] retries when the device changes under it.
const SNAPSHOT_TRIES: usize = 8;

/// The control node, or for a caller who may not open it (`EACCES`),
/// `None` and the virtual device that `fallback` opens. The control node's
/// error says more than the fallback's, and is the one returned.
pub fn control_or(fallback: impl FnOnce() -> Result<Vdev>) -> Result<(Option<Mux>, Option<Vdev>)> {
    match Mux::open_path(target::control(), Access::ReadOnly) {
        Ok(mux) => Ok((Some(mux), None)),
        Err(e) if e.errno() == Some(libc::EACCES) => match fallback() {
            Ok(vdev) => Ok((None, Some(vdev))),
            Err(_) => Err(e),
        },
        Err(e) => Err(e),
    }
}

/// Every node, open read-only.
pub struct Device {
    /// `None` when the caller may not open the control node: then the
    /// virtual devices alone tell the status.
    control: Option<Mux>,
    vdevs: Vec<Vdev>,
}

impl Device {
    /// Opens the control node, or virtual device 0 if the control node is
    /// not accessible, learns the number of virtual devices from it and
    /// opens all of them.
    pub fn open() -> Result<Self> {
        let (control, first) = control_or(|| Vdev::open(target::vdev(0), Access::ReadOnly))?;
        let nr_vdevs = match (&control, &first) {
            (Some(mux), _) => mux.status()?.nr_vdevs,
            (None, Some(vdev)) => vdev.status()?.nr_vdevs,
            (None, None) => unreachable!("control_or opens one node"),
        };
        let mut vdevs = Vec::with_capacity(nr_vdevs as usize);
        vdevs.extend(first);
        for index in vdevs.len() as u32..nr_vdevs {
            vdevs.push(match &control {
                Some(mux) => mux.vdev(index, Access::ReadOnly)?,
                None => Vdev::open(target::vdev(index), Access::ReadOnly)?,
            });
        }
        Ok(Self { control, vdevs })
    }

    /// The control node, when it could be opened.
    pub fn control(&self) -> Option<&Mux> {
        self.control.as_ref()
    }

    /// Every virtual device, in index order.
    pub fn vdevs(&self) -> &[Vdev] {
        &self.vdevs
    }

    /// The status of every node. With the control node, it is read again
    /// until its generation did not move while the virtual devices were
    /// read, so the snapshot is one consistent state.
    pub fn snapshot(&self) -> Result<Snapshot> {
        for tries in 1.. {
            let before = self.control.as_ref().map(Mux::status).transpose()?;
            let vdevs = self
                .vdevs
                .iter()
                .map(Vdev::status)
                .collect::<Result<Vec<_>>>()?;
            let after = self.control.as_ref().map(Mux::status).transpose()?;
            // Any node tells the mode.
            let ctxmgt = match (&self.control, self.vdevs.first()) {
                (Some(mux), _) => Some(mux.ctxmgt()?),
                (None, Some(vdev)) => Some(vdev.ctxmgt()?),
                (None, None) => None,
            };
            let stable = before.map(|s| s.generation) == after.map(|s| s.generation);
            if stable || tries == SNAPSHOT_TRIES {
                // The last node read is the most recent word on the
                // foreground and the size.
                let last = after.as_ref().or(vdevs.last()).copied();
                return Ok(Snapshot {
                    generation: after.map(|s| s.generation),
                    foreground: last.and_then(|s| s.foreground),
                    reserved_size: last.map_or(0, |s| s.reserved_size),
                    vdevs: vdevs.iter().map(VdevStatus::new).collect(),
                    ctxmgt,
                });
            }
        }
        unreachable!("the loop returns at the last try")
    }
}
