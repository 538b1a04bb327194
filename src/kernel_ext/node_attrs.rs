// SPDX-License-Identifier: GPL-2.0

//! Read-only sysfs attributes of misc device nodes ([`super::misc_node`]),
//! in each node's own directory (`/sys/class/misc/<name>/`).
//!
//! [`node_attributes!`] declares the attribute table of the nodes of a
//! [`NodeDevice`] type as statics, built at compile time as C's
//! `DEVICE_ATTR_RO` and `ATTRIBUTE_GROUPS` build theirs; reading an
//! attribute calls [`NodeDevice::show_attribute`] with the node's data and
//! the attribute's identifier, and copies the text it returns.
//!
//! Belongs upstream in `rust/kernel/device.rs` or `rust/kernel/miscdevice.rs`
//! (as `configfs_attrs!` does for configfs): the kernel crate has no sysfs
//! attributes for devices, and `MiscDeviceOptions` no attribute groups.

use super::misc_node::{
    Node,
    NodeDevice, //
};
use core::{
    marker::PhantomData,
    ptr, //
};
use kernel::{
    bindings,
    ffi::c_char,
    page::PAGE_SIZE,
    prelude::*,
    types::Opaque, //
};

/// Declares `static $name: AttributeGroups<$type>`: one group of read-only
/// attributes, each a file name (a C string literal) and the identifier
/// ([`NodeDevice::AttributeId`]) that [`NodeDevice::show_attribute`] gets
/// when it is read.
macro_rules! node_attributes {
    ($vis:vis static $name:ident: $type:ty = [$($file:literal => $id:expr),+ $(,)?];) => {
        $vis static $name: $crate::kernel_ext::node_attrs::AttributeGroups<$type> = {
            use $crate::kernel_ext::node_attrs::{
                Attribute,
                AttributeGroups,
                AttributeList,
                Group, //
            };
            const N: usize = [$($file),+].len();
            static ATTRIBUTES: [Attribute<$type>; N] = [$(Attribute::new($file, $id)),+];
            static LIST: AttributeList<$type, { N + 1 }> = AttributeList::new(&ATTRIBUTES);
            static GROUP: Group<$type> = Group::new(&LIST);
            AttributeGroups::new(&GROUP)
        };
    };
}
pub(crate) use node_attributes;

/// One read-only attribute of the nodes of `T`.
///
/// # Invariants
///
/// `attr` is a read-only `device_attribute` whose `show` is `show::<T>`.
pub(crate) struct Attribute<T: NodeDevice> {
    attr: Opaque<bindings::device_attribute>,
    id: T::AttributeId,
}

// SAFETY: The kernel only reads the attribute (its lockdep key, under
// `CONFIG_DEBUG_LOCK_ALLOC`, is used for its address); `id` is `Sync`.
unsafe impl<T: NodeDevice> Sync for Attribute<T> {}

impl<T: NodeDevice> Attribute<T> {
    /// The attribute `file`, read-only, reporting `T::show_attribute(.., id)`.
    pub(crate) const fn new(file: &'static CStr, id: T::AttributeId) -> Self {
        // INVARIANT: Read-only (0444), shown by `show::<T>`.
        Self {
            attr: Opaque::new(bindings::device_attribute {
                attr: bindings::attribute {
                    name: kernel::str::as_char_ptr_in_const_context(file),
                    mode: 0o444,
                    ..pin_init::zeroed()
                },
                __bindgen_anon_1: bindings::device_attribute__bindgen_ty_1 {
                    show: Some(show::<T>),
                },
                __bindgen_anon_2: bindings::device_attribute__bindgen_ty_2 { store: None },
            }),
            id,
        }
    }
}

/// The NULL-terminated array of the `struct attribute`s of a group, `M` one
/// more than their number.
///
/// # Invariants
///
/// Every non-null pointer is to an [`Attribute<T>`].
pub(crate) struct AttributeList<T: NodeDevice, const M: usize> {
    list: [*mut bindings::attribute; M],
    _type: PhantomData<fn() -> T>,
}

// SAFETY: The pointers are to statics, and nothing writes through them.
unsafe impl<T: NodeDevice, const M: usize> Sync for AttributeList<T, M> {}

impl<T: NodeDevice, const M: usize> AttributeList<T, M> {
    /// The list of `attributes` (`M` must be one more than `N`).
    pub(crate) const fn new<const N: usize>(attributes: &'static [Attribute<T>; N]) -> Self {
        assert!(M == N + 1);
        let mut list = [ptr::null_mut(); M];
        let mut i = 0;
        while i < N {
            // `struct attribute` is the first field of `device_attribute`.
            list[i] = attributes[i].attr.get().cast::<bindings::attribute>();
            i += 1;
        }
        // INVARIANT: Pointers to `attributes`, then null.
        Self {
            list,
            _type: PhantomData,
        }
    }
}

/// One `struct attribute_group` of the nodes of `T`.
///
/// # Invariants
///
/// Its attributes are those of an [`AttributeList<T, _>`].
pub(crate) struct Group<T: NodeDevice> {
    group: bindings::attribute_group,
    _type: PhantomData<fn() -> T>,
}

// SAFETY: The pointers are to statics, and nothing writes through them.
unsafe impl<T: NodeDevice> Sync for Group<T> {}

impl<T: NodeDevice> Group<T> {
    /// The unnamed group (files in the node's own directory) of `list`.
    pub(crate) const fn new<const M: usize>(list: &'static AttributeList<T, M>) -> Self {
        // INVARIANT: The attributes of `list`.
        Self {
            group: bindings::attribute_group {
                __bindgen_anon_2: bindings::attribute_group__bindgen_ty_2 {
                    attrs: list.list.as_ptr().cast_mut(),
                },
                ..pin_init::zeroed()
            },
            _type: PhantomData,
        }
    }
}

/// The attribute groups of the nodes of `T`, as `struct miscdevice.groups`
/// takes them (a NULL-terminated array).
///
/// # Invariants
///
/// Every attribute of every group is an [`Attribute<T>`].
pub(crate) struct AttributeGroups<T: NodeDevice> {
    groups: [*const bindings::attribute_group; 2],
    _type: PhantomData<fn() -> T>,
}

// SAFETY: The pointers are to statics, and nothing writes through them.
unsafe impl<T: NodeDevice> Sync for AttributeGroups<T> {}

impl<T: NodeDevice> AttributeGroups<T> {
    /// The groups: `group` alone.
    pub(crate) const fn new(group: &'static Group<T>) -> Self {
        // INVARIANT: The attributes of a `Group<T>` are `Attribute<T>`s.
        Self {
            groups: [&raw const group.group, ptr::null()],
            _type: PhantomData,
        }
    }

    /// The array for `struct miscdevice.groups`.
    pub(super) fn as_raw(&'static self) -> *mut *const bindings::attribute_group {
        self.groups.as_ptr().cast_mut()
    }
}

/// The `show` callback of every [`Attribute<T>`]: writes the text of `attr`
/// of the node `dev` into `buf`, a page, and returns its length or `-errno`.
///
/// # Safety
///
/// `dev` must be the device of a registered `Node<T>` (whose drvdata is its
/// miscdevice: `misc_register` sets it), `attr` an [`Attribute<T>`] of it,
/// and `buf` a writable page: true when the kernel reads an attribute of
/// [`AttributeGroups<T>`], which only `Node<T>` registers.
unsafe extern "C" fn show<T: NodeDevice>(
    dev: *mut bindings::device,
    attr: *mut bindings::device_attribute,
    buf: *mut c_char,
) -> isize {
    // SAFETY: `dev` is a live device (the function's safety requirements);
    // its drvdata is the node's miscdevice.
    let misc = unsafe { (*dev).driver_data }.cast::<bindings::miscdevice>();
    // SAFETY: `attr` is the `attr` field of an `Attribute<T>`.
    let attr = unsafe {
        &*kernel::container_of!(
            attr.cast::<Opaque<bindings::device_attribute>>(),
            Attribute<T>,
            attr
        )
    };
    // SAFETY: `misc` is the miscdevice of a live `Node<T>`, which outlives
    // the reads of its attributes (deregistration drains them).
    let data = unsafe { Node::<T>::data_of_raw(misc) };
    let text = match T::show_attribute(data, attr.id) {
        Ok(text) => text,
        Err(e) => return e.to_errno() as isize,
    };
    let bytes = text.to_bytes();
    let len = bytes.len().min(PAGE_SIZE - 1);
    // SAFETY: `buf` is a writable page (the function's safety requirements)
    // and `len` is less than a page.
    unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), buf.cast::<u8>(), len) };
    len as isize
}
