// SPDX-License-Identifier: GPL-2.0

//! One page fault on a VMA that carries a [`VmaHandler`], at the access
//! level of the callback it reached: [`PageFault`] (`->fault`, may sleep),
//! [`AroundFault`] (`->map_pages`, under `rcu_read_lock`), [`HugeFault`]
//! (`->huge_fault`). The handler answers by mapping a page of a
//! [`PageFrames`] object, or a PMD block of one (as a special PTE or PMD,
//! which no `get_user_pages` pin can hold on to), by refusing with
//! [`FaultError::SigBus`], or, for a huge fault, by asking the kernel to
//! fall back to single pages with [`FaultError::Fallback`]. Bounds,
//! alignment and the state of the page middle directory are checked here,
//! not by the handler.
//!
//! Belongs upstream in `rust/kernel/mm/virt.rs` with [`super::vma_ops`].

use super::{
    anon_mapping::SharedMapping,
    pfnmap::{
        fault_done,
        insert_frame,
        insert_frames,
        FaultDone,
        FaultError,
        HugeMapped,
        OneFrame,
        PageFrames,
        FAULT_NOPAGE, //
    },
    seq_wait::Freezing,
    vma_geometry::{
        huge_block,
        maps_aligned,
        VmaPages,
        HUGE_PAGES, //
    },
};
use crate::helpers;
use kernel::{
    bindings,
    mm::virt::VmaRef,
    page::PAGE_SIZE,
    prelude::*, //
};

/// One page fault on a VMA carrying a [`VmaHandler`].
///
/// # Invariants
///
/// `vmf` points to the `struct vm_fault` of a fault in progress on a VMA that
/// [`NewMapping::install`] set up, valid for the lifetime of this value.
pub(crate) struct VmFault {
    pub(super) vmf: *mut bindings::vm_fault,
}

/// What the fault is: where, on which VMA, for which access.
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

    /// Whether a PMD entry now covers the faulting address.
    fn pmd_is_huge(&self) -> bool {
        // SAFETY: `vmf` is valid by the type invariants and, in a fault that
        // reached a handler, its `pmd` points to the allocated entry that
        // covers the address.
        unsafe { helpers::vdmux_fault_pmd_is_huge(self.vmf) }
    }
}

/// The insertions of a fault: one page with those around it, a PMD block,
/// or pages into an existing table without sleeping.
impl VmFault {
    /// Maps page `pgoff` of `store` (the faulting page's offset) at the
    /// faulting address with the VMA's protection, as a special PTE: one
    /// that holds no reference to the page, so that `get_user_pages` refuses
    /// it and no pin (vmsplice, O_DIRECT, `/proc/PID/mem`) can keep the page
    /// after an invalidation took it back; and with it the pages `around`
    /// (fault-around: page offsets, each one the VMA maps) that lie under
    /// the same page middle directory entry, the one checked for a huge
    /// leaf. SIGBUS when the page is past the store. When a PMD entry
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
    /// excludes every revocation (the zap that goes with a change of
    /// `store`; the kernel's own zaps are excluded by the VMA or mmap lock
    /// the fault holds) and every
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
        // A VMA that can hold PMD entries gets fault-around only under
        // the entry checked above; in one that cannot (`huge_block`
        // only accepts blocks of a VMA that `maps_aligned`), the pages
        // under the neighbouring entries are safe to map too.
        // Only the faulting page's span decides the fault: a neighbour that
        // could not be mapped (no memory for its page table) takes a fault
        // of its own later.
        let aligned = maps_aligned(&pages, HUGE_PAGES);
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
    /// a PMD entry already covers it (see the module documentation).
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

    /// Maps the PMD block of `store` around the faulting page with one PMD
    /// entry, as a special PMD (see [`VmFault::map_page`]). Falls back to
    /// single pages when the VMA does not map the whole block at an address
    /// aligned to the PMD size, when the block's pages are not one contiguous,
    /// aligned PMD block, or when the fault is a write to a read-only PMD
    /// entry (write-notify, soft-dirty tracking): the kernel then splits
    /// the entry and the write proceeds on single pages. Only for a
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
        let block = huge_block(self.pgoff(), &pages, object_pages, HUGE_PAGES)
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
        // SAFETY: As in `map_page`; `huge_block` checked that the VMA
        // maps the whole block, at an address aligned to the PMD size, and
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
    /// mapping, the VMA maps the whole PMD block around the address at an
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

    /// Without PMD entries of a `VM_PFNMAP`, every fault uses single pages.
    ///
    /// # Safety
    ///
    /// None needed; `unsafe` only to match the configuration with them.
    #[cfg(not(CONFIG_ARCH_SUPPORTS_PMD_PFNMAP))]
    unsafe fn insert_pfn_pmd(&self, _pfn: usize) -> Result<FaultDone, FaultError> {
        Err(FaultError::Fallback)
    }
}

/// What [`PageFault::wait_unlocked`] did.
pub(crate) enum Waited<F> {
    /// The fault's lock was released and the wait done without it: return
    /// this (`VM_FAULT_RETRY`) and the kernel retries the fault.
    Retry(FaultDone),
    /// The fault may be retried but must keep its lock
    /// (`FAULT_FLAG_RETRY_NOWAIT`): nothing was done; return this
    /// (`VM_FAULT_RETRY`), and the caller retries it in a way that may wait.
    RetryLater(FaultDone),
    /// The fault cannot be retried (no `FAULT_FLAG_ALLOW_RETRY`: a
    /// `fixup_user_fault` without `unlocked`): nothing was done, the wait is
    /// given back, and the fault must be served or refused under its lock.
    Locked(F),
}

/// The fault-retry protocol, as the kernel's own long waits use it
/// (`__folio_lock_or_retry`): release the fault's lock, wait, return
/// `VM_FAULT_RETRY`.
impl VmFault {
    /// Runs `wait` without the fault's lock, if the fault allows that,
    /// telling it whether its task may be frozen meanwhile: a fault from
    /// user mode holds no other lock; one from the kernel's own access to
    /// user memory (a `copy_from_user` in a system call, GUP) may hold its
    /// caller's.
    ///
    /// `wait` is `Send`, so it cannot borrow the fault (whose VMA may be
    /// gone once the lock is released: a `VmFault` holds a raw pointer and
    /// is not `Sync`); the handler it may borrow is kept alive by the
    /// callback that called it (see `VmOps::fault`).
    ///
    /// # Safety
    ///
    /// Only from a fault handler that may sleep and has not inserted
    /// anything (`->fault`, `->huge_fault`), which returns what this returns
    /// unless it is [`Waited::Locked`], and uses nothing of the fault after
    /// a [`Waited::Retry`].
    unsafe fn wait_unlocked<F: FnOnce(Freezing) + Send>(&self, wait: F) -> Waited<F> {
        // SAFETY: `vmf` is valid by the type invariants.
        let from_user = unsafe { (*self.vmf).flags } & bindings::fault_flag_FAULT_FLAG_USER != 0;
        let freezing = if from_user {
            Freezing::Allowed
        } else {
            Freezing::Refused
        };
        // SAFETY: `vmf` is valid by the type invariants.
        let mode = unsafe { helpers::vdmux_fault_retry_mode(self.vmf) };
        // SAFETY: A constant.
        let retry = |waited| FaultDone(unsafe { helpers::vdmux_fault_retry(waited) });
        match mode {
            helpers::VDMUX_FAULT_UNLOCK => {
                // The VMA may go once the lock is released, and with it the
                // last reference to the file that keeps the module loaded
                // while `wait` runs its code: held here until it returns.
                // SAFETY: `vmf` is valid and holds its lock, which keeps its
                // VMA and the VMA's file.
                let file = unsafe { helpers::vdmux_fault_get_file(self.vmf) };
                // SAFETY: `vmf` is valid and holds its lock (the kernel
                // called the handler with it); the caller returns
                // `VM_FAULT_RETRY`, which tells the kernel the lock is
                // released, and touches nothing of the fault after.
                unsafe { helpers::vdmux_fault_release_lock(self.vmf) };
                wait(freezing);
                // SAFETY: The reference taken above; `fput` defers the last
                // release to after this code has returned.
                unsafe { helpers::vdmux_fput(file) };
                // Counted as a major fault: it waited, as for I/O.
                Waited::Retry(retry(true))
            }
            helpers::VDMUX_FAULT_NOWAIT => Waited::RetryLater(retry(false)),
            _ => Waited::Locked(wait),
        }
    }
}

/// A fault of [`VmaHandler::fault`], which may sleep: it may map pages
/// with [`PageFault::map_page`], allocating page tables.
#[repr(transparent)]
pub(crate) struct PageFault(pub(super) VmFault);

/// A fault of [`VmaHandler::map_pages`], under `rcu_read_lock`: it may only
/// fill a page table that exists ([`AroundFault::map_into_table`]).
#[repr(transparent)]
pub(crate) struct AroundFault(pub(super) VmFault);

/// A fault of [`VmaHandler::huge_fault`]: it may insert one PMD entry
/// ([`HugeFault::map_huge`]).
#[repr(transparent)]
pub(crate) struct HugeFault(pub(super) VmFault);

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
    /// excludes every revocation (the zap that goes with a change of
    /// `store`; the kernel's own zaps are excluded by the VMA or mmap lock
    /// the fault holds) and every
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

impl PageFault {
    /// See [`VmFault::wait_unlocked`].
    ///
    /// # Safety
    ///
    /// Unless the result is [`Waited::Locked`], the handler returns the
    /// [`FaultDone`] it carries, and uses nothing of the fault (nor of its
    /// VMA) after a [`Waited::Retry`]: the fault's lock is released then.
    pub(crate) unsafe fn wait_unlocked<F: FnOnce(Freezing) + Send>(&self, wait: F) -> Waited<F> {
        // SAFETY: A `->fault` may sleep; the caller's requirements are those
        // of `VmFault::wait_unlocked`, and a `PageFault` gives no access to
        // the VMA that `wait` could use.
        unsafe { self.0.wait_unlocked(wait) }
    }
}

impl HugeFault {
    /// As [`PageFault::wait_unlocked`].
    ///
    /// # Safety
    ///
    /// As for [`PageFault::wait_unlocked`].
    pub(crate) unsafe fn wait_unlocked<F: FnOnce(Freezing) + Send>(&self, wait: F) -> Waited<F> {
        // SAFETY: As for `PageFault::wait_unlocked`, in a `->huge_fault`.
        unsafe { self.0.wait_unlocked(wait) }
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
