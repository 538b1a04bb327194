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
    helpers,
    state::{
        Change,
        StateTable,
        VdevState, //
    },
};
use core::{
    ptr,
    sync::atomic::{
        AtomicPtr,
        Ordering, //
    },
};
use kernel::{
    bindings,
    ffi::c_char,
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
///
/// # Invariants
///
/// Every non-null pointer is the `struct miscdevice` of a registered node.
pub(crate) struct Notifier {
    vdevs: KVec<AtomicPtr<bindings::miscdevice>>,
    control: AtomicPtr<bindings::miscdevice>,
    /// The control node's `reserved_size`, for growths by autogrow stores.
    grown: LateNotify,
}

/// A `sysfs_notify` of one attribute, sent a little later and once for a
/// burst of requests (`vdmux_late_notify` in `c_helpers.c`).
///
/// # Invariants
///
/// `raw` is a live `vdmux_late_notify`, owned by this value.
struct LateNotify {
    raw: *mut helpers::vdmux_late_notify,
}

// SAFETY: The C object may be used from any thread: its requests go through
// the workqueue's own synchronization, and its node pointer is read and
// written with READ_ONCE/WRITE_ONCE.
unsafe impl Send for LateNotify {}
// SAFETY: As above: every method takes `&self` and is thread-safe in C.
unsafe impl Sync for LateNotify {}

impl LateNotify {
    fn new(attr: &'static CStr) -> Result<Self> {
        // SAFETY: `attr` is NUL-terminated and outlives the object.
        let raw = unsafe { helpers::vdmux_late_notify_new(attr.as_char_ptr()) };
        if raw.is_null() {
            return Err(ENOMEM);
        }
        // INVARIANT: A new object, owned by nobody else.
        Ok(Self { raw })
    }

    /// Sends to `misc` from now on, until [`LateNotify::detach`].
    ///
    /// # Safety
    ///
    /// `misc` must stay registered until `detach` returns.
    unsafe fn attach(&self, misc: *mut bindings::miscdevice) {
        // SAFETY: `raw` is live (type invariants).
        unsafe { helpers::vdmux_late_notify_attach(self.raw, misc) };
    }

    fn request(&self) {
        // SAFETY: `raw` is live (type invariants).
        unsafe { helpers::vdmux_late_notify_request(self.raw) };
    }

    /// Sends nothing from now on; returns once no notification is running.
    fn detach(&self) {
        // SAFETY: `raw` is live (type invariants).
        unsafe { helpers::vdmux_late_notify_detach(self.raw) };
    }
}

impl Drop for LateNotify {
    fn drop(&mut self) {
        // SAFETY: `raw` is live and ours (type invariants); nothing uses it
        // after this.
        unsafe { helpers::vdmux_late_notify_free(self.raw) };
    }
}

impl Notifier {
    /// A notifier for `nr_vdevs` virtual devices whose nodes are not
    /// registered yet: it sends nothing until they are.
    pub(crate) fn new(nr_vdevs: usize) -> Result<Self> {
        let mut vdevs = KVec::with_capacity(nr_vdevs, GFP_KERNEL)?;
        for _ in 0..nr_vdevs {
            vdevs.push(AtomicPtr::new(ptr::null_mut()), GFP_KERNEL)?;
        }
        // INVARIANT: Every pointer is null.
        Ok(Self {
            vdevs,
            control: AtomicPtr::new(ptr::null_mut()),
            grown: LateNotify::new(c"reserved_size")?,
        })
    }

    /// Sends notifications for virtual device `vdev` (or the control node
    /// for `None`) through `misc` from now on.
    ///
    /// # Safety
    ///
    /// `misc` must be the `struct miscdevice` of that registered node, and
    /// stay registered until [`Notifier::forget_nodes`] has returned, called
    /// while no [`Notifier::send`] runs (as `Mux::forget_nodes` does).
    pub(crate) unsafe fn set_node(&self, vdev: Option<usize>, misc: *mut bindings::miscdevice) {
        let slot = match vdev {
            Some(v) => &self.vdevs[v],
            None => {
                // SAFETY: The caller keeps `misc` registered until
                // `forget_nodes`, which detaches it first.
                unsafe { self.grown.attach(misc) };
                &self.control
            }
        };
        // INVARIANT: The caller keeps `misc` registered until it is cleared.
        slot.store(misc, Ordering::Release);
    }

    /// Sends nothing from now on: the nodes are about to be deregistered.
    ///
    /// The caller excludes every [`Notifier::send`] meanwhile (see
    /// `Mux::forget_nodes`). A late notification pending is cancelled, and
    /// one running waited for.
    pub(crate) fn forget_nodes(&self) {
        self.grown.detach();
        for slot in Iterator::chain(self.vdevs.iter(), core::iter::once(&self.control)) {
            slot.store(ptr::null_mut(), Ordering::Release);
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

    /// Notifies sysfs pollers and sends uevents for `changes`. Failures
    /// (no memory for a uevent) are not the state change's: it has
    /// happened, and GET_STATUS and poll still show it.
    pub(crate) fn send(&self, changes: &Changes) {
        for &(vdev, state, generation) in changes.vdevs.iter().flatten() {
            let misc = self.vdevs[vdev].load(Ordering::Acquire);
            let state_var = CString::try_from_fmt(fmt!("VDMUX_STATE={}", state_name(state)));
            let generation_var = CString::try_from_fmt(fmt!("VDMUX_GENERATION={generation}"));
            // SAFETY: `misc` is null or registered (type invariants).
            unsafe {
                notify(misc, c"state");
                notify(misc, c"generation");
            }
            if let (Ok(a), Ok(b)) = (state_var, generation_var) {
                // SAFETY: As above.
                unsafe { uevent(misc, &[&a, &b]) };
            }
        }
        let control = self.control.load(Ordering::Acquire);
        if changes.foreground {
            // SAFETY: `control` is null or registered (type invariants).
            unsafe { notify(control, c"foreground") };
        }
        if let Some(size) = changes.resized {
            // SAFETY: As above.
            unsafe { notify(control, c"reserved_size") };
            if let Ok(var) = CString::try_from_fmt(fmt!("VDMUX_RESERVED_SIZE={size}")) {
                // SAFETY: As above.
                unsafe { uevent(control, &[&var]) };
            }
        }
    }
}

/// `sysfs_notify` on attribute `attr` of `misc`.
///
/// # Safety
///
/// `misc` must be null (nothing is done) or a registered miscdevice.
unsafe fn notify(misc: *mut bindings::miscdevice, attr: &CStr) {
    if !misc.is_null() {
        // SAFETY: `misc` is registered (the function's safety requirements)
        // and `attr` a NUL-terminated string.
        unsafe { helpers::vdmux_sysfs_notify(misc, attr.as_char_ptr()) };
    }
}

/// A `change` uevent of `misc` with the variables `vars`.
///
/// # Safety
///
/// `misc` must be null (nothing is done) or a registered miscdevice.
unsafe fn uevent(misc: *mut bindings::miscdevice, vars: &[&CString]) {
    if misc.is_null() {
        return;
    }
    let mut envp: [*mut c_char; 3] = [ptr::null_mut(); 3];
    for (slot, var) in envp.iter_mut().zip(vars.iter().take(2)) {
        *slot = var.as_char_ptr().cast_mut();
    }
    // SAFETY: `misc` is registered (the function's safety requirements);
    // `envp` is NULL-terminated, and the kernel only reads its strings,
    // which outlive the call.
    let _ = unsafe { helpers::vdmux_uevent(misc, envp.as_mut_ptr()) };
}
