// SPDX-License-Identifier: GPL-2.0

//! Range checks of mmap, faults, read and write against the reserved size.

use core::ops::Range;
use kernel::{
    page::PAGE_SIZE,
    prelude::*, //
};

/// Checks an mmap of `len` bytes (a page multiple) at page offset `pgoff`:
/// it must lie inside the reserved buffer, else `ENOMEM` (the sg rule).
pub(crate) fn check_mmap(pgoff: usize, len: usize, reserved: usize) -> Result {
    let start = pgoff.checked_mul(PAGE_SIZE).ok_or(ENOMEM)?;
    match start.checked_add(len) {
        Some(end) if len > 0 && end <= reserved => Ok(()),
        _ => Err(ENOMEM),
    }
}

/// Whether page `pgoff` lies inside a reserved buffer of `reserved` bytes.
pub(crate) fn page_in_buffer(pgoff: usize, reserved: usize) -> bool {
    pgoff < reserved / PAGE_SIZE
}

/// The pages to map around a fault at page `pgoff`: the aligned block of
/// `window` pages that holds it, clipped to the pages the VMA maps
/// (`vma_pgoff`, `vma_pages`) and to the buffer (`buffer_pages`).
pub(crate) fn fault_around(
    pgoff: usize,
    window: usize,
    vma_pgoff: usize,
    vma_pages: usize,
    buffer_pages: usize,
) -> Range<usize> {
    let window = window.max(1);
    let block = pgoff - pgoff % window;
    let vma_end = vma_pgoff.saturating_add(vma_pages);
    let start = block.max(vma_pgoff);
    let end = block.saturating_add(window).min(vma_end).min(buffer_pages);
    if start >= end || pgoff < start || pgoff >= end {
        return pgoff..pgoff;
    }
    start..end
}

/// The bytes a read of `len` bytes at `pos` may copy: up to the end of the
/// buffer, then nothing (end of file).
pub(crate) fn read_len(pos: i64, len: usize, reserved: usize) -> Result<usize> {
    if pos < 0 {
        return Err(EINVAL);
    }
    // A position past `usize` (4 GiB on a 32-bit kernel) is past the end.
    Ok(usize::try_from(pos).map_or(0, |pos| len.min(reserved.saturating_sub(pos))))
}

/// The bytes a write of `len` bytes at `pos` may copy: a write that starts
/// at or past the end fails with `ENOSPC`, one that crosses it is short.
pub(crate) fn write_len(pos: i64, len: usize, reserved: usize) -> Result<usize> {
    if pos < 0 {
        return Err(EINVAL);
    }
    if len == 0 {
        return Ok(0);
    }
    // A position past `usize` (4 GiB on a 32-bit kernel) is past the end.
    let pos = usize::try_from(pos).unwrap_or(usize::MAX);
    if pos >= reserved {
        return Err(ENOSPC);
    }
    Ok(len.min(reserved - pos))
}

#[kernel::macros::kunit_tests(vdmux_range)]
mod tests {
    use super::*;
    use crate::kernel_ext::vma_geometry::{
        huge_block,
        VmaPages, //
    };

    const SIZE: usize = 8 * PAGE_SIZE;

    #[test]
    fn mmap_ranges() {
        assert_eq!(check_mmap(0, PAGE_SIZE, SIZE), Ok(()));
        assert_eq!(check_mmap(0, SIZE, SIZE), Ok(()));
        assert_eq!(check_mmap(7, PAGE_SIZE, SIZE), Ok(()));
        assert_eq!(check_mmap(0, SIZE + PAGE_SIZE, SIZE), Err(ENOMEM));
        assert_eq!(check_mmap(8, PAGE_SIZE, SIZE), Err(ENOMEM));
        assert_eq!(
            check_mmap(usize::MAX / PAGE_SIZE, PAGE_SIZE, SIZE),
            Err(ENOMEM)
        );
        assert_eq!(check_mmap(usize::MAX, PAGE_SIZE, SIZE), Err(ENOMEM));
        assert_eq!(check_mmap(0, 0, SIZE), Err(ENOMEM));
    }

    #[test]
    fn fault_ranges() {
        assert!(page_in_buffer(0, SIZE));
        assert!(page_in_buffer(7, SIZE));
        assert!(!page_in_buffer(8, SIZE));
        assert!(!page_in_buffer(usize::MAX, SIZE));
    }

    #[test]
    fn fault_around_windows() {
        // Aligned block inside a large VMA and buffer.
        assert_eq!(fault_around(5, 16, 0, 64, 64), 0..16);
        assert_eq!(fault_around(17, 16, 0, 64, 64), 16..32);
        // Clipped by the VMA start and end.
        assert_eq!(fault_around(5, 16, 3, 4, 64), 3..7);
        assert_eq!(fault_around(33, 16, 30, 10, 64), 32..40);
        // Clipped by the buffer.
        assert_eq!(fault_around(6, 16, 0, 64, 8), 0..8);
        // A window of one page (or zero) maps just the fault.
        assert_eq!(fault_around(6, 1, 0, 64, 64), 6..7);
        assert_eq!(fault_around(6, 0, 0, 64, 64), 6..7);
        // A fault outside the VMA or buffer maps nothing.
        assert_eq!(fault_around(70, 16, 0, 64, 64), 70..70);
        assert_eq!(fault_around(9, 16, 0, 64, 8), 9..9);
        // No overflow at the top of the offset space.
        assert_eq!(
            fault_around(usize::MAX - 1, 16, usize::MAX - 4, 8, usize::MAX),
            usize::MAX - 4..usize::MAX
        );
    }

    #[test]
    fn fault_before_the_mappings_first_page() {
        const B: usize = 512;
        let vma = |pgoff, len, start| VmaPages { pgoff, len, start };
        // The VMA maps pages 3..7: a fault at page 2 (before its first page)
        // maps nothing, though its fault-around block 0..16 overlaps the VMA.
        assert_eq!(fault_around(2, 16, 3, 4, 64), 2..2);
        assert_eq!(fault_around(0, 16, 3, 4, 64), 0..0);
        // The first page itself maps the clipped block.
        assert_eq!(fault_around(3, 16, 3, 4, 64), 3..7);
        // No huge entry for a fault before the VMA's first page, even in a
        // block that would otherwise fit.
        assert_eq!(huge_block(B - 1, &vma(B, 2 * B, 5 * B), 4 * B, B), None);
        assert_eq!(huge_block(0, &vma(B, 2 * B, 5 * B), 4 * B, B), None);
        assert_eq!(huge_block(B, &vma(B, 2 * B, 5 * B), 4 * B, B), Some(B));
    }

    #[test]
    fn read_stops_at_end() {
        assert_eq!(read_len(0, 100, SIZE), Ok(100));
        assert_eq!(read_len((SIZE - 10) as i64, 100, SIZE), Ok(10));
        assert_eq!(read_len(SIZE as i64, 100, SIZE), Ok(0));
        assert_eq!(read_len(i64::MAX, 100, SIZE), Ok(0));
        assert_eq!(read_len(-1, 100, SIZE), Err(EINVAL));
    }

    #[test]
    fn write_past_end_is_enospc() {
        assert_eq!(write_len(0, 100, SIZE), Ok(100));
        assert_eq!(write_len((SIZE - 10) as i64, 100, SIZE), Ok(10));
        assert_eq!(write_len(SIZE as i64, 1, SIZE), Err(ENOSPC));
        assert_eq!(write_len(SIZE as i64, 0, SIZE), Ok(0));
        assert_eq!(write_len(-1, 1, SIZE), Err(EINVAL));
    }
}
