// SPDX-License-Identifier: GPL-2.0

//! Page buffers: the memory behind the device memory and the backing stores.
//!
//! A [`PageBuffer`] is a zero-filled, page-aligned allocation whose pages
//! the fault handler maps into user space. User space may therefore store
//! into those pages at any time, from any CPU, and nothing the kernel does
//! can stop it while a mapping is live. So the buffer never hands out Rust
//! references to its bytes: every access is a copy done by C's `memcpy` or
//! `memset` (`vdmux_copy`, `vdmux_zero`), the same kind of access as a
//! `copy_to_user` from memory another thread writes. A copy that races with
//! a user store may see that store or not, byte by byte; it never sees
//! anything but bytes that were stored there. Whether the copied bytes are
//! consistent is up to the caller: a SWITCH revokes every mapping before it
//! copies, `read`/`write` race with mappings exactly as they do on a
//! regular file's page cache.
//!
//! The kernel's own writes are C copies too, on `&self`: which of two
//! writers of the same bytes wins is for the owner's locks to decide (see
//! `store.rs`), not a question of memory safety.
//!
//! A buffer of exactly 2 MiB (a chunk of a store) is first tried as one
//! physically contiguous, aligned block of pages, so that one PMD entry can
//! map it; where the page allocator has none at hand, the buffer is a
//! `vmalloc` area of 4 KiB pages and is mapped page by page. The buffer
//! records the page frame of every page when it is allocated (these pages
//! never move), so a fault finds its page without walking the kernel page
//! tables.
//!
//! Allocations are charged to the memory cgroup of the task that makes them
//! (`GFP_KERNEL_ACCOUNT`): a backing store is allocated by the first access
//! that needs it, which any member of the nodes' group can make.

use crate::{
    helpers,
    kernel_ext::vma_geometry::{
        HUGE_MAPPINGS,
        HUGE_PAGES, //
    },
};
use core::{
    ffi::c_void,
    ptr::NonNull, //
};
use kernel::{
    alloc::KVVec,
    iov::{
        IovIterDest,
        IovIterSource, //
    },
    page::PAGE_SIZE,
    prelude::*, //
};

/// A zero-filled, page-aligned buffer of whole pages that can be mapped into
/// user space.
///
/// # Invariants
///
/// `ptr` is the start of a live allocation of `vdmux_alloc_pages` of `len`
/// bytes, a non-zero multiple of `PAGE_SIZE`, freed only on drop. `pfns[i]` is the page frame
/// of its page `i`, for every page. `huge[j]` is true only if the
/// [`HUGE_PAGES`] pages of block `j` are physically contiguous and the first
/// one's frame is aligned to [`HUGE_PAGES`].
pub(crate) struct PageBuffer {
    ptr: NonNull<u8>,
    len: usize,
    pfns: KVVec<usize>,
    huge: KVec<bool>,
    /// Whether the pages are one block (`vdmux_alloc_pages` says how to
    /// free them).
    block: bool,
}

// SAFETY: The buffer is plain memory owned by this value; see `Sync`.
unsafe impl Send for PageBuffer {}

// SAFETY: Every access to the bytes is a C copy through a raw pointer, which
// may race with other copies and with user stores (see the module
// documentation); no Rust reference to them is ever made.
unsafe impl Sync for PageBuffer {}

impl PageBuffer {
    /// Allocates `size` bytes (a non-zero multiple of `PAGE_SIZE`), zeroed,
    /// charged to the caller's memory cgroup.
    ///
    /// The size comes from user space and a failure reaches it as `ENOMEM`
    /// or `SIGBUS`, so the allocator does not warn about it in the log.
    pub(crate) fn new_zeroed(size: usize) -> Result<Self> {
        if size == 0 || size % PAGE_SIZE != 0 {
            return Err(EINVAL);
        }
        let pages = size / PAGE_SIZE;
        if !fits_in_memory(pages) {
            return Err(ENOMEM);
        }
        // Allocated first, so that their failure needs no vfree.
        let mut pfns = KVVec::with_capacity(pages, GFP_KERNEL_ACCOUNT | __GFP_NOWARN)?;
        let mut huge = KVec::with_capacity(pages / HUGE_PAGES, GFP_KERNEL | __GFP_NOWARN)?;
        // A huge block is tried only for exactly one 2 MiB block.
        let wants_huge = HUGE_MAPPINGS && pages == HUGE_PAGES;
        let mut block = false;
        // SAFETY: A plain allocation call; `size` is a non-zero page
        // multiple, `block` a valid place for the result.
        let raw = unsafe { helpers::vdmux_alloc_pages(size, wants_huge, &mut block) };
        let ptr = NonNull::new(raw.cast::<u8>()).ok_or(ENOMEM)?;
        for index in 0..pages {
            // SAFETY: `index` is a page of the live area just allocated.
            let pfn =
                unsafe { helpers::vdmux_page_pfn(ptr.as_ptr().add(index * PAGE_SIZE).cast()) };
            // Cannot fail: the capacity was reserved above.
            let _ = pfns.push_within_capacity(pfn as usize);
        }
        for frames in pfns.chunks_exact(HUGE_PAGES) {
            let first = frames[0];
            let contiguous = frames.iter().enumerate().all(|(i, &pfn)| pfn == first + i);
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
            block,
        })
    }

    /// The start of the buffer, for C copies into or out of it (which may
    /// race with user stores, as the module documentation says); valid for
    /// [`PageBuffer::len`] bytes while the buffer lives.
    pub(crate) fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
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

    /// Copies `len` bytes at `offset` to `iov`, with page faults disabled:
    /// stops at the first user page that is not mapped (see
    /// `vdmux_copy_to_iter_nofault`) and returns what it copied; a copy that
    /// may race with user stores (see the module documentation).
    pub(crate) fn copy_to_iter(
        &self,
        offset: usize,
        len: usize,
        iov: &mut IovIterDest<'_>,
    ) -> usize {
        if self.check(offset, len).is_err() {
            return 0;
        }
        // SAFETY: The source range is inside the allocation (checked above);
        // `iov` is a valid iterator; the copy is C's.
        unsafe {
            helpers::vdmux_copy_to_iter_nofault(
                self.ptr.as_ptr().add(offset).cast::<c_void>(),
                len,
                iov.as_raw(),
            )
        }
    }

    /// Copies `len` bytes from `iov` into the buffer at `offset`, with page
    /// faults disabled, as [`PageBuffer::copy_to_iter`]; returns what it
    /// copied.
    pub(crate) fn copy_from_iter(
        &self,
        offset: usize,
        len: usize,
        iov: &mut IovIterSource<'_>,
    ) -> usize {
        if self.check(offset, len).is_err() {
            return 0;
        }
        // SAFETY: The destination range is inside the allocation (checked
        // above); `iov` is a valid iterator; the copy is C's.
        unsafe {
            helpers::vdmux_copy_from_iter_nofault(
                self.ptr.as_ptr().add(offset).cast::<c_void>(),
                len,
                iov.as_raw(),
            )
        }
    }

    /// Copies `len` bytes at `offset` of `src` to the same offset of `self`,
    /// in chunks with rescheduling points between them.
    pub(crate) fn copy_from(&self, src: &PageBuffer, offset: usize, len: usize) -> Result {
        self.check(offset, len)?;
        src.check(offset, len)?;
        if core::ptr::eq(self, src) {
            return Ok(());
        }
        // SAFETY: Both ranges are inside their allocations (checked above),
        // and two distinct buffers never overlap.
        unsafe {
            helpers::vdmux_copy(
                self.ptr.as_ptr().add(offset).cast(),
                src.ptr.as_ptr().add(offset).cast::<c_void>(),
                len,
            )
        };
        Ok(())
    }

    /// Zero-fills `len` bytes at `offset`, in chunks with rescheduling points
    /// between them.
    pub(crate) fn zero(&self, offset: usize, len: usize) -> Result {
        self.check(offset, len)?;
        // SAFETY: The range is inside the allocation (checked above).
        unsafe { helpers::vdmux_zero(self.ptr.as_ptr().add(offset).cast(), len) };
        Ok(())
    }

    fn check(&self, offset: usize, len: usize) -> Result {
        match offset.checked_add(len) {
            Some(end) if end <= self.len() => Ok(()),
            _ => Err(EINVAL),
        }
    }
}

/// Whether `pages` more pages can be allocated without pushing the system
/// towards the OOM killer: an allocation that would take what is available
/// (less a reserve for everyone else) fails at once with `ENOMEM` instead of
/// squeezing everyone else first (meanwhile other tasks' allocations might
/// invoke the OOM killer).
pub(crate) fn fits_in_memory(pages: usize) -> bool {
    // SAFETY: A read of memory statistics, callable from any context.
    pages <= unsafe { helpers::vdmux_mem_available_pages() }
}

impl Drop for PageBuffer {
    fn drop(&mut self) {
        // SAFETY: By the type invariants `ptr` is a live allocation of `len`
        // bytes from `vdmux_alloc_pages`, freed only here. No page of it is mapped in user space any more:
        // the mappings hold no page references, and whoever inserted them
        // promised (see `VmFault::map_page`) to zap them before the buffer
        // goes: a shrink is refused while anything is mapped, and the device
        // outlives every mapping.
        unsafe { helpers::vdmux_free_pages(self.ptr.as_ptr().cast(), self.len, self.block) };
    }
}
