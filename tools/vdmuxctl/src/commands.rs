// SPDX-License-Identifier: GPL-2.0

//! Running each subcommand against the device.

use crate::{
    changes::Changes,
    cli::{Command, Range},
    device::{self, Access, CONTROL_PATH, Device, DeviceError, Node, OpenError, errno_of},
    error::{Error, Facts, Op, explain, explain_open},
    hexdump::HexDump,
    pattern::repeat_into,
    size::format_size,
    status::State,
    uapi,
};
use nix::libc;
use std::{
    io::{self, Write},
    sync::mpsc::{self, RecvTimeoutError},
    thread,
    time::{Duration, Instant},
};

/// Bytes moved per read(2) or write(2).
const CHUNK: usize = 64 * 1024;

/// Runs `command`.
pub fn run(command: &Command) -> Result<(), Error> {
    let context = &command.context();
    match command {
        Command::Status { json } => status(context, *json),
        Command::Switch(i) => control(
            context,
            Op::Switch(i.index),
            uapi::VDMUX_IOC_SWITCH,
            i.index,
        ),
        Command::Eject(i) => control(context, Op::Eject(i.index), uapi::VDMUX_IOC_EJECT, i.index),
        Command::Insert(i) => control(
            context,
            Op::Insert(i.index),
            uapi::VDMUX_IOC_INSERT,
            i.index,
        ),
        Command::Resize { size } => resize(context, size.bytes),
        Command::Dump {
            index,
            range,
            raw,
            no_squeeze,
        } => dump(context, index.index, *range, *raw, !no_squeeze),
        Command::Fill {
            index,
            pattern,
            range,
        } => fill(context, index.index, &pattern.0, *range),
        Command::Watch {
            count,
            timeout,
            interval,
        } => watch(context, *count, *timeout, *interval),
        Command::Wait { index, timeout } => wait(context, index.index, *timeout),
    }
}

fn open_error(context: &str, e: OpenError) -> Error {
    Error::failed(context, explain_open(&e.path, e.errno), Some(e.errno))
}

fn sys_error(context: &str, op: Op, e: &io::Error, facts: &Facts) -> Error {
    let errno = errno_of(e);
    Error::failed(context, explain(op, errno, facts), Some(errno))
}

fn open(context: &str, path: &str, access: Access) -> Result<Node, Error> {
    Node::open(path, access).map_err(|e| open_error(context, e))
}

fn open_device(context: &str) -> Result<Device, Error> {
    Device::open().map_err(|e| match e {
        DeviceError::Open(e) => open_error(context, e),
        DeviceError::Status(e) => sys_error(context, Op::Status, &e, &Facts::default()),
    })
}

/// Writes to standard output. A closed pipe ends the process through
/// SIGPIPE (see `main`), so an error here is a real one.
fn output(context: &str, text: &[u8]) -> Result<(), Error> {
    let mut out = io::stdout().lock();
    out.write_all(text)
        .and_then(|()| out.flush())
        .map_err(|e| write_error(context, &e))
}

fn write_error(context: &str, e: &io::Error) -> Error {
    Error::failed(
        context,
        format!("cannot write output: {e}"),
        e.raw_os_error(),
    )
}

fn status(context: &str, json: bool) -> Result<(), Error> {
    let device = open_device(context)?;
    let snapshot = device
        .snapshot()
        .map_err(|e| sys_error(context, Op::Status, &e, &Facts::default()))?;
    let text = if json {
        snapshot.to_json() + "\n"
    } else {
        snapshot.to_text()
    };
    output(context, text.as_bytes())
}

/// What the device says after `op` on virtual device `index` failed.
fn facts_about(control: &Node, index: Option<u32>) -> Facts {
    let status = control.status().ok();
    let state = index
        .filter(|&i| status.is_some_and(|s| i < s.nr_vdevs))
        .and_then(|i| Node::open(&device::vdev_path(i), Access::Read).ok())
        .and_then(|node| node.status().ok())
        .map(|s| State::from_raw(s.state));
    Facts {
        nr_vdevs: status.map(|s| s.nr_vdevs),
        state,
        size: status.map(|s| s.reserved_size),
        max_size: device::max_reserved_size(),
    }
}

/// switch, eject or insert.
fn control(context: &str, op: Op, request: u32, index: u32) -> Result<(), Error> {
    let node = open(context, CONTROL_PATH, Access::ReadWrite)?;
    node.control(request, index)
        .map_err(|e| sys_error(context, op, &e, &facts_about(&node, Some(index))))
}

fn resize(context: &str, size: u64) -> Result<(), Error> {
    let node = open(context, CONTROL_PATH, Access::ReadWrite)?;
    node.set_reserved_size(size)
        .map_err(|e| sys_error(context, Op::Resize, &e, &facts_about(&node, None)))
}

/// The end of `range` on a device of `size` bytes: an explicit length may
/// run past the end (dump stops there, fill fails there), but the range
/// must start inside the device.
fn range_end(context: &str, range: Range, size: u64) -> Result<u64, Error> {
    if range.offset >= size && range.length != Some(0) {
        return Err(Error::failed(
            context,
            format!(
                "offset {} is past the end of the device ({size} bytes, {})",
                range.offset,
                format_size(size)
            ),
            None,
        ));
    }
    Ok(match range.length {
        Some(length) => range.offset.saturating_add(length),
        None => size,
    })
}

fn dump(context: &str, index: u32, range: Range, raw: bool, squeeze: bool) -> Result<(), Error> {
    let node = open(context, &device::vdev_path(index), Access::Read)?;
    let facts = Facts::default();
    let size = node
        .reserved_size()
        .map_err(|e| sys_error(context, Op::Status, &e, &facts))?;
    let end = range_end(context, range, size)?.min(size);
    let mut out = io::stdout().lock();
    let mut hex = (!raw).then(|| HexDump::new(&mut out, range.offset, squeeze));
    let mut buf = vec![0; CHUNK];
    let mut pos = range.offset;
    while pos < end {
        let want = usize::try_from(end - pos).unwrap_or(CHUNK).min(CHUNK);
        let n = node
            .read_at(&mut buf[..want], pos)
            .map_err(|e| sys_error(context, Op::Read(index), &e, &facts))?;
        if n == 0 {
            // Shrunk by a resize meanwhile.
            break;
        }
        let written = match hex.as_mut() {
            Some(hex) => hex.feed(&buf[..n]),
            None => io::stdout().lock().write_all(&buf[..n]),
        };
        written.map_err(|e| write_error(context, &e))?;
        pos += n as u64;
    }
    if let Some(hex) = hex {
        hex.finish().map_err(|e| write_error(context, &e))?;
    }
    out.flush().map_err(|e| write_error(context, &e))
}

fn fill(context: &str, index: u32, pattern: &[u8], range: Range) -> Result<(), Error> {
    let node = open(context, &device::vdev_path(index), Access::Write)?;
    let size = node
        .reserved_size()
        .map_err(|e| sys_error(context, Op::Status, &e, &Facts::default()))?;
    let facts = Facts {
        size: Some(size),
        ..Facts::default()
    };
    let end = range_end(context, range, size)?;
    let mut buf = vec![0; CHUNK];
    let mut pos = range.offset;
    while pos < end {
        let len = usize::try_from(end - pos).unwrap_or(CHUNK).min(CHUNK);
        repeat_into(pattern, pos - range.offset, &mut buf[..len]);
        let n = node
            .write_at(&buf[..len], pos)
            .map_err(|e| sys_error(context, Op::Write(index), &e, &facts))?;
        if n == 0 {
            return Err(Error::failed(context, "the device took no bytes", None));
        }
        pos += n as u64;
    }
    Ok(())
}

fn watch(
    context: &str,
    count: Option<u64>,
    timeout: Option<Duration>,
    interval: Option<Duration>,
) -> Result<(), Error> {
    let start = Instant::now();
    let deadline = timeout.map(|t| start + t);
    let device = open_device(context)?;
    let snap = || {
        device
            .snapshot()
            .map_err(|e| sys_error(context, Op::Status, &e, &Facts::default()))
    };
    let poll_error = |e: io::Error| sys_error(context, Op::Poll, &e, &Facts::default());
    // Watched before the first snapshot: a change made after the first
    // line is printed is in the next snapshot, and wakes the wait.
    let changes = Changes::new(&device).map_err(poll_error)?;
    let mut last = snap()?;
    let mut last_read = Instant::now();
    // Everything after this line is reported: a script may wait for it
    // before it changes anything.
    output(context, format!("{}\n", last.watch_header()).as_bytes())?;
    let mut seen = 0;
    loop {
        if count.is_some_and(|n| seen >= n) {
            return Ok(());
        }
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left.is_some_and(|l| l.is_zero()) {
            return match count {
                Some(n) => Err(Error::TimedOut {
                    context: context.to_string(),
                    message: format!(
                        "saw {seen} of {n} changes in {} s",
                        timeout.unwrap_or_default().as_secs_f64()
                    ),
                }),
                None => Ok(()),
            };
        }
        if !changes.wait(left).map_err(poll_error)? {
            continue;
        }
        if let Some(interval) = interval {
            // At most one line per interval: the changes made meanwhile
            // are read together, and share the line.
            let mut until = last_read + interval;
            if let Some(deadline) = deadline {
                until = until.min(deadline);
            }
            thread::sleep(until.saturating_duration_since(Instant::now()));
        }
        let next = snap()?;
        last_read = Instant::now();
        if let Some(report) = last.report(&next) {
            output(context, format!("{}\n", report.line).as_bytes())?;
            seen += report.changes;
        }
        last = next;
    }
}

/// A node to wait on: `VDMUX_IOC_WAIT_FOREGROUND` works on any. The
/// control node, or for a caller who may not open it virtual device
/// `index`, or virtual device 0 (an index that does not exist has no node,
/// and the driver's EINVAL says more than ENOENT).
fn open_any(context: &str, index: u32) -> Result<Node, Error> {
    match Node::open(CONTROL_PATH, Access::Read) {
        Ok(node) => Ok(node),
        Err(e) if e.errno == libc::EACCES => Node::open(&device::vdev_path(index), Access::Read)
            .or_else(|_| Node::open(&device::vdev_path(0), Access::Read))
            // The control node's error says more than a virtual device's.
            .map_err(|_| open_error(context, e)),
        Err(e) => Err(open_error(context, e)),
    }
}

/// `wait N`: sleeps in `VDMUX_IOC_WAIT_FOREGROUND` until N is the foreground.
///
/// With a timeout, a second thread makes the call and the main thread waits
/// for its answer at most that long; on a timeout the main thread returns,
/// and the process exits with the other thread still asleep in the ioctl
/// (exit kills it; the driver's wait is interruptible). An alarm signal
/// without `SA_RESTART` would also end the ioctl, with EINTR, but one that
/// fires after the timeout check and before the ioctl starts is lost and
/// the call sleeps for ever; a thread has no such window, and no signal
/// handler touches the rest of the tool.
fn wait(context: &str, index: u32, timeout: Option<Duration>) -> Result<(), Error> {
    let node = open_any(context, index)?;
    let status = node.status().ok();
    let facts = Facts {
        nr_vdevs: status.map(|s| s.nr_vdevs),
        ..Facts::default()
    };
    let fail = |e: io::Error| sys_error(context, Op::Wait(index), &e, &facts);
    // The driver answers at once for the foreground and for an index that
    // does not exist: no thread, so that even --timeout 0 gets its answer.
    let at_once = status.is_some_and(|s| s.foreground == index || index >= s.nr_vdevs);
    let Some(timeout) = timeout.filter(|_| !at_once) else {
        return node.wait_foreground(index).map_err(fail);
    };
    let (done, answer) = mpsc::channel();
    thread::spawn(move || {
        // The receiver is gone only when the main thread gave up.
        let _ = done.send(node.wait_foreground(index));
    });
    match answer.recv_timeout(timeout) {
        Ok(result) => result.map_err(fail),
        Err(RecvTimeoutError::Timeout) => Err(Error::TimedOut {
            context: context.to_string(),
            message: format!(
                "virtual device {index} is not in the foreground after {} s",
                timeout.as_secs_f64()
            ),
        }),
        Err(RecvTimeoutError::Disconnected) => {
            Err(Error::failed(context, "the waiting thread died", None))
        }
    }
}
