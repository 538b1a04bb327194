// SPDX-License-Identifier: GPL-2.0

//! Stores: where the bytes of a virtual device are, as chunks allocated on
//! demand.
//!
//! A [`Store`] (the device memory, or one virtual device's backing store)
//! covers the largest size the reserved buffer may reach,
//! `max_reserved_size`, as an array of slots, one per chunk. A chunk is
//! a [`PageBuffer`] allocated by the first access that needs its pages (a
//! fault, a `write`, a copy into it); a chunk that is not allocated reads as
//! zeros. So:
//!
//! - growing the reserved size allocates nothing and moves nothing: every
//!   mapping of the old size stays valid, and the new bytes are zero because
//!   every byte of an allocated chunk past the reserved size is zero (the
//!   invariant a shrink restores with [`Store::truncate`]);
//! - a store costs what its owner touched, not the whole size;
//! - a chunk is [`CHUNK_SIZE`] (or `max_reserved_size` when that is
//!   smaller). A chunk of one PMD block (2 MiB with 4 KiB pages) is one
//!   naturally aligned block of pages, mapped into the kernel with `vmap`,
//!   which one PMD entry can map; or, when no such block is free, a
//!   `__vmalloc` area of single pages (see [`PageBuffer`]), whatever
//!   happened to the other chunks. Where a PMD block is larger than
//!   [`CHUNK_CAP`] (32 MiB with 16 KiB pages, 512 MiB with 64 KiB pages),
//!   chunks are of the cap, and the store's pages are mapped with single
//!   page entries only.
//!
//! Chunks are installed with a compare-and-exchange, so that faults of one
//! virtual device, which run in parallel, may allocate them concurrently;
//! the loser frees its copy. A chunk is freed only by [`Store::truncate`],
//! whose callers guarantee that nobody uses it, and on drop (the device
//! outlives every mapping of its stores).

use crate::kernel_ext::{
    atomic_box::AtomicBox,
    iov,
    page_buffer::PageBuffer,
    pfnmap::PageFrames,
    vma_geometry::{
        HUGE_PAGES,
        PMD_SIZE, //
    },
};
use core::num::NonZeroUsize;
use kernel::{
    iov::{
        IovIterDest,
        IovIterSource, //
    },
    page::PAGE_SIZE,
    prelude::*,
};

/// Most bytes one copy to or from user memory moves at a time.
const USER_COPY_PIECE: usize = 16 * PAGE_SIZE;

/// The largest chunk: a store touched at one byte costs at most this, and
/// one allocation asks the page allocator for at most this much.
const CHUNK_CAP: usize = 2 << 20;

/// Bytes of one chunk when `max_reserved_size` is at least that big: one
/// PMD block, so that one PMD entry can map a chunk, where that is at most
/// [`CHUNK_CAP`]; else the cap, which no PMD entry maps.
pub(crate) const CHUNK_SIZE: usize = if PMD_SIZE <= CHUNK_CAP {
    PMD_SIZE
} else {
    CHUNK_CAP
};

/// The bytes of one chunk of a store of `max_size` bytes (a non-zero page
/// multiple), a non-zero page multiple too: [`CHUNK_SIZE`], or `max_size`
/// when that is smaller.
pub(crate) fn chunk_size(max_size: usize) -> usize {
    max_size.min(CHUNK_SIZE)
}

/// Up to `max_reserved_size` bytes, in chunks allocated on demand.
///
/// # Invariants
///
/// Every chunk in `chunks` is a [`PageBuffer`] of `chunk_size` bytes,
/// taken out only by [`Store::truncate`] or drop. `chunk_size` is a
/// non-zero page multiple.
pub(crate) struct Store {
    chunks: KVec<AtomicBox<PageBuffer>>,
    // Non-zero by type, so that divisions by it need no check (and no
    // panic path).
    chunk_size: NonZeroUsize,
}

impl Store {
    /// An empty store (all zeros) able to hold `max_size` bytes, a non-zero
    /// page multiple.
    pub(crate) fn new(max_size: usize) -> Result<Self> {
        if max_size == 0 || max_size % PAGE_SIZE != 0 {
            return Err(EINVAL);
        }
        let chunk_size = NonZeroUsize::new(chunk_size(max_size)).ok_or(EINVAL)?;
        let slots = div_ceil(max_size, chunk_size);
        let mut chunks = KVec::with_capacity(slots, GFP_KERNEL)?;
        for _ in 0..slots {
            chunks.push(AtomicBox::empty(), GFP_KERNEL)?;
        }
        // INVARIANT: Every slot is null; `chunk_size` is a non-zero page
        // multiple because `max_size` and `CHUNK_SIZE` are.
        Ok(Self { chunks, chunk_size })
    }

    fn size(&self) -> usize {
        self.chunk_size.get()
    }

    fn chunk_pages(&self) -> NonZeroUsize {
        // INVARIANT of `chunk_size`: a non-zero page multiple.
        NonZeroUsize::new(self.size() / PAGE_SIZE).unwrap_or(NonZeroUsize::MIN)
    }

    /// Chunk `index`, if allocated.
    fn chunk(&self, index: usize) -> Option<&PageBuffer> {
        self.chunks.get(index)?.get()
    }

    /// Chunk `index`, allocated (zero-filled) if needed; `ENOMEM` when it
    /// cannot be, `EINVAL` past the store.
    fn chunk_or_alloc(&self, index: usize) -> Result<&PageBuffer> {
        if let Some(chunk) = self.chunk(index) {
            return Ok(chunk);
        }
        let slot = self.chunks.get(index).ok_or(EINVAL)?;
        let new = KBox::new(PageBuffer::new_zeroed(self.size())?, GFP_KERNEL_ACCOUNT)?;
        // INVARIANT: `new` is a chunk of `chunk_size` bytes; if another
        // thread put one first, ours is freed and theirs used.
        Ok(slot.get_or_put(new))
    }

    /// Allocates every chunk of the first `size` bytes: what a copy of a
    /// device memory that holds all its bytes (a PCI BAR) into `self` needs.
    pub(crate) fn allocate_all(&self, size: usize) -> Result {
        for index in 0..self.chunks_in(size) {
            self.chunk_or_alloc(index)?;
        }
        Ok(())
    }

    /// Calls `f` for each chunk of the first `size` bytes with its offset,
    /// the chunk if it is allocated, and how many of its bytes lie in the
    /// first `size`.
    pub(crate) fn for_each_chunk<'a>(
        &'a self,
        size: usize,
        mut f: impl FnMut(usize, Option<&'a PageBuffer>, usize) -> Result,
    ) -> Result {
        for index in 0..self.chunks_in(size) {
            f(
                index * self.size(),
                self.chunk(index),
                self.used_len(index, size),
            )?;
        }
        Ok(())
    }

    /// Allocates every chunk of the first `size` bytes that `other` has:
    /// what a copy of those bytes from `other` into `self` needs, so that
    /// the copy itself cannot fail.
    pub(crate) fn allocate_like(&self, other: &Store, size: usize) -> Result {
        for index in 0..self.chunks_in(size) {
            if other.chunk(index).is_some() {
                self.chunk_or_alloc(index)?;
            }
        }
        Ok(())
    }

    /// How many chunks hold the first `size` bytes.
    fn chunks_in(&self, size: usize) -> usize {
        div_ceil(size, self.chunk_size).min(self.chunks.len())
    }

    /// The bytes of chunk `index` that lie in the first `size` bytes.
    fn used_len(&self, index: usize, size: usize) -> usize {
        size.saturating_sub(index.saturating_mul(self.size()))
            .min(self.size())
    }

    /// Calls `f` for each chunk of the first `size` bytes with its offset,
    /// how many of its bytes lie in the first `size`, and the chunks of
    /// `self` and of `other` at that place, where allocated. `EINVAL` if
    /// the two stores' chunks differ in size.
    pub(crate) fn for_each_chunk_pair<'a>(
        &'a self,
        other: &'a Store,
        size: usize,
        mut f: impl FnMut(usize, usize, Option<&'a PageBuffer>, Option<&'a PageBuffer>) -> Result,
    ) -> Result {
        if self.chunk_size != other.chunk_size {
            return Err(EINVAL);
        }
        for index in 0..self.chunks_in(size) {
            f(
                index * self.size(),
                self.used_len(index, size),
                self.chunk(index),
                other.chunk(index),
            )?;
        }
        Ok(())
    }
}

/// Where the bytes of a virtual device may be: a [`Store`], or the device
/// memory (which may be a PCI BAR).
pub(crate) trait Bytes: PageFrames + Sync {
    /// Makes the page holding byte `offset` exist, so that it can be mapped.
    fn allocate_at(&self, offset: usize) -> Result;

    /// Copies `len` bytes at `offset` to `iov` with page faults disabled;
    /// returns what it copied, short at the first user page that is not
    /// mapped; `ENOMEM` when nothing could be copied for want of memory.
    fn copy_to_iter(&self, offset: usize, len: usize, iov: &mut IovIterDest<'_>) -> Result<usize>;

    /// Copies `len` bytes from `iov` to `offset`, with page faults disabled;
    /// returns what it copied, short at the first user page that is not
    /// mapped; `ENOMEM` when nothing could be copied for want of memory.
    fn copy_from_iter(
        &self,
        offset: usize,
        len: usize,
        iov: &mut IovIterSource<'_>,
    ) -> Result<usize>;

    /// How many PMD blocks of the first `size` bytes one PMD entry can map
    /// now.
    fn huge_chunks(&self, size: usize) -> usize;
}

impl Bytes for Store {
    fn allocate_at(&self, offset: usize) -> Result {
        self.chunk_or_alloc(offset / self.chunk_size).map(|_| ())
    }

    /// Unallocated chunks read as zeros.
    fn copy_to_iter(
        &self,
        mut offset: usize,
        len: usize,
        iov: &mut IovIterDest<'_>,
    ) -> Result<usize> {
        let mut done = 0;
        while done < len {
            let index = offset / self.chunk_size;
            let within = offset % self.chunk_size;
            let n = (len - done).min(self.size() - within).min(USER_COPY_PIECE);
            let copied = match self.chunk(index) {
                Some(chunk) => chunk.copy_to_iter(within, n, iov),
                None => iov::zero_nofault(n, iov),
            };
            done += copied;
            offset += copied;
            if copied < n {
                break;
            }
        }
        Ok(done)
    }

    /// Chunks are allocated as needed.
    fn copy_from_iter(
        &self,
        mut offset: usize,
        len: usize,
        iov: &mut IovIterSource<'_>,
    ) -> Result<usize> {
        let mut done = 0;
        while done < len {
            let index = offset / self.chunk_size;
            let within = offset % self.chunk_size;
            let n = (len - done).min(self.size() - within).min(USER_COPY_PIECE);
            let chunk = match self.chunk_or_alloc(index) {
                Ok(chunk) => chunk,
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            };
            let copied = chunk.copy_from_iter(within, n, iov);
            done += copied;
            offset += copied;
            if copied < n {
                break;
            }
        }
        Ok(done)
    }

    /// Chunks not allocated yet do not count.
    fn huge_chunks(&self, size: usize) -> usize {
        (0..self.chunks_in(size))
            .filter_map(|index| self.chunk(index))
            .map(PageBuffer::huge_blocks)
            .sum()
    }
}

impl Store {
    /// Makes the store `size` bytes long: frees the chunks wholly past
    /// `size` and zero-fills the rest of the last one, which restores the
    /// invariant that an allocated chunk is zero past the reserved size.
    ///
    /// # Safety
    ///
    /// Nothing may use the store concurrently (no fault, copy or reference
    /// from [`Store::chunk`], nor a `Span` or a prepared copy made from one,
    /// alive now or used later), and no user mapping of its pages past
    /// `size` may exist.
    pub(crate) unsafe fn truncate(&self, size: usize) -> Result {
        let keep = div_ceil(size, self.chunk_size);
        for slot in self.chunks.iter().skip(keep) {
            // SAFETY: The caller guarantees that nobody uses the store, so
            // no reference to the chunk from `chunk` is in use, and no user
            // mapping of its pages exists (they are past `size`).
            drop(unsafe { slot.take() });
        }
        if size % self.chunk_size != 0 {
            if let Some(chunk) = self.chunk(size / self.chunk_size) {
                let within = size % self.chunk_size;
                chunk.zero(within, self.size() - within)?;
            }
        }
        Ok(())
    }
}

/// `n / d` rounded up, for `n` far below `usize::MAX` (sizes of at most
/// 1 GiB).
fn div_ceil(n: usize, d: NonZeroUsize) -> usize {
    n / d + usize::from(n % d != 0)
}

// SAFETY: The frames are those of the store's chunks, RAM the module
// allocated, freed only by `truncate` (whose callers guarantee no mapping of
// them) or on drop.
unsafe impl PageFrames for Store {
    fn pfn(&self, pgoff: usize) -> Option<usize> {
        self.chunk(pgoff / self.chunk_pages())?
            .pfn(pgoff % self.chunk_pages())
    }

    fn huge_pfn(&self, pgoff: usize) -> Option<usize> {
        if self.chunk_pages().get() != HUGE_PAGES {
            return None;
        }
        self.chunk(pgoff / HUGE_PAGES)?.huge_pfn(pgoff % HUGE_PAGES)
    }
}
