// SPDX-License-Identifier: GPL-2.0

//! Device memory in a PCI memory BAR (`device_memory=pci`).
//!
//! A [`BarMemory`] owns what vdmux needs of one bound device's BAR: the
//! region, requested for vdmux while the value lives (so that no other
//! driver claims it), a kernel mapping of all of it with write-combining
//! (`pci_iomap_wc`: the BAR is prefetchable shared memory, not registers),
//! and its physical address and length, from which the fault handler takes
//! the page frames it maps into user space.
//!
//! As with a [`PageBuffer`](crate::buffer::PageBuffer), user space may store
//! into the BAR's pages at any time through a mapping, so nothing hands out
//! Rust references to its bytes: every access is a copy done by C
//! (`memcpy_fromio`, `memcpy_toio`, `memset_io`), in chunks of 1 MiB with a
//! rescheduling point between them, and a copy racing a user store may see
//! it or not, byte by byte.
//!
//! A user mapping of the BAR is a `VM_IO | VM_PFNMAP` of special entries,
//! with the VMA's ordinary protection: the same VMA maps RAM backing stores
//! at other times. On x86 with PAT the kernel gives each inserted frame the
//! memory type that was reserved for it whatever the VMA says: the
//! write-combining type of this mapping for the BAR's frames, write-back for
//! RAM.
//!
//! The value must be dropped before the device is unbound (its owner is the
//! driver's per-device data, or what it hands the BAR to, which gives it
//! back at unbind): the region is released then. It holds a reference to
//! the device, so dropping it later is a bug (the region stays requested
//! until then) but not a memory safety one.

use crate::{
    kernel_ext::vma_geometry::HUGE_PAGES, //
    pci_helpers,
};
use core::{
    ffi::c_void,
    ptr::NonNull, //
};
use kernel::{
    alloc::KVVec,
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
    /// The resource of BAR `bar` of `pdev`.
    pub(crate) fn of<Ctx: device::DeviceContext>(
        pdev: &pci::Device<Ctx>,
        bar: u32,
    ) -> Result<Self> {
        if bar >= bindings::PCI_STD_NUM_BARS {
            return Err(EINVAL);
        }
        let mut info = pci_helpers::vdmux_bar_info {
            start: 0,
            len: 0,
            mem: false,
            prefetch: false,
            mem64: false,
        };
        // SAFETY: `pdev` is a valid `struct pci_dev` and `bar` one of its
        // standard BARs (checked above); `info` is valid for writes.
        unsafe { pci_helpers::vdmux_pci_bar_info(raw_pci_dev(pdev), bar as i32, &mut info) };
        Ok(Self {
            start: info.start,
            len: info.len,
            mem: info.mem,
            prefetchable: info.prefetch,
            mem64: info.mem64,
        })
    }
}

/// One bound PCI device's memory BAR, requested and mapped write-combining.
///
/// # Invariants
///
/// Region `bar` of `pdev` is requested for vdmux, and `io` is a kernel
/// mapping of all of it (`len` bytes from physical address `phys`, both
/// page-aligned, `len` non-zero), made by `vdmux_pci_map_bar_wc` and undone
/// only on drop.
pub(crate) struct BarMemory {
    pdev: ARef<pci::Device>,
    bar: i32,
    phys: u64,
    len: usize,
    prefetchable: bool,
    io: NonNull<c_void>,
}

// SAFETY: The mapping and the region belong to this value; the device is
// reference counted and may be used from any thread.
unsafe impl Send for BarMemory {}

// SAFETY: Shared references only read the BAR, with C copies that may race
// with other readers and with user stores (see the module documentation);
// the kernel's writes need `&mut`.
unsafe impl Sync for BarMemory {}

impl BarMemory {
    /// Requests memory BAR `bar` of `pdev` for `name` and maps it all
    /// write-combining. `EBUSY` if another driver holds the region; `EINVAL`
    /// if it is not a memory BAR, or is not made of whole pages.
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
        let mut err = 0;
        // SAFETY: `pdev` is a bound device, `bar` one of its memory BARs
        // (checked above), `name` a static string and `err` valid for writes.
        let raw = unsafe {
            pci_helpers::vdmux_pci_map_bar_wc(
                raw_pci_dev(pdev),
                bar as i32,
                name.as_char_ptr(),
                &mut err,
            )
        };
        let io = NonNull::new(raw).ok_or_else(|| Error::from_errno(err))?;
        // INVARIANT: The region is requested and mapped (`raw` is not null),
        // `start` and `len` are page-aligned and `len` is non-zero.
        Ok(Self {
            pdev: pdev.into(),
            bar: bar as i32,
            phys: info.start,
            len,
            prefetchable: info.prefetchable,
            io,
        })
    }

    /// The length of the BAR in bytes, a non-zero multiple of `PAGE_SIZE`.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The physical address of the BAR's first byte.
    pub(crate) fn phys_addr(&self) -> u64 {
        self.phys
    }

    /// Whether the BAR is prefetchable.
    pub(crate) fn prefetchable(&self) -> bool {
        self.prefetchable
    }

    /// The page frame number of the BAR's page `index`, if it is inside the
    /// BAR.
    pub(crate) fn pfn(&self, index: usize) -> Option<usize> {
        if index >= self.len / PAGE_SIZE {
            return None;
        }
        Some((self.phys / PAGE_SIZE as u64) as usize + index)
    }

    /// The first page frame of the 2 MiB block starting at page `index`, if
    /// `index` starts a whole block of the BAR whose physical address is
    /// aligned to 2 MiB, so that one PMD entry can map it.
    pub(crate) fn huge_pfn(&self, index: usize) -> Option<usize> {
        if index % HUGE_PAGES != 0 || index.checked_add(HUGE_PAGES)? > self.len / PAGE_SIZE {
            return None;
        }
        self.pfn(index).filter(|pfn| pfn % HUGE_PAGES == 0)
    }

    /// How many 2 MiB blocks of the first `size` bytes of the BAR can be
    /// mapped with PMD entries.
    pub(crate) fn huge_blocks(&self, size: usize) -> usize {
        (0..size.min(self.len) / PAGE_SIZE)
            .step_by(HUGE_PAGES)
            .filter(|&i| self.huge_pfn(i).is_some())
            .count()
    }

    /// Copies `out.len()` bytes at `offset` into `out` (`memcpy_fromio`).
    /// An out-of-range request copies nothing and returns `EINVAL`.
    pub(crate) fn read(&self, offset: usize, out: &mut [u8]) -> Result {
        // SAFETY: `out` is a kernel buffer of that length, distinct from the
        // BAR.
        unsafe { self.copy_to_ram(offset, out.as_mut_ptr(), out.len()) }
    }

    /// Copies `data` into the BAR at `offset` (`memcpy_toio`). An
    /// out-of-range request copies nothing and returns `EINVAL`.
    pub(crate) fn write(&mut self, offset: usize, data: &[u8]) -> Result {
        // SAFETY: `data` is a kernel buffer of that length, distinct from the
        // BAR.
        unsafe { self.copy_from_ram(offset, data.as_ptr(), data.len()) }
    }

    /// Copies `len` bytes at `offset` of the BAR to `dst`, in chunks with
    /// rescheduling points between them: how a SWITCH or an EJECT saves the
    /// foreground into a backing store. An out-of-range request copies
    /// nothing and returns `EINVAL`.
    ///
    /// # Safety
    ///
    /// `dst` must be valid for writes of `len` bytes for the whole call, and
    /// may be memory that user space maps (a backing store), but must not be
    /// referenced by Rust references meanwhile.
    pub(crate) unsafe fn copy_to_ram(&self, offset: usize, dst: *mut u8, len: usize) -> Result {
        self.check(offset, len)?;
        // SAFETY: The source range is inside the mapping (checked above), the
        // destination is valid for `len` bytes (the function's safety
        // requirements), and the copy is C's, which may race with user
        // stores on either side.
        unsafe {
            pci_helpers::vdmux_io_read(
                dst.cast(),
                self.io.as_ptr().cast::<u8>().add(offset).cast(),
                len,
            )
        };
        Ok(())
    }

    /// Copies `len` bytes from `src` into the BAR at `offset`, in chunks with
    /// rescheduling points between them: how a SWITCH loads the new
    /// foreground from its backing store. An out-of-range request copies
    /// nothing and returns `EINVAL`.
    ///
    /// # Safety
    ///
    /// `src` must be valid for reads of `len` bytes for the whole call; it
    /// may be memory that user space maps, but must not be written through
    /// Rust references meanwhile.
    pub(crate) unsafe fn copy_from_ram(&self, offset: usize, src: *const u8, len: usize) -> Result {
        self.check(offset, len)?;
        // SAFETY: The destination range is inside the mapping (checked
        // above), the source is valid for `len` bytes (the function's safety
        // requirements).
        unsafe {
            pci_helpers::vdmux_io_write(
                self.io.as_ptr().cast::<u8>().add(offset).cast(),
                src.cast(),
                len,
            )
        };
        Ok(())
    }

    /// Zero-fills `len` bytes at `offset` (`memset_io`), in chunks with
    /// rescheduling points between them. An out-of-range request writes
    /// nothing and returns `EINVAL`.
    pub(crate) fn zero(&self, offset: usize, len: usize) -> Result {
        self.check(offset, len)?;
        // SAFETY: The range is inside the mapping (checked above).
        unsafe {
            pci_helpers::vdmux_io_zero(self.io.as_ptr().cast::<u8>().add(offset).cast(), len)
        };
        Ok(())
    }

    /// Checks that every way of copying to and from the BAR moves the right
    /// bytes, on a range that starts inside a page and crosses a 1 MiB chunk
    /// boundary of the copies (as much of it as the BAR has), then zero-fills
    /// the whole BAR: the device memory's content when it is bound. `EIO` if
    /// a copy went wrong.
    pub(crate) fn check_and_clear(&mut self) -> Result {
        let start = (PAGE_SIZE - 8).min(self.len / 2);
        let len = ((1 << 20) + 3 * PAGE_SIZE + 13).min(self.len - start);
        let mut want = KVVec::from_elem(0u8, len, GFP_KERNEL)?;
        let mut got = KVVec::from_elem(0u8, len, GFP_KERNEL)?;
        for (i, b) in want.iter_mut().enumerate() {
            *b = check_byte(start + i);
        }
        let mut ok = true;
        // write, then read.
        self.write(start, &want)?;
        self.read(start, &mut got)?;
        ok &= got[..] == want[..];
        // zero, then read.
        self.zero(start, len)?;
        self.read(start, &mut got)?;
        ok &= got.iter().all(|&b| b == 0);
        // copy_from_ram, then copy_to_ram.
        // SAFETY: `want` and `got` are kernel buffers of `len` bytes, not
        // borrowed elsewhere during the copies.
        unsafe {
            self.copy_from_ram(start, want.as_ptr(), len)?;
            self.copy_to_ram(start, got.as_mut_ptr(), len)?;
        }
        ok &= got[..] == want[..];
        // Out of range: refused, and nothing copied.
        ok &= self.read(self.len - 1, &mut got[..2]).is_err()
            && self.write(self.len, &want[..1]).is_err()
            && self.zero(usize::MAX, 2).is_err();
        self.zero(0, self.len)?;
        if ok {
            Ok(())
        } else {
            Err(EIO)
        }
    }

    fn check(&self, offset: usize, len: usize) -> Result {
        match offset.checked_add(len) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(EINVAL),
        }
    }
}

/// The byte [`BarMemory::check_and_clear`] writes at `offset`: a pattern
/// that a copy shifted by a byte, a page or a MiB does not reproduce.
fn check_byte(offset: usize) -> u8 {
    let x = (offset as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    ((x >> 56) as u8) ^ (offset as u8)
}

impl Drop for BarMemory {
    fn drop(&mut self) {
        // SAFETY: By the type invariants the region is requested and `io`
        // maps it; both are undone only here. No page of the BAR is mapped in
        // user space any more: whoever inserted its frames zapped them before
        // giving the BAR back (see the module documentation).
        unsafe {
            pci_helpers::vdmux_pci_unmap_bar(raw_pci_dev(&self.pdev), self.bar, self.io.as_ptr())
        };
    }
}
