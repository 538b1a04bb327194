// SPDX-License-Identifier: GPL-2.0

//! Mappings and their faults: mmap admission, `->fault`, `->map_pages`,
//! `->huge_fault` and POPULATE.

use super::Mux;
use crate::{
    kernel_ext::{
        fault::{
            AroundFault,
            HugeFault,
            PageFault, //
        },
        pfnmap::{
            FaultDone,
            FaultError, //
        },
        task,
        user_vmas::for_each_user_mapping,
    },
    range,
    state::VdevState, //
};
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
        // A fault that found no memory for a page table served nothing.
        if done.mapped() {
            self.faults[vdev].count_pages(fault, false);
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
            self.faults[vdev].count_huge(fault);
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
                let store = location.store().ok_or(ENODEV)?;
                for pgoff in span.clone() {
                    store.allocate_at(pgoff * PAGE_SIZE)?;
                }
                location.populate(part, span)?;
                drop(location);
                task::cond_resched();
            }
            Ok(())
        })
    }
}
