// SPDX-License-Identifier: GPL-2.0

//! The events `f_op->poll` returns, as a set of `EPOLL*` bits.
//!
//! Belongs upstream in `rust/kernel/sync/poll.rs`, beside `PollTable`: the
//! kernel crate has no `EPOLL*` constants, and bindgen cannot generate them
//! (each is a `(__force __poll_t)` cast in `include/uapi/linux/eventpoll.h`).
//! The values are that header's, part of the user-space ABI.

use core::ops::BitOr;

/// A set of poll events.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PollEvents(u32);

impl PollEvents {
    /// No event.
    pub(crate) const NONE: Self = Self(0);
    /// `EPOLLIN`: there is data to read.
    pub(crate) const IN: Self = Self(0x0000_0001);
    /// `EPOLLPRI`: an exceptional condition.
    pub(crate) const PRI: Self = Self(0x0000_0002);
    /// `EPOLLOUT`: writing is possible.
    pub(crate) const OUT: Self = Self(0x0000_0004);
    /// `EPOLLERR`: an error condition, reported even when not asked for.
    pub(crate) const ERR: Self = Self(0x0000_0008);
    /// `EPOLLRDNORM`: normal data to read.
    pub(crate) const RDNORM: Self = Self(0x0000_0040);
    /// `EPOLLWRNORM`: normal data may be written.
    pub(crate) const WRNORM: Self = Self(0x0000_0100);

    /// `self` if `cond`, else no event.
    pub(crate) const fn when(self, cond: bool) -> Self {
        if cond {
            self
        } else {
            Self::NONE
        }
    }

    /// The `__poll_t` value.
    pub(crate) const fn bits(self) -> u32 {
        self.0
    }
}

impl BitOr for PollEvents {
    type Output = Self;

    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}
