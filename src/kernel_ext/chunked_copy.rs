// SPDX-License-Identifier: GPL-2.0

//! Long copies in pieces: a copy of up to a gigabyte (RAM to RAM, RAM to
//! I/O memory and back, or a fill with zeros) runs as one loop of pieces of
//! at most [`PIECE`] bytes, with a rescheduling point after each, so that it
//! may run under a mutex without hogging the CPU.
//!
//! Belongs upstream in `rust/kernel/io.rs` (beside `IoCopyable`, whose
//! copies are one `memcpy_fromio`/`memcpy_toio` of any length) and in
//! `rust/kernel/page.rs`: the C kernel open-codes this loop at each use.

use super::task;

/// Most bytes one piece moves between rescheduling points.
pub(crate) const PIECE: usize = 1 << 20;

/// Calls `copy(offset, len)` for consecutive pieces of `0..total`, each at
/// most [`PIECE`] bytes, with a rescheduling point after each: `copy` moves
/// the bytes of that piece. Only where sleeping is allowed.
pub(crate) fn in_pieces(total: usize, mut copy: impl FnMut(usize, usize)) {
    let mut done = 0;
    while done < total {
        let len = (total - done).min(PIECE);
        copy(done, len);
        done += len;
        task::cond_resched();
    }
}
