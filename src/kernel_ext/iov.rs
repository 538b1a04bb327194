// SPDX-License-Identifier: GPL-2.0

//! Copies between kernel memory and an I/O vector with page faults
//! disabled, and faulting in the user pages such a copy stopped at.
//!
//! A copy with page faults disabled stops at the first user page that is
//! not mapped and returns what it moved, so that it may run under a lock
//! that a fault on that page (a user buffer that is itself a mapping of the
//! same object) takes; the caller drops the lock, faults the pages in and
//! tries again.
//!
//! Belongs upstream in `rust/kernel/iov.rs`, as methods of `IovIterDest`
//! and `IovIterSource` (which copy with faults enabled only, and have no
//! `iov_iter_zero` or `fault_in_iov_iter_*`).

use crate::helpers;
use kernel::{
    bindings,
    iov::{
        IovIterDest,
        IovIterSource, //
    },
};

/// Runs `f` with page faults disabled (`pagefault_disable`).
fn without_page_faults<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: Disabling page faults is allowed in any context; it is
    // enabled again below, on the same task, before returning.
    unsafe { helpers::vdmux_pagefault_disable() };
    let ret = f();
    // SAFETY: Undoes the `pagefault_disable` above.
    unsafe { helpers::vdmux_pagefault_enable() };
    ret
}

/// Copies `len` bytes at `src` to `iov` with page faults disabled; returns
/// what it copied.
///
/// # Safety
///
/// `src` must be valid for reads of `len` bytes for the call. The bytes may
/// be memory that user space maps and stores into meanwhile (the copy is
/// C's, as `copy_to_user` from such memory is).
pub(crate) unsafe fn copy_to_iter_raw(
    src: *const u8,
    len: usize,
    iov: &mut IovIterDest<'_>,
) -> usize {
    // SAFETY: `src` is valid for `len` bytes (the function's safety
    // requirements) and `iov` a valid iterator, borrowed for the call.
    without_page_faults(|| unsafe { bindings::_copy_to_iter(src.cast(), len, iov.as_raw()) })
}

/// Copies `len` bytes from `iov` to `dst` with page faults disabled;
/// returns what it copied.
///
/// # Safety
///
/// `dst` must be valid for writes of `len` bytes for the call, and not be
/// referenced by Rust references meanwhile; it may be memory that user
/// space maps.
pub(crate) unsafe fn copy_from_iter_raw(
    dst: *mut u8,
    len: usize,
    iov: &mut IovIterSource<'_>,
) -> usize {
    // SAFETY: `dst` is valid for `len` bytes (the function's safety
    // requirements) and `iov` a valid iterator, borrowed for the call.
    without_page_faults(|| unsafe { bindings::_copy_from_iter(dst.cast(), len, iov.as_raw()) })
}

/// Copies `src` to `iov` with page faults disabled; returns what it copied.
pub(crate) fn copy_to_iter_nofault(src: &[u8], iov: &mut IovIterDest<'_>) -> usize {
    // SAFETY: `src` is valid for its length.
    unsafe { copy_to_iter_raw(src.as_ptr(), src.len(), iov) }
}

/// Fills `dst` from `iov` with page faults disabled; returns how much of
/// it was filled.
pub(crate) fn copy_from_iter_nofault(dst: &mut [u8], iov: &mut IovIterSource<'_>) -> usize {
    // SAFETY: `dst` is valid for its length and borrowed exclusively.
    unsafe { copy_from_iter_raw(dst.as_mut_ptr(), dst.len(), iov) }
}

/// Writes `len` zero bytes to `iov` with page faults disabled; returns how
/// many it wrote.
pub(crate) fn zero_nofault(len: usize, iov: &mut IovIterDest<'_>) -> usize {
    // SAFETY: `iov` is a valid iterator, borrowed for the call.
    without_page_faults(|| unsafe { bindings::iov_iter_zero(len, iov.as_raw()) })
}

/// Faults in the next `len` bytes of `iov` for writing; how many of them
/// could not be (`len` when the first page cannot be).
pub(crate) fn fault_in_writeable(iov: &mut IovIterDest<'_>, len: usize) -> usize {
    // SAFETY: `iov` is a valid iterator, borrowed for the call.
    unsafe { bindings::fault_in_iov_iter_writeable(iov.as_raw(), len) }
}

/// Faults in the next `len` bytes of `iov` for reading; as
/// [`fault_in_writeable`].
pub(crate) fn fault_in_readable(iov: &mut IovIterSource<'_>, len: usize) -> usize {
    // SAFETY: `iov` is a valid iterator, borrowed for the call.
    unsafe { bindings::fault_in_iov_iter_readable(iov.as_raw(), len) }
}
