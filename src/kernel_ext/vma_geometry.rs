// SPDX-License-Identifier: GPL-2.0

//! The geometry of a VMA in page units: which user address maps which page
//! of the object, and which pages share a page middle directory entry (a
//! block of [`PMD_SIZE`] bytes: 2 MiB with 4 KiB pages, 32 MiB with 16 KiB
//! pages, 512 MiB with 64 KiB pages).
//!
//! Belongs upstream in `rust/kernel/mm/virt.rs`, as methods of `VmaRef`.

use core::ops::Range;
use kernel::page::{
    PAGE_SHIFT,
    PAGE_SIZE, //
};

/// Whether this kernel can map [`PMD_SIZE`] blocks of a `VM_PFNMAP` with one
/// PMD entry (transparent huge pages and `CONFIG_ARCH_SUPPORTS_PMD_PFNMAP`).
/// Without it every mapping uses single pages.
pub(crate) const HUGE_MAPPINGS: bool = cfg!(CONFIG_ARCH_SUPPORTS_PMD_PFNMAP);

/// The shift of the block one PMD entry maps. A page table is one page of
/// 8-byte entries on the 64-bit architectures vdmux builds for, so one
/// PMD entry maps `PAGE_SIZE / 8` pages. Computed here rather than taken
/// from the bindings, because arm64's `PMD_SHIFT` is a function-like macro
/// that bindgen does not translate; `c_helpers.c` checks at build time that
/// this is the kernel's `PMD_SHIFT`.
pub(crate) const PMD_SHIFT: usize = 2 * PAGE_SHIFT - 3;

/// Pages in the block one PMD entry maps (512 with 4 KiB pages, 2048 with
/// 16 KiB pages, 8192 with 64 KiB pages).
pub(crate) const HUGE_PAGES: usize = 1 << (PMD_SHIFT - PAGE_SHIFT);

/// Bytes in the block one PMD entry maps.
pub(crate) const PMD_SIZE: usize = 1 << PMD_SHIFT;

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
    pub(super) fn address_of(&self, pgoff: usize) -> Option<usize> {
        let index = pgoff.checked_sub(self.pgoff).filter(|&i| i < self.len)?;
        Some((self.start + index) * PAGE_SIZE)
    }

    /// The pages of `pgoffs` that the VMA maps under the same page middle
    /// directory entry as its page `pgoff` (empty if it does not map that).
    pub(super) fn same_pmd(
        &self,
        pgoff: usize,
        pgoffs: core::ops::Range<usize>,
    ) -> core::ops::Range<usize> {
        same_block(self, pgoff, pgoffs, HUGE_PAGES)
    }

    /// The pages of `pgoffs` (each one the VMA maps), split where they
    /// cross from one page middle directory entry to the next.
    pub(super) fn pmd_spans(
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

/// The first page of the block of `block_pages` pages (a power of two) that
/// one huge entry may map for a fault at page `pgoff` of a VMA mapping
/// `vma`: the aligned block holding `pgoff`, if it lies wholly inside the
/// VMA and the buffer (`buffer_pages`) and the VMA maps it at an address
/// aligned to the block size (so that one page table entry can cover it).
pub(crate) fn huge_block(
    pgoff: usize,
    vma: &VmaPages,
    buffer_pages: usize,
    block_pages: usize,
) -> Option<usize> {
    let block = pgoff - pgoff % block_pages;
    let end = block.checked_add(block_pages)?;
    let vma_end = vma.pgoff.checked_add(vma.len)?;
    (maps_aligned(vma, block_pages) && block >= vma.pgoff && end <= vma_end && end <= buffer_pages)
        .then_some(block)
}

/// Whether `vma` maps every block of `block_pages` pages (a power of two) at
/// an address aligned to the block size: the address of page `block` is
/// `vma.start + (block - vma.pgoff)` pages, so when `vma.start` and
/// `vma.pgoff` agree modulo the block size. Only such a VMA can hold a huge
/// entry.
pub(crate) fn maps_aligned(vma: &VmaPages, block_pages: usize) -> bool {
    vma.start % block_pages == vma.pgoff % block_pages
}

/// The pages of `pgoffs` that `vma` maps at user addresses in the same
/// aligned block of `block_pages` pages (a page middle directory entry's
/// for [`HUGE_PAGES`]) as its page `pgoff`; empty when `vma` does not map
/// `pgoff`, or none of `pgoffs` lies there.
///
pub(crate) fn same_block(
    vma: &VmaPages,
    pgoff: usize,
    pgoffs: Range<usize>,
    block_pages: usize,
) -> Range<usize> {
    let empty = pgoff..pgoff;
    let Some(index) = pgoff.checked_sub(vma.pgoff).filter(|&i| i < vma.len) else {
        return empty;
    };
    // In user page numbers: the block is [first, first + block_pages).
    let user = vma.start + index;
    let first = user - user % block_pages;
    let to_user = |pg: usize| pg.saturating_sub(vma.pgoff).saturating_add(vma.start);
    let start = to_user(pgoffs.start).max(first).max(vma.start);
    let end = to_user(pgoffs.end)
        .min(first.saturating_add(block_pages))
        .min(vma.start + vma.len);
    if start >= end {
        return empty;
    }
    (start - vma.start + vma.pgoff)..(end - vma.start + vma.pgoff)
}

#[kernel::macros::kunit_tests(vdmux_vma_geometry)]
mod tests {
    use super::*;

    #[test]
    fn huge_blocks() {
        const B: usize = 512;
        let vma = |pgoff, len, start| VmaPages { pgoff, len, start };
        // A 2-block VMA at an aligned address maps both blocks.
        assert_eq!(huge_block(0, &vma(0, 2 * B, 4 * B), 2 * B, B), Some(0));
        assert_eq!(huge_block(B + 7, &vma(0, 2 * B, 4 * B), 2 * B, B), Some(B));
        // Offset and address agree modulo the block: still aligned.
        assert_eq!(huge_block(B + 3, &vma(B, B, 7 * B), 2 * B, B), Some(B));
        assert_eq!(
            huge_block(B + 3, &vma(3, 2 * B, 7 * B + 3), 2 * B, B),
            Some(B)
        );
        // Misaligned address: no huge entry anywhere.
        assert_eq!(huge_block(0, &vma(0, 2 * B, 4 * B + 1), 2 * B, B), None);
        // The block sticks out of the VMA at either end.
        assert_eq!(huge_block(5, &vma(3, 2 * B, 7 * B + 3), 2 * B, B), None);
        assert_eq!(huge_block(B, &vma(0, B + 1, 4 * B), 2 * B, B), None);
        // The block sticks out of the buffer.
        assert_eq!(huge_block(B, &vma(0, 2 * B, 4 * B), 2 * B - 1, B), None);
        assert_eq!(huge_block(0, &vma(0, 2 * B, 4 * B), B - 1, B), None);
        // No overflow at the top of the offset space.
        assert_eq!(
            huge_block(usize::MAX - 1, &vma(usize::MAX - B, B, 0), usize::MAX, B),
            None
        );
    }

    #[test]
    fn same_block_spans() {
        const B: usize = 512;
        let vma = |pgoff, len, start| VmaPages { pgoff, len, start };
        // An aligned VMA: the block of the page, clipped to the range.
        assert_eq!(same_block(&vma(0, 2 * B, 4 * B), 5, 0..16, B), 0..16);
        assert_eq!(same_block(&vma(0, 2 * B, 4 * B), 5, 0..2 * B, B), 0..B);
        assert_eq!(
            same_block(&vma(0, 2 * B, 4 * B), B + 1, 0..2 * B, B),
            B..2 * B
        );
        // A VMA 3 pages past a block boundary: offsets 0..B-3 share one.
        let unaligned = vma(0, 2 * B, 4 * B + 3);
        assert_eq!(same_block(&unaligned, 0, 0..2 * B, B), 0..B - 3);
        assert_eq!(same_block(&unaligned, B - 3, 0..2 * B, B), B - 3..2 * B - 3);
        assert_eq!(
            same_block(&unaligned, 2 * B - 1, 0..2 * B, B),
            2 * B - 3..2 * B
        );
        // A fault-around window across the boundary splits there.
        assert_eq!(same_block(&unaligned, B - 5, B - 8..B + 8, B), B - 8..B - 3);
        assert_eq!(same_block(&unaligned, B - 3, B - 8..B + 8, B), B - 3..B + 8);
        // Offsets and addresses shifted alike (vm_pgoff 7).
        assert_eq!(same_block(&vma(7, B, 3 * B), 7, 7..7 + B, B), 7..7 + B);
        // The VMA's edges clip; a page it does not map, or a range outside
        // the block, gives nothing.
        assert_eq!(same_block(&vma(10, 4, 8 * B + 10), 11, 0..100, B), 10..14);
        assert_eq!(same_block(&vma(10, 4, 8 * B + 10), 9, 0..100, B), 9..9);
        assert_eq!(same_block(&vma(10, 4, 8 * B + 10), 14, 0..100, B), 14..14);
        assert_eq!(same_block(&vma(0, 2 * B, 4 * B), 5, B..2 * B, B), 5..5);
        assert_eq!(same_block(&vma(0, 2 * B, 4 * B), 5, 6..6, B), 5..5);
        // No overflow at the top of the address space.
        let top = usize::MAX / PAGE_SIZE;
        assert_eq!(same_block(&vma(0, 4, top - 4), 1, 0..4, B), 0..4);
    }
}
