// SPDX-License-Identifier: GPL-2.0

//! Where the kernel crate of 7.2 and that of 7.3 differ in what vdmux uses,
//! one spelling for both. The build gives `kernel_crate="VERSION.PATCHLEVEL"`
//! of the kernel being built against (`Kbuild`); every release other than
//! 7.2 gets 7.3's side.
//!
//! - A module parameter's `value()` returns a reference in 7.2 and a copy
//!   from 7.3 on ([`param_value`]).
//! - A device ID table entry holds its driver data by value in 7.2 and by
//!   `&'static` reference from 7.3 on ([`IdInfo`], [`id_info`]).
//! - A PCI driver's `probe` gets `&IdInfo` in 7.2 and `Option<&IdInfo>`
//!   from 7.3 on, `None` for a dynamic ID without data ([`ProbeIdInfo`]).
//! - The `file_operations` that 7.2's `miscdevice` builds have no `owner`:
//!   an open file or a mapping of a node would not keep the module loaded,
//!   and an `rmmod` would leave them calling into freed code
//!   ([`fops_owner`]).
//!
//! Nothing belongs upstream: the file goes once 7.2 is no longer supported.

use kernel::{
    bindings,
    module_param::ModuleParamAccess, //
};

/// The value of a module parameter of a `Copy` type.
#[cfg(kernel_crate = "7.2")]
pub(crate) fn param_value<T: Copy>(param: &ModuleParamAccess<T>) -> T {
    *param.value()
}

/// The value of a module parameter of a `Copy` type.
#[cfg(not(kernel_crate = "7.2"))]
pub(crate) fn param_value<T: Copy>(param: &ModuleParamAccess<T>) -> T {
    param.value()
}

/// The driver data of one entry of a device ID table
/// (`kernel::device_id::IdArray::new`).
#[cfg(kernel_crate = "7.2")]
pub(crate) type IdInfo<U> = U;

/// The driver data of one entry of a device ID table
/// (`kernel::device_id::IdArray::new`).
#[cfg(not(kernel_crate = "7.2"))]
pub(crate) type IdInfo<U> = &'static U;

/// `info` as the driver data of a device ID table entry.
#[cfg(kernel_crate = "7.2")]
pub(crate) const fn id_info<U: Copy>(info: &'static U) -> IdInfo<U> {
    *info
}

/// `info` as the driver data of a device ID table entry.
#[cfg(not(kernel_crate = "7.2"))]
pub(crate) const fn id_info<U: Copy>(info: &'static U) -> IdInfo<U> {
    info
}

/// The ID data `kernel::pci::Driver::probe` is given.
#[cfg(kernel_crate = "7.2")]
pub(crate) type ProbeIdInfo<'a, U> = &'a U;

/// The ID data `kernel::pci::Driver::probe` is given.
#[cfg(not(kernel_crate = "7.2"))]
pub(crate) type ProbeIdInfo<'a, U> = Option<&'a U>;

/// The `owner` of a misc node's `file_operations`, given the one the kernel
/// crate set: this module.
#[cfg(kernel_crate = "7.2")]
pub(crate) const fn fops_owner(_kernel_crate: *mut bindings::module) -> *mut bindings::module {
    // The module's own `struct module`, which the kernel fills in at load
    // time; only its address is taken.
    (&raw const bindings::__this_module).cast_mut()
}

/// The `owner` of a misc node's `file_operations`, given the one the kernel
/// crate set: this module.
#[cfg(not(kernel_crate = "7.2"))]
pub(crate) const fn fops_owner(kernel_crate: *mut bindings::module) -> *mut bindings::module {
    kernel_crate
}

/// `wmb()`: the stores before it reach memory, write-combining buffers of
/// I/O memory included, before any store after it.
#[cfg(kernel_crate = "7.2")]
pub(crate) fn wmb() {
    // SAFETY: A barrier, callable from any context.
    unsafe { crate::pci_helpers::vdmux_wmb() }
}

/// `wmb()`: the stores before it reach memory, write-combining buffers of
/// I/O memory included, before any store after it.
#[cfg(not(kernel_crate = "7.2"))]
pub(crate) fn wmb() {
    kernel::sync::barrier::mb(kernel::sync::barrier::Write);
}

/// `delta` in whole milliseconds, rounded up (7.2's `Delta` has no
/// `as_millis_ceil`).
#[cfg(kernel_crate = "7.2")]
pub(crate) fn millis_ceil(delta: kernel::time::Delta) -> i64 {
    delta.as_nanos().saturating_add(999_999) / 1_000_000
}

/// `delta` in whole milliseconds, rounded up.
#[cfg(not(kernel_crate = "7.2"))]
pub(crate) fn millis_ceil(delta: kernel::time::Delta) -> i64 {
    delta.as_millis_ceil()
}
