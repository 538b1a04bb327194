// SPDX-License-Identifier: GPL-2.0

//! Inserting page frames into a `VM_PFNMAP`: special PTEs for runs of RAM
//! frames in one page-table walk, `vmf_insert_pfn` for I/O frames, and
//! what a fault returns after.
//!
//! Belongs upstream in `rust/kernel/mm/virt.rs` (a `VmaMixedMap`-like
//! `VmaPfnMap` access level with `vmf_insert_pfn` and a batched insertion);
//! the batched walk would first need an exported C entry point.

use super::vma_geometry::VmaPages;
use crate::helpers;
use kernel::{
    bindings,
    error::to_result,
    prelude::*, //
};

/// Memory whose page frames faults map.
///
/// # Safety
///
/// Every frame `pfn` and `huge_pfn` return belongs to the implementor, stays
/// allocated (or, for I/O memory, claimed) while the implementor lives
/// unless its owner zaps every mapping first, and is I/O memory exactly when
/// `is_io_memory` says so: the insertion functions map whatever frames they
/// are given, and choose the cache mode from `is_io_memory`.
pub(crate) unsafe trait PageFrames {
    /// The page frame of page `pgoff`, if that page exists now.
    fn pfn(&self, pgoff: usize) -> Option<usize>;

    /// The first page frame of the PMD block starting at page `pgoff`, if
    /// its [`HUGE_PAGES`] frames exist, are contiguous and start aligned to
    /// [`HUGE_PAGES`], so that one PMD entry can map it.
    fn huge_pfn(&self, pgoff: usize) -> Option<usize>;

    /// Whether the frames are I/O memory (a BAR) rather than RAM the module
    /// allocated: they are mapped write-combining.
    fn is_io_memory(&self) -> bool {
        false
    }
}

/// Most page frames [`insert_frames`] hands the kernel at once: a
/// fault-around window, a slice of a POPULATE.
const INSERT_BATCH: usize = 32;

/// Maps the pages `pgoffs` of `store` at the addresses of the VMA `vma`
/// (whose pages `pages` describes) as special PTEs, as
/// [`VmFault::map_page`] does: a page that `store` does not have is
/// skipped, an entry already present is left alone. `ENOMEM` when a page
/// table could not be allocated.
///
/// The module's RAM is write-back, so runs of up to [`INSERT_BATCH`] of its
/// pages are mapped with one walk and one page table lock each
/// (`vdmux_insert_pfns`; on arm64 one per page, see `src/c_helpers.c`). I/O memory goes through `vmf_insert_pfn_prot`,
/// page by page, write-combining (on x86 PAT then applies the memtype
/// `pci_iomap_wc` reserved, which agrees) and with the protection
/// decrypted as for any I/O mapping (`vdmux_insert_io_pfn`).
///
/// # Safety
///
/// `vma` must be valid, a `VM_PFNMAP` that is no `VM_MIXEDMAP` and no COW
/// mapping, and map every page of `pgoffs`, all of them under one page
/// middle directory entry that is no PMD leaf and cannot become one
/// until this returns. `store` must be kept alive and in place as for
/// [`VmFault::map_page`]. A caller that must not sleep must know that
/// entry to point to a page table already.
pub(super) unsafe fn insert_frames(
    vma: *mut bindings::vm_area_struct,
    pages: &VmaPages,
    store: &(impl PageFrames + ?Sized),
    pgoffs: core::ops::Range<usize>,
) -> Result {
    if store.is_io_memory() {
        for pgoff in pgoffs {
            let (Some(pfn), Some(address)) = (store.pfn(pgoff), pages.address_of(pgoff)) else {
                continue;
            };
            // SAFETY: As for the runs below (the function's safety
            // requirements): `address` is inside the VMA, under an entry
            // that is no huge leaf.
            unsafe { insert_frame(vma, address, pfn, OneFrame::Io) }?;
        }
        return Ok(());
    }
    let mut pfns = [0usize; INSERT_BATCH];
    let mut run_start = pgoffs.start;
    let mut run_len = 0;
    let flush = |start: usize, len: usize, pfns: &[usize; INSERT_BATCH]| -> Result {
        let address = pages.address_of(start).ok_or(EINVAL)?;
        // SAFETY: The run lies inside the VMA, under one entry that is no
        // huge leaf (the function's safety requirements); its frames are
        // the module's RAM, write-back.
        to_result(unsafe { helpers::vdmux_insert_pfns(vma, address, pfns.as_ptr(), len) })
    };
    for pgoff in pgoffs {
        match store.pfn(pgoff) {
            Some(pfn) => {
                if run_len == 0 {
                    run_start = pgoff;
                }
                pfns[run_len] = pfn;
                run_len += 1;
                if run_len == INSERT_BATCH {
                    flush(run_start, run_len, &pfns)?;
                    run_len = 0;
                }
            }
            None if run_len > 0 => {
                flush(run_start, run_len, &pfns)?;
                run_len = 0;
            }
            None => {}
        }
    }
    if run_len > 0 {
        flush(run_start, run_len, &pfns)?;
    }
    Ok(())
}

/// How [`insert_frame`] maps one frame.
#[derive(Clone, Copy)]
pub(super) enum OneFrame {
    /// I/O memory: `vmf_insert_pfn_prot`, write-combining, with the
    /// protection decrypted (`vdmux_insert_io_pfn`).
    Io,
    /// The module's RAM, write-back: the page-range walk of runs
    /// (`vdmux_insert_pfns`), which asks PAT nothing. For one page it costs
    /// ~140 instructions less than `vmf_insert_pfn`, whose PAT lookup walks
    /// the system RAM resources under `resource_lock`.
    Ram,
}

/// Maps frame `pfn` at `address` as a special PTE, as `how` says. An entry
/// already present is left alone. `ENOMEM` when a page table could not be
/// allocated.
///
/// # Safety
///
/// As for [`insert_frames`], for the one page at `address`, which `vma`
/// maps; `pfn` is the frame of the store's page there, I/O memory exactly
/// when `how` is [`OneFrame::Io`].
pub(super) unsafe fn insert_frame(
    vma: *mut bindings::vm_area_struct,
    address: usize,
    pfn: usize,
    how: OneFrame,
) -> Result {
    // What `vmf_insert_pfn` returned, as an error.
    let inserted = |done| match done {
        FAULT_NOPAGE => Ok(()),
        FAULT_OOM => Err(ENOMEM),
        _ => Err(EINVAL),
    };
    // SAFETY: The caller's requirements are those of the helpers.
    unsafe {
        match how {
            OneFrame::Io => inserted(helpers::vdmux_insert_io_pfn(vma, address, pfn)),
            OneFrame::Ram => to_result(helpers::vdmux_insert_pfns(vma, address, &pfn, 1)),
        }
    }
}

/// What a fault that mapped its page with `mapped` returns: done, out of
/// memory for a page table, or SIGBUS.
pub(super) fn fault_done(mapped: Result) -> Result<FaultDone, FaultError> {
    match mapped {
        Ok(()) => Ok(FaultDone(FAULT_NOPAGE)),
        Err(e) if e == ENOMEM => Ok(FaultDone(FAULT_OOM)),
        Err(_) => Err(FaultError::SigBus),
    }
}

/// Why a fault is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FaultError {
    /// The access is not allowed (past the object, or revoked): SIGBUS.
    SigBus,
    /// A huge fault cannot be served with a PMD entry here; the kernel
    /// retries the fault on single pages.
    Fallback,
}

/// Proof that a fault was answered: by mapping a page (or finding it
/// mapped), or, when no page table could be allocated, with `VM_FAULT_OOM`.
pub(crate) struct FaultDone(pub(super) bindings::vm_fault_t);

impl FaultDone {
    /// Whether the faulting page is mapped now: not after `VM_FAULT_OOM`.
    pub(crate) fn mapped(&self) -> bool {
        self.0 != FAULT_OOM
    }
}

/// What a huge fault did; either way the access is retried.
pub(crate) enum HugeMapped {
    /// A PMD entry was inserted.
    Inserted(FaultDone),
    /// Nothing was: a racing fault had filled the slot (with a PMD entry or
    /// a page table), or no page table could be allocated.
    NotInserted(FaultDone),
}

impl HugeMapped {
    pub(crate) fn inserted(&self) -> bool {
        matches!(self, Self::Inserted(_))
    }

    pub(crate) fn into_done(self) -> FaultDone {
        match self {
            Self::Inserted(done) | Self::NotInserted(done) => done,
        }
    }
}

/// `VM_FAULT_NOPAGE`: the entry is in place, retry the access.
pub(super) const FAULT_NOPAGE: bindings::vm_fault_t =
    bindings::vm_fault_reason_VM_FAULT_NOPAGE as bindings::vm_fault_t;
pub(super) const FAULT_OOM: bindings::vm_fault_t =
    bindings::vm_fault_reason_VM_FAULT_OOM as bindings::vm_fault_t;
