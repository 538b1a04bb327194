// SPDX-License-Identifier: GPL-2.0

//! The multiplexer: one reserved buffer of device memory shared among the
//! virtual devices, their backing stores, and every operation on them.
//!
//! Each virtual device's bytes are in its *location* (the device memory,
//! its backing store, or nowhere), held in its [`Slot`]. A location changes
//! only through [`Revoked`](crate::slot::Revoked) (write lock, then zap), and
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
//! 5. the zap's `i_mmap_rwsem`, then the page table or PMD lock.
//!
//! `Mux::notifying` is taken alone, after a change released all of these.
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

use crate::{
    config::{
        self,
        Config, //
    },
    device_memory::DeviceMemory,
    events::{
        Changes,
        Notifier, //
    },
    range,
    slot::{
        Location,
        Slot,
        Slots, //
    },
    state::{
        Change,
        StateTable,
        VdevState, //
    },
    store::Bytes,
    uapi,
    vm::{
        self,
        AroundFault,
        FaultDone,
        FaultError,
        HugeFault,
        PageFault,
        PseudoFs,
        VmFault, //
    },
};
use core::sync::atomic::{
    AtomicBool,
    AtomicU64,
    AtomicUsize,
    Ordering, //
};
use kernel::{
    bindings,
    fs::File,
    iov::{
        IovIterDest,
        IovIterSource, //
    },
    new_mutex, new_poll_condvar,
    page::PAGE_SIZE,
    prelude::*,
    sync::{
        poll::{
            PollCondVar,
            PollTable, //
        },
        Arc,
        Mutex,
        MutexGuard, //
    },
};

/// Largest piece `read`/`write` copy per hold of a location semaphore.
const IO_CHUNK: usize = 2 << 20;

/// What `state` protects.
struct MuxState {
    table: StateTable,
    /// Number of VMAs mapping each virtual device.
    mapped: KVec<usize>,
}

/// Faults served for one virtual device, shown in its fdinfo: what tells a
/// user (and the tests) whether its mappings get 2 MiB entries and whether
/// its faults avoid `mmap_lock`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct FaultCounts {
    /// Faults served with 4 KiB pages (each maps its fault-around block).
    pub(crate) pages: u64,
    /// Faults served with one 2 MiB (PMD) entry.
    pub(crate) huge: u64,
    /// Of those, faults served under the per-VMA lock, without `mmap_lock`.
    pub(crate) vma_lock: u64,
    /// Of the 4 KiB ones, faults served by `->map_pages` (fault-around of a
    /// read fault, in atomic context) without calling `->fault`.
    pub(crate) map_pages: u64,
}

/// One virtual device's fault counts, on a cache line of its own: the
/// counters of different vdevs sit side by side in `Mux::faults`, and faults
/// of different vdevs must not contend, not even for a line.
#[derive(Default)]
#[repr(align(64))]
struct FaultCounters {
    pages: AtomicU64,
    huge: AtomicU64,
    vma_lock: AtomicU64,
    map_pages: AtomicU64,
}

impl FaultCounters {
    fn count(&self, counter: &AtomicU64, fault: &VmFault) {
        counter.fetch_add(1, Ordering::Relaxed);
        if fault.under_vma_lock() {
            self.vma_lock.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn snapshot(&self) -> FaultCounts {
        FaultCounts {
            pages: self.pages.load(Ordering::Relaxed),
            huge: self.huge.load(Ordering::Relaxed),
            vma_lock: self.vma_lock.load(Ordering::Relaxed),
            map_pages: self.map_pages.load(Ordering::Relaxed),
        }
    }
}

/// The whole device: the control node and every virtual device act on it.
#[pin_data]
pub(crate) struct Mux {
    config: Config,
    /// Serializes the changes of state and of size, for their whole
    /// duration (copies included).
    #[pin]
    changing: Mutex<()>,
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
        Arc::pin_init(
            try_pin_init!(Self {
                config,
                changing <- new_mutex!((), "vdmux::Mux::changing"),
                state <- new_mutex!(MuxState { table, mapped }, "vdmux::Mux::state"),
                reserved_size: AtomicUsize::new(config.reserved_size),
                detached: AtomicBool::new(false),
                reachable: AtomicBool::new(false),
                slots: Slots::new(device_memory, slots),
                faults,
                changed <- new_poll_condvar!("vdmux::Mux::changed"),
                notifier,
                notifying <- new_mutex!((), "vdmux::Mux::notifying"),
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

    /// The store at `location` for `vdev`; `None` when removed.
    fn store_at(&self, vdev: usize, location: Location) -> Option<&dyn Bytes> {
        match location {
            Location::DeviceMemory => Some(self.slots.device_memory()),
            Location::BackingStore => Some(self.slots[vdev].backing()),
            Location::Nowhere => None,
        }
    }

    /// Wakes every waiter and notifies user space of `changes`, after the
    /// state change released `state`.
    fn changed(&self, changes: Changes) {
        self.changed.notify_all();
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

    pub(crate) fn nr_vdevs(&self) -> usize {
        self.config.nr_vdevs
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

    /// `VDMUX_IOC_SWITCH`: `vdev` becomes the foreground.
    pub(crate) fn switch(&self, vdev: u32) -> Result {
        let changes = self.switch_locked(vdev)?;
        self.changed(changes);
        Ok(())
    }

    /// A SWITCH as one transaction: the virtual devices it moves are
    /// revoked (locked and zapped) first, so that neither store can gain a
    /// chunk while it allocates; then it allocates everything, copies, and
    /// sets both locations. An allocation failure changes nothing, and the
    /// copies, prepared by those allocations, cannot fail.
    fn switch_locked(&self, vdev: u32) -> Result<Changes> {
        let _changing = self.changing.lock();
        let change = self.state.lock().table.plan_switch(vdev)?;
        let Change::Switch { from, to } = change else {
            return Ok(Changes::default());
        };
        let size = self.reserved_size();
        let mut old = from.map(|from| (from, self.slots[from].revoke()));
        let mut new = match &old {
            Some((_, outer)) => self.slots[to].revoke_nested(outer),
            None => self.slots[to].revoke(),
        };
        let incoming = self.slots[to].backing();
        self.slots
            .device_memory()
            .allocate_for_load(incoming, size)?;
        if let Some((from, _)) = &old {
            self.slots
                .device_memory()
                .allocate_for_save(self.slots[*from].backing(), size)?;
        }
        if let Some((from, _)) = &old {
            self.slots
                .device_memory()
                .save_into(self.slots[*from].backing(), size)?;
        }
        self.slots.device_memory().load_from(incoming, size)?;
        if let Some((_, location)) = &mut old {
            location.set(Location::BackingStore);
        }
        new.set(Location::DeviceMemory);
        Ok(self.commit(change))
    }

    /// Commits a state change that `changing` serialized, while holding the
    /// location semaphore of every virtual device it moves, so that the
    /// state user space reads agrees with what its accesses get (a SIGBUS
    /// after EJECT, say); what to notify.
    fn commit(&self, change: Change) -> Changes {
        let mut state = self.state.lock();
        state.table.commit(change);
        Changes::of(&state.table, change)
    }

    /// `VDMUX_IOC_EJECT`: `vdev` refuses every access from now on.
    pub(crate) fn eject(&self, vdev: u32) -> Result {
        let changes = self.eject_locked(vdev)?;
        self.changed(changes);
        Ok(())
    }

    fn eject_locked(&self, vdev: u32) -> Result<Changes> {
        let _changing = self.changing.lock();
        let change = self.state.lock().table.plan_eject(vdev)?;
        let Change::Eject {
            vdev,
            was_foreground,
        } = change
        else {
            return Err(EINVAL);
        };
        let size = self.reserved_size();
        // As for a SWITCH: revoked before the allocation, so that the store
        // cannot gain a chunk meanwhile.
        let slot = &self.slots[vdev];
        let mut location = slot.revoke();
        if was_foreground {
            self.slots
                .device_memory()
                .allocate_for_save(slot.backing(), size)?;
            self.slots.device_memory().save_into(slot.backing(), size)?;
        }
        location.set(Location::Nowhere);
        Ok(self.commit(change))
    }

    /// `VDMUX_IOC_INSERT`: a removed `vdev` comes back in the background.
    pub(crate) fn insert(&self, vdev: u32) -> Result {
        let changes = {
            let _changing = self.changing.lock();
            if self.detached.load(Ordering::Relaxed) {
                return Err(ENODEV);
            }
            let change = self.state.lock().table.plan_insert(vdev)?;
            let Change::Insert { vdev: index } = change else {
                return Err(EINVAL);
            };
            // Removed, it has no mapping to zap.
            let mut location = self.slots[index].revoke();
            location.set(Location::BackingStore);
            self.commit(change)
        };
        self.changed(changes);
        Ok(())
    }

    /// Removes every virtual device for good and gives back the device
    /// memory's BAR, when its device is being unbound: every mapping is
    /// revoked (their next access raises SIGBUS, as after EJECT), every
    /// state change fails from now on, and the foreground's bytes go with
    /// the device.
    pub(crate) fn detach(&self) -> Option<KBox<crate::bar::BarMemory>> {
        let changing = self.changing.lock();
        self.detached.store(true, Ordering::Relaxed);
        for vdev in 0..self.config.nr_vdevs {
            let mut location = self.slots[vdev].revoke();
            location.set(Location::Nowhere);
            let mut state = self.state.lock();
            if let Ok(change @ Change::Eject { .. }) = state.table.plan_eject(vdev as u32) {
                state.table.commit(change);
            }
        }
        // SAFETY: Every location is `Nowhere`, set under each one's
        // semaphore held exclusively after the zap, so no fault, copy or
        // mapping of the device memory is in progress or can start (a fault
        // of a removed virtual device maps nothing, an mmap of one is
        // refused); state changes, the only other users, are excluded by
        // `changing` and refused from now on by `detached`.
        let bar = unsafe { self.slots.device_memory().detach() };
        drop(changing);
        self.changed.notify_all();
        bar
    }

    /// `VDMUX_IOC_SET_RESERVED_SIZE`: growing is allowed while mapped,
    /// shrinking is not (`EBUSY`).
    pub(crate) fn resize(&self, size: u64) -> Result {
        let _changing = self.changing.lock();
        if self.detached.load(Ordering::Relaxed) {
            return Err(ENODEV);
        }
        // A BAR bounds the size: past it, there is no memory to be had. Read
        // under `changing`, which `detach` holds while it takes the BAR away.
        if let Some(capacity) = self.slots.device_memory().capacity() {
            if size > capacity as u64 && size <= config::MAX_RESERVED_LIMIT {
                return Err(ENOMEM);
            }
        }
        let size = self.config.resize_target(size).ok_or(EINVAL)?;
        let old = self.reserved_size();
        if size == old {
            return Ok(());
        }
        let foreground = {
            let mut state = self.state.lock();
            // Checked and published under `state`, which every mmap takes:
            // no mapping of the old size can begin once this is done.
            if size < old && state.mapped.iter().any(|&n| n > 0) {
                return Err(EBUSY);
            }
            self.reserved_size.store(size, Ordering::Release);
            state.table.bump();
            state.table.foreground()
        };
        if size < old {
            self.shrink(foreground, size);
        }
        drop(_changing);
        self.changed(Changes {
            resized: Some(size),
            ..Changes::default()
        });
        Ok(())
    }

    /// Truncates every store to `size`, each under the location semaphore
    /// of the virtual device that uses it, once the reserved size is `size`.
    fn shrink(&self, foreground: Option<usize>, size: usize) {
        for vdev in 0..self.config.nr_vdevs {
            let location = self.slots.exclusive(vdev);
            // SAFETY: Nothing was mapped when the size was made `size`, and
            // no mapping past it can be made since (the caller's check and
            // `map` hold `state`); the semaphore held exclusively keeps
            // `read`/`write` of `vdev` away from its backing store and, if
            // it is the foreground, from the device memory; state changes
            // are excluded by `changing`. `truncate` fails only on ranges
            // that cannot occur here.
            unsafe {
                let _ = self.slots[vdev].backing().truncate(size);
                if location.location() == Location::DeviceMemory {
                    let _ = self.slots.device_memory().truncate(size);
                }
            }
        }
        if foreground.is_none() {
            // SAFETY: With no foreground the device memory is nobody's
            // location: only holders of `changing` use it.
            let _ = unsafe { self.slots.device_memory().truncate(size) };
        }
    }

    /// Grows the reserved size to the end of page `pgoff` for an autogrow
    /// store of `vdev` there, after allocating the chunk that page is in
    /// where the bytes of `vdev` are now, so that a growth that cannot be
    /// allocated changes nothing. Returns `changing`, held: until it is
    /// released, `vdev` stays where that chunk was allocated (also when
    /// another store grew the buffer first).
    fn grow_for_store(&self, vdev: usize, pgoff: usize) -> Result<MutexGuard<'_, ()>> {
        let end = pgoff
            .checked_add(1)
            .and_then(|p| p.checked_mul(PAGE_SIZE))
            .ok_or(EINVAL)?;
        if end > self.config.max_reserved_size {
            return Err(EINVAL);
        }
        let changing = self.changing.lock();
        // The location cannot change while `changing` is held.
        let location = Location::of(self.state.lock().table.state(vdev));
        self.store_at(vdev, location)
            .ok_or(ENODEV)?
            .allocate_at(pgoff * PAGE_SIZE)?;
        if end <= self.reserved_size() {
            // Another store grew it meanwhile (its chunk may have been
            // allocated where `vdev` was then).
            return Ok(changing);
        }
        {
            let mut state = self.state.lock();
            self.reserved_size.store(end, Ordering::Release);
            state.table.bump();
        }
        self.changed.notify_all();
        // Uses no node: see `Notifier::grown_by_store`.
        self.notifier.grown_by_store();
        Ok(changing)
    }

    /// Admits a new mapping of `len` bytes at page offset `pgoff` of `vdev`
    /// and counts it. An autogrow mapping may reach up to the largest size,
    /// any other one up to the reserved size.
    pub(crate) fn map(&self, vdev: usize, pgoff: usize, len: usize, autogrow: bool) -> Result {
        let mut state = self.state.lock();
        if state.table.state(vdev) == VdevState::Removed {
            return Err(ENODEV);
        }
        let limit = if autogrow {
            self.config.max_reserved_size
        } else {
            self.reserved_size()
        };
        range::check_mmap(pgoff, len, limit)?;
        state.mapped[vdev] += 1;
        Ok(())
    }

    pub(crate) fn vma_opened(&self, vdev: usize) {
        self.state.lock().mapped[vdev] += 1;
    }

    pub(crate) fn vma_closed(&self, vdev: usize) {
        let mut state = self.state.lock();
        state.mapped[vdev] = state.mapped[vdev].saturating_sub(1);
    }

    /// Maps the page of `vdev` at the fault's offset from where its bytes
    /// are now, with the pages around it; SIGBUS past the buffer (unless an
    /// autogrow store grows it), when removed, or when the page cannot be
    /// allocated.
    pub(crate) fn fault(
        &self,
        vdev: usize,
        fault: &PageFault,
        autogrow: bool,
    ) -> Result<FaultDone, FaultError> {
        let pgoff = fault.pgoff();
        let past_end = !range::page_in_buffer(pgoff, self.reserved_size());
        let growing = if past_end {
            if !(autogrow && fault.is_write()) {
                return Err(FaultError::SigBus);
            }
            Some(
                self.grow_for_store(vdev, pgoff)
                    .map_err(|_| FaultError::SigBus)?,
            )
        } else {
            None
        };
        // Lock order: `changing` before the location.
        let location = self.slots.shared(vdev);
        let reserved_pages = self.reserved_pages();
        if pgoff >= reserved_pages {
            return Err(FaultError::SigBus);
        }
        let store = location.store().ok_or(FaultError::SigBus)?;
        let around = if let Some(changing) = growing {
            // The growth allocated the page's chunk in `store`: the location
            // has not changed since, and from here the semaphore keeps it.
            // A store that grew the buffer maps its page alone: the pages
            // before it were inside the buffer, and mapped by the faults
            // that touched them, when a writer goes forward a page at a
            // time.
            drop(changing);
            pgoff..pgoff + 1
        } else {
            store
                .allocate_at(pgoff * PAGE_SIZE)
                .map_err(|_| FaultError::SigBus)?;
            // Fault-around: the rest of the aligned block is mapped with it,
            // so that a sequential toucher takes one fault per block (read
            // faults get it from `map_pages` first).
            let vma = fault.vma_pages();
            let window = self.config.fault_around_pages;
            range::fault_around(pgoff, window, vma.pgoff, vma.len, reserved_pages)
        };
        let done = location.map_page(fault, around)?;
        let counters = &self.faults[vdev];
        counters.count(&counters.pages, fault);
        Ok(done)
    }

    /// `->map_pages`: maps the fault-around block of a read fault of `vdev`
    /// without sleeping, if the location semaphore is free and the pages
    /// and page table exist; whether the faulting page is now mapped (else
    /// the kernel calls [`Mux::fault`]).
    pub(crate) fn map_pages(&self, vdev: usize, fault: &AroundFault) -> bool {
        let Some(location) = self.slots.try_shared(vdev) else {
            return false;
        };
        let pgoff = fault.pgoff();
        let reserved_pages = self.reserved_pages();
        if pgoff >= reserved_pages {
            return false;
        }
        let vma = fault.vma_pages();
        let window = self.config.fault_around_pages;
        let around = range::fault_around(pgoff, window, vma.pgoff, vma.len, reserved_pages);
        let mapped = location.map_into_table(fault, around);
        if mapped {
            let counters = &self.faults[vdev];
            counters.count(&counters.pages, fault);
            counters.map_pages.fetch_add(1, Ordering::Relaxed);
        }
        mapped
    }

    /// Maps the 2 MiB block of `vdev` around the fault with one PMD entry,
    /// from where its bytes are now, or falls back to 4 KiB pages (see
    /// [`HugeFault::map_huge`]); SIGBUS as [`Mux::fault`]. A fault past the
    /// reserved size falls back, so that [`Mux::fault`] grows or refuses.
    pub(crate) fn huge_fault(
        &self,
        vdev: usize,
        fault: &HugeFault,
    ) -> Result<FaultDone, FaultError> {
        let pgoff = fault.pgoff();
        if !range::page_in_buffer(pgoff, self.reserved_size()) {
            return Err(FaultError::Fallback);
        }
        // Allocated first, without excluding the other faults.
        {
            let location = self.slots.shared(vdev);
            let store = location.store().ok_or(FaultError::SigBus)?;
            store
                .allocate_at(pgoff * PAGE_SIZE)
                .map_err(|_| FaultError::SigBus)?;
        }
        let mapped = self
            .slots
            .exclusive(vdev)
            .map_huge(fault, self.reserved_pages())?;
        if mapped.inserted() {
            let counters = &self.faults[vdev];
            counters.count(&counters.huge, fault);
        }
        Ok(mapped.into_done())
    }

    /// `VDMUX_IOC_POPULATE` of `vdev`: maps every page of the caller's
    /// mappings of `vdev` over `[addr, addr + len)`; `EINTR` once a fatal
    /// signal is pending (the OOM reaper skips `VM_PFNMAP` and cannot stop
    /// it otherwise), the pages mapped so far staying mapped.
    pub(crate) fn populate(&self, vdev: usize, addr: u64, len: u64) -> Result {
        let addr = usize::try_from(addr).map_err(|_| EINVAL)?;
        let len = usize::try_from(len).map_err(|_| EINVAL)?;
        vm::for_each_user_mapping(self.slots[vdev].mapping(), addr, len, |part| {
            let location = self.slots.shared(vdev);
            let store = location.store().ok_or(ENODEV)?;
            if part.pgoffs().end > self.reserved_pages() {
                return Err(ENXIO);
            }
            for span in part.pmd_spans() {
                // SAFETY: A plain query about the current task.
                if unsafe { crate::helpers::vdmux_fatal_signal_pending() } {
                    return Err(EINTR);
                }
                for pgoff in span.clone() {
                    store.allocate_at(pgoff * PAGE_SIZE)?;
                }
                location.populate(part, span)?;
                // SAFETY: Sleeping is allowed here.
                unsafe { crate::helpers::vdmux_cond_resched() };
            }
            Ok(())
        })
    }

    /// How many 2 MiB blocks of where the bytes of `vdev` are now can be
    /// mapped with PMD entries (0 while removed; a block not yet allocated
    /// does not count), and the faults served for `vdev` so far.
    pub(crate) fn map_stats(&self, vdev: usize) -> (usize, FaultCounts) {
        let location = self.slots.shared(vdev);
        let blocks = location
            .store()
            .map_or(0, |store| store.huge_chunks(self.reserved_size()));
        (blocks, self.faults[vdev].snapshot())
    }

    /// `read(2)` of `vdev` at `*pos`, advancing it: one copy from the store
    /// to the user's buffer.
    pub(crate) fn read(
        &self,
        vdev: usize,
        pos: &mut i64,
        iov: &mut IovIterDest<'_>,
    ) -> Result<usize> {
        let mut done = 0;
        while !iov.is_empty() {
            let (want, copied) = {
                let location = self.slots.shared(vdev);
                let store = match location.store() {
                    Some(store) => store,
                    None if done == 0 => return Err(ENODEV),
                    None => break,
                };
                let want = range::read_len(*pos, iov.len().min(IO_CHUNK), self.reserved_size())?;
                if want == 0 {
                    break;
                }
                match store.copy_to_iter(*pos as usize, want, iov) {
                    Ok(copied) => (want, copied),
                    Err(e) if done == 0 => return Err(e),
                    Err(_) => break,
                }
            };
            done += copied;
            *pos += copied as i64;
            if copied < want {
                // A page of the user's buffer is not mapped: fault it in now
                // that the semaphore is released.
                let rest = want - copied;
                // SAFETY: `iov` is a valid iterator.
                if unsafe { bindings::fault_in_iov_iter_writeable(iov.as_raw(), rest) } == rest {
                    return if done == 0 { Err(EFAULT) } else { Ok(done) };
                }
            }
        }
        Ok(done)
    }

    /// `write(2)` of `vdev` at `*pos`, advancing it: one copy from the
    /// user's buffer to the store, clamped to the reserved size before
    /// anything is taken from `iov`, so that `iov` gives up exactly the
    /// bytes written.
    pub(crate) fn write(
        &self,
        vdev: usize,
        pos: &mut i64,
        iov: &mut IovIterSource<'_>,
    ) -> Result<usize> {
        let mut done = 0;
        while !iov.is_empty() {
            let step = {
                let location = self.slots.shared(vdev);
                location.store().ok_or(ENODEV).and_then(|store| {
                    let want =
                        range::write_len(*pos, iov.len().min(IO_CHUNK), self.reserved_size())?;
                    Ok((want, store.copy_from_iter(*pos as usize, want, iov)?))
                })
            };
            let (want, copied) = match step {
                Ok(step) => step,
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            };
            done += copied;
            *pos += copied as i64;
            if copied < want {
                let rest = want - copied;
                // SAFETY: `iov` is a valid iterator.
                if unsafe { bindings::fault_in_iov_iter_readable(iov.as_raw(), rest) } == rest {
                    return if done == 0 { Err(EFAULT) } else { Ok(done) };
                }
            }
        }
        Ok(done)
    }
}

fn state_code(state: VdevState) -> u32 {
    match state {
        VdevState::Foreground => uapi::VDMUX_STATE_FOREGROUND,
        VdevState::Background => uapi::VDMUX_STATE_BACKGROUND,
        VdevState::Removed => uapi::VDMUX_STATE_REMOVED,
    }
}
