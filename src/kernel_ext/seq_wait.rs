// SPDX-License-Identifier: GPL-2.0

//! [`SeqWait`]: a wait queue and a sequence number, for waits that must end
//! on a fatal signal and, when the caller holds no lock, let the system
//! suspend.
//!
//! Belongs upstream in `rust/kernel/sync/condvar.rs`: the kernel crate's
//! `CondVar` sleeps with a lock held (which the freezer refuses to freeze:
//! lockdep warns about a frozen task holding a lock) and has interruptible
//! and freezable waits, but no killable one; a fault handler must not use
//! an interruptible one (a kernel-mode fault would retry at once while a
//! signal it never delivers is pending).

use crate::helpers;
use core::{
    ptr::NonNull,
    sync::atomic::{
        AtomicUsize,
        Ordering, //
    },
};
use kernel::{
    bindings,
    prelude::*,
    time::{
        msecs_to_jiffies,
        Delta, //
    },
};

/// A wait queue whose waiters sleep until the sequence number moves on.
///
/// A waiter reads [`SeqWait::seq`], checks its own condition under its own
/// lock, releases every lock and calls [`SeqWait::wait`] with the number it
/// read; a waker changes the condition, then calls [`SeqWait::wake_all`].
/// The waiter is queued before it checks the number again, so no wake-up is
/// lost.
///
/// # Invariants
///
/// `wq` points to a wait queue head from `vdmux_waitq_new`, owned by this
/// value.
pub(crate) struct SeqWait {
    wq: NonNull<bindings::wait_queue_head>,
    seq: AtomicUsize,
}

// SAFETY: The wait queue head is used only through the kernel's wait queue
// functions, which lock it, from any thread.
unsafe impl Send for SeqWait {}
// SAFETY: As above.
unsafe impl Sync for SeqWait {}

/// Whether a [`SeqWait::wait`] lets the freezer (suspend, the cgroup v1
/// freezer) freeze the task: only one that holds no lock may be frozen,
/// else lockdep warns (`__set_task_frozen`) and whoever waits for the lock
/// waits for the thaw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Freezing {
    /// The task holds no lock.
    Allowed,
    /// The task may hold a lock its caller took (a copy to or from user
    /// memory inside a system call, say): it sleeps as an uninterruptible
    /// task does, and the freezer waits until it is done.
    Refused,
}

/// How a [`SeqWait::wait`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Woken {
    /// The sequence number moved on.
    Changed,
    /// The time ran out first.
    TimedOut,
}

impl SeqWait {
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: A plain allocation.
        let wq = NonNull::new(unsafe { helpers::vdmux_waitq_new() }).ok_or(ENOMEM)?;
        // INVARIANT: `wq` came from `vdmux_waitq_new`.
        Ok(Self {
            wq,
            seq: AtomicUsize::new(0),
        })
    }

    /// The sequence number, to pass to [`SeqWait::wait`].
    pub(crate) fn seq(&self) -> usize {
        self.seq.load(Ordering::Acquire)
    }

    /// Moves the sequence number on and wakes every waiter.
    pub(crate) fn wake_all(&self) {
        self.seq.fetch_add(1, Ordering::Release);
        // SAFETY: `wq` is valid by the type invariants.
        unsafe { helpers::vdmux_waitq_wake_all(self.wq.as_ptr()) };
    }

    /// Sleeps, killable (and freezable as `freezing` says), until the
    /// sequence number is no longer `seen` or `timeout` passed (`None`: no
    /// limit); `EINTR` on a fatal signal. The caller must hold none of the
    /// locks its wakers take.
    pub(crate) fn wait(
        &self,
        seen: usize,
        timeout: Option<Delta>,
        freezing: Freezing,
    ) -> Result<Woken> {
        let jiffies = match timeout {
            // SAFETY: A constant.
            None => unsafe { helpers::vdmux_max_schedule_timeout() },
            // Rounded up, and one more: the first tick may come at once.
            Some(t) => {
                let ms = u32::try_from(super::compat::millis_ceil(t).max(0)).unwrap_or(u32::MAX);
                (msecs_to_jiffies(ms) as isize).saturating_add(1)
            }
        };
        // SAFETY: `wq` is valid by the type invariants; `seq` is an
        // `AtomicUsize`, of the layout of an `unsigned long`, which the
        // helper reads with `READ_ONCE`, and it outlives the call.
        let ret = unsafe {
            helpers::vdmux_waitq_wait(
                self.wq.as_ptr(),
                self.seq.as_ptr().cast(),
                seen,
                jiffies,
                freezing == Freezing::Allowed,
            )
        };
        match ret {
            0 => Ok(Woken::TimedOut),
            r if r > 0 => Ok(Woken::Changed),
            _ => Err(EINTR),
        }
    }
}

impl Drop for SeqWait {
    fn drop(&mut self) {
        // SAFETY: `wq` came from `vdmux_waitq_new` (the type invariants), and
        // nobody waits on it any more: every waiter borrows `self`.
        unsafe { helpers::vdmux_waitq_free(self.wq.as_ptr()) };
    }
}
