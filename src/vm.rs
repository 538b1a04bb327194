// SPDX-License-Identifier: GPL-2.0

//! Fault-driven mappings and their invalidation.
//!
//! The kernel crate can create a VMA ([`VmaNew`]) but has no abstraction for
//! `vm_operations_struct`, for fault handlers, or for zapping every mapping
//! of an object. This file is that abstraction, and all of its `unsafe`:
//!
//! - [`VmaHandler`]: what a driver implements to serve faults on its VMAs and
//!   to learn when VMAs are duplicated (fork, split, mremap) or go away.
//! - [`install`]: attaches a handler to a new VMA, which it makes a
//!   `VM_PFNMAP`: page frames without page references, 4 KiB or 2 MiB at a
//!   time, outside the system's transparent huge page policy (as vfio does).
//! - [`VmFault`]: one page fault; the handler answers by inserting a page
//!   or a 2 MiB block of pages (as a special PTE or PMD, which no
//!   `get_user_pages` pin can hold on to), by refusing with
//!   [`FaultError::SigBus`], or, for a huge fault, by asking the kernel to
//!   fall back to 4 KiB pages with [`FaultError::Fallback`].
//! - [`SharedMapping`]: an `address_space` that every open file of one
//!   object points at, so that one [`SharedMapping::unmap_all`] reaches every
//!   mapping of that object, in every process, through every device node
//!   (a second `mknod` has an inode of its own, and so would have an
//!   `address_space` of its own). Its inode comes from [`PseudoFs`], a
//!   private internal mount, as DRM and vfio do.

use core::{
    ffi::c_void,
    marker::PhantomData, //
};
use kernel::{
    bindings,
    error::from_err_ptr,
    fs::File,
    mm::virt::{
        flags,
        VmaNew,
        VmaRef, //
    },
    page::PAGE_SIZE,
    prelude::*,
    sync::Arc,
    types::{
        ForeignOwnable,
        Opaque, //
    },
};

/// Serves the faults of the VMAs it is installed on.
pub(crate) trait VmaHandler: Send + Sync + Sized {
    /// A VMA carrying this handler was duplicated (fork, split, mremap).
    fn vma_opened(&self);

    /// A VMA carrying this handler is going away.
    fn vma_closed(&self);

    /// Serves one page fault: inserts a page with [`VmFault::insert_pfn`]
    /// and returns what it returned, or refuses.
    fn fault(&self, fault: &VmFault) -> Result<FaultDone, FaultError>;

    /// Serves a fault that may be answered with one PMD entry: inserts a
    /// 2 MiB block with [`VmFault::insert_huge_pfn`], or returns
    /// [`FaultError::Fallback`] to have the kernel retry with
    /// [`VmaHandler::fault`] on 4 KiB pages.
    fn huge_fault(&self, _fault: &VmFault) -> Result<FaultDone, FaultError> {
        Err(FaultError::Fallback)
    }
}

/// Pages in the block one PMD entry maps (2 MiB on x86-64).
pub(crate) const HUGE_PAGES: usize = 1 << bindings::HPAGE_PMD_ORDER;

/// The pages a VMA maps, in page units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VmaPages {
    /// The object's page offset the VMA starts at (`vm_pgoff`).
    pub(crate) pgoff: usize,
    /// How many pages the VMA spans.
    pub(crate) len: usize,
    /// The VMA's start address, in pages (`vm_start >> PAGE_SHIFT`).
    pub(crate) start: usize,
}

/// Why a fault is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FaultError {
    /// The access is not allowed (past the object, or revoked): SIGBUS.
    SigBus,
    /// A huge fault cannot be served with a PMD entry here; the kernel
    /// retries the fault on 4 KiB pages.
    Fallback,
}

/// Proof that a page was inserted for a fault.
pub(crate) struct FaultDone(bindings::vm_fault_t);

/// One page fault on a VMA carrying a [`VmaHandler`].
///
/// # Invariants
///
/// `vmf` points to the `struct vm_fault` of a fault in progress on a VMA of
/// ours, valid for the lifetime of this value.
pub(crate) struct VmFault {
    vmf: *mut bindings::vm_fault,
}

impl VmFault {
    /// The faulting page's offset in the object, in pages.
    pub(crate) fn pgoff(&self) -> usize {
        // SAFETY: `vmf` is valid by the type invariants.
        unsafe { (*self.vmf).__bindgen_anon_1.pgoff }
    }

    /// The faulting VMA.
    fn vma(&self) -> &VmaRef {
        // SAFETY: `vmf` is valid by the type invariants, and so is its VMA,
        // for at least as long as `self`.
        unsafe { VmaRef::from_raw((*self.vmf).__bindgen_anon_1.vma) }
    }

    /// The pages the faulting VMA maps.
    pub(crate) fn vma_pages(&self) -> VmaPages {
        let vma = self.vma();
        // SAFETY: The VMA is valid (see `vma`).
        let pgoff = unsafe { (*vma.as_ptr()).vm_pgoff };
        VmaPages {
            pgoff,
            len: (vma.end() - vma.start()) / PAGE_SIZE,
            start: vma.start() / PAGE_SIZE,
        }
    }

    /// Maps page frame `pfn` at page offset `pgoff` of the faulting VMA,
    /// next to the faulting page, as [`VmFault::insert_pfn`] does. Does
    /// nothing when `pgoff` is outside the VMA or already mapped.
    pub(crate) fn map_neighbour(&self, pgoff: usize, pfn: usize) {
        let pages = self.vma_pages();
        let Some(index) = pgoff.checked_sub(pages.pgoff).filter(|&i| i < pages.len) else {
            return;
        };
        let vma = self.vma();
        // SAFETY: `index` is inside the VMA (checked above), so the address
        // is too; the VMA is a VM_PFNMAP that is not a COW mapping (see
        // `install`) and we are in its fault handler, holding the lock that
        // serializes it with zaps. An already populated entry is left alone.
        let _ =
            unsafe { bindings::vmf_insert_pfn(vma.as_ptr(), vma.start() + index * PAGE_SIZE, pfn) };
    }

    /// Maps page frame `pfn` at the faulting address with the VMA's
    /// protection, as a special PTE: one that holds no reference to the
    /// page, so that `get_user_pages` refuses it and no pin (vmsplice,
    /// O_DIRECT, `/proc/PID/mem`) can keep the page after an invalidation
    /// took it back. The owner must not free the page while it is mapped.
    pub(crate) fn insert_pfn(&self, pfn: usize) -> Result<FaultDone, FaultError> {
        // SAFETY: `vmf` is valid by the type invariants and its address is
        // inside its VMA, a VM_PFNMAP that is not a COW mapping (see
        // `install`), as `vmf_insert_pfn` requires.
        let ret = unsafe {
            let vmf = &*self.vmf;
            bindings::vmf_insert_pfn(vmf.__bindgen_anon_1.vma, vmf.__bindgen_anon_1.address, pfn)
        };
        Ok(FaultDone(ret))
    }

    /// Maps the [`HUGE_PAGES`] page frames starting at `pfn` with one PMD
    /// entry covering the faulting address, as a special PMD (see
    /// [`VmFault::insert_pfn`]). Only for a [`VmaHandler::huge_fault`].
    ///
    /// The frames must be physically contiguous; `pfn` must be aligned to
    /// [`HUGE_PAGES`], else this falls back to 4 KiB pages. The caller checks
    /// that the whole 2 MiB block around the address lies inside the VMA
    /// and that the VMA maps it at a 2 MiB aligned address.
    ///
    /// Only an empty PMD slot is filled. A write to a read-only PMD entry
    /// (write-notify, soft-dirty tracking) falls back instead: the kernel
    /// then splits the entry, and the write proceeds on 4 KiB pages. The
    /// entry is inserted as for a read (the VMA's own protection, which for
    /// a writable shared mapping allows writes): `vmf_insert_pfn_pmd`
    /// warns when asked to upgrade a slot that a racing fault has meanwhile
    /// filled with a page table, and a read insertion leaves such a slot
    /// alone, so the access is retried and served by [`VmaHandler::fault`].
    pub(crate) fn insert_huge_pfn(&self, pfn: usize) -> Result<FaultDone, FaultError> {
        // SAFETY: `vmf` is valid by the type invariants. `orig_pmd` shares a
        // union with `orig_pte`; both are plain integers. The kernel starts
        // a fault zeroed and sets `orig_pmd` to the present entry before a
        // huge fault that is a write to it, and not before one for an empty
        // slot.
        let orig_pmd = unsafe { (*self.vmf).__bindgen_anon_2.orig_pmd.pmd };
        if orig_pmd != 0 || pfn % HUGE_PAGES != 0 {
            return Err(FaultError::Fallback);
        }
        // SAFETY: `vmf` is valid by the type invariants; we are in a huge
        // fault of a VM_PFNMAP VMA that is not a COW mapping (see `install`),
        // as `vmf_insert_pfn_pmd` requires, and the kernel allocated the
        // page middle directory entry it fills.
        let ret = unsafe { bindings::vmf_insert_pfn_pmd(self.vmf, pfn, false) };
        Ok(FaultDone(ret))
    }
}

/// Attaches `handler` to `vma`: makes it a pure page frame map
/// (`VM_PFNMAP`, whose entries hold no page references) that cannot grow,
/// and routes its faults and lifetime events to the handler.
///
/// A copy-on-write mapping (private and possibly writable) is refused with
/// `EINVAL`: its copies would be ordinary pages outside the handler's reach.
///
/// The handler is kept alive by the VMA (and by every copy of it) until the
/// last one closes. [`VmaHandler::vma_opened`] is not called for `vma`
/// itself: the caller accounts for the mapping it is creating.
pub(crate) fn install<T: VmaHandler + 'static>(vma: &VmaNew, handler: Arc<T>) -> Result {
    let vm_flags = vma.flags();
    if vm_flags & (flags::SHARED | flags::MAYWRITE) == flags::MAYWRITE {
        return Err(EINVAL);
    }
    vma.set_dontexpand();
    let raw = vma.as_ptr();
    // SAFETY: `vma` is a VMA under construction inside f_op->mmap, not yet
    // visible to anyone else, so its flags may be written directly (as the
    // kernel crate's own setters do). It is not a COW mapping (checked
    // above) and never gets VM_MIXEDMAP, as VM_PFNMAP requires. Its `vm_ops`
    // and `vm_private_data` belong to the driver; the private data is
    // released by `close`, which the kernel calls once for this VMA.
    unsafe {
        (*raw).__bindgen_anon_2.vm_flags = vm_flags | flags::PFNMAP;
        (*raw).vm_private_data = handler.into_foreign().cast();
        (*raw).vm_ops = VmOps::<T>::table();
    }
    Ok(())
}

/// The page offset at which `vma` maps its object.
pub(crate) fn vma_pgoff(vma: &VmaNew) -> usize {
    // SAFETY: `vma` is a valid VMA for the duration of the borrow.
    unsafe { (*vma.as_ptr()).vm_pgoff }
}

struct VmOps<T>(PhantomData<T>);

impl<T: VmaHandler + 'static> VmOps<T> {
    const TABLE: bindings::vm_operations_struct = bindings::vm_operations_struct {
        open: Some(Self::open),
        close: Some(Self::close),
        fault: Some(Self::fault),
        huge_fault: Some(Self::huge_fault),
        ..pin_init::zeroed()
    };

    fn table() -> &'static bindings::vm_operations_struct {
        &Self::TABLE
    }

    /// # Safety
    ///
    /// `vma` must carry a handler installed by [`install`] for this `T`.
    unsafe fn handler<'a>(vma: *mut bindings::vm_area_struct) -> ArcBorrowOf<'a, T> {
        // SAFETY: By the function's safety requirements the private data came
        // from `Arc::<T>::into_foreign` and is released only by `close`,
        // which cannot run concurrently with a callback on the same VMA.
        unsafe { <Arc<T> as ForeignOwnable>::borrow((*vma).vm_private_data.cast()) }
    }

    /// Called for each new copy of a VMA (fork, split, mremap); the copy
    /// shares the private data pointer, so it takes a reference of its own.
    ///
    /// # Safety
    ///
    /// `vma` must be a valid VMA with these `vm_ops` (a copy of one set up
    /// by [`install`]).
    unsafe extern "C" fn open(vma: *mut bindings::vm_area_struct) {
        // SAFETY: The kernel calls `open` only on VMAs whose `vm_ops` we set
        // in `install`, so they carry our handler.
        let handler = unsafe { Self::handler(vma) };
        let extra: Arc<T> = handler.into();
        extra.vma_opened();
        // The copy's reference, released by its own `close`.
        let _ = extra.into_foreign();
    }

    /// Called once when a VMA goes away; releases its reference.
    ///
    /// # Safety
    ///
    /// `vma` must be a valid VMA with these `vm_ops`, closed only once.
    unsafe extern "C" fn close(vma: *mut bindings::vm_area_struct) {
        // SAFETY: This VMA's reference came from `install` or `open` and is
        // released exactly once, here; the kernel calls `close` once per VMA.
        let handler =
            unsafe { <Arc<T> as ForeignOwnable>::from_foreign((*vma).vm_private_data.cast()) };
        handler.vma_closed();
    }

    /// Serves one page fault through the VMA's handler.
    ///
    /// # Safety
    ///
    /// `vmf` must be a valid fault in progress on a VMA with these `vm_ops`.
    unsafe extern "C" fn fault(vmf: *mut bindings::vm_fault) -> bindings::vm_fault_t {
        // SAFETY: The kernel passes a valid `vm_fault` whose VMA has our
        // `vm_ops`, so it carries our handler.
        let handler = unsafe { Self::handler((*vmf).__bindgen_anon_1.vma) };
        // INVARIANT: `vmf` is the fault in progress, valid during this call.
        let fault = VmFault { vmf };
        fault_result(handler.fault(&fault))
    }

    /// Serves a fault that may be answered with a PMD entry (`order` 9) or
    /// a PUD entry (which we never insert).
    ///
    /// # Safety
    ///
    /// `vmf` must be a valid fault in progress on a VMA with these `vm_ops`.
    unsafe extern "C" fn huge_fault(
        vmf: *mut bindings::vm_fault,
        order: core::ffi::c_uint,
    ) -> bindings::vm_fault_t {
        if order != bindings::HPAGE_PMD_ORDER {
            return fault_result(Err(FaultError::Fallback));
        }
        // SAFETY: As in `fault`.
        let handler = unsafe { Self::handler((*vmf).__bindgen_anon_1.vma) };
        // INVARIANT: `vmf` is the fault in progress, valid during this call.
        let fault = VmFault { vmf };
        fault_result(handler.huge_fault(&fault))
    }
}

/// The `vm_fault_t` a fault handler returns for `result`.
fn fault_result(result: Result<FaultDone, FaultError>) -> bindings::vm_fault_t {
    match result {
        Ok(FaultDone(ret)) => ret,
        Err(FaultError::SigBus) => {
            bindings::vm_fault_reason_VM_FAULT_SIGBUS as bindings::vm_fault_t
        }
        Err(FaultError::Fallback) => {
            bindings::vm_fault_reason_VM_FAULT_FALLBACK as bindings::vm_fault_t
        }
    }
}

type ArcBorrowOf<'a, T> = <Arc<T> as ForeignOwnable>::Borrowed<'a>;

const VDMUX_FS_MAGIC: u64 = 0x7664_6d78; // "vdmx"

unsafe extern "C" {
    // From <linux/pseudo_fs.h>, which the kernel crate's bindings leave out.
    fn init_pseudo(fc: *mut bindings::fs_context, magic: u64) -> *mut c_void;
}

/// The file system type of [`PseudoFs`]. The kernel links superblocks into
/// it, so it lives in a static with interior mutability.
struct FsType(Opaque<bindings::file_system_type>);

// SAFETY: The kernel serializes its accesses to a `file_system_type`.
unsafe impl Sync for FsType {}

static FS_TYPE: FsType = FsType(Opaque::new(bindings::file_system_type {
    name: kernel::str::as_char_ptr_in_const_context(c"vdmux"),
    init_fs_context: Some(pseudo_init_fs_context),
    kill_sb: Some(bindings::kill_anon_super),
    // `owner` stays NULL so that the internal mount does not pin the module.
    ..pin_init::zeroed()
}));

/// Sets up a new superblock of [`PseudoFs`].
///
/// # Safety
///
/// `fc` must be a valid `fs_context` being set up for `FS_TYPE`.
unsafe extern "C" fn pseudo_init_fs_context(fc: *mut bindings::fs_context) -> i32 {
    // SAFETY: The kernel passes a valid `fs_context` being set up for us.
    if unsafe { init_pseudo(fc, VDMUX_FS_MAGIC) }.is_null() {
        return ENOMEM.to_errno();
    }
    0
}

/// A private internal mount whose only purpose is to own the inodes of
/// [`SharedMapping`]s.
///
/// # Invariants
///
/// `mnt` is a live mount of `FS_TYPE` from `kern_mount`, unmounted on drop.
pub(crate) struct PseudoFs {
    mnt: *mut bindings::vfsmount,
}

// SAFETY: A vfsmount may be used and released from any thread.
unsafe impl Send for PseudoFs {}

// SAFETY: Shared references only read the mount pointer.
unsafe impl Sync for PseudoFs {}

impl PseudoFs {
    pub(crate) fn mount() -> Result<Arc<Self>> {
        // SAFETY: `FS_TYPE` is a valid, static file system type.
        let mnt = from_err_ptr(unsafe { bindings::kern_mount(FS_TYPE.0.get()) })?;
        // INVARIANT: `kern_mount` succeeded.
        Ok(Arc::new(Self { mnt }, GFP_KERNEL)?)
    }
}

impl Drop for PseudoFs {
    fn drop(&mut self) {
        // SAFETY: By the type invariants `mnt` is live; every inode of it is
        // released first, because each `SharedMapping` holds an `Arc` of us.
        // Unmounting an internal mount is synchronous, so nothing refers to
        // `FS_TYPE` once this returns.
        unsafe { bindings::kern_unmount(self.mnt) };
    }
}

/// One `address_space` shared by every open file of an object.
///
/// # Invariants
///
/// `inode` is a live inode of `fs` with a reference owned by this value.
pub(crate) struct SharedMapping {
    inode: *mut bindings::inode,
    _fs: Arc<PseudoFs>,
}

// SAFETY: Inodes are reference counted and usable from any thread.
unsafe impl Send for SharedMapping {}

// SAFETY: `attach` and `unmap_all` are safe to call concurrently.
unsafe impl Sync for SharedMapping {}

impl SharedMapping {
    pub(crate) fn new(fs: &Arc<PseudoFs>) -> Result<Self> {
        // SAFETY: `fs.mnt` is a live mount (type invariants of `PseudoFs`).
        let inode = from_err_ptr(unsafe { bindings::alloc_anon_inode((*fs.mnt).mnt_sb) })?;
        // INVARIANT: `alloc_anon_inode` returned a new inode with one
        // reference, which we own.
        Ok(Self {
            inode,
            _fs: fs.clone(),
        })
    }

    /// Points `file` at the shared `address_space`, so its mappings are
    /// reached by [`SharedMapping::unmap_all`].
    ///
    /// Must be called from the file's `open`, before the file can be mapped.
    pub(crate) fn attach(&self, file: &File) {
        // SAFETY: `file` is being opened (the caller's requirement), so no
        // mapping or I/O uses `f_mapping` yet; the inode outlives every file
        // attached to it because open files keep the module, and so this
        // value, alive.
        unsafe { (*file.as_ptr()).f_mapping = (*self.inode).i_mapping };
    }

    /// Zaps every page table entry of every mapping of the object, so the
    /// next access to any of them faults.
    pub(crate) fn unmap_all(&self) {
        // SAFETY: The inode is live (type invariants). A zero length means
        // "to the end"; `even_cows` also drops private copies.
        unsafe { bindings::unmap_mapping_range((*self.inode).i_mapping, 0, 0, 1) };
    }
}

impl Drop for SharedMapping {
    fn drop(&mut self) {
        // SAFETY: We own one reference to the inode (type invariants).
        unsafe { bindings::iput(self.inode) };
    }
}
