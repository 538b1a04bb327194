// SPDX-License-Identifier: GPL-2.0

//! Page buffers: the memory behind the device memory and the backing stores.
//!
//! A [`PageBuffer`] is a zero-filled, page-aligned `vmalloc` area whose pages
//! are mapped into user space by the fault handler. Because user space can
//! write those pages at any time through its mappings, the buffer never hands
//! out Rust references to its contents: every access is a raw copy, and
//! whether the bytes are consistent is up to the caller's locking.

use core::{
    alloc::Layout,
    ptr::{
        self,
        NonNull, //
    },
};
use kernel::{
    alloc::{
        allocator::Vmalloc,
        Allocator,
        NumaNode, //
    },
    bindings,
    page::PAGE_SIZE,
    prelude::*,
};

/// A zero-filled, page-aligned buffer of whole pages that can be mapped into
/// user space.
///
/// # Invariants
///
/// `ptr` is the start of a live `Vmalloc` allocation of `layout`, whose size
/// is a non-zero multiple of `PAGE_SIZE`.
pub(crate) struct PageBuffer {
    ptr: NonNull<u8>,
    layout: Layout,
}

// SAFETY: The buffer is plain memory owned by this value; every access goes
// through raw copies whose consistency the owner's lock provides.
unsafe impl Send for PageBuffer {}

// SAFETY: See `Send`: shared references only allow raw copies.
unsafe impl Sync for PageBuffer {}

impl PageBuffer {
    /// Allocates `size` bytes (a non-zero multiple of `PAGE_SIZE`), zeroed.
    ///
    /// The size comes from user space and a failure reaches it as `ENOMEM`
    /// or `SIGBUS`, so the allocator does not warn about it in the log.
    pub(crate) fn new_zeroed(size: usize) -> Result<Self> {
        if size == 0 || size % PAGE_SIZE != 0 {
            return Err(EINVAL);
        }
        let layout = Layout::from_size_align(size, PAGE_SIZE).map_err(|_| EINVAL)?;
        let flags = GFP_KERNEL | __GFP_ZERO | __GFP_NOWARN;
        let ptr = Vmalloc::alloc(layout, flags, NumaNode::NO_NODE).map_err(|_| ENOMEM)?;
        // INVARIANT: `Vmalloc` returned a live allocation of `layout`, whose
        // size was checked above.
        Ok(Self {
            ptr: ptr.cast(),
            layout,
        })
    }

    /// The size of the buffer in bytes.
    pub(crate) fn len(&self) -> usize {
        self.layout.size()
    }

    /// The page frame number of the page at page index `index`, if it is
    /// inside the buffer.
    pub(crate) fn pfn(&self, index: usize) -> Option<usize> {
        let offset = index.checked_mul(PAGE_SIZE)?;
        if offset >= self.len() {
            return None;
        }
        // SAFETY: `offset` is inside the allocation (checked above), so the
        // address is inside a live `Vmalloc` allocation.
        let pfn = unsafe { bindings::vmalloc_to_pfn(self.ptr.as_ptr().add(offset).cast()) };
        Some(pfn as usize)
    }

    /// Copies `out.len()` bytes at `offset` into `out`.
    ///
    /// # Panics
    ///
    /// Never: an out-of-range request copies nothing and returns `EINVAL`.
    pub(crate) fn read(&self, offset: usize, out: &mut [u8]) -> Result {
        self.check(offset, out.len())?;
        // SAFETY: The source range is inside the allocation (checked above)
        // and `out` is a distinct kernel buffer of the same length.
        unsafe {
            ptr::copy_nonoverlapping(self.ptr.as_ptr().add(offset), out.as_mut_ptr(), out.len())
        };
        Ok(())
    }

    /// Copies `data` into the buffer at `offset`.
    pub(crate) fn write(&self, offset: usize, data: &[u8]) -> Result {
        self.check(offset, data.len())?;
        // SAFETY: The destination range is inside the allocation (checked
        // above) and `data` is a distinct kernel buffer of the same length.
        unsafe {
            ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.as_ptr().add(offset), data.len())
        };
        Ok(())
    }

    /// Copies the first `len` bytes of `src` into the start of `self`.
    pub(crate) fn copy_from(&self, src: &PageBuffer, len: usize) -> Result {
        self.check(0, len)?;
        src.check(0, len)?;
        if ptr::eq(self, src) {
            return Ok(());
        }
        // SAFETY: Both ranges are inside their allocations (checked above),
        // and two distinct `PageBuffer`s never overlap.
        unsafe { ptr::copy_nonoverlapping(src.ptr.as_ptr(), self.ptr.as_ptr(), len) };
        Ok(())
    }

    /// Zero-fills `len` bytes at `offset`.
    pub(crate) fn zero(&self, offset: usize, len: usize) -> Result {
        self.check(offset, len)?;
        // SAFETY: The range is inside the allocation (checked above).
        unsafe { ptr::write_bytes(self.ptr.as_ptr().add(offset), 0, len) };
        Ok(())
    }

    fn check(&self, offset: usize, len: usize) -> Result {
        match offset.checked_add(len) {
            Some(end) if end <= self.len() => Ok(()),
            _ => Err(EINVAL),
        }
    }
}

impl Drop for PageBuffer {
    fn drop(&mut self) {
        // SAFETY: By the type invariants `ptr` is a live `Vmalloc` allocation
        // of `layout`, freed only here. No page of it is mapped in user space
        // any more (the mappings hold no page references): a buffer is
        // dropped by a resize, which is refused while anything is mapped, or
        // with the device, which every mapping keeps alive.
        unsafe { Vmalloc::free(self.ptr, self.layout) };
    }
}
