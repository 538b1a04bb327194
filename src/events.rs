// SPDX-License-Identifier: GPL-2.0

//! Telling user space that something changed: sysfs notifications and
//! uevents of the nodes.
//!
//! A state change collects what it changed into [`Changes`] while it holds
//! the device lock, and sends the notifications with [`Notifier::send`]
//! after it released it: `kobject_uevent_env` allocates and broadcasts on
//! netlink, which must not run under a lock that faults take. Netlink
//! broadcasts never wait for a slow listener (its messages are dropped
//! instead), and `sysfs_notify` only queues work, so a state change never
//! waits for any reader. Waiters in `poll` and `VDMUX_IOC_WAIT_FOREGROUND`
//! are woken through the device's condition variable, not from here.

use crate::{
    control::Control,
    kernel_ext::{
        misc_node::Node,
        node_events::{
            LateNotify,
            NodeLink, //
        },
    },
    state::{
        Change,
        StateTable,
        VdevState, //
    },
    vdev::Vdev,
};
use kernel::{
    prelude::*,
    str::CString, //
};

/// What one state change changed, in the order it happened.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Changes {
    /// Virtual devices whose state changed: index, new state, generation.
    pub(crate) vdevs: [Option<(usize, VdevState, u64)>; 2],
    /// The foreground changed.
    pub(crate) foreground: bool,
    /// The reserved size changed to this many bytes.
    pub(crate) resized: Option<usize>,
}

impl Changes {
    /// What `change`, just committed to `table`, changed.
    pub(crate) fn of(table: &StateTable, change: Change) -> Self {
        let mut changes = Self::default();
        match change {
            Change::Nothing => {}
            Change::Switch { from, to } => {
                if let Some(from) = from {
                    changes.record(table, from);
                }
                changes.record(table, to);
                changes.foreground = true;
            }
            Change::Eject {
                vdev,
                was_foreground,
            } => {
                changes.record(table, vdev);
                changes.foreground = was_foreground;
            }
            Change::Insert { vdev } => changes.record(table, vdev),
        }
        changes
    }

    fn record(&mut self, table: &StateTable, vdev: usize) {
        self.vdev(vdev, table.state(vdev), table.generation(vdev));
    }

    /// Records that `vdev` is now in `state`, at `generation`.
    pub(crate) fn vdev(&mut self, vdev: usize, state: VdevState, generation: u64) {
        if let Some(slot) = self.vdevs.iter_mut().find(|s| s.is_none()) {
            *slot = Some((vdev, state, generation));
        }
    }
}

/// The name a state has in sysfs and in uevents.
pub(crate) fn state_name(state: VdevState) -> &'static str {
    match state {
        VdevState::Foreground => "foreground",
        VdevState::Background => "background",
        VdevState::Removed => "removed",
    }
}

/// Sends the notifications of [`Changes`] for the registered nodes.
pub(crate) struct Notifier {
    vdevs: KVec<NodeLink>,
    control: NodeLink,
    /// The control node's `reserved_size`, for growths by autogrow stores.
    grown: LateNotify,
}

impl Notifier {
    /// A notifier for `nr_vdevs` virtual devices whose nodes are not
    /// registered yet: it sends nothing until they are.
    pub(crate) fn new(nr_vdevs: usize) -> Result<Self> {
        let mut vdevs = KVec::with_capacity(nr_vdevs, GFP_KERNEL)?;
        for _ in 0..nr_vdevs {
            vdevs.push(NodeLink::new(), GFP_KERNEL)?;
        }
        Ok(Self {
            vdevs,
            control: NodeLink::new(),
            grown: LateNotify::new(c"reserved_size")?,
        })
    }

    /// Sends notifications for virtual device `vdev` to `node` from now on.
    ///
    /// # Safety
    ///
    /// `node` must stay registered until [`Notifier::forget_nodes`] has
    /// returned, called while no [`Notifier::send`] runs (as
    /// `Mux::forget_nodes` does).
    pub(crate) unsafe fn set_vdev_node(&self, vdev: usize, node: &Node<Vdev>) {
        // SAFETY: `forget_nodes` clears the link while no `send`, its only
        // user, runs (the function's safety requirements).
        unsafe { self.vdevs[vdev].set(node) };
    }

    /// Sends notifications for the control node to `node` from now on.
    ///
    /// # Safety
    ///
    /// As for [`Notifier::set_vdev_node`].
    pub(crate) unsafe fn set_control_node(&self, node: &Node<Control>) {
        // SAFETY: `forget_nodes` detaches the late notification (which waits
        // for it) and clears the link while no `send` runs (the function's
        // safety requirements).
        unsafe {
            self.grown.attach(node);
            self.control.set(node);
        }
    }

    /// Sends nothing from now on: the nodes are about to be deregistered.
    ///
    /// The caller excludes every [`Notifier::send`] meanwhile (see
    /// `Mux::forget_nodes`). A late notification pending is cancelled, and
    /// one running waited for.
    pub(crate) fn forget_nodes(&self) {
        self.grown.detach();
        for link in Iterator::chain(self.vdevs.iter(), core::iter::once(&self.control)) {
            link.clear();
        }
    }

    /// Notifies sysfs pollers of a growth by an autogrow store: no uevent,
    /// since one per page stored would flood udev, and one notification
    /// per burst of growths (see `LateNotify`, which uses the node only
    /// from its work, cancelled before the node goes; so this needs no
    /// exclusion from `forget_nodes`).
    pub(crate) fn grown_by_store(&self) {
        self.grown.request();
    }

    /// Notifies sysfs pollers of a change of context management's mode
    /// (`enable`) or hold time (`timeout`), set by `VDMUX_IOC_SET_CTXMGT`:
    /// no uevent and no generation, since no virtual device changed. The
    /// caller excludes [`Notifier::forget_nodes`], as for
    /// [`Notifier::send`].
    pub(crate) fn ctxmgt_changed(&self, enable: bool, timeout: bool) {
        if enable {
            self.control.sysfs_notify(c"ctxmgt");
        }
        if timeout {
            self.control.sysfs_notify(c"ctxmgt_timeout_ms");
        }
    }

    /// Notifies sysfs pollers and sends uevents for `changes`. Failures
    /// (no memory for a uevent) are not the state change's: it has
    /// happened, and GET_STATUS and poll still show it.
    pub(crate) fn send(&self, changes: &Changes) {
        for &(vdev, state, generation) in changes.vdevs.iter().flatten() {
            let node = &self.vdevs[vdev];
            node.sysfs_notify(c"state");
            node.sysfs_notify(c"generation");
            let state_var = CString::try_from_fmt(fmt!("VDMUX_STATE={}", state_name(state)));
            let generation_var = CString::try_from_fmt(fmt!("VDMUX_GENERATION={generation}"));
            if let (Ok(a), Ok(b)) = (state_var, generation_var) {
                node.uevent(&[&a, &b]);
            }
        }
        if changes.foreground {
            self.control.sysfs_notify(c"foreground");
        }
        if let Some(size) = changes.resized {
            self.control.sysfs_notify(c"reserved_size");
            if let Ok(var) = CString::try_from_fmt(fmt!("VDMUX_RESERVED_SIZE={size}")) {
                self.control.uevent(&[&var]);
            }
        }
    }
}
