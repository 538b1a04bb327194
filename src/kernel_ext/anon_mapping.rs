// SPDX-License-Identifier: GPL-2.0

//! [`SharedMapping`]: an `address_space` that every open file of one
//! object points at, so that one [`SharedMapping::unmap_all`] reaches every
//! mapping of that object, in every process, through every device node (a
//! second `mknod` has an inode of its own, and so would have an
//! `address_space` of its own). Its inode comes from [`PseudoFs`], a
//! private internal mount, as DRM and vfio do.
//!
//! Belongs upstream in `rust/kernel/fs/`, as a pseudo file system whose
//! anonymous inodes drivers can share (DRM's `drm_fs_inode_new` and vfio's
//! `vfio_fs_type` are the C models).

use crate::helpers;
use kernel::{
    bindings,
    error::from_err_ptr,
    fs::File,
    prelude::*,
    sync::Arc,
    types::Opaque, //
};

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
    unsafe { helpers::vdmux_init_pseudo(fc) }
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

// SAFETY: `attach` (under its safety requirements) and `unmap_all` may run
// concurrently: the first writes a field of a file nobody else uses yet, the
// second takes the address_space's own locks.
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
    /// # Safety
    ///
    /// `file` must be in its `f_op->open`: it has no mapping and no I/O yet,
    /// so that nothing is linked into its own `f_mapping`'s `i_mmap` (moving
    /// a file with VMAs would leave them in the old tree). The caller must
    /// keep this value alive as long as the file is open.
    pub(crate) unsafe fn attach(&self, file: &File) {
        // SAFETY: The file is being opened and outlived by the inode (the
        // function's safety requirements).
        unsafe { (*file.as_ptr()).f_mapping = (*self.inode).i_mapping };
    }

    pub(crate) fn address_space(&self) -> *mut bindings::address_space {
        // SAFETY: The inode is live (type invariants).
        unsafe { (*self.inode).i_mapping }
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
