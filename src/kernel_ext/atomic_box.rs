// SPDX-License-Identifier: GPL-2.0

//! [`AtomicBox`]: a slot that holds a boxed value or nothing, read without
//! a lock, filled at most once by whichever thread comes first, and emptied
//! by its owner once nobody reads it any more.
//!
//! Belongs upstream in `rust/kernel/sync/`: the kernel crate's `SetOnce`
//! cannot be emptied, and `Revocable` hands out its value only under
//! `rcu_read_lock`, where the users here (copies of megabytes, which
//! reschedule) may not sleep.

use core::{
    marker::PhantomData,
    ptr,
    sync::atomic::{
        AtomicPtr,
        Ordering, //
    },
};
use kernel::prelude::*;

/// A `KBox<T>` or nothing.
///
/// # Invariants
///
/// `ptr` is null or a pointer from `KBox::into_raw`, owned by this value.
pub(crate) struct AtomicBox<T> {
    ptr: AtomicPtr<T>,
    // Neither `Send` nor `Sync` by itself: see the impls below.
    _owns: PhantomData<*mut T>,
}

// SAFETY: Moving the slot moves the `T` it owns.
unsafe impl<T: Send> Send for AtomicBox<T> {}

// SAFETY: Shared references give `&T` to several threads (`T: Sync`), and
// `take` may move the `T` out from any of them (`T: Send`).
unsafe impl<T: Send + Sync> Sync for AtomicBox<T> {}

impl<T> AtomicBox<T> {
    /// An empty slot.
    pub(crate) const fn empty() -> Self {
        // INVARIANT: Null.
        Self {
            ptr: AtomicPtr::new(ptr::null_mut()),
            _owns: PhantomData,
        }
    }

    /// A slot holding `value`.
    pub(crate) fn new(value: KBox<T>) -> Self {
        // INVARIANT: A pointer from `KBox::into_raw`, owned by the slot.
        Self {
            ptr: AtomicPtr::new(KBox::into_raw(value)),
            _owns: PhantomData,
        }
    }

    /// The value, if the slot holds one.
    pub(crate) fn get(&self) -> Option<&T> {
        // SAFETY: Non-null, the pointer is a live box owned by `self` (type
        // invariants), freed only by `take`, whose caller guarantees that no
        // reference from here is in use.
        unsafe { self.ptr.load(Ordering::Acquire).as_ref() }
    }

    /// The value, after putting `value` into the slot if it was empty
    /// (else `value` is dropped: another thread came first).
    pub(crate) fn get_or_put(&self, value: KBox<T>) -> &T {
        let new = KBox::into_raw(value);
        // INVARIANT: If the slot was empty, it owns `new` from now on.
        if let Err(theirs) =
            self.ptr
                .compare_exchange(ptr::null_mut(), new, Ordering::AcqRel, Ordering::Acquire)
        {
            // SAFETY: `new` came from `KBox::into_raw` above and was never
            // shared.
            drop(unsafe { KBox::from_raw(new) });
            // SAFETY: As in `get`: `theirs` is non-null, a live box of the
            // slot's.
            return unsafe { &*theirs };
        }
        // SAFETY: As in `get`: `new` is now the slot's live box.
        unsafe { &*new }
    }

    /// Empties the slot, giving back what it held.
    ///
    /// # Safety
    ///
    /// No reference returned by [`AtomicBox::get`] or
    /// [`AtomicBox::get_or_put`] may be in use, nor be used later.
    pub(crate) unsafe fn take(&self) -> Option<KBox<T>> {
        let raw = self.ptr.swap(ptr::null_mut(), Ordering::AcqRel);
        // SAFETY: Non-null, `raw` came from `KBox::into_raw` (type
        // invariants) and is no longer in the slot; no reference to it is
        // in use (the function's safety requirements).
        (!raw.is_null()).then(|| unsafe { KBox::from_raw(raw) })
    }
}

impl<T> Drop for AtomicBox<T> {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: no reference from `get` is in use.
        drop(unsafe { self.take() });
    }
}
