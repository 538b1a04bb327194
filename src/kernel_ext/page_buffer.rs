// SPDX-License-Identifier: GPL-2.0

//! [`PageBuffer`]: zero-filled pages of RAM, mapped into the kernel's
//! vmalloc space, whose page frames user space may map.
//!
//! User space may store into those pages at any time, from any CPU, and
//! nothing the kernel does can stop it while a mapping is live. So the
//! buffer never hands out Rust references to its bytes: every access is a
//! copy done by C's `memcpy`, `memset` or the I/O vector copies, the same
//! kind of access as a `copy_to_user` from memory another thread writes. A
//! copy that races with a user store may see that store or not, byte by
//! byte; it never sees anything but bytes that were stored there. Which of
//! two writers of the same bytes wins is for the owner's locks to decide,
//! not a question of memory safety; so the kernel's writes take `&self`.
//!
//! A buffer of exactly one PMD block (2 MiB with 4 KiB pages) is first
//! tried as one physically contiguous, naturally aligned block of pages, so
//! that one PMD entry can map it; where the page allocator has none at hand
//! (it tries with light compaction only, `__GFP_NORETRY`: a fragmented
//! machine gives up at once rather than stall the caller), the buffer is a
//! `vmalloc` area of single pages. Both are mapped for the kernel with
//! page-sized entries (`vmap`), so that the kernel's copies cost the same
//! whichever it got. The buffer records the frame of every page when it is
//! allocated (the pages never move), so that a fault finds its page without
//! walking page tables.
//!
//! Allocations are zeroed, charged to the caller's memory cgroup, give no
//! warning in the log on failure and never invoke the OOM killer: their
//! size comes from user space, which gets `ENOMEM` or `SIGBUS`.
//!
//! Belongs upstream in `rust/kernel/page.rs` or `rust/kernel/alloc/`: the
//! kernel crate has `Page` (one page, not mapped contiguously) and the
//! `Vmalloc` allocator (whose memory Rust references reach, and whose page
//! frames it does not give), but no buffer of pages that user space may map
//! while the kernel copies, and no higher-order allocation.

use super::{
    chunked_copy, iov,
    vma_geometry::{
        HUGE_MAPPINGS,
        HUGE_PAGES, //
    },
};
use crate::helpers;
use core::{
    ffi::c_void,
    ptr::NonNull, //
};
use kernel::{
    alloc::KVVec,
    bindings,
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
/// `ptr` is the start of a live vmalloc-space mapping of `len` bytes, a
/// non-zero multiple of `PAGE_SIZE`, freed only on drop: of one block of
/// pages of order `get_order(len)` mapped with `vmap` if `block`, else of a
/// `__vmalloc` area. `pfns[i]` is the page frame of its page `i`, for every
/// page. `huge[j]` is true only if the [`HUGE_PAGES`] pages of block `j` are
/// physically contiguous and the first one's frame is aligned to
/// [`HUGE_PAGES`].
pub(crate) struct PageBuffer {
    ptr: NonNull<u8>,
    len: usize,
    pfns: KVVec<usize>,
    huge: KVec<bool>,
    block: bool,
}

// SAFETY: The buffer is plain memory owned by this value; see `Sync`.
unsafe impl Send for PageBuffer {}

// SAFETY: Every access to the bytes is a C copy through a raw pointer, which
// may race with other copies and with user stores (see the module
// documentation); no Rust reference to them is ever made.
unsafe impl Sync for PageBuffer {}

/// The order of the smallest block of pages that holds `size` bytes
/// (`get_order`).
fn order_of(size: usize) -> u32 {
    size.div_ceil(PAGE_SIZE)
        .next_power_of_two()
        .trailing_zeros()
}

/// One naturally aligned block of `size` bytes of pages (a power-of-two
/// number of them), zeroed and mapped with `vmap`; `None` when there is no
/// such block at hand or it cannot be mapped.
fn alloc_block(size: usize) -> Option<NonNull<u8>> {
    let pages = size / PAGE_SIZE;
    let order = order_of(size);
    // Before the block, so that its failure frees nothing.
    let mut array = KVVec::with_capacity(pages, GFP_KERNEL | __GFP_NOWARN).ok()?;
    // SAFETY: A plain allocation call.
    let first = unsafe { helpers::vdmux_alloc_block(order) };
    if first.is_null() {
        return None;
    }
    for index in 0..pages {
        // The pages of one block are consecutive `struct page`s, as C's
        // `page + i` takes them. Cannot fail: the capacity is reserved.
        let _ = array.push_within_capacity(first.wrapping_add(index));
    }
    // SAFETY: `array` holds `pages` pages of the block just allocated.
    let addr = unsafe { helpers::vdmux_vmap(array.as_mut_ptr(), pages as u32) };
    match NonNull::new(addr.cast::<u8>()) {
        Some(addr) => Some(addr),
        None => {
            // SAFETY: The block of `order` just allocated, mapped nowhere.
            unsafe { bindings::__free_pages(first, order) };
            None
        }
    }
}

impl PageBuffer {
    /// Allocates `size` bytes (a non-zero multiple of `PAGE_SIZE`), zeroed,
    /// charged to the caller's memory cgroup; `ENOMEM`, without a warning,
    /// when there is not enough memory (see [`fits_in_memory`]).
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
        // A block is tried only for exactly one PMD's worth.
        let block = if HUGE_MAPPINGS && pages == HUGE_PAGES {
            alloc_block(size)
        } else {
            None
        };
        let ptr = match block {
            Some(ptr) => ptr,
            None => {
                // SAFETY: A plain allocation call; `size` is not zero.
                let raw = unsafe { helpers::vdmux_vmalloc(size) };
                NonNull::new(raw.cast::<u8>()).ok_or(ENOMEM)?
            }
        };
        for index in 0..pages {
            // SAFETY: `index` is a page of the vmalloc-space area just made.
            let pfn = unsafe {
                bindings::vmalloc_to_pfn(ptr.as_ptr().add(index * PAGE_SIZE).cast::<c_void>())
            };
            // Cannot fail: the capacity was reserved above.
            let _ = pfns.push_within_capacity(pfn as usize);
        }
        for frames in pfns.chunks_exact(HUGE_PAGES) {
            let first = frames[0];
            let contiguous = frames.iter().enumerate().all(|(i, &pfn)| pfn == first + i);
            let _ = huge.push_within_capacity(contiguous && first % HUGE_PAGES == 0);
        }
        // INVARIANT: `ptr` maps `size` bytes, from a block iff `block`;
        // `pfns` holds the frame of every page and `huge` marks exactly the
        // contiguous, aligned blocks.
        Ok(Self {
            ptr,
            len: size,
            pfns,
            huge,
            block: block.is_some(),
        })
    }

    /// The start of the buffer, for C copies into or out of it by the
    /// other abstractions here (which may race with user stores, as the
    /// module documentation says); valid for its length
    /// while the buffer lives.
    pub(super) fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// The page frame number of the page at page index `index`, if it is
    /// inside the buffer.
    pub(crate) fn pfn(&self, index: usize) -> Option<usize> {
        self.pfns.get(index).copied()
    }

    /// The first page frame of the PMD block starting at page `index`, if
    /// `index` starts a block of the buffer whose pages are physically
    /// contiguous and aligned, so that one PMD entry can map it.
    pub(crate) fn huge_pfn(&self, index: usize) -> Option<usize> {
        if index % HUGE_PAGES != 0 || !*self.huge.get(index / HUGE_PAGES)? {
            return None;
        }
        self.pfn(index)
    }

    /// How many PMD blocks of the buffer can be mapped with PMD entries.
    pub(crate) fn huge_blocks(&self) -> usize {
        self.huge.iter().filter(|&&h| h).count()
    }

    /// Copies `len` bytes at `offset` to `iov`, with page faults disabled
    /// (see [`iov`]); returns what it copied (nothing for a range outside
    /// the buffer).
    pub(crate) fn copy_to_iter(
        &self,
        offset: usize,
        len: usize,
        iov: &mut IovIterDest<'_>,
    ) -> usize {
        if self.check(offset, len).is_err() {
            return 0;
        }
        // SAFETY: The source range is inside the allocation (checked above)
        // and is only ever accessed through C copies.
        unsafe { iov::copy_to_iter_raw(self.as_ptr().add(offset), len, iov) }
    }

    /// Copies `len` bytes from `iov` into the buffer at `offset`, with page
    /// faults disabled, as [`PageBuffer::copy_to_iter`].
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
        // above), and no Rust reference to it exists.
        unsafe { iov::copy_from_iter_raw(self.as_ptr().add(offset), len, iov) }
    }

    /// Copies `data` into the buffer at `offset`; `EINVAL` (and nothing
    /// copied) outside the buffer.
    pub(crate) fn copy_from_slice(&self, offset: usize, data: &[u8]) -> Result {
        self.check(offset, data.len())?;
        // SAFETY: The destination range is inside the allocation (checked
        // above); `data` is a distinct kernel buffer.
        unsafe {
            bindings::memcpy(
                self.as_ptr().add(offset).cast(),
                data.as_ptr().cast(),
                data.len(),
            )
        };
        Ok(())
    }

    /// Fills `out` from the buffer at `offset`, as
    /// [`PageBuffer::copy_from_slice`].
    pub(crate) fn copy_to_slice(&self, offset: usize, out: &mut [u8]) -> Result {
        self.check(offset, out.len())?;
        // SAFETY: The source range is inside the allocation (checked above);
        // `out` is a distinct kernel buffer, borrowed exclusively.
        unsafe {
            bindings::memcpy(
                out.as_mut_ptr().cast(),
                self.as_ptr().add(offset).cast(),
                out.len(),
            )
        };
        Ok(())
    }

    /// Zero-fills `len` bytes at `offset`, in pieces with rescheduling
    /// points between them.
    pub(crate) fn zero(&self, offset: usize, len: usize) -> Result {
        self.check(offset, len)?;
        let dst = self.as_ptr();
        chunked_copy::in_pieces(len, |at, n| {
            // SAFETY: The range is inside the allocation (checked above, and
            // `at + n <= len`).
            unsafe { bindings::memset(dst.add(offset + at).cast(), 0, n) };
        });
        Ok(())
    }

    /// `EINVAL` unless `len` bytes at `offset` lie inside the buffer.
    pub(super) fn check(&self, offset: usize, len: usize) -> Result {
        match offset.checked_add(len) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(EINVAL),
        }
    }
}

/// `len` bytes at `offset` of a [`PageBuffer`], checked once to lie inside
/// it, so that a copy through it cannot fail: for a sequence of copies
/// that must not stop half-way, whose ranges are all checked first.
///
/// # Invariants
///
/// `offset + len <= buffer.len`.
#[derive(Clone, Copy)]
pub(crate) struct Span<'a> {
    buffer: &'a PageBuffer,
    offset: usize,
    len: usize,
}

impl PageBuffer {
    /// `len` bytes at `offset`; `EINVAL` outside the buffer.
    pub(crate) fn span(&self, offset: usize, len: usize) -> Result<Span<'_>> {
        self.check(offset, len)?;
        // INVARIANT: Checked above.
        Ok(Span {
            buffer: self,
            offset,
            len,
        })
    }
}

impl Span<'_> {
    /// Its length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Its first byte, valid for `len` bytes (type invariants), only ever
    /// accessed through C copies.
    pub(super) fn as_ptr(&self) -> *mut u8 {
        // SAFETY: `offset` is inside the allocation (type invariants).
        unsafe { self.buffer.as_ptr().add(self.offset) }
    }

    /// Zero-fills it, in pieces with rescheduling points between them.
    pub(crate) fn zero(&self) {
        let dst = self.as_ptr();
        chunked_copy::in_pieces(self.len, |at, n| {
            // SAFETY: The piece is inside the span (`at + n <= len`), which
            // lies inside its buffer (type invariants).
            unsafe { bindings::memset(dst.add(at).cast(), 0, n) };
        });
    }
}

/// A copy between two [`Span`]s of the same length, which cannot fail.
///
/// # Invariants
///
/// `dst.len == src.len`, and the spans do not overlap unless they are the
/// same span.
pub(crate) struct SpanCopy<'a> {
    dst: Span<'a>,
    src: Span<'a>,
}

impl<'a> SpanCopy<'a> {
    /// The copy of `src` over `dst`; `EINVAL` if their lengths differ or
    /// they are different, overlapping parts of one buffer.
    pub(crate) fn new(dst: Span<'a>, src: Span<'a>) -> Result<Self> {
        let same_buffer = core::ptr::eq(dst.buffer, src.buffer);
        let apart = dst.offset + dst.len <= src.offset || src.offset + src.len <= dst.offset;
        if dst.len != src.len || (same_buffer && dst.offset != src.offset && !apart) {
            return Err(EINVAL);
        }
        // INVARIANT: Checked above.
        Ok(Self { dst, src })
    }

    /// Copies, in pieces with rescheduling points between them. A span
    /// copied onto itself is left as it is.
    pub(crate) fn run(&self) {
        let (dst, src) = (self.dst.as_ptr(), self.src.as_ptr());
        if core::ptr::eq(dst, src) {
            return;
        }
        chunked_copy::in_pieces(self.dst.len, |at, n| {
            // SAFETY: Both pieces are inside their spans (`at + n <= len`,
            // the same for both by the type invariants), which lie inside
            // their buffers and do not overlap: the only overlapping spans
            // allowed are the same span, excluded above.
            unsafe { bindings::memcpy(dst.add(at).cast(), src.add(at).cast::<c_void>(), n) };
        });
    }
}

/// Whether `pages` more pages can be allocated without pushing the system
/// towards the OOM killer: `si_mem_available()` less 1/32 of all memory, a
/// reserve left to everyone else (an estimate). An allocation that would
/// take more fails at once with `ENOMEM` instead of squeezing everyone else
/// first (meanwhile other tasks' allocations might invoke the OOM killer).
pub(crate) fn fits_in_memory(pages: usize) -> bool {
    // SAFETY: Reads of memory statistics, callable from any context.
    let (available, total) = unsafe {
        (
            bindings::si_mem_available(),
            helpers::vdmux_totalram_pages(),
        )
    };
    let reserve = (total / 32) as isize;
    let allowed = available.saturating_sub(reserve).max(0);
    pages <= allowed as usize
}

impl Drop for PageBuffer {
    fn drop(&mut self) {
        let addr = self.as_ptr().cast::<c_void>();
        // SAFETY: By the type invariants `ptr` maps `len` bytes, freed only
        // here, from a block of `get_order(len)` iff `block`. No page of it
        // is mapped in user space any more: the mappings hold no page
        // references, and whoever inserted them promised (see
        // `PageFrames`) to zap them before the buffer goes.
        unsafe {
            if self.block {
                let first = bindings::vmalloc_to_page(addr);
                helpers::vdmux_vunmap(addr);
                bindings::__free_pages(first, order_of(self.len));
            } else {
                helpers::vdmux_vfree(addr);
            }
        }
    }
}
