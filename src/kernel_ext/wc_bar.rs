// SPDX-License-Identifier: GPL-2.0

//! A PCI memory BAR requested and mapped write-combining, as memory that is
//! copied in bulk and whose page frames user space may map, rather than as
//! registers; what its resource says about it; and enabling a device's
//! memory decoding for as long as a value lives.
//!
//! Belongs upstream in `rust/kernel/pci/io.rs`. The 7.3 kernel crate's
//! `pci::Bar` (`Device::iomap_region`) is close, and what it shares is
//! used here (`Device::resource_start`, `resource_len`), but it maps with
//! `pci_iomap` (uncached, for registers), borrows the bound device for its
//! lifetime (so it cannot outlive the probe that made it unless devres
//! revokes it, under RCU, where a copy may not sleep), has no copies of a
//! length known only at run time in pieces, no `memset_io`, and does not
//! give the BAR's physical address or resource flags; and `pci::Device`
//! has no `pci_disable_device` to undo `enable_device_mem`.
//!
//! As with a [`PageBuffer`](super::page_buffer::PageBuffer), user space
//! may store into the BAR's pages at any time through a mapping, so nothing
//! hands out Rust references to its bytes: every access is a C copy
//! (`memcpy_fromio`, `memcpy_toio`, `memset_io`), and a copy racing a user
//! store may see it or not, byte by byte.

use super::{
    chunked_copy,
    compat,
    page_buffer::Span, //
};
use crate::pci_helpers;
use core::{
    ffi::c_void,
    marker::PhantomData,
    ptr::NonNull, //
};
use kernel::{
    bindings,
    device,
    page::PAGE_SIZE,
    pci,
    prelude::*,
    sync::aref::ARef, //
};

/// The raw `struct pci_dev` of `pdev`.
fn raw_pci_dev<Ctx: device::DeviceContext>(pdev: &pci::Device<Ctx>) -> *mut bindings::pci_dev {
    // `pci::Device` is a `#[repr(transparent)]` wrapper of an
    // `Opaque<bindings::pci_dev>`, itself transparent: the pointers are the
    // same (the kernel crate's own `as_raw` is crate-private).
    core::ptr::from_ref(pdev).cast_mut().cast()
}

/// What a BAR's resource says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BarInfo {
    /// The physical address of its first byte.
    pub(crate) start: u64,
    /// Its length in bytes.
    pub(crate) len: u64,
    /// A memory BAR, not an I/O port range.
    pub(crate) mem: bool,
    /// Prefetchable: reads have no side effects, writes may be combined.
    pub(crate) prefetchable: bool,
    /// A 64-bit memory BAR.
    pub(crate) mem64: bool,
}

impl BarInfo {
    /// The resource of standard BAR `bar` of `pdev` (`EINVAL` past them).
    pub(crate) fn of(pdev: &pci::Device, bar: u32) -> Result<Self> {
        if bar >= bindings::PCI_STD_NUM_BARS {
            return Err(EINVAL);
        }
        // SAFETY: `pdev` is a valid `struct pci_dev` and `bar` one of its
        // standard BARs (checked above).
        let flags = unsafe { pci_helpers::vdmux_pci_resource_flags(raw_pci_dev(pdev), bar as i32) };
        let has = |flag: u32| flags & flag as usize != 0;
        Ok(Self {
            start: pdev.resource_start(bar)?,
            len: pdev.resource_len(bar)?,
            mem: has(bindings::IORESOURCE_MEM),
            prefetchable: has(bindings::IORESOURCE_PREFETCH),
            mem64: has(bindings::IORESOURCE_MEM_64),
        })
    }
}

/// A memory BAR of a bound PCI device, requested and mapped
/// write-combining.
///
/// The value must be dropped before the device is unbound (its owner is
/// the driver's per-device data, or what it hands the BAR to, which gives
/// it back at unbind): the region is released then. It holds a reference
/// to the device, so dropping it later is a bug (the region stays
/// requested until then) but not a memory safety one.
///
/// # Invariants
///
/// Region `bar` of `pdev` is requested, and `io` is a kernel mapping of all
/// of it (`len` bytes from physical address `phys`, both page-aligned,
/// `len` non-zero) made with `pci_iomap_wc`, undone only on drop.
pub(crate) struct WcBar {
    pdev: ARef<pci::Device>,
    bar: i32,
    phys: u64,
    len: usize,
    info: BarInfo,
    io: NonNull<c_void>,
}

// SAFETY: The mapping and the region belong to this value; the device is
// reference counted and may be used from any thread.
unsafe impl Send for WcBar {}

// SAFETY: Every access to the BAR is a C copy, which may race with other
// copies and with user stores (see the module documentation); no Rust
// reference to its bytes is ever made.
unsafe impl Sync for WcBar {}

impl WcBar {
    /// Requests memory BAR `bar` of `pdev` for `name` and maps it all
    /// write-combining. `EBUSY` if another driver holds the region;
    /// `EINVAL` if it is not a memory BAR, or is not made of whole pages;
    /// `ENOMEM` if it cannot be mapped.
    pub(crate) fn new(
        pdev: &pci::Device<device::Bound>,
        bar: u32,
        name: &'static CStr,
    ) -> Result<Self> {
        let info = BarInfo::of(pdev, bar)?;
        let page = PAGE_SIZE as u64;
        if !info.mem || info.len == 0 || info.start % page != 0 || info.len % page != 0 {
            return Err(EINVAL);
        }
        let len = usize::try_from(info.len)?;
        let raw = raw_pci_dev(pdev);
        let index = bar as i32;
        // SAFETY: `pdev` is a bound device and `bar` one of its memory BARs
        // (checked above); `name` is a static string.
        let err = unsafe { bindings::pci_request_region(raw, index, name.as_char_ptr()) };
        if err != 0 {
            return Err(Error::from_errno(err));
        }
        // SAFETY: As above; 0 maps the whole BAR.
        let io = NonNull::new(unsafe { bindings::pci_iomap_wc(raw, index, 0) }.cast::<c_void>());
        let Some(io) = io else {
            // SAFETY: The region requested above, mapped nowhere.
            unsafe { bindings::pci_release_region(raw, index) };
            return Err(ENOMEM);
        };
        // INVARIANT: The region is requested and `io` maps all of it;
        // `start` and `len` are page-aligned and `len` is non-zero.
        Ok(Self {
            pdev: pdev.into(),
            bar: index,
            phys: info.start,
            len,
            info,
            io,
        })
    }

    /// The length of the BAR in bytes, a non-zero multiple of `PAGE_SIZE`.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// What the BAR's resource says about it.
    pub(crate) fn info(&self) -> BarInfo {
        self.info
    }

    /// The page frame number of the BAR's page `index`, if it is inside the
    /// BAR.
    pub(crate) fn pfn(&self, index: usize) -> Option<usize> {
        if index >= self.len / PAGE_SIZE {
            return None;
        }
        Some((self.phys / PAGE_SIZE as u64) as usize + index)
    }

    /// The mapping of byte `offset`, after checking that `len` bytes from it
    /// are inside the BAR (`EINVAL`).
    fn at(&self, offset: usize, len: usize) -> Result<*mut u8> {
        match offset.checked_add(len) {
            Some(end) if end <= self.len => {
                // SAFETY: `offset` is inside the mapping of `self.len`
                // bytes (type invariants).
                Ok(unsafe { self.io.as_ptr().cast::<u8>().add(offset) })
            }
            _ => Err(EINVAL),
        }
    }

    /// `len` bytes at `offset` of the BAR; `EINVAL` outside it.
    pub(crate) fn span(&self, offset: usize, len: usize) -> Result<BarSpan<'_>> {
        let io = self.at(offset, len)?;
        // INVARIANT: `at` checked that the range is inside the mapping.
        Ok(BarSpan {
            io,
            len,
            _bar: PhantomData,
        })
    }

    /// Copies `len` bytes at `offset` of the BAR to `dst`, in pieces.
    ///
    /// # Safety
    ///
    /// `dst` must be valid for writes of `len` bytes, not referenced by Rust
    /// references meanwhile; it may be memory that user space maps.
    unsafe fn read_raw(&self, offset: usize, dst: *mut u8, len: usize) -> Result {
        let span = self.span(offset, len)?;
        // SAFETY: The function's safety requirements.
        unsafe { span.read_to(dst) };
        Ok(())
    }

    /// Copies `len` bytes from `src` into the BAR at `offset`, as
    /// [`BarSpan::write_from`].
    ///
    /// # Safety
    ///
    /// `src` must be valid for reads of `len` bytes, not written through
    /// Rust references meanwhile; it may be memory that user space maps.
    unsafe fn write_raw(&self, offset: usize, src: *const u8, len: usize) -> Result {
        let span = self.span(offset, len)?;
        // SAFETY: The function's safety requirements.
        unsafe { span.write_from(src) };
        Ok(())
    }

    /// Copies `out.len()` bytes at `offset` into `out`. An out-of-range
    /// request copies nothing and returns `EINVAL`.
    pub(crate) fn read(&self, offset: usize, out: &mut [u8]) -> Result {
        // SAFETY: `out` is valid for its length and borrowed exclusively.
        unsafe { self.read_raw(offset, out.as_mut_ptr(), out.len()) }
    }

    /// Copies `data` into the BAR at `offset`, as [`WcBar::read`].
    pub(crate) fn write(&self, offset: usize, data: &[u8]) -> Result {
        // SAFETY: `data` is valid for its length and borrowed.
        unsafe { self.write_raw(offset, data.as_ptr(), data.len()) }
    }

    /// Zero-fills `len` bytes at `offset`, in pieces, then drains the
    /// write-combining buffers. An out-of-range request writes nothing and
    /// returns `EINVAL`.
    pub(crate) fn zero(&self, offset: usize, len: usize) -> Result {
        self.span(offset, len)?.zero();
        Ok(())
    }
}

/// `len` bytes of a [`WcBar`], checked once to lie inside it, so that a copy
/// through it cannot fail (as a page buffer's [`Span`]).
///
/// # Invariants
///
/// `io` is the kernel mapping of `len` bytes inside the BAR's mapping, which
/// lives as long as `'a`.
pub(crate) struct BarSpan<'a> {
    io: *mut u8,
    len: usize,
    _bar: PhantomData<&'a WcBar>,
}

impl BarSpan<'_> {
    /// Copies its bytes to `dst`, in pieces.
    ///
    /// # Safety
    ///
    /// `dst` must be valid for writes of `len` bytes, not referenced by Rust
    /// references meanwhile; it may be memory that user space maps.
    unsafe fn read_to(&self, dst: *mut u8) {
        let src = self.io;
        chunked_copy::in_pieces(self.len, |at, n| {
            // SAFETY: The source piece is inside the span (type invariants,
            // `at + n <= len`), the destination valid for it (the function's
            // safety requirements).
            unsafe { bindings::memcpy_fromio(dst.add(at).cast(), src.add(at).cast(), n) };
        });
    }

    /// Copies `len` bytes from `src` into it, in pieces, then drains the
    /// write-combining buffers (`wmb`): the bytes are in the BAR, for
    /// another CPU's mapping of it or the device, on return.
    ///
    /// # Safety
    ///
    /// `src` must be valid for reads of `len` bytes, not written through
    /// Rust references meanwhile; it may be memory that user space maps.
    unsafe fn write_from(&self, src: *const u8) {
        let dst = self.io;
        chunked_copy::in_pieces(self.len, |at, n| {
            // SAFETY: The destination piece is inside the span (type
            // invariants, `at + n <= len`), the source valid for it (the
            // function's safety requirements).
            unsafe { bindings::memcpy_toio(dst.add(at).cast(), src.add(at).cast(), n) };
        });
        compat::wmb();
    }

    /// Zero-fills it, in pieces, then drains the write-combining buffers.
    pub(crate) fn zero(&self) {
        let dst = self.io;
        chunked_copy::in_pieces(self.len, |at, n| {
            // SAFETY: The piece is inside the span (type invariants).
            unsafe { pci_helpers::vdmux_memset_io(dst.add(at).cast(), 0, n) };
        });
        compat::wmb();
    }
}

/// A copy between a [`BarSpan`] and a [`Span`] of a page buffer of the same
/// length, either way, which cannot fail.
///
/// # Invariants
///
/// `bar.len == buf.len()`.
pub(crate) struct BarTransfer<'a> {
    bar: BarSpan<'a>,
    buf: Span<'a>,
}

impl<'a> BarTransfer<'a> {
    /// The copies between `bar` and `buf`; `EINVAL` if their lengths differ.
    pub(crate) fn new(bar: BarSpan<'a>, buf: Span<'a>) -> Result<Self> {
        if bar.len != buf.len() {
            return Err(EINVAL);
        }
        // INVARIANT: Checked above.
        Ok(Self { bar, buf })
    }

    /// Copies the BAR's bytes into the page buffer.
    pub(crate) fn save(&self) {
        // SAFETY: The span is valid for `len` bytes, which is `bar.len` (type
        // invariants), and only ever accessed through C copies.
        unsafe { self.bar.read_to(self.buf.as_ptr()) }
    }

    /// Copies the page buffer's bytes into the BAR.
    pub(crate) fn load(&self) {
        // SAFETY: As for `save`.
        unsafe { self.bar.write_from(self.buf.as_ptr()) }
    }
}

impl Drop for WcBar {
    fn drop(&mut self) {
        let raw = raw_pci_dev(&self.pdev);
        // SAFETY: By the type invariants the region is requested and `io`
        // maps it; both are undone only here. No page of the BAR is mapped in
        // user space any more: whoever inserted its frames zapped them before
        // giving the BAR back (the contract of `PageFrames`).
        unsafe {
            bindings::pci_iounmap(raw, self.io.as_ptr());
            bindings::pci_release_region(raw, self.bar);
        }
    }
}

/// A bound device whose memory decoding was enabled
/// (`pci::Device::enable_device_mem`), disabled again on drop.
pub(crate) struct EnabledMem<'bound>(&'bound pci::Device<device::Bound>);

impl<'bound> EnabledMem<'bound> {
    /// Enables the memory decoding of `pdev`, being bound.
    pub(crate) fn enable(pdev: &'bound pci::Device<device::Core<'_>>) -> Result<Self> {
        pdev.enable_device_mem()?;
        Ok(Self(pdev))
    }

    /// The device.
    pub(crate) fn device(&self) -> &'bound pci::Device<device::Bound> {
        self.0
    }
}

impl Drop for EnabledMem<'_> {
    fn drop(&mut self) {
        // SAFETY: The device is bound (it outlives `'bound`) and was enabled
        // by `enable`, once.
        unsafe { bindings::pci_disable_device(raw_pci_dev(self.0)) };
    }
}
