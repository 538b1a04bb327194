// SPDX-License-Identifier: GPL-2.0

//! The device memory: the foreground's bytes, in RAM or in a PCI BAR.
//!
//! With `device_memory=ram` the device memory is a [`Store`] like a backing
//! store. With `device_memory=pci` it is the BAR of the bound ivshmem
//! device ([`BarMemory`]): every byte of it exists (nothing to allocate),
//! faults map its frames, and copies use the I/O accessors. A SWITCH saves
//! the old foreground from it into a store and loads the new one into it;
//! `read` and `write` of the foreground go through a small bounce buffer,
//! since `copy_to_iter` cannot read `__iomem`.
//!
//! The BAR must be released when its device is unbound, while open files
//! may keep the multiplexer alive: [`DeviceMemory::detach`] takes it out,
//! once nothing can use it any more.

use crate::{
    bar::BarMemory,
    kernel_ext::{
        atomic_box::AtomicBox,
        iov,
        page_buffer::{
            Span,
            SpanCopy, //
        },
        pfnmap::PageFrames,
        wc_bar::{
            BarSpan,
            BarTransfer, //
        },
    },
    store::{
        Bytes,
        Store, //
    },
};
use kernel::{
    alloc::flags::__GFP_NOWARN,
    iov::{
        IovIterDest,
        IovIterSource, //
    },
    page::PAGE_SIZE,
    prelude::*,
};

/// Largest piece of a BAR that `read`/`write` copy through their bounce
/// buffer at a time.
const BAR_IO_CHUNK: usize = 16 * PAGE_SIZE;

/// Where the device memory is.
pub(crate) enum DeviceMemory {
    Ram(Store),
    /// A BAR, until [`DeviceMemory::detach`].
    Bar(DetachableBar),
}

/// A [`BarMemory`] that can be taken away.
pub(crate) struct DetachableBar {
    bar: AtomicBox<BarMemory>,
}

impl DetachableBar {
    pub(crate) fn new(bar: BarMemory) -> Result<Self> {
        Ok(Self {
            bar: AtomicBox::new(KBox::new(bar, GFP_KERNEL)?),
        })
    }

    fn get(&self) -> Option<&BarMemory> {
        self.bar.get()
    }
}

impl DeviceMemory {
    /// The most bytes it can hold, if it cannot grow past a size (a BAR).
    /// Like every other use of the BAR, only while it cannot be detached.
    pub(crate) fn capacity(&self) -> Option<usize> {
        match self {
            Self::Ram(_) => None,
            Self::Bar(bar) => Some(bar.get().map_or(0, BarMemory::len)),
        }
    }

    /// Allocates and plans the copy that makes the first `size` bytes those
    /// of `src` (a chunk `src` lacks reads as zeros), while neither can
    /// change: running it cannot fail.
    pub(crate) fn prepare_load<'a>(
        &'a self,
        src: &'a Store,
        size: usize,
    ) -> Result<PreparedCopy<'a>> {
        let mut copy = PreparedCopy::new();
        match self {
            Self::Ram(store) => {
                store.allocate_like(src, size)?;
                copy.between_stores(store, src, size)?;
            }
            Self::Bar(bar) => {
                let bar = Self::bar_holding(bar, size)?;
                src.for_each_chunk(size, |offset, chunk, len| {
                    let step = match chunk {
                        Some(chunk) => Step::Load(BarTransfer::new(
                            bar.span(offset, len)?,
                            chunk.span(0, len)?,
                        )?),
                        None => Step::ZeroBar(bar.span(offset, len)?),
                    };
                    copy.push(step)
                })?;
            }
        }
        Ok(copy)
    }

    /// Allocates and plans the copy of the first `size` bytes into `dst`,
    /// while neither can change: running it cannot fail.
    pub(crate) fn prepare_save<'a>(
        &'a self,
        dst: &'a Store,
        size: usize,
    ) -> Result<PreparedCopy<'a>> {
        let mut copy = PreparedCopy::new();
        match self {
            Self::Ram(store) => {
                dst.allocate_like(store, size)?;
                copy.between_stores(dst, store, size)?;
            }
            Self::Bar(bar) => {
                let bar = Self::bar_holding(bar, size)?;
                // Every byte of a BAR is there to be saved.
                dst.allocate_all(size)?;
                dst.for_each_chunk(size, |offset, chunk, len| {
                    let chunk = chunk.ok_or(ENOMEM)?;
                    copy.push(Step::Save(BarTransfer::new(
                        bar.span(offset, len)?,
                        chunk.span(0, len)?,
                    )?))
                })?;
            }
        }
        Ok(copy)
    }

    /// The BAR, if it is there and holds `size` bytes.
    fn bar_holding(bar: &DetachableBar, size: usize) -> Result<&BarMemory> {
        match bar.get() {
            Some(bar) if size <= bar.len() => Ok(bar),
            Some(_) => Err(EINVAL),
            None => Err(ENODEV),
        }
    }

    /// Makes the bytes past `size` zero (and frees what a store can).
    ///
    /// # Safety
    ///
    /// As for [`Store::truncate`].
    pub(crate) unsafe fn truncate(&self, size: usize) -> Result {
        match self {
            // SAFETY: The caller's guarantee.
            Self::Ram(store) => unsafe { store.truncate(size) },
            Self::Bar(bar) => match bar.get() {
                Some(bar) if size < bar.len() => bar.zero(size, bar.len() - size),
                _ => Ok(()),
            },
        }
    }

    /// Takes the BAR out, for its device's unbinding.
    ///
    /// # Safety
    ///
    /// Nothing may use the device memory any more: no fault, copy or
    /// mapping of it, nor a `BarSpan` or [`PreparedCopy`] made from it,
    /// now or later.
    pub(crate) unsafe fn detach(&self) -> Option<KBox<BarMemory>> {
        match self {
            Self::Ram(_) => None,
            // SAFETY: Nothing uses the device memory any more (the
            // caller's guarantee), so no reference to the BAR from `get` is
            // in use or will be.
            Self::Bar(bar) => unsafe { bar.bar.take() },
        }
    }
}

/// A copy between the device memory and a store, allocated and checked by
/// [`DeviceMemory::prepare_load`] or [`DeviceMemory::prepare_save`]: it
/// cannot fail, so a state change that prepared every copy it makes can
/// make them all, and one that could not prepare them has changed nothing.
pub(crate) struct PreparedCopy<'a> {
    steps: KVec<Step<'a>>,
}

/// One chunk's part of a [`PreparedCopy`].
enum Step<'a> {
    /// A chunk copied from one store's chunk to another's.
    Copy(SpanCopy<'a>),
    /// A store's chunk whose source chunk was never allocated: zeros.
    Zero(Span<'a>),
    /// The BAR's bytes copied into a store's chunk.
    Save(BarTransfer<'a>),
    /// A store's chunk copied into the BAR.
    Load(BarTransfer<'a>),
    /// BAR bytes whose store chunk was never allocated: zeros.
    ZeroBar(BarSpan<'a>),
}

impl<'a> PreparedCopy<'a> {
    fn new() -> Self {
        Self { steps: KVec::new() }
    }

    fn push(&mut self, step: Step<'a>) -> Result {
        self.steps.push(step, GFP_KERNEL)?;
        Ok(())
    }

    /// Plans the copy of the first `size` bytes of `src` over `dst`, which
    /// has every chunk `src` has ([`Store::allocate_like`]); `ENOMEM`
    /// otherwise.
    fn between_stores(&mut self, dst: &'a Store, src: &'a Store, size: usize) -> Result {
        dst.for_each_chunk_pair(src, size, |_, len, to, from| match (to, from) {
            (Some(to), Some(from)) => self.push(Step::Copy(SpanCopy::new(
                to.span(0, len)?,
                from.span(0, len)?,
            )?)),
            (Some(to), None) => self.push(Step::Zero(to.span(0, len)?)),
            (None, Some(_)) => Err(ENOMEM),
            (None, None) => Ok(()),
        })
    }

    /// Copies, chunk by chunk with rescheduling points.
    pub(crate) fn run(self) {
        for step in &self.steps {
            match step {
                Step::Copy(copy) => copy.run(),
                Step::Zero(span) => span.zero(),
                Step::Save(transfer) => transfer.save(),
                Step::Load(transfer) => transfer.load(),
                Step::ZeroBar(span) => span.zero(),
            }
        }
    }
}

// SAFETY: The frames are those of the store or of the BAR, which `detach`
// takes away only after every mapping was zapped; the BAR is I/O memory.
unsafe impl PageFrames for DeviceMemory {
    fn pfn(&self, pgoff: usize) -> Option<usize> {
        match self {
            Self::Ram(store) => store.pfn(pgoff),
            Self::Bar(bar) => bar.get()?.pfn(pgoff),
        }
    }

    fn huge_pfn(&self, pgoff: usize) -> Option<usize> {
        match self {
            Self::Ram(store) => store.huge_pfn(pgoff),
            Self::Bar(bar) => bar.get()?.huge_pfn(pgoff),
        }
    }

    fn is_io_memory(&self) -> bool {
        matches!(self, Self::Bar(_))
    }
}

impl Bytes for DeviceMemory {
    fn allocate_at(&self, offset: usize) -> Result {
        match self {
            Self::Ram(store) => store.allocate_at(offset),
            Self::Bar(bar) => match bar.get() {
                Some(bar) if offset < bar.len() => Ok(()),
                _ => Err(ENXIO),
            },
        }
    }

    fn copy_to_iter(&self, offset: usize, len: usize, iov: &mut IovIterDest<'_>) -> Result<usize> {
        let bar = match self {
            Self::Ram(store) => return store.copy_to_iter(offset, len, iov),
            Self::Bar(bar) => bar.get().ok_or(ENODEV)?,
        };
        let mut bounce = bounce_buffer(len)?;
        let mut done = 0;
        while done < len {
            let n = (len - done).min(bounce.len());
            if bar.read(offset + done, &mut bounce[..n]).is_err() {
                break;
            }
            let copied = iov::copy_to_iter_nofault(&bounce[..n], iov);
            done += copied;
            if copied < n {
                break;
            }
        }
        Ok(done)
    }

    fn copy_from_iter(
        &self,
        offset: usize,
        len: usize,
        iov: &mut IovIterSource<'_>,
    ) -> Result<usize> {
        let bar = match self {
            Self::Ram(store) => return store.copy_from_iter(offset, len, iov),
            Self::Bar(bar) => bar.get().ok_or(ENODEV)?,
        };
        let mut bounce = bounce_buffer(len)?;
        let mut done = 0;
        while done < len {
            let n = (len - done).min(bounce.len());
            let copied = iov::copy_from_iter_nofault(&mut bounce[..n], iov);
            bar.write(offset + done, &bounce[..copied])?;
            done += copied;
            if copied < n {
                break;
            }
        }
        Ok(done)
    }

    fn huge_chunks(&self, size: usize) -> usize {
        match self {
            Self::Ram(store) => store.huge_chunks(size),
            Self::Bar(bar) => bar.get().map_or(0, |bar| bar.huge_blocks(size)),
        }
    }
}

/// A bounce buffer for a copy of `len` bytes between a BAR and a user
/// buffer: up to [`BAR_IO_CHUNK`] bytes, or one page when memory is too
/// fragmented for that (no warning: user space asked, and gets ENOMEM).
fn bounce_buffer(len: usize) -> Result<KVec<u8>> {
    let quiet = GFP_KERNEL | __GFP_NOWARN;
    KVec::from_elem(0u8, len.min(BAR_IO_CHUNK), quiet)
        .or_else(|_| KVec::from_elem(0u8, len.min(PAGE_SIZE), quiet))
        .map_err(|_| ENOMEM)
}
