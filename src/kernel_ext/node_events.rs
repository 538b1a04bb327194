// SPDX-License-Identifier: GPL-2.0

//! Telling user space that something about a misc device node
//! ([`super::misc_node`]) changed: `sysfs_notify` on one of its attributes
//! (which wakes `poll` on the attribute's file), a `change` uevent with
//! variables, and a late `sysfs_notify` sent once for a burst of requests.
//!
//! The notifications go through a [`NodeLink`], which the owner of the
//! nodes points at a node once it is registered and clears before it goes:
//! the object that sends them (here, shared with every open file) does not
//! own the nodes, which own a reference to it.
//!
//! Belongs upstream in `rust/kernel/device.rs` (`sysfs_notify` and
//! `kobject_uevent_env` of a device's kobject, which the kernel crate does
//! not offer) and `rust/kernel/workqueue.rs` (whose delayed work items can
//! be queued but not cancelled, which a late notification must be before
//! its node goes).

use super::misc_node::{
    Node,
    NodeDevice, //
};
use crate::helpers;
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
    str::CString,
    time::msecs_to_jiffies,
    types::Opaque, //
};

/// Most variables one uevent carries.
pub(crate) const MAX_UEVENT_VARS: usize = 2;

/// Where a node's notifications go: nowhere, or a registered node.
///
/// # Invariants
///
/// `misc` is null or the `struct miscdevice` of a registered node, which
/// stays registered while any method of `self` that read it runs.
pub(crate) struct NodeLink {
    misc: AtomicPtr<bindings::miscdevice>,
}

impl NodeLink {
    /// A link to no node: notifications go nowhere.
    pub(crate) const fn new() -> Self {
        // INVARIANT: Null.
        Self {
            misc: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Sends notifications to `node` from now on.
    ///
    /// # Safety
    ///
    /// `node` must stay registered until [`NodeLink::clear`] has returned,
    /// and until every [`NodeLink::sysfs_notify`] and [`NodeLink::uevent`]
    /// of `self` that began before it has returned too.
    pub(crate) unsafe fn set<T: NodeDevice>(&self, node: &Node<T>) {
        // INVARIANT: The caller keeps `node` registered until it is cleared
        // and no method that read it runs any more.
        self.misc.store(node.as_raw(), Ordering::Release);
    }

    /// Sends notifications nowhere from now on.
    pub(crate) fn clear(&self) {
        self.misc.store(ptr::null_mut(), Ordering::Release);
    }

    /// The node's `struct device`'s kobject, or null.
    fn kobject(&self) -> *mut bindings::kobject {
        let misc = self.misc.load(Ordering::Acquire);
        if misc.is_null() {
            return ptr::null_mut();
        }
        // SAFETY: `misc` is registered (type invariants), so its device is
        // live.
        unsafe { &raw mut (*(*misc).this_device).kobj }
    }

    /// `sysfs_notify` on attribute `attr` of the node: wakes pollers of
    /// that file. Nothing without a node.
    pub(crate) fn sysfs_notify(&self, attr: &CStr) {
        let kobj = self.kobject();
        if !kobj.is_null() {
            // SAFETY: `kobj` is live while this runs (type invariants);
            // `attr` is NUL-terminated.
            unsafe { bindings::sysfs_notify(kobj, ptr::null(), attr.as_char_ptr()) };
        }
    }

    /// A `change` uevent of the node with the `NAME=value` variables
    /// `vars` (the first [`MAX_UEVENT_VARS`]). Nothing without a node;
    /// a failure (no memory) is not reported: the event is lost.
    pub(crate) fn uevent(&self, vars: &[&CString]) {
        let kobj = self.kobject();
        if kobj.is_null() {
            return;
        }
        let mut envp: [*mut c_char; MAX_UEVENT_VARS + 1] = [ptr::null_mut(); MAX_UEVENT_VARS + 1];
        for (slot, var) in envp.iter_mut().zip(vars.iter().take(MAX_UEVENT_VARS)) {
            *slot = var.as_char_ptr().cast_mut();
        }
        // SAFETY: `kobj` is live while this runs (type invariants); `envp`
        // is NULL-terminated, and the kernel only reads its strings, which
        // outlive the call.
        let _ = unsafe {
            bindings::kobject_uevent_env(
                kobj,
                bindings::kobject_action_KOBJ_CHANGE,
                envp.as_mut_ptr(),
            )
        };
    }
}

/// How much later than its first request a [`LateNotify`] notifies.
const LATE_NOTIFY_MS: u32 = 10;

/// A `sysfs_notify` of one attribute sent a little later
/// ([`LATE_NOTIFY_MS`]), once for every request made meanwhile: for a
/// change that can come thousands of times a second, where the workqueue
/// round trip of each `sysfs_notify` would cost more than the change.
/// Pollers are woken once per burst, and read the value as it is then.
pub(crate) struct LateNotify {
    inner: Pin<KBox<LateWork>>,
}

/// # Invariants
///
/// `work` is an initialised `delayed_work` running [`LateWork::run`]; `link`
/// is used only from it, and cleared (with the work cancelled) before the
/// node it points to goes.
#[pin_data(PinnedDrop)]
struct LateWork {
    #[pin]
    work: Opaque<bindings::delayed_work>,
    link: NodeLink,
    attr: &'static CStr,
}

// SAFETY: The work item is used only through the workqueue's functions,
// which synchronize themselves and may be called from any thread; the link
// is atomic and `attr` a shared static string.
unsafe impl Send for LateWork {}

// SAFETY: As for `Send`: every method takes `&self` and is thread-safe.
unsafe impl Sync for LateWork {}

impl LateNotify {
    /// One for attribute `attr`, attached to no node.
    pub(crate) fn new(attr: &'static CStr) -> Result<Self> {
        let inner = KBox::pin_init(
            // INVARIANT: The work is initialised to run `LateWork::run`.
            pin_init!(LateWork {
                // SAFETY: `slot` is valid, pinned memory for the work item.
                work <- Opaque::ffi_init(|slot| unsafe {
                    helpers::vdmux_init_delayed_work(slot, Some(LateWork::run))
                }),
                link: NodeLink::new(),
                attr,
            }),
            GFP_KERNEL,
        )?;
        Ok(Self { inner })
    }

    /// Sends to `node` from now on, until [`LateNotify::detach`].
    ///
    /// # Safety
    ///
    /// `node` must stay registered until `detach` returns.
    pub(crate) unsafe fn attach<T: NodeDevice>(&self, node: &Node<T>) {
        // SAFETY: `detach` clears the link after it cancelled the work,
        // the only reader of the link, and waited for it.
        unsafe { self.inner.link.set(node) };
    }

    /// Schedules a notification, unless one is pending already.
    pub(crate) fn request(&self) {
        // SAFETY: `work` is initialised (type invariants of `LateWork`).
        unsafe {
            helpers::vdmux_schedule_delayed_work(
                self.inner.work.get(),
                msecs_to_jiffies(LATE_NOTIFY_MS),
            )
        };
    }

    /// Sends nothing from now on; returns once no notification is running.
    pub(crate) fn detach(&self) {
        self.inner.detach();
    }
}

impl LateWork {
    /// Stops the work and clears the link.
    fn detach(&self) {
        // A request racing with this may queue the work again after the
        // cancel: the link is cleared first, so that it sends nothing.
        self.link.clear();
        // SAFETY: `work` is initialised (type invariants).
        unsafe { bindings::cancel_delayed_work_sync(self.work.get()) };
    }

    /// The work function.
    ///
    /// # Safety
    ///
    /// `work` must be the `work` of the `delayed_work` of a live `LateWork`.
    unsafe extern "C" fn run(work: *mut bindings::work_struct) {
        // SAFETY: `work` is the `work` field of a `delayed_work`, the `work`
        // field of a live `LateWork` (the function's safety requirements).
        let this = unsafe {
            let dwork = kernel::container_of!(work, bindings::delayed_work, work);
            &*kernel::container_of!(
                dwork.cast::<Opaque<bindings::delayed_work>>(),
                LateWork,
                work
            )
        };
        // The link is cleared, and the node gone, only after this returns.
        this.link.sysfs_notify(this.attr);
    }
}

#[pinned_drop]
impl PinnedDrop for LateWork {
    fn drop(self: Pin<&mut Self>) {
        // The work must not run once the memory is freed.
        self.detach();
    }
}
