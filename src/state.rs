// SPDX-License-Identifier: GPL-2.0

//! The state machine of the virtual devices.
//!
//! Each virtual device is FOREGROUND (its pages are the device memory),
//! BACKGROUND (its pages are its backing store) or REMOVED (every access
//! fails). At most one is in the foreground. A state change is planned first
//! ([`StateTable::plan_switch`] and friends, which validate and say what
//! memory must move) and committed only once the memory has moved, so a
//! failed allocation leaves the table as it was.

use kernel::prelude::*;

/// The state of one virtual device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VdevState {
    Foreground,
    Background,
    Removed,
}

/// A validated state change, and the memory it moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    /// Nothing to do: a switch to the current foreground.
    Nothing,
    /// Save `from` (if any) from the device memory to its backing store,
    /// load `to` into the device memory; both are invalidated.
    Switch { from: Option<usize>, to: usize },
    /// Save `vdev` to its backing store first if `was_foreground`; it is
    /// invalidated and refuses every access from then on.
    Eject { vdev: usize, was_foreground: bool },
    /// `vdev` comes back, in the background, with its content.
    Insert { vdev: usize },
}

struct Slot {
    state: VdevState,
    generation: u64,
}

/// The states of all virtual devices and their generation counters.
///
/// # Invariants
///
/// `foreground` is `Some(i)` exactly when `slots[i].state` is `Foreground`,
/// and no other slot is `Foreground`.
pub(crate) struct StateTable {
    slots: KVec<Slot>,
    foreground: Option<usize>,
    generation: u64,
}

impl StateTable {
    /// `nr` virtual devices (at least one): the first in the foreground, the
    /// others in the background.
    pub(crate) fn new(nr: usize) -> Result<Self> {
        if nr == 0 {
            return Err(EINVAL);
        }
        let mut slots = KVec::with_capacity(nr, GFP_KERNEL)?;
        for i in 0..nr {
            let state = if i == 0 {
                VdevState::Foreground
            } else {
                VdevState::Background
            };
            slots.push(
                Slot {
                    state,
                    generation: 0,
                },
                GFP_KERNEL,
            )?;
        }
        // INVARIANT: Only slot 0 is in the foreground.
        Ok(Self {
            slots,
            foreground: Some(0),
            generation: 0,
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// The state of `vdev`, which must be a valid index.
    pub(crate) fn state(&self, vdev: usize) -> VdevState {
        self.slots[vdev].state
    }

    pub(crate) fn foreground(&self) -> Option<usize> {
        self.foreground
    }

    /// The generation of `vdev`, which must be a valid index.
    pub(crate) fn generation(&self, vdev: usize) -> u64 {
        self.slots[vdev].generation
    }

    /// The generation of the whole table: bumped on any change.
    pub(crate) fn table_generation(&self) -> u64 {
        self.generation
    }

    /// `vdev` as an index of the table; `EINVAL` if it is not one.
    pub(crate) fn index(&self, vdev: u32) -> Result<usize> {
        let vdev = vdev as usize;
        if vdev < self.slots.len() {
            Ok(vdev)
        } else {
            Err(EINVAL)
        }
    }

    /// SWITCH: `EINVAL` for a bad index, `ENODEV` for a removed device.
    pub(crate) fn plan_switch(&self, vdev: u32) -> Result<Change> {
        let to = self.index(vdev)?;
        match self.slots[to].state {
            VdevState::Removed => Err(ENODEV),
            VdevState::Foreground => Ok(Change::Nothing),
            VdevState::Background => Ok(Change::Switch {
                from: self.foreground,
                to,
            }),
        }
    }

    /// EJECT: `EINVAL` for a bad index or a device already removed.
    pub(crate) fn plan_eject(&self, vdev: u32) -> Result<Change> {
        let vdev = self.index(vdev)?;
        match self.slots[vdev].state {
            VdevState::Removed => Err(EINVAL),
            state => Ok(Change::Eject {
                vdev,
                was_foreground: state == VdevState::Foreground,
            }),
        }
    }

    /// INSERT: `EINVAL` for a bad index or a device that is not removed.
    pub(crate) fn plan_insert(&self, vdev: u32) -> Result<Change> {
        let vdev = self.index(vdev)?;
        match self.slots[vdev].state {
            VdevState::Removed => Ok(Change::Insert { vdev }),
            _ => Err(EINVAL),
        }
    }

    /// Applies a change planned on this table (and not yet committed).
    pub(crate) fn commit(&mut self, change: Change) {
        match change {
            Change::Nothing => return,
            Change::Switch { from, to } => {
                if let Some(from) = from {
                    self.set(from, VdevState::Background);
                }
                self.set(to, VdevState::Foreground);
                // INVARIANT: `from` was the only foreground slot and is now
                // in the background; `to` is the only one.
                self.foreground = Some(to);
            }
            Change::Eject { vdev, .. } => {
                self.set(vdev, VdevState::Removed);
                if self.foreground == Some(vdev) {
                    // INVARIANT: The only foreground slot was removed.
                    self.foreground = None;
                }
            }
            Change::Insert { vdev } => self.set(vdev, VdevState::Background),
        }
        self.generation += 1;
    }

    /// Records a change that is not a state change (a resize).
    pub(crate) fn bump(&mut self) {
        self.generation += 1;
    }

    fn set(&mut self, vdev: usize, state: VdevState) {
        let slot = &mut self.slots[vdev];
        slot.state = state;
        slot.generation += 1;
    }
}

#[kernel::macros::kunit_tests(vdmux_state)]
mod tests {
    use super::*;

    #[test]
    fn initial_states() {
        let t = StateTable::new(3).unwrap();
        assert_eq!(t.foreground(), Some(0));
        assert_eq!(t.state(0), VdevState::Foreground);
        assert_eq!(t.state(1), VdevState::Background);
        assert_eq!(t.state(2), VdevState::Background);
        assert!(StateTable::new(0).is_err());
    }

    #[test]
    fn switch_moves_the_foreground() {
        let mut t = StateTable::new(3).unwrap();
        let c = t.plan_switch(2).unwrap();
        assert_eq!(
            c,
            Change::Switch {
                from: Some(0),
                to: 2
            }
        );
        t.commit(c);
        assert_eq!(t.foreground(), Some(2));
        assert_eq!(t.state(0), VdevState::Background);
        assert_eq!(t.state(2), VdevState::Foreground);
        assert_eq!(t.generation(0), 1);
        assert_eq!(t.generation(1), 0);
        assert_eq!(t.generation(2), 1);
        assert_eq!(t.table_generation(), 1);
    }

    #[test]
    fn switch_to_foreground_is_a_no_op() {
        let mut t = StateTable::new(2).unwrap();
        let c = t.plan_switch(0).unwrap();
        assert_eq!(c, Change::Nothing);
        t.commit(c);
        assert_eq!(t.table_generation(), 0);
        assert_eq!(t.generation(0), 0);
    }

    #[test]
    fn bad_indices_are_einval() {
        let t = StateTable::new(2).unwrap();
        assert_eq!(t.plan_switch(2), Err(EINVAL));
        assert_eq!(t.plan_eject(u32::MAX), Err(EINVAL));
        assert_eq!(t.plan_insert(2), Err(EINVAL));
    }

    #[test]
    fn eject_and_insert() {
        let mut t = StateTable::new(2).unwrap();
        let c = t.plan_eject(0).unwrap();
        assert_eq!(
            c,
            Change::Eject {
                vdev: 0,
                was_foreground: true
            }
        );
        t.commit(c);
        assert_eq!(t.foreground(), None);
        assert_eq!(t.state(0), VdevState::Removed);
        assert_eq!(t.plan_eject(0), Err(EINVAL));
        assert_eq!(t.plan_switch(0), Err(ENODEV));
        assert_eq!(t.plan_insert(1), Err(EINVAL));
        assert_eq!(
            t.plan_switch(1).unwrap(),
            Change::Switch { from: None, to: 1 }
        );
        let c = t.plan_insert(0).unwrap();
        t.commit(c);
        assert_eq!(t.state(0), VdevState::Background);
        assert_eq!(t.generation(0), 2);
        assert_eq!(t.table_generation(), 2);
    }

    #[test]
    fn eject_background_keeps_foreground() {
        let mut t = StateTable::new(2).unwrap();
        let c = t.plan_eject(1).unwrap();
        assert_eq!(
            c,
            Change::Eject {
                vdev: 1,
                was_foreground: false
            }
        );
        t.commit(c);
        assert_eq!(t.foreground(), Some(0));
    }

    #[test]
    fn switch_with_no_foreground() {
        let mut t = StateTable::new(3).unwrap();
        t.commit(t.plan_eject(0).unwrap());
        assert_eq!(t.foreground(), None);
        // Nothing to save: the switch only loads the new foreground.
        let c = t.plan_switch(2).unwrap();
        assert_eq!(c, Change::Switch { from: None, to: 2 });
        t.commit(c);
        assert_eq!(t.foreground(), Some(2));
        assert_eq!(t.state(0), VdevState::Removed);
        assert_eq!(t.state(1), VdevState::Background);
        assert_eq!(t.state(2), VdevState::Foreground);
        assert_eq!(t.generation(0), 1);
        assert_eq!(t.generation(1), 0);
        assert_eq!(t.generation(2), 1);
        assert_eq!(t.table_generation(), 2);
        // The removed vdev stays removed until inserted, and comes back in the background.
        assert_eq!(t.plan_switch(0), Err(ENODEV));
        t.commit(t.plan_insert(0).unwrap());
        assert_eq!(t.state(0), VdevState::Background);
        assert_eq!(t.foreground(), Some(2));
    }

    #[test]
    fn bump_counts_only_the_table() {
        let mut t = StateTable::new(2).unwrap();
        t.bump();
        t.bump();
        assert_eq!(t.table_generation(), 2);
        assert_eq!(t.generation(0), 0);
        assert_eq!(t.generation(1), 0);
        assert_eq!(t.foreground(), Some(0));
        assert_eq!(t.state(0), VdevState::Foreground);
        assert_eq!(t.state(1), VdevState::Background);
        t.commit(t.plan_switch(1).unwrap());
        assert_eq!(t.table_generation(), 3);
        assert_eq!(t.generation(1), 1);
    }
}
