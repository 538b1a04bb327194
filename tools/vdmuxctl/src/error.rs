// SPDX-License-Identifier: GPL-2.0

//! Errors, the messages they print and the exit statuses scripts rely on.

use crate::{size::format_size, status::State};
use nix::{errno::Errno, libc};
use std::{fmt, io};

/// Exit statuses. clap exits with 2 for a bad command line itself.
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// The operation failed: the device refused it or could not be reached.
    pub const FAILED: u8 = 1;
    /// `watch --count N --timeout S` saw fewer than N changes in S seconds,
    /// or `wait N --timeout S` gave up before N came to the foreground.
    pub const TIMEOUT: u8 = 3;
}

/// Why an operation failed, in words, with the errno that said so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub message: String,
    pub errno: Option<i32>,
}

impl Failure {
    pub fn new(message: impl Into<String>, errno: Option<i32>) -> Self {
        Self {
            message: message.into(),
            errno,
        }
    }

    /// `op`, which failed with `e`, explained with what is known of the
    /// device.
    pub fn of(op: Op, e: &vdmux::Error, facts: &Facts) -> Self {
        let message = match (e, e.errno()) {
            (vdmux::Error::Open { path, .. }, Some(errno)) => {
                explain_open(&path.to_string_lossy(), errno)
            }
            (_, Some(errno)) => explain(op, errno, facts),
            (_, None) => e.to_string(),
        };
        Self::new(message, e.errno())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        match self.errno {
            Some(e) => write!(f, " ({})", errno_name(e)),
            None => Ok(()),
        }
    }
}

impl std::error::Error for Failure {}

/// `watch` or `wait` ran out of time before it saw what it waited for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimedOut(pub String);

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TimedOut {}

/// The exit status for `e`.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    if e.downcast_ref::<TimedOut>().is_some() {
        exit::TIMEOUT
    } else {
        exit::FAILED
    }
}

/// The symbolic name of an errno value, as in `errno.h`.
pub fn errno_name(errno: i32) -> String {
    match Errno::from_raw(errno) {
        Errno::UnknownErrno => format!("errno {errno}"),
        e => format!("{e:?}"),
    }
}

/// The C library's description of `errno`, in lower case: "no such device".
pub fn strerror(errno: i32) -> String {
    let text = io::Error::from_raw_os_error(errno).to_string();
    // std appends " (os error N)"; the errno name is printed instead.
    let text = text.split(" (os error").next().unwrap_or_default();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => format!("error {errno}"),
    }
}

/// An operation on the device that can fail with an errno.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Switch(u32),
    Eject(u32),
    Insert(u32),
    Resize,
    /// `read(2)` of a virtual device.
    Read(u32),
    /// `write(2)` of a virtual device.
    Write(u32),
    /// `VDMUX_IOC_GET_STATUS` or `VDMUX_IOC_GET_RESERVED_SIZE`.
    Status,
    /// `VDMUX_IOC_WAIT_FOREGROUND` for a virtual device.
    Wait(u32),
    /// `VDMUX_IOC_SET_CTXMGT`.
    Ctx,
    /// Waiting for a change with poll: `epoll_create1`, `epoll_ctl`,
    /// `epoll_wait`.
    Poll,
}

/// What the tool could learn from the device after a failure, to tell
/// apart causes that share an errno. Unknown facts are `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Facts {
    pub nr_vdevs: Option<u32>,
    /// The state of the virtual device the operation was about.
    pub state: Option<State>,
    /// The reserved size now.
    pub size: Option<u64>,
    /// The largest reserved size the driver accepts.
    pub max_size: Option<u64>,
}

/// Why `op` failed with `errno`, in words.
pub fn explain(op: Op, errno: i32, facts: &Facts) -> String {
    let index = match op {
        Op::Switch(i) | Op::Eject(i) | Op::Insert(i) | Op::Read(i) | Op::Write(i) | Op::Wait(i) => {
            Some(i)
        }
        Op::Resize | Op::Status | Op::Poll | Op::Ctx => None,
    };
    let no_such = matches!((index, facts.nr_vdevs), (Some(i), Some(n)) if i >= n);
    match (op, errno) {
        (_, libc::EPERM) => "permission denied, needs CAP_SYS_ADMIN".to_string(),
        (Op::Switch(_) | Op::Wait(_), libc::EINVAL) => "no such virtual device".to_string(),
        (Op::Eject(_) | Op::Insert(_), libc::EINVAL) if no_such => {
            "no such virtual device".to_string()
        }
        (Op::Eject(i), libc::EINVAL) => match facts.state {
            Some(State::Removed) => format!("virtual device {i} is already removed"),
            _ => format!("no such virtual device, or virtual device {i} is already removed"),
        },
        (Op::Insert(i), libc::EINVAL) => match facts.state {
            Some(state) if state != State::Removed => {
                format!("virtual device {i} is not removed, it is in the {state}")
            }
            _ => format!("no such virtual device, or virtual device {i} is not removed"),
        },
        (Op::Switch(i), libc::ENODEV) => format!("virtual device {i} is removed, insert it first"),
        (Op::Read(i) | Op::Write(i), libc::ENODEV) => format!("virtual device {i} is removed"),
        (Op::Resize, libc::EINVAL) => match facts.max_size {
            Some(max) => format!("size out of range: 1 byte to {}", format_size(max)),
            None => "size out of range: 1 byte to the module's max_reserved_size".to_string(),
        },
        (Op::Ctx, libc::EINVAL) => "hold time out of range: 0 to 10s".to_string(),
        (Op::Resize, libc::EBUSY) => {
            "virtual devices are mapped: the size can grow, not shrink".to_string()
        }
        (Op::Resize, libc::ENOMEM) => "out of memory for the resized buffers".to_string(),
        (Op::Switch(_) | Op::Eject(_), libc::ENOMEM) => {
            "out of memory for a backing store".to_string()
        }
        (Op::Write(_), libc::ENOSPC) => match facts.size {
            Some(size) => format!("the range goes past the end of the device, byte {size}"),
            None => "the range goes past the end of the device".to_string(),
        },
        (Op::Read(_) | Op::Write(_), libc::EINVAL) => "invalid offset".to_string(),
        (_, libc::ENOTTY) => "not a vdmux node, or a request this driver does not know".to_string(),
        (Op::Poll, _) => format!("cannot wait for changes: {}", strerror(errno)),
        _ => strerror(errno),
    }
}

/// Why opening the node at `path` failed with `errno`, in words.
pub fn explain_open(path: &str, errno: i32) -> String {
    match errno {
        libc::ENOENT => format!("{path} does not exist, is the vdmux module loaded?"),
        libc::EACCES => format!("cannot open {path}: permission denied"),
        libc::ENXIO | libc::ENODEV => format!("cannot open {path}: no vdmux device behind it"),
        _ => format!("cannot open {path}: {}", strerror(errno)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(nr: u32, state: Option<State>) -> Facts {
        Facts {
            nr_vdevs: Some(nr),
            state,
            ..Facts::default()
        }
    }

    /// What `vdmuxctl CONTEXT` prints when `op` fails with `errno`.
    fn failed(context: &str, op: Op, errno: i32, facts: &Facts) -> String {
        let e = anyhow::Error::new(Failure::new(explain(op, errno, facts), Some(errno)))
            .context(context.to_string());
        format!("vdmuxctl: {e:#}")
    }

    #[test]
    fn the_documented_messages() {
        assert_eq!(
            failed("switch 9", Op::Switch(9), libc::EINVAL, &facts(4, None)),
            "vdmuxctl: switch 9: no such virtual device (EINVAL)"
        );
        assert_eq!(
            failed("switch 1", Op::Switch(1), libc::EPERM, &Facts::default()),
            "vdmuxctl: switch 1: permission denied, needs CAP_SYS_ADMIN (EPERM)"
        );
        assert_eq!(
            failed("resize 4K", Op::Resize, libc::EBUSY, &Facts::default()),
            "vdmuxctl: resize 4K: virtual devices are mapped: the size can grow, not shrink (EBUSY)"
        );
    }

    #[test]
    fn einval_is_told_apart_by_state() {
        let removed = facts(4, Some(State::Removed));
        let background = facts(4, Some(State::Background));
        assert_eq!(
            explain(Op::Eject(9), libc::EINVAL, &facts(4, None)),
            "no such virtual device"
        );
        assert_eq!(
            explain(Op::Eject(2), libc::EINVAL, &removed),
            "virtual device 2 is already removed"
        );
        assert_eq!(
            explain(Op::Insert(4), libc::EINVAL, &facts(4, None)),
            "no such virtual device"
        );
        assert_eq!(
            explain(Op::Insert(1), libc::EINVAL, &background),
            "virtual device 1 is not removed, it is in the background"
        );
        assert_eq!(
            explain(Op::Insert(1), libc::EINVAL, &Facts::default()),
            "no such virtual device, or virtual device 1 is not removed"
        );
    }

    #[test]
    fn removed_devices() {
        assert_eq!(
            explain(Op::Switch(2), libc::ENODEV, &Facts::default()),
            "virtual device 2 is removed, insert it first"
        );
        assert_eq!(
            explain(Op::Read(3), libc::ENODEV, &Facts::default()),
            "virtual device 3 is removed"
        );
    }

    #[test]
    fn resize_range() {
        let f = Facts {
            max_size: Some(64 << 20),
            ..Facts::default()
        };
        assert_eq!(
            explain(Op::Resize, libc::EINVAL, &f),
            "size out of range: 1 byte to 64M"
        );
        assert_eq!(
            explain(Op::Resize, libc::EINVAL, &Facts::default()),
            "size out of range: 1 byte to the module's max_reserved_size"
        );
    }

    #[test]
    fn write_past_the_end() {
        let f = Facts {
            size: Some(32768),
            ..Facts::default()
        };
        assert_eq!(
            explain(Op::Write(0), libc::ENOSPC, &f),
            "the range goes past the end of the device, byte 32768"
        );
    }

    #[test]
    fn unknown_errnos_fall_back_to_the_c_library() {
        assert_eq!(
            explain(Op::Status, libc::EIO, &Facts::default()),
            "input/output error"
        );
        assert_eq!(errno_name(libc::EIO), "EIO");
        assert_eq!(errno_name(4095), "errno 4095");
    }

    #[test]
    fn open_failures() {
        assert_eq!(
            explain_open("/dev/vdmux", libc::ENOENT),
            "/dev/vdmux does not exist, is the vdmux module loaded?"
        );
        let e = vdmux::Error::Open {
            path: "/dev/vdmux".into(),
            source: std::io::Error::from_raw_os_error(libc::EACCES),
        };
        let e =
            anyhow::Error::new(Failure::of(Op::Status, &e, &Facts::default())).context("status");
        assert_eq!(
            format!("vdmuxctl: {e:#}"),
            "vdmuxctl: status: cannot open /dev/vdmux: permission denied (EACCES)"
        );
        assert_eq!(exit_code(&e), exit::FAILED);
    }

    #[test]
    fn waiting() {
        assert_eq!(
            failed("wait 9", Op::Wait(9), libc::EINVAL, &facts(4, None)),
            "vdmuxctl: wait 9: no such virtual device (EINVAL)"
        );
        assert_eq!(
            explain(Op::Wait(4294967295), libc::EINVAL, &Facts::default()),
            "no such virtual device"
        );
        assert_eq!(
            explain(Op::Wait(1), libc::ENOTTY, &Facts::default()),
            "not a vdmux node, or a request this driver does not know"
        );
        assert_eq!(
            explain(Op::Poll, libc::ENOMEM, &Facts::default()),
            "cannot wait for changes: cannot allocate memory"
        );
    }

    #[test]
    fn timeouts_name_their_command() {
        let watch =
            anyhow::Error::new(TimedOut("saw 0 of 1 changes in 0.3 s".into())).context("watch");
        assert_eq!(
            format!("vdmuxctl: {watch:#}"),
            "vdmuxctl: watch: saw 0 of 1 changes in 0.3 s"
        );
        assert_eq!(exit_code(&watch), exit::TIMEOUT);
    }
}
