// SPDX-License-Identifier: GPL-2.0

//! State changes as transactions: SWITCH, EJECT, INSERT, a PCI unbind,
//! SET_RESERVED_SIZE and the growth of an autogrow store.

use super::{
    slot::{
        Changing,
        Location, //
    },
    Mux, //
};
use crate::{
    config,
    events::Changes,
    state::Change, //
};
use core::sync::atomic::Ordering;
use kernel::{
    page::PAGE_SIZE,
    prelude::*,
    sync::MutexGuard, //
};

impl Mux {
    /// `VDMUX_IOC_SWITCH`: `vdev` becomes the foreground.
    pub(crate) fn switch(&self, vdev: u32) -> Result {
        let changes = self.switch_locked(vdev, false)?;
        self.changed(changes);
        Ok(())
    }

    /// A SWITCH as one transaction: the virtual devices it moves are
    /// revoked (locked and zapped) first, so that neither store can gain a
    /// chunk while it allocates; then it allocates and prepares both copies,
    /// runs them (the save, then the load), and sets both locations. A
    /// failure to prepare changes nothing, and a prepared copy cannot fail
    /// ([`PreparedCopy`](crate::device_memory::PreparedCopy)). `by_access`
    /// when context management makes it for an access (see `ctxmgt.rs`).
    pub(super) fn switch_locked(&self, vdev: u32, by_access: bool) -> Result<Changes> {
        let changing = self.changing.lock();
        let change = self.state.lock().table.plan_switch(vdev)?;
        let Change::Switch { from, to } = change else {
            if !by_access {
                // A SWITCH to the foreground restarts its hold all the same.
                let _state = self.state.lock();
                self.ctx.switched(vdev as usize, false);
            }
            return Ok(Changes::default());
        };
        let size = self.reserved_size();
        let mut old = from.map(|from| (from, self.slots[from].revoke()));
        let mut new = match &old {
            Some((_, outer)) => self.slots[to].revoke_nested(outer, &changing),
            None => self.slots[to].revoke(),
        };
        let device_memory = self.slots.device_memory();
        // The save first: the chunks the load then adds to the device
        // memory hold no byte of the old foreground, and need no room in
        // its backing store.
        let save = old
            .as_ref()
            .map(|(from, _)| device_memory.prepare_save(self.slots[*from].backing(), size))
            .transpose()?;
        let load = device_memory.prepare_load(self.slots[to].backing(), size)?;
        // Everything is allocated and checked: from here nothing can fail.
        if let Some(save) = save {
            save.run();
        }
        load.run();
        if let Some((_, location)) = &mut old {
            location.set(Location::BackingStore);
        }
        new.set(Location::DeviceMemory);
        Ok(self.commit_switch(change, by_access))
    }

    /// Commits a state change that `changing` serialized, while holding the
    /// location semaphore of every virtual device it moves, so that the
    /// state user space reads agrees with what its accesses get (a SIGBUS
    /// after EJECT, say); what to notify.
    fn commit(&self, change: Change) -> Changes {
        self.commit_switch(change, false)
    }

    /// As [`Mux::commit`]; a new foreground's hold (or, `by_access`, its
    /// grace) starts with it, under `state`, so that a waiting access sees
    /// both together.
    fn commit_switch(&self, change: Change, by_access: bool) -> Changes {
        let mut state = self.state.lock();
        state.table.commit(change);
        if let Change::Switch { to, .. } = change {
            self.ctx.switched(to, by_access);
        }
        Changes::of(&state.table, change)
    }

    /// `VDMUX_IOC_EJECT`: `vdev` refuses every access from now on.
    pub(crate) fn eject(&self, vdev: u32) -> Result {
        let changes = self.eject_locked(vdev)?;
        self.changed(changes);
        Ok(())
    }

    fn eject_locked(&self, vdev: u32) -> Result<Changes> {
        let _changing = self.changing.lock();
        let change = self.state.lock().table.plan_eject(vdev)?;
        let Change::Eject {
            vdev,
            was_foreground,
        } = change
        else {
            return Err(EINVAL);
        };
        let size = self.reserved_size();
        // As for a SWITCH: revoked before the allocation, so that the store
        // cannot gain a chunk meanwhile.
        let slot = &self.slots[vdev];
        let mut location = slot.revoke();
        if was_foreground {
            self.slots
                .device_memory()
                .prepare_save(slot.backing(), size)?
                .run();
        }
        location.set(Location::Nowhere);
        Ok(self.commit(change))
    }

    /// `VDMUX_IOC_INSERT`: a removed `vdev` comes back in the background.
    pub(crate) fn insert(&self, vdev: u32) -> Result {
        let changes = {
            let _changing = self.changing.lock();
            if self.detached.load(Ordering::Relaxed) {
                return Err(ENODEV);
            }
            let change = self.state.lock().table.plan_insert(vdev)?;
            let Change::Insert { vdev: index } = change else {
                return Err(EINVAL);
            };
            // Removed, its mappings have no entries; the zap finds none.
            let mut location = self.slots[index].revoke();
            location.set(Location::BackingStore);
            self.commit(change)
        };
        self.changed(changes);
        Ok(())
    }

    /// Removes every virtual device for good and gives back the device
    /// memory's BAR, when its device is being unbound: every mapping is
    /// revoked (their next access raises SIGBUS, as after EJECT), every
    /// state change fails from now on, and the foreground's bytes go with
    /// the device.
    pub(crate) fn detach(&self) -> Option<KBox<crate::bar::BarMemory>> {
        let changing = self.changing.lock();
        self.detached.store(true, Ordering::Relaxed);
        for vdev in 0..self.config.nr_vdevs {
            let mut location = self.slots[vdev].revoke();
            location.set(Location::Nowhere);
            let mut state = self.state.lock();
            if let Ok(change @ Change::Eject { .. }) = state.table.plan_eject(vdev as u32) {
                state.table.commit(change);
            }
        }
        // SAFETY: Every location is `Nowhere`, set under each one's
        // semaphore held exclusively after the zap, so no fault, copy or
        // mapping of the device memory is in progress or can start (a fault
        // of a removed virtual device maps nothing, an mmap of one is
        // refused); state changes, the only other users, are excluded by
        // `changing` and refused from now on by `detached`.
        let bar = unsafe { self.slots.device_memory().detach() };
        drop(changing);
        self.changed.notify_all();
        self.ctx.wake();
        bar
    }

    /// `VDMUX_IOC_SET_RESERVED_SIZE`: growing is allowed while mapped,
    /// shrinking is not (`EBUSY`).
    pub(crate) fn resize(&self, size: u64) -> Result {
        let _changing = self.changing.lock();
        if self.detached.load(Ordering::Relaxed) {
            return Err(ENODEV);
        }
        // A BAR bounds the size: past it, there is no memory to be had. Read
        // under `changing`, which `detach` holds while it takes the BAR away.
        if let Some(capacity) = self.slots.device_memory().capacity() {
            if size > capacity as u64 && size <= config::MAX_RESERVED_LIMIT {
                return Err(ENOMEM);
            }
        }
        let size = self.config.resize_target(size).ok_or(EINVAL)?;
        let old = self.reserved_size();
        if size == old {
            return Ok(());
        }
        let foreground = {
            let mut state = self.state.lock();
            // Checked and published under `state`, which every mmap takes:
            // no mapping of the old size can begin once this is done.
            if size < old && state.mapped.iter().any(|&n| n > 0) {
                return Err(EBUSY);
            }
            self.reserved_size.store(size, Ordering::Release);
            state.table.bump();
            state.table.foreground()
        };
        if size < old {
            self.shrink(foreground, size);
        }
        drop(_changing);
        self.changed(Changes {
            resized: Some(size),
            ..Changes::default()
        });
        Ok(())
    }

    /// Truncates every store to `size`, each under the location semaphore
    /// of the virtual device that uses it, once the reserved size is `size`.
    fn shrink(&self, foreground: Option<usize>, size: usize) {
        for vdev in 0..self.config.nr_vdevs {
            let location = self.slots.exclusive(vdev);
            // SAFETY: Nothing was mapped when the size was made `size`, and
            // no mapping past it can be made since (the caller's check and
            // `map` hold `state`); the semaphore held exclusively keeps
            // `read`/`write` of `vdev` away from its backing store and, if
            // it is the foreground, from the device memory; state changes
            // are excluded by `changing`. `truncate` fails only on ranges
            // that cannot occur here.
            unsafe {
                let _ = self.slots[vdev].backing().truncate(size);
                if location.location() == Location::DeviceMemory {
                    let _ = self.slots.device_memory().truncate(size);
                }
            }
        }
        if foreground.is_none() {
            // SAFETY: With no foreground the device memory is nobody's
            // location: only holders of `changing` use it.
            let _ = unsafe { self.slots.device_memory().truncate(size) };
        }
    }

    /// Grows the reserved size to the end of page `pgoff` for an autogrow
    /// store of `vdev` there, after allocating the chunk that page is in
    /// where the bytes of `vdev` are now, so that a growth that cannot be
    /// allocated changes nothing. Returns `changing`, held: until it is
    /// released, `vdev` stays where that chunk was allocated (also when
    /// another store grew the buffer first).
    pub(super) fn grow_for_store(
        &self,
        vdev: usize,
        pgoff: usize,
    ) -> Result<MutexGuard<'_, Changing>> {
        let end = pgoff
            .checked_add(1)
            .and_then(|p| p.checked_mul(PAGE_SIZE))
            .ok_or(EINVAL)?;
        if end > self.config.max_reserved_size {
            return Err(EINVAL);
        }
        let changing = self.changing.lock();
        // The location cannot change while `changing` is held.
        let location = Location::of(self.state.lock().table.state(vdev));
        self.slots
            .store_at(vdev, location)
            .ok_or(ENODEV)?
            .allocate_at(pgoff * PAGE_SIZE)?;
        if end <= self.reserved_size() {
            // Another store grew it meanwhile (its chunk may have been
            // allocated where `vdev` was then).
            return Ok(changing);
        }
        {
            let mut state = self.state.lock();
            self.reserved_size.store(end, Ordering::Release);
            state.table.bump();
        }
        self.changed.notify_all();
        // Uses no node: see `Notifier::grown_by_store`.
        self.notifier.grown_by_store();
        Ok(changing)
    }
}
