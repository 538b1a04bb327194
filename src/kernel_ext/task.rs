// SPDX-License-Identifier: GPL-2.0

//! What the current task may ask of the scheduler and of its signals in a
//! long loop: reschedule, and stop once it is being killed.
//!
//! Belongs upstream in `rust/kernel/task.rs`, beside `Task::signal_pending`
//! (which has no fatal-only variant) and as a `cond_resched` of its own.

use crate::helpers;

/// Whether the current task has a fatal signal pending (it is being
/// killed): a long loop on its behalf should stop.
pub(crate) fn fatal_signal_pending() -> bool {
    // SAFETY: A plain query about the current task.
    unsafe { helpers::vdmux_fatal_signal_pending() }
}

/// Lets the scheduler run another task if one is due. Only where sleeping
/// is allowed: checked by `might_sleep` in debug kernels.
pub(crate) fn cond_resched() {
    // SAFETY: `cond_resched` may be called from any context that may
    // sleep; in an atomic one it warns (`might_sleep`) rather than misbehave.
    unsafe { helpers::vdmux_cond_resched() };
}
