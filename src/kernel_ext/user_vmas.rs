// SPDX-License-Identifier: GPL-2.0

//! The calling process's VMAs of one object over a range of addresses,
//! whose pages [`UserMapping::map`] maps ahead of any fault (`MAP_POPULATE`
//! cannot: `get_user_pages` refuses a `VM_PFNMAP`).
//!
//! Belongs upstream in `rust/kernel/mm.rs`, beside `MmapReadGuard`'s
//! `vma_lookup`.

use super::{
    anon_mapping::SharedMapping,
    pfnmap::{
        insert_frames,
        PageFrames, //
    },
    vma_geometry::VmaPages,
};
use crate::helpers;
use kernel::{
    mm::virt::{
        flags,
        VmaRef, //
    },
    page::PAGE_SIZE,
    prelude::*, //
};

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

    /// The address at which this part maps page `pgoff` of the object.
    pub(crate) fn address_of(&self, pgoff: usize) -> Option<usize> {
        self.pages.address_of(pgoff)
    }

    /// The object's page offsets that this part maps, split where the
    /// part crosses from one page middle directory entry to the next.
    pub(crate) fn pmd_spans(&self) -> impl Iterator<Item = core::ops::Range<usize>> + '_ {
        self.pages.pmd_spans(self.range.clone())
    }

    /// Maps the pages `span` of `store` (one of [`UserMapping::pmd_spans`])
    /// as a fault would (see [`VmFault::map_page`]); pages already mapped,
    /// a span covered by a PMD entry, and pages `store` does not have are
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
