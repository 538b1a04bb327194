// SPDX-License-Identifier: GPL-2.0

//! Changes of a node, as a stream of events built on epoll.
//!
//! The driver reports `EPOLLPRI` on an open file of a node while the node's
//! generation differs from the one `VDMUX_IOC_GET_STATUS` last returned
//! through that file. The stream has its own open file of the node, so
//! status reads elsewhere do not hide changes from it; it watches the file
//! edge-triggered (a removed virtual device reports `EPOLLERR` for as long
//! as it is removed) and reads the status before every sleep, so that a
//! change between the read and the sleep wakes the sleep.

use crate::{Call, Result, Status, node::Node};
use nix::{
    errno::Errno,
    sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout},
};
use std::{
    fs::File,
    os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd},
    path::PathBuf,
    time::{Duration, Instant},
};

/// One or more changes of a node, seen together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Event {
    /// The node's status after them.
    pub status: Status,
    /// How many changes the generation counted since the last event (or
    /// since the stream was made): more than 1 when several came between
    /// two reads.
    pub changes: u64,
}

/// The changes of one node ([`Mux::events`](crate::Mux::events),
/// [`Vdev::events`](crate::Vdev::events)).
///
/// As an [`Iterator`] it blocks until the next change; it never ends.
/// [`next_timeout`](Self::next_timeout) waits at most so long, and
/// [`try_next`](Self::try_next) not at all. Through [`AsRawFd`] it is an
/// epoll file that is readable while a change may be pending: add it to any
/// event loop, and call [`try_next`](Self::try_next) when it is readable.
///
/// ```no_run
/// # fn main() -> vdmux::Result<()> {
/// let mux = vdmux::Mux::open()?;
/// for event in mux.events()?.take(3) {
///     let event = event?;
///     println!("generation {}: foreground {:?}", event.status.generation, event.status.foreground);
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Events {
    epoll: Epoll,
    file: File,
    path: PathBuf,
    /// The generation the last event reported.
    seen: u64,
}

/// The events asked for: `EPOLLERR` and `EPOLLHUP` come anyway.
const EVENTS: EpollFlags = EpollFlags::EPOLLPRI.union(EpollFlags::EPOLLET);

impl Events {
    pub(crate) fn new(node: &Node) -> Result<Self> {
        let file = node.reopen()?;
        let epoll_error = |e: Errno| node.error(Call::Epoll, e);
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).map_err(epoll_error)?;
        epoll
            .add(file.as_fd(), EpollEvent::new(EVENTS, 0))
            .map_err(epoll_error)?;
        let seen = Node::status_of(&file)
            .map_err(|e| node.error(Call::GetStatus, e))?
            .generation;
        Ok(Self {
            epoll,
            file,
            path: node.path().to_path_buf(),
            seen,
        })
    }

    fn error(&self, call: Call, source: impl Into<std::io::Error>) -> crate::Error {
        crate::Error::Call {
            call,
            path: self.path.clone(),
            source: source.into(),
        }
    }

    /// The next change if one happened since the last event, without
    /// waiting.
    pub fn try_next(&mut self) -> Result<Option<Event>> {
        let status = Node::status_of(&self.file).map_err(|e| self.error(Call::GetStatus, e))?;
        if status.generation == self.seen {
            return Ok(None);
        }
        let changes = status.generation.wrapping_sub(self.seen);
        self.seen = status.generation;
        Ok(Some(Event { status, changes }))
    }

    /// The next change, waiting for it at most `timeout` (`None`: for
    /// ever); `None` when none came in time.
    pub fn next_timeout(&mut self, timeout: Option<Duration>) -> Result<Option<Event>> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            if let Some(event) = self.try_next()? {
                return Ok(Some(event));
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left.is_some_and(|l| l.is_zero()) {
                return Ok(None);
            }
            let mut events = [EpollEvent::empty(); 1];
            match self.epoll.wait(&mut events, epoll_timeout(left)) {
                // A stop signal and SIGCONT, or a handler: look again.
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(self.error(Call::Epoll, e)),
            }
        }
    }
}

impl Iterator for Events {
    type Item = Result<Event>;

    /// Blocks until the next change.
    fn next(&mut self) -> Option<Self::Item> {
        self.next_timeout(None).transpose()
    }
}

impl AsFd for Events {
    /// The epoll file: readable while a change may be pending.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.epoll.0.as_fd()
    }
}

impl AsRawFd for Events {
    fn as_raw_fd(&self) -> RawFd {
        self.epoll.0.as_raw_fd()
    }
}

/// `timeout` in whole milliseconds, rounded up so that a wait never ends
/// early, and capped at what epoll takes (24 days: the caller waits again).
pub(crate) fn epoll_timeout(timeout: Option<Duration>) -> EpollTimeout {
    match timeout {
        None => EpollTimeout::NONE,
        Some(t) => {
            let ms = t.as_nanos().div_ceil(1_000_000);
            EpollTimeout::try_from(ms.min(i32::MAX as u128)).unwrap_or(EpollTimeout::MAX)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_round_up_to_milliseconds() {
        assert_eq!(epoll_timeout(None), EpollTimeout::NONE);
        assert_eq!(epoll_timeout(Some(Duration::ZERO)), EpollTimeout::ZERO);
        let ms = |t| epoll_timeout(Some(t)).as_millis();
        assert_eq!(ms(Duration::from_nanos(1)), Some(1));
        assert_eq!(ms(Duration::from_millis(1500)), Some(1500));
        assert_eq!(ms(Duration::from_micros(1500)), Some(2));
        assert_eq!(ms(Duration::from_secs(u64::MAX)), Some(i32::MAX as u32));
    }
}
