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
        pfnmap::PageFrames, //
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

    /// Allocates what [`DeviceMemory::load_from`] of the first `size` bytes
    /// of `src` needs.
    pub(crate) fn allocate_for_load(&self, src: &Store, size: usize) -> Result {
        match self {
            Self::Ram(store) => store.allocate_like(src, size),
            Self::Bar(bar) => Self::bar_holds(bar, size),
        }
    }

    /// Whether the BAR is there and holds `size` bytes, which is all its
    /// copies need to succeed.
    fn bar_holds(bar: &DetachableBar, size: usize) -> Result {
        match bar.get() {
            Some(bar) if size <= bar.len() => Ok(()),
            Some(_) => Err(EINVAL),
            None => Err(ENODEV),
        }
    }

    /// Allocates what [`DeviceMemory::save_into`] of the first `size` bytes
    /// into `dst` needs.
    pub(crate) fn allocate_for_save(&self, dst: &Store, size: usize) -> Result {
        match self {
            Self::Ram(store) => dst.allocate_like(store, size),
            // Every byte of a BAR is there to be saved.
            Self::Bar(bar) => {
                Self::bar_holds(bar, size)?;
                dst.allocate_all(size)
            }
        }
    }

    /// Copies the first `size` bytes into `dst`, which
    /// [`DeviceMemory::allocate_for_save`] prepared while neither could
    /// change: then it cannot fail.
    pub(crate) fn save_into(&self, dst: &Store, size: usize) -> Result {
        match self {
            Self::Ram(store) => dst.copy_from(store, size),
            Self::Bar(bar) => {
                let bar = bar.get().ok_or(ENODEV)?;
                dst.for_each_chunk(size, |offset, chunk, len| {
                    bar.save(offset, chunk.ok_or(ENOMEM)?, len)
                })
            }
        }
    }

    /// Makes the first `size` bytes those of `src`, which
    /// [`DeviceMemory::allocate_for_load`] prepared while neither could
    /// change: then it cannot fail.
    pub(crate) fn load_from(&self, src: &Store, size: usize) -> Result {
        match self {
            Self::Ram(store) => store.copy_from(src, size),
            Self::Bar(bar) => {
                let bar = bar.get().ok_or(ENODEV)?;
                src.for_each_chunk(size, |offset, chunk, len| match chunk {
                    Some(chunk) => bar.load(offset, chunk, len),
                    None => bar.zero(offset, len),
                })
            }
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
    /// mapping of it, now or later.
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
