// SPDX-License-Identifier: GPL-2.0

//! Device memory in a PCI memory BAR (`device_memory=pci`).
//!
//! A [`BarMemory`] is one bound device's BAR as the device memory: a
//! [`WcBar`] (the region requested for vdmux while the value lives, so that
//! no other driver claims it, and mapped write-combining: the BAR is
//! prefetchable shared memory, not registers), which pages of it one PMD
//! entry can map, and the check that it keeps what is written.
//!
//! A user mapping of the BAR is a `VM_IO | VM_PFNMAP` of special entries:
//! the same VMA maps RAM backing stores at other times. The fault handler
//! inserts its frames write-combining (see `kernel_ext::pfnmap`).
//!
//! The value must be dropped before the device is unbound: see [`WcBar`].

use crate::kernel_ext::{
    page_buffer::PageBuffer,
    vma_geometry::HUGE_PAGES,
    wc_bar::{
        BarSpan,
        BarTransfer,
        WcBar, //
    },
};
use kernel::{
    alloc::KVVec,
    page::PAGE_SIZE,
    prelude::*, //
};

/// One bound PCI device's memory BAR, the device memory.
pub(crate) struct BarMemory {
    bar: WcBar,
}

impl BarMemory {
    /// The device memory in `bar`.
    pub(crate) fn new(bar: WcBar) -> Self {
        Self { bar }
    }

    /// The length of the BAR in bytes, a non-zero multiple of `PAGE_SIZE`.
    pub(crate) fn len(&self) -> usize {
        self.bar.len()
    }

    /// The physical address of the BAR's first byte.
    pub(crate) fn phys_addr(&self) -> u64 {
        self.bar.info().start
    }

    /// Whether the BAR is prefetchable.
    pub(crate) fn prefetchable(&self) -> bool {
        self.bar.info().prefetchable
    }

    /// The page frame number of the BAR's page `index`, if it is inside the
    /// BAR.
    pub(crate) fn pfn(&self, index: usize) -> Option<usize> {
        self.bar.pfn(index)
    }

    /// The first page frame of the PMD block starting at page `index`, if
    /// `index` starts a whole block of the BAR whose physical address is
    /// aligned to the PMD size, so that one PMD entry can map it.
    pub(crate) fn huge_pfn(&self, index: usize) -> Option<usize> {
        if index % HUGE_PAGES != 0 || index.checked_add(HUGE_PAGES)? > self.len() / PAGE_SIZE {
            return None;
        }
        self.pfn(index).filter(|pfn| pfn % HUGE_PAGES == 0)
    }

    /// How many PMD blocks of the first `size` bytes of the BAR can be
    /// mapped with PMD entries.
    pub(crate) fn huge_blocks(&self, size: usize) -> usize {
        (0..size.min(self.len()) / PAGE_SIZE)
            .step_by(HUGE_PAGES)
            .filter(|&i| self.huge_pfn(i).is_some())
            .count()
    }

    /// Copies `out.len()` bytes at `offset` into `out`. An out-of-range
    /// request copies nothing and returns `EINVAL`.
    pub(crate) fn read(&self, offset: usize, out: &mut [u8]) -> Result {
        self.bar.read(offset, out)
    }

    /// Copies `data` into the BAR at `offset`, as [`BarMemory::read`].
    pub(crate) fn write(&self, offset: usize, data: &[u8]) -> Result {
        self.bar.write(offset, data)
    }

    /// `len` bytes at `offset` of the BAR, for a copy prepared before a
    /// state change (how SWITCH and EJECT save and load the foreground);
    /// `EINVAL` outside the BAR.
    pub(crate) fn span(&self, offset: usize, len: usize) -> Result<BarSpan<'_>> {
        self.bar.span(offset, len)
    }

    /// Zero-fills `len` bytes at `offset`. An out-of-range request writes
    /// nothing and returns `EINVAL`.
    pub(crate) fn zero(&self, offset: usize, len: usize) -> Result {
        self.bar.zero(offset, len)
    }

    /// Checks that every way of copying to and from the BAR moves the right
    /// bytes, on a range that starts inside a page and crosses a 1 MiB piece
    /// boundary of the copies (as much of it as the BAR has), then zero-fills
    /// the whole BAR: the device memory's content when it is bound. `EIO` if
    /// a copy went wrong.
    pub(crate) fn check_and_clear(&mut self) -> Result {
        let size = self.len();
        let start = (PAGE_SIZE - 8).min(size / 2);
        let len = ((1 << 20) + 3 * PAGE_SIZE + 13).min(size - start);
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
        // load from page buffers, then save into them.
        let pages = len.div_ceil(PAGE_SIZE) * PAGE_SIZE;
        let (from, into) = (
            PageBuffer::new_zeroed(pages)?,
            PageBuffer::new_zeroed(pages)?,
        );
        // As SWITCH and EJECT copy: through transfers prepared beforehand.
        from.copy_from_slice(0, &want)?;
        BarTransfer::new(self.span(start, len)?, from.span(0, len)?)?.load();
        BarTransfer::new(self.span(start, len)?, into.span(0, len)?)?.save();
        into.copy_to_slice(0, &mut got)?;
        ok &= got[..] == want[..];
        // Out of range, or of two lengths: refused, and nothing copied.
        ok &= self.read(size - 1, &mut got[..2]).is_err()
            && self.write(size, &want[..1]).is_err()
            && self.zero(usize::MAX, 2).is_err()
            && self.span(size - 1, 2).is_err()
            && from.span(0, pages + 1).is_err()
            && BarTransfer::new(self.span(0, 2)?, from.span(0, 1)?).is_err();
        self.zero(0, size)?;
        if ok {
            Ok(())
        } else {
            Err(EIO)
        }
    }
}

/// The byte [`BarMemory::check_and_clear`] writes at `offset`: a pattern
/// that a copy shifted by a byte, a page or a MiB does not reproduce.
fn check_byte(offset: usize) -> u8 {
    let x = (offset as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    ((x >> 56) as u8) ^ (offset as u8)
}
