// SPDX-License-Identifier: GPL-2.0

//! Running each subcommand against the device.
//!
//! Each command returns an [`anyhow::Result`] whose error says what went
//! wrong ([`Failure`], [`TimedOut`]); [`run`] adds the command as typed as
//! the context, so that messages read `switch 9: no such virtual device
//! (EINVAL)`. A new command is a variant of [`Command`] with its arguments
//! struct in `cli.rs`, and a function here.

use crate::{
    changes::Changes,
    cli::{
        Command, CtxArgs, DumpArgs, FillArgs, GenerateArgs, Range, ResizeArgs, StatusArgs,
        WaitArgs, WatchArgs,
    },
    device::{Device, control_or},
    error::{Facts, Failure, Op, TimedOut},
    generate,
    hexdump::HexDump,
    pattern::repeat_into,
    size::format_size,
    target,
};
use anyhow::{Context as _, Result, bail};
use std::{
    io::{self, Write},
    sync::mpsc::{self, RecvTimeoutError},
    thread,
    time::Instant,
};
use vdmux::{Access, Mux, Vdev};

/// Bytes moved per read(2) or write(2).
const CHUNK: usize = 64 * 1024;

/// Runs `command`.
pub fn run(command: &Command) -> Result<()> {
    match command {
        Command::Status(args) => status(args),
        Command::Switch(a) => change(Op::Switch(a.vdev.index), |m| m.switch(a.vdev.index)),
        Command::Eject(a) => change(Op::Eject(a.vdev.index), |m| m.eject(a.vdev.index)),
        Command::Insert(a) => change(Op::Insert(a.vdev.index), |m| m.insert(a.vdev.index)),
        Command::Resize(args) => resize(args),
        Command::Dump(args) => dump(args),
        Command::Fill(args) => fill(args),
        Command::Watch(args) => watch(args),
        Command::Wait(args) => wait(args),
        Command::Ctx(args) => ctx(args),
        Command::Generate(args) => generate_files(args),
    }
    .with_context(|| command.to_string())
}

/// `op` failed with `e`, nothing more known.
fn failed(op: Op, e: vdmux::Error) -> Failure {
    Failure::of(op, &e, &Facts::default())
}

/// Writes to standard output. A closed pipe ends the process through
/// SIGPIPE (see `main`), so an error here is a real one.
fn output(text: &[u8]) -> Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text)
        .and_then(|()| out.flush())
        .context("cannot write output")
}

fn open_device() -> Result<Device> {
    Ok(Device::open().map_err(|e| failed(Op::Status, e))?)
}

fn status(args: &StatusArgs) -> Result<()> {
    let snapshot = open_device()?
        .snapshot()
        .map_err(|e| failed(Op::Status, e))?;
    let text = if args.json {
        snapshot.to_json() + "\n"
    } else {
        snapshot.to_text()
    };
    output(text.as_bytes())
}

/// What the device says after an operation on virtual device `index`
/// failed, to tell apart causes that share an errno.
fn facts_about(mux: &Mux, index: Option<u32>) -> Facts {
    let status = mux.status().ok();
    let state = index
        .filter(|&i| status.is_some_and(|s| i < s.nr_vdevs))
        .and_then(|i| mux.vdev(i, Access::ReadOnly).ok())
        .and_then(|vdev| vdev.status().ok())
        .map(|s| s.state);
    Facts {
        nr_vdevs: status.map(|s| s.nr_vdevs),
        state,
        size: status.map(|s| s.reserved_size),
        max_size: mux.max_reserved_size().ok().flatten(),
    }
}

/// Opens the control node for a change.
fn open_control(op: Op) -> Result<Mux> {
    Ok(Mux::open_path(target::control(), Access::ReadWrite).map_err(|e| failed(op, e))?)
}

/// switch, eject or insert: `change` on the control node.
fn change(op: Op, change: impl FnOnce(&Mux) -> vdmux::Result<()>) -> Result<()> {
    let mux = open_control(op)?;
    let index = match op {
        Op::Switch(i) | Op::Eject(i) | Op::Insert(i) => Some(i),
        _ => None,
    };
    change(&mux).map_err(|e| Failure::of(op, &e, &facts_about(&mux, index)))?;
    Ok(())
}

/// `ctx`: shows context management, or sets it (keeping the hold time
/// unless one is given).
fn ctx(args: &CtxArgs) -> Result<()> {
    let mux = open_control(Op::Ctx)?;
    let mut ctx = mux.ctxmgt().map_err(|e| failed(Op::Status, e))?;
    let Some(enabled) = args.mode else {
        let switches = mux.ctxmgt_switches().map_err(|e| failed(Op::Status, e))?;
        let mut text = format!(
            "context management: {}, hold {} ms",
            if ctx.enabled { "on" } else { "off" },
            ctx.timeout.as_millis()
        );
        if let Some(n) = switches {
            text += &format!(", {n} switches by accesses");
        }
        return output((text + "\n").as_bytes());
    };
    ctx.enabled = enabled;
    if let Some(timeout) = args.timeout {
        ctx.timeout = timeout;
    }
    mux.set_ctxmgt(ctx)
        .map_err(|e| Failure::of(Op::Ctx, &e, &facts_about(&mux, None)))?;
    Ok(())
}

fn resize(args: &ResizeArgs) -> Result<()> {
    let mux = open_control(Op::Resize)?;
    mux.resize(args.size.bytes)
        .map_err(|e| Failure::of(Op::Resize, &e, &facts_about(&mux, None)))?;
    Ok(())
}

/// The end of `range` on a device of `size` bytes: an explicit length may
/// run past the end (dump stops there, fill fails there), but the range
/// must start inside the device.
fn range_end(range: Range, size: u64) -> Result<u64> {
    if range.offset >= size && range.length != Some(0) {
        bail!(
            "offset {} is past the end of the device ({size} bytes, {})",
            range.offset,
            format_size(size)
        );
    }
    Ok(match range.length {
        Some(length) => range.offset.saturating_add(length),
        None => size,
    })
}

/// Opens virtual device `index` and reads its size.
fn open_vdev(index: u32, access: Access) -> Result<(Vdev, u64)> {
    let vdev = Vdev::open(target::vdev(index), access).map_err(|e| failed(Op::Status, e))?;
    let size = vdev.reserved_size().map_err(|e| failed(Op::Status, e))?;
    Ok((vdev, size))
}

fn dump(args: &DumpArgs) -> Result<()> {
    let index = args.vdev.index;
    let (vdev, size) = open_vdev(index, Access::ReadOnly)?;
    let end = range_end(args.range, size)?.min(size);
    let mut out = io::stdout().lock();
    let mut hex = (!args.raw).then(|| HexDump::new(&mut out, args.range.offset, !args.no_squeeze));
    let mut buf = vec![0; CHUNK];
    let mut pos = args.range.offset;
    while pos < end {
        let want = usize::try_from(end - pos).unwrap_or(CHUNK).min(CHUNK);
        let n = vdev
            .read_at(&mut buf[..want], pos)
            .map_err(|e| failed(Op::Read(index), e))?;
        if n == 0 {
            // Shrunk by a resize meanwhile.
            break;
        }
        match hex.as_mut() {
            Some(hex) => hex.feed(&buf[..n]),
            None => io::stdout().lock().write_all(&buf[..n]),
        }
        .context("cannot write output")?;
        pos += n as u64;
    }
    if let Some(hex) = hex {
        hex.finish().context("cannot write output")?;
    }
    out.flush().context("cannot write output")
}

fn fill(args: &FillArgs) -> Result<()> {
    let index = args.vdev.index;
    let (vdev, size) = open_vdev(index, Access::WriteOnly)?;
    let facts = Facts {
        size: Some(size),
        ..Facts::default()
    };
    let range = args.range;
    let end = range_end(range, size)?;
    let mut buf = vec![0; CHUNK];
    let mut pos = range.offset;
    while pos < end {
        let len = usize::try_from(end - pos).unwrap_or(CHUNK).min(CHUNK);
        repeat_into(&args.pattern.0, pos - range.offset, &mut buf[..len]);
        let n = vdev
            .write_at(&buf[..len], pos)
            .map_err(|e| Failure::of(Op::Write(index), &e, &facts))?;
        if n == 0 {
            bail!("the device took no bytes");
        }
        pos += n as u64;
    }
    Ok(())
}

fn watch(args: &WatchArgs) -> Result<()> {
    let start = Instant::now();
    let deadline = args.timeout.map(|t| start + t);
    let device = open_device()?;
    let snap = || device.snapshot().map_err(|e| failed(Op::Status, e));
    let poll_error = |e: io::Error| {
        let errno = e.raw_os_error().unwrap_or(nix::libc::EIO);
        Failure::new(
            crate::error::explain(Op::Poll, errno, &Facts::default()),
            Some(errno),
        )
    };
    // Watched before the first snapshot: a change made after the first
    // line is printed is in the next snapshot, and wakes the wait.
    let changes = Changes::new(&device).map_err(poll_error)?;
    let mut last = snap()?;
    let mut last_read = Instant::now();
    // Everything after this line is reported: a script may wait for it
    // before it changes anything.
    output(format!("{}\n", last.watch_header()).as_bytes())?;
    let mut seen = 0;
    loop {
        if args.count.is_some_and(|n| seen >= n) {
            return Ok(());
        }
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left.is_some_and(|l| l.is_zero()) {
            return match args.count {
                Some(n) => Err(TimedOut(format!(
                    "saw {seen} of {n} changes in {} s",
                    args.timeout.unwrap_or_default().as_secs_f64()
                ))
                .into()),
                None => Ok(()),
            };
        }
        if !changes.wait(left).map_err(poll_error)? {
            continue;
        }
        if let Some(interval) = args.interval {
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
            output(format!("{}\n", report.line).as_bytes())?;
            seen += report.changes;
        }
        last = next;
    }
}

/// A node to wait on: `VDMUX_IOC_WAIT_FOREGROUND` works on any. The
/// control node, or for a caller who may not open it virtual device
/// `index`, or virtual device 0 (an index that does not exist has no node,
/// and the driver's EINVAL says more than ENOENT).
enum Waiter {
    Control(Mux),
    Vdev(Vdev),
}

impl Waiter {
    fn open(index: u32) -> vdmux::Result<Self> {
        let fallback = || {
            Vdev::open(target::vdev(index), Access::ReadOnly)
                .or_else(|_| Vdev::open(target::vdev(0), Access::ReadOnly))
        };
        Ok(match control_or(fallback)? {
            (Some(mux), _) => Self::Control(mux),
            (None, Some(vdev)) => Self::Vdev(vdev),
            (None, None) => unreachable!("control_or opens one node"),
        })
    }

    fn status(&self) -> vdmux::Result<vdmux::Status> {
        match self {
            Self::Control(mux) => mux.status(),
            Self::Vdev(vdev) => vdev.status(),
        }
    }

    fn wait_foreground(&self, index: u32) -> vdmux::Result<()> {
        match self {
            Self::Control(mux) => mux.wait_foreground(index),
            Self::Vdev(vdev) => vdev.wait_foreground(index),
        }
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
fn wait(args: &WaitArgs) -> Result<()> {
    let index = args.vdev.index;
    let node = Waiter::open(index).map_err(|e| failed(Op::Wait(index), e))?;
    let status = node.status().ok();
    let facts = Facts {
        nr_vdevs: status.map(|s| s.nr_vdevs),
        ..Facts::default()
    };
    let fail = |e: vdmux::Error| Failure::of(Op::Wait(index), &e, &facts);
    // The driver answers at once for the foreground and for an index that
    // does not exist: no thread, so that even --timeout 0 gets its answer.
    let at_once = status.is_some_and(|s| s.foreground == Some(index) || index >= s.nr_vdevs);
    let Some(timeout) = args.timeout.filter(|_| !at_once) else {
        return Ok(node.wait_foreground(index).map_err(fail)?);
    };
    let (done, answer) = mpsc::channel();
    thread::spawn(move || {
        // The receiver is gone only when the main thread gave up.
        let _ = done.send(node.wait_foreground(index));
    });
    match answer.recv_timeout(timeout) {
        Ok(result) => Ok(result.map_err(fail)?),
        Err(RecvTimeoutError::Timeout) => Err(TimedOut(format!(
            "virtual device {index} is not in the foreground after {} s",
            timeout.as_secs_f64()
        ))
        .into()),
        Err(RecvTimeoutError::Disconnected) => bail!("the waiting thread died"),
    }
}

fn generate_files(args: &GenerateArgs) -> Result<()> {
    generate::write_all(&args.dir)
        .with_context(|| format!("cannot write into {}", args.dir.display()))
}
