// SPDX-License-Identifier: GPL-2.0

//! One virtual device's slot: where its bytes are, its backing store, and
//! the `address_space` every mapping of it shares.
//!
//! The rule that keeps every mapping on its own virtual device's bytes is
//! enforced here, by type: a location changes only through a [`Revoked`]
//! guard, and taking one takes the location lock exclusively *and* zaps
//! every mapping of the virtual device, in that order, as one operation
//! (vfio's `vfio_pci_zap_and_down_write_memory_lock`). So no page of the
//! old location can be mapped after the change: every fault, copy or
//! insertion holds the lock shared ([`Slot::shared`]) or exclusively
//! ([`Slot::exclusive`], which cannot change the location) from before it
//! reads the location until it is done with the store.
//!
//! Lock order: a state change that moves two virtual devices (a SWITCH)
//! revokes the old foreground first and the new one nested inside it; only
//! the holder of `Mux::changing` does that, so no two tasks nest them.

use crate::{
    rwsem::{
        ReadGuard,
        RwSem,
        WriteGuard, //
    },
    state::VdevState,
    store::Store,
    vm::{
        PseudoFs,
        SharedMapping, //
    },
};
use core::ops::Deref;
use kernel::{
    fs::File,
    prelude::*,
    sync::Arc, //
};

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
            location: KBox::pin_init(RwSem::new(location), GFP_KERNEL)?,
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

    /// The location, held shared: what a fault, a copy or a 4 KiB insertion
    /// holds while it uses the store there.
    pub(crate) fn shared(&self) -> ReadGuard<'_, Location> {
        self.location.read()
    }

    /// As [`Slot::shared`], without sleeping (`->map_pages`).
    pub(crate) fn try_shared(&self) -> Option<ReadGuard<'_, Location>> {
        self.location.try_read()
    }

    /// The location, held exclusively but unchanged: what a 2 MiB insertion
    /// or a truncation of the store there holds.
    pub(crate) fn exclusive(&self) -> Exclusive<'_> {
        Exclusive(self.location.write())
    }

    /// Takes the location exclusively and zaps every mapping: the only way
    /// to change where the bytes are.
    pub(crate) fn revoke(&self) -> Revoked<'_> {
        Revoked::zapped(self.location.write(), &self.mapping)
    }

    /// As [`Slot::revoke`], inside another slot's [`Revoked`] (a SWITCH
    /// moves two virtual devices); only for the holder of `Mux::changing`.
    pub(crate) fn revoke_nested(&self, _outer: &Revoked<'_>) -> Revoked<'_> {
        Revoked::zapped(self.location.write_nested(), &self.mapping)
    }
}

/// A location held exclusively, which cannot be changed through it.
pub(crate) struct Exclusive<'a>(WriteGuard<'a, Location>);

impl Deref for Exclusive<'_> {
    type Target = Location;

    fn deref(&self) -> &Location {
        &self.0
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
