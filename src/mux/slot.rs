// SPDX-License-Identifier: GPL-2.0

//! One virtual device's slot: where its bytes are, its backing store, and
//! the `address_space` every mapping of it shares.
//!
//! The rule that keeps every mapping on its own virtual device's bytes is
//! enforced here, by type:
//!
//! - a location changes only through a [`Revoked`] guard, and taking one
//!   takes the location lock exclusively *and* zaps every mapping of the
//!   virtual device, in that order, as one operation (vfio's
//!   `vfio_pci_zap_and_down_write_memory_lock`);
//! - a page is inserted only through a [`Located`] guard, which holds the
//!   location lock (shared for page entries, exclusively for PMD ones),
//!   names the store itself, and checks that the fault's VMA maps this
//!   virtual device.
//!
//! So no page of an old location can be mapped after a change, and no
//! caller can map a store that is not where the bytes are.
//!
//! Lock order: a state change that moves two virtual devices (a SWITCH)
//! revokes the old foreground first and the new one nested inside it; only
//! the holder of `Mux::changing` does that, so no two tasks nest them.

use crate::{
    device_memory::DeviceMemory,
    kernel_ext::{
        anon_mapping::{
            PseudoFs,
            SharedMapping, //
        },
        fault::{
            AroundFault,
            HugeFault,
            PageFault, //
        },
        pfnmap::{
            FaultDone,
            FaultError,
            HugeMapped, //
        },
        rwsem::{
            new_rwsem,
            ReadGuard,
            RwSem,
            WriteGuard, //
        },
        user_vmas::UserMapping,
    },
    state::VdevState,
    store::{
        Bytes,
        Store, //
    },
};
use core::ops::{
    Deref,
    Index,
    Range, //
};
use kernel::{
    fs::File,
    prelude::*,
    sync::{
        Arc,
        MutexGuard, //
    },
};

/// What `Mux::changing` holds: nothing but the right to change state, which
/// its guard proves (to [`Slot::revoke_nested`], for one).
pub(crate) struct Changing(());

impl Changing {
    pub(super) fn new() -> Self {
        Self(())
    }
}

/// Where the bytes of a virtual device are now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Location {
    DeviceMemory,
    BackingStore,
    /// Removed: every access fails.
    Nowhere,
}

impl Location {
    pub(crate) fn of(state: VdevState) -> Self {
        match state {
            VdevState::Foreground => Self::DeviceMemory,
            VdevState::Background => Self::BackingStore,
            VdevState::Removed => Self::Nowhere,
        }
    }
}

/// One virtual device: its location behind its lock, its backing store, and
/// the `address_space` its mappings share.
pub(crate) struct Slot {
    location: Pin<KBox<RwSem<Location>>>,
    mapping: SharedMapping,
    backing: Store,
}

impl Slot {
    pub(crate) fn new(fs: &Arc<PseudoFs>, max_size: usize, location: Location) -> Result<Self> {
        Ok(Self {
            location: KBox::pin_init(new_rwsem!(location, "vdmux::Slot::location"), GFP_KERNEL)?,
            mapping: SharedMapping::new(fs)?,
            backing: Store::new(max_size)?,
        })
    }

    /// The backing store: the virtual device's bytes while it is in the
    /// background, used by others only under `Mux::changing`.
    pub(crate) fn backing(&self) -> &Store {
        &self.backing
    }

    /// The `address_space` of every mapping of the virtual device.
    pub(crate) fn mapping(&self) -> &SharedMapping {
        &self.mapping
    }

    /// Makes `file`, being opened on this virtual device, share its
    /// `address_space`.
    ///
    /// # Safety
    ///
    /// As for [`SharedMapping::attach`].
    pub(crate) unsafe fn attach(&self, file: &File) {
        // SAFETY: The function's safety requirements are those of `attach`.
        unsafe { self.mapping.attach(file) };
    }

    fn shared(&self) -> ReadGuard<'_, Location> {
        self.location.read()
    }

    fn try_shared(&self) -> Option<ReadGuard<'_, Location>> {
        self.location.try_read()
    }

    fn exclusive(&self) -> WriteGuard<'_, Location> {
        self.location.write()
    }

    /// Takes the location exclusively and zaps every mapping: the only way
    /// to change where the bytes are.
    pub(crate) fn revoke(&self) -> Revoked<'_> {
        Revoked::zapped(self.location.write(), &self.mapping)
    }

    /// As [`Slot::revoke`], inside another slot's [`Revoked`] (a SWITCH
    /// moves two virtual devices), by the holder of `Mux::changing`: no two
    /// tasks nest location locks, so they cannot nest them in opposite
    /// orders.
    pub(crate) fn revoke_nested(
        &self,
        _outer: &Revoked<'_>,
        _changing: &MutexGuard<'_, Changing>,
    ) -> Revoked<'_> {
        Revoked::zapped(self.location.write_nested(), &self.mapping)
    }
}

/// A location held exclusively after every mapping of its virtual device
/// was zapped.
///
/// # Invariants
///
/// No page table entry of the virtual device was inserted since the zap:
/// every insertion holds the location lock, held here.
pub(crate) struct Revoked<'a> {
    location: WriteGuard<'a, Location>,
}

impl<'a> Revoked<'a> {
    fn zapped(location: WriteGuard<'a, Location>, mapping: &SharedMapping) -> Self {
        // The TLBs are flushed when the zap returns: no CPU writes through
        // an old entry after this, so no write is lost by a copy that
        // follows.
        mapping.unmap_all();
        // INVARIANT: Zapped after taking the lock, which every insertion
        // holds.
        Self { location }
    }

    /// Moves the virtual device's bytes to `to`: its next access faults and
    /// maps from there.
    pub(crate) fn set(&mut self, to: Location) {
        *self.location = to;
    }
}

impl Deref for Revoked<'_> {
    type Target = Location;

    fn deref(&self) -> &Location {
        &self.location
    }
}

/// Every virtual device's slot, and the device memory that the foreground's
/// location names: what a location guard needs to name the store there, so
/// that nothing outside this file picks the store to map.
pub(crate) struct Slots {
    device_memory: DeviceMemory,
    slots: KVec<Slot>,
}

impl Slots {
    pub(crate) fn new(device_memory: DeviceMemory, slots: KVec<Slot>) -> Self {
        Self {
            device_memory,
            slots,
        }
    }

    /// The device memory: the foreground's bytes, used by others only
    /// under `Mux::changing`.
    pub(crate) fn device_memory(&self) -> &DeviceMemory {
        &self.device_memory
    }

    /// The store at `location` for `vdev`, without holding its location:
    /// for an allocation by the holder of `Mux::changing`, under which
    /// `location` cannot change. `None` when removed.
    pub(crate) fn store_at(&self, vdev: usize, location: Location) -> Option<&dyn Bytes> {
        store_at(location, &self.device_memory, &self.slots[vdev])
    }

    /// The location of `vdev`, held shared: what a fault, a copy or a page
    /// insertion holds while it uses the store there.
    pub(crate) fn shared(&self, vdev: usize) -> Located<'_, ReadGuard<'_, Location>> {
        self.located(vdev, self.slots[vdev].shared())
    }

    /// As [`Slots::shared`], without sleeping (`->map_pages`).
    pub(crate) fn try_shared(&self, vdev: usize) -> Option<Located<'_, ReadGuard<'_, Location>>> {
        Some(self.located(vdev, self.slots[vdev].try_shared()?))
    }

    /// The location of `vdev`, held exclusively but unchanged: what a PMD
    /// insertion or a truncation of the store there holds.
    pub(crate) fn exclusive(&self, vdev: usize) -> Located<'_, WriteGuard<'_, Location>> {
        self.located(vdev, self.slots[vdev].exclusive())
    }

    /// `guard` must hold the location lock of slot `vdev`.
    fn located<'a, G: Deref<Target = Location>>(&'a self, vdev: usize, guard: G) -> Located<'a, G> {
        // INVARIANT: The callers above pass a guard of slot `vdev`'s lock,
        // and `device_memory` is this `Slots`'.
        Located {
            guard,
            slot: &self.slots[vdev],
            device_memory: &self.device_memory,
        }
    }
}

impl Index<usize> for Slots {
    type Output = Slot;

    fn index(&self, vdev: usize) -> &Slot {
        &self.slots[vdev]
    }
}

/// A virtual device's location, held (shared or exclusively, as `G` says)
/// until this is dropped, and the store there: the proof the insertion
/// functions ask for.
///
/// # Invariants
///
/// `guard` holds `slot`'s location lock, and `device_memory` is the device
/// memory of the `Slots` that `slot` belongs to.
pub(crate) struct Located<'a, G> {
    guard: G,
    slot: &'a Slot,
    device_memory: &'a DeviceMemory,
}

impl<'a, G: Deref<Target = Location>> Located<'a, G> {
    /// Where the bytes are.
    pub(crate) fn location(&self) -> Location {
        *self.guard
    }

    /// The store where the bytes are; `None` while removed.
    pub(crate) fn store(&self) -> Option<&dyn Bytes> {
        store_at(*self.guard, self.device_memory, self.slot)
    }
}

impl Located<'_, ReadGuard<'_, Location>> {
    /// Maps the faulting page from the store where the bytes are, with the
    /// pages `around` (see [`PageFault::map_page`]); SIGBUS while removed
    /// or for a fault on another virtual device's mapping.
    pub(crate) fn map_page(
        &self,
        fault: &PageFault,
        around: Range<usize>,
    ) -> Result<FaultDone, FaultError> {
        if !fault.maps(&self.slot.mapping) {
            return Err(FaultError::SigBus);
        }
        let store = self.store().ok_or(FaultError::SigBus)?;
        // SAFETY: `store` is where the bytes of the VMA's object (this slot,
        // checked above) are now, and the location lock, held shared until
        // `self` is dropped, is held exclusively by every zap of its
        // mappings (`Slot::revoke`) and by every huge insertion
        // (`Slots::exclusive`). A chunk of a store is freed only by a
        // truncation, which the device refuses while anything is mapped,
        // or with the store, which the mappings keep alive.
        unsafe { fault.map_page(store, around) }
    }

    /// As [`Located::map_page`], without sleeping: whether the faulting
    /// page is now mapped (see [`AroundFault::map_into_table`]).
    pub(crate) fn map_into_table(&self, fault: &AroundFault, window: Range<usize>) -> bool {
        let Some(store) = self.store().filter(|_| fault.maps(&self.slot.mapping)) else {
            return false;
        };
        // SAFETY: As in `map_page`.
        unsafe { fault.map_into_table(store, window) }
    }

    /// Maps the pages `span` of the store where the bytes are into `part`
    /// of a mapping of the calling process (POPULATE); `ENODEV` while
    /// removed, `EINVAL` for another virtual device's mapping.
    pub(crate) fn populate(&self, part: &UserMapping<'_>, span: Range<usize>) -> Result {
        if !part.maps(&self.slot.mapping) {
            return Err(EINVAL);
        }
        let store = self.store().ok_or(ENODEV)?;
        // SAFETY: As in `map_page`.
        unsafe { part.map(store, span) }
    }
}

impl Located<'_, WriteGuard<'_, Location>> {
    /// Maps the PMD block around the fault with one PMD entry, or falls
    /// back (see [`HugeFault::map_huge`]); SIGBUS as [`Located::map_page`].
    pub(crate) fn map_huge(
        &self,
        fault: &HugeFault,
        object_pages: usize,
    ) -> Result<HugeMapped, FaultError> {
        if !fault.maps(&self.slot.mapping) {
            return Err(FaultError::SigBus);
        }
        let store = self.store().ok_or(FaultError::SigBus)?;
        // SAFETY: As in `map_page`, with the lock held exclusively, which
        // also excludes every page insertion.
        unsafe { fault.map_huge(store, object_pages) }
    }
}

/// The store where a location puts `slot`'s bytes: the device memory, its
/// backing store, or none while removed.
fn store_at<'a>(
    location: Location,
    device_memory: &'a DeviceMemory,
    slot: &'a Slot,
) -> Option<&'a dyn Bytes> {
    match location {
        Location::DeviceMemory => Some(device_memory),
        Location::BackingStore => Some(&slot.backing),
        Location::Nowhere => None,
    }
}
