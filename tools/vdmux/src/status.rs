// SPDX-License-Identifier: GPL-2.0

//! What `VDMUX_IOC_GET_STATUS` returns, as Rust types.

use crate::uapi;
use std::fmt;

/// The state of a virtual device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Its pages are the device memory.
    Foreground,
    /// Its pages are its backing store.
    Background,
    /// Ejected: reads, writes and new mappings fail with `ENODEV`, and an
    /// access through an existing mapping raises `SIGBUS`.
    Removed,
    /// The control node's status, which is no virtual device's.
    Control,
    /// A state this crate does not know: a newer driver's.
    Other(u32),
}

impl State {
    /// The state of `VDMUX_STATE_*` code `raw`.
    pub fn from_raw(raw: u32) -> Self {
        match raw {
            uapi::VDMUX_STATE_FOREGROUND => Self::Foreground,
            uapi::VDMUX_STATE_BACKGROUND => Self::Background,
            uapi::VDMUX_STATE_REMOVED => Self::Removed,
            uapi::VDMUX_STATE_CONTROL => Self::Control,
            other => Self::Other(other),
        }
    }
}

impl fmt::Display for State {
    /// The driver's own words (sysfs `state`, uevents, fdinfo).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Foreground => f.write_str("foreground"),
            Self::Background => f.write_str("background"),
            Self::Removed => f.write_str("removed"),
            Self::Control => f.write_str("control"),
            Self::Other(n) => write!(f, "state-{n}"),
        }
    }
}

/// The status of a node: of one virtual device, or of the whole
/// multiplexer on its control node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Status {
    /// The virtual device; `None` on the control node.
    pub index: Option<u32>,
    /// Its state; [`State::Control`] on the control node.
    pub state: State,
    /// The foreground virtual device, if any.
    pub foreground: Option<u32>,
    /// How many virtual devices the multiplexer has.
    pub nr_vdevs: u32,
    /// The reserved size in bytes, a page multiple: the size of every
    /// virtual device.
    pub reserved_size: u64,
    /// Bumped on every state change of this virtual device; on the control
    /// node, on any change of any of them and on every resize.
    pub generation: u64,
}

impl Status {
    /// The status the driver wrote into `raw`.
    pub fn from_raw(raw: &uapi::vdmux_status) -> Self {
        let some = |v| (v != uapi::VDMUX_NONE).then_some(v);
        Self {
            index: (raw.index != uapi::VDMUX_CONTROL).then_some(raw.index),
            state: State::from_raw(raw.state),
            foreground: some(raw.foreground),
            nr_vdevs: raw.nr_vdevs,
            reserved_size: raw.reserved_size,
            generation: raw.generation,
        }
    }

    /// Whether this is a virtual device's status, and that virtual device
    /// is the foreground.
    pub fn is_foreground(&self) -> bool {
        self.state == State::Foreground
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_from_the_header() {
        assert_eq!(
            State::from_raw(uapi::VDMUX_STATE_FOREGROUND),
            State::Foreground
        );
        assert_eq!(
            State::from_raw(uapi::VDMUX_STATE_BACKGROUND),
            State::Background
        );
        assert_eq!(State::from_raw(uapi::VDMUX_STATE_REMOVED), State::Removed);
        assert_eq!(State::from_raw(uapi::VDMUX_STATE_CONTROL), State::Control);
        assert_eq!(State::from_raw(7).to_string(), "state-7");
    }

    #[test]
    fn control_and_none_become_none() {
        let raw = uapi::vdmux_status {
            index: uapi::VDMUX_CONTROL,
            state: uapi::VDMUX_STATE_CONTROL,
            foreground: uapi::VDMUX_NONE,
            nr_vdevs: 4,
            reserved_size: 32768,
            generation: 9,
        };
        let s = Status::from_raw(&raw);
        assert_eq!(
            (s.index, s.foreground, s.state),
            (None, None, State::Control)
        );
        let raw = uapi::vdmux_status {
            index: 2,
            foreground: 2,
            state: uapi::VDMUX_STATE_FOREGROUND,
            ..raw
        };
        let s = Status::from_raw(&raw);
        assert_eq!((s.index, s.foreground), (Some(2), Some(2)));
        assert!(s.is_foreground());
    }
}
