// SPDX-License-Identifier: GPL-2.0

//! VMA operations: a driver's handler for the faults on its VMAs, installed
//! by `f_op->mmap`.
//!
//! The kernel crate can create a VMA ([`VmaNew`]) but has no abstraction for
//! `vm_operations_struct` or for fault handlers. Belongs upstream in
//! `rust/kernel/mm/virt.rs`, beside `VmaNew`, as the `vm_ops` a `VmaNew`
//! can be given; it stays local while the kernel crate has none.
//!
//! - [`VmaHandler`]: what a driver implements to serve faults on its VMAs and
//!   to learn when VMAs are duplicated (fork, split, mremap) or go away.
//! - [`NewMapping`]: a VMA being created by `f_op->mmap`, checked to be able
//!   to carry a handler; [`NewMapping::install`], the last step of `mmap`,
//!   cannot fail. It makes the VMA a `VM_PFNMAP`: page frames without page
//!   references, a page or a PMD block at a time, outside the system's transparent
//!   huge page policy (as vfio does).
//!
//! # What the kernel holds when it calls us
//!
//! - `->fault` and `->huge_fault` run under the per-VMA lock alone, or under
//!   `mmap_lock` (read) when the core could not take the former. (Without a
//!   `->map_pages` the core would retry every `->fault` first tried under
//!   the per-VMA lock under `mmap_lock`: see `vmf_can_call_fault`.)
//! - `->map_pages` runs before `->fault` for a read fault, under the same
//!   locks and `rcu_read_lock`: it must not sleep, so it maps only into a
//!   page table that exists and gives up on a lock it cannot take at once.
//! - `->open` and `->close` run under `mmap_write_lock`; for a fork, under
//!   the parent's `mmap_write_lock` and the write lock of the parent's VMA.
//! - Zaps (`unmap_mapping_range`) take `i_mmap_rwsem` and the page table
//!   locks, never `mmap_lock`: they run concurrently with all of the above.
//!
//! # Two races this file closes
//!
//! - *A page fault into a slot that a PMD entry filled.* A huge fault
//!   that falls back returns to the core without the handler's lock; the
//!   core then finds an empty PMD and calls `->fault`, which waits for the
//!   lock. Meanwhile the object may have moved to pages that can be mapped
//!   with a PMD entry (a SWITCH between two stores of which one has huge
//!   pages), and another thread's huge fault may have installed one.
//!   Inserting a PTE below a huge PMD hits `VM_BUG_ON(pmd_trans_huge())` in
//!   `walk_to_pmd`. So every page insertion holds a lock that excludes
//!   every huge insertion of the object (its handler's choice: vdmux takes
//!   a virtual device's location lock shared for the first, exclusively for
//!   the second), and [`VmFault::map_page`] looks at the PMD first and
//!   reports the fault done when a PMD entry already covers it;
//!   fault-around stays inside that one PMD.
//! - *fork copying a stale PMD entry* (a workaround for a core-mm race
//!   that vfio-pci shares; `Documentation/copy-huge-pmd.md` has the race
//!   and a proposed fix). `copy_huge_pmd` reads the parent's
//!   special PMD locklessly and installs that snapshot in the child after
//!   taking the page table locks, assuming that nothing can change it while
//!   fork holds `mmap_lock`. Our zaps do not take `mmap_lock`, so a SWITCH
//!   that zaps between the read and the install would leave the child
//!   mapping another object's pages. Fork therefore never copies our
//!   entries: the `->open` of a fork copy (the one VMA whose `vm_mm` is not
//!   the caller's) zaps the parent's entries of that range, in the parent's
//!   VMA only (other processes' mappings keep theirs), and neither can
//!   refault until fork is done, because fork holds the parent's mmap and
//!   VMA write locks. Both processes then take their own faults. Page
//!   entries would be safe to copy (`copy_pte_range` reads them under the
//!   page table lock), but one rule for both is simpler to trust.

use super::{
    fault::{
        AroundFault,
        HugeFault,
        PageFault,
        VmFault, //
    },
    pfnmap::{
        FaultDone,
        FaultError,
        FAULT_NOPAGE, //
    },
    vma_geometry::{
        HUGE_MAPPINGS,
        HUGE_PAGES, //
    },
};
use crate::helpers;
use core::marker::PhantomData;
use kernel::{
    bindings,
    mm::virt::{
        flags,
        VmaNew, //
    },
    prelude::*,
    sync::Arc,
    types::ForeignOwnable, //
};

/// Serves the faults of the VMAs it is installed on.
pub(crate) trait VmaHandler: Send + Sync + Sized {
    /// A VMA carrying this handler was duplicated (fork, split, mremap).
    fn vma_opened(&self);

    /// A VMA carrying this handler is going away.
    fn vma_closed(&self);

    /// Serves one page fault: maps a page with [`PageFault::map_page`] and
    /// returns what it returned, or refuses; or waits for something without
    /// the fault's lock and has the kernel retry it
    /// ([`PageFault::wait_unlocked`]), during which the handler is kept
    /// alive by the call, not by the VMA.
    fn fault(&self, fault: &PageFault) -> Result<FaultDone, FaultError>;

    /// Maps pages around a read fault before [`VmaHandler::fault`] is called,
    /// without sleeping (under `rcu_read_lock`), with
    /// [`AroundFault::map_into_table`]; returns whether the faulting page is now
    /// mapped (then `fault` is not called). `start..=end` is the range of
    /// page offsets the kernel suggests.
    fn map_pages(&self, _fault: &AroundFault, _start: usize, _end: usize) -> bool {
        false
    }

    /// Serves a fault that may be answered with one PMD entry: maps a PMD
    /// block with [`HugeFault::map_huge`], or returns [`FaultError::Fallback`]
    /// to have the kernel retry with [`VmaHandler::fault`] on single pages.
    /// Called only when the kernel supports PMD entries of a `VM_PFNMAP`
    /// ([`HUGE_MAPPINGS`]).
    fn huge_fault(&self, _fault: &HugeFault) -> Result<FaultDone, FaultError> {
        Err(FaultError::Fallback)
    }
}

/// A VMA being created by `f_op->mmap`, checked to be able to carry a
/// [`VmaHandler`]: a shared mapping that is neither copy-on-write nor a
/// `VM_MIXEDMAP`.
pub(crate) struct NewMapping<'a> {
    vma: &'a VmaNew,
}

impl<'a> NewMapping<'a> {
    /// Checks `vma`. A copy-on-write mapping (private and possibly
    /// writable) is refused with `EINVAL`: its copies would be ordinary
    /// pages outside the handler's reach; so is a `VM_MIXEDMAP`, which a
    /// `VM_PFNMAP` must not be.
    pub(crate) fn new(vma: &'a VmaNew) -> Result<Self> {
        let vm_flags = vma.flags();
        if vm_flags & (flags::SHARED | flags::MAYWRITE) == flags::MAYWRITE
            || vm_flags & flags::MIXEDMAP != 0
        {
            return Err(EINVAL);
        }
        Ok(Self { vma })
    }

    /// The page offset at which the VMA maps its object.
    pub(crate) fn pgoff(&self) -> usize {
        // SAFETY: The VMA is valid for the duration of the borrow.
        unsafe { (*self.vma.as_ptr()).vm_pgoff }
    }

    /// The length of the VMA in bytes.
    pub(crate) fn len(&self) -> usize {
        self.vma.end() - self.vma.start()
    }

    /// Attaches `handler` to the VMA: makes it a pure page frame map
    /// (`VM_PFNMAP`) that cannot grow, and routes its faults and lifetime
    /// events to the handler. This is the last step of `mmap`, and it
    /// cannot fail: once the VMA carries the handler's reference, only the
    /// VMA's `close` may release it, and the kernel calls `close` only for
    /// a VMA whose `mmap` succeeded.
    ///
    /// The handler is kept alive by the VMA (and by every copy of it) until
    /// the last one closes. [`VmaHandler::vma_opened`] is not called for
    /// this VMA: the caller accounts for the mapping it is creating.
    pub(crate) fn install<T: VmaHandler + 'static>(self, handler: Arc<T>) {
        self.vma.set_dontexpand();
        let raw = self.vma.as_ptr();
        // SAFETY: The VMA is under construction inside f_op->mmap, not yet
        // visible to anyone else, so its flags may be written directly (as
        // the kernel crate's own setters do). It is not a COW mapping and
        // not a VM_MIXEDMAP (checked by `new`), as VM_PFNMAP requires. Its
        // `vm_ops` and `vm_private_data` belong to the driver; the private
        // data is released by `close`, which the kernel calls once for this
        // VMA.
        unsafe {
            (*raw).__bindgen_anon_2.vm_flags = self.vma.flags() | flags::PFNMAP;
            (*raw).vm_private_data = handler.into_foreign().cast();
            (*raw).vm_ops = VmOps::<T>::table();
        }
    }
}

struct VmOps<T>(PhantomData<T>);

impl<T: VmaHandler + 'static> VmOps<T> {
    const TABLE: bindings::vm_operations_struct = bindings::vm_operations_struct {
        open: Some(Self::open),
        close: Some(Self::close),
        fault: Some(Self::fault),
        map_pages: Some(Self::map_pages),
        huge_fault: if HUGE_MAPPINGS {
            Some(Self::huge_fault)
        } else {
            None
        },
        ..pin_init::zeroed()
    };

    fn table() -> &'static bindings::vm_operations_struct {
        &Self::TABLE
    }

    /// # Safety
    ///
    /// `vma` must carry a handler installed by [`NewMapping::install`] for
    /// this `T`.
    unsafe fn handler<'a>(vma: *mut bindings::vm_area_struct) -> ArcBorrowOf<'a, T> {
        // SAFETY: By the function's safety requirements the private data came
        // from `Arc::<T>::into_foreign` and is released only by `close`,
        // which cannot run concurrently with a callback on the same VMA.
        unsafe { <Arc<T> as ForeignOwnable>::borrow((*vma).vm_private_data.cast()) }
    }

    /// Called for each new copy of a VMA (fork, split, mremap); the copy
    /// shares the private data pointer, so it takes a reference of its own.
    /// A fork copy first zaps the parent's entries (see the module
    /// documentation).
    ///
    /// # Safety
    ///
    /// `vma` must be a valid VMA with these `vm_ops` (a copy of one set up
    /// by [`NewMapping::install`]).
    unsafe extern "C" fn open(vma: *mut bindings::vm_area_struct) {
        // SAFETY: `vma` is valid (the function's safety requirements).
        if unsafe { helpers::vdmux_vma_is_fork_copy(vma) } {
            // SAFETY: `vma` is a valid fork copy, and fork holds the
            // parent's mmap write lock (and its VMA's write lock, so the
            // parent cannot refault before the copy is made). A VMA of ours
            // maps a file, whose `f_mapping` is the object's address_space,
            // alive while the file is.
            unsafe { helpers::vdmux_zap_fork_parent(vma) };
        }
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
        // A reference of our own: the handler may release the fault's lock
        // (`PageFault::wait_unlocked`), after which the VMA, and the
        // reference it holds, may go.
        let handler: Arc<T> = handler.into();
        // INVARIANT: `vmf` is the fault in progress, valid during this call.
        let fault = PageFault(VmFault { vmf });
        fault_result(handler.fault(&fault))
    }

    /// Maps pages around a read fault, in atomic context.
    ///
    /// # Safety
    ///
    /// `vmf` must be a valid fault in progress on a VMA with these `vm_ops`.
    unsafe extern "C" fn map_pages(
        vmf: *mut bindings::vm_fault,
        start_pgoff: usize,
        end_pgoff: usize,
    ) -> bindings::vm_fault_t {
        // SAFETY: As in `fault`.
        let handler = unsafe { Self::handler((*vmf).__bindgen_anon_1.vma) };
        // INVARIANT: `vmf` is the fault in progress, valid during this call.
        let fault = AroundFault(VmFault { vmf });
        if handler.map_pages(&fault, start_pgoff, end_pgoff) {
            FAULT_NOPAGE
        } else {
            0
        }
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
        if 1usize << order != HUGE_PAGES {
            return fault_result(Err(FaultError::Fallback));
        }
        // SAFETY: As in `fault`.
        let handler = unsafe { Self::handler((*vmf).__bindgen_anon_1.vma) };
        // As in `fault`.
        let handler: Arc<T> = handler.into();
        // INVARIANT: `vmf` is the fault in progress, valid during this call.
        let fault = HugeFault(VmFault { vmf });
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
