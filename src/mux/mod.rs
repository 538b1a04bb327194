// SPDX-License-Identifier: GPL-2.0

//! The multiplexer: one reserved buffer of device memory shared among the
//! virtual devices, their backing stores, and every operation on them.
//!
//! Each virtual device's bytes are in its *location* (the device memory,
//! its backing store, or nowhere), held in its [`Slot`]. A location changes
//! only through [`Revoked`](self::slot::Revoked) (write lock, then zap), and
//! a page is inserted only through a location guard of [`Slots`]: the rule
//! is `slot.rs`'s, by type. A state change is a transaction: plan under
//! `state`, revoke every virtual device it moves, allocate, copy, set,
//! commit; an allocation failure changes nothing. `Documentation/design.md`
//! has the whole design.
//!
//! Lock order, outermost first:
//!
//! 1. `mmap_lock` or the VMA lock (the kernel's, around our VMA callbacks;
//!    POPULATE's);
//! 2. `Mux::changing`: every change of state or size, copies included;
//! 3. a slot's location; only a SWITCH, holding `changing`, nests a second
//!    one (the new foreground's inside the old one's);
//! 4. `Mux::state`: the state table and mapping counts, held briefly;
//! 5. `CtxMgt::inner`, a spinlock (context management's hold and queue);
//! 6. the zap's `i_mmap_rwsem`, then the page table or PMD lock.
//!
//! `Mux::notifying` is taken alone, after a change released all of these.
//! An access that context management makes switch (`ctxmgt.rs`) waits and
//! switches holding none of these, nor `mmap_lock`: its fault released it.
//!
//! Rules that follow:
//!
//! - A growth fault takes `changing` before the location and releases it
//!   only once it holds the location, so that it maps from where it
//!   allocated.
//! - Nothing faults on user memory while holding a location (the user's
//!   buffer may be a vdmux mapping): `read`/`write` copy with page faults
//!   disabled, and fault the user's page in after releasing it.
//! - A store that is nobody's location (a foreground's backing store, the
//!   device memory with no foreground) is used only under `changing`.
//! - The reserved size is written under `changing` and `state`; a shrink is
//!   refused while anything is mapped.

mod ctxmgt;
mod fault;
mod io;
mod slot;
mod stats;
mod transition;

use self::{
    ctxmgt::CtxMgt,
    slot::{
        Changing,
        Location,
        Slot,
        Slots, //
    },
    stats::FaultCounters,
};
use crate::{
    config::Config,
    device_memory::DeviceMemory,
    events::{
        Changes,
        Notifier, //
    },
    kernel_ext::anon_mapping::PseudoFs,
    state::{
        StateTable,
        VdevState, //
    },
    uapi, //
};
use core::sync::atomic::{
    AtomicBool,
    AtomicUsize,
    Ordering, //
};
use kernel::{
    fs::File,
    new_mutex, new_poll_condvar,
    page::PAGE_SIZE,
    prelude::*,
    sync::{
        poll::{
            PollCondVar,
            PollTable, //
        },
        Arc,
        Mutex, //
    },
};

/// What `state` protects.
struct MuxState {
    table: StateTable,
    /// Number of VMAs mapping each virtual device.
    mapped: KVec<usize>,
}

/// The whole device: the control node and every virtual device act on it.
#[pin_data]
pub(crate) struct Mux {
    config: Config,
    /// Serializes the changes of state and of size, for their whole
    /// duration (copies included).
    #[pin]
    changing: Mutex<Changing>,
    /// The state table and the mapping counts; held briefly.
    #[pin]
    state: Mutex<MuxState>,
    /// Size of the reserved buffer in bytes; written under `changing` and
    /// `state`.
    reserved_size: AtomicUsize,
    /// Set once the device memory went with its device (a PCI unbind):
    /// every virtual device is removed for good.
    detached: AtomicBool,
    /// Set once every node is registered. Until then an open fails, so a
    /// registration that fails half-way leaves no open file behind (misc
    /// calls `open` under the lock that deregistration takes).
    reachable: AtomicBool,
    /// Each virtual device's location, backing store and mappings, and the
    /// device memory: the foreground virtual device's bytes.
    slots: Slots,
    faults: KVec<FaultCounters>,
    /// Woken after every state change: `poll` waiters and
    /// `VDMUX_IOC_WAIT_FOREGROUND`, which waits on it with `state`.
    #[pin]
    changed: PollCondVar,
    /// Sends sysfs notifications and uevents after state changes.
    notifier: Notifier,
    /// Held while `notifier` uses the nodes, so that [`Mux::forget_nodes`]
    /// returns only once no notification uses them (a PCI unbind takes
    /// the nodes away while files are open, and a state change that
    /// finished before the unbind may still be notifying).
    #[pin]
    notifying: Mutex<()>,
    /// Device context management: accesses that switch.
    #[pin]
    ctx: CtxMgt,
}

impl Mux {
    pub(crate) fn new(config: Config, device_memory: DeviceMemory) -> Result<Arc<Self>> {
        let fs = PseudoFs::mount()?;
        let n = config.nr_vdevs;
        let table = StateTable::new(n)?;
        let mut slots = KVec::with_capacity(n, GFP_KERNEL)?;
        let mut mapped = KVec::with_capacity(n, GFP_KERNEL)?;
        let mut faults = KVec::with_capacity(n, GFP_KERNEL)?;
        for vdev in 0..n {
            let location = Location::of(table.state(vdev));
            slots.push(
                Slot::new(&fs, config.max_reserved_size, location)?,
                GFP_KERNEL,
            )?;
            mapped.push(0, GFP_KERNEL)?;
            faults.push(FaultCounters::default(), GFP_KERNEL)?;
        }
        let notifier = Notifier::new(n)?;
        let ctx = CtxMgt::new(n)?;
        Arc::pin_init(
            try_pin_init!(Self {
                config,
                changing <- new_mutex!(Changing::new(), "vdmux::Mux::changing"),
                state <- new_mutex!(MuxState { table, mapped }, "vdmux::Mux::state"),
                reserved_size: AtomicUsize::new(config.reserved_size),
                detached: AtomicBool::new(false),
                reachable: AtomicBool::new(false),
                slots: Slots::new(device_memory, slots),
                faults,
                changed <- new_poll_condvar!("vdmux::Mux::changed"),
                notifier,
                notifying <- new_mutex!((), "vdmux::Mux::notifying"),
                ctx <- ctx,
            }),
            GFP_KERNEL,
        )
    }

    /// Lets the nodes be opened: every one of them is registered.
    pub(crate) fn make_reachable(&self) {
        self.reachable.store(true, Ordering::Release);
    }

    /// `ENODEV` unless every node is registered: what an open checks first.
    pub(crate) fn check_reachable(&self) -> Result {
        if self.reachable.load(Ordering::Acquire) {
            Ok(())
        } else {
            Err(ENODEV)
        }
    }

    pub(crate) fn notifier(&self) -> &Notifier {
        &self.notifier
    }

    /// Sends nothing through the nodes from now on, and returns once no
    /// notification uses them: they are about to be deregistered.
    pub(crate) fn forget_nodes(&self) {
        let _notifying = self.notifying.lock();
        self.notifier.forget_nodes();
    }

    /// Wakes every waiter and notifies user space of `changes`, after the
    /// state change released `state`.
    fn changed(&self, changes: Changes) {
        self.changed.notify_all();
        self.ctx.wake();
        let _notifying = self.notifying.lock();
        self.notifier.send(&changes);
    }

    /// Registers `table` to be woken by the next state change.
    pub(crate) fn poll_wait(&self, file: &File, table: &PollTable<'_>) {
        table.register_wait(file, &self.changed);
    }

    /// The state and generation of `vdev`.
    pub(crate) fn vdev_state(&self, vdev: usize) -> (VdevState, u64) {
        let state = self.state.lock();
        (state.table.state(vdev), state.table.generation(vdev))
    }

    /// `VDMUX_IOC_WAIT_FOREGROUND`: returns once `vdev` is the foreground;
    /// `ERESTARTSYS` when a signal comes first, `ENODEV` once the device
    /// memory is gone for good (see [`Mux::detach`]).
    pub(crate) fn wait_foreground(&self, vdev: u32) -> Result {
        let mut state = self.state.lock();
        let vdev = state.table.index(vdev)?;
        while state.table.foreground() != Some(vdev) {
            // `detach` sets the flag before it takes `state` to remove the
            // vdevs, and wakes every waiter after.
            if self.detached.load(Ordering::Relaxed) {
                return Err(ENODEV);
            }
            if self.changed.wait_interruptible(&mut state) {
                return Err(ERESTARTSYS);
            }
        }
        Ok(())
    }

    /// `VDMUX_IOC_GET_CTXMGT`.
    pub(crate) fn ctxmgt(&self) -> uapi::vdmux_ctxmgt {
        self.ctx.get()
    }

    /// Switches made by accesses in context management.
    pub(crate) fn ctxmgt_switches(&self) -> u64 {
        self.ctx.switches()
    }

    pub(crate) fn nr_vdevs(&self) -> usize {
        self.config.nr_vdevs
    }

    /// The largest reserved size `VDMUX_IOC_SET_RESERVED_SIZE` accepts.
    pub(crate) fn max_reserved_size(&self) -> usize {
        self.config.max_reserved_size
    }

    /// Makes `file`, being opened on `vdev`, share the virtual device's
    /// address_space.
    ///
    /// # Safety
    ///
    /// As for [`Slot::attach`]: `file` must be in its `open`, and the
    /// caller must keep `self` alive while it is open.
    pub(crate) unsafe fn attach(&self, vdev: usize, file: &File) {
        // SAFETY: The function's safety requirements are those of `attach`.
        unsafe { self.slots[vdev].attach(file) };
    }

    /// Whether the device memory is a device's memory (a PCI BAR), whose
    /// mappings are `VM_IO`.
    pub(crate) fn device_memory_is_io(&self) -> bool {
        matches!(self.slots.device_memory(), DeviceMemory::Bar(_))
    }

    pub(crate) fn reserved_size(&self) -> usize {
        self.reserved_size.load(Ordering::Acquire)
    }

    fn reserved_pages(&self) -> usize {
        self.reserved_size() / PAGE_SIZE
    }

    /// `VDMUX_IOC_GET_STATUS` of `vdev`, or of the control node for `None`.
    pub(crate) fn status(&self, vdev: Option<usize>) -> uapi::vdmux_status {
        let state = self.state.lock();
        let t = &state.table;
        let (index, code, generation) = match vdev {
            Some(v) => (v as u32, state_code(t.state(v)), t.generation(v)),
            None => (
                uapi::VDMUX_CONTROL,
                uapi::VDMUX_STATE_CONTROL,
                t.table_generation(),
            ),
        };
        uapi::vdmux_status {
            index,
            state: code,
            foreground: t.foreground().map_or(uapi::VDMUX_NONE, |f| f as u32),
            nr_vdevs: t.len() as u32,
            reserved_size: self.reserved_size() as u64,
            generation,
        }
    }
}

fn state_code(state: VdevState) -> u32 {
    match state {
        VdevState::Foreground => uapi::VDMUX_STATE_FOREGROUND,
        VdevState::Background => uapi::VDMUX_STATE_BACKGROUND,
        VdevState::Removed => uapi::VDMUX_STATE_REMOVED,
    }
}
