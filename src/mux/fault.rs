// SPDX-License-Identifier: GPL-2.0

//! Mappings and their faults: mmap admission, `->fault`, `->map_pages`,
//! `->huge_fault` and POPULATE.

use super::{
    slot::{
        Located,
        Location, //
    },
    Mux,
};
use crate::{
    kernel_ext::{
        fault::{
            AroundFault,
            HugeFault,
            PageFault,
            Waited, //
        },
        pfnmap::{
            FaultDone,
            FaultError, //
        },
        seq_wait::Freezing,
        task,
        user_vmas::for_each_user_mapping,
    },
    range,
    state::VdevState, //
};
use core::ops::Deref;
use kernel::{
    page::PAGE_SIZE,
    prelude::*, //
};

impl Mux {
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
    ///
    /// With context management on, a fault of a background `vdev` is an
    /// access that makes it the foreground (see `ctxmgt.rs`).
    pub(crate) fn fault(
        &self,
        vdev: usize,
        fault: &PageFault,
        autogrow: bool,
    ) -> Result<FaultDone, FaultError> {
        self.serve_fault(vdev, fault, autogrow)
    }

    /// Whether a fault that holds `location` must make its virtual device
    /// the foreground rather than map its backing store: context management
    /// is on. Read under the location, which enabling it revokes after
    /// setting it.
    fn must_switch<G: Deref<Target = Location>>(&self, location: &Located<'_, G>) -> bool {
        location.location() == Location::BackingStore && self.ctx.enabled()
    }

    /// What a fault of the background `vdev` that must switch returns once
    /// `wait_unlocked` ran `access_for_fault`: the retry it asked for. A
    /// fault that cannot release its lock (the fault-in of a futex
    /// operation, `fixup_user_fault`) raises SIGBUS (the system call gets
    /// EFAULT): a switch never runs under `mmap_lock`, and one made at once
    /// would skip the holder's time and every waiter's turn.
    fn after_access<F>(waited: Waited<F>) -> Result<FaultDone, FaultError> {
        match waited {
            Waited::Retry(done) | Waited::RetryLater(done) => Ok(done),
            Waited::Locked(_) => Err(FaultError::SigBus),
        }
    }

    /// The wait of a fault that must switch, without the fault's lock: a
    /// switch that fails leaves a mark, so that the retried fault raises
    /// SIGBUS rather than try again for ever.
    fn access_for_fault(&self, vdev: usize, freezing: Freezing) {
        match self.access_wait(vdev, freezing) {
            Ok(()) => {}
            // The task is being killed: the fault is not retried.
            Err(e) if e == EINTR => {}
            // Ejected between its turn and the switch: the retried fault
            // raises SIGBUS for that by itself. A mark would outlive an
            // INSERT, and fail the first access after it.
            Err(e) if e == ENODEV => {}
            Err(_) => self.ctx.mark_failed(vdev),
        }
    }

    fn serve_fault(
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
        if self.must_switch(&location) {
            drop(location);
            drop(growing);
            if self.ctx.take_failure(vdev) {
                return Err(FaultError::SigBus);
            }
            // SAFETY: Its result is what this fault returns.
            let waited =
                unsafe { fault.wait_unlocked(|freezing| self.access_for_fault(vdev, freezing)) };
            return Self::after_access(waited);
        }
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
        // A fault that found no memory for a page table served nothing.
        if done.mapped() {
            self.faults[vdev].count_pages(fault, false);
            if location.location() == Location::DeviceMemory {
                self.ctx.served(vdev);
            }
        }
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
        if self.must_switch(&location) {
            // `fault`, which may sleep, switches.
            return false;
        }
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
            self.faults[vdev].count_pages(fault, true);
            if location.location() == Location::DeviceMemory {
                self.ctx.served(vdev);
            }
        }
        mapped
    }

    /// Maps the PMD block of `vdev` around the fault with one PMD entry,
    /// from where its bytes are now, or falls back to single pages (see
    /// [`HugeFault::map_huge`]); SIGBUS as [`Mux::fault`]. A fault past the
    /// reserved size falls back, so that [`Mux::fault`] grows or refuses.
    ///
    /// With context management on, a huge fault of a background `vdev` is
    /// an access as in [`Mux::fault`], retried as a huge fault: it does not
    /// fall back, so that the block is mapped with a PMD entry once it is
    /// on the device memory.
    pub(crate) fn huge_fault(
        &self,
        vdev: usize,
        fault: &HugeFault,
    ) -> Result<FaultDone, FaultError> {
        self.serve_huge(vdev, fault)
    }

    fn serve_huge(&self, vdev: usize, fault: &HugeFault) -> Result<FaultDone, FaultError> {
        let pgoff = fault.pgoff();
        if !range::page_in_buffer(pgoff, self.reserved_size()) {
            return Err(FaultError::Fallback);
        }
        // Allocated first, without excluding the other faults.
        {
            let location = self.slots.shared(vdev);
            if self.must_switch(&location) {
                drop(location);
                return self.huge_access(vdev, fault);
            }
            let store = location.store().ok_or(FaultError::SigBus)?;
            store
                .allocate_at(pgoff * PAGE_SIZE)
                .map_err(|_| FaultError::SigBus)?;
        }
        let location = self.slots.exclusive(vdev);
        if self.must_switch(&location) {
            // Switched away, or the mode enabled, since the allocation.
            drop(location);
            return self.huge_access(vdev, fault);
        }
        let mapped = location.map_huge(fault, self.reserved_pages())?;
        if mapped.inserted() {
            self.faults[vdev].count_huge(fault);
            if location.location() == Location::DeviceMemory {
                self.ctx.served(vdev);
            }
        }
        Ok(mapped.into_done())
    }

    /// A huge fault of the background `vdev` that must switch: as in
    /// [`Mux::serve_fault`].
    fn huge_access(&self, vdev: usize, fault: &HugeFault) -> Result<FaultDone, FaultError> {
        if self.ctx.take_failure(vdev) {
            return Err(FaultError::SigBus);
        }
        // SAFETY: Its result is what this fault returns.
        let waited =
            unsafe { fault.wait_unlocked(|freezing| self.access_for_fault(vdev, freezing)) };
        Self::after_access(waited)
    }

    /// `VDMUX_IOC_POPULATE` of `vdev`: maps every page of the caller's
    /// mappings of `vdev` over `[addr, addr + len)`; `EINTR` once a fatal
    /// signal is pending (the OOM reaper skips `VM_PFNMAP` and cannot stop
    /// it otherwise), the pages mapped so far staying mapped.
    ///
    /// With context management on, POPULATE of a background `vdev` is an
    /// access: it releases `mmap_lock`, waits for its turn and switches
    /// (see `ctxmgt.rs`), and goes on from the span it had reached, which
    /// it maps on the device memory.
    pub(crate) fn populate(&self, vdev: usize, addr: u64, len: u64) -> Result {
        let addr = usize::try_from(addr).map_err(|_| EINVAL)?;
        let len = usize::try_from(len).map_err(|_| EINVAL)?;
        let end = addr.checked_add(len).ok_or(EINVAL)?;
        let mut at = addr;
        loop {
            let mut resume = None;
            let result = self.populate_from(vdev, at, end - at, &mut resume);
            match resume {
                // `populate_from` stops only there, with `mmap_lock`
                // released.
                Some(next) if result == Err(EAGAIN) => {
                    // With `mmap_lock` released, and no other lock held.
                    self.access_wait(vdev, Freezing::Allowed)?;
                    at = next;
                }
                _ => return result,
            }
        }
    }

    /// POPULATE of `[addr, addr + len)`, which stops with `EAGAIN` at the
    /// first span that must switch, its address in `resume`.
    fn populate_from(
        &self,
        vdev: usize,
        addr: usize,
        len: usize,
        resume: &mut Option<usize>,
    ) -> Result {
        for_each_user_mapping(self.slots[vdev].mapping(), addr, len, |part| {
            if part.pgoffs().end > self.reserved_pages() {
                return Err(ENXIO);
            }
            for span in part.pmd_spans() {
                if task::fatal_signal_pending() {
                    return Err(EINTR);
                }
                // Held for one span at a time: a state change of `vdev`,
                // and every fault queued behind it, waits for one span at
                // most. A span mapped before a change was zapped by it.
                let location = self.slots.shared(vdev);
                if self.must_switch(&location) {
                    *resume = Some(part.address_of(span.start).ok_or(EINVAL)?);
                    return Err(EAGAIN);
                }
                let store = location.store().ok_or(ENODEV)?;
                for pgoff in span.clone() {
                    store.allocate_at(pgoff * PAGE_SIZE)?;
                }
                location.populate(part, span)?;
                if location.location() == Location::DeviceMemory {
                    self.ctx.served(vdev);
                }
                drop(location);
                task::cond_resched();
            }
            Ok(())
        })
    }
}
