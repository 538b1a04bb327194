// SPDX-License-Identifier: GPL-2.0

//! Device context management (`VDMUX_IOC_SET_CTXMGT`, after Solaris'
//! `devmap_do_ctxmgt`): an access to a background virtual device makes it
//! the foreground, once the foreground has held the device memory for the
//! hold time.
//!
//! The switch is a transaction started from a fault, run like a SWITCH
//! (`switch_locked`) by the accessing task without any mm lock: a fault
//! that may be retried releases its lock first (the fault-retry protocol,
//! `PageFault::wait_unlocked`), waits for its turn here, switches, and has
//! the kernel retry the access, which then maps the device memory. A fault
//! that cannot be retried (`fixup_user_fault` without `unlocked`) neither
//! sleeps with `mmap_lock` held nor switches under it: SIGBUS.
//!
//! Turns: waiting accesses are grouped by virtual device, and the virtual
//! devices queued in the order of their first waiting access; only the
//! head of the queue switches, and a switch to a virtual device takes it
//! out of the queue. With `n` virtual devices, an access waits for at most
//! `n - 1` holds.
//!
//! Progress with a hold time of 0: after a switch made by an access, the
//! hold does not start until an access to the new foreground was served on
//! the device memory (its *grace*), so that the retried fault that caused
//! the switch maps its page before another access may take the device
//! memory away; a grace whose access never comes (its task was killed)
//! ends after [`GRACE_LIMIT`].
//!
//! Lock order: `Mux::state`, then `CtxMgt::inner` (a spinlock: the served
//! mark comes from `->map_pages`, under `rcu_read_lock`). Waits hold no
//! lock.

use super::Mux;
use crate::{
    kernel_ext::seq_wait::{
        Freezing,
        SeqWait,
        Woken, //
    },
    state::VdevState,
    uapi, //
};
use core::sync::atomic::{
    AtomicBool,
    AtomicU64,
    Ordering, //
};
use kernel::{
    new_spinlock,
    prelude::*,
    sync::SpinLock,
    time::{
        Delta,
        Instant,
        Monotonic, //
    },
};

/// Longest grace: how long a switch made by an access waits for that
/// access (or any other one to the new foreground) to be served before
/// the hold starts anyway.
pub(super) const GRACE_LIMIT: Delta = Delta::from_millis(250);

/// Since when the foreground holds the device memory.
#[derive(Clone, Copy)]
enum Hold {
    /// Since then (a SWITCH, or the end of a grace).
    Since(Instant<Monotonic>),
    /// `vdev` became the foreground by an access that has not been served
    /// yet; the hold starts when it is, or at `until`.
    Grace {
        vdev: usize,
        until: Instant<Monotonic>,
    },
}

/// What `CtxMgt::inner` protects.
struct Inner {
    timeout: Delta,
    hold: Hold,
    /// The virtual devices that accesses wait for, in the order of their
    /// first waiting access (capacity: one per virtual device).
    queue: KVec<usize>,
    /// Waiting accesses per virtual device.
    waiting: KVec<u32>,
}

impl Inner {
    fn enqueue(&mut self, vdev: usize) {
        if !self.queue.contains(&vdev) {
            // Room for every virtual device was reserved, and each is in it
            // at most once.
            let _ = self.queue.push_within_capacity(vdev);
        }
    }

    fn dequeue(&mut self, vdev: usize) {
        self.queue.retain(|v| *v != vdev);
    }
}

/// The mode, its hold time and its queue.
#[pin_data]
pub(super) struct CtxMgt {
    /// Read without a lock by every fault; written under `Mux::changing`.
    enabled: AtomicBool,
    #[pin]
    inner: SpinLock<Inner>,
    /// Woken by every state change, served grace and change of the mode.
    wait: SeqWait,
    /// Set while a grace is pending: what a fault checks before it takes
    /// `inner` to end it.
    grace_pending: AtomicBool,
    /// Switches made by accesses.
    switches: AtomicU64,
    /// Per virtual device: a switch to it for an access failed (no memory
    /// for its backing store or the device memory); its next fault raises
    /// SIGBUS rather than trying again for ever.
    failed: KVec<AtomicBool>,
}

impl CtxMgt {
    pub(super) fn new(nr_vdevs: usize) -> Result<impl PinInit<Self, Error>> {
        let queue = KVec::with_capacity(nr_vdevs, GFP_KERNEL)?;
        let mut waiting = KVec::with_capacity(nr_vdevs, GFP_KERNEL)?;
        let mut failed = KVec::with_capacity(nr_vdevs, GFP_KERNEL)?;
        for _ in 0..nr_vdevs {
            waiting.push(0, GFP_KERNEL)?;
            failed.push(AtomicBool::new(false), GFP_KERNEL)?;
        }
        let wait = SeqWait::new()?;
        Ok(try_pin_init!(Self {
            enabled: AtomicBool::new(false),
            inner <- new_spinlock!(
                Inner {
                    timeout: Delta::from_millis(0),
                    hold: Hold::Since(Instant::now()),
                    queue,
                    waiting,
                },
                "vdmux::CtxMgt::inner"
            ),
            wait,
            grace_pending: AtomicBool::new(false),
            switches: AtomicU64::new(0),
            failed,
        }? Error))
    }

    /// Whether the mode is on: a fault of a background virtual device is
    /// an access that switches.
    pub(super) fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Acquire)
    }

    /// Switches made by accesses so far.
    pub(crate) fn switches(&self) -> u64 {
        self.switches.load(Ordering::Relaxed)
    }

    /// Marks that a switch to `vdev` for a fault failed: its next fault
    /// raises SIGBUS.
    pub(super) fn mark_failed(&self, vdev: usize) {
        self.failed[vdev].store(true, Ordering::Relaxed);
    }

    /// Takes the failure mark of `vdev`: whether its fault must fail.
    pub(super) fn take_failure(&self, vdev: usize) -> bool {
        self.failed[vdev].swap(false, Ordering::Relaxed)
    }

    /// An access to `vdev` was served on the device memory: its grace, if
    /// it has one, ends and its hold starts. Does not sleep.
    pub(super) fn served(&self, vdev: usize) {
        if !self.grace_pending.load(Ordering::Acquire) {
            return;
        }
        {
            let mut inner = self.inner.lock();
            match inner.hold {
                Hold::Grace { vdev: v, .. } if v == vdev => {
                    inner.hold = Hold::Since(Instant::now());
                    self.grace_pending.store(false, Ordering::Release);
                }
                _ => return,
            }
        }
        self.wait.wake_all();
    }

    /// Records that `to` became the foreground, under `Mux::state`: by an
    /// access (a grace starts), or not (its hold starts now). Its accesses
    /// no longer wait in the queue.
    pub(super) fn switched(&self, to: usize, by_access: bool) {
        // A failure to switch to it is over: its next background fault,
        // much later, must not take the mark.
        self.failed[to].store(false, Ordering::Relaxed);
        let now = Instant::now();
        let mut inner = self.inner.lock();
        inner.dequeue(to);
        if by_access {
            inner.hold = Hold::Grace {
                vdev: to,
                until: now + GRACE_LIMIT,
            };
            self.grace_pending.store(true, Ordering::Release);
            self.switches.fetch_add(1, Ordering::Relaxed);
        } else {
            inner.hold = Hold::Since(now);
            self.grace_pending.store(false, Ordering::Release);
        }
    }

    /// Wakes every waiting access to look again.
    pub(super) fn wake(&self) {
        self.wait.wake_all();
    }

    /// `VDMUX_IOC_GET_CTXMGT`.
    pub(crate) fn get(&self) -> uapi::vdmux_ctxmgt {
        let timeout = self.inner.lock().timeout;
        uapi::vdmux_ctxmgt {
            enable: u32::from(self.enabled()),
            timeout_ms: timeout.as_millis() as u32,
        }
    }
}

/// What a waiting access does next.
enum Next {
    /// Nothing more to wait for: `vdev` is the foreground, removed, or the
    /// mode is off; the retried access finds out which.
    Done,
    /// Switch now: its turn came and the hold is over.
    Switch,
    /// Wait for a change, or until the hold is over.
    Wait(Option<Delta>),
}

impl Mux {
    /// `VDMUX_IOC_SET_CTXMGT`: `EINVAL` for an out-of-range value.
    /// Enabling revokes every background virtual device's mappings, so
    /// that their next access switches.
    pub(crate) fn set_ctxmgt(&self, ctx: uapi::vdmux_ctxmgt) -> Result {
        let on = match ctx.enable {
            0 => false,
            1 => true,
            _ => return Err(EINVAL),
        };
        if ctx.timeout_ms > uapi::VDMUX_CTXMGT_MAX_TIMEOUT_MS {
            return Err(EINVAL);
        }
        let timeout = Delta::from_millis(i64::from(ctx.timeout_ms));
        let (was_on, old_timeout) = {
            let _changing = self.changing.lock();
            let old_timeout = core::mem::replace(&mut self.ctx.inner.lock().timeout, timeout);
            let was_on = self.ctx.enabled.swap(on, Ordering::AcqRel);
            // Marks of switches that failed in an earlier mode are stale.
            for failed in self.ctx.failed.iter() {
                failed.store(false, Ordering::Relaxed);
            }
            if on && !was_on {
                // Set before the zaps: a fault that takes a location after
                // its revocation sees the mode on (the rwsem orders them),
                // and one that mapped the backing store before is zapped.
                for vdev in 0..self.config.nr_vdevs {
                    if self.state.lock().table.state(vdev) == VdevState::Background {
                        drop(self.slots[vdev].revoke());
                    }
                }
            }
            (was_on, old_timeout)
        };
        self.ctx.wake();
        // Pollers of the sysfs attributes (`vdmuxctl watch`) see the change;
        // setting the same values again notifies nothing.
        let _notifying = self.notifying.lock();
        self.notifier
            .ctxmgt_changed(was_on != on, old_timeout.as_nanos() != timeout.as_nanos());
        Ok(())
    }

    /// An access to the background `vdev`: waits, killable (and freezable
    /// as `freezing` says) and without any lock of the driver's, for its turn and for the end of the
    /// foreground's hold, then switches to `vdev`. Returns once `vdev` is
    /// the foreground or removed or the mode is off; `EINTR` on a fatal
    /// signal, the error of a switch that failed.
    pub(super) fn access_wait(&self, vdev: usize, freezing: Freezing) -> Result {
        self.ctx.inner.lock().waiting[vdev] += 1;
        let result = self.access_turns(vdev, freezing);
        {
            let mut inner = self.ctx.inner.lock();
            inner.waiting[vdev] -= 1;
            if inner.waiting[vdev] == 0 {
                inner.dequeue(vdev);
            }
        }
        // The head of the queue may have changed.
        self.ctx.wake();
        result
    }

    fn access_turns(&self, vdev: usize, freezing: Freezing) -> Result {
        loop {
            let seen = self.ctx.wait.seq();
            match self.next_step(vdev) {
                Next::Done => return Ok(()),
                Next::Wait(timeout) => {
                    if self.ctx.wait.wait(seen, timeout, freezing)? == Woken::TimedOut {
                        continue;
                    }
                }
                Next::Switch => self.access_switch(vdev)?,
            }
        }
    }

    /// Looks at the state and the queue together (`state`, then `inner`).
    fn next_step(&self, vdev: usize) -> Next {
        let state = self.state.lock();
        if !self.ctx.enabled() || state.table.state(vdev) != VdevState::Background {
            return Next::Done;
        }
        let mut inner = self.ctx.inner.lock();
        // Back in the queue if a switch to `vdev` took it out but another
        // access took the device memory before this one was served.
        inner.enqueue(vdev);
        if inner.queue.first() != Some(&vdev) {
            return Next::Wait(None);
        }
        let Some(foreground) = state.table.foreground() else {
            // With no foreground, the device memory is taken at once.
            return Next::Switch;
        };
        let now = Instant::now();
        let end = match inner.hold {
            Hold::Since(start) => start + inner.timeout,
            // Until served (which wakes every waiter), or until the grace
            // runs out.
            Hold::Grace { vdev: v, until } if v == foreground => until + inner.timeout,
            // A grace of a virtual device that is no longer the foreground
            // (EJECT, then another access).
            Hold::Grace { .. } => now,
        };
        let left = end - now;
        if left.as_nanos() > 0 {
            Next::Wait(Some(left))
        } else {
            Next::Switch
        }
    }

    /// A SWITCH to `vdev` for an access: as `VDMUX_IOC_SWITCH`, with the
    /// grace of a switch made by an access.
    pub(super) fn access_switch(&self, vdev: usize) -> Result {
        let changes = self.switch_locked(vdev as u32, true)?;
        self.changed(changes);
        Ok(())
    }
}
