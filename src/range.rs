// SPDX-License-Identifier: GPL-2.0

//! Range checks of mmap, faults, read and write against the reserved size.

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

/// The bytes a read of `len` bytes at `pos` may copy: up to the end of the
/// buffer, then nothing (end of file).
pub(crate) fn read_len(pos: i64, len: usize, reserved: usize) -> Result<usize> {
    let pos = usize::try_from(pos).map_err(|_| EINVAL)?;
    Ok(len.min(reserved.saturating_sub(pos)))
}

/// The bytes a write of `len` bytes at `pos` may copy: a write that starts
/// at or past the end fails with `ENOSPC`, one that crosses it is short.
pub(crate) fn write_len(pos: i64, len: usize, reserved: usize) -> Result<usize> {
    let pos = usize::try_from(pos).map_err(|_| EINVAL)?;
    if len == 0 {
        return Ok(0);
    }
    if pos >= reserved {
        return Err(ENOSPC);
    }
    Ok(len.min(reserved - pos))
}

#[kernel::macros::kunit_tests(vdmux_range)]
mod tests {
    use super::*;

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
