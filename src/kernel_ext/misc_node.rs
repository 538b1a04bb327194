// SPDX-License-Identifier: GPL-2.0

//! Misc device nodes that carry data of their own, can seek, poll and sync,
//! and have sysfs attributes.
//!
//! [`MiscDeviceRegistration`] registers one node per type with a static name
//! and no `llseek`, `poll` or `fsync`. vdmux needs `nr_vdevs` nodes of one
//! type, each knowing which virtual device it is, with names made at load
//! time, these three operations, and attributes in the node's sysfs
//! directory. [`Node`] registers a `struct miscdevice` of its own whose file
//! operations are those the kernel crate builds for the [`MiscDevice`] type
//! plus ours, and lets `open` and the sysfs attributes find the node's
//! data.

use super::{
    compat,
    node_attrs::AttributeGroups,
    poll_events::PollEvents, //
};
use core::marker::{
    PhantomData,
    PhantomPinned, //
};
use kernel::{
    bindings,
    device::Device,
    error::to_result,
    fs::File,
    miscdevice::{
        MiscDevice,
        MiscDeviceOptions,
        MiscDeviceRegistration, //
    },
    prelude::*,
    str::CString,
    sync::poll::PollTable,
    types::{
        ForeignOwnable,
        Opaque, //
    },
};

/// A [`MiscDevice`] registered through [`Node`].
pub(crate) trait NodeDevice: MiscDevice + 'static {
    /// What each node of this type knows about itself.
    type NodeData: Send + Sync;

    /// What names one sysfs attribute of the nodes of this type.
    type AttributeId: Copy + Sync + 'static;

    /// The sysfs attribute groups of each node of this type (see
    /// [`node_attributes!`](super::node_attrs::node_attributes)).
    fn attribute_groups() -> &'static AttributeGroups<Self>;

    /// The text of attribute `id` of the node whose data is `data`.
    fn show_attribute(data: &Self::NodeData, id: Self::AttributeId) -> Result<CString>;

    /// `lseek(2)`: returns the new position.
    fn llseek(
        device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        file: &SeekFile<'_>,
        offset: i64,
        whence: u32,
    ) -> Result<i64>;

    /// `poll(2)`: registers `table` with the wait queues that wake it and
    /// returns the events that are ready.
    fn poll(
        device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        file: &File,
        table: PollTable<'_>,
    ) -> PollEvents;

    /// `fsync(2)`, `fdatasync(2)`, `msync(MS_SYNC)` of a mapping.
    fn fsync(device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>) -> Result;
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
    /// Registers `/dev/<name>` with permissions `mode`. With a `parent`,
    /// the node's sysfs device is its child: `/sys/class/misc/<name>/device`
    /// is `parent`, and udev sees the parent's path (`ID_PATH`).
    pub(crate) fn register(
        name: CString,
        mode: u16,
        parent: Option<&Device>,
        data: T::NodeData,
    ) -> impl PinInit<Self, Error> {
        // The driver core holds a reference of its own to the parent of the
        // device it creates, from `device_add` to `device_del` (which
        // `misc_deregister` runs): the pointer need not outlive this call.
        let parent = parent.map_or(core::ptr::null_mut(), raw_device);
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
                    parent,
                    groups: T::attribute_groups().as_raw(),
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
    ///
    /// # Safety
    ///
    /// `misc` must be the registration of a `Node<T>`: true in the
    /// [`MiscDevice::open`] of a type that is registered only through
    /// [`Node::register`], never through [`MiscDeviceRegistration`].
    pub(crate) unsafe fn data_of(misc: &MiscDeviceRegistration<T>) -> &T::NodeData {
        // SAFETY: By the function's safety requirements the miscdevice is
        // the `misc` field of a live `Node<T>`, which outlives every open
        // file of it (it is deregistered before it is dropped).
        unsafe { Self::data_of_raw(misc.as_raw()) }
    }

    /// The data of the node registered as `misc`.
    ///
    /// # Safety
    ///
    /// `misc` must be the `struct miscdevice` of a live `Node<T>`, which
    /// must outlive the returned reference: true in a callback of the
    /// node's file or sysfs attribute (deregistration waits for those).
    pub(super) unsafe fn data_of_raw<'a>(misc: *mut bindings::miscdevice) -> &'a T::NodeData {
        let misc = misc.cast::<Opaque<bindings::miscdevice>>();
        // SAFETY: By the function's safety requirements `misc` is the
        // `misc` field of a live, pinned `Node<T>`.
        unsafe { &(*kernel::container_of!(misc, Self, misc)).data }
    }

    /// The node's `struct miscdevice`, registered while `self` lives.
    pub(super) fn as_raw(&self) -> *mut bindings::miscdevice {
        self.misc.get()
    }
}

/// The raw `struct device` of `dev`.
fn raw_device(dev: &Device) -> *mut bindings::device {
    // `Device` is a `#[repr(transparent)]` wrapper of an
    // `Opaque<bindings::device>`, itself transparent: the pointers are the
    // same (the kernel crate's own `as_raw` is crate-private).
    core::ptr::from_ref(dev).cast_mut().cast()
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
    /// places a mapping that spans a whole PMD block of the file at an
    /// address aligned like its offset, so the block can be mapped with one
    /// PMD entry.
    const FOPS: bindings::file_operations = {
        let base = MiscDeviceOptions { name: c"" }.into_raw::<T>();
        bindings::file_operations {
            llseek: Some(Self::llseek),
            poll: Some(Self::poll),
            fsync: Some(Self::fsync),
            get_unmapped_area: if T::HAS_MMAP {
                Some(bindings::thp_get_unmapped_area)
            } else {
                None
            },
            // SAFETY: `base.fops` points to the kernel crate's static table.
            owner: compat::fops_owner(unsafe { (*base.fops).owner }),
            // SAFETY: As above.
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
        // INVARIANT: `file` is an open file, valid for the duration of the
        // call, being seeked.
        let file = SeekFile {
            file,
            _file: PhantomData,
        };
        match T::llseek(device, &file, offset, whence as u32) {
            Ok(pos) => pos,
            Err(e) => e.to_errno().into(),
        }
    }
}

impl<T: NodeDevice> NodeFops<T> {
    /// `f_op->poll`.
    ///
    /// # Safety
    ///
    /// `file` must be an open file of a `Node<T>` and `table` null or a valid
    /// `poll_table` for the duration of the call.
    unsafe extern "C" fn poll(
        file: *mut bindings::file,
        table: *mut bindings::poll_table,
    ) -> bindings::__poll_t {
        // SAFETY: As in `llseek`.
        let device = unsafe { <T::Ptr as ForeignOwnable>::borrow((*file).private_data) };
        // SAFETY: `file` is valid for the duration of the call. A character
        // device has no FMODE_ATOMIC_POS, so another thread may be inside an
        // `fdget_pos` that took no `f_pos_lock`, which `File` rules out for
        // the sake of `f_pos`: neither this `poll` nor the driver's, which
        // only registers a wait (`PollTable::register_wait`), reads or
        // writes `f_pos`, so no position is raced.
        let file = unsafe { File::from_raw_file(file) };
        // SAFETY: `table` is null or valid for the call (the function's
        // safety requirements).
        let table = unsafe { PollTable::from_raw(table) };
        T::poll(device, file, table).bits()
    }

    /// `f_op->fsync`, for the whole file whatever the range.
    ///
    /// # Safety
    ///
    /// `file` must be an open file of a `Node<T>`.
    unsafe extern "C" fn fsync(
        file: *mut bindings::file,
        _start: bindings::loff_t,
        _end: bindings::loff_t,
        _datasync: core::ffi::c_int,
    ) -> core::ffi::c_int {
        // SAFETY: As in `llseek`.
        let device = unsafe { <T::Ptr as ForeignOwnable>::borrow((*file).private_data) };
        match T::fsync(device) {
            Ok(()) => 0,
            Err(e) => e.to_errno(),
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
pub(crate) fn llseek_sized(
    file: &SeekFile<'_>,
    offset: i64,
    whence: u32,
    size: usize,
) -> Result<i64> {
    let eof = i64::try_from(size).map_err(|_| EINVAL)?;
    // SAFETY: `file` is an open file (type invariants); the function takes
    // `f_lock` for the position it reads and writes.
    let ret = unsafe {
        bindings::generic_file_llseek_size(file.file, offset, whence as i32, i64::MAX, eof)
    };
    if ret < 0 {
        Err(Error::from_errno(ret as i32))
    } else {
        Ok(ret)
    }
}

/// A file in its `f_op->llseek`, good for nothing but moving its position
/// ([`llseek_sized`]). Neither a [`LocalFile`](kernel::fs::LocalFile) nor a
/// [`File`]: a character
/// device has no FMODE_ATOMIC_POS, so other threads may be between
/// `fdget_pos` and `fdput_pos` on it without `f_pos_lock`, which both rule
/// out.
///
/// # Invariants
///
/// `file` is an open file, valid for `'a`.
pub(crate) struct SeekFile<'a> {
    file: *mut bindings::file,
    _file: PhantomData<&'a bindings::file>,
}
