// SPDX-License-Identifier: GPL-2.0

//! A mapping of a virtual device, unmapped on drop.

use crate::{Error, Result};
use nix::sys::mman::{MapFlags, ProtFlags, mmap, munmap};
use std::{
    io,
    num::NonZeroUsize,
    os::fd::AsFd,
    ptr::NonNull,
    slice,
    sync::atomic::{AtomicU8, AtomicU64, Ordering},
};

/// `len` bytes of a virtual device mapped `MAP_SHARED` into the process
/// ([`Vdev::map`](crate::Vdev::map)); dropping it unmaps them.
///
/// The bytes are shared: with every other mapping of the virtual device,
/// with `read(2)` and `write(2)` of its node, and across state changes
/// (a switch moves them between the device memory and a backing store,
/// and the mapping follows them). [`read`](Self::read) and
/// [`write`](Self::write) copy them with relaxed atomic accesses, which
/// are sound however other processes use the bytes meanwhile;
/// [`as_slice`](Self::as_slice) and [`as_mut_slice`](Self::as_mut_slice)
/// borrow them as plain Rust memory, which is sound only while nothing else
/// writes them.
///
/// # SIGBUS
///
/// An access through the mapping raises `SIGBUS`, whose default action
/// ends the process, when:
/// - the virtual device is removed ([`Mux::eject`](crate::Mux::eject)),
///   until it is inserted again;
/// - it loads from a page of an autogrow mapping past the reserved size
///   (a store there grows the device instead);
/// - the backing store of a background virtual device, or the growth of an
///   autogrow mapping, cannot be allocated.
///
/// This crate installs no signal handler: a program that must survive
/// these cases waits for events ([`Mux::events`](crate::Mux::events)) and
/// stops accessing a removed device, or handles `SIGBUS` itself.
#[derive(Debug)]
pub struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: The mapping is plain memory of the process, not tied to a
// thread; every safe access to it is atomic.
unsafe impl Send for Mapping {}
// SAFETY: As above: `&Mapping` allows only atomic accesses.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// `mmap(2)` of `len` bytes of `fd` from byte `offset`, `MAP_SHARED`.
    pub(crate) fn new(fd: &impl AsFd, offset: u64, len: usize, writable: bool) -> io::Result<Self> {
        let length = NonZeroUsize::new(len).ok_or(io::ErrorKind::InvalidInput)?;
        let offset = i64::try_from(offset).map_err(|_| io::ErrorKind::InvalidInput)?;
        let mut prot = ProtFlags::PROT_READ;
        if writable {
            prot |= ProtFlags::PROT_WRITE;
        }
        // SAFETY: A new shared mapping at an address the kernel picks: it
        // replaces no memory of the process.
        let ptr = unsafe { mmap(None, length, prot, MapFlags::MAP_SHARED, fd, offset) }?;
        // INVARIANT: `ptr` is a mapping of `len` bytes that this value
        // alone unmaps.
        Ok(Self {
            ptr: ptr.cast(),
            len,
        })
    }

    /// Its size in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always `false`: an empty mapping cannot be made.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Its first byte. Accesses through the pointer share the rules of
    /// [`as_slice`](Self::as_slice) and of `SIGBUS` above.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Fails unless `[offset, offset + len)` is inside the mapping.
    pub(crate) fn check_range(&self, offset: usize, len: usize) -> Result<()> {
        match offset.checked_add(len) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(Error::OutOfRange {
                offset,
                len,
                size: self.len,
            }),
        }
    }

    /// Copies bytes from `offset` on into `buf`.
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> Result<()> {
        self.check_range(offset, buf.len())?;
        let mut i = 0;
        while i < buf.len() {
            let addr = self.ptr.as_ptr().wrapping_add(offset + i);
            if addr as usize % 8 == 0 && buf.len() - i >= 8 {
                // SAFETY: `addr` is 8-byte aligned, and its 8 bytes are in
                // the mapping (checked above), which lives as long as
                // `self`; other accesses to it are atomic, or another
                // process's.
                let word = unsafe { AtomicU64::from_ptr(addr.cast()) }.load(Ordering::Relaxed);
                buf[i..i + 8].copy_from_slice(&word.to_ne_bytes());
                i += 8;
            } else {
                // SAFETY: As above, for one byte.
                buf[i] = unsafe { AtomicU8::from_ptr(addr) }.load(Ordering::Relaxed);
                i += 1;
            }
        }
        Ok(())
    }

    /// Copies `buf` to the bytes from `offset` on. A read-only mapping
    /// raises `SIGSEGV`: map a node open for reading and writing.
    pub fn write(&self, offset: usize, buf: &[u8]) -> Result<()> {
        self.check_range(offset, buf.len())?;
        let mut i = 0;
        while i < buf.len() {
            let addr = self.ptr.as_ptr().wrapping_add(offset + i);
            if addr as usize % 8 == 0 && buf.len() - i >= 8 {
                let mut word = [0; 8];
                word.copy_from_slice(&buf[i..i + 8]);
                // SAFETY: As in `read`.
                unsafe { AtomicU64::from_ptr(addr.cast()) }
                    .store(u64::from_ne_bytes(word), Ordering::Relaxed);
                i += 8;
            } else {
                // SAFETY: As in `read`, for one byte.
                unsafe { AtomicU8::from_ptr(addr) }.store(buf[i], Ordering::Relaxed);
                i += 1;
            }
        }
        Ok(())
    }

    /// The bytes as a slice.
    ///
    /// # Safety
    ///
    /// While the slice lives, nothing may write the bytes: no other
    /// mapping of the virtual device (in this process or another), no
    /// `write(2)` of it and no [`write`](Self::write).
    pub unsafe fn as_slice(&self) -> &[u8] {
        // SAFETY: The mapping is `len` readable bytes for as long as
        // `self` lives, and the caller promises that nothing writes them.
        unsafe { slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The bytes as a mutable slice.
    ///
    /// # Safety
    ///
    /// The mapping must be writable, and while the slice lives nothing else
    /// may read or write the bytes: no other mapping of the virtual device
    /// (in this process or another), no `read(2)` or `write(2)` of it.
    pub unsafe fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: The mapping is `len` bytes for as long as `self` lives,
        // `&mut self` excludes this process's other uses of it, and the
        // caller promises the rest.
        unsafe { slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: The mapping is this value's (the type invariant), and no
        // borrow of it outlives the value.
        // munmap of a mapping of ours cannot fail.
        let _ = unsafe { munmap(self.ptr.cast(), self.len) };
    }
}
