// SPDX-License-Identifier: GPL-2.0

//! The multiplexer: one reserved buffer of device memory shared among the
//! virtual devices, their backing stores, and every operation on them.
//!
//! # Locking
//!
//! One mutex, [`Mux`]'s `inner`, serializes page faults with state changes,
//! so that no fault can map a page that a concurrent SWITCH or EJECT has
//! just revoked: a state change zaps the mappings while holding it, and a
//! fault chooses its store and inserts its page while holding it. Lock
//! order, outermost first:
//!
//! 1. `mmap_lock` or the VMA lock, held by the kernel around our VMA
//!    callbacks: `->fault` runs under `mmap_lock` (read), because our
//!    `vm_ops` has no `->map_pages` and the core retries such a fault under
//!    `mmap_lock` when the per-VMA lock was tried first; `->huge_fault` may
//!    run under the per-VMA lock alone; `->open` and `->close` run under
//!    `mmap_write_lock` (for a fork, the parent's, with the parent VMA's
//!    write lock);
//! 2. `Mux::inner`;
//! 3. `i_mmap_rwsem` of a [`SharedMapping`] (taken by `unmap_all`, and by
//!    the zap of a fork copy's `->open`, which runs without `inner`);
//! 4. the page table lock, or the PMD lock for a 2 MiB entry (taken when
//!    inserting or zapping one).
//!
//! Rules that follow from it:
//!
//! - Nothing copies to or from user memory while holding `inner`: a user
//!   buffer may itself be a vdmux mapping, whose fault needs `inner`.
//!   `read`/`write` go through a kernel bounce buffer instead.
//! - A huge fault that falls back drops `inner` before the core calls
//!   `->fault`, so a 4 KiB fault may find that a 2 MiB entry was installed
//!   meanwhile; `VmFault::map_page` checks the PMD under `inner`.
//! - Zaps do not take `mmap_lock`, so fork must not copy our entries
//!   (`vm.rs` explains why and how).
//! - Copies of whole buffers (SWITCH, EJECT, resize) run under `inner` and
//!   reschedule every MiB; allocations under it are charged to the caller's
//!   memory cgroup.

use crate::{
    buffer::{
        self,
        PageBuffer, //
    },
    config::Config,
    events::{
        Changes,
        Notifier, //
    },
    range,
    state::{
        Change,
        StateTable,
        VdevState, //
    },
    uapi,
    vm::{
        FaultDone,
        FaultError,
        PseudoFs,
        SharedMapping,
        VmFault, //
    },
};
use kernel::{
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
        Mutex, //
    },
};

/// Largest chunk `read`/`write` copy per lock hold.
const IO_CHUNK: usize = 16 * PAGE_SIZE;

struct MuxInner {
    table: StateTable,
    /// Size of the device memory and of every backing store, in bytes.
    reserved_size: usize,
    /// The foreground virtual device's pages.
    device_memory: PageBuffer,
    /// Each virtual device's backing store, allocated on first use.
    backing: KVec<Option<PageBuffer>>,
    /// Number of VMAs mapping each virtual device.
    mapped: KVec<usize>,
    /// Faults served for each virtual device since the module was loaded.
    faults: KVec<FaultCounts>,
}

/// Faults served for one virtual device, shown in its fdinfo: what tells a
/// user (and the tests) whether its mappings get 2 MiB entries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct FaultCounts {
    /// Faults served with 4 KiB pages (each maps its fault-around block).
    pub(crate) pages: u64,
    /// Faults served with one 2 MiB (PMD) entry.
    pub(crate) huge: u64,
}

/// The whole device: the control node and every virtual device act on it.
#[pin_data]
pub(crate) struct Mux {
    config: Config,
    #[pin]
    inner: Mutex<MuxInner>,
    /// Woken after every state change: `poll` waiters and
    /// `VDMUX_IOC_WAIT_FOREGROUND`, which waits on it with `inner`.
    #[pin]
    changed: PollCondVar,
    /// Sends sysfs notifications and uevents after state changes.
    notifier: Notifier,
    /// One address_space per virtual device, shared by all its open files.
    mappings: KVec<SharedMapping>,
}

impl MuxInner {
    /// The backing store of `vdev`, allocated (zero-filled) if needed.
    fn backing_store(&mut self, vdev: usize) -> Result<&mut PageBuffer> {
        if self.backing[vdev].is_none() {
            self.backing[vdev] = Some(PageBuffer::new_zeroed(self.reserved_size)?);
        }
        self.backing[vdev].as_mut().ok_or(ENOMEM)
    }

    /// Where the bytes of `vdev` are now, allocating its backing store if
    /// needed; `ENODEV` when it is removed.
    fn current_store(&mut self, vdev: usize) -> Result<&mut PageBuffer> {
        match self.table.state(vdev) {
            VdevState::Removed => Err(ENODEV),
            VdevState::Foreground => Ok(&mut self.device_memory),
            VdevState::Background => self.backing_store(vdev),
        }
    }

    /// Like `current_store`, without allocating: `None` means all zeroes.
    fn current_store_if_any(&self, vdev: usize) -> Result<Option<&PageBuffer>> {
        match self.table.state(vdev) {
            VdevState::Removed => Err(ENODEV),
            VdevState::Foreground => Ok(Some(&self.device_memory)),
            VdevState::Background => Ok(self.backing[vdev].as_ref()),
        }
    }
}

impl Mux {
    pub(crate) fn new(config: Config) -> Result<Arc<Self>> {
        let fs = PseudoFs::mount()?;
        let n = config.nr_vdevs;
        let mut mappings = KVec::with_capacity(n, GFP_KERNEL)?;
        let mut backing = KVec::with_capacity(n, GFP_KERNEL)?;
        let mut mapped = KVec::with_capacity(n, GFP_KERNEL)?;
        let mut faults = KVec::with_capacity(n, GFP_KERNEL)?;
        for _ in 0..n {
            mappings.push(SharedMapping::new(&fs)?, GFP_KERNEL)?;
            backing.push(None, GFP_KERNEL)?;
            mapped.push(0, GFP_KERNEL)?;
            faults.push(FaultCounts::default(), GFP_KERNEL)?;
        }
        let inner = MuxInner {
            table: StateTable::new(n)?,
            reserved_size: config.reserved_size,
            device_memory: PageBuffer::new_zeroed(config.reserved_size)?,
            backing,
            mapped,
            faults,
        };
        let notifier = Notifier::new(n)?;
        Arc::pin_init(
            try_pin_init!(Self {
                config,
                inner <- new_mutex!(inner, "vdmux::Mux::inner"),
                changed <- new_poll_condvar!("vdmux::Mux::changed"),
                notifier,
                mappings,
            }),
            GFP_KERNEL,
        )
    }

    pub(crate) fn notifier(&self) -> &Notifier {
        &self.notifier
    }

    /// Wakes every waiter and notifies user space of `changes`, after the
    /// state change released `inner`.
    fn changed(&self, changes: Changes) {
        self.changed.notify_all();
        self.notifier.send(&changes);
    }

    /// Registers `table` to be woken by the next state change.
    pub(crate) fn poll_wait(&self, file: &File, table: &PollTable<'_>) {
        table.register_wait(file, &self.changed);
    }

    /// The state and generation of `vdev`.
    pub(crate) fn vdev_state(&self, vdev: usize) -> (VdevState, u64) {
        let inner = self.inner.lock();
        (inner.table.state(vdev), inner.table.generation(vdev))
    }

    /// `VDMUX_IOC_WAIT_FOREGROUND`: returns once `vdev` is the foreground;
    /// `ERESTARTSYS` when a signal comes first.
    pub(crate) fn wait_foreground(&self, vdev: u32) -> Result {
        let mut inner = self.inner.lock();
        let vdev = inner.table.index(vdev)?;
        while inner.table.foreground() != Some(vdev) {
            if self.changed.wait_interruptible(&mut inner) {
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
    /// As for [`SharedMapping::attach`]: `file` must be in its `open`, and
    /// the caller must keep `self` alive while it is open.
    pub(crate) unsafe fn attach(&self, vdev: usize, file: &File) {
        // SAFETY: The function's safety requirements are those of `attach`.
        unsafe { self.mappings[vdev].attach(file) };
    }

    pub(crate) fn reserved_size(&self) -> usize {
        self.inner.lock().reserved_size
    }

    /// `VDMUX_IOC_GET_STATUS` of `vdev`, or of the control node for `None`.
    pub(crate) fn status(&self, vdev: Option<usize>) -> uapi::vdmux_status {
        let inner = self.inner.lock();
        let t = &inner.table;
        let (index, state, generation) = match vdev {
            Some(v) => (v as u32, state_code(t.state(v)), t.generation(v)),
            None => (
                uapi::VDMUX_CONTROL,
                uapi::VDMUX_STATE_CONTROL,
                t.table_generation(),
            ),
        };
        uapi::vdmux_status {
            index,
            state,
            foreground: t.foreground().map_or(uapi::VDMUX_NONE, |f| f as u32),
            nr_vdevs: t.len() as u32,
            reserved_size: inner.reserved_size as u64,
            generation,
        }
    }

    /// `VDMUX_IOC_SWITCH`: `vdev` becomes the foreground.
    pub(crate) fn switch(&self, vdev: u32) -> Result {
        let changes = self.switch_locked(vdev)?;
        self.changed(changes);
        Ok(())
    }

    fn switch_locked(&self, vdev: u32) -> Result<Changes> {
        let mut inner = self.inner.lock();
        let change = inner.table.plan_switch(vdev)?;
        let Change::Switch { from, to } = change else {
            return Ok(Changes::default());
        };
        // Allocate first: on ENOMEM nothing has changed.
        if let Some(from) = from {
            inner.backing_store(from)?;
        }
        // Revoke before moving bytes: with `inner` held no fault can map a
        // page again, and once the zap returns (TLBs flushed) no CPU can
        // write through an old mapping, so no write is lost by the copies.
        if let Some(from) = from {
            self.mappings[from].unmap_all();
        }
        self.mappings[to].unmap_all();
        let inner = &mut *inner;
        let size = inner.reserved_size;
        if let Some(store) = from.and_then(|f| inner.backing[f].as_mut()) {
            store.copy_from(&inner.device_memory, size)?;
        }
        match &inner.backing[to] {
            Some(store) => inner.device_memory.copy_from(store, size)?,
            None => inner.device_memory.zero(0, size)?,
        }
        inner.table.commit(change);
        Ok(Changes::of(&inner.table, change))
    }

    /// `VDMUX_IOC_EJECT`: `vdev` refuses every access from now on.
    pub(crate) fn eject(&self, vdev: u32) -> Result {
        let changes = self.eject_locked(vdev)?;
        self.changed(changes);
        Ok(())
    }

    fn eject_locked(&self, vdev: u32) -> Result<Changes> {
        let mut inner = self.inner.lock();
        let change = inner.table.plan_eject(vdev)?;
        let Change::Eject {
            vdev,
            was_foreground,
        } = change
        else {
            return Err(EINVAL);
        };
        if was_foreground {
            inner.backing_store(vdev)?;
        }
        self.mappings[vdev].unmap_all();
        if was_foreground {
            let inner = &mut *inner;
            if let Some(store) = inner.backing[vdev].as_mut() {
                store.copy_from(&inner.device_memory, inner.reserved_size)?;
            }
        }
        inner.table.commit(change);
        Ok(Changes::of(&inner.table, change))
    }

    /// `VDMUX_IOC_INSERT`: a removed `vdev` comes back in the background.
    pub(crate) fn insert(&self, vdev: u32) -> Result {
        let changes = {
            let mut inner = self.inner.lock();
            let change = inner.table.plan_insert(vdev)?;
            inner.table.commit(change);
            Changes::of(&inner.table, change)
        };
        self.changed(changes);
        Ok(())
    }

    /// `VDMUX_IOC_SET_RESERVED_SIZE`. Every buffer is allocated before any
    /// is replaced, so `ENOMEM` leaves everything as it was.
    pub(crate) fn resize(&self, size: u64) -> Result {
        let size = self.config.resize_target(size).ok_or(EINVAL)?;
        if self.resize_locked(size)? {
            self.changed(Changes {
                resized: Some(size),
                ..Changes::default()
            });
        }
        Ok(())
    }

    /// Resizes to `size`; whether anything changed.
    fn resize_locked(&self, size: usize) -> Result<bool> {
        let mut inner = self.inner.lock();
        if inner.mapped.iter().any(|&n| n > 0) {
            return Err(EBUSY);
        }
        if size == inner.reserved_size {
            return Ok(false);
        }
        // Every buffer is allocated before any old one is freed: refuse up
        // front what memory cannot hold all at once.
        let buffers = 1 + inner.backing.iter().filter(|b| b.is_some()).count();
        if !buffer::fits_in_memory((size / PAGE_SIZE).saturating_mul(buffers)) {
            return Err(ENOMEM);
        }
        let keep = size.min(inner.reserved_size);
        let mut device_memory = PageBuffer::new_zeroed(size)?;
        let mut backing = KVec::with_capacity(inner.backing.len(), GFP_KERNEL)?;
        for old in inner.backing.iter() {
            let new = match old {
                Some(_) => Some(PageBuffer::new_zeroed(size)?),
                None => None,
            };
            backing.push(new, GFP_KERNEL)?;
        }
        device_memory.copy_from(&inner.device_memory, keep)?;
        for (new, old) in backing.iter_mut().zip(inner.backing.iter()) {
            if let (Some(new), Some(old)) = (new, old) {
                new.copy_from(old, keep)?;
            }
        }
        inner.device_memory = device_memory;
        inner.backing = backing;
        inner.reserved_size = size;
        inner.table.bump();
        Ok(true)
    }

    /// Admits a new mapping of `len` bytes at page offset `pgoff` of `vdev`
    /// and counts it.
    pub(crate) fn map(&self, vdev: usize, pgoff: usize, len: usize) -> Result {
        let mut inner = self.inner.lock();
        if inner.table.state(vdev) == VdevState::Removed {
            return Err(ENODEV);
        }
        range::check_mmap(pgoff, len, inner.reserved_size)?;
        inner.mapped[vdev] += 1;
        Ok(())
    }

    pub(crate) fn vma_opened(&self, vdev: usize) {
        self.inner.lock().mapped[vdev] += 1;
    }

    pub(crate) fn vma_closed(&self, vdev: usize) {
        let mut inner = self.inner.lock();
        inner.mapped[vdev] = inner.mapped[vdev].saturating_sub(1);
    }

    /// Maps the page of `vdev` at the fault's offset from where its bytes
    /// are now; SIGBUS past the buffer, when removed, or when its backing
    /// store cannot be allocated.
    pub(crate) fn fault(&self, vdev: usize, fault: &VmFault) -> Result<FaultDone, FaultError> {
        let mut inner = self.inner.lock();
        let pgoff = fault.pgoff();
        if !range::page_in_buffer(pgoff, inner.reserved_size) {
            return Err(FaultError::SigBus);
        }
        let reserved_pages = inner.reserved_size / PAGE_SIZE;
        let store = inner.current_store(vdev).map_err(|_| FaultError::SigBus)?;
        // SAFETY: `store` is where the bytes of `vdev` are now, and `inner`,
        // held until we return, is held by every zap of its mappings and by
        // every huge fault; a store is freed only by a resize, refused while
        // anything is mapped, or with the device, which its mappings keep.
        let done = unsafe { fault.map_page(store) }?;
        // Fault-around: map the rest of the aligned block now, under the
        // same lock, so a sequential toucher takes one fault per block.
        let vma = fault.vma_pages();
        let window = self.config.fault_around_pages;
        let around = range::fault_around(pgoff, window, vma.pgoff, vma.len, reserved_pages);
        // SAFETY: As for `map_page` above.
        unsafe { fault.map_around(store, around.filter(|&n| n != pgoff)) };
        inner.faults[vdev].pages += 1;
        Ok(done)
    }

    /// Maps the 2 MiB block of `vdev` around the fault with one PMD entry,
    /// from where its bytes are now, or falls back to 4 KiB pages (see
    /// [`VmFault::map_huge`]); SIGBUS as [`Mux::fault`].
    pub(crate) fn huge_fault(&self, vdev: usize, fault: &VmFault) -> Result<FaultDone, FaultError> {
        let mut inner = self.inner.lock();
        if !range::page_in_buffer(fault.pgoff(), inner.reserved_size) {
            return Err(FaultError::SigBus);
        }
        let store = inner.current_store(vdev).map_err(|_| FaultError::SigBus)?;
        // SAFETY: As in `fault`.
        let done = unsafe { fault.map_huge(store) }?;
        inner.faults[vdev].huge += 1;
        Ok(done)
    }

    /// How many 2 MiB blocks of where the bytes of `vdev` are now can be
    /// mapped with PMD entries (0 while they are nowhere or removed), and
    /// the faults served for `vdev` so far.
    pub(crate) fn map_stats(&self, vdev: usize) -> (usize, FaultCounts) {
        let inner = self.inner.lock();
        let blocks = match inner.current_store_if_any(vdev) {
            Ok(Some(store)) => store.huge_blocks(),
            _ => 0,
        };
        (blocks, inner.faults[vdev])
    }

    /// `read(2)` of `vdev` at `*pos`, advancing it.
    pub(crate) fn read(
        &self,
        vdev: usize,
        pos: &mut i64,
        iov: &mut IovIterDest<'_>,
    ) -> Result<usize> {
        let mut bounce = KVec::from_elem(0u8, iov.len().min(IO_CHUNK), GFP_KERNEL)?;
        let mut done = 0;
        while !iov.is_empty() {
            let len = {
                let inner = self.inner.lock();
                let store = match inner.current_store_if_any(vdev) {
                    Ok(store) => store,
                    Err(e) if done == 0 => return Err(e),
                    Err(_) => break,
                };
                let len = range::read_len(*pos, iov.len().min(IO_CHUNK), inner.reserved_size)?;
                if len == 0 {
                    break;
                }
                match store {
                    Some(store) => store.read(*pos as usize, &mut bounce[..len])?,
                    None => bounce[..len].fill(0),
                }
                len
            };
            let copied = iov.copy_to_iter(&bounce[..len]);
            done += copied;
            *pos += copied as i64;
            if copied < len {
                if done == 0 {
                    return Err(EFAULT);
                }
                break;
            }
        }
        Ok(done)
    }

    /// `write(2)` of `vdev` at `*pos`, advancing it. Each chunk is clamped
    /// to the reserved size before it is taken from `iov`, so that `iov`
    /// gives up exactly the bytes written.
    pub(crate) fn write(
        &self,
        vdev: usize,
        pos: &mut i64,
        iov: &mut IovIterSource<'_>,
    ) -> Result<usize> {
        let mut bounce = KVec::from_elem(0u8, iov.len().min(IO_CHUNK), GFP_KERNEL)?;
        let mut done = 0;
        while !iov.is_empty() {
            let want = {
                let inner = self.inner.lock();
                inner.current_store_if_any(vdev).and_then(|_| {
                    range::write_len(*pos, iov.len().min(IO_CHUNK), inner.reserved_size)
                })
            };
            let want = match want {
                Ok(want) => want,
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            };
            let copied = iov.copy_from_iter(&mut bounce[..want]);
            if copied == 0 {
                return if done == 0 { Err(EFAULT) } else { Ok(done) };
            }
            let mut inner = self.inner.lock();
            // A resize may have shrunk the buffer since `want` was taken.
            let result = range::write_len(*pos, copied, inner.reserved_size)
                .and_then(|len| Ok((len, inner.current_store(vdev)?)))
                .and_then(|(len, store)| store.write(*pos as usize, &bounce[..len]).map(|()| len));
            drop(inner);
            let written = *result.as_ref().unwrap_or(&0);
            if written < copied {
                // SAFETY: `copied` bytes were just taken from `iov`, and
                // `written` is at most that.
                unsafe { iov.revert(copied - written) };
            }
            match result {
                Ok(len) => {
                    done += len;
                    *pos += len as i64;
                    if len < copied {
                        break;
                    }
                }
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
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
