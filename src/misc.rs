// SPDX-License-Identifier: GPL-2.0

//! Misc device nodes that carry data of their own and can seek.
//!
//! [`MiscDeviceRegistration`] registers one node per type with a static name
//! and no `llseek`. vdmux needs `nr_vdevs` nodes of one type, each knowing
//! which virtual device it is, with names made at load time, and `lseek` on
//! them. [`Node`] registers a `struct miscdevice` of its own whose file
//! operations are those the kernel crate builds for the [`MiscDevice`] type
//! plus `llseek`, and lets `open` find the node's data.

use core::marker::{
    PhantomData,
    PhantomPinned, //
};
use kernel::{
    bindings,
    error::to_result,
    fs::File,
    miscdevice::{
        MiscDevice,
        MiscDeviceOptions,
        MiscDeviceRegistration, //
    },
    prelude::*,
    str::CString,
    types::{
        ForeignOwnable,
        Opaque, //
    },
};

/// A [`MiscDevice`] registered through [`Node`].
pub(crate) trait NodeDevice: MiscDevice {
    /// What each node of this type knows about itself.
    type NodeData: Send + Sync;

    /// `lseek(2)`: returns the new position.
    fn llseek(
        device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        file: &File,
        offset: i64,
        whence: u32,
    ) -> Result<i64>;
}

/// A registered misc device node with data of its own.
///
/// # Invariants
///
/// `misc` is registered with `misc_register` while this value lives, with
/// `name` as its name and `NodeFops::<T>::FOPS` as its file operations.
#[pin_data(PinnedDrop)]
pub(crate) struct Node<T: NodeDevice> {
    #[pin]
    misc: Opaque<bindings::miscdevice>,
    data: T::NodeData,
    name: CString,
    #[pin]
    _pin: PhantomPinned,
}

// SAFETY: The registration is only touched by misc_register/deregister, which
// lock internally; `data` is `Send + Sync`.
unsafe impl<T: NodeDevice> Send for Node<T> {}

// SAFETY: See `Send`.
unsafe impl<T: NodeDevice> Sync for Node<T> {}

impl<T: NodeDevice> Node<T> {
    /// Registers `/dev/<name>` with permissions `mode`.
    pub(crate) fn register(
        name: CString,
        mode: u16,
        data: T::NodeData,
    ) -> impl PinInit<Self, Error> {
        try_pin_init!(&this in Self {
            data,
            name,
            _pin: PhantomPinned,
            misc <- Opaque::try_ffi_init(move |slot: *mut bindings::miscdevice| {
                // SAFETY: `this` is pinned and being initialised; `name` was
                // initialised above and lives as long as the registration.
                let name = unsafe { (*this.as_ptr()).name.as_char_ptr() };
                let misc = bindings::miscdevice {
                    minor: bindings::MISC_DYNAMIC_MINOR as i32,
                    name,
                    fops: &NodeFops::<T>::FOPS,
                    mode,
                    ..pin_init::zeroed()
                };
                // SAFETY: `slot` is valid for writes and pinned.
                unsafe { slot.write(misc) };
                // SAFETY: `slot` holds a filled-in miscdevice that stays
                // pinned until `misc_deregister` in `drop`.
                to_result(unsafe { bindings::misc_register(slot) })
            }),
        })
    }

    /// The data of the node that `misc` (as passed to [`MiscDevice::open`])
    /// belongs to.
    pub(crate) fn data_of(misc: &MiscDeviceRegistration<T>) -> &T::NodeData {
        let misc = misc.as_raw().cast::<Opaque<bindings::miscdevice>>();
        // SAFETY: `T: NodeDevice` is registered only through `Node<T>`
        // (`NodeFops::<T>::FOPS` is private to this file and only `register`
        // uses it), so the miscdevice `open` was given is the `misc` field of
        // a live, pinned `Node<T>`, which outlives every open file of it.
        unsafe { &(*kernel::container_of!(misc, Self, misc)).data }
    }
}

#[pinned_drop]
impl<T: NodeDevice> PinnedDrop for Node<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: `misc` is registered (type invariants).
        unsafe { bindings::misc_deregister(self.misc.get()) };
    }
}

struct NodeFops<T>(PhantomData<T>);

impl<T: NodeDevice> NodeFops<T> {
    /// The kernel crate's file operations for `T`, plus `llseek`, and, for
    /// a node that can be mapped, `get_unmapped_area`: the THP helper, which
    /// places a mapping that spans a whole 2 MiB block of the file at an
    /// address aligned like its offset, so the block can be mapped with one
    /// PMD entry.
    const FOPS: bindings::file_operations = {
        let base = MiscDeviceOptions { name: c"" }.into_raw::<T>();
        bindings::file_operations {
            llseek: Some(Self::llseek),
            get_unmapped_area: if T::HAS_MMAP {
                Some(bindings::thp_get_unmapped_area)
            } else {
                None
            },
            // SAFETY: `base.fops` points to the kernel crate's static table.
            ..unsafe { *base.fops }
        }
    };

    /// `f_op->llseek`.
    ///
    /// # Safety
    ///
    /// `file` must be an open file of a `Node<T>`.
    unsafe extern "C" fn llseek(file: *mut bindings::file, offset: i64, whence: i32) -> i64 {
        // SAFETY: The kernel passes an open file of ours, whose private data
        // was set by the kernel crate's `open` from `T::Ptr::into_foreign`.
        let device = unsafe { <T::Ptr as ForeignOwnable>::borrow((*file).private_data) };
        // SAFETY: `file` is valid for the duration of the call.
        let file = unsafe { File::from_raw_file(file) };
        match T::llseek(device, file, offset, whence as u32) {
            Ok(pos) => pos,
            Err(e) => e.to_errno().into(),
        }
    }
}

/// Whether the calling task has `CAP_SYS_ADMIN` in the initial namespace.
pub(crate) fn capable_sys_admin() -> bool {
    // SAFETY: `capable` may be called from any task context.
    unsafe { bindings::capable(bindings::CAP_SYS_ADMIN as i32) }
}

/// `generic_file_llseek_size` for a device of `size` bytes: positions may go
/// past the end, as with regular files.
pub(crate) fn llseek_sized(file: &File, offset: i64, whence: u32, size: usize) -> Result<i64> {
    let eof = i64::try_from(size).map_err(|_| EINVAL)?;
    // SAFETY: `file` is an open file.
    let ret = unsafe {
        bindings::generic_file_llseek_size(file.as_ptr(), offset, whence as i32, i64::MAX, eof)
    };
    if ret < 0 {
        Err(Error::from_errno(ret as i32))
    } else {
        Ok(ret)
    }
}
