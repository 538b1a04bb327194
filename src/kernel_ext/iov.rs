// SPDX-License-Identifier: GPL-2.0

//! Faulting in the user pages of an I/O vector before a copy with page
//! faults disabled stopped at them.
//!
//! Belongs upstream in `rust/kernel/iov.rs`, as methods of `IovIterDest`
//! and `IovIterSource`.

use kernel::{
    bindings,
    iov::{
        IovIterDest,
        IovIterSource, //
    },
};

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
