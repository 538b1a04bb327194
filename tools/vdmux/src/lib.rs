// SPDX-License-Identifier: GPL-2.0

//! Programs' access to the vdmux driver.
//!
//! vdmux multiplexes one reserved buffer of device memory among virtual
//! devices that processes map with `mmap(2)`. The control node,
//! `/dev/vdmux` ([`Mux`]), brings one virtual device to the foreground
//! ([`Mux::switch`]), removes and inserts them ([`Mux::eject`],
//! [`Mux::insert`]) and resizes them all ([`Mux::resize`]); each virtual
//! device, `/dev/vdmuxN` ([`Vdev`]), is memory to map ([`Vdev::map`],
//! giving a [`Mapping`]), to read and to write, whose bytes follow it
//! through every state change. Every node reports its status
//! ([`Status`]), waits for a virtual device to come to the foreground
//! ([`Mux::wait_foreground`]) and streams its changes ([`Events`]). With
//! context management ([`Mux::set_ctxmgt`]), an access to a background
//! virtual device brings it to the foreground by itself.
//!
//! Every call is one system call on a node, and fails with the errno the
//! driver gave ([`Error::errno`]); vdmux(4) says what each errno of each
//! request means. `include/uapi/vdmux.h` is the ABI, mirrored in
//! [`uapi`].
//!
//! # Example
//!
//! Two virtual devices, each mapped; a switch moves their bytes between the
//! device memory and a backing store, and each mapping still sees its own:
//!
//! ```no_run
#![doc = include_str!("../examples/map_and_switch.rs")]
//! ```
//!
//! Needs root (the control node is root's, and state changes need
//! `CAP_SYS_ADMIN`); a member of group `vdmux` may use [`Vdev::open_index`],
//! reads, writes and mappings, and wait for the foreground.

mod ctxmgt;
mod error;
mod events;
mod mapping;
mod mux;
mod node;
mod status;
pub mod uapi;
mod vdev;

pub use ctxmgt::Ctxmgt;
pub use error::{Call, Error, Result};
pub use events::{Event, Events};
pub use mapping::Mapping;
pub use mux::Mux;
pub use status::{State, Status};
pub use vdev::Vdev;

/// How a node is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// For reading: mappings are read-only.
    ReadOnly,
    /// For writing: no mappings; [`Vdev::write_at`] and
    /// [`Vdev::set_autogrow`] only.
    WriteOnly,
    /// For reading and writing: mappings are writable.
    ReadWrite,
}
