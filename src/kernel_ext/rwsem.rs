// SPDX-License-Identifier: GPL-2.0

//! A reader-writer semaphore (`struct rw_semaphore`) protecting a value.
//!
//! The kernel crate has no abstraction for `rw_semaphore`. This is the
//! smallest one vdmux needs: shared guards for the many (page faults,
//! `read`, `write`), an exclusive guard for the one (a state change), and a
//! non-sleeping attempt at a shared guard for `->map_pages`, which runs
//! under `rcu_read_lock`. The caller names each semaphore's lockdep class,
//! as with the kernel crate's locks: [`new_rwsem!`] gives every semaphore
//! made at one place in the source one class, of the name given there. A
//! second semaphore of a class may be held only exclusively, with
//! [`RwSem::write_nested`], inside the first.
//!
//! Guards are `!Send`, as the kernel crate's are: a semaphore must be
//! released by the task that took it.
//!
//! Belongs upstream in `rust/kernel/sync/lock/`, as a `Backend` of the
//! generic `Lock` with a `ReadGuard`; it stays local while the kernel crate
//! has no shared-guard lock type.

use crate::helpers;
use core::{
    cell::UnsafeCell,
    marker::PhantomData,
    ops::{
        Deref,
        DerefMut, //
    },
};
use kernel::{
    bindings,
    prelude::*,
    sync::LockClassKey,
    types::Opaque, //
};

/// A new [`RwSem`] protecting `data`, whose lockdep class is that of every
/// semaphore made at this place in the source, named `name` (a string
/// literal; the source location when omitted).
macro_rules! new_rwsem {
    ($data:expr $(, $name:literal)? $(,)?) => {
        $crate::kernel_ext::rwsem::RwSem::new(
            $data,
            ::kernel::optional_name!($($name)?),
            ::kernel::sync::static_lock_class!(),
        )
    };
}
pub(crate) use new_rwsem;

/// A `T` behind a `struct rw_semaphore`.
///
/// # Invariants
///
/// `sem` is an initialised `rw_semaphore`; `data` is read only while `sem`
/// is held (shared or exclusive) and written only while it is held
/// exclusively.
#[pin_data]
pub(crate) struct RwSem<T> {
    #[pin]
    sem: Opaque<bindings::rw_semaphore>,
    data: UnsafeCell<T>,
}

// SAFETY: The semaphore may be taken and released from any thread, and it
// hands out `&T` to several threads at once and `&mut T` to one.
unsafe impl<T: Send + Sync> Sync for RwSem<T> {}

// SAFETY: Moving the value between threads moves the `T`.
unsafe impl<T: Send> Send for RwSem<T> {}

impl<T> RwSem<T> {
    /// A new semaphore, not held, protecting `data`, of lockdep class
    /// `key` named `name`. See [`new_rwsem!`].
    pub(crate) fn new(
        data: T,
        name: &'static CStr,
        key: Pin<&'static LockClassKey>,
    ) -> impl PinInit<Self> {
        // INVARIANT: `__init_rwsem` initialises `sem` in place.
        pin_init!(Self {
            // SAFETY: `slot` is valid, pinned memory for the semaphore;
            // `name` and `key` are static, as lockdep needs them to be.
            sem <- Opaque::ffi_init(|slot| unsafe {
                bindings::__init_rwsem(slot, name.as_char_ptr(), key.as_ptr())
            }),
            data: UnsafeCell::new(data),
        })
    }

    /// Takes the semaphore shared, sleeping while a writer holds it.
    pub(crate) fn read(&self) -> ReadGuard<'_, T> {
        // SAFETY: `sem` is initialised (type invariants).
        unsafe { bindings::down_read(self.sem.get()) };
        // INVARIANT: The semaphore is held shared until the guard drops.
        ReadGuard {
            lock: self,
            _not_send: PhantomData,
        }
    }

    /// Takes the semaphore shared if that needs no sleep: callable in
    /// atomic context.
    pub(crate) fn try_read(&self) -> Option<ReadGuard<'_, T>> {
        // SAFETY: `sem` is initialised (type invariants).
        if unsafe { bindings::down_read_trylock(self.sem.get()) } == 0 {
            return None;
        }
        // INVARIANT: The semaphore is held shared until the guard drops.
        Some(ReadGuard {
            lock: self,
            _not_send: PhantomData,
        })
    }

    /// Takes the semaphore exclusively, sleeping until every holder is gone.
    pub(crate) fn write(&self) -> WriteGuard<'_, T> {
        // SAFETY: `sem` is initialised (type invariants).
        unsafe { bindings::down_write(self.sem.get()) };
        // INVARIANT: The semaphore is held exclusively until the guard drops.
        WriteGuard {
            lock: self,
            _not_send: PhantomData,
        }
    }

    /// Takes the semaphore exclusively while the caller holds another one
    /// of this class exclusively (lockdep's `SINGLE_DEPTH_NESTING`). The
    /// caller must order the two consistently, or hold an outer lock that
    /// makes it the only one nesting them.
    pub(crate) fn write_nested(&self) -> WriteGuard<'_, T> {
        // SAFETY: `sem` is initialised (type invariants).
        unsafe {
            helpers::vdmux_down_write_nested(self.sem.get(), bindings::SINGLE_DEPTH_NESTING as i32)
        };
        // INVARIANT: The semaphore is held exclusively until the guard drops.
        WriteGuard {
            lock: self,
            _not_send: PhantomData,
        }
    }
}

/// The semaphore held shared.
///
/// # Invariants
///
/// `lock.sem` is held shared by this guard.
pub(crate) struct ReadGuard<'a, T> {
    lock: &'a RwSem<T>,
    _not_send: PhantomData<*mut ()>,
}

impl<T> Deref for ReadGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: The semaphore is held shared (type invariants), so nobody
        // writes the data.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> Drop for ReadGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: Held shared by this guard (type invariants).
        unsafe { bindings::up_read(self.lock.sem.get()) };
    }
}

/// The semaphore held exclusively.
///
/// # Invariants
///
/// `lock.sem` is held exclusively by this guard.
pub(crate) struct WriteGuard<'a, T> {
    lock: &'a RwSem<T>,
    _not_send: PhantomData<*mut ()>,
}

impl<T> Deref for WriteGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: Held exclusively (type invariants).
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> DerefMut for WriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: Held exclusively (type invariants): nobody else reads or
        // writes the data.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for WriteGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: Held exclusively by this guard (type invariants).
        unsafe { bindings::up_write(self.lock.sem.get()) };
    }
}
