// SPDX-License-Identifier: GPL-2.0

//! Fault-driven mappings and their invalidation.
//!
//! The kernel crate can create a VMA ([`VmaNew`]) but has no abstraction for
//! `vm_operations_struct`, for fault handlers, or for zapping every mapping
//! of an object. This file is that abstraction, and all of its `unsafe`:
//!
//! - [`VmaHandler`]: what a driver implements to serve faults on its VMAs and
//!   to learn when VMAs are duplicated (fork, split, mremap) or go away.
//! - [`NewMapping`]: a VMA being created by `f_op->mmap`, checked to be able
//!   to carry a handler; [`NewMapping::install`], the last step of `mmap`,
//!   cannot fail. It makes the VMA a `VM_PFNMAP`: page frames without page
//!   references, 4 KiB or 2 MiB at a time, outside the system's transparent
//!   huge page policy (as vfio does).
//! - [`VmFault`]: one page fault; the handler answers by mapping a page of a
//!   [`PageFrames`] object, or a 2 MiB block of one (as a special PTE or PMD, which
//!   no `get_user_pages` pin can hold on to), by refusing with
//!   [`FaultError::SigBus`], or, for a huge fault, by asking the kernel to
//!   fall back to 4 KiB pages with [`FaultError::Fallback`]. Bounds,
//!   alignment and the state of the page middle directory are checked here,
//!   not by the handler.
//! - [`for_each_user_mapping`]: the calling process's VMAs of one object
//!   over a range of addresses, whose pages [`UserMapping::map`] maps ahead
//!   of any fault (`MAP_POPULATE` cannot: `get_user_pages` refuses a
//!   `VM_PFNMAP`).
//! - [`SharedMapping`]: an `address_space` that every open file of one
//!   object points at, so that one [`SharedMapping::unmap_all`] reaches every
//!   mapping of that object, in every process, through every device node
//!   (a second `mknod` has an inode of its own, and so would have an
//!   `address_space` of its own). Its inode comes from [`PseudoFs`], a
//!   private internal mount, as DRM and vfio do.
//!
//! # What the kernel holds when it calls us
//!
//! - `->fault` and `->huge_fault` run under the per-VMA lock alone, or under
//!   `mmap_lock` (read) when the core could not take the former. (Without a
//!   `->map_pages` the core would retry every `->fault` first tried under
//!   the per-VMA lock under `mmap_lock`: see `vmf_can_call_fault`.)
//! - `->map_pages` runs before `->fault` for a read fault, under the same
//!   locks and `rcu_read_lock`: it must not sleep, so it maps only into a
//!   page table that exists and gives up on a lock it cannot take at once.
//! - `->open` and `->close` run under `mmap_write_lock`; for a fork, under
//!   the parent's `mmap_write_lock` and the write lock of the parent's VMA.
//! - Zaps (`unmap_mapping_range`) take `i_mmap_rwsem` and the page table
//!   locks, never `mmap_lock`: they run concurrently with all of the above.
//!
//! # Two races this file closes
//!
//! - *A 4 KiB fault into a slot that a 2 MiB entry filled.* A huge fault
//!   that falls back returns to the core without the handler's lock; the
//!   core then finds an empty PMD and calls `->fault`, which waits for the
//!   lock. Meanwhile the object may have moved to pages that can be mapped
//!   with a PMD entry (a SWITCH between two stores of which one has huge
//!   pages), and another thread's huge fault may have installed one.
//!   Inserting a PTE below a huge PMD hits `VM_BUG_ON(pmd_trans_huge())` in
//!   `walk_to_pmd`. So every 4 KiB insertion holds a lock that excludes
//!   every huge insertion of the object (its handler's choice: vdmux takes
//!   a virtual device's location lock shared for the first, exclusively for
//!   the second), and [`VmFault::map_page`] looks at the PMD first and
//!   reports the fault done when a 2 MiB entry already covers it;
//!   fault-around stays inside that one PMD.
//! - *fork copying a stale 2 MiB entry* (a workaround for a core-mm race
//!   that vfio-pci shares; `Documentation/copy-huge-pmd.md` has the race
//!   and a proposed fix). `copy_huge_pmd` reads the parent's
//!   special PMD locklessly and installs that snapshot in the child after
//!   taking the page table locks, assuming that nothing can change it while
//!   fork holds `mmap_lock`. Our zaps do not take `mmap_lock`, so a SWITCH
//!   that zaps between the read and the install would leave the child
//!   mapping another object's pages. Fork therefore never copies our
//!   entries: the `->open` of a fork copy (the one VMA whose `vm_mm` is not
//!   the caller's) zaps the parent's entries of that range, in the parent's
//!   VMA only (other processes' mappings keep theirs), and neither can
//!   refault until fork is done, because fork holds the parent's mmap and
//!   VMA write locks. Both processes then take their own faults. 4 KiB
//!   entries would be safe to copy (`copy_pte_range` reads them under the
//!   page table lock), but one rule for both is simpler to trust.

use crate::{
    helpers,
    range, //
};
use core::marker::PhantomData;
use kernel::{
    bindings,
    error::{
        from_err_ptr,
        to_result, //
    },
    fs::File,
    mm::virt::{
        flags,
        VmaNew,
        VmaRef, //
    },
    page::PAGE_SIZE,
    prelude::*,
    sync::Arc,
    types::{
        ForeignOwnable,
        Opaque, //
    },
};

/// Serves the faults of the VMAs it is installed on.
pub(crate) trait VmaHandler: Send + Sync + Sized {
    /// A VMA carrying this handler was duplicated (fork, split, mremap).
    fn vma_opened(&self);

    /// A VMA carrying this handler is going away.
    fn vma_closed(&self);

    /// Serves one page fault: maps a page with [`PageFault::map_page`] and
    /// returns what it returned, or refuses.
    fn fault(&self, fault: &PageFault) -> Result<FaultDone, FaultError>;

    /// Maps pages around a read fault before [`VmaHandler::fault`] is called,
    /// without sleeping (under `rcu_read_lock`), with
    /// [`AroundFault::map_into_table`]; returns whether the faulting page is now
    /// mapped (then `fault` is not called). `start..=end` is the range of
    /// page offsets the kernel suggests.
    fn map_pages(&self, _fault: &AroundFault, _start: usize, _end: usize) -> bool {
        false
    }

    /// Serves a fault that may be answered with one PMD entry: maps a 2 MiB
    /// block with [`HugeFault::map_huge`], or returns [`FaultError::Fallback`]
    /// to have the kernel retry with [`VmaHandler::fault`] on 4 KiB pages.
    /// Called only when the kernel supports 2 MiB `VM_PFNMAP` entries
    /// ([`HUGE_MAPPINGS`]).
    fn huge_fault(&self, _fault: &HugeFault) -> Result<FaultDone, FaultError> {
        Err(FaultError::Fallback)
    }
}

/// Whether this kernel can map 2 MiB blocks of a `VM_PFNMAP` with one PMD
/// entry (transparent huge pages and `CONFIG_ARCH_SUPPORTS_PMD_PFNMAP`).
/// Without it every mapping uses 4 KiB pages.
pub(crate) const HUGE_MAPPINGS: bool = cfg!(CONFIG_ARCH_SUPPORTS_PMD_PFNMAP);

/// Pages in the block one PMD entry maps (2 MiB on x86-64).
pub(crate) const HUGE_PAGES: usize = 1 << (bindings::PMD_SHIFT - bindings::PAGE_SHIFT);

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

    /// The first page frame of the 2 MiB block starting at page `pgoff`, if
    /// its [`HUGE_PAGES`] frames exist, are contiguous and start aligned to
    /// [`HUGE_PAGES`], so that one PMD entry can map it.
    fn huge_pfn(&self, pgoff: usize) -> Option<usize>;

    /// Whether the frames are I/O memory (a BAR) rather than RAM the module
    /// allocated. Their cache mode is PAT's to choose, frame by frame.
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
/// (`vdmux_insert_pfns`). I/O memory goes through `vmf_insert_pfn`, page by
/// page, which asks PAT for each frame's cache mode (write-combining for a
/// BAR that `pci_iomap_wc` mapped, unless an earlier mapping of the range
/// fixed another one), with the protection decrypted as for any I/O
/// mapping (`vdmux_insert_io_pfn`).
///
/// # Safety
///
/// `vma` must be valid, a `VM_PFNMAP` that is no `VM_MIXEDMAP` and no COW
/// mapping, and map every page of `pgoffs`, all of them under one page
/// middle directory entry that is no 2 MiB leaf and cannot become one
/// until this returns. `store` must be kept alive and in place as for
/// [`VmFault::map_page`]. A caller that must not sleep must know that
/// entry to point to a page table already.
unsafe fn insert_frames(
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
enum OneFrame {
    /// I/O memory: `vmf_insert_pfn`, with PAT's cache mode and the
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
unsafe fn insert_frame(
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
fn fault_done(mapped: Result) -> Result<FaultDone, FaultError> {
    match mapped {
        Ok(()) => Ok(FaultDone(FAULT_NOPAGE)),
        Err(e) if e == ENOMEM => Ok(FaultDone(FAULT_OOM)),
        Err(_) => Err(FaultError::SigBus),
    }
}

/// The pages a VMA maps, in page units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VmaPages {
    /// The object's page offset the VMA starts at (`vm_pgoff`).
    pub(crate) pgoff: usize,
    /// How many pages the VMA spans.
    pub(crate) len: usize,
    /// The VMA's start address, in pages (`vm_start >> PAGE_SHIFT`).
    pub(crate) start: usize,
}

impl VmaPages {
    /// The user address at which the VMA maps the object's page `pgoff`, if
    /// it maps that page.
    fn address_of(&self, pgoff: usize) -> Option<usize> {
        let index = pgoff.checked_sub(self.pgoff).filter(|&i| i < self.len)?;
        Some((self.start + index) * PAGE_SIZE)
    }

    /// The pages of `pgoffs` that the VMA maps under the same page middle
    /// directory entry as its page `pgoff` (empty if it does not map that).
    fn same_pmd(&self, pgoff: usize, pgoffs: core::ops::Range<usize>) -> core::ops::Range<usize> {
        range::same_block(self, pgoff, pgoffs, HUGE_PAGES)
    }

    /// The pages of `pgoffs` (each one the VMA maps), split where they
    /// cross from one page middle directory entry to the next.
    fn pmd_spans(
        &self,
        pgoffs: core::ops::Range<usize>,
    ) -> impl Iterator<Item = core::ops::Range<usize>> + '_ {
        let mut next = pgoffs.start;
        core::iter::from_fn(move || {
            let span = self.same_pmd(next, next..pgoffs.end);
            if span.is_empty() {
                return None;
            }
            next = span.end;
            Some(span)
        })
    }
}

/// Why a fault is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FaultError {
    /// The access is not allowed (past the object, or revoked): SIGBUS.
    SigBus,
    /// A huge fault cannot be served with a PMD entry here; the kernel
    /// retries the fault on 4 KiB pages.
    Fallback,
}

/// Proof that a fault was answered by mapping a page (or finding it mapped).
pub(crate) struct FaultDone(bindings::vm_fault_t);

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
const FAULT_NOPAGE: bindings::vm_fault_t =
    bindings::vm_fault_reason_VM_FAULT_NOPAGE as bindings::vm_fault_t;
const FAULT_OOM: bindings::vm_fault_t =
    bindings::vm_fault_reason_VM_FAULT_OOM as bindings::vm_fault_t;

/// One page fault on a VMA carrying a [`VmaHandler`].
///
/// # Invariants
///
/// `vmf` points to the `struct vm_fault` of a fault in progress on a VMA that
/// [`NewMapping::install`] set up, valid for the lifetime of this value.
pub(crate) struct VmFault {
    vmf: *mut bindings::vm_fault,
}

impl VmFault {
    /// The faulting page's offset in the object, in pages.
    pub(crate) fn pgoff(&self) -> usize {
        // SAFETY: `vmf` is valid by the type invariants.
        unsafe { (*self.vmf).__bindgen_anon_1.pgoff }
    }

    /// The faulting address, rounded down to its page.
    fn address(&self) -> usize {
        // SAFETY: `vmf` is valid by the type invariants.
        unsafe { (*self.vmf).__bindgen_anon_1.address }
    }

    /// The faulting VMA.
    fn vma(&self) -> &VmaRef {
        // SAFETY: `vmf` is valid by the type invariants, and so is its VMA,
        // for at least as long as `self`.
        unsafe { VmaRef::from_raw((*self.vmf).__bindgen_anon_1.vma) }
    }

    /// The pages the faulting VMA maps.
    pub(crate) fn vma_pages(&self) -> VmaPages {
        let vma = self.vma();
        // SAFETY: The VMA is valid (see `vma`).
        let pgoff = unsafe { (*vma.as_ptr()).vm_pgoff };
        VmaPages {
            pgoff,
            len: (vma.end() - vma.start()) / PAGE_SIZE,
            start: vma.start() / PAGE_SIZE,
        }
    }

    /// Whether the VMA may receive page frame entries: a `VM_PFNMAP` that
    /// nobody turned into a `VM_MIXEDMAP` after [`NewMapping::install`]
    /// (inserting into one with both flags is a `BUG_ON` in the core).
    fn is_pure_pfnmap(&self) -> bool {
        // SAFETY: The VMA is valid (see `vma`).
        !unsafe { helpers::vdmux_vma_is_mixedmap(self.vma().as_ptr()) }
    }

    /// Whether the fault is a write.
    pub(crate) fn is_write(&self) -> bool {
        // SAFETY: `vmf` is valid by the type invariants.
        unsafe { helpers::vdmux_fault_is_write(self.vmf) }
    }

    /// Whether the faulting VMA maps the object of `mapping`: its file
    /// shares that `address_space`.
    pub(crate) fn maps(&self, mapping: &SharedMapping) -> bool {
        // SAFETY: The VMA is valid (see `vma`), and maps a file (a VMA of
        // ours: `NewMapping::install`), valid while the VMA is.
        let file_mapping = unsafe { (*(*self.vma().as_ptr()).vm_file).f_mapping };
        file_mapping == mapping.address_space()
    }

    /// Whether the fault holds the per-VMA lock rather than `mmap_lock`.
    pub(crate) fn under_vma_lock(&self) -> bool {
        // SAFETY: `vmf` is valid by the type invariants.
        unsafe { helpers::vdmux_fault_under_vma_lock(self.vmf) }
    }

    /// Whether a 2 MiB entry now covers the faulting address.
    fn pmd_is_huge(&self) -> bool {
        // SAFETY: `vmf` is valid by the type invariants and, in a fault that
        // reached a handler, its `pmd` points to the allocated entry that
        // covers the address.
        unsafe { helpers::vdmux_fault_pmd_is_huge(self.vmf) }
    }

    /// Maps page `pgoff` of `store` (the faulting page's offset) at the
    /// faulting address with the VMA's protection, as a special PTE: one
    /// that holds no reference to the page, so that `get_user_pages` refuses
    /// it and no pin (vmsplice, O_DIRECT, `/proc/PID/mem`) can keep the page
    /// after an invalidation took it back; and with it the pages `around`
    /// (fault-around: page offsets, each one the VMA maps) that lie under
    /// the same page middle directory entry, the one checked for a huge
    /// leaf. SIGBUS when the page is past the store. When a 2 MiB entry
    /// already covers the address (see the module documentation), nothing
    /// is inserted and the access is retried. Pages already mapped, and
    /// pages of `around` that `store` does not have, are left alone.
    ///
    /// What holds for the whole VMA is checked once: the caller's lock keeps
    /// the PMD from becoming huge meanwhile, and the kernel's locks around a
    /// fault keep the VMA's flags and bounds as they are.
    ///
    /// # Safety
    ///
    /// `store` must be where the VMA's object lives now, and the caller must
    /// hold a lock, from before it chose `store` until this returns, that
    /// excludes every zap of the object's mappings and every
    /// [`VmFault::map_huge`] on them. Every page of `store` must stay
    /// allocated until all of the object's mappings have been zapped. It
    /// may sleep (to allocate a page table): never from
    /// [`VmaHandler::map_pages`], which has [`VmFault::map_into_table`].
    unsafe fn map_page(
        &self,
        store: &(impl PageFrames + ?Sized),
        around: core::ops::Range<usize>,
    ) -> Result<FaultDone, FaultError> {
        let pgoff = self.pgoff();
        if around.len() <= 1 || !around.contains(&pgoff) {
            // The faulting page alone: no spans to work out.
            // SAFETY: The caller's requirements are ours.
            return unsafe { self.map_page_alone(store) };
        }
        if self.faulting_frame(store)?.is_none() {
            return Ok(FaultDone(FAULT_NOPAGE));
        }
        let pages = self.vma_pages();
        // A VMA that can hold 2 MiB entries gets fault-around only under
        // the entry checked above; in one that cannot (`range::huge_block`
        // only accepts blocks of a VMA that `maps_aligned`), the pages
        // under the neighbouring entries are safe to map too.
        // Only the faulting page's span decides the fault: a neighbour that
        // could not be mapped (no memory for its page table) takes a fault
        // of its own later.
        let aligned = range::maps_aligned(&pages, HUGE_PAGES);
        let mut result = Ok(());
        for span in pages.pmd_spans(around) {
            let faulting = span.contains(&pgoff);
            if aligned && !faulting {
                continue;
            }
            // SAFETY: `vmf` is valid by the type invariants, and so is its
            // VMA, a pure VM_PFNMAP (checked above) that is not a COW
            // mapping (see `NewMapping::new`); `span` lies inside it under
            // one page middle directory entry, which is no huge leaf: the
            // faulting page's (checked above), or one of a VMA that is not
            // aligned like its offsets, where we never insert one and no
            // other VMA can have one (a leaf needs a single VMA covering
            // its whole block). The caller keeps the pages alive while they
            // are mapped. A fault may sleep to allocate a page table.
            let mapped = unsafe { insert_frames(self.vma().as_ptr(), &pages, store, span) };
            if faulting {
                result = mapped;
            }
        }
        fault_done(result)
    }

    /// The frame of `store` to map at the faulting address, or `None` when
    /// a 2 MiB entry already covers it (see the module documentation).
    /// SIGBUS past the store, or in a VMA made a `VM_MIXEDMAP`. Under the
    /// lock of [`VmFault::map_page`], which excludes every huge insertion,
    /// a PMD that is not huge now stays so until the caller's insertion is
    /// done.
    fn faulting_frame(
        &self,
        store: &(impl PageFrames + ?Sized),
    ) -> Result<Option<usize>, FaultError> {
        let pfn = store.pfn(self.pgoff()).ok_or(FaultError::SigBus)?;
        if !self.is_pure_pfnmap() {
            return Err(FaultError::SigBus);
        }
        Ok((!self.pmd_is_huge()).then_some(pfn))
    }

    /// Maps the faulting page alone.
    ///
    /// # Safety
    ///
    /// As for [`VmFault::map_page`].
    unsafe fn map_page_alone(
        &self,
        store: &(impl PageFrames + ?Sized),
    ) -> Result<FaultDone, FaultError> {
        let Some(pfn) = self.faulting_frame(store)? else {
            return Ok(FaultDone(FAULT_NOPAGE));
        };
        let how = if store.is_io_memory() {
            OneFrame::Io
        } else {
            OneFrame::Ram
        };
        // SAFETY: `vmf` is valid by the type invariants, and so is its VMA,
        // a pure VM_PFNMAP (checked above) that is not a COW mapping (see
        // `NewMapping::new`) and maps the faulting address, under the entry
        // checked above to be no huge leaf; `pfn` is I/O memory exactly
        // when `how` is `Io`. The caller keeps the page alive while it is
        // mapped.
        let mapped = unsafe { insert_frame(self.vma().as_ptr(), self.address(), pfn, how) };
        fault_done(mapped)
    }

    /// Maps the 2 MiB block of `store` around the faulting page with one PMD
    /// entry, as a special PMD (see [`VmFault::map_page`]). Falls back to
    /// 4 KiB pages when the VMA does not map the whole block at an address
    /// aligned to 2 MiB, when the block's pages are not one contiguous,
    /// aligned 2 MiB block, or when the fault is a write to a read-only PMD
    /// entry (write-notify, soft-dirty tracking): the kernel then splits
    /// the entry and the write proceeds on 4 KiB pages. Only for a
    /// [`VmaHandler::huge_fault`].
    ///
    /// The entry is inserted as for a read (the VMA's own protection, which
    /// for a writable shared mapping allows writes): `vmf_insert_pfn_pmd`
    /// warns when asked to upgrade a slot that a racing fault has meanwhile
    /// filled with a page table, and a read insertion leaves such a slot
    /// alone, so the access is retried and served by [`VmaHandler::fault`].
    ///
    /// `object_pages` is the size of the object now, in pages: a block
    /// that reaches past it falls back.
    ///
    /// # Safety
    ///
    /// As for [`VmFault::map_page`], and only from a
    /// [`VmaHandler::huge_fault`].
    unsafe fn map_huge(
        &self,
        store: &(impl PageFrames + ?Sized),
        object_pages: usize,
    ) -> Result<HugeMapped, FaultError> {
        let pages = self.vma_pages();
        let block = range::huge_block(self.pgoff(), &pages, object_pages, HUGE_PAGES)
            .ok_or(FaultError::Fallback)?;
        let pfn = store.huge_pfn(block).ok_or(FaultError::Fallback)?;
        // SAFETY: A plain query.
        if store.is_io_memory() && !unsafe { helpers::vdmux_io_huge_allowed() } {
            return Err(FaultError::Fallback);
        }
        if !self.is_pure_pfnmap() {
            return Err(FaultError::SigBus);
        }
        // SAFETY: `vmf` is valid by the type invariants. `orig_pmd` shares a
        // union with `orig_pte`; both are plain integers. The kernel starts
        // a fault zeroed and sets `orig_pmd` to the present entry before a
        // huge fault that is a write to it, and not before one for an empty
        // slot.
        let orig_pmd = unsafe { (*self.vmf).__bindgen_anon_2.orig_pmd.pmd };
        if orig_pmd != 0 {
            return Err(FaultError::Fallback);
        }
        // Two faults that found the slot empty both come here; the caller's
        // lock serializes them and, with the VMA or mmap lock, keeps the
        // slot as it is from here on.
        //
        // SAFETY: `vmf` is valid by the type invariants and its `pmd` points
        // to the entry covering the address.
        if !unsafe { helpers::vdmux_fault_pmd_is_none(self.vmf) } {
            return Ok(HugeMapped::NotInserted(FaultDone(FAULT_NOPAGE)));
        }
        // SAFETY: As in `map_page`; `range::huge_block` checked that the VMA
        // maps the whole block, at an address aligned to 2 MiB, and
        // `huge_pfn` that the block's frames are contiguous and aligned.
        let done = unsafe { self.insert_pfn_pmd(pfn) }?;
        Ok(if done.0 == FAULT_NOPAGE {
            HugeMapped::Inserted(done)
        } else {
            HugeMapped::NotInserted(done)
        })
    }

    /// Maps the pages `window` (page offsets, the faulting one among them)
    /// of `store`, all of which the VMA maps, without sleeping, for a
    /// [`VmaHandler::map_pages`]: only if they all lie under the page middle
    /// directory entry of the faulting address and that entry points to a
    /// page table, else nothing (and [`VmaHandler::fault`], which may
    /// allocate page tables, maps them). Returns whether the faulting page
    /// is now mapped. Pages already mapped are left alone.
    ///
    /// # Safety
    ///
    /// As for [`VmFault::map_page`].
    unsafe fn map_into_table(
        &self,
        store: &(impl PageFrames + ?Sized),
        window: core::ops::Range<usize>,
    ) -> bool {
        let pages = self.vma_pages();
        let huge_size = HUGE_PAGES * PAGE_SIZE;
        let pmd_of = |pgoff| pages.address_of(pgoff).map(|a| a / huge_size);
        let here = Some(self.address() / huge_size);
        if !window.contains(&self.pgoff())
            || pmd_of(window.start) != here
            || pmd_of(window.end - 1) != here
        {
            return false;
        }
        // SAFETY: `vmf` is valid by the type invariants and its `pmd` points
        // to the entry covering the address.
        if !self.is_pure_pfnmap() || !unsafe { helpers::vdmux_fault_pmd_has_table(self.vmf) } {
            return false;
        }
        if store.pfn(self.pgoff()).is_none() {
            return false;
        }
        // The entry keeps its page table until we return: under the VMA or
        // mmap lock nothing empties the page table of a `VM_PFNMAP` (page
        // table reclaim is MADV_DONTNEED's, which refuses one; khugepaged
        // skips one; freeing needs mmap_lock for writing), so the walk of
        // `apply_to_page_range` finds every level present and allocates
        // nothing. (The module cannot take the page table lock on
        // `vmf->pmd` directly: `pte_offset_map_lock` is not exported.)
        //
        // SAFETY: As in `map_page`: `window` lies inside the VMA, under the
        // page middle directory entry of the fault, which points to a page
        // table (checked above, and kept as said) and cannot become a huge
        // leaf (the caller's lock): the insertion neither allocates nor
        // sleeps.
        unsafe { insert_frames(self.vma().as_ptr(), &pages, store, window) }.is_ok()
    }

    /// `vmf_insert_pfn_pmd` as for a read.
    ///
    /// # Safety
    ///
    /// The fault is a huge fault of a pure VM_PFNMAP that is not a COW
    /// mapping, the VMA maps the whole 2 MiB block around the address at an
    /// aligned address, and the [`HUGE_PAGES`] frames from `pfn` on are
    /// contiguous, aligned, and kept alive as [`VmFault::map_page`] says.
    #[cfg(CONFIG_ARCH_SUPPORTS_PMD_PFNMAP)]
    unsafe fn insert_pfn_pmd(&self, pfn: usize) -> Result<FaultDone, FaultError> {
        // SAFETY: The function's safety requirements are those of
        // `vmf_insert_pfn_pmd`; the kernel allocated the page upper
        // directory entry whose PMD it fills.
        let ret = unsafe { bindings::vmf_insert_pfn_pmd(self.vmf, pfn, false) };
        Ok(FaultDone(ret))
    }

    /// Without 2 MiB `VM_PFNMAP` entries, every fault uses 4 KiB pages.
    ///
    /// # Safety
    ///
    /// None needed; `unsafe` only to match the configuration with them.
    #[cfg(not(CONFIG_ARCH_SUPPORTS_PMD_PFNMAP))]
    unsafe fn insert_pfn_pmd(&self, _pfn: usize) -> Result<FaultDone, FaultError> {
        Err(FaultError::Fallback)
    }
}

/// A fault of [`VmaHandler::fault`], which may sleep: it may map pages
/// with [`PageFault::map_page`], allocating page tables.
#[repr(transparent)]
pub(crate) struct PageFault(VmFault);

/// A fault of [`VmaHandler::map_pages`], under `rcu_read_lock`: it may only
/// fill a page table that exists ([`AroundFault::map_into_table`]).
#[repr(transparent)]
pub(crate) struct AroundFault(VmFault);

/// A fault of [`VmaHandler::huge_fault`]: it may insert one PMD entry
/// ([`HugeFault::map_huge`]).
#[repr(transparent)]
pub(crate) struct HugeFault(VmFault);

macro_rules! fault_queries {
    ($($kind:ty),*) => {$(
        impl core::ops::Deref for $kind {
            type Target = VmFault;

            fn deref(&self) -> &VmFault {
                &self.0
            }
        }
    )*};
}
fault_queries!(PageFault, AroundFault, HugeFault);

impl PageFault {
    /// See [`VmFault::map_page`].
    ///
    /// # Safety
    ///
    /// `store` must be where the VMA's object lives now, and the caller must
    /// hold a lock, from before it chose `store` until this returns, that
    /// excludes every zap of the object's mappings and every
    /// [`HugeFault::map_huge`] on them. Every page of `store` must stay
    /// allocated until all of the object's mappings have been zapped.
    pub(crate) unsafe fn map_page(
        &self,
        store: &(impl PageFrames + ?Sized),
        around: core::ops::Range<usize>,
    ) -> Result<FaultDone, FaultError> {
        // SAFETY: The caller's requirements, in a fault that may sleep.
        unsafe { self.0.map_page(store, around) }
    }
}

impl AroundFault {
    /// See [`VmFault::map_into_table`].
    ///
    /// # Safety
    ///
    /// As for [`PageFault::map_page`].
    pub(crate) unsafe fn map_into_table(
        &self,
        store: &(impl PageFrames + ?Sized),
        window: core::ops::Range<usize>,
    ) -> bool {
        // SAFETY: The caller's requirements; it allocates nothing.
        unsafe { self.0.map_into_table(store, window) }
    }
}

impl HugeFault {
    /// See [`VmFault::map_huge`].
    ///
    /// # Safety
    ///
    /// As for [`PageFault::map_page`].
    pub(crate) unsafe fn map_huge(
        &self,
        store: &(impl PageFrames + ?Sized),
        object_pages: usize,
    ) -> Result<HugeMapped, FaultError> {
        // SAFETY: The caller's requirements, in a huge fault.
        unsafe { self.0.map_huge(store, object_pages) }
    }
}

/// Part of a VMA of the calling process that maps an object of a
/// [`SharedMapping`], found by [`for_each_user_mapping`] with `mmap_lock`
/// held.
pub(crate) struct UserMapping<'a> {
    vma: &'a VmaRef,
    pages: VmaPages,
    /// The object's page offsets of the part.
    range: core::ops::Range<usize>,
}

impl UserMapping<'_> {
    /// Whether this part maps the object of `mapping`.
    pub(crate) fn maps(&self, mapping: &SharedMapping) -> bool {
        // SAFETY: The VMA is valid while `mmap_lock` is held (the borrow),
        // and maps a file (`for_each_user_mapping` checked).
        let file_mapping = unsafe { (*(*self.vma.as_ptr()).vm_file).f_mapping };
        file_mapping == mapping.address_space()
    }

    /// The object's page offsets that this part maps.
    pub(crate) fn pgoffs(&self) -> core::ops::Range<usize> {
        self.range.clone()
    }

    /// The object's page offsets that this part maps, split where the
    /// part crosses from one page middle directory entry to the next.
    pub(crate) fn pmd_spans(&self) -> impl Iterator<Item = core::ops::Range<usize>> + '_ {
        self.pages.pmd_spans(self.range.clone())
    }

    /// Maps the pages `span` of `store` (one of [`UserMapping::pmd_spans`])
    /// as a fault would (see [`VmFault::map_page`]); pages already mapped,
    /// a span covered by a 2 MiB entry, and pages `store` does not have are
    /// left alone.
    ///
    /// # Safety
    ///
    /// As for [`VmFault::map_page`].
    pub(crate) unsafe fn map(
        &self,
        store: &(impl PageFrames + ?Sized),
        span: core::ops::Range<usize>,
    ) -> Result {
        if span.is_empty() || self.pages.same_pmd(span.start, span.clone()) != span {
            return Err(EINVAL);
        }
        // Nothing to map where no access is allowed (`PROT_NONE`), as with
        // `MAP_POPULATE`; and its entries must not be made by anyone but
        // `mprotect`, which checks them (L1TF: `pfn_modify_allowed`).
        let access = flags::READ | flags::WRITE | flags::EXEC;
        if self.vma.flags() & access == 0 {
            return Ok(());
        }
        let vma = self.vma.as_ptr();
        // SAFETY: `vma` is valid while `mmap_lock` is held (the borrow).
        if unsafe { helpers::vdmux_vma_is_mixedmap(vma) } {
            return Err(EINVAL);
        }
        let address = self.pages.address_of(span.start).ok_or(EINVAL)?;
        // SAFETY: `vma` is valid; the walk allocates nothing. The caller's
        // lock excludes huge insertions, so a PMD that is not huge now stays
        // so until the insertion below is done.
        if unsafe { helpers::vdmux_vma_pmd_is_huge(vma, address) } {
            return Ok(());
        }
        // SAFETY: `span` lies inside the VMA (checked above), a pure
        // VM_PFNMAP (checked above) that is not a COW mapping (see
        // `NewMapping::new`), with `mmap_lock` held, under one page middle
        // directory entry (checked above), no huge leaf (checked above);
        // the caller keeps the pages alive while mapped.
        unsafe { insert_frames(vma, &self.pages, store, span) }
    }
}

/// Calls `f` for every VMA of the calling process that maps part of
/// `[addr, addr + len)`, in address order, holding `mmap_lock` (read).
/// `EFAULT` unless VMAs whose file shares `mapping` (so VMAs of its object,
/// made by a successful `mmap` of ours) cover the whole range; `EINVAL`
/// for an empty or unaligned range.
pub(crate) fn for_each_user_mapping(
    mapping: &SharedMapping,
    addr: usize,
    len: usize,
    mut f: impl FnMut(&UserMapping<'_>) -> Result,
) -> Result {
    if len == 0 || addr % PAGE_SIZE != 0 || len % PAGE_SIZE != 0 {
        return Err(EINVAL);
    }
    let end = addr.checked_add(len).ok_or(EINVAL)?;
    let task = kernel::current!();
    let mm = task.mm().ok_or(EFAULT)?;
    let guard = mm.mmap_read_lock();
    // Checked whole first, so that a bad range changes nothing.
    for pass in 0..2 {
        let mut at = addr;
        while at < end {
            let vma = guard.vma_lookup(at).ok_or(EFAULT)?;
            // SAFETY: The VMA is valid while `mmap_lock` is held; its file,
            // if any, is held by the VMA.
            let ours = unsafe {
                let file = (*vma.as_ptr()).vm_file;
                !file.is_null() && (*file).f_mapping == mapping.address_space()
            };
            if !ours {
                return Err(EFAULT);
            }
            let stop = vma.end().min(end);
            if pass == 1 {
                // SAFETY: The VMA is valid (see above).
                let pgoff = unsafe { (*vma.as_ptr()).vm_pgoff };
                let pages = VmaPages {
                    pgoff,
                    len: (vma.end() - vma.start()) / PAGE_SIZE,
                    start: vma.start() / PAGE_SIZE,
                };
                let first = pgoff + (at - vma.start()) / PAGE_SIZE;
                f(&UserMapping {
                    vma,
                    pages,
                    range: first..first + (stop - at) / PAGE_SIZE,
                })?;
            }
            at = stop;
        }
    }
    Ok(())
}

/// A VMA being created by `f_op->mmap`, checked to be able to carry a
/// [`VmaHandler`]: a shared mapping that is neither copy-on-write nor a
/// `VM_MIXEDMAP`.
pub(crate) struct NewMapping<'a> {
    vma: &'a VmaNew,
}

impl<'a> NewMapping<'a> {
    /// Checks `vma`. A copy-on-write mapping (private and possibly
    /// writable) is refused with `EINVAL`: its copies would be ordinary
    /// pages outside the handler's reach; so is a `VM_MIXEDMAP`, which a
    /// `VM_PFNMAP` must not be.
    pub(crate) fn new(vma: &'a VmaNew) -> Result<Self> {
        let vm_flags = vma.flags();
        if vm_flags & (flags::SHARED | flags::MAYWRITE) == flags::MAYWRITE
            || vm_flags & flags::MIXEDMAP != 0
        {
            return Err(EINVAL);
        }
        Ok(Self { vma })
    }

    /// The page offset at which the VMA maps its object.
    pub(crate) fn pgoff(&self) -> usize {
        // SAFETY: The VMA is valid for the duration of the borrow.
        unsafe { (*self.vma.as_ptr()).vm_pgoff }
    }

    /// The length of the VMA in bytes.
    pub(crate) fn len(&self) -> usize {
        self.vma.end() - self.vma.start()
    }

    /// Attaches `handler` to the VMA: makes it a pure page frame map
    /// (`VM_PFNMAP`) that cannot grow, and routes its faults and lifetime
    /// events to the handler. This is the last step of `mmap`, and it
    /// cannot fail: once the VMA carries the handler's reference, only the
    /// VMA's `close` may release it, and the kernel calls `close` only for
    /// a VMA whose `mmap` succeeded.
    ///
    /// The handler is kept alive by the VMA (and by every copy of it) until
    /// the last one closes. [`VmaHandler::vma_opened`] is not called for
    /// this VMA: the caller accounts for the mapping it is creating.
    pub(crate) fn install<T: VmaHandler + 'static>(self, handler: Arc<T>) {
        self.vma.set_dontexpand();
        let raw = self.vma.as_ptr();
        // SAFETY: The VMA is under construction inside f_op->mmap, not yet
        // visible to anyone else, so its flags may be written directly (as
        // the kernel crate's own setters do). It is not a COW mapping and
        // not a VM_MIXEDMAP (checked by `new`), as VM_PFNMAP requires. Its
        // `vm_ops` and `vm_private_data` belong to the driver; the private
        // data is released by `close`, which the kernel calls once for this
        // VMA.
        unsafe {
            (*raw).__bindgen_anon_2.vm_flags = self.vma.flags() | flags::PFNMAP;
            (*raw).vm_private_data = handler.into_foreign().cast();
            (*raw).vm_ops = VmOps::<T>::table();
        }
    }
}

struct VmOps<T>(PhantomData<T>);

impl<T: VmaHandler + 'static> VmOps<T> {
    const TABLE: bindings::vm_operations_struct = bindings::vm_operations_struct {
        open: Some(Self::open),
        close: Some(Self::close),
        fault: Some(Self::fault),
        map_pages: Some(Self::map_pages),
        huge_fault: if HUGE_MAPPINGS {
            Some(Self::huge_fault)
        } else {
            None
        },
        ..pin_init::zeroed()
    };

    fn table() -> &'static bindings::vm_operations_struct {
        &Self::TABLE
    }

    /// # Safety
    ///
    /// `vma` must carry a handler installed by [`NewMapping::install`] for
    /// this `T`.
    unsafe fn handler<'a>(vma: *mut bindings::vm_area_struct) -> ArcBorrowOf<'a, T> {
        // SAFETY: By the function's safety requirements the private data came
        // from `Arc::<T>::into_foreign` and is released only by `close`,
        // which cannot run concurrently with a callback on the same VMA.
        unsafe { <Arc<T> as ForeignOwnable>::borrow((*vma).vm_private_data.cast()) }
    }

    /// Called for each new copy of a VMA (fork, split, mremap); the copy
    /// shares the private data pointer, so it takes a reference of its own.
    /// A fork copy first zaps the parent's entries (see the module
    /// documentation).
    ///
    /// # Safety
    ///
    /// `vma` must be a valid VMA with these `vm_ops` (a copy of one set up
    /// by [`NewMapping::install`]).
    unsafe extern "C" fn open(vma: *mut bindings::vm_area_struct) {
        // SAFETY: `vma` is valid (the function's safety requirements).
        if unsafe { helpers::vdmux_vma_is_fork_copy(vma) } {
            // SAFETY: `vma` is a valid fork copy, and fork holds the
            // parent's mmap write lock (and its VMA's write lock, so the
            // parent cannot refault before the copy is made). A VMA of ours
            // maps a file, whose `f_mapping` is the object's address_space,
            // alive while the file is.
            unsafe { helpers::vdmux_zap_fork_parent(vma) };
        }
        // SAFETY: The kernel calls `open` only on VMAs whose `vm_ops` we set
        // in `install`, so they carry our handler.
        let handler = unsafe { Self::handler(vma) };
        let extra: Arc<T> = handler.into();
        extra.vma_opened();
        // The copy's reference, released by its own `close`.
        let _ = extra.into_foreign();
    }

    /// Called once when a VMA goes away; releases its reference.
    ///
    /// # Safety
    ///
    /// `vma` must be a valid VMA with these `vm_ops`, closed only once.
    unsafe extern "C" fn close(vma: *mut bindings::vm_area_struct) {
        // SAFETY: This VMA's reference came from `install` or `open` and is
        // released exactly once, here; the kernel calls `close` once per VMA.
        let handler =
            unsafe { <Arc<T> as ForeignOwnable>::from_foreign((*vma).vm_private_data.cast()) };
        handler.vma_closed();
    }

    /// Serves one page fault through the VMA's handler.
    ///
    /// # Safety
    ///
    /// `vmf` must be a valid fault in progress on a VMA with these `vm_ops`.
    unsafe extern "C" fn fault(vmf: *mut bindings::vm_fault) -> bindings::vm_fault_t {
        // SAFETY: The kernel passes a valid `vm_fault` whose VMA has our
        // `vm_ops`, so it carries our handler.
        let handler = unsafe { Self::handler((*vmf).__bindgen_anon_1.vma) };
        // INVARIANT: `vmf` is the fault in progress, valid during this call.
        let fault = PageFault(VmFault { vmf });
        fault_result(handler.fault(&fault))
    }

    /// Maps pages around a read fault, in atomic context.
    ///
    /// # Safety
    ///
    /// `vmf` must be a valid fault in progress on a VMA with these `vm_ops`.
    unsafe extern "C" fn map_pages(
        vmf: *mut bindings::vm_fault,
        start_pgoff: usize,
        end_pgoff: usize,
    ) -> bindings::vm_fault_t {
        // SAFETY: As in `fault`.
        let handler = unsafe { Self::handler((*vmf).__bindgen_anon_1.vma) };
        // INVARIANT: `vmf` is the fault in progress, valid during this call.
        let fault = AroundFault(VmFault { vmf });
        if handler.map_pages(&fault, start_pgoff, end_pgoff) {
            FAULT_NOPAGE
        } else {
            0
        }
    }

    /// Serves a fault that may be answered with a PMD entry (`order` 9) or
    /// a PUD entry (which we never insert).
    ///
    /// # Safety
    ///
    /// `vmf` must be a valid fault in progress on a VMA with these `vm_ops`.
    unsafe extern "C" fn huge_fault(
        vmf: *mut bindings::vm_fault,
        order: core::ffi::c_uint,
    ) -> bindings::vm_fault_t {
        if 1usize << order != HUGE_PAGES {
            return fault_result(Err(FaultError::Fallback));
        }
        // SAFETY: As in `fault`.
        let handler = unsafe { Self::handler((*vmf).__bindgen_anon_1.vma) };
        // INVARIANT: `vmf` is the fault in progress, valid during this call.
        let fault = HugeFault(VmFault { vmf });
        fault_result(handler.huge_fault(&fault))
    }
}

/// The `vm_fault_t` a fault handler returns for `result`.
fn fault_result(result: Result<FaultDone, FaultError>) -> bindings::vm_fault_t {
    match result {
        Ok(FaultDone(ret)) => ret,
        Err(FaultError::SigBus) => {
            bindings::vm_fault_reason_VM_FAULT_SIGBUS as bindings::vm_fault_t
        }
        Err(FaultError::Fallback) => {
            bindings::vm_fault_reason_VM_FAULT_FALLBACK as bindings::vm_fault_t
        }
    }
}

type ArcBorrowOf<'a, T> = <Arc<T> as ForeignOwnable>::Borrowed<'a>;

/// The file system type of [`PseudoFs`]. The kernel links superblocks into
/// it, so it lives in a static with interior mutability.
struct FsType(Opaque<bindings::file_system_type>);

// SAFETY: The kernel serializes its accesses to a `file_system_type`.
unsafe impl Sync for FsType {}

static FS_TYPE: FsType = FsType(Opaque::new(bindings::file_system_type {
    name: kernel::str::as_char_ptr_in_const_context(c"vdmux"),
    init_fs_context: Some(pseudo_init_fs_context),
    kill_sb: Some(bindings::kill_anon_super),
    // `owner` stays NULL so that the internal mount does not pin the module.
    ..pin_init::zeroed()
}));

/// Sets up a new superblock of [`PseudoFs`].
///
/// # Safety
///
/// `fc` must be a valid `fs_context` being set up for `FS_TYPE`.
unsafe extern "C" fn pseudo_init_fs_context(fc: *mut bindings::fs_context) -> i32 {
    // SAFETY: The kernel passes a valid `fs_context` being set up for us.
    unsafe { helpers::vdmux_init_pseudo(fc) }
}

/// A private internal mount whose only purpose is to own the inodes of
/// [`SharedMapping`]s.
///
/// # Invariants
///
/// `mnt` is a live mount of `FS_TYPE` from `kern_mount`, unmounted on drop.
pub(crate) struct PseudoFs {
    mnt: *mut bindings::vfsmount,
}

// SAFETY: A vfsmount may be used and released from any thread.
unsafe impl Send for PseudoFs {}

// SAFETY: Shared references only read the mount pointer.
unsafe impl Sync for PseudoFs {}

impl PseudoFs {
    pub(crate) fn mount() -> Result<Arc<Self>> {
        // SAFETY: `FS_TYPE` is a valid, static file system type.
        let mnt = from_err_ptr(unsafe { bindings::kern_mount(FS_TYPE.0.get()) })?;
        // INVARIANT: `kern_mount` succeeded.
        Ok(Arc::new(Self { mnt }, GFP_KERNEL)?)
    }
}

impl Drop for PseudoFs {
    fn drop(&mut self) {
        // SAFETY: By the type invariants `mnt` is live; every inode of it is
        // released first, because each `SharedMapping` holds an `Arc` of us.
        // Unmounting an internal mount is synchronous, so nothing refers to
        // `FS_TYPE` once this returns.
        unsafe { bindings::kern_unmount(self.mnt) };
    }
}

/// One `address_space` shared by every open file of an object.
///
/// # Invariants
///
/// `inode` is a live inode of `fs` with a reference owned by this value.
pub(crate) struct SharedMapping {
    inode: *mut bindings::inode,
    _fs: Arc<PseudoFs>,
}

// SAFETY: Inodes are reference counted and usable from any thread.
unsafe impl Send for SharedMapping {}

// SAFETY: `attach` (under its safety requirements) and `unmap_all` may run
// concurrently: the first writes a field of a file nobody else uses yet, the
// second takes the address_space's own locks.
unsafe impl Sync for SharedMapping {}

impl SharedMapping {
    pub(crate) fn new(fs: &Arc<PseudoFs>) -> Result<Self> {
        // SAFETY: `fs.mnt` is a live mount (type invariants of `PseudoFs`).
        let inode = from_err_ptr(unsafe { bindings::alloc_anon_inode((*fs.mnt).mnt_sb) })?;
        // INVARIANT: `alloc_anon_inode` returned a new inode with one
        // reference, which we own.
        Ok(Self {
            inode,
            _fs: fs.clone(),
        })
    }

    /// Points `file` at the shared `address_space`, so its mappings are
    /// reached by [`SharedMapping::unmap_all`].
    ///
    /// # Safety
    ///
    /// `file` must be in its `f_op->open`: it has no mapping and no I/O yet,
    /// so that nothing is linked into its own `f_mapping`'s `i_mmap` (moving
    /// a file with VMAs would leave them in the old tree). The caller must
    /// keep this value alive as long as the file is open.
    pub(crate) unsafe fn attach(&self, file: &File) {
        // SAFETY: The file is being opened and outlived by the inode (the
        // function's safety requirements).
        unsafe { (*file.as_ptr()).f_mapping = (*self.inode).i_mapping };
    }

    pub(crate) fn address_space(&self) -> *mut bindings::address_space {
        // SAFETY: The inode is live (type invariants).
        unsafe { (*self.inode).i_mapping }
    }

    /// Zaps every page table entry of every mapping of the object, so the
    /// next access to any of them faults.
    pub(crate) fn unmap_all(&self) {
        // SAFETY: The inode is live (type invariants). A zero length means
        // "to the end"; `even_cows` also drops private copies.
        unsafe { bindings::unmap_mapping_range((*self.inode).i_mapping, 0, 0, 1) };
    }
}

impl Drop for SharedMapping {
    fn drop(&mut self) {
        // SAFETY: We own one reference to the inode (type invariants).
        unsafe { bindings::iput(self.inode) };
    }
}
