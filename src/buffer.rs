// SPDX-License-Identifier: GPL-2.0

//! Page buffers: the memory behind the device memory and the backing stores.
//!
//! A [`PageBuffer`] is a zero-filled, page-aligned `vmalloc` area whose pages
//! are mapped into user space by the fault handler. Because user space can
//! write those pages at any time through its mappings, the buffer never hands
//! out Rust references to its contents: every access is a raw copy, and
//! whether the bytes are consistent is up to the caller's locking.
//!
//! A buffer whose size is a multiple of 2 MiB is allocated with huge pages
//! where the allocator can (`vmalloc_huge`), so that a 2 MiB block of it can
//! be mapped with one PMD entry; where it cannot, the pages are 4 KiB pages
//! and the block is mapped page by page. The buffer records the page frame
//! of every page when it is allocated (`vmalloc` pages never move), so a
//! fault finds its page without walking the kernel page tables.

use crate::vm::HUGE_PAGES;
use core::{
    ffi::{
        c_int,
        c_ulong,
        c_void, //
    },
    ptr::{
        self,
        NonNull, //
    },
};
use kernel::{
    alloc::KVVec,
    bindings,
    page::PAGE_SIZE,
    prelude::*, //
};

unsafe extern "C" {
    // From <linux/vmalloc.h>, which the kernel crate's bindings leave out.
    fn __vmalloc_noprof(size: c_ulong, gfp_mask: bindings::gfp_t) -> *mut c_void;
    fn vmalloc_huge_node_noprof(
        size: c_ulong,
        gfp_mask: bindings::gfp_t,
        node: c_int,
    ) -> *mut c_void;
    fn vfree(addr: *const c_void);
}

/// A zero-filled, page-aligned buffer of whole pages that can be mapped into
/// user space.
///
/// # Invariants
///
/// `ptr` is the start of a live `vmalloc` area of `len` bytes, a non-zero
/// multiple of `PAGE_SIZE`, freed only on drop. `pfns[i]` is the page frame
/// of its page `i`, for every page. `huge[j]` is true only if the
/// [`HUGE_PAGES`] pages of block `j` are physically contiguous and the first
/// one's frame is aligned to [`HUGE_PAGES`].
pub(crate) struct PageBuffer {
    ptr: NonNull<u8>,
    len: usize,
    pfns: KVVec<usize>,
    huge: KVec<bool>,
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
        let pages = size / PAGE_SIZE;
        // Allocated first, so that their failure needs no vfree.
        let mut pfns = KVVec::with_capacity(pages, GFP_KERNEL | __GFP_NOWARN)?;
        let mut huge = KVec::with_capacity(pages / HUGE_PAGES, GFP_KERNEL | __GFP_NOWARN)?;
        let flags = bindings::GFP_KERNEL | bindings::__GFP_ZERO | bindings::__GFP_NOWARN;
        let wants_huge = pages % HUGE_PAGES == 0;
        // SAFETY: Plain allocation calls; `size` is non-zero. Huge pages are
        // tried only for whole 2 MiB blocks, as `vmalloc_huge` would
        // otherwise round the area up; it falls back to 4 KiB pages itself.
        let raw = unsafe {
            if wants_huge {
                vmalloc_huge_node_noprof(size as c_ulong, flags, bindings::NUMA_NO_NODE)
            } else {
                __vmalloc_noprof(size as c_ulong, flags)
            }
        };
        let ptr = NonNull::new(raw.cast::<u8>()).ok_or(ENOMEM)?;
        for index in 0..pages {
            // SAFETY: `index` is a page of the live area just allocated.
            let pfn =
                unsafe { bindings::vmalloc_to_pfn(raw.cast::<u8>().add(index * PAGE_SIZE).cast()) };
            // Cannot fail: the capacity was reserved above.
            let _ = pfns.push_within_capacity(pfn as usize);
        }
        for block in pfns.chunks_exact(HUGE_PAGES) {
            let first = block[0];
            let contiguous = block.iter().enumerate().all(|(i, &pfn)| pfn == first + i);
            let _ = huge.push_within_capacity(contiguous && first % HUGE_PAGES == 0);
        }
        // INVARIANT: `raw` is a live area of `size` bytes (checked above);
        // `pfns` holds the frame of every page and `huge` marks exactly the
        // contiguous, aligned blocks.
        Ok(Self {
            ptr,
            len: size,
            pfns,
            huge,
        })
    }

    /// The size of the buffer in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The page frame number of the page at page index `index`, if it is
    /// inside the buffer.
    pub(crate) fn pfn(&self, index: usize) -> Option<usize> {
        self.pfns.get(index).copied()
    }

    /// The first page frame of the 2 MiB block starting at page `index`, if
    /// `index` starts a block of the buffer whose pages are physically
    /// contiguous and aligned, so that one PMD entry can map it.
    pub(crate) fn huge_pfn(&self, index: usize) -> Option<usize> {
        if index % HUGE_PAGES != 0 || !*self.huge.get(index / HUGE_PAGES)? {
            return None;
        }
        self.pfn(index)
    }

    /// How many 2 MiB blocks of the buffer can be mapped with PMD entries.
    pub(crate) fn huge_blocks(&self) -> usize {
        self.huge.iter().filter(|&&h| h).count()
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
        // SAFETY: By the type invariants `ptr` is a live `vmalloc` area,
        // freed only here. No page of it is mapped in user space
        // any more (the mappings hold no page references): a buffer is
        // dropped by a resize, which is refused while anything is mapped, or
        // with the device, which every mapping keeps alive.
        unsafe { vfree(self.ptr.as_ptr().cast()) };
    }
}
